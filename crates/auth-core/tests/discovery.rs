//! Discovery (RFC 8414, OpenID Connect Discovery 1.0), the core half: the
//! well-known requests, reading both kinds of document, the issuer check,
//! picking the client authentication method, and hostile documents.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use auth_core::discovery::{discovery_requests, Metadata, MAX_METADATA_BYTES};
use auth_core::{ClientAuth, ClientCredentials, Error, PrivateKey};
use http::{Response, StatusCode};
use serde_json::{json, Value};

const ISSUER: &str = "https://server.example.com";

/// RFC 8414 §3.2's example answer (the fields it shows).
const RFC8414_EXAMPLE: &str = r#"{
  "issuer": "https://server.example.com",
  "authorization_endpoint": "https://server.example.com/authorize",
  "token_endpoint": "https://server.example.com/token",
  "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
  "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
  "userinfo_endpoint": "https://server.example.com/userinfo",
  "jwks_uri": "https://server.example.com/jwks.json",
  "registration_endpoint": "https://server.example.com/register",
  "scopes_supported": ["openid", "profile", "email", "address", "phone", "offline_access"],
  "response_types_supported": ["code", "code token"],
  "service_documentation": "http://server.example.com/service_documentation.html",
  "ui_locales_supported": ["en-US", "en-GB", "en-CA", "fr-FR", "fr-CA"]
}"#;

/// An OpenID provider's document, shaped like a multi-tenant one (issuer
/// with a path, several methods, OIDC-only fields).
const OIDC_TENANT: &str = r#"{
  "issuer": "https://login.example.com/tenant-1/v2.0",
  "authorization_endpoint": "https://login.example.com/tenant-1/oauth2/v2.0/authorize",
  "token_endpoint": "https://login.example.com/tenant-1/oauth2/v2.0/token",
  "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
  "jwks_uri": "https://login.example.com/tenant-1/discovery/v2.0/keys",
  "response_modes_supported": ["query", "fragment", "form_post"],
  "subject_types_supported": ["pairwise"],
  "id_token_signing_alg_values_supported": ["RS256"],
  "response_types_supported": ["code", "id_token", "code id_token"],
  "scopes_supported": ["openid", "profile", "email", "offline_access"],
  "grant_types_supported": ["authorization_code", "client_credentials"],
  "claims_supported": ["sub", "iss", "aud", "exp", "iat"]
}"#;

fn response(status: u16, body: &[u8]) -> Response<Vec<u8>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .unwrap()
}

fn doc(overrides: Value) -> Response<Vec<u8>> {
    let mut v: Value = serde_json::from_str(RFC8414_EXAMPLE).unwrap();
    for (k, val) in overrides.as_object().unwrap() {
        if val.is_null() {
            v.as_object_mut().unwrap().remove(k);
        } else {
            v[k] = val.clone();
        }
    }
    response(200, v.to_string().as_bytes())
}

fn secret() -> ClientCredentials {
    ClientCredentials::new("client-1", "s3cret").unwrap()
}

fn es256() -> ClientCredentials {
    let key = PrivateKey::from_pem(include_str!("fixtures/p256.pkcs8.pem")).unwrap();
    ClientCredentials::with_private_key("client-1", key).unwrap()
}

fn rs256() -> ClientCredentials {
    let key = PrivateKey::from_pem(include_str!("fixtures/rsa2048.pkcs8.pem")).unwrap();
    ClientCredentials::with_private_key("client-1", key).unwrap()
}

/// Shown to a person: no raw control character, whatever the server sent.
fn shown(e: &Error) -> String {
    let text = e.to_string();
    assert!(
        !text.chars().any(|c| c.is_control()),
        "control characters reach the message: {text:?}"
    );
    text
}

