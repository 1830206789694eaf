//! The Openverse flavour (the default): today's routes, DOT's token
//! endpoint behind DRF, the 401/403 semantics of `oauth2_extensions.py`.

use std::time::Duration;

use auth_emulator::{demo, ClientSpec, Emulator, Endpoint, Fault, FaultPlan, Scheme};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::{basic, emu, form, header, http, json, quiet, FORM};

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

fn token_form(id: &str, secret: &str) -> String {
    form(&[
        ("client_id", id),
        ("client_secret", secret),
        ("grant_type", "client_credentials"),
    ])
}

pub(crate) async fn token(emu: &Emulator, id: &str, secret: &str) -> String {
    let resp = http()
        .post(emu.url("/v1/auth_tokens/token/"))
        .header("content-type", FORM)
        .body(token_form(id, secret))
        .send()
        .await
        .unwrap();
    let (status, _, body) = json(resp).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

async fn images(emu: &Emulator, query: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = http().get(emu.url(&format!("/v1/images/{query}")));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

const PERMISSION_DENIED: &str = "You do not have permission to perform this action.";

#[tokio::test]
async fn every_route_has_the_slash_and_the_slashless_form_is_a_301() {
    let emu = emu().await;
    let (status, body) = register(
        &emu,
        "/v1/auth_tokens/register/",
        json!({"name": "My amazing project", "description": "To access Openverse API", "email": "user@example.com"}),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(body["name"], "My amazing project");
    assert_eq!(body["client_id"].as_str().unwrap().len(), 40);
    assert_eq!(body["client_secret"].as_str().unwrap().len(), 128);
    assert_eq!(body["msg"], "Check your email for a verification link.");

    // Django's APPEND_SLASH: 301 to the slash form, whatever the method,
    // the query kept, an empty body.
    for (method, path, location) in [
        (
            "POST",
            "/v1/auth_tokens/register",
            "/v1/auth_tokens/register/",
        ),
        ("POST", "/v1/auth_tokens/token", "/v1/auth_tokens/token/"),
        ("GET", "/v1/rate_limit", "/v1/rate_limit/"),
        ("GET", "/v1/images?q=cat&page=2", "/v1/images/?q=cat&page=2"),
        (
            "GET",
            "/v1/auth_tokens/verify/abc",
            "/v1/auth_tokens/verify/abc/",
        ),
    ] {
        let req = match method {
            "POST" => http().post(emu.url(path)).header("content-type", FORM),
            _ => http().get(emu.url(path)),
        };
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 301, "{method} {path}");
        assert_eq!(header(resp.headers(), "location"), Some(location));
        assert!(resp.bytes().await.unwrap().is_empty());
    }
    // A client that follows the redirect turns the POST into a GET: 405.
    for path in ["/v1/auth_tokens/register/", "/v1/auth_tokens/token/"] {
        let resp = http().get(emu.url(path)).send().await.unwrap();
        assert_eq!(header(resp.headers(), "allow"), Some("POST, OPTIONS"));
        let (status, _, body) = json(resp).await;
        assert_eq!(status, 405);
        assert_eq!(body, json!({"detail": "Method \"GET\" not allowed."}));
    }
    // Only the one registration reached the view.
    assert_eq!(emu.outbox().len(), 1);
    assert_eq!(emu.counters().requests_to(Endpoint::OpenverseRegister), 1);
    assert_eq!(emu.counters().token_total(Scheme::Openverse), 0);
    let resp = http().get(emu.url("/v1/nothing/")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert!(header(resp.headers(), "content-type")
        .unwrap()
        .starts_with("text/html"));
}

#[tokio::test]
async fn register_validation_errors_are_drf_field_errors() {
    // Eleven registrations from one IP: more than TenPerDay allows.
    let emu = quiet().await;
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
    let (status, headers, body) = json(resp).await;
    assert_eq!(status, 400);
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .starts_with("JSON parse error"));
    // `never_cache` on the auth views.
    assert!(header(&headers, "cache-control")
        .unwrap()
        .contains("no-store"));

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
async fn verification_codes_are_token_urlsafe_and_single_use() {
    let emu = emu().await;
    let (_, reg) = register(
        &emu,
        "/v1/auth_tokens/register/",
        json!({"name": "app", "description": "d", "email": "owner@example.org"}),
    )
    .await;
    let id = reg["client_id"].as_str().unwrap();
    let mail = emu.outbox().pop().unwrap();
    assert_eq!(mail.to, "owner@example.org");
    assert_eq!(mail.subject, "Verify your API credentials");
    assert_eq!(mail.client_id, id);
    // secrets.token_urlsafe(64): 86 characters of URL-safe base64.
    assert_eq!(mail.code.len(), 86);
    assert!(mail
        .code
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_eq!(
        mail.link,
        emu.url(&format!("/v1/auth_tokens/verify/{}/", mail.code))
    );
    assert!(mail
        .body
        .contains("To verify your Openverse API credentials"));
    assert!(mail.body.contains(&mail.link));

    let (status, _, body) = json(http().get(&mail.link).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"msg": "Successfully verified email. Your OAuth2 credentials are now active."})
    );
    // The code was deleted: a second click, like an unknown code, is a 500.
    let invalid =
        json!({"msg": "Invalid verification code. Did you validate your credentials already?"});
    let (status, _, body) = json(http().get(&mail.link).send().await.unwrap()).await;
    assert_eq!(status, 500);
    assert_eq!(body, invalid);
    let (status, _, body) = json(
        http()
            .get(emu.url("/v1/auth_tokens/verify/nope/"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 500);
    assert_eq!(body, invalid);

    let secret = reg["client_secret"].as_str().unwrap();
    let token = token(&emu, id, secret).await;
    let (status, _, body) = json(
        http()
            .get(emu.url("/v1/rate_limit/"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["verified"], true);
}

#[tokio::test]
async fn token_by_form_basic_and_multipart() {
    let emu = emu().await;
    let resp = http()
        .post(emu.url("/v1/auth_tokens/token/"))
        .header("content-type", FORM)
        .body(token_form(
            demo::OPENVERSE_CLIENT_ID,
            demo::OPENVERSE_CLIENT_SECRET,
        ))
        .send()
        .await
        .unwrap();
    let (status, headers, body) = json(resp).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "cache-control"),
        Some("max-age=0, no-cache, no-store, must-revalidate, private")
    );
    assert!(header(&headers, "expires").unwrap().ends_with(" GMT"));
    // DRF ran the anonymous throttles, per IP: the token endpoint counts.
    assert_eq!(
        header(&headers, "x-ratelimit-limit-anon_burst"),
        Some("5/hour")
    );
    assert_eq!(
        header(&headers, "x-ratelimit-available-anon_burst"),
        Some("4")
    );
    assert_eq!(
        header(&headers, "x-ratelimit-limit-anon_sustained"),
        Some("100/day")
    );
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["access_token", "expires_in", "scope", "token_type"]);
    assert_eq!(body["scope"], "read write");
    assert_eq!(body["expires_in"], 43200);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["access_token"].as_str().unwrap().len(), 30);

    // A secret that needs form-encoding inside Basic (RFC 6749 §2.3.1), and
    // the seed's 36000-second lifetime.
    let secret = "s3cr:t &+/é";
    emu.add_client(ClientSpec::openverse("id:with colon", secret, true))
        .unwrap();
    emu.set_lifetime(Scheme::Openverse, Duration::from_secs(36_000))
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
    assert_eq!(body["expires_in"], 36000);

    // multipart/form-data, as Django parses it too.
    let multipart: String = [
        ("grant_type", "client_credentials"),
        ("client_id", demo::OPENVERSE_CLIENT_ID),
        ("client_secret", demo::OPENVERSE_CLIENT_SECRET),
        ("scope", "read"),
    ]
    .iter()
    .map(|(k, v)| format!("--b0und\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"))
    .chain(["--b0und--\r\n".to_owned()])
    .collect();
    let resp = http()
        .post(emu.url("/v1/auth_tokens/token/"))
        .header("content-type", "multipart/form-data; boundary=b0und")
        .body(multipart)
        .send()
        .await
        .unwrap();
    let (status, _, body) = json(resp).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "read");

    let counters = emu.counters();
    assert_eq!(
        counters.token_requests_by(Scheme::Openverse, "id:with colon"),
        1
    );
    assert_eq!(
        counters.token_requests_by(Scheme::Openverse, demo::OPENVERSE_CLIENT_ID),
        2
    );
    assert_eq!(counters.token_total(Scheme::Openverse), 3);
}

#[tokio::test]
async fn token_request_validation_is_oauthlib_s() {
    let emu = quiet().await;
    let post = |body: String, ctype: Option<&'static str>| {
        let mut req = http().post(emu.url("/v1/auth_tokens/token/")).body(body);
        if let Some(c) = ctype {
            req = req.header("content-type", c);
        }
        req.send()
    };
    let good = || token_form(demo::OPENVERSE_CLIENT_ID, demo::OPENVERSE_CLIENT_SECRET);
    let unsupported = json!({"error": "unsupported_grant_type"});

    let resp = post(token_form(demo::OPENVERSE_CLIENT_ID, "wrong"), Some(FORM))
        .await
        .unwrap();
    // DRF re-sends DOT's body without DOT's headers: no challenge.
    assert_eq!(header(resp.headers(), "www-authenticate"), None);
    let (status, _, body) = json(resp).await;
    assert_eq!(status, 401);
    assert_eq!(body, json!({"error": "invalid_client"}));

    let (status, _, body) = json(
        post(good().replace("client_credentials", "password"), Some(FORM))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status.as_u16(), body), (400, unsupported.clone()));

    // A missing grant type, a JSON body, no Content-Type at all: Django
    // leaves request.POST empty, so the grant type is missing.
    let missing = form(&[
        ("client_id", demo::OPENVERSE_CLIENT_ID),
        ("client_secret", demo::OPENVERSE_CLIENT_SECRET),
    ]);
    let as_json = json!({"client_id": demo::OPENVERSE_CLIENT_ID, "client_secret": demo::OPENVERSE_CLIENT_SECRET, "grant_type": "client_credentials"}).to_string();
    for (body, ctype) in [
        (missing, Some(FORM)),
        (as_json, Some("application/json")),
        (good(), None),
    ] {
        let (status, _, body) = json(post(body, ctype).await.unwrap()).await;
        assert_eq!((status.as_u16(), body), (400, unsupported.clone()));
    }

    // Scopes are checked against `read write`; none asked is both.
    for (scope, expected) in [("read", "read"), ("write read", "write read")] {
        let body = format!("{}&scope={}", good(), scope.replace(' ', "+"));
        let (status, _, body) = json(post(body, Some(FORM)).await.unwrap()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["scope"], expected);
    }
    for scope in ["groups", "read admin"] {
        let body = format!("{}&scope={}", good(), scope.replace(' ', "+"));
        let (status, _, body) = json(post(body, Some(FORM)).await.unwrap()).await;
        assert_eq!(status, 400);
        assert_eq!(body, json!({"error": "invalid_scope"}));
    }

    let (status, _, body) = json(
        post(
            format!("{}&grant_type=client_credentials", good()),
            Some(FORM),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(emu.counters().rejected, 8);
}

#[tokio::test]
async fn a_401_names_the_token_a_403_the_key() {
    let emu = quiet().await;
    let token = token(
        &emu,
        demo::OPENVERSE_CLIENT_ID,
        demo::OPENVERSE_CLIENT_SECRET,
    )
    .await;
    assert_eq!(images(&emu, "?q=cat", Some(&token)).await.status(), 200);

    // DOT's challenge after realm="api", joined by bare commas.
    let resp = images(&emu, "?q=cat", Some("not-a-token")).await;
    assert_eq!(
        header(resp.headers(), "www-authenticate"),
        Some("Bearer realm=\"api\",error=\"invalid_token\",error_description=\"The access token is invalid.\"")
    );
    let (status, _, body) = json(resp).await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"detail": "Incorrect authentication credentials."})
    );

    // No token at all on the key status: 403 Forbidden, not a 401.
    let (status, _, body) =
        json(http().get(emu.url("/v1/rate_limit/")).send().await.unwrap()).await;
    assert_eq!(status, 403);
    assert_eq!(body, json!({"detail": "Forbidden"}));

    emu.revoke(Scheme::Openverse, demo::OPENVERSE_CLIENT_ID)
        .unwrap();
    for path in ["/v1/images/?q=cat", "/v1/rate_limit/"] {
        let (status, _, body) = json(
            http()
                .get(emu.url(path))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 403, "{path}");
        assert_eq!(body, json!({ "detail": PERMISSION_DENIED }));
    }
    // Revocation is checked when a token is used, not when it is issued.
    let again = self::token(
        &emu,
        demo::OPENVERSE_CLIENT_ID,
        demo::OPENVERSE_CLIENT_SECRET,
    )
    .await;
    assert_eq!(images(&emu, "", Some(&again)).await.status(), 403);
}

