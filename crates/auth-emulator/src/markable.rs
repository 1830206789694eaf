//! Markable Lens: client authorization in a JSON envelope (`seeds/002_*`),
//! a search endpoint any client token may call and a write endpoint that a
//! publishable `search` token may not.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::config::Scheme;
use crate::reply::Reply;
use crate::server::RequestView;
use crate::state::{wall_clock_after, BearerCheck, Shared, State};
use crate::wire::{self, Authorization};

/// The scopes the Lens API knows.
const SCOPES: [&str; 2] = ["default", "search"];

pub(crate) fn authorize(shared: &Shared, req: &RequestView<'_>) -> Reply {
    let bad = |d: &str| Reply::jsonapi_error(StatusCode::BAD_REQUEST, d);
    let Ok(body) = serde_json::from_slice::<Value>(req.body) else {
        return bad("Request body must be a JSON document");
    };
    let Some(data) = body.get("data").and_then(Value::as_object) else {
        return bad("Request body must have a \"data\" object");
    };
    let (Some(client_id), Some(secret)) = (
        data.get("client_id").and_then(Value::as_str),
        data.get("client_secret").and_then(Value::as_str),
    ) else {
        return bad("data.client_id and data.client_secret are required strings");
    };
    // The seed lists scope as an attribute without marking it required.
    let scope = match data.get("scope") {
        None | Some(Value::Null) => "default",
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return bad("data.scope must be a string"),
    };
    if !SCOPES.contains(&scope) {
        return bad(&format!(
            "Unknown scope \"{scope}\"; expected \"default\" or \"search\""
        ));
    }

    let mut st = shared.lock();
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
        json!({
            "access_token": token,
            "scope": scope,
            "client_id": client_id,
            "expires_at": wire::iso8601_utc(wall_clock_after(lifetime)),
        })
    };
    Reply::ok(json!({ "data": data })).no_store()
}

/// The scope of a valid Markable bearer token, or the JSON:API 401.
fn token_scope(st: &State, req: &RequestView<'_>) -> Result<String, Box<Reply>> {
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
        BearerCheck::Valid(record, _) => Ok(record.scopes.join(" ")),
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
    let st = shared.lock();
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
    match token_scope(&st, req) {
        Err(reply) => *reply,
        Ok(scope) if scope != "default" => Reply::jsonapi_error(
            StatusCode::FORBIDDEN,
            "A search-scoped token may only be used for search",
        ),
        Ok(_) => {
            let name = serde_json::from_slice::<Value>(req.body)
                .ok()
                .and_then(|v| {
                    v.pointer("/data/attributes/name")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .unwrap_or_else(|| "catalog".to_owned());
            let id = format!("cat_{}", st.rng.alphanumeric(12));
            Reply::json(
                StatusCode::CREATED,
                json!({ "data": { "id": id, "type": "catalogs", "attributes": { "name": name } } }),
            )
        }
    }
}