#[test]
fn well_known_urls_with_and_without_an_issuer_path() {
    let urls = |issuer: &str| {
        let [a, b] = discovery_requests(issuer).unwrap();
        for r in [&a, &b] {
            assert_eq!(r.method(), "GET");
            assert!(r.body().is_empty());
            assert_eq!(r.headers()["accept"], "application/json");
        }
        [a.uri().to_string(), b.uri().to_string()]
    };
    assert_eq!(
        urls("https://server.example.com"),
        [
            "https://server.example.com/.well-known/oauth-authorization-server",
            "https://server.example.com/.well-known/openid-configuration",
        ]
    );
    // A bare trailing slash is no path.
    assert_eq!(urls("https://server.example.com/"), urls(ISSUER));
    // RFC 8414 §3.1: inserted between host and path; OIDC §4: appended.
    assert_eq!(
        urls("https://server.example.com/issuer1"),
        [
            "https://server.example.com/.well-known/oauth-authorization-server/issuer1",
            "https://server.example.com/issuer1/.well-known/openid-configuration",
        ]
    );
    // A terminating slash on the path is dropped first.
    assert_eq!(
        urls("https://login.example.com/tenant-1/v2.0/"),
        [
            "https://login.example.com/.well-known/oauth-authorization-server/tenant-1/v2.0",
            "https://login.example.com/tenant-1/v2.0/.well-known/openid-configuration",
        ]
    );
    assert_eq!(
        urls("http://127.0.0.1:8080/realms/test"),
        [
            "http://127.0.0.1:8080/.well-known/oauth-authorization-server/realms/test",
            "http://127.0.0.1:8080/realms/test/.well-known/openid-configuration",
        ]
    );
}

#[test]
fn unusable_issuers_are_refused() {
    for (issuer, word) in [
        ("http://server.example.com", "not an https URL"),
        ("ftp://server.example.com", "not an https URL"),
        ("server.example.com", "not an https URL"),
        ("/issuer", "not an https URL"),
        ("https://server.example.com/?tenant=1", "query or fragment"),
        ("https://server.example.com/#x", "query or fragment"),
        (
            "https://user:pw@server.example.com",
            "user name or password",
        ),
        ("https://user:pw@server.example.com/?x", "query or fragment"),
        ("https://server.example.com/\u{1b}[2J", "not an https URL"),
    ] {
        let e = discovery_requests(issuer).unwrap_err();
        assert!(matches!(e, Error::InvalidConfig(_)), "{issuer}: {e:?}");
        assert!(shown(&e).contains(word), "{issuer}: {e}");
        assert!(!shown(&e).contains("pw@"), "the password is quoted: {e}");
        let e = Metadata::parse(&doc(json!({})), issuer).unwrap_err();
        assert!(matches!(e, Error::InvalidConfig(_)), "{issuer}: {e:?}");
    }
}

#[test]
fn the_rfc_8414_example_is_read() {
    let m = Metadata::parse(&response(200, RFC8414_EXAMPLE.as_bytes()), ISSUER).unwrap();
    assert_eq!(m.issuer(), ISSUER);
    assert_eq!(m.token_endpoint(), "https://server.example.com/token");
    assert_eq!(
        m.token_endpoint_auth_methods(),
        ["client_secret_basic", "private_key_jwt"]
    );
    assert_eq!(
        m.token_endpoint_auth_signing_algs(),
        Some(&["RS256".to_owned(), "ES256".to_owned()][..])
    );
    assert_eq!(m.scopes_supported().map(<[String]>::len), Some(6));
    assert_eq!(m.grant_types_supported(), None);

    let p = m.provider(&secret()).unwrap();
    assert_eq!(p.auth(), ClientAuth::Basic);
    assert_eq!(p.token_url(), "https://server.example.com/token");
    let p = m.provider(&es256()).unwrap();
    assert_eq!(p.auth(), ClientAuth::PrivateKeyJwt);
    assert_eq!(p.assertion_audience(), "https://server.example.com/token");
    assert_eq!(
        m.provider(&rs256()).unwrap().auth(),
        ClientAuth::PrivateKeyJwt
    );
}