#[tokio::test]
async fn an_expired_token_gets_401_has_expired() {
    let emu = quiet().await;
    let token = token(
        &emu,
        demo::OPENVERSE_CLIENT_ID,
        demo::OPENVERSE_CLIENT_SECRET,
    )
    .await;
    assert_eq!(images(&emu, "", Some(&token)).await.status(), 200);
    emu.expire_tokens();
    let resp = images(&emu, "", Some(&token)).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(
        header(resp.headers(), "www-authenticate"),
        Some("Bearer realm=\"api\",error=\"invalid_token\",error_description=\"The access token has expired.\"")
    );
    let resp = http()
        .get(emu.url("/v1/rate_limit/"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn page_size_and_depth_follow_the_serializer() {
    let emu = quiet().await;
    let token = token(
        &emu,
        demo::OPENVERSE_CLIENT_ID,
        demo::OPENVERSE_CLIENT_SECRET,
    )
    .await;
    let not_authenticated = json!({"detail": "Ensure this value is less than or equal to 20."});

    // Anonymous and over 20: DRF's NotAuthenticated, a challenge that
    // names no error.
    let resp = images(&emu, "?page_size=21", None).await;
    assert_eq!(
        header(resp.headers(), "www-authenticate"),
        Some("Bearer realm=\"api\"")
    );
    let (status, _, body) = json(resp).await;
    assert_eq!(status, 401);
    assert_eq!(body, not_authenticated);
    let (status, _, body) = json(images(&emu, "?page_size=20", None).await).await;
    assert_eq!(status, 200);
    assert_eq!(body["page_size"], 20);

    // With a token the limit is 500, and over it a field error.
    let (status, _, body) = json(images(&emu, "?page_size=21&page=2", Some(&token)).await).await;
    assert_eq!(status, 200);
    assert_eq!(
        (body["page_size"].clone(), body["page"].clone()),
        (json!(21), json!(2))
    );
    let (status, _, body) = json(images(&emu, "?page_size=501", Some(&token)).await).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"detail": {"page_size": ["Ensure this value is less than or equal to 500."]}})
    );
    // Deeper than MAX_PAGINATION_DEPTH: a field error for everyone.
    let (status, _, body) = json(images(&emu, "?page=21", Some(&token)).await).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"detail": {"page": ["Ensure this value is less than or equal to 20."]}})
    );
    let (status, _, body) = json(images(&emu, "?page=0&page_size=x", None).await).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"detail": {
            "page_size": ["A valid integer is required."],
            "page": ["Ensure this value is greater than or equal to 1."],
        }})
    );

    // A proxy that drops the header: a client that sent a valid token gets
    // the anonymous 401, which is not about its token.
    emu.add_fault(FaultPlan::next(
        Endpoint::OpenverseImages,
        Fault::DropAuthorization,
        1,
    ))
    .unwrap();
    let resp = images(&emu, "?page_size=21", Some(&token)).await;
    assert_eq!(
        header(resp.headers(), "www-authenticate"),
        Some("Bearer realm=\"api\"")
    );
    let (status, _, body) = json(resp).await;
    assert_eq!(status, 401);
    assert_eq!(body, not_authenticated);
    assert_eq!(
        images(&emu, "?page_size=21", Some(&token)).await.status(),
        200
    );
}
