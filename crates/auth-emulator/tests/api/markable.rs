use auth_emulator::{demo, ClientSpec, Emulator};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::{emu, header, http, json};

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

fn is_iso8601_utc(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

#[tokio::test]
async fn full_and_minimal_authorization_responses() {
    let emu = emu().await;
    let (status, body) = authorize(&emu, creds("default")).await;
    assert_eq!(status, 200);
    let data = body["data"].as_object().unwrap();
    assert_eq!(data["scope"], "default");
    assert_eq!(data["client_id"], demo::MARKABLE_CLIENT_ID);
    assert!(data["access_token"].as_str().unwrap().len() >= 32);
    let expires_at = data["expires_at"].as_str().unwrap();
    assert!(is_iso8601_utc(expires_at), "{expires_at}");

    emu.set_markable_minimal_response(true);
    let (status, body) = authorize(&emu, creds("search")).await;
    assert_eq!(status, 200);
    let data = body["data"].as_object().unwrap();
    assert_eq!(data.len(), 1, "{body}");
    assert!(data["access_token"].is_string());

    // The seed's scope attribute is optional; without it the token is `default`.
    emu.set_markable_minimal_response(false);
    let (status, body) = authorize(
        &emu,
        json!({"data": {"client_id": demo::MARKABLE_CLIENT_ID, "client_secret": demo::MARKABLE_CLIENT_SECRET}}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["scope"], "default");
}

#[tokio::test]
async fn search_token_may_search_but_not_write() {
    let emu = emu().await;
    let search = token(&emu, "search").await;
    let default = token(&emu, "default").await;

    for t in [&search, &default] {
        let (status, _, body) = json(
            http()
                .get(emu.url("/api/v1/search?q=red+dress"))
                .bearer_auth(t)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body["data"][0]["attributes"]["name"], "red dress 1");
    }

    let write = |t: &str| {
        http()
            .post(emu.url("/api/v1/catalogs"))
            .bearer_auth(t)
            .header("content-type", "application/json")
            .body(r#"{"data":{"type":"catalogs","attributes":{"name":"spring"}}}"#)
            .send()
    };
    let (status, _, body) = json(write(&search).await.unwrap()).await;
    assert_eq!(status, 403);
    assert_eq!(body["errors"][0]["status"], 403);
    assert_eq!(body["errors"][0]["title"], "Forbidden");

    let (status, _, body) = json(write(&default).await.unwrap()).await;
    assert_eq!(status, 201);
    assert_eq!(body["data"]["type"], "catalogs");
    assert_eq!(body["data"]["attributes"]["name"], "spring");
}

#[tokio::test]
async fn jsonapi_errors() {
    let emu = emu().await;
    let (status, body) = authorize(
        &emu,
        json!({"data": {"client_id": demo::MARKABLE_CLIENT_ID, "client_secret": "wrong", "scope": "default"}}),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["errors"][0]["status"], 401);
    assert_eq!(body["errors"][0]["title"], "Unauthorized");
    assert!(body["errors"][0]["detail"].is_string());

    let (status, body) = authorize(&emu, creds("admin")).await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["title"], "Bad Request");

    for malformed in [
        json!({"client_id": demo::MARKABLE_CLIENT_ID, "client_secret": demo::MARKABLE_CLIENT_SECRET}),
        json!({"data": {"client_id": demo::MARKABLE_CLIENT_ID}}),
        json!({"data": "x"}),
        json!({"data": {"client_id": 1, "client_secret": 2}}),
    ] {
        let (status, body) = authorize(&emu, malformed).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["errors"][0]["status"], 400);
    }
    let resp = http()
        .post(emu.url("/auth/client/authorize"))
        .body("data=1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

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
            .get(emu.url("/api/v1/search?q=x"))
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
            .get(emu.url("/api/v1/search?q=x"))
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
