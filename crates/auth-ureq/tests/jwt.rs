//! private_key_jwt and discovery through the blocking driver, against the
//! emulator, which verifies every assertion with its own code (signature,
//! `aud`, `exp`, lifetime) and refuses a replayed `jti`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use auth_core::{ClientAuth, ClientCredentials, Error as CoreError, OAuthErrorCode, PrivateKey};
use auth_emulator::{
    demo, BlockingEmulator, ClientSpec, DiscoveryDocs, EmulatorConfig, Endpoint, Scheme,
};
use auth_ureq::{discover, TokenProvider};

/// Test-only keys from auth-core's fixtures (see their README).
const RSA_PEM: &str = include_str!("../../auth-core/tests/fixtures/rsa2048.pkcs8.pem");
const OTHER_P256_PEM: &str = include_str!("../../auth-core/tests/fixtures/p256-b.pkcs8.pem");

fn emulator(discovery: DiscoveryDocs) -> BlockingEmulator {
    BlockingEmulator::start(EmulatorConfig {
        discovery,
        ..EmulatorConfig::default()
    })
    .expect("emulator starts")
}

fn demo_credentials() -> ClientCredentials {
    let key = PrivateKey::from_pem(demo::OAUTH2_JWT_PRIVATE_KEY_PEM)
        .unwrap()
        .with_key_id(demo::OAUTH2_JWT_KEY_ID);
    ClientCredentials::with_private_key(demo::OAUTH2_JWT_CLIENT_ID, key).unwrap()
}

/// Discovers the emulator and builds a provider for `credentials` from
/// the metadata, checking the method it chose.
fn discovered(emu: &BlockingEmulator, credentials: ClientCredentials) -> TokenProvider {
    let metadata = discover(emu.base_url()).unwrap();
    assert_eq!(metadata.issuer(), emu.base_url());
    assert_eq!(metadata.token_endpoint(), emu.url("/oauth2/token"));
    let provider = metadata.provider(&credentials).unwrap();
    assert_eq!(provider.auth(), ClientAuth::PrivateKeyJwt);
    TokenProvider::builder(provider, credentials)
        .build()
        .unwrap()
}

#[test]
fn discovery_then_a_token_then_a_fresh_assertion() {
    let emu = emulator(DiscoveryDocs::Both);
    let p = discovered(&emu, demo_credentials());
    let first = p.token().unwrap();
    assert_eq!(first.granted_scopes().canonical(), "read");
    assert_eq!(
        first.id(),
        p.token().unwrap().id(),
        "the second read is cached"
    );

    // The API refused the token: the next read signs a new assertion (a new
    // jti), which the emulator accepts — it would refuse a replay.
    p.invalidate(&first);
    let second = p.token().unwrap();
    assert_ne!(first.id(), second.id());

    let request = http::Request::get(emu.url("/oauth2/resource"))
        .body(Vec::new())
        .unwrap();
    assert_eq!(p.send(request).unwrap().status(), 200);

    let c = emu.counters();
    assert_eq!(c.requests_to(Endpoint::Oauth2Metadata), 1);
    assert_eq!(c.requests_to(Endpoint::OpenidConfiguration), 0);
    assert_eq!(
        c.token_requests_by(Scheme::Oauth2, demo::OAUTH2_JWT_CLIENT_ID),
        2
    );
    assert_eq!(c.token_requests[&Scheme::Oauth2].issued, 2);
    assert_eq!(c.rejected, 0, "no assertion was refused");
}

#[test]
fn an_rs256_client_works_too() {
    let emu = emulator(DiscoveryDocs::Both);
    let key = PrivateKey::from_pem(RSA_PEM).unwrap();
    emu.add_client(ClientSpec::oauth2_with_key(
        "rsa-client",
        key.public_jwk(),
        &["read", "write"],
        &["read"],
    ))
    .unwrap();
    let credentials = ClientCredentials::with_private_key("rsa-client", key).unwrap();
    let p = discovered(&emu, credentials);
    let t = p.token().unwrap();
    p.invalidate(&t);
    assert_ne!(t.id(), p.token().unwrap().id());
    assert_eq!(
        emu.counters()
            .token_requests_by(Scheme::Oauth2, "rsa-client"),
        2
    );
}

#[test]
fn discovery_falls_back_to_openid_configuration() {
    let emu = emulator(DiscoveryDocs::OidcOnly);
    let p = discovered(&emu, demo_credentials());
    p.token().unwrap();
    let c = emu.counters();
    assert_eq!(
        c.requests_to(Endpoint::Oauth2Metadata),
        1,
        "tried first: 404"
    );
    assert_eq!(c.requests_to(Endpoint::OpenidConfiguration), 1);

    // Neither document: a typed error, after both tries.
    emu.set_discovery(DiscoveryDocs::None);
    let e = discover(emu.base_url()).unwrap_err();
    assert!(
        matches!(e.as_auth(), Some(CoreError::MetadataNotFound { .. })),
        "{e:?}"
    );
    let c = emu.counters();
    assert_eq!(c.requests_to(Endpoint::Oauth2Metadata), 2);
    assert_eq!(c.requests_to(Endpoint::OpenidConfiguration), 2);
}

#[test]
fn a_wrong_key_is_invalid_client_and_nothing_leaks() {
    let emu = emulator(DiscoveryDocs::Both);
    let wrong = PrivateKey::from_pem(OTHER_P256_PEM).unwrap();
    let credentials =
        ClientCredentials::with_private_key(demo::OAUTH2_JWT_CLIENT_ID, wrong).unwrap();
    let p = discovered(&emu, credentials);
    let e = p.token().unwrap_err();
    assert_eq!(
        e.as_auth().and_then(CoreError::oauth_code),
        Some(&OAuthErrorCode::InvalidClient),
        "{e:?}"
    );
    let shown = format!("{e}\n{e:?}");
    assert!(shown.contains("invalid_client"), "{shown}");
    // No key material: no line of either PEM body, no private JWK member.
    for pem in [OTHER_P256_PEM, demo::OAUTH2_JWT_PRIVATE_KEY_PEM] {
        for line in pem.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!shown.contains(line), "key material in: {shown}");
        }
    }
    assert!(!shown.contains("\"d\""), "{shown}");
    // No assertion: a JWS starts with base64url of `{"`.
    assert!(!shown.contains("eyJ"), "an assertion in: {shown}");
    assert_eq!(emu.counters().token_requests[&Scheme::Oauth2].issued, 0);
}
