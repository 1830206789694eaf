//! Markable Lens: client authorization in a JSON envelope (`seeds/002_*`) on
//! the authorization host, and on a separate API host (as
//! `catalog.markable.ai` is apart from `auth.markable.ai`) a search endpoint
//! any client token may call and a write endpoint that a publishable
//! `search` token may not.
//!
//! Errors are JSON:API documents. Shapes follow Markable's public API docs:
//! the authorization's `data` carries `user_id, client_id, scope,
//! created_at, type, updated_at, access_token, expires_at`, timestamps in
//! Unix milliseconds.

use std::time::{Instant, SystemTime};

use axum::http::header::RETRY_AFTER;
use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::config::Scheme;
use crate::reply::Reply;
use crate::server::RequestView;
use crate::state::{wall_clock_after, BearerCheck, Shared, State};
use crate::throttle::{wait_secs, Throttle};
use crate::wire::{self, Authorization};

/// The scopes the Lens API knows.
const SCOPES: [&str; 2] = ["default", "search"];

/// Request bodies above this get 413, as a Node body parser's default limit.
pub(crate) const BODY_LIMIT: usize = 100 * 1024;

/// Markable's throttle, per IP and host; `Err` is the 429.
fn throttled(st: &mut State, req: &RequestView<'_>, host: &str) -> Result<(), Box<Reply>> {
    if st.settings.cache_outage {
        return Ok(());
    }
    let throttle = Throttle {
        suffix: "markable",
        rate: st.settings.throttles.markable,
        key: format!("markable_{host}:{}", req.peer.ip()),
    };
    let verdict = st.buckets.check(&[throttle], Instant::now());
    if !verdict.is_refused() {
        return Ok(());
    }
    let wait = wait_secs(&verdict).unwrap_or(60);
    Err(Box::new(
        Reply::jsonapi_error(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too many requests; try again in {wait} seconds"),
        )
        .header(RETRY_AFTER, &wait.to_string()),
    ))
}

