//! `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9): the key
//! readers, the assertion on the wire, its signature checked with the
//! public half, a new one per request, redaction, cache keys, and the
//! pairings that are refused.
//!
//! The keys are test-only fixtures made once with openssl
//! (`tests/fixtures/README.md`): no RSA key is generated here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use auth_core::assertion::ASSERTION_TYPE;
use auth_core::{
    AssertionInput, ClientAuth, ClientCredentials, Error, Event, FingerprintKey, Markable, OAuth2,
    Openverse, PrivateKey, Provider, RefreshPolicy, Scopes, TokenSource, Transmit,
    TransportErrorKind,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value;

const RSA_PKCS8: &str = include_str!("fixtures/rsa2048.pkcs8.pem");
const RSA_PKCS1: &str = include_str!("fixtures/rsa2048.pkcs1.pem");
const RSA_JWK: &str = include_str!("fixtures/rsa2048.jwk.json");
const EC_PKCS8: &str = include_str!("fixtures/p256.pkcs8.pem");
const EC_SEC1: &str = include_str!("fixtures/p256.sec1.pem");
const EC_JWK: &str = include_str!("fixtures/p256.jwk.json");
const EC_B_PKCS8: &str = include_str!("fixtures/p256-b.pkcs8.pem");

const TOKEN_URL: &str = "https://login.example.com/tenant-7/oauth2/v2.0/token";
const CLIENT_ID: &str = "svc-reporting";

fn wall0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_371_943)
}

/// Only an origin: simulated time moves when a test says.
#[allow(clippy::disallowed_methods)]
fn origin() -> Instant {
    Instant::now()
}

fn key_creds(pem: &str) -> ClientCredentials {
    ClientCredentials::with_private_key(CLIENT_ID, PrivateKey::from_pem(pem).unwrap()).unwrap()
}

fn jwt_provider() -> Provider {
    OAuth2::new(TOKEN_URL, ClientAuth::PrivateKeyJwt)
        .unwrap()
        .into()
}

fn source(creds: ClientCredentials, seed: u64) -> TokenSource {
    TokenSource::new(
        jwt_provider(),
        creds,
        "reports.read".parse().unwrap(),
        RefreshPolicy::default(),
        seed,
    )
    .unwrap()
}

/// Decodes `application/x-www-form-urlencoded` (test side, independent of the core's encoder).
fn form(body: &[u8]) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let bytes = s.replace('+', " ").into_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    };
    std::str::from_utf8(body)
        .unwrap()
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap();
            (decode(k), decode(v))
        })
        .collect()
}

fn param(request: &http::Request<Vec<u8>>, name: &str) -> String {
    form(request.body())
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no `{name}` in the form"))
}

struct Jwt {
    header: Value,
    claims: Value,
    signing_input: String,
    signature: Vec<u8>,
}

fn decode(jwt: &str) -> Jwt {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "a compact JWS has three parts: {jwt}");
    let json = |p: &str| serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap();
    Jwt {
        header: json(parts[0]),
        claims: json(parts[1]),
        signing_input: format!("{}.{}", parts[0], parts[1]),
        signature: URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
    }
}

/// Checks the signature with the public JWK only, through the crates' own
/// verifiers (RFC 7518 §3.3 and §3.4).
fn verify(jwk: &Value, jwt: &Jwt) {
    let b64 = |k: &str| URL_SAFE_NO_PAD.decode(jwk[k].as_str().unwrap()).unwrap();
    match jwk["kty"].as_str().unwrap() {
        "RSA" => {
            use rsa::signature::Verifier as _;
            let public = rsa::RsaPublicKey::new(
                rsa::BigUint::from_bytes_be(&b64("n")),
                rsa::BigUint::from_bytes_be(&b64("e")),
            )
            .unwrap();
            let verifier = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(public);
            let signature = rsa::pkcs1v15::Signature::try_from(jwt.signature.as_slice()).unwrap();
            verifier
                .verify(jwt.signing_input.as_bytes(), &signature)
                .expect("the RS256 signature verifies");
        }
        "EC" => {
            use p256::ecdsa::signature::Verifier as _;
            let (x, y) = (b64("x"), b64("y"));
            let point = p256::EncodedPoint::from_affine_coordinates(
                p256::FieldBytes::from_slice(&x),
                p256::FieldBytes::from_slice(&y),
                false,
            );
            let verifier = p256::ecdsa::VerifyingKey::from_encoded_point(&point).unwrap();
            assert_eq!(jwt.signature.len(), 64, "ES256 is r || s, 64 bytes");
            let signature = p256::ecdsa::Signature::from_slice(&jwt.signature).unwrap();
            verifier
                .verify(jwt.signing_input.as_bytes(), &signature)
                .expect("the ES256 signature verifies");
        }
        other => panic!("unexpected kty {other}"),
    }
}

