//! `private_key_jwt` at `/oauth2/token` (RFC 7523 §2.2, §3): what the
//! emulator accepts and what it refuses, with the exact answers.
//!
//! Valid assertions come from auth-core's signer (an independent
//! implementation of the client side); the malformed ones are signed here
//! by hand with `p256`, since auth-core will not make them. Times are
//! chosen far from every limit (an `iat` minutes in the past, not seconds),
//! so no test depends on how fast it runs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth_core::PrivateKey;
use auth_emulator::{demo, ClientSpec, Emulator, Endpoint, Scheme};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::DecodePrivateKey as _;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::{basic, emu, form, header, http, json, FORM};

const JWT_ID: &str = demo::OAUTH2_JWT_CLIENT_ID;
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Test-only keys from auth-core's fixtures (see their README).
const RSA_PEM: &str = include_str!("../../../auth-core/tests/fixtures/rsa2048.pkcs8.pem");
const OTHER_P256_PEM: &str = include_str!("../../../auth-core/tests/fixtures/p256-b.pkcs8.pem");

fn demo_key() -> PrivateKey {
    PrivateKey::from_pem(demo::OAUTH2_JWT_PRIVATE_KEY_PEM)
        .unwrap()
        .with_key_id(demo::OAUTH2_JWT_KEY_ID)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn token_url(emu: &Emulator) -> String {
    emu.url("/oauth2/token")
}

/// An assertion as a real client makes it: auth-core's signer, issued now.
fn signed(key: &PrivateKey, client_id: &str, aud: &str, jti: &str) -> String {
    signed_at(key, client_id, aud, SystemTime::now(), jti)
}

fn signed_at(key: &PrivateKey, client_id: &str, aud: &str, iat: SystemTime, jti: &str) -> String {
    key.client_assertion(client_id, aud, iat, jti)
        .unwrap()
        .expose_secret()
        .to_owned()
}

/// A JWS with any header and claims, signed ES256 with `pem` (a P-256
/// PKCS#8 key); `der` signs in DER instead of JOSE's `r || s`.
fn hand_signed(header: &Value, claims: &Value, pem: &str, der: bool) -> String {
    let key = p256::ecdsa::SigningKey::from_pkcs8_pem(pem).unwrap();
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
    let bytes = if der {
        sig.to_der().as_bytes().to_vec()
    } else {
        sig.to_bytes().to_vec()
    };
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(bytes))
}

fn es256_header() -> Value {
    json!({"alg":"ES256","typ":"JWT","kid":demo::OAUTH2_JWT_KEY_ID})
}

/// Claims for the demo JWT client: issued `age` seconds ago, living
/// `lifetime` seconds.
fn claims(emu: &Emulator, jti: &str, age: u64, lifetime: u64) -> Value {
    let iat = now_secs() - age;
    json!({
        "iss": JWT_ID, "sub": JWT_ID, "aud": token_url(emu),
        "iat": iat, "exp": iat + lifetime, "jti": jti,
    })
}

