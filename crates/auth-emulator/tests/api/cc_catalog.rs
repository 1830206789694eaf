//! The CC Catalog flavour: the seed's server (`cccatalog/urls.py`,
//! `site_views.py`), routed and answering as it did.

use std::time::Duration;

use auth_emulator::{
    demo, ClientSpec, Emulator, EmulatorConfig, OpenverseFlavour, RateLimitModel, Scheme, Throttles,
};
use serde_json::json;

use crate::{emu_with, form, header, http, json, FORM};

/// The legacy server with its own rates, minus the one-per-second key
/// status throttle (whether two calls fall in one second is timing).
async fn cc_catalog() -> Emulator {
    emu_with(EmulatorConfig {
        flavour: OpenverseFlavour::CcCatalog,
        throttles: Throttles {
            key_status: None,
            ..Throttles::cc_catalog()
        },
        ..EmulatorConfig::default()
    })
    .await
}

fn token_request(emu: &Emulator, secret: &str) -> reqwest::RequestBuilder {
    http()
        .post(emu.url("/v1/auth_tokens/token/"))
        .header("content-type", FORM)
        .body(form(&[
            ("client_id", demo::OPENVERSE_CLIENT_ID),
            ("client_secret", secret),
            ("grant_type", "client_credentials"),
        ]))
}

async fn token(emu: &Emulator) -> String {
    let (status, _, body) = json(
        token_request(emu, demo::OPENVERSE_CLIENT_SECRET)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_seed_s_routes_and_only_those() {
    let emu = cc_catalog().await;
    assert_eq!(emu.flavour(), OpenverseFlavour::CcCatalog);
    let register = |path: &str| {
        http()
            .post(emu.url(path))
            .header("content-type", "application/json")
            .body(json!({"name": "My amazing project", "description": "A description", "email": "example@example.com"}).to_string())
            .send()
    };
    // The slash form matches no pattern: Django's 404 page.
    let resp = register("/v1/auth_tokens/register/").await.unwrap();
    assert_eq!(resp.status(), 404);
    assert!(header(resp.headers(), "content-type")
        .unwrap()
        .starts_with("text/html"));
    let (status, _, reg) = json(register("/v1/auth_tokens/register").await.unwrap()).await;
    assert_eq!(status, 201);
    assert_eq!(reg["client_secret"].as_str().unwrap().len(), 128);

    let mail = emu.outbox().pop().unwrap();
    assert_eq!(
        mail.link,
        emu.url(&format!("/v1/auth_tokens/verify/{}", mail.code))
    );
    assert!(mail
        .body
        .contains("To verify your CC Catalog API credentials"));
    let resp = http().get(format!("{}/", mail.link)).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(http().get(&mail.link).send().await.unwrap().status(), 200);

    // The token endpoint comes from DOT's URLs, with the slash; the
    // slash-less form is APPEND_SLASH's 301.
    let resp = http()
        .post(emu.url("/v1/auth_tokens/token"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 301);
    assert_eq!(
        header(resp.headers(), "location"),
        Some("/v1/auth_tokens/token/")
    );
    let token = token(&emu).await;

    let status = |path: &'static str| {
        let req = http().get(emu.url(path)).bearer_auth(&token);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status("/v1/rate_limit").await, 200);
    assert_eq!(status("/v1/rate_limit/").await, 404);
    // `re_path('images')` matches both forms.
    assert_eq!(status("/v1/images?q=cat").await, 200);
    assert_eq!(status("/v1/images/?q=cat").await, 200);
}

#[tokio::test]
async fn the_token_endpoint_is_dot_s_own_view() {
    let emu = cc_catalog().await;
    emu.set_lifetime(Scheme::Openverse, Duration::from_secs(36_000))
        .unwrap();
    // DOT's plain Django view: no DRF, so no throttles at all.
    for _ in 0..70 {
        let resp = token_request(&emu, demo::OPENVERSE_CLIENT_SECRET)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert!(header(resp.headers(), "x-ratelimit-limit-anon_burst").is_none());
    }
    let resp = token_request(&emu, demo::OPENVERSE_CLIENT_SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(header(resp.headers(), "cache-control"), Some("no-store"));
    assert_eq!(header(resp.headers(), "pragma"), Some("no-cache"));
    let (_, _, body) = json(resp).await;
    // The seed's answer, field for field.
    assert_eq!(body["scope"], "read write groups");
    assert_eq!(body["expires_in"], 36000);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["access_token"].as_str().unwrap().len(), 30);

    // oauthlib's headers are kept: a 401 carries its challenge.
    let resp = token_request(&emu, "wrong").send().await.unwrap();
    assert_eq!(
        header(resp.headers(), "www-authenticate"),
        Some("Bearer error=\"invalid_client\"")
    );
    let (status, _, body) = json(resp).await;
    assert_eq!(status, 401);
    assert_eq!(body, json!({"error": "invalid_client"}));
}

#[tokio::test]
async fn legacy_key_status_and_tokens() {
    let emu = cc_catalog().await;
    let token = token(&emu).await;
    let get = |path: &'static str, token: Option<String>| {
        let mut req = http().get(emu.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move { json(req.send().await.unwrap()).await }
    };
    let (status, _, body) = get("/v1/rate_limit", Some(token.clone())).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"requests_this_minute": null, "requests_today": null, "rate_limit_model": "standard", "verified": true})
    );
    get("/v1/images", Some(token.clone())).await;
    let (_, _, body) = get("/v1/rate_limit", Some(token.clone())).await;
    assert_eq!(body["requests_this_minute"], 1);

    // No token: the bare JSON string.
    let (status, _, body) = get("/v1/rate_limit", None).await;
    assert_eq!(status, 403);
    assert_eq!(body, json!("Forbidden"));
    // DOT's old authentication leaves a bad token's request anonymous: no
    // 401 anywhere, the key status is Forbidden, a search is anonymous.
    emu.expire_tokens();
    let (status, _, body) = get("/v1/rate_limit", Some(token.clone())).await;
    assert_eq!(status, 403);
    assert_eq!(body, json!("Forbidden"));
    let (status, headers, _) = get("/v1/images", Some(token.clone())).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "x-ratelimit-limit-anon_burst"),
        Some("60/min")
    );

    let token = self::token(&emu).await;
    emu.set_cache_outage(true);
    let resp = http()
        .get(emu.url("/v1/rate_limit"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500);
    assert!(resp.text().await.unwrap().contains("Server Error (500)"));
    emu.set_cache_outage(false);

    emu.add_client(
        ClientSpec::openverse("free", "free-secret", true)
            .with_rate_limit_model(RateLimitModel::Exempt),
    )
    .unwrap();
    let (_, _, body) = json(
        http()
            .post(emu.url("/v1/auth_tokens/token/"))
            .header("content-type", FORM)
            .body("grant_type=client_credentials&client_id=free&client_secret=free-secret")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let free = body["access_token"].as_str().unwrap().to_owned();
    let (status, _, body) = get("/v1/rate_limit", Some(free)).await;
    assert_eq!(status, 500);
    assert_eq!(body, json!("Unknown API key rate limit type"));
}