#[test]
fn an_openid_configuration_is_read() {
    let issuer = "https://login.example.com/tenant-1/v2.0";
    let m = Metadata::parse(&response(200, OIDC_TENANT.as_bytes()), issuer).unwrap();
    assert_eq!(
        m.token_endpoint(),
        "https://login.example.com/tenant-1/oauth2/v2.0/token"
    );
    assert_eq!(
        m.grant_types_supported().unwrap(),
        ["authorization_code", "client_credentials"]
    );
    assert_eq!(m.token_endpoint_auth_signing_algs(), None);
    // Basic is preferred when listed, wherever it is in the list.
    assert_eq!(m.auth_method_for(&secret()).unwrap(), ClientAuth::Basic);
    // No algorithm list: any key the client can sign with is tried.
    assert_eq!(
        m.auth_method_for(&es256()).unwrap(),
        ClientAuth::PrivateKeyJwt
    );
    // The issuer exactly as the document writes it; a trailing slash differs.
    let e = Metadata::parse(
        &response(200, OIDC_TENANT.as_bytes()),
        &format!("{issuer}/"),
    )
    .unwrap_err();
    assert!(matches!(e, Error::IssuerMismatch { .. }), "{e:?}");
}

#[test]
fn another_issuer_is_refused_naming_both() {
    for (found, expect_in_message) in [
        ("https://evil.example.com", "https://evil.example.com"),
        ("https://server.example.com/", "https://server.example.com/"),
        ("https://SERVER.example.com", "https://SERVER.example.com"),
        (
            "https://evil.example\u{1b}]0;pwned\u{7}",
            "https://evil.example\\u{1b}]0;pwned\\u{7}",
        ),
    ] {
        let e = Metadata::parse(&doc(json!({ "issuer": found })), ISSUER).unwrap_err();
        let Error::IssuerMismatch { expected, found: f } = &e else {
            panic!("{found:?}: {e:?}")
        };
        assert_eq!(expected, ISSUER);
        assert_eq!(f, expect_in_message);
        let text = shown(&e);
        assert!(
            text.contains(ISSUER) && text.contains(expect_in_message),
            "{text}"
        );
        assert!(!e.is_retryable());
    }
    let long = format!("https://{}.example.com", "a".repeat(5000));
    let e = Metadata::parse(&doc(json!({ "issuer": long })), ISSUER).unwrap_err();
    assert!(shown(&e).len() < 800, "shortened: {}", e.to_string().len());
}

#[test]
fn a_missing_or_unusable_token_endpoint_is_refused() {
    let cases = [
        (json!({ "token_endpoint": null }), "no `token_endpoint`"),
        (json!({ "token_endpoint": 7 }), "no `token_endpoint`"),
        (
            json!({ "token_endpoint": "http://server.example.com/token" }),
            "not an https URL",
        ),
        (json!({ "token_endpoint": "/token" }), "not an https URL"),
        (
            json!({ "token_endpoint": "javascript:alert(1)" }),
            "not an https URL",
        ),
        (
            json!({ "token_endpoint": "https://x.example/\u{1b}[2Jtoken" }),
            "not an https URL",
        ),
        (json!({ "issuer": null }), "no `issuer`"),
    ];
    for (overrides, word) in cases {
        let e = Metadata::parse(&doc(overrides.clone()), ISSUER).unwrap_err();
        assert!(
            matches!(e, Error::MalformedResponse { .. }),
            "{overrides}: {e:?}"
        );
        assert!(shown(&e).contains(word), "{overrides}: {e}");
    }
    // Loopback http is fine (a local emulator).
    let m = Metadata::parse(
        &doc(json!({ "token_endpoint": "http://127.0.0.1:9000/token" })),
        ISSUER,
    )
    .unwrap();
    assert_eq!(m.token_endpoint(), "http://127.0.0.1:9000/token");
}

#[test]
fn methods_default_to_client_secret_basic() {
    let m = Metadata::parse(
        &doc(json!({
            "token_endpoint_auth_methods_supported": null,
            "token_endpoint_auth_signing_alg_values_supported": null,
        })),
        ISSUER,
    )
    .unwrap();
    assert_eq!(m.token_endpoint_auth_methods(), ["client_secret_basic"]);
    assert!(m.lists(ClientAuth::Basic));
    assert!(!m.lists(ClientAuth::Post) && !m.lists(ClientAuth::PrivateKeyJwt));
    assert_eq!(m.auth_method_for(&secret()).unwrap(), ClientAuth::Basic);
    let e = m.auth_method_for(&es256()).unwrap_err();
    assert_eq!(
        e,
        Error::NoAuthMethod {
            supported: vec!["client_secret_basic".into()],
            have: "a private key (ES256)".into(),
        }
    );
}

