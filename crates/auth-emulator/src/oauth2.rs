//! A plain RFC 6749 §4.4 client credentials server and a protected resource.
//! Clients authenticate with a secret (`client_secret_basic`,
//! `client_secret_post`, RFC 6749 §2.3.1) or with a signed assertion
//! (`private_key_jwt`, RFC 7523 §2.2; checked in [`crate::jwt`]).

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::header::WWW_AUTHENTICATE;
use axum::http::StatusCode;
use serde_json::json;

use crate::config::Scheme;
use crate::jwt::{self, Jws, RegisteredKey};
use crate::reply::Reply;
use crate::server::RequestView;
use crate::state::{BearerCheck, Shared, State};
use crate::wire::{self, Authorization, WireError};

/// The token endpoint's path; with the base URL, the `aud` an assertion
/// must carry.
pub(crate) const TOKEN_PATH: &str = "/oauth2/token";

pub(crate) fn token(shared: &Shared, req: &RequestView<'_>) -> Reply {
    let token_url = format!("{}{TOKEN_PATH}", shared.base_url);
    let mut st = shared.lock();
    token_inner(&mut st, req, &token_url)
}

/// How the client tried to authenticate.
enum ClientAuth {
    Basic { id: String, secret: String },
    Post { id: String, secret: String },
}

fn token_inner(st: &mut State, req: &RequestView<'_>, token_url: &str) -> Reply {
    let bad = |d: &str| Reply::oauth_error(StatusCode::BAD_REQUEST, "invalid_request", d);
    // §4.4.2: the request uses the form-urlencoded format.
    if wire::media_type(req.headers).as_deref() != Some("application/x-www-form-urlencoded") {
        return bad("content type must be application/x-www-form-urlencoded");
    }
    let form = match wire::parse_form(req.body) {
        Ok(f) => f,
        Err(WireError::Duplicate(p)) => return bad(&format!("parameter {p} repeated")),
        Err(WireError::BadEncoding) => return bad("malformed form body"),
    };
    let Some(grant_type) = wire::form_get(&form, "grant_type") else {
        return bad("grant_type is required");
    };

    let header = wire::authorization(req.headers);
    let used_basic = matches!(
        header,
        Authorization::Basic { .. } | Authorization::Malformed { was_basic: true }
    );
    // §5.2: a client that tried HTTP Basic is told which scheme to use.
    let invalid_client = |d: &str| {
        let reply = Reply::oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", d);
        if used_basic {
            reply.header(WWW_AUTHENTICATE, "Basic realm=\"auth-emulator\"")
        } else {
            reply
        }
    };
    let form_id = wire::form_get(&form, "client_id");
    let form_secret = wire::form_get(&form, "client_secret");
    let assertion_type = wire::form_get(&form, "client_assertion_type");
    let assertion = wire::form_get(&form, "client_assertion");
    if assertion_type.is_some() || assertion.is_some() {
        // RFC 6749 §2.3, RFC 7521 §4.2: one authentication method per request.
        if used_basic || form_secret.is_some() {
            return bad("more than one client authentication method");
        }
        // Every failure is 401 invalid_client (RFC 7521 §4.2.1), described
        // but never quoting the assertion.
        return match assertion_client(st, form_id, assertion_type, assertion, token_url) {
            Ok(id) => grant(st, &form, grant_type, &id),
            Err(why) => Reply::oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", &why),
        };
    }
    let auth = match header {
        Authorization::Basic { id, secret } => {
            // §2.3: a client MUST NOT use more than one method per request.
            if form_secret.is_some() {
                return bad("more than one client authentication method");
            }
            if form_id.is_some_and(|f| f != id) {
                return bad("client_id does not match the Authorization header");
            }
            ClientAuth::Basic { id, secret }
        }
        Authorization::Malformed { was_basic: true } => {
            return invalid_client("malformed Basic credentials");
        }
        _ => match (form_id, form_secret) {
            (Some(id), Some(secret)) => ClientAuth::Post {
                id: id.to_owned(),
                secret: secret.to_owned(),
            },
            _ => return invalid_client("client authentication required"),
        },
    };
    let methods = st.settings.oauth2_methods;
    let (id, secret) = match auth {
        ClientAuth::Basic { .. } if !methods.basic => {
            return invalid_client("client_secret_basic is not enabled")
        }
        ClientAuth::Post { .. } if !methods.post => {
            return invalid_client("client_secret_post is not enabled")
        }
        ClientAuth::Basic { id, secret } | ClientAuth::Post { id, secret } => (id, secret),
    };
    st.count_client_token_request(Scheme::Oauth2, &id);
    if st
        .clients
        .get(&(Scheme::Oauth2, id.clone()))
        .is_some_and(|c| c.spec.public_jwk.is_some())
    {
        return invalid_client(
            "this client authenticates with private_key_jwt (a client_assertion), not a secret",
        );
    }
    match st.authenticate(Scheme::Oauth2, &id, &secret) {
        Some(c) if !c.revoked => grant(st, &form, grant_type, &id),
        _ => invalid_client("client authentication failed"),
    }
}