async fn post(emu: &Emulator, pairs: &[(&str, &str)]) -> (StatusCode, HeaderMap, Value) {
    json(
        http()
            .post(token_url(emu))
            .header("content-type", FORM)
            .body(form(pairs))
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// The usual request: grant type, assertion type, assertion (and a scope).
async fn post_assertion(emu: &Emulator, assertion: &str) -> (StatusCode, HeaderMap, Value) {
    post(
        emu,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
        ],
    )
    .await
}

/// A refusal: 401 `invalid_client` whose description contains `why`, with
/// nothing of the assertion in the answer.
#[track_caller]
fn refused(answer: (StatusCode, HeaderMap, Value), assertion: &str, why: &str) {
    let (status, headers, body) = answer;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client", "{body}");
    let description = body["error_description"].as_str().unwrap();
    assert!(description.contains(why), "{description:?} lacks {why:?}");
    assert_eq!(header(&headers, "cache-control"), Some("no-store"));
    // Basic was not tried, so no Basic challenge.
    assert_eq!(header(&headers, "www-authenticate"), None);
    let text = body.to_string();
    for part in assertion.split('.').filter(|p| p.len() > 8) {
        assert!(
            !text.contains(part),
            "the answer echoes the assertion: {text}"
        );
    }
}

#[tokio::test]
async fn es256_and_rs256_assertions_are_accepted() {
    let emu = emu().await;
    let key = demo_key();

    // With client_id in the form, as auth-core sends it, and a scope.
    let jwt = signed(&key, JWT_ID, &token_url(&emu), "es-1");
    let (status, headers, body) = post(
        &emu,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", JWT_ID),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &jwt),
            ("scope", "read write"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(header(&headers, "cache-control"), Some("no-store"));
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "read write");
    let token = body["access_token"].as_str().unwrap().to_owned();

    // The token is the JWT client's.
    let (status, _, body) = json(
        http()
            .get(emu.url("/oauth2/resource"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"client_id": JWT_ID, "scope": "read write"}));

    // Without client_id (RFC 7523 §2.2 makes it optional); the defaults.
    let jwt = signed(&key, JWT_ID, &token_url(&emu), "es-2");
    let (status, _, body) = post_assertion(&emu, &jwt).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "read");

    // A key with no kid is fine: the server has only one key for the client.
    let no_kid = PrivateKey::from_pem(demo::OAUTH2_JWT_PRIVATE_KEY_PEM).unwrap();
    let jwt = signed(&no_kid, JWT_ID, &token_url(&emu), "es-3");
    assert_eq!(post_assertion(&emu, &jwt).await.0, 200);

    // RS256: a client registered with the fixture key's public JWK.
    let rsa = PrivateKey::from_pem(RSA_PEM).unwrap();
    assert_eq!(rsa.algorithm(), "RS256");
    emu.add_client(ClientSpec::oauth2_with_key(
        "rsa-client",
        rsa.public_jwk(),
        &["read"],
        &["read"],
    ))
    .unwrap();
    let jwt = signed(&rsa, "rsa-client", &token_url(&emu), "rs-1");
    let (status, _, body) = post_assertion(&emu, &jwt).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "read");

    // Counted as every token request is.
    let c = emu.counters();
    assert_eq!(c.requests_to(Endpoint::Oauth2Token), 4);
    assert_eq!(c.token_total(Scheme::Oauth2), 4);
    assert_eq!(c.token_requests_by(Scheme::Oauth2, JWT_ID), 3);
    assert_eq!(c.token_requests_by(Scheme::Oauth2, "rsa-client"), 1);
    assert_eq!(c.token_requests[&Scheme::Oauth2].issued, 4);
    assert_eq!(c.rejected, 0);
}

#[tokio::test]
async fn aud_may_be_an_array_holding_the_token_url() {
    let emu = emu().await;
    let mut c = claims(&emu, "arr-1", 10, 60);
    c["aud"] = json!(["https://other.example/api", token_url(&emu)]);
    let jwt = hand_signed(&es256_header(), &c, demo::OAUTH2_JWT_PRIVATE_KEY_PEM, false);
    let (status, _, body) = post_assertion(&emu, &jwt).await;
    assert_eq!(status, 200, "{body}");

    // A hand-made assertion of exactly five minutes is still accepted.
    let c = claims(&emu, "five-min", 10, 300);
    let jwt = hand_signed(&es256_header(), &c, demo::OAUTH2_JWT_PRIVATE_KEY_PEM, false);
    assert_eq!(post_assertion(&emu, &jwt).await.0, 200);
}

#[tokio::test]
async fn signed_by_another_key() {
    let emu = emu().await;
    let other = PrivateKey::from_pem(OTHER_P256_PEM).unwrap();
    let jwt = signed(&other, JWT_ID, &token_url(&emu), "other-1");
    refused(
        post_assertion(&emu, &jwt).await,
        &jwt,
        "signature does not verify",
    );
    // A signature of the wrong length, e.g. DER instead of r || s.
    let c = claims(&emu, "der-1", 10, 60);
    let jwt = hand_signed(&es256_header(), &c, demo::OAUTH2_JWT_PRIVATE_KEY_PEM, true);
    refused(post_assertion(&emu, &jwt).await, &jwt, "64 bytes");
    // Claims changed after signing.
    let good = signed(&demo_key(), JWT_ID, &token_url(&emu), "tamper-1");
    let parts: Vec<&str> = good.split('.').collect();
    let mut c = claims(&emu, "tamper-1", 0, 120);
    c["sub"] = json!(JWT_ID);
    c["extra"] = json!("x");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(c.to_string()),
        parts[2]
    );
    refused(
        post_assertion(&emu, &tampered).await,
        &tampered,
        "signature does not verify",
    );
    let c = emu.counters();
    assert_eq!(c.token_requests_by(Scheme::Oauth2, JWT_ID), 3);
    assert_eq!(c.rejected, 3);
    assert_eq!(c.token_requests[&Scheme::Oauth2].issued, 0);
}