fn transmit(source: &mut TokenSource, wall: SystemTime) -> Transmit {
    source.poll_transmit(wall).expect("a token request")
}

fn ok(expires_in: u64) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(200)
        .body(
            format!(r#"{{"access_token":"tok-{expires_in}","token_type":"Bearer","expires_in":{expires_in}}}"#)
                .into_bytes(),
        )
        .unwrap()
}

/// The whole request, as a private_key_jwt server reads it.
fn check_request(t: &Transmit, key: &PrivateKey, wall: SystemTime) -> Jwt {
    let r = &t.request;
    assert_eq!(r.method(), "POST");
    assert_eq!(r.uri(), TOKEN_URL);
    assert_eq!(
        r.headers()["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert!(
        r.headers().get("authorization").is_none(),
        "no Basic header with an assertion"
    );
    let names: Vec<String> = form(r.body()).into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        names,
        [
            "grant_type",
            "client_id",
            "client_assertion_type",
            "client_assertion",
            "scope"
        ]
    );
    assert_eq!(param(r, "grant_type"), "client_credentials");
    assert_eq!(param(r, "client_id"), CLIENT_ID);
    assert_eq!(param(r, "client_assertion_type"), ASSERTION_TYPE);
    assert_eq!(param(r, "scope"), "reports.read");

    let jwt = decode(&param(r, "client_assertion"));
    let mut expected_header = serde_json::json!({ "alg": key.algorithm(), "typ": "JWT" });
    if let Some(kid) = key.key_id() {
        expected_header["kid"] = kid.into();
    }
    assert_eq!(jwt.header, expected_header);
    let iat = wall.duration_since(UNIX_EPOCH).unwrap().as_secs();
    let c = &jwt.claims;
    assert_eq!(c["iss"], CLIENT_ID);
    assert_eq!(c["sub"], CLIENT_ID);
    assert_eq!(c["aud"], TOKEN_URL, "aud is the token URL as configured");
    assert_eq!(c["iat"], iat, "iat is the wall time given to poll_transmit");
    assert_eq!(c["exp"], iat + 120, "exp is two minutes after iat");
    let jti = c["jti"].as_str().unwrap();
    assert_eq!(jti.len(), 32, "128 bits in hex: {jti}");
    assert!(jti.bytes().all(|b| b.is_ascii_hexdigit()), "{jti}");
    assert_eq!(
        c.as_object().unwrap().len(),
        6,
        "no claim beyond iss, sub, aud, iat, exp, jti: {c}"
    );
    verify(&key.public_jwk(), &jwt);
    jwt
}

/// Two fetches in a row (the first, then the refresh): each request is
/// signed when polled, with its own wall time and a new jti.
fn two_fetches(pem: &str, seed: u64) {
    let key = PrivateKey::from_pem(pem).unwrap().with_key_id("k-2026");
    let creds = ClientCredentials::with_private_key(CLIENT_ID, key.clone()).unwrap();
    let mut s = source(creds, seed);
    let now = origin();
    s.handle_demand(now);
    // The request leaves a little after the demand: its iat is when it leaves.
    let first_wall = wall0() + Duration::from_secs(3);
    let t1 = transmit(&mut s, first_wall);
    assert!(
        s.poll_transmit(first_wall).is_none(),
        "one request per fetch"
    );
    let first = check_request(&t1, &key, first_wall);
    s.handle_response(t1.id, ok(3600), now, first_wall);
    assert!(matches!(s.poll_event(), Some(Event::TokenReady(_))));

    let refresh = s.poll_timeout().expect("a refresh is scheduled");
    s.handle_timeout(refresh);
    let second_wall = wall0() + (refresh - now) + Duration::from_secs(3);
    let t2 = transmit(&mut s, second_wall);
    let second = check_request(&t2, &key, second_wall);
    assert_ne!(first.claims["jti"], second.claims["jti"]);
    assert_ne!(first.claims["iat"], second.claims["iat"]);
}