/// A stable, Markable-looking user id (24 hex digits) for a client.
fn user_id(client_id: &str) -> String {
    // FNV-1a, twice with different offsets: stable across runs, no crate.
    let hash = |offset: u64| {
        client_id.bytes().fold(offset, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let (a, b) = (hash(0xcbf2_9ce4_8422_2325), hash(0x8422_2325_cbf2_9ce4));
    format!("{a:016x}{:08x}", b >> 32)
}

pub(crate) fn authorize(shared: &Shared, req: &RequestView<'_>) -> Reply {
    let mut st = shared.lock();
    if let Err(reply) = throttled(&mut st, req, "auth") {
        return *reply;
    }
    // Not JSON at all: 400. JSON of the wrong shape: 422.
    let Ok(body) = serde_json::from_slice::<Value>(req.body) else {
        return Reply::jsonapi_error(
            StatusCode::BAD_REQUEST,
            "Request body must be a JSON document",
        );
    };
    let invalid = |d: &str| Reply::jsonapi_error(StatusCode::UNPROCESSABLE_ENTITY, d);
    let Some(data) = body.get("data").and_then(Value::as_object) else {
        return invalid("Request body must have a \"data\" object");
    };
    let (Some(client_id), Some(secret)) = (
        data.get("client_id").and_then(Value::as_str),
        data.get("client_secret").and_then(Value::as_str),
    ) else {
        return invalid("data.client_id and data.client_secret are required strings");
    };
    // The seed lists scope as an attribute without marking it required.
    let scope = match data.get("scope") {
        None | Some(Value::Null) => "default",
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return invalid("data.scope must be a string"),
    };
    if !SCOPES.contains(&scope) {
        return invalid(&format!(
            "Unknown scope \"{scope}\"; expected \"default\" or \"search\""
        ));
    }

    st.count_client_token_request(Scheme::Markable, client_id);
    let allowed = match st.authenticate(Scheme::Markable, client_id, secret) {
        Some(c) if !c.revoked => c.spec.scopes.iter().any(|s| s == scope),
        _ => {
            return Reply::jsonapi_error(StatusCode::UNAUTHORIZED, "Invalid client credentials");
        }
    };
    if !allowed {
        return Reply::jsonapi_error(
            StatusCode::FORBIDDEN,
            &format!("This client may not request the \"{scope}\" scope"),
        );
    }
    let (token, lifetime) = st.issue_token(Scheme::Markable, client_id, vec![scope.to_owned()], 48);
    tracing::info!(client_id = %client_id, scope, "issued markable token");
    let data = if st.settings.markable_minimal_response {
        json!({ "access_token": token })
    } else {
        let now = wire::unix_millis(SystemTime::now());
        json!({
            "user_id": user_id(client_id),
            "client_id": client_id,
            "scope": scope,
            "created_at": now,
            "type": "Token",
            "updated_at": now,
            "access_token": token,
            "expires_at": wire::unix_millis(wall_clock_after(lifetime)),
        })
    };
    Reply::ok(json!({ "data": data })).no_store()
}

/// The scope of a valid Markable bearer token, or the JSON:API 401.
fn token_scope(st: &State, req: &RequestView<'_>) -> Result<(String, String), Box<Reply>> {
    let token = match wire::authorization(req.headers) {
        Authorization::Bearer(t) => t,
        Authorization::None => {
            return Err(Box::new(
                Reply::jsonapi_error(StatusCode::UNAUTHORIZED, "Missing client access token")
                    .header(axum::http::header::WWW_AUTHENTICATE, "Bearer"),
            ))
        }
        _ => {
            return Err(Box::new(
                Reply::jsonapi_error(
                    StatusCode::UNAUTHORIZED,
                    "Authorization header must be \"Bearer <token>\"",
                )
                .header(axum::http::header::WWW_AUTHENTICATE, "Bearer"),
            ))
        }
    };
    match st.bearer(Scheme::Markable, &token) {
        BearerCheck::Valid(record, _) => Ok((record.client_id.clone(), record.scopes.join(" "))),
        BearerCheck::Expired => Err(Box::new(invalid("Client access token has expired"))),
        BearerCheck::Unknown | BearerCheck::Revoked => {
            Err(Box::new(invalid("Client access token is not valid")))
        }
    }
}

fn invalid(detail: &str) -> Reply {
    Reply::jsonapi_error(StatusCode::UNAUTHORIZED, detail).header(
        axum::http::header::WWW_AUTHENTICATE,
        "Bearer error=\"invalid_token\"",
    )
}

pub(crate) fn search(shared: &Shared, req: &RequestView<'_>) -> Reply {
    let mut st = shared.lock();
    if let Err(reply) = throttled(&mut st, req, "api") {
        return *reply;
    }
    if let Err(reply) = token_scope(&st, req) {
        return *reply;
    }
    let q = req.query_param("q").unwrap_or_default();
    let data: Vec<Value> = (1..=2)
        .map(|i| {
            json!({
                "id": format!("prod_{i}"),
                "type": "products",
                "attributes": { "name": format!("{q} {i}"), "score": 1.0 / f64::from(i) },
            })
        })
        .collect();
    Reply::ok(json!({ "data": data }))
}

pub(crate) fn catalogs(shared: &Shared, req: &RequestView<'_>) -> Reply {
    let mut st = shared.lock();
    if let Err(reply) = throttled(&mut st, req, "api") {
        return *reply;
    }
    match token_scope(&st, req) {
        Err(reply) => *reply,
        Ok((_, scope)) if scope != "default" => Reply::jsonapi_error(
            StatusCode::FORBIDDEN,
            "A search-scoped token may only be used for search",
        ),
        Ok((client_id, _)) => {
            let named = serde_json::from_slice::<Value>(req.body)
                .ok()
                .and_then(|v| {
                    v.pointer("/data/attributes/name")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                });
            if let Some(name) = &named {
                // A name the client already used: 409 Conflict.
                if !st.catalogs.insert((client_id, name.clone())) {
                    return Reply::jsonapi_error(
                        StatusCode::CONFLICT,
                        &format!("A catalog named \"{name}\" already exists"),
                    );
                }
            }
            let name = named.unwrap_or_else(|| "catalog".to_owned());
            let id = format!("cat_{}", st.rng.alphanumeric(12));
            Reply::json(
                StatusCode::CREATED,
                json!({ "data": { "id": id, "type": "catalogs", "attributes": { "name": name } } }),
            )
        }
    }
}
