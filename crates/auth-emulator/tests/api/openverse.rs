use std::time::Duration;

use auth_emulator::{demo, ClientSpec, Emulator, RateLimits, Scheme};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::{basic, emu, form, header, http, json, FORM};

async fn register(emu: &Emulator, path: &str, body: Value) -> (StatusCode, Value) {
    let resp = http()
        .post(emu.url(path))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let (status, _, body) = json(resp).await;
    (status, body)
}

async fn token(emu: &Emulator, id: &str, secret: &str) -> String {
    let resp = http()
        .post(emu.url("/v1/auth_tokens/token/"))
        .header("content-type", FORM)
        .body(form(&[
            ("client_id", id),
            ("client_secret", secret),
            ("grant_type", "client_credentials"),
        ]))
        .send()
        .await
        .unwrap();
    let (status, _, body) = json(resp).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

async fn images(emu: &Emulator, token: Option<&str>) -> reqwest::Response {
    let mut req = http().get(emu.url("/v1/images/?q=cat"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn register_with_and_without_trailing_slash() {
    let emu = emu().await;
    let (status, body) = register(
        &emu,
        "/v1/auth_tokens/register/",
        json!({"name": "My amazing project", "description": "To access CC Catalog API", "email": "cccatalog-api@creativecommons.org"}),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(body["name"], "My amazing project");
    assert_eq!(body["client_id"].as_str().unwrap().len(), 40);
    assert_eq!(body["client_secret"].as_str().unwrap().len(), 128);
    assert!(body["msg"].is_string());

    let (status, body) = register(
        &emu,
        "/v1/auth_tokens/register",
        json!({"name": "Second", "description": "d", "email": "a@example.org"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(emu.outbox().len(), 2);
}

#[tokio::test]
async fn register_validation_errors_are_drf_field_errors() {
    let emu = emu().await;
    let path = "/v1/auth_tokens/register/";
    let ok = json!({"name": "taken", "description": "d", "email": "a@example.org"});
    assert_eq!(register(&emu, path, ok.clone()).await.0, 201);

    let (status, body) = register(&emu, path, ok).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"name": ["An application with this name already exists."]})
    );

    let (status, body) = register(
        &emu,
        path,
        json!({"description": "d", "email": "a@example.org"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body, json!({"name": ["This field is required."]}));

    let (_, body) = register(
        &emu,
        path,
        json!({"name": "", "description": "  ", "email": "a@example.org"}),
    )
    .await;
    assert_eq!(
        body,
        json!({"name": ["This field may not be blank."], "description": ["This field may not be blank."]})
    );

    let long = "x".repeat(151);
    let (_, body) = register(
        &emu,
        path,
        json!({"name": long, "description": "d", "email": "a@example.org"}),
    )
    .await;
    assert_eq!(
        body,
        json!({"name": ["Ensure this field has no more than 150 characters."]})
    );
    let exactly = "y".repeat(150);
    assert_eq!(
        register(
            &emu,
            path,
            json!({"name": exactly, "description": "d", "email": "a@example.org"})
        )
        .await
        .0,
        201
    );

    let (_, body) = register(
        &emu,
        path,
        json!({"name": "n", "description": "d", "email": "not-an-email"}),
    )
    .await;
    assert_eq!(body, json!({"email": ["Enter a valid email address."]}));

    let (_, body) = register(&emu, path, json!({"name": 5, "description": "d"})).await;
    assert_eq!(
        body,
        json!({"name": ["Not a valid string."], "email": ["This field is required."]})
    );

    let resp = http()
        .post(emu.url(path))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, _, body) = json(resp).await;
    assert_eq!(status, 400);
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .starts_with("JSON parse error"));

    let resp = http()
        .post(emu.url(path))
        .header("content-type", FORM)
        .body(form(&[
            ("name", "by form"),
            ("description", "d"),
            ("email", "f@example.org"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);

    let (status, body) = register(&emu, path, json!(["a"])).await;
    assert_eq!(status, 400);
    assert!(body["non_field_errors"].is_array());
    // Only the valid registrations sent mail.
    assert_eq!(emu.outbox().len(), 3);
}

#[tokio::test]
async fn verification_link_lifts_the_rate_limit() {
    let emu = emu().await;
    let (_, reg) = register(
        &emu,
        "/v1/auth_tokens/register/",
        json!({"name": "app", "description": "d", "email": "owner@example.org"}),
    )
    .await;
    let id = reg["client_id"].as_str().unwrap();
    let secret = reg["client_secret"].as_str().unwrap();
    let token = token(&emu, id, secret).await;

    // Unverified: throttled at the unverified tier.
    for i in 0..10 {
        let resp = images(&emu, Some(&token)).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(
            header(resp.headers(), "x-ratelimit-limit-unverified_burst"),
            Some("10/min")
        );
        assert_eq!(
            header(resp.headers(), "x-ratelimit-available-unverified_burst"),
            Some((9 - i).to_string().as_str())
        );
    }
    assert_eq!(images(&emu, Some(&token)).await.status(), 429);
    let (_, _, status) = json(
        http()
            .get(emu.url("/v1/rate_limit/"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status["verified"], false);
    assert_eq!(status["requests_this_minute"], 10);
    assert_eq!(status["requests_today"], 10);
    assert_eq!(status["rate_limit_model"], "standard");

    let outbox = emu.outbox();
    let mail = &outbox[0];
    assert_eq!(mail.to, "owner@example.org");
    assert_eq!(mail.client_id, id);
    assert_eq!(
        mail.link,
        emu.url(&format!("/v1/auth_tokens/verify/{}/", mail.code))
    );
    assert!(mail.body.contains(&mail.link));

    let (status, _, body) = json(http().get(&mail.link).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert!(body["msg"].as_str().unwrap().contains("verified"));

    // Still inside the same minute, but verified keys have a larger budget
    // and their own scope.
    let resp = images(&emu, Some(&token)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(resp.headers(), "x-ratelimit-limit-standard_burst"),
        Some("100/min")
    );
    assert_eq!(
        header(resp.headers(), "x-ratelimit-available-standard_burst"),
        Some("89")
    );
    let (_, _, status) = json(
        http()
            .get(emu.url("/v1/rate_limit"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status["verified"], true);

    let (status, _, body) = json(
        http()
            .get(emu.url("/v1/auth_tokens/verify/nope/"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body, json!({"detail": "Not found."}));
}

#[tokio::test]
async fn token_by_form_and_by_basic() {
    let emu = emu().await;
    let resp = http()
        .post(emu.url("/v1/auth_tokens/token/"))
        .header("content-type", FORM)
        .body(form(&[
            ("client_id", demo::OPENVERSE_CLIENT_ID),
            ("client_secret", demo::OPENVERSE_CLIENT_SECRET),
            ("grant_type", "client_credentials"),
        ]))
        .send()
        .await
        .unwrap();
    let (status, headers, body) = json(resp).await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "cache-control"), Some("no-store"));
    assert_eq!(body["scope"], "read write groups");
    assert_eq!(body["expires_in"], 36000);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["access_token"].as_str().unwrap().len(), 30);

    // A secret that needs form-encoding inside Basic (RFC 6749 §2.3.1).
    let secret = "s3cr:t &+/é";
    emu.add_client(ClientSpec::openverse("id:with colon", secret, true))
        .unwrap();
    emu.set_lifetime(Scheme::Openverse, Duration::from_secs(43_200))
        .unwrap();
    let resp = http()
        .post(emu.url("/v1/auth_tokens/token/"))
        .header("authorization", basic("id:with colon", secret))
        .header("content-type", FORM)
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    let (status, _, body) = json(resp).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 43200);
    let counters = emu.counters();
    assert_eq!(
        counters.token_requests_by(Scheme::Openverse, "id:with colon"),
        1
    );
    assert_eq!(
        counters.token_requests_by(Scheme::Openverse, demo::OPENVERSE_CLIENT_ID),
        1
    );
    assert_eq!(counters.token_total(Scheme::Openverse), 2);
}

#[tokio::test]
async fn token_errors() {
    let emu = emu().await;
    let post = |body: String, ctype: &'static str| {
        http()
            .post(emu.url("/v1/auth_tokens/token/"))
            .header("content-type", ctype)
            .body(body)
            .send()
    };
    let (status, _, body) = json(
        post(
            form(&[
                ("client_id", demo::OPENVERSE_CLIENT_ID),
                ("client_secret", "wrong"),
                ("grant_type", "client_credentials"),
            ]),
            FORM,
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body, json!({"error": "invalid_client"}));

    let (status, _, body) = json(
        post(
            form(&[
                ("client_id", demo::OPENVERSE_CLIENT_ID),
                ("client_secret", demo::OPENVERSE_CLIENT_SECRET),
                ("grant_type", "password"),
            ]),
            FORM,
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "unsupported_grant_type");

    let (status, _, body) = json(
        post(
            json!({"client_id": demo::OPENVERSE_CLIENT_ID, "client_secret": demo::OPENVERSE_CLIENT_SECRET, "grant_type": "client_credentials"}).to_string(),
            "application/json",
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_request");

    let (status, _, body) = json(
        post("grant_type=client_credentials".into(), FORM)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(emu.counters().rejected, 4);
}

#[tokio::test]
async fn anonymous_burst_limit_gives_429_with_retry_after() {
    let emu = emu().await;
    emu.set_rate_limits(RateLimits {
        anonymous: 3,
        unverified: 10,
        verified: 100,
    });
    for (i, path) in ["/v1/images/?q=a", "/v1/images?q=a", "/v1/images/"]
        .iter()
        .enumerate()
    {
        let resp = http().get(emu.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            header(resp.headers(), "x-ratelimit-limit-anon_burst"),
            Some("3/min")
        );
        assert_eq!(
            header(resp.headers(), "x-ratelimit-available-anon_burst"),
            Some((2 - i).to_string().as_str())
        );
        let (_, _, body) = json(resp).await;
        assert!(!body["results"].as_array().unwrap().is_empty());
        assert!(body["result_count"].is_number());
    }
    let resp = images(&emu, None).await;
    assert_eq!(resp.status(), 429);
    let retry: u64 = header(resp.headers(), "retry-after")
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(
        header(resp.headers(), "x-ratelimit-limit-anon_burst"),
        Some("3/min")
    );
    assert_eq!(
        header(resp.headers(), "x-ratelimit-available-anon_burst"),
        Some("0")
    );
    let (_, _, body) = json(resp).await;
    assert!(body["detail"].as_str().unwrap().contains("throttled"));

    emu.reset_rate_limits();
    assert_eq!(images(&emu, None).await.status(), 200);
    assert_eq!(emu.counters().rejected, 1);
}

#[tokio::test]
async fn revoked_key_gets_403_and_bad_tokens_get_401() {
    let emu = emu().await;
    let token = token(
        &emu,
        demo::OPENVERSE_CLIENT_ID,
        demo::OPENVERSE_CLIENT_SECRET,
    )
    .await;
    let resp = images(&emu, Some(&token)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(resp.headers(), "x-ratelimit-limit-standard_burst"),
        Some("100/min")
    );

    let resp = images(&emu, Some("not-a-token")).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(
        header(resp.headers(), "www-authenticate").unwrap(),
        "Bearer error=\"invalid_token\", error_description=\"The access token is invalid or expired\""
    );

    let resp = http().get(emu.url("/v1/rate_limit/")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(header(resp.headers(), "www-authenticate"), Some("Bearer"));

    emu.revoke(Scheme::Openverse, demo::OPENVERSE_CLIENT_ID)
        .unwrap();
    let (status, _, body) = json(images(&emu, Some(&token)).await).await;
    assert_eq!(status, 403);
    assert!(body["detail"].as_str().unwrap().contains("revoked"));
    let resp = http()
        .get(emu.url("/v1/rate_limit/"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
}

#[tokio::test]
async fn expired_token_gets_401_with_www_authenticate() {
    let emu = emu().await;
    emu.set_lifetime(Scheme::Openverse, Duration::from_secs(1))
        .unwrap();
    let resp = http()
        .post(emu.url("/v1/auth_tokens/token/"))
        .header("content-type", FORM)
        .body(form(&[
            ("client_id", demo::OPENVERSE_CLIENT_ID),
            ("client_secret", demo::OPENVERSE_CLIENT_SECRET),
            ("grant_type", "client_credentials"),
        ]))
        .send()
        .await
        .unwrap();
    let (_, _, body) = json(resp).await;
    assert_eq!(body["expires_in"], 1);
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(images(&emu, Some(&token)).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let resp = images(&emu, Some(&token)).await;
    assert_eq!(resp.status(), 401);
    assert!(header(resp.headers(), "www-authenticate")
        .unwrap()
        .starts_with("Bearer error=\"invalid_token\""));

    // The same without waiting.
    emu.set_lifetime(Scheme::Openverse, Duration::from_secs(3600))
        .unwrap();
    let token = self::token(
        &emu,
        demo::OPENVERSE_CLIENT_ID,
        demo::OPENVERSE_CLIENT_SECRET,
    )
    .await;
    assert_eq!(images(&emu, Some(&token)).await.status(), 200);
    emu.expire_tokens();
    assert_eq!(images(&emu, Some(&token)).await.status(), 401);
}