#[test]
fn es256_assertions_verify_and_are_new_for_every_request() {
    two_fetches(EC_PKCS8, 1);
}

#[test]
fn rs256_assertions_verify_and_are_new_for_every_request() {
    two_fetches(RSA_PKCS8, 2);
}

#[test]
fn a_retry_after_a_transport_error_carries_a_new_assertion() {
    let key = PrivateKey::from_pem(EC_SEC1).unwrap();
    let mut s = source(key_creds(EC_SEC1), 3);
    let now = origin();
    s.handle_demand(now);
    let t1 = transmit(&mut s, wall0());
    let a1 = check_request(&t1, &key, wall0());
    s.handle_transport_error(t1.id, TransportErrorKind::Reset, "reset", now);
    let retry = s.poll_timeout().expect("a backoff end");
    s.handle_timeout(retry);
    let wall = wall0() + (retry - now);
    let t2 = transmit(&mut s, wall);
    let a2 = check_request(&t2, &key, wall);
    assert_ne!(a1.claims["jti"], a2.claims["jti"]);
}

#[test]
fn jtis_differ_between_machines_with_the_same_seed() {
    let mut jtis = Vec::new();
    for _ in 0..3 {
        let mut s = source(key_creds(EC_PKCS8), 42);
        s.handle_demand(origin());
        let t = transmit(&mut s, wall0());
        jtis.push(decode(&param(&t.request, "client_assertion")).claims["jti"].clone());
    }
    assert_ne!(jtis[0], jtis[1]);
    assert_ne!(jtis[1], jtis[2]);
    assert_ne!(jtis[0], jtis[2]);
}

#[test]
fn the_audience_is_the_url_as_configured_or_as_overridden() {
    // No path: `http::Uri` would print a trailing slash; the aud keeps the
    // URL as written.
    let key = PrivateKey::from_pem(EC_PKCS8).unwrap();
    let creds = ClientCredentials::with_private_key(CLIENT_ID, key).unwrap();
    let input = AssertionInput {
        wall: wall0(),
        jti: "0123",
    };
    let bare = OAuth2::new("https://tenant.example.com", ClientAuth::PrivateKeyJwt).unwrap();
    let r = bare
        .token_request_at(&creds, &Scopes::empty(), input)
        .unwrap();
    let jwt = decode(&param(&r, "client_assertion"));
    assert_eq!(jwt.claims["aud"], "https://tenant.example.com");
    assert_eq!(jwt.claims["jti"], "0123");
    assert_eq!(bare.assertion_audience(), "https://tenant.example.com");

    let auth0 = OAuth2::new(
        "https://tenant.example.com/oauth/token",
        ClientAuth::PrivateKeyJwt,
    )
    .unwrap()
    .with_assertion_audience("https://tenant.example.com/")
    .unwrap();
    let r = auth0
        .token_request_at(&creds, &Scopes::empty(), input)
        .unwrap();
    assert_eq!(
        decode(&param(&r, "client_assertion")).claims["aud"],
        "https://tenant.example.com/"
    );
    assert!(auth0.with_assertion_audience("").is_err());
}