#[test]
fn the_method_is_picked_by_what_the_credentials_hold() {
    let with = |methods: Value, algs: Value| {
        Metadata::parse(
            &doc(json!({
                "token_endpoint_auth_methods_supported": methods,
                "token_endpoint_auth_signing_alg_values_supported": algs,
            })),
            ISSUER,
        )
        .unwrap()
    };
    let all = json!([
        "private_key_jwt",
        "client_secret_post",
        "client_secret_basic"
    ]);
    // Secrets: basic if listed, else post.
    assert_eq!(
        with(all.clone(), Value::Null).auth_method_for(&secret()),
        Ok(ClientAuth::Basic)
    );
    assert_eq!(
        with(
            json!(["client_secret_post", "private_key_jwt"]),
            Value::Null
        )
        .auth_method_for(&secret()),
        Ok(ClientAuth::Post)
    );
    // Keys: private_key_jwt, with the key's algorithm when algorithms are listed.
    assert_eq!(
        with(all.clone(), json!(["ES256"])).auth_method_for(&es256()),
        Ok(ClientAuth::PrivateKeyJwt)
    );
    assert_eq!(
        with(all.clone(), json!(["RS256", "PS256"])).auth_method_for(&rs256()),
        Ok(ClientAuth::PrivateKeyJwt)
    );

    // Nothing fits: what the server lists and what the credentials hold.
    let e = with(json!(["private_key_jwt", "tls_client_auth"]), Value::Null)
        .auth_method_for(&secret())
        .unwrap_err();
    assert_eq!(
        e,
        Error::NoAuthMethod {
            supported: vec!["private_key_jwt".into(), "tls_client_auth".into()],
            have: "a client secret".into(),
        }
    );
    let text = shown(&e);
    assert!(
        text.contains("`private_key_jwt`, `tls_client_auth`") && text.contains("a client secret"),
        "{text}"
    );
    let e = with(
        json!(["client_secret_basic", "client_secret_post"]),
        Value::Null,
    )
    .provider(&es256())
    .unwrap_err();
    assert!(
        shown(&e).contains("`client_secret_basic`, `client_secret_post`")
            && e.to_string().contains("a private key (ES256)"),
        "{e}"
    );
    let e = with(all, json!(["RS256"]))
        .auth_method_for(&es256())
        .unwrap_err();
    assert!(
        shown(&e).contains("`private_key_jwt (signed with RS256)`"),
        "{e}"
    );
    let e = with(json!([]), Value::Null)
        .auth_method_for(&secret())
        .unwrap_err();
    assert!(shown(&e).contains("no client authentication method"), "{e}");
    assert!(!e.is_retryable());
}

#[test]
fn statuses_other_than_200() {
    for status in [404, 410] {
        let e = Metadata::parse(&response(status, b"<html>not here</html>"), ISSUER).unwrap_err();
        assert_eq!(
            e,
            Error::MetadataNotFound {
                status: StatusCode::from_u16(status).unwrap()
            }
        );
        assert_eq!(e.status().map(|s| s.as_u16()), Some(status));
        assert!(shown(&e).contains("try the next well-known URL"), "{e}");
    }
    let limited = Response::builder()
        .status(429)
        .header("retry-after", "7")
        .body(Vec::new())
        .unwrap();
    assert_eq!(
        Metadata::parse(&limited, ISSUER).unwrap_err().retry_after(),
        Some(Duration::from_secs(7))
    );
    // A date with no `Date` to measure it against is left out, not guessed.
    let dated = Response::builder()
        .status(503)
        .header("retry-after", "Sun, 22 Nov 2026 10:00:30 GMT")
        .body(b"down".to_vec())
        .unwrap();
    let e = Metadata::parse(&dated, ISSUER).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Server {
                retry_after: None,
                ..
            }
        ),
        "{e:?}"
    );
    let dated = Response::builder()
        .status(503)
        .header("date", "Sun, 22 Nov 2026 10:00:00 GMT")
        .header("retry-after", "Sun, 22 Nov 2026 10:00:30 GMT")
        .body(b"down".to_vec())
        .unwrap();
    assert_eq!(
        Metadata::parse(&dated, ISSUER).unwrap_err().retry_after(),
        Some(Duration::from_secs(30))
    );
    let moved = Response::builder()
        .status(302)
        .header("location", "https://evil.example/x?token=abc")
        .body(Vec::new())
        .unwrap();
    let e = Metadata::parse(&moved, ISSUER).unwrap_err();
    assert!(
        matches!(&e, Error::UnexpectedStatus { location: Some(l), .. } if l.contains("query withheld")),
        "{e:?}"
    );
    let e = Metadata::parse(&response(403, b"{\"error\":\"forbidden\"}"), ISSUER).unwrap_err();
    assert!(matches!(e, Error::UnexpectedStatus { .. }), "{e:?}");
}