/// `private_key_jwt`: the client id an assertion proves, or why it proves
/// nothing (see [`crate::jwt`] for the checks). The request is counted for
/// the id it names before anything is trusted, as a secret request is.
fn assertion_client(
    st: &mut State,
    form_id: Option<&str>,
    assertion_type: Option<&str>,
    assertion: Option<&str>,
    token_url: &str,
) -> Result<String, String> {
    let jws = assertion.map(Jws::decode);
    let named = form_id.or_else(|| {
        jws.as_ref()
            .and_then(|j| j.as_ref().ok())
            .and_then(|j| j.client_id().ok())
    });
    st.count_client_token_request(Scheme::Oauth2, named.unwrap_or("<unknown>"));
    match assertion_type {
        Some(jwt::ASSERTION_TYPE) => {}
        Some(_) => {
            return Err(format!(
                "client_assertion_type must be {}",
                jwt::ASSERTION_TYPE
            ))
        }
        None => return Err("client_assertion_type is required with client_assertion".to_owned()),
    }
    let jws = jws.ok_or("client_assertion is required with client_assertion_type")??;
    let id = jws.client_id()?;
    if form_id.is_some_and(|f| f != id) {
        return Err("client_id does not match the assertion's iss and sub".to_owned());
    }
    let key = {
        let client = st
            .clients
            .get(&(Scheme::Oauth2, id.to_owned()))
            .ok_or("unknown client")?;
        if client.revoked {
            return Err("the client is revoked".to_owned());
        }
        let jwk =
            client.spec.public_jwk.as_ref().ok_or(
                "the client has no registered key; it authenticates with its client secret",
            )?;
        RegisteredKey::from_jwk(jwk)
            .map_err(|e| format!("the client's registered key is unusable: {e}"))?
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let verified = jws.verify(&key, token_url, now)?;
    if !st.remember_jti(id, &verified.jti, verified.exp, now) {
        return Err(
            "the assertion's jti was used before: an assertion is good for one request (replay refused)"
                .to_owned(),
        );
    }
    Ok(id.to_owned())
}

/// The grant itself, once the client is authenticated: grant type, the
/// client's permission, scopes, the token.
fn grant(st: &mut State, form: &[(String, String)], grant_type: &str, id: &str) -> Reply {
    let (allowed, defaults, grant_allowed) = match st.clients.get(&(Scheme::Oauth2, id.to_owned()))
    {
        Some(c) => (
            c.spec.scopes.clone(),
            c.spec.default_scopes.clone(),
            c.spec.grant_allowed,
        ),
        None => {
            return Reply::oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed",
            )
        }
    };
    if grant_type != "client_credentials" {
        return Reply::oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only client_credentials is supported",
        );
    }
    if !grant_allowed {
        return Reply::oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "this client may not use the client_credentials grant",
        );
    }
    let requested: Vec<String> = wire::form_get(form, "scope")
        .map(|s| {
            s.split(' ')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let variety = st.settings.oauth2_variety;
    // §3.3: an empty request gets the client's defaults. Anything outside
    // the allowed set is refused, unless the server is set to narrow: then
    // the allowed part is granted (and named, §5.1), if any is left.
    let granted = if requested.is_empty() {
        defaults
    } else if let Some(bad_scope) = requested.iter().find(|s| !allowed.contains(s)) {
        let narrowed: Vec<String> = requested
            .iter()
            .filter(|s| allowed.contains(s))
            .cloned()
            .collect();
        if !variety.narrow_scopes || narrowed.is_empty() {
            return Reply::oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                &format!("scope {bad_scope} is not allowed for this client"),
            );
        }
        narrowed
    } else {
        requested.clone()
    };
    let scope = granted.join(" ");
    // §5.1: `scope` is optional when it is what the client asked for.
    let omit_scope = variety.omit_scope && !requested.is_empty() && granted == requested;
    let (token, lifetime) = st.issue_token(Scheme::Oauth2, id, granted, 40);
    tracing::info!(client_id = %id, scope = %scope, "issued oauth2 token");
    // §7.1: the type is case-insensitive; many servers send `bearer`.
    let token_type = if variety.lowercase_bearer {
        "bearer"
    } else {
        "Bearer"
    };
    let mut body = json!({
        "access_token": token,
        "token_type": token_type,
        "expires_in": lifetime.as_secs(),
        "scope": scope,
    });
    if omit_scope {
        if let Some(map) = body.as_object_mut() {
            map.remove("scope");
        }
    }
    Reply::ok(body).no_store()
}

pub(crate) fn resource(shared: &Shared, req: &RequestView<'_>) -> Reply {
    let st = shared.lock();
    let token = match wire::authorization(req.headers) {
        Authorization::Bearer(t) => t,
        Authorization::None => {
            return Reply::bearer_required(json!({ "error": "invalid_request" }))
        }
        _ => {
            return Reply::bearer_required(json!({
                "error": "invalid_request",
                "error_description": "expected a Bearer token",
            }))
        }
    };
    let (client_id, scopes) = match st.bearer(Scheme::Oauth2, &token) {
        BearerCheck::Valid(record, _) => (record.client_id.clone(), record.scopes.clone()),
        BearerCheck::Unknown | BearerCheck::Expired | BearerCheck::Revoked => {
            return Reply::invalid_token(json!({
                "error": "invalid_token",
                "error_description": "the access token is invalid or expired",
            }))
        }
    };
    // RFC 6750 §3.1: `?require=<scope>` lets tests provoke insufficient_scope.
    if let Some(need) = req.query_param("require") {
        if !scopes.contains(&need) {
            return Reply::json(
                StatusCode::FORBIDDEN,
                json!({ "error": "insufficient_scope", "scope": need }),
            )
            .header(
                WWW_AUTHENTICATE,
                &format!("Bearer error=\"insufficient_scope\", scope=\"{need}\""),
            );
        }
    }
    Reply::ok(json!({ "client_id": client_id, "scope": scopes.join(" ") }))
}