#[tokio::test]
async fn wrong_audience() {
    let emu = emu().await;
    let key = demo_key();
    for (aud, jti) in [
        (emu.base_url().to_owned(), "aud-1"),
        (format!("{}/", token_url(&emu)), "aud-2"),
        ("https://auth.example.com/oauth2/token".to_owned(), "aud-3"),
    ] {
        let jwt = signed(&key, JWT_ID, &aud, jti);
        refused(
            post_assertion(&emu, &jwt).await,
            &jwt,
            "aud must be the token endpoint URL",
        );
    }
    let mut c = claims(&emu, "aud-4", 10, 60);
    c["aud"] = json!(["https://auth.example.com/oauth2/token"]);
    let jwt = hand_signed(&es256_header(), &c, demo::OAUTH2_JWT_PRIVATE_KEY_PEM, false);
    refused(post_assertion(&emu, &jwt).await, &jwt, "aud");
}

#[tokio::test]
async fn expired_and_too_long_lived() {
    let emu = emu().await;
    // Issued ten minutes ago: its two minutes ran out eight minutes ago.
    let iat = SystemTime::now() - Duration::from_secs(600);
    let jwt = signed_at(&demo_key(), JWT_ID, &token_url(&emu), iat, "old-1");
    refused(post_assertion(&emu, &jwt).await, &jwt, "expired");

    // Valid now, but made to live ten minutes.
    let c = claims(&emu, "long-1", 10, 600);
    let jwt = hand_signed(&es256_header(), &c, demo::OAUTH2_JWT_PRIVATE_KEY_PEM, false);
    refused(post_assertion(&emu, &jwt).await, &jwt, "at most 300 s");

    // No iat, and an exp an hour away.
    let mut c = claims(&emu, "long-2", 0, 3600);
    c.as_object_mut().unwrap().remove("iat");
    let jwt = hand_signed(&es256_header(), &c, demo::OAUTH2_JWT_PRIVATE_KEY_PEM, false);
    refused(post_assertion(&emu, &jwt).await, &jwt, "300 s");

    // No exp at all.
    let mut c = claims(&emu, "no-exp", 10, 60);
    c.as_object_mut().unwrap().remove("exp");
    let jwt = hand_signed(&es256_header(), &c, demo::OAUTH2_JWT_PRIVATE_KEY_PEM, false);
    refused(post_assertion(&emu, &jwt).await, &jwt, "no `exp`");

    // Issued an hour in the future.
    let mut c = claims(&emu, "future", 0, 60);
    c["iat"] = json!(now_secs() + 3600);
    c["exp"] = json!(now_secs() + 3660);
    let jwt = hand_signed(&es256_header(), &c, demo::OAUTH2_JWT_PRIVATE_KEY_PEM, false);
    refused(post_assertion(&emu, &jwt).await, &jwt, "in the future");
}