#[test]
fn hostile_bodies_give_short_sanitized_errors() {
    // Huge: refused by size before parsing.
    let mut huge = RFC8414_EXAMPLE.trim_end_matches('}').to_owned();
    huge.push_str(&format!(
        r#","padding":"{}"}}"#,
        "x".repeat(MAX_METADATA_BYTES)
    ));
    let e = Metadata::parse(&response(200, huge.as_bytes()), ISSUER).unwrap_err();
    assert!(
        matches!(e, Error::MalformedResponse { .. }) && shown(&e).contains("at most"),
        "{e}"
    );
    assert!(e.to_string().len() < 400);

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "html",
            b"<html><body>\x1b[2J\x1b]0;pwned\x07 sign in</body></html>".to_vec(),
            "not JSON",
        ),
        ("array", b"[1,2,3]".to_vec(), "expected a JSON object"),
        (
            "truncated",
            br#"{"issuer":"https://server.exa"#.to_vec(),
            "ends early",
        ),
        ("empty", Vec::new(), "empty"),
        ("binary", vec![0xff, 0xfe, 0x00, 0x1b, 0x9b], "not JSON"),
        (
            "methods not a list",
            doc(json!({ "token_endpoint_auth_methods_supported": "client_secret_basic" }))
                .into_body(),
            "`token_endpoint_auth_methods_supported` is not an array",
        ),
        (
            "methods not strings",
            doc(json!({ "token_endpoint_auth_methods_supported": [1, {"a": 2}] })).into_body(),
            "other than strings",
        ),
        (
            "scopes not a list",
            doc(json!({ "scopes_supported": {"openid": true} })).into_body(),
            "`scopes_supported`",
        ),
    ];
    for (name, body, word) in cases {
        let e = Metadata::parse(&response(200, &body), ISSUER).unwrap_err();
        assert!(
            matches!(e, Error::MalformedResponse { .. }),
            "{name}: {e:?}"
        );
        let text = shown(&e);
        assert!(text.contains(word), "{name}: `{word}` missing: {text}");
        assert!(text.len() < 600, "{name}: {} chars", text.len());
        assert!(!text.contains("pwned\u{7}"), "{name}: {text}");
    }

    // Control characters and floods in the method list reach the error
    // escaped, shortened and bounded.
    let mut methods: Vec<String> = (0..500).map(|i| format!("method-{i}")).collect();
    methods[0] = format!("\u{1b}[31mclient_secret_jwt\u{202e}{}", "z".repeat(500));
    let m = Metadata::parse(
        &doc(json!({ "token_endpoint_auth_methods_supported": methods })),
        ISSUER,
    )
    .unwrap();
    let e = m.provider(&secret()).unwrap_err();
    let Error::NoAuthMethod { supported, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(supported.len(), 17, "16 shown and a count of the rest");
    assert_eq!(supported[16], "… 484 more");
    assert!(supported[0].starts_with("\\u{1b}[31mclient_secret_jwt\\u{202e}"));
    assert!(supported[0].chars().count() < 100, "{}", supported[0]);
    assert!(shown(&e).len() < 1200);
}
