//! Authorization server metadata: RFC 8414 §3 at
//! `/.well-known/oauth-authorization-server`, OpenID Connect Discovery §4 at
//! `/.well-known/openid-configuration`. Both documents describe the OAuth 2.0
//! server at `/oauth2/token`; [`DiscoveryDocs`] says which are served (the
//! others answer Django's 404 page, like any unknown URL here).

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::config::{DiscoveryDocs, Scheme};
use crate::fault::Endpoint;
use crate::oauth2::TOKEN_PATH;
use crate::reply::Reply;
use crate::state::Shared;

/// The document at `endpoint`'s URL, or a 404 when the switch turns it off.
pub(crate) fn document(shared: &Shared, endpoint: Endpoint) -> Reply {
    let st = shared.lock();
    let switch: DiscoveryDocs = st.settings.discovery;
    let served = match endpoint {
        Endpoint::Oauth2Metadata => switch.serves_oauth(),
        Endpoint::OpenidConfiguration => switch.serves_oidc(),
        _ => false,
    };
    if !served {
        return Reply::django_404();
    }
    let methods = st.settings.oauth2_methods;
    let mut auth_methods: Vec<&str> = Vec::new();
    if methods.basic {
        auth_methods.push("client_secret_basic");
    }
    if methods.post {
        auth_methods.push("client_secret_post");
    }
    // Always on: a client with a registered key has no other way in.
    auth_methods.push("private_key_jwt");
    // Every scope some OAuth 2.0 client may ask for, sorted.
    let scopes: BTreeSet<&str> = st
        .clients
        .values()
        .filter(|c| c.spec.scheme == Scheme::Oauth2 && !c.revoked)
        .flat_map(|c| c.spec.scopes.iter().map(String::as_str))
        .collect();
    let base = &shared.base_url;
    Reply::ok(metadata(base, &auth_methods, &scopes))
}

fn metadata(base: &str, auth_methods: &[&str], scopes: &BTreeSet<&str>) -> Value {
    json!({
        // RFC 8414 §3.3: exactly the issuer a client asked for, which is
        // the base URL without a trailing slash.
        "issuer": base,
        "token_endpoint": format!("{base}{TOKEN_PATH}"),
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
        "grant_types_supported": ["client_credentials"],
        "scopes_supported": scopes,
        "response_types_supported": ["token"],
    })
}