#[tokio::test]
async fn a_replayed_jti_is_refused() {
    let emu = emu().await;
    let key = demo_key();
    let jwt = signed(&key, JWT_ID, &token_url(&emu), "once");
    assert_eq!(post_assertion(&emu, &jwt).await.0, 200);
    refused(
        post_assertion(&emu, &jwt).await,
        &jwt,
        "jti was used before",
    );
    // The same jti in a new assertion (another iat): still a replay.
    let iat = SystemTime::now() - Duration::from_secs(30);
    let again = signed_at(&key, JWT_ID, &token_url(&emu), iat, "once");
    assert_ne!(again, jwt);
    refused(
        post_assertion(&emu, &again).await,
        &again,
        "jti was used before",
    );
    // A refused assertion does not use its jti up.
    let other = PrivateKey::from_pem(OTHER_P256_PEM).unwrap();
    let forged = signed(&other, JWT_ID, &token_url(&emu), "fresh");
    refused(post_assertion(&emu, &forged).await, &forged, "signature");
    let jwt = signed(&key, JWT_ID, &token_url(&emu), "fresh");
    assert_eq!(post_assertion(&emu, &jwt).await.0, 200);
    // No jti at all.
    let mut c = claims(&emu, "x", 10, 60);
    c.as_object_mut().unwrap().remove("jti");
    let jwt = hand_signed(&es256_header(), &c, demo::OAUTH2_JWT_PRIVATE_KEY_PEM, false);
    refused(post_assertion(&emu, &jwt).await, &jwt, "no `jti`");
}

#[tokio::test]
async fn wrong_or_missing_assertion_type() {
    let emu = emu().await;
    let jwt = signed(&demo_key(), JWT_ID, &token_url(&emu), "type-1");
    let saml = "urn:ietf:params:oauth:client-assertion-type:saml2-bearer";
    let answer = post(
        &emu,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", saml),
            ("client_assertion", &jwt),
        ],
    )
    .await;
    refused(answer, &jwt, "client_assertion_type must be");
    let answer = post(
        &emu,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion", &jwt),
        ],
    )
    .await;
    refused(answer, &jwt, "client_assertion_type is required");
    let answer = post(
        &emu,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
        ],
    )
    .await;
    refused(answer, "", "client_assertion is required");
    // Not a JWS at all.
    refused(
        post_assertion(&emu, "not-a-jwt").await,
        "",
        "not a compact JWS",
    );
    // The refusals used nothing up: the same assertion is accepted now.
    assert_eq!(post_assertion(&emu, &jwt).await.0, 200);
}

#[tokio::test]
async fn alg_must_fit_the_registered_key() {
    let emu = emu().await;
    // RS256 for a client whose key is EC.
    let rsa = PrivateKey::from_pem(RSA_PEM).unwrap();
    let jwt = signed(&rsa, JWT_ID, &token_url(&emu), "alg-1");
    refused(
        post_assertion(&emu, &jwt).await,
        &jwt,
        "alg RS256 does not fit the client's EC key",
    );
    // And ES256 for a client whose key is RSA.
    emu.add_client(ClientSpec::oauth2_with_key(
        "rsa-client",
        rsa.public_jwk(),
        &["read"],
        &[],
    ))
    .unwrap();
    let jwt = signed(&demo_key(), "rsa-client", &token_url(&emu), "alg-2");
    refused(
        post_assertion(&emu, &jwt).await,
        &jwt,
        "alg ES256 does not fit the client's RSA key",
    );
    // `none`, unsigned.
    let c = claims(&emu, "alg-3", 10, 60);
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg":"none"}).to_string()),
        URL_SAFE_NO_PAD.encode(c.to_string())
    );
    refused(
        post_assertion(&emu, &unsigned).await,
        &unsigned,
        "alg `none` is not accepted",
    );
    // A header claiming HS256 (the classic key-confusion attack): refused by
    // the alg allow-list before any signature is checked.
    let jwt = hand_signed(
        &json!({"alg":"HS256"}),
        &claims(&emu, "alg-4", 10, 60),
        demo::OAUTH2_JWT_PRIVATE_KEY_PEM,
        false,
    );
    refused(post_assertion(&emu, &jwt).await, &jwt, "not accepted");
    // A kid that is not the registered key's.
    let jwt = hand_signed(
        &json!({"alg":"ES256","kid":"someone-else"}),
        &claims(&emu, "kid-1", 10, 60),
        demo::OAUTH2_JWT_PRIVATE_KEY_PEM,
        false,
    );
    refused(post_assertion(&emu, &jwt).await, &jwt, "kid");
}

