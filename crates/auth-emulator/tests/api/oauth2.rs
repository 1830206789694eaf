use std::time::Duration;

use auth_emulator::{demo, ClientSpec, Emulator, OAuth2Methods, OAuth2Variety, Scheme};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::Value;

use crate::{basic, emu, form, header, http, json, FORM};

const ID: &str = demo::OAUTH2_CLIENT_ID;
const SECRET: &str = demo::OAUTH2_CLIENT_SECRET;

async fn post_basic(
    emu: &Emulator,
    id: &str,
    secret: &str,
    body: &str,
) -> (StatusCode, HeaderMap, Value) {
    json(
        http()
            .post(emu.url("/oauth2/token"))
            .header("authorization", basic(id, secret))
            .header("content-type", FORM)
            .body(body.to_owned())
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn post_form(emu: &Emulator, body: String) -> (StatusCode, HeaderMap, Value) {
    json(
        http()
            .post(emu.url("/oauth2/token"))
            .header("content-type", FORM)
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn basic_and_post_with_scopes() {
    let emu = emu().await;
    let (status, headers, body) = post_basic(
        &emu,
        ID,
        SECRET,
        "grant_type=client_credentials&scope=read+write",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(header(&headers, "cache-control"), Some("no-store"));
    assert_eq!(header(&headers, "pragma"), Some("no-cache"));
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "read write");
    assert!(body["access_token"].is_string());

    // No scope asked: the client's defaults.
    let (status, _, body) = post_form(
        &emu,
        form(&[
            ("grant_type", "client_credentials"),
            ("client_id", ID),
            ("client_secret", SECRET),
        ]),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["scope"], "read");

    let (status, _, body) = post_basic(
        &emu,
        ID,
        SECRET,
        "grant_type=client_credentials&scope=read+delete",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_scope");
    assert!(body["error_description"].is_string());
    assert_eq!(emu.counters().token_requests_by(Scheme::Oauth2, ID), 3);
    assert_eq!(emu.counters().token_requests[&Scheme::Oauth2].issued, 2);
}

#[tokio::test]
async fn invalid_client_says_basic_only_when_basic_was_used() {
    let emu = emu().await;
    let (status, headers, body) =
        post_basic(&emu, ID, "wrong", "grant_type=client_credentials").await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
    assert!(header(&headers, "www-authenticate")
        .unwrap()
        .starts_with("Basic"));

    let (status, headers, body) = post_form(
        &emu,
        form(&[
            ("grant_type", "client_credentials"),
            ("client_id", ID),
            ("client_secret", "wrong"),
        ]),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
    assert!(header(&headers, "www-authenticate").is_none());

    let (status, headers, body) = json(
        http()
            .post(emu.url("/oauth2/token"))
            .header("authorization", "Basic !!!not-base64")
            .header("content-type", FORM)
            .body("grant_type=client_credentials")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
    assert!(header(&headers, "www-authenticate").is_some());

    let (status, _, body) = post_form(&emu, "grant_type=client_credentials".into()).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
}

#[tokio::test]
async fn each_method_can_be_switched_off() {
    let emu = emu().await;
    let post_body = form(&[
        ("grant_type", "client_credentials"),
        ("client_id", ID),
        ("client_secret", SECRET),
    ]);
    emu.set_oauth2_methods(OAuth2Methods {
        basic: false,
        post: true,
    });
    let (status, headers, body) =
        post_basic(&emu, ID, SECRET, "grant_type=client_credentials").await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
    assert!(header(&headers, "www-authenticate").is_some());
    assert_eq!(post_form(&emu, post_body.clone()).await.0, 200);

    emu.set_oauth2_methods(OAuth2Methods {
        basic: true,
        post: false,
    });
    let (status, _, body) = post_form(&emu, post_body).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(
        post_basic(&emu, ID, SECRET, "grant_type=client_credentials")
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn section_5_2_errors() {
    let emu = emu().await;
    let (status, _, body) = post_basic(&emu, ID, SECRET, "grant_type=password").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "unsupported_grant_type");

    let (status, _, body) = post_basic(&emu, ID, SECRET, "scope=read").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_request");

    let (status, _, body) = post_basic(
        &emu,
        ID,
        SECRET,
        "grant_type=client_credentials&grant_type=client_credentials",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_request");

    // Two authentication methods in one request (§2.3).
    let (status, _, body) = post_basic(
        &emu,
        ID,
        SECRET,
        &form(&[
            ("grant_type", "client_credentials"),
            ("client_secret", SECRET),
        ]),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_request");

    let (status, headers, body) = json(
        http()
            .post(emu.url("/oauth2/token"))
            .header("authorization", basic(ID, SECRET))
            .header("content-type", "application/json")
            .body(r#"{"grant_type":"client_credentials"}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(header(&headers, "cache-control"), Some("no-store"));

    emu.add_client(
        ClientSpec::oauth2("no-cc", "s", &["read"], &["read"]).with_grant_allowed(false),
    )
    .unwrap();
    let (status, _, body) = post_basic(&emu, "no-cc", "s", "grant_type=client_credentials").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "unauthorized_client");

    emu.revoke(Scheme::Oauth2, "no-cc").unwrap();
    let (status, _, body) = post_basic(&emu, "no-cc", "s", "grant_type=client_credentials").await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
}

#[tokio::test]
async fn resource_checks_the_bearer_token() {
    let emu = emu().await;
    emu.set_lifetime(Scheme::Oauth2, Duration::from_secs(1))
        .unwrap();
    let (_, _, body) = post_basic(
        &emu,
        ID,
        SECRET,
        "grant_type=client_credentials&scope=write",
    )
    .await;
    assert_eq!(body["expires_in"], 1);
    let token = body["access_token"].as_str().unwrap().to_owned();

    let get = |path: &str, token: Option<&str>| {
        let mut req = http().get(emu.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let (status, _, body) = json(get("/oauth2/resource", Some(&token)).await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(body["client_id"], ID);
    assert_eq!(body["scope"], "write");

    let (status, headers, body) = json(
        get("/oauth2/resource?require=admin", Some(&token))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(body["error"], "insufficient_scope");
    assert!(header(&headers, "www-authenticate")
        .unwrap()
        .contains("insufficient_scope"));

    let resp = get("/oauth2/resource", None).await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(header(resp.headers(), "www-authenticate"), Some("Bearer"));

    let (status, headers, body) = json(get("/oauth2/resource", Some("bogus")).await.unwrap()).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_token");
    assert!(header(&headers, "www-authenticate")
        .unwrap()
        .starts_with("Bearer error=\"invalid_token\""));

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, headers, _) = json(get("/oauth2/resource", Some(&token)).await.unwrap()).await;
    assert_eq!(status, 401);
    assert!(header(&headers, "www-authenticate")
        .unwrap()
        .contains("invalid_token"));
}

#[tokio::test]
async fn absurd_lifetimes_do_not_panic() {
    let emu = emu().await;
    emu.set_lifetime(Scheme::Oauth2, Duration::MAX).unwrap();
    emu.set_lifetime(Scheme::Markable, Duration::MAX).unwrap();
    let (status, _, body) = post_basic(&emu, ID, SECRET, "grant_type=client_credentials").await;
    assert_eq!(status, 200);
    assert_eq!(body["expires_in"], u64::MAX);
    let resp = http()
        .post(emu.url("/auth/client/authorize"))
        .body(
            serde_json::json!({"data": {"client_id": demo::MARKABLE_CLIENT_ID, "client_secret": demo::MARKABLE_CLIENT_SECRET}})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    let (status, _, body) = json(resp).await;
    assert_eq!(status, 200);
    assert!(body["data"]["expires_at"].as_u64().unwrap() > 1_600_000_000_000);
}

#[tokio::test]
async fn varieties_of_plain_oauth2_servers() {
    let emu = emu().await;
    let ask = |scope: &'static str| {
        let body = if scope.is_empty() {
            "grant_type=client_credentials".to_owned()
        } else {
            format!(
                "grant_type=client_credentials&scope={}",
                scope.replace(' ', "+")
            )
        };
        let emu = &emu;
        async move { post_basic(emu, ID, SECRET, &body).await }
    };
    // The strict defaults: `Bearer`, the scope always named, a refusal.
    let (_, _, body) = ask("read write").await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "read write");
    let (status, _, body) = ask("read root").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_scope");

    emu.set_oauth2_variety(OAuth2Variety {
        lowercase_bearer: true,
        omit_scope: true,
        narrow_scopes: true,
    });
    // §7.1 lowercase type; §5.1 no scope when it is what was asked.
    let (status, _, body) = ask("read write").await;
    assert_eq!(status, 200);
    assert_eq!(body["token_type"], "bearer");
    assert!(body.get("scope").is_none(), "{body}");
    // Nothing asked: the defaults are granted, and named.
    let (_, _, body) = ask("").await;
    assert_eq!(body["scope"], "read");
    // §3.3 narrowing: the allowed part, named; nothing allowed is refused.
    let (status, _, body) = ask("read root").await;
    assert_eq!(status, 200);
    assert_eq!(body["scope"], "read");
    let (status, _, body) = ask("root").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_scope");
    assert!(emu.config().oauth2_variety.unwrap().narrow_scopes);
}

/// The emulator's `Debug` (a test that prints its emulator, a log line)
/// shows counts, never an issued token or a client's secret.
#[tokio::test]
async fn debug_shows_no_issued_token_or_secret() {
    let emu = emu().await;
    let (status, _, body) = post_basic(&emu, ID, SECRET, "grant_type=client_credentials").await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap();
    let shown = format!("{emu:?} {:?}", emu.control());
    assert!(shown.contains("tokens"), "{shown}");
    assert!(!shown.contains(token), "an issued token in Debug: {shown}");
    assert!(!shown.contains(SECRET), "a client secret in Debug: {shown}");
}