#[test]
fn the_three_pem_labels_and_the_jwk_read_the_same_keys() {
    let rsa = [RSA_PKCS8, RSA_PKCS1].map(|pem| PrivateKey::from_pem(pem).unwrap().public_jwk());
    assert_eq!(rsa[0], rsa[1]);
    let rsa_jwk = PrivateKey::from_jwk(RSA_JWK).unwrap();
    assert_eq!(rsa_jwk.algorithm(), "RS256");
    assert_eq!(
        rsa_jwk.key_id(),
        Some("test-rsa-1"),
        "kid taken from the JWK"
    );
    let mut without_kid = rsa_jwk.public_jwk();
    without_kid.as_object_mut().unwrap().remove("kid");
    assert_eq!(without_kid, rsa[0]);
    assert_eq!(rsa[0]["alg"], "RS256");
    assert_eq!(rsa[0]["use"], "sig");
    assert!(rsa[0].get("d").is_none() && rsa[0].get("p").is_none());

    let ec = [EC_PKCS8, EC_SEC1].map(|pem| PrivateKey::from_pem(pem).unwrap().public_jwk());
    assert_eq!(ec[0], ec[1]);
    let ec_jwk = PrivateKey::from_jwk(EC_JWK).unwrap();
    assert_eq!(ec_jwk.algorithm(), "ES256");
    assert_eq!(ec_jwk.key_id(), Some("test-ec-1"));
    let fixture: Value = serde_json::from_str(EC_JWK).unwrap();
    let public = ec_jwk.public_jwk();
    for k in ["kty", "crv", "x", "y", "kid"] {
        assert_eq!(public[k], fixture[k], "{k}");
    }
    assert!(public.get("d").is_none());
    assert_eq!(ec[0]["x"], fixture["x"]);

    // An RSA JWK without p and q: the primes are recovered.
    let mut no_primes: Value = serde_json::from_str(RSA_JWK).unwrap();
    for k in ["p", "q", "dp", "dq", "qi"] {
        no_primes.as_object_mut().unwrap().remove(k);
    }
    let recovered = PrivateKey::from_jwk(&no_primes.to_string()).unwrap();
    assert_eq!(recovered.public_jwk()["n"], rsa[0]["n"]);

    // A JWK Set of one key, a key after a certificate, `with_key_id`.
    let set = format!(r#"{{"keys":[{EC_JWK}]}}"#);
    assert_eq!(
        PrivateKey::from_jwk(&set).unwrap().public_jwk()["x"],
        fixture["x"]
    );
    let bundle =
        format!("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n{EC_PKCS8}");
    let k = PrivateKey::from_pem(&bundle).unwrap().with_key_id("a");
    assert_eq!(k.public_jwk()["kid"], "a");
    assert_eq!(k.with_key_id("").key_id(), None);
}

/// The error's message, with the key material checked absent.
fn refused(result: Result<PrivateKey, Error>, input: &str) -> String {
    let e = result.expect_err("refused");
    assert!(matches!(e, Error::InvalidConfig(_)), "{e:?}");
    let text = format!("{e} {e:?}");
    // Base64 lines of the key (not the boundaries, not `Proc-Type:` headers).
    let body = |l: &&str| l.len() > 20 && !l.starts_with("-----") && !l.contains(':');
    for line in input.lines().filter(body) {
        assert!(!text.contains(line), "the error quotes the key: {text}");
    }
    text
}

#[test]
fn unusable_pems_are_refused_with_what_to_do() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "p256.encrypted.pem",
            include_str!("fixtures/p256.encrypted.pem"),
            &["encrypted", "openssl pkcs8"],
        ),
        (
            "rsa2048.pkcs1.encrypted.pem",
            include_str!("fixtures/rsa2048.pkcs1.encrypted.pem"),
            &["encrypted", "openssl rsa"],
        ),
        (
            "rsa1024.pkcs8.pem",
            include_str!("fixtures/rsa1024.pkcs8.pem"),
            &["1024 bits", "at least 2048"],
        ),
        (
            "p384.pkcs8.pem",
            include_str!("fixtures/p384.pkcs8.pem"),
            &["P-384", "P-256"],
        ),
        (
            "p384.sec1.pem",
            include_str!("fixtures/p384.sec1.pem"),
            &["P-384", "P-256"],
        ),
        (
            "ed25519.pkcs8.pem",
            include_str!("fixtures/ed25519.pkcs8.pem"),
            &["Ed25519", "ES256"],
        ),
        (
            "p256.public.pem",
            include_str!("fixtures/p256.public.pem"),
            &["`PUBLIC KEY`", "not a private key"],
        ),
        (
            "OpenSSH",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB\n-----END OPENSSH PRIVATE KEY-----\n",
            &["`OPENSSH PRIVATE KEY`", "openssl pkcs8 -topk8"],
        ),
        ("not PEM", "hello", &["not PEM"]),
        ("a JWK", EC_JWK, &["PrivateKey::from_jwk"]),
        (
            "corrupt base64",
            "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
            &["cannot be decoded"],
        ),
        (
            "truncated",
            "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n",
            &["cannot be decoded"],
        ),
        (
            "control characters in the label",
            "-----BEGIN \u{1b}[2J PRIVATE KEY-----\nAA\n-----END \u{1b}[2J PRIVATE KEY-----",
            &["\\u{1b}"],
        ),
    ];
    for (name, pem, words) in cases {
        let text = refused(PrivateKey::from_pem(pem), pem);
        for w in *words {
            assert!(text.contains(w), "{name}: `{w}` missing from: {text}");
        }
        assert!(!text.contains('\u{1b}'), "{name}: {text}");
    }
}