#[tokio::test]
async fn an_assertion_with_a_secret_is_invalid_request() {
    let emu = emu().await;
    let jwt = signed(&demo_key(), JWT_ID, &token_url(&emu), "two-1");
    let (status, _, body) = post(
        &emu,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", JWT_ID),
            ("client_secret", "anything"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &jwt),
        ],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(
        body["error_description"],
        "more than one client authentication method"
    );
    let (status, _, body) = json(
        http()
            .post(token_url(&emu))
            .header("authorization", basic(JWT_ID, "anything"))
            .header("content-type", FORM)
            .body(form(&[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", &jwt),
            ]))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_request");
    assert!(!body.to_string().contains(&jwt));
}

#[tokio::test]
async fn clients_and_methods_do_not_mix() {
    let emu = emu().await;
    // The JWT client has no secret to offer: not even an empty one.
    for secret in ["", "demo-oauth2-secret"] {
        let (status, _, body) = post(
            &emu,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", JWT_ID),
                ("client_secret", secret),
            ],
        )
        .await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"], "invalid_client");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("private_key_jwt"),
            "{body}"
        );
    }
    // A secret client has no key to verify with.
    let jwt = signed(
        &demo_key(),
        demo::OAUTH2_CLIENT_ID,
        &token_url(&emu),
        "mix-1",
    );
    refused(post_assertion(&emu, &jwt).await, &jwt, "no registered key");
    // Unknown and revoked clients; a form client_id that is not the issuer.
    let jwt = signed(&demo_key(), "nobody", &token_url(&emu), "mix-2");
    refused(post_assertion(&emu, &jwt).await, &jwt, "unknown client");
    let jwt = signed(&demo_key(), JWT_ID, &token_url(&emu), "mix-3");
    let answer = post(
        &emu,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", demo::OAUTH2_CLIENT_ID),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &jwt),
        ],
    )
    .await;
    refused(answer, &jwt, "client_id does not match");
    let mut c = claims(&emu, "mix-4", 10, 60);
    c["sub"] = json!("someone-else");
    let jwt = hand_signed(&es256_header(), &c, demo::OAUTH2_JWT_PRIVATE_KEY_PEM, false);
    refused(post_assertion(&emu, &jwt).await, &jwt, "iss and sub");
    emu.revoke(Scheme::Oauth2, JWT_ID).unwrap();
    let jwt = signed(&demo_key(), JWT_ID, &token_url(&emu), "mix-5");
    refused(post_assertion(&emu, &jwt).await, &jwt, "revoked");
}

#[tokio::test]
async fn keys_are_checked_when_added() {
    let emu = emu().await;
    let public = demo_key().public_jwk();
    // A private JWK, a key with a secret, a key for another scheme.
    let mut private = public.clone();
    private["d"] = json!("AAAA");
    for spec in [
        ClientSpec::oauth2_with_key("k1", private, &["read"], &[]),
        ClientSpec {
            client_secret: "also-a-secret".into(),
            ..ClientSpec::oauth2_with_key("k2", public.clone(), &["read"], &[])
        },
        ClientSpec {
            scheme: Scheme::Markable,
            ..ClientSpec::oauth2_with_key("k3", public.clone(), &["search"], &[])
        },
        ClientSpec::oauth2_with_key("k4", json!({"kty":"EC","crv":"P-256"}), &[], &[]),
        ClientSpec::oauth2("k5", "", &[], &[]),
    ] {
        let id = spec.client_id.clone();
        assert!(emu.add_client(spec).is_err(), "{id}");
    }

    // Over the admin API: a JSON ClientSpec with a public_jwk and no secret.
    let other = PrivateKey::from_pem(OTHER_P256_PEM).unwrap();
    let (status, _, body) = json(
        http()
            .post(emu.url("/_emulator/clients"))
            .body(
                json!({
                    "scheme": "oauth2",
                    "client_id": "ci-jwt",
                    "public_jwk": other.public_jwk(),
                    "scopes": ["read"],
                    "default_scopes": ["read"],
                })
                .to_string(),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let jwt = signed(&other, "ci-jwt", &token_url(&emu), "ci-1");
    let (status, _, body) = post_assertion(&emu, &jwt).await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = json(
        http()
            .post(emu.url("/_emulator/clients"))
            .body(
                json!({"scheme": "oauth2", "client_id": "ci-bad", "public_jwk": {"kty": "RSA"}})
                    .to_string(),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("public_jwk"),
        "{body}"
    );
}
