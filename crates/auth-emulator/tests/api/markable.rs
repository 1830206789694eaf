use std::time::Duration;

use auth_emulator::{
    demo, ClientSpec, Emulator, EmulatorConfig, Endpoint, Fault, FaultPlan, Rate, Scheme, Throttles,
};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::{emu, emu_with, header, http, json, quiet};

async fn authorize(emu: &Emulator, body: Value) -> (StatusCode, Value) {
    let resp = http()
        .post(emu.url("/auth/client/authorize"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let (status, _, body) = json(resp).await;
    (status, body)
}

fn creds(scope: &str) -> Value {
    json!({"data": {
        "client_id": demo::MARKABLE_CLIENT_ID,
        "client_secret": demo::MARKABLE_CLIENT_SECRET,
        "scope": scope,
    }})
}

async fn token(emu: &Emulator, scope: &str) -> String {
    let (status, body) = authorize(emu, creds(scope)).await;
    assert_eq!(status, 200, "{body}");
    body["data"]["access_token"].as_str().unwrap().to_owned()
}

fn catalog(emu: &Emulator, token: &str, name: &str) -> reqwest::RequestBuilder {
    http()
        .post(emu.markable_api_url_for("/api/v1/catalogs"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(json!({"data": {"type": "catalogs", "attributes": {"name": name}}}).to_string())
}

#[tokio::test]
async fn full_and_minimal_authorization_responses() {
    let emu = emu().await;
    let (status, body) = authorize(&emu, creds("default")).await;
    assert_eq!(status, 200);
    let data = body["data"].as_object().unwrap();
    let mut keys: Vec<&str> = data.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "access_token",
            "client_id",
            "created_at",
            "expires_at",
            "scope",
            "type",
            "updated_at",
            "user_id"
        ]
    );
    assert_eq!(data["scope"], "default");
    assert_eq!(data["type"], "Token");
    assert_eq!(data["client_id"], demo::MARKABLE_CLIENT_ID);
    assert_eq!(data["user_id"].as_str().unwrap().len(), 24);
    assert!(data["access_token"].as_str().unwrap().len() >= 32);
    // Unix milliseconds, and a lifetime of years.
    let created = data["created_at"].as_u64().unwrap();
    let expires = data["expires_at"].as_u64().unwrap();
    assert!(created > 1_600_000_000_000, "{created}");
    assert_eq!(data["updated_at"], created);
    let four_years_ms = 4 * 365 * 86_400 * 1000;
    assert!(expires > created + four_years_ms, "{created} {expires}");

    emu.set_markable_minimal_response(true);
    let (status, body) = authorize(&emu, creds("search")).await;
    assert_eq!(status, 200);
    let data = body["data"].as_object().unwrap();
    assert_eq!(data.len(), 1, "{body}");
    assert!(data["access_token"].is_string());

    // The seed's scope attribute is optional; without it the token is `default`.
    emu.set_markable_minimal_response(false);
    emu.set_lifetime(Scheme::Markable, Duration::from_secs(3600))
        .unwrap();
    let (status, body) = authorize(
        &emu,
        json!({"data": {"client_id": demo::MARKABLE_CLIENT_ID, "client_secret": demo::MARKABLE_CLIENT_SECRET}}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["scope"], "default");
    let data = &body["data"];
    assert_eq!(
        data["expires_at"].as_u64().unwrap() - data["created_at"].as_u64().unwrap(),
        3_600_000
    );
}

#[tokio::test]
async fn the_api_lives_on_another_host() {
    let emu = emu().await;
    assert_ne!(emu.markable_api_url(), emu.base_url());
    assert_eq!(
        emu.markable_api_url_for("/api/v1/search"),
        format!("{}/api/v1/search", emu.markable_api_url())
    );
    let search = token(&emu, "search").await;
    let default = token(&emu, "default").await;

    // The authorization host has no API paths, and the API host no
    // authorization.
    for path in ["/api/v1/search?q=x", "/api/v1/catalogs"] {
        let resp = http()
            .get(emu.url(path))
            .bearer_auth(&default)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{path}");
    }
    let (status, _, body) = json(
        http()
            .post(emu.markable_api_url_for("/auth/client/authorize"))
            .body(creds("default").to_string())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["errors"][0]["status"], 404);

    for t in [&search, &default] {
        let (status, _, body) = json(
            http()
                .get(emu.markable_api_url_for("/api/v1/search?q=red+dress"))
                .bearer_auth(t)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body["data"][0]["attributes"]["name"], "red dress 1");
    }

    let (status, _, body) = json(catalog(&emu, &search, "spring").send().await.unwrap()).await;
    assert_eq!(status, 403);
    assert_eq!(body["errors"][0]["status"], 403);
    assert_eq!(body["errors"][0]["title"], "Forbidden");

    let (status, _, body) = json(catalog(&emu, &default, "spring").send().await.unwrap()).await;
    assert_eq!(status, 201);
    assert_eq!(body["data"]["type"], "catalogs");
    assert_eq!(body["data"]["attributes"]["name"], "spring");
    // The same name again: 409 Conflict.
    let (status, _, body) = json(catalog(&emu, &default, "spring").send().await.unwrap()).await;
    assert_eq!(status, 409);
    assert_eq!(body["errors"][0]["title"], "Conflict");
    assert_eq!(emu.counters().requests_to(Endpoint::MarkableCatalogs), 3);
}

#[tokio::test]
async fn jsonapi_errors() {
    let emu = quiet().await;
    let (status, body) = authorize(
        &emu,
        json!({"data": {"client_id": demo::MARKABLE_CLIENT_ID, "client_secret": "wrong", "scope": "default"}}),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["errors"][0]["status"], 401);
    assert_eq!(body["errors"][0]["title"], "Unauthorized");
    assert!(body["errors"][0]["detail"].is_string());

    // JSON of the wrong shape: 422.
    for malformed in [
        creds("admin"),
        json!({"client_id": demo::MARKABLE_CLIENT_ID, "client_secret": demo::MARKABLE_CLIENT_SECRET}),
        json!({"data": {"client_id": demo::MARKABLE_CLIENT_ID}}),
        json!({"data": "x"}),
        json!({"data": {"client_id": 1, "client_secret": 2}}),
    ] {
        let (status, body) = authorize(&emu, malformed).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["errors"][0]["status"], 422);
        assert_eq!(body["errors"][0]["title"], "Unprocessable Entity");
    }
    // Not JSON at all: 400.
    let (status, _, body) = json(
        http()
            .post(emu.url("/auth/client/authorize"))
            .body("data=1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["title"], "Bad Request");
    // Too big: 413.
    let (status, _, body) = json(
        http()
            .post(emu.url("/auth/client/authorize"))
            .body(format!("{{\"pad\":\"{}\"}}", "x".repeat(100 * 1024)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 413);
    assert_eq!(body["errors"][0]["status"], 413);
    // A timeout as a fault: 408, in the same shape.
    emu.add_fault(FaultPlan::next(
        Endpoint::MarkableAuthorize,
        Fault::ClientError { status: 408 },
        1,
    ))
    .unwrap();
    let (status, body) = authorize(&emu, creds("default")).await;
    assert_eq!(status, 408);
    assert_eq!(body["errors"][0]["title"], "Request Timeout");

    // A client not allowed the default scope.
    emu.add_client(ClientSpec::markable("pub", "pubsecret", &["search"]))
        .unwrap();
    let (status, _) = authorize(
        &emu,
        json!({"data": {"client_id": "pub", "client_secret": "pubsecret", "scope": "default"}}),
    )
    .await;
    assert_eq!(status, 403);

    let (status, headers, body) = json(
        http()
            .get(emu.markable_api_url_for("/api/v1/search?q=x"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["errors"][0]["title"], "Unauthorized");
    assert!(header(&headers, "www-authenticate").is_some());

    let t = token(&emu, "search").await;
    emu.expire_tokens();
    let (status, headers, body) = json(
        http()
            .get(emu.markable_api_url_for("/api/v1/search?q=x"))
            .bearer_auth(&t)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert!(body["errors"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("expired"));
    assert_eq!(
        header(&headers, "www-authenticate"),
        Some("Bearer error=\"invalid_token\"")
    );
}

#[tokio::test]
async fn throttled_per_ip_on_each_host() {
    assert_eq!(Throttles::default().markable, Some(Rate::per_minute(25)));
    // A per-day rate, so the count cannot reset mid-test.
    let emu = emu_with(EmulatorConfig {
        throttles: Throttles {
            markable: Some(Rate::per_day(2)),
            ..Throttles::default()
        },
        ..EmulatorConfig::default()
    })
    .await;
    let t = token(&emu, "search").await;
    assert_eq!(authorize(&emu, creds("search")).await.0, 200);
    let resp = http()
        .post(emu.url("/auth/client/authorize"))
        .body(creds("search").to_string())
        .send()
        .await
        .unwrap();
    let retry: u64 = header(resp.headers(), "retry-after")
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=86_400).contains(&retry), "{retry}");
    let (status, _, body) = json(resp).await;
    assert_eq!(status, 429);
    assert_eq!(body["errors"][0]["title"], "Too Many Requests");

    // The API host keeps its own count.
    let search = || {
        http()
            .get(emu.markable_api_url_for("/api/v1/search?q=x"))
            .bearer_auth(&t)
            .send()
    };
    assert_eq!(search().await.unwrap().status(), 200);
    assert_eq!(search().await.unwrap().status(), 200);
    assert_eq!(search().await.unwrap().status(), 429);
}
