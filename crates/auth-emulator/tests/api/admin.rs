use std::net::SocketAddr;

use auth_emulator::{demo, Emulator, EmulatorConfig, EmulatorError, Endpoint, Scheme};
use serde_json::{json, Value};

use crate::{basic, emu, http, json, FORM};

async fn admin(emu: &Emulator, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = emu.url(&format!("/_emulator{path}"));
    let req = match method {
        "GET" => http().get(url),
        "POST" => http().post(url),
        "DELETE" => http().delete(url),
        _ => unreachable!(),
    };
    let req = match body {
        Some(b) => req.body(b.to_string()),
        None => req,
    };
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.unwrap();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, value)
}

async fn oauth2_status(emu: &Emulator, id: &str, secret: &str) -> (u16, Value) {
    let (status, _, body) = json(
        http()
            .post(emu.url("/oauth2/token"))
            .header("authorization", basic(id, secret))
            .header("content-type", FORM)
            .body("grant_type=client_credentials")
            .send()
            .await
            .unwrap(),
    )
    .await;
    (status.as_u16(), body)
}

#[tokio::test]
async fn faults_over_http() {
    let emu = emu().await;
    let (status, body) = admin(
        &emu,
        "POST",
        "/faults",
        Some(json!({"endpoint": "oauth2_token", "fault": {"kind": "server_error", "status": 503, "retry_after_secs": 2}, "times": {"next": 1}})),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(body.as_array().unwrap().len(), 1);
    let (status, body) = admin(
        &emu,
        "POST",
        "/faults",
        Some(json!([
            {"endpoint": "oauth2_token", "fault": {"kind": "latency", "ms": 1}},
            {"endpoint": "markable_search", "fault": {"kind": "redirect"}, "times": {"fraction": 0.5}}
        ])),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(body.as_array().unwrap().len(), 3);
    assert_eq!(body[2]["fault"], json!({"kind": "redirect", "status": 302}));
    assert_eq!(body[1]["times"], "always");

    assert_eq!(
        oauth2_status(&emu, demo::OAUTH2_CLIENT_ID, demo::OAUTH2_CLIENT_SECRET)
            .await
            .0,
        503
    );
    let (_, body) = admin(&emu, "GET", "/faults", None).await;
    assert_eq!(body.as_array().unwrap().len(), 2);

    // A bad plan in a list changes nothing.
    let (status, body) = admin(
        &emu,
        "POST",
        "/faults",
        Some(json!([
            {"endpoint": "oauth2_token", "fault": {"kind": "html"}},
            {"endpoint": "openverse_images", "fault": {"kind": "missing_access_token"}}
        ])),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("token endpoints"));
    let (status, body) = admin(
        &emu,
        "POST",
        "/faults",
        Some(json!({"endpoint": "nowhere"})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["error"].is_string());
    assert_eq!(emu.faults().len(), 2);

    let (status, _) = admin(&emu, "DELETE", "/faults", None).await;
    assert_eq!(status, 204);
    assert!(emu.faults().is_empty());
}

#[tokio::test]
async fn counters_reset_and_config_over_http() {
    let emu = emu().await;
    oauth2_status(&emu, demo::OAUTH2_CLIENT_ID, demo::OAUTH2_CLIENT_SECRET).await;
    oauth2_status(&emu, demo::OAUTH2_CLIENT_ID, "wrong").await;
    let (status, body) = admin(&emu, "GET", "/counters", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["token_requests"]["oauth2"]["total"], 2);
    assert_eq!(
        body["token_requests"]["oauth2"]["per_client"][demo::OAUTH2_CLIENT_ID],
        2
    );
    assert_eq!(body["token_requests_total"], 2);
    assert_eq!(body["requests"]["oauth2_token"], 2);
    assert_eq!(body["rejected"], 1);
    assert_eq!(body["max_token_in_flight"], 1);

    assert_eq!(admin(&emu, "POST", "/reset", None).await.0, 204);
    let (_, body) = admin(&emu, "GET", "/counters", None).await;
    assert_eq!(body["token_requests_total"], 0);

    let (status, body) = admin(
        &emu,
        "POST",
        "/config",
        Some(json!({
            "lifetimes_secs": {"oauth2": 5},
            "latency_ms": {"oauth2_token": 10},
            "oauth2_methods": {"basic": true, "post": false},
            "markable_minimal_response": true,
            "throttles": {"anon_burst": "1/day", "markable": null},
            "oauth2_variety": {"lowercase_bearer": true},
            "cache_outage": false
        })),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["lifetimes_secs"]["oauth2"], 5);
    assert_eq!(body["lifetimes_secs"]["openverse"], 43200);
    assert_eq!(body["latency_ms"]["oauth2_token"], 10);
    assert_eq!(body["throttles"]["anon_burst"], "1/day");
    assert_eq!(body["throttles"]["anon_sustained"], "100/day");
    assert_eq!(body["throttles"]["markable"], Value::Null);
    assert_eq!(
        body["oauth2_variety"],
        json!({"lowercase_bearer": true, "omit_scope": false, "narrow_scopes": false})
    );
    assert_eq!(body["cache_outage"], false);
    let (_, token) = oauth2_status(&emu, demo::OAUTH2_CLIENT_ID, demo::OAUTH2_CLIENT_SECRET).await;
    assert_eq!(token["expires_in"], 5);
    assert_eq!(token["token_type"], "bearer");
    let (_, config) = admin(&emu, "GET", "/config", None).await;
    assert_eq!(config, body);
    assert_eq!(emu.config().latency_ms[&Endpoint::Oauth2Token], 10);

    let (status, body) = admin(
        &emu,
        "POST",
        "/config",
        Some(json!({"lifetimes_secs": {"oauth2": 0}})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("one second"));
    let (status, _) = admin(&emu, "POST", "/config", Some(json!("nonsense"))).await;
    assert_eq!(status, 400);

    let images = || async {
        http()
            .get(emu.url("/v1/images/"))
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(images().await, 200);
    assert_eq!(images().await, 429);
    assert_eq!(admin(&emu, "POST", "/rate_limits/reset", None).await.0, 204);
    assert_eq!(images().await, 200);
    assert_eq!(emu.throttles().anon_burst, "1/day".parse().ok());
}

#[tokio::test]
async fn clients_revoke_outbox_and_expiry_over_http() {
    let emu = emu().await;
    let (status, body) = admin(
        &emu,
        "POST",
        "/clients",
        Some(json!({"scheme": "oauth2", "client_id": "script", "client_secret": "s3cret", "scopes": ["read"], "default_scopes": ["read"]})),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(body, json!({"scheme": "oauth2", "client_id": "script"}));
    let (status, token) = oauth2_status(&emu, "script", "s3cret").await;
    assert_eq!(status, 200);
    assert_eq!(token["scope"], "read");
    let token = token["access_token"].as_str().unwrap().to_owned();

    let resource = |t: String| {
        http()
            .get(emu.url("/oauth2/resource"))
            .bearer_auth(t)
            .send()
    };
    assert_eq!(resource(token.clone()).await.unwrap().status(), 200);
    assert_eq!(admin(&emu, "POST", "/expire_tokens", None).await.0, 204);
    assert_eq!(resource(token).await.unwrap().status(), 401);

    let (status, _) = admin(
        &emu,
        "POST",
        "/revoke",
        Some(json!({"scheme": "oauth2", "client_id": "script"})),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(oauth2_status(&emu, "script", "s3cret").await.0, 401);
    let (status, body) = admin(
        &emu,
        "POST",
        "/revoke",
        Some(json!({"scheme": "markable", "client_id": "nobody"})),
    )
    .await;
    assert_eq!(status, 404);
    assert!(body["error"].is_string());

    let (status, body) = admin(
        &emu,
        "POST",
        "/clients",
        Some(json!({"scheme": "markable", "client_id": "m", "client_secret": "s", "scopes": ["admin"]})),
    )
    .await;
    assert_eq!(status, 400, "{body}");

    http()
        .post(emu.url("/v1/auth_tokens/register/"))
        .body(json!({"name": "n", "description": "d", "email": "me@example.org"}).to_string())
        .send()
        .await
        .unwrap();
    let (status, outbox) = admin(&emu, "GET", "/outbox", None).await;
    assert_eq!(status, 200);
    assert_eq!(outbox[0]["to"], "me@example.org");
    let link = outbox[0]["link"].as_str().unwrap();
    assert!(link.ends_with(&format!(
        "/v1/auth_tokens/verify/{}/",
        outbox[0]["code"].as_str().unwrap()
    )));
    assert!(outbox[0]["body"].as_str().unwrap().contains(link));
    assert!(outbox[0]["subject"].is_string());

    let resp = http().get(emu.url("/no/such/path")).send().await.unwrap();
    assert_eq!(resp.status(), 404);

    // Openverse keys with a rate-limit model, over HTTP too.
    let (status, _) = admin(
        &emu,
        "POST",
        "/clients",
        Some(json!({"scheme": "openverse", "client_id": "big", "client_secret": "s", "rate_limit_model": "enhanced"})),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _, token) = json(
        http()
            .post(emu.url("/v1/auth_tokens/token/"))
            .header("content-type", FORM)
            .body("grant_type=client_credentials&client_id=big&client_secret=s")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let (_, _, key) = json(
        http()
            .get(emu.url("/v1/rate_limit/"))
            .bearer_auth(token["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(key["rate_limit_model"], "enhanced");
    assert_eq!(key["verified"], true);
}

#[tokio::test]
async fn non_loopback_addresses_are_refused() {
    for addr in ["0.0.0.0:0", "192.0.2.1:8080", "[::]:0"] {
        let config = EmulatorConfig {
            addr: addr.parse::<SocketAddr>().unwrap(),
            ..EmulatorConfig::default()
        };
        match Emulator::start(config).await {
            Err(EmulatorError::NonLoopback(a)) => assert_eq!(a.to_string(), addr),
            other => panic!("{addr}: expected NonLoopback, got {other:?}"),
        }
    }
    let emu = emu().await;
    assert!(emu.base_url().starts_with("http://127.0.0.1:"));
    assert_ne!(emu.addr().port(), 0);
    let config = EmulatorConfig {
        lifetimes: auth_emulator::Lifetimes {
            oauth2: std::time::Duration::from_millis(500),
            ..Default::default()
        },
        ..EmulatorConfig::default()
    };
    assert!(matches!(
        Emulator::start(config).await,
        Err(EmulatorError::InvalidConfig(_))
    ));
    assert!(emu
        .set_lifetime(Scheme::Markable, std::time::Duration::ZERO)
        .is_err());
    emu.shutdown().await;
}
