//! The discovery documents (RFC 8414 §3, OpenID Connect Discovery §4):
//! their exact contents, and the switch that turns each off.

use auth_emulator::{
    ClientSpec, DiscoveryDocs, Emulator, EmulatorConfig, Endpoint, Fault, FaultPlan, OAuth2Methods,
    Scheme,
};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::{emu, emu_with, header, http, json};

const OAUTH: &str = "/.well-known/oauth-authorization-server";
const OIDC: &str = "/.well-known/openid-configuration";

async fn get(emu: &Emulator, path: &str) -> (StatusCode, String, Vec<u8>) {
    let resp = http().get(emu.url(path)).send().await.unwrap();
    let status = resp.status();
    let ctype = header(resp.headers(), "content-type")
        .unwrap_or("")
        .to_owned();
    (status, ctype, resp.bytes().await.unwrap().to_vec())
}

async fn document(emu: &Emulator, path: &str) -> Value {
    let (status, ctype, body) = get(emu, path).await;
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    assert_eq!(ctype, "application/json");
    serde_json::from_slice(&body).unwrap()
}

async fn served(emu: &Emulator) -> (bool, bool) {
    let mut out = [false; 2];
    for (i, path) in [OAUTH, OIDC].into_iter().enumerate() {
        let (status, _, _) = get(emu, path).await;
        assert!(status == 200 || status == 404, "{path}: {status}");
        out[i] = status == 200;
    }
    (out[0], out[1])
}

#[tokio::test]
async fn both_documents_describe_the_oauth2_server() {
    let emu = emu().await;
    let base = emu.base_url();
    let expected = json!({
        "issuer": base,
        "token_endpoint": format!("{base}/oauth2/token"),
        "token_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
        "grant_types_supported": ["client_credentials"],
        "scopes_supported": ["admin", "read", "write"],
        "response_types_supported": ["token"],
    });
    assert_eq!(document(&emu, OAUTH).await, expected);
    assert_eq!(document(&emu, OIDC).await, expected);
    // RFC 8414 §3.3: the issuer is exactly the base URL, no trailing slash.
    assert!(!expected["issuer"].as_str().unwrap().ends_with('/'));

    let c = emu.counters();
    assert_eq!(c.requests_to(Endpoint::Oauth2Metadata), 1);
    assert_eq!(c.requests_to(Endpoint::OpenidConfiguration), 1);
    assert_eq!(c.token_requests_total, 0, "a document is no token request");
}

#[tokio::test]
async fn documents_follow_the_settings() {
    let emu = emu().await;
    emu.set_oauth2_methods(OAuth2Methods {
        basic: false,
        post: true,
    });
    emu.add_client(ClientSpec::oauth2("more", "more-secret", &["billing"], &[]))
        .unwrap();
    let doc = document(&emu, OIDC).await;
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!(["client_secret_post", "private_key_jwt"])
    );
    assert_eq!(
        doc["scopes_supported"],
        json!(["admin", "billing", "read", "write"])
    );
    // Without the demo clients, no scopes.
    let bare = emu_with(EmulatorConfig {
        demo_clients: false,
        ..EmulatorConfig::default()
    })
    .await;
    assert_eq!(document(&bare, OAUTH).await["scopes_supported"], json!([]));
    // A revoked client's scopes are offered no more (and Markable's never were).
    emu.revoke(Scheme::Oauth2, "more").unwrap();
    let doc = document(&emu, OAUTH).await;
    assert_eq!(doc["scopes_supported"], json!(["admin", "read", "write"]));
}

#[tokio::test]
async fn the_switch_turns_documents_off() {
    for (docs, want) in [
        (DiscoveryDocs::Both, (true, true)),
        (DiscoveryDocs::OidcOnly, (false, true)),
        (DiscoveryDocs::OauthOnly, (true, false)),
        (DiscoveryDocs::None, (false, false)),
    ] {
        let emu = emu_with(EmulatorConfig {
            discovery: docs,
            ..EmulatorConfig::default()
        })
        .await;
        assert_eq!(served(&emu).await, want, "{docs:?}");
        // Counted either way.
        assert_eq!(emu.counters().requests_to(Endpoint::Oauth2Metadata), 1);
        // A document switched off is the same 404 as any unknown URL.
        if !want.0 {
            let (_, ctype, body) = get(&emu, OAUTH).await;
            let (_, unknown_ctype, unknown) = get(&emu, "/.well-known/nothing").await;
            assert_eq!((ctype, body), (unknown_ctype, unknown));
        }
    }
}

#[tokio::test]
async fn the_switch_can_change_while_running() {
    let emu = emu().await;
    emu.set_discovery(DiscoveryDocs::OidcOnly);
    assert_eq!(served(&emu).await, (false, true));
    assert_eq!(emu.config().discovery, Some(DiscoveryDocs::OidcOnly));
    // Over the admin API.
    let resp = http()
        .post(emu.url("/_emulator/config"))
        .body(r#"{"discovery":"none"}"#)
        .send()
        .await
        .unwrap();
    let (status, _, body) = json(resp).await;
    assert_eq!(status, 200);
    assert_eq!(body["discovery"], "none");
    assert_eq!(served(&emu).await, (false, false));
    emu.set_discovery(DiscoveryDocs::default());
    assert_eq!(served(&emu).await, (true, true));
}

#[tokio::test]
async fn faults_apply_to_the_documents() {
    let emu = emu().await;
    emu.add_fault(FaultPlan::next(
        Endpoint::OpenidConfiguration,
        Fault::ServerError {
            status: 503,
            retry_after_secs: Some(1),
        },
        1,
    ))
    .unwrap();
    let (status, _, _) = get(&emu, OIDC).await;
    assert_eq!(status, 503);
    let (status, _, _) = get(&emu, OIDC).await;
    assert_eq!(status, 200);
    // A token-shape fault is refused: a document issues no token.
    assert!(emu
        .add_fault(FaultPlan::always(
            Endpoint::Oauth2Metadata,
            Fault::WrongTokenType
        ))
        .is_err());
    assert_eq!(
        serde_json::to_value(Endpoint::Oauth2Metadata).unwrap(),
        "oauth2_metadata"
    );
    assert_eq!(
        serde_json::to_value(Endpoint::OpenidConfiguration).unwrap(),
        "openid_configuration"
    );
}