#[test]
fn unusable_jwks_are_refused_with_what_to_do() {
    let ec: Value = serde_json::from_str(EC_JWK).unwrap();
    let with = |k: &str, v: Value| {
        let mut j = ec.clone();
        j[k] = v;
        j.to_string()
    };
    let without = |k: &str| {
        let mut j = ec.clone();
        j.as_object_mut().unwrap().remove(k);
        j.to_string()
    };
    let other_x = {
        let k = PrivateKey::from_pem(EC_B_PKCS8).unwrap();
        k.public_jwk()["x"].clone()
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("public only", without("d"), "public key (no `d`)"),
        ("no kty", without("kty"), "no `kty`"),
        (
            "symmetric",
            r#"{"kty":"oct","k":"c2VjcmV0"}"#.into(),
            "symmetric",
        ),
        ("okp", r#"{"kty":"OKP","crv":"Ed25519"}"#.into(), "`OKP`"),
        ("P-384", with("crv", "P-384".into()), "`P-384`"),
        (
            "alg mismatch",
            with("alg", "ES384".into()),
            "marked for `ES384`",
        ),
        ("encryption key", with("use", "enc".into()), "`enc`"),
        ("x of another key", with("x", other_x), "does not belong"),
        (
            "d not base64url",
            with("d", "***".into()),
            "`d` is not base64url",
        ),
        ("d too short", with("d", "AAAA".into()), "3 bytes"),
        ("not JSON", "{\"kty\":".into(), "not JSON"),
        ("not an object", "[1]".into(), "not a JSON object"),
        (
            "two keys",
            format!(r#"{{"keys":[{EC_JWK},{EC_JWK}]}}"#),
            "holds 2 keys",
        ),
    ];
    for (name, jwk, word) in cases {
        let text = refused(PrivateKey::from_jwk(&jwk), "");
        assert!(text.contains(word), "{name}: `{word}` missing from: {text}");
        let d = ec["d"].as_str().unwrap();
        assert!(!text.contains(d), "{name}: the error quotes d");
    }
    let rsa: Value = serde_json::from_str(RSA_JWK).unwrap();
    let mut half = rsa.clone();
    half.as_object_mut().unwrap().remove("q");
    let text = refused(PrivateKey::from_jwk(&half.to_string()), "");
    assert!(text.contains("only one of `p` and `q`"), "{text}");
    let mut pss = rsa.clone();
    pss["alg"] = "PS256".into();
    let text = refused(PrivateKey::from_jwk(&pss.to_string()), "");
    assert!(text.contains("`PS256`") && text.contains("RS256"), "{text}");
}

#[test]
fn debug_and_errors_show_no_key_material() {
    let ec: Value = serde_json::from_str(EC_JWK).unwrap();
    let rsa: Value = serde_json::from_str(RSA_JWK).unwrap();
    let private_parts: Vec<String> = [
        ec["d"].as_str(),
        rsa["d"].as_str(),
        rsa["p"].as_str(),
        rsa["q"].as_str(),
    ]
    .into_iter()
    .flatten()
    .map(|s| s[..24].to_owned())
    .collect();
    let pem_lines: Vec<&str> = [RSA_PKCS8, EC_PKCS8, EC_SEC1, RSA_PKCS1]
        .iter()
        .flat_map(|p| p.lines())
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let check = |what: &str, text: &str| {
        for part in &private_parts {
            assert!(
                !text.contains(part.as_str()),
                "{what} shows key material: {text}"
            );
        }
        for line in &pem_lines {
            assert!(!text.contains(line), "{what} shows a PEM line: {text}");
        }
    };

    for (pem, alg) in [(RSA_PKCS8, "RS256"), (EC_PKCS8, "ES256")] {
        let key = PrivateKey::from_pem(pem).unwrap().with_key_id("kid-1");
        let d = format!("{key:?}");
        assert!(
            d.contains(alg) && d.contains("kid-1") && d.contains("[redacted]"),
            "{d}"
        );
        check("PrivateKey", &d);
        check("PrivateKey {:#?}", &format!("{key:#?}"));
        let creds = ClientCredentials::with_private_key(CLIENT_ID, key).unwrap();
        let d = format!("{creds:?}");
        assert!(d.contains(CLIENT_ID), "{d}");
        check("ClientCredentials", &d);

        // A machine with a request in flight holds the key and the
        // assertion sent: neither shows.
        let mut s = source(creds, 9);
        s.handle_demand(origin());
        let t = transmit(&mut s, wall0());
        let assertion = param(&t.request, "client_assertion");
        let signature = assertion.rsplit('.').next().unwrap().to_owned();
        for shown in [format!("{s:?}"), format!("{t:?}")] {
            check("TokenSource", &shown);
            assert!(!shown.contains(&signature), "the assertion shows: {shown}");
        }
    }
    for jwk in [RSA_JWK, EC_JWK] {
        check(
            "from_jwk",
            &format!("{:?}", PrivateKey::from_jwk(jwk).unwrap()),
        );
    }
    let key = PrivateKey::from_pem(EC_PKCS8).unwrap();
    let a = key
        .client_assertion(CLIENT_ID, TOKEN_URL, wall0(), "x")
        .unwrap();
    assert_eq!(format!("{a:?}"), "[redacted]");
}

#[test]
fn an_echo_of_the_assertion_is_cut_from_errors() {
    let mut s = source(key_creds(EC_PKCS8), 11);
    let now = origin();
    s.handle_demand(now);
    let t = transmit(&mut s, wall0());
    let assertion = param(&t.request, "client_assertion");
    let signature = assertion.rsplit('.').next().unwrap().to_owned();
    let echo = serde_json::json!({
        "error": "invalid_client",
        "error_description": format!("assertion {assertion} was replayed"),
        "request": format!("client_assertion={assertion}"),
    });
    let response = http::Response::builder()
        .status(401)
        .body(echo.to_string().into_bytes())
        .unwrap();
    s.handle_response(t.id, response, now, wall0());
    let Some(Event::Failed(e)) = s.poll_event() else {
        panic!("a failure")
    };
    let shown = format!("{e} {e:?}");
    assert!(shown.contains("invalid_client"), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
    assert!(
        !shown.contains(&signature),
        "the assertion is echoed: {shown}"
    );

    // A transport error that quotes the request, and a 5xx body.
    let later = now + Duration::from_secs(3600);
    s.handle_demand(later);
    s.handle_timeout(later);
    let t = transmit(&mut s, wall0() + Duration::from_secs(3600));
    let assertion = param(&t.request, "client_assertion");
    let signature = assertion.rsplit('.').next().unwrap().to_owned();
    s.handle_transport_error(
        t.id,
        TransportErrorKind::Other,
        &format!("could not send client_assertion={assertion}"),
        later,
    );
    let e = s.last_error().unwrap().clone();
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains(&signature), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
}

#[test]
fn a_request_that_cannot_be_signed_fails_as_an_event() {
    let mut s = source(key_creds(EC_PKCS8), 12);
    let now = origin();
    s.handle_demand(now);
    let before_1970 = UNIX_EPOCH - Duration::from_secs(1);
    assert!(s.poll_transmit(before_1970).is_none());
    let Some(Event::Failed(e)) = s.poll_event() else {
        panic!("a failure event")
    };
    assert!(e.to_string().contains("before 1970"), "{e}");
    assert_ne!(s.phase(now), auth_core::Phase::Fetching);
    // Not stuck in flight: once the failure's cooldown is over, a demand
    // sends a request again (a request left in flight would block it).
    let later = now + Duration::from_secs(3600);
    s.handle_timeout(later);
    s.handle_demand(later);
    assert!(s
        .poll_transmit(wall0() + Duration::from_secs(3600))
        .is_some());
}

#[test]
fn a_different_key_is_a_different_cache_entry() {
    let fk = FingerprintKey::new([5; 32]);
    let key_of = |creds: ClientCredentials| source(creds, 1).cache_key(&fk);
    let a = key_of(key_creds(EC_PKCS8));
    assert_eq!(a, key_of(key_creds(EC_SEC1)), "same key, another encoding");
    assert_eq!(
        a,
        key_of(
            ClientCredentials::with_private_key(
                CLIENT_ID,
                PrivateKey::from_pem(EC_PKCS8).unwrap().with_key_id("other")
            )
            .unwrap()
        ),
        "the kid names the key; it does not change the client"
    );
    assert_ne!(a, key_of(key_creds(EC_B_PKCS8)), "another P-256 key");
    assert_ne!(a, key_of(key_creds(RSA_PKCS8)), "an RSA key");
    assert_eq!(key_of(key_creds(RSA_PKCS8)), key_of(key_creds(RSA_PKCS1)));
    // The same client id with a secret, under a secret dialect.
    let secret = TokenSource::new(
        OAuth2::new(TOKEN_URL, ClientAuth::Basic).unwrap().into(),
        ClientCredentials::new(CLIENT_ID, "s3cret").unwrap(),
        "reports.read".parse().unwrap(),
        RefreshPolicy::default(),
        1,
    )
    .unwrap();
    assert_ne!(a, secret.cache_key(&fk));
}

#[test]
fn wrong_pairings_are_refused_before_any_request() {
    let new = |provider: Provider, creds: ClientCredentials| {
        TokenSource::new(
            provider,
            creds,
            Scopes::empty(),
            RefreshPolicy::default(),
            1,
        )
        .map(drop)
    };
    let secret = || ClientCredentials::new(CLIENT_ID, "s3cret").unwrap();
    let key = || key_creds(EC_PKCS8);
    let cases: Vec<(Provider, ClientCredentials, &[&str])> = vec![
        (
            jwt_provider(),
            secret(),
            &["private_key_jwt needs", "client secret"],
        ),
        (
            OAuth2::new(TOKEN_URL, ClientAuth::Basic).unwrap().into(),
            key(),
            &[
                "client_secret_basic sends a client secret",
                "private_key_jwt",
            ],
        ),
        (
            OAuth2::new(TOKEN_URL, ClientAuth::Post).unwrap().into(),
            key(),
            &["client_secret_post sends a client secret"],
        ),
        (
            Openverse::with_base("https://api.example.org")
                .unwrap()
                .into(),
            key(),
            &["Openverse", "client secret only"],
        ),
        (
            Markable::with_base("https://auth.example.org")
                .unwrap()
                .into(),
            key(),
            &["Markable", "client secret only"],
        ),
    ];
    for (provider, creds, words) in cases {
        let kind = provider.kind();
        let e = new(provider.clone(), creds.clone()).unwrap_err();
        assert!(matches!(e, Error::InvalidConfig(_)), "{kind}: {e:?}");
        for w in words {
            assert!(e.to_string().contains(w), "{kind}: `{w}` missing: {e}");
        }
        assert_eq!(provider.check_credentials(&creds), Err(e.clone()));
        let input = AssertionInput {
            wall: wall0(),
            jti: "1",
        };
        assert_eq!(
            provider
                .token_request_at(&creds, &Scopes::empty(), input)
                .unwrap_err(),
            e
        );
    }
    // The right pairings build; token_request without a time is misuse.
    let p = jwt_provider();
    assert!(matches!(
        p.token_request(&key(), &Scopes::empty()),
        Err(Error::Misuse(_))
    ));
    assert!(p.check_credentials(&key()).is_ok());

    // Credentials swapped for the wrong kind on a running machine: the
    // next fetch fails with the same error, as an event.
    let mut s = source(key(), 13);
    s.handle_credentials(secret());
    s.handle_demand(origin());
    assert!(s.poll_transmit(wall0()).is_none());
    let Some(Event::Failed(e)) = s.poll_event() else {
        panic!("a failure")
    };
    assert!(e.to_string().contains("private_key_jwt needs"), "{e}");
}

#[test]
fn the_method_names_match_rfc_8414() {
    assert_eq!(ClientAuth::PrivateKeyJwt.as_str(), "private_key_jwt");
    assert_eq!(ClientAuth::Basic.as_str(), "client_secret_basic");
    assert_eq!(ClientAuth::Post.as_str(), "client_secret_post");
}
