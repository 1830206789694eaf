//! `/_emulator/*`: the control surface over HTTP, for the CLI and scripts.
//! Errors are `{"error":"…"}` with status 400 (or 404 for an unknown client).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::{ClientSpec, Scheme};
use crate::control::{ConfigPatch, Control};
use crate::error::EmulatorError;
use crate::fault::FaultPlan;
use crate::state::Shared;

type App = State<Arc<Shared>>;

/// `POST /_emulator/revoke` body.
#[derive(Debug, Serialize, Deserialize)]
struct RevokeRequest {
    scheme: Scheme,
    client_id: String,
}

/// `POST /_emulator/faults` takes one plan or a list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    Many(Vec<FaultPlan>),
    One(FaultPlan),
}

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/counters", get(counters))
        .route("/reset", post(reset))
        .route("/rate_limits/reset", post(reset_rate_limits))
        .route("/faults", get(faults).post(add_faults).delete(clear_faults))
        .route("/outbox", get(outbox))
        .route("/clients", post(add_client))
        .route("/revoke", post(revoke))
        .route("/config", get(config).post(apply_config))
        .route("/expire_tokens", post(expire_tokens))
}

fn control(State(shared): App) -> Control {
    Control::new(shared)
}

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

fn from_error(e: EmulatorError) -> Response {
    let status = match e {
        EmulatorError::UnknownClient { .. } => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    };
    error(status, e.to_string())
}

/// Reads JSON whatever the `Content-Type`, so `curl -d` works as is.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Box<Response>> {
    serde_json::from_slice(body)
        .map_err(|e| Box::new(error(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}"))))
}

async fn counters(app: App) -> Response {
    Json(control(app).counters()).into_response()
}

async fn reset(app: App) -> StatusCode {
    control(app).reset();
    StatusCode::NO_CONTENT
}

async fn reset_rate_limits(app: App) -> StatusCode {
    control(app).reset_rate_limits();
    StatusCode::NO_CONTENT
}

async fn faults(app: App) -> Response {
    Json(control(app).faults()).into_response()
}

async fn add_faults(app: App, body: Bytes) -> Response {
    let plans = match parse::<OneOrMany>(&body) {
        Ok(OneOrMany::Many(p)) => p,
        Ok(OneOrMany::One(p)) => vec![p],
        Err(r) => return *r,
    };
    // Validate all first so a bad list changes nothing.
    if let Some(e) = plans.iter().find_map(|p| p.validate().err()) {
        return from_error(e);
    }
    let control = control(app);
    for plan in plans {
        if let Err(e) = control.add_fault(plan) {
            return from_error(e);
        }
    }
    (StatusCode::CREATED, Json(control.faults())).into_response()
}

async fn clear_faults(app: App) -> StatusCode {
    control(app).clear_faults();
    StatusCode::NO_CONTENT
}

async fn outbox(app: App) -> Response {
    Json(control(app).outbox()).into_response()
}

async fn add_client(app: App, body: Bytes) -> Response {
    let spec = match parse::<ClientSpec>(&body) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let client_id = spec.client_id.clone();
    let scheme = spec.scheme;
    match control(app).add_client(spec) {
        Ok(()) => (
            StatusCode::CREATED,
            Json(json!({ "scheme": scheme, "client_id": client_id })),
        )
            .into_response(),
        Err(e) => from_error(e),
    }
}

async fn revoke(app: App, body: Bytes) -> Response {
    let req = match parse::<RevokeRequest>(&body) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    match control(app).revoke(req.scheme, &req.client_id) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => from_error(e),
    }
}

async fn config(app: App) -> Response {
    Json(control(app).config()).into_response()
}

async fn apply_config(app: App, body: Bytes) -> Response {
    let patch = match parse::<ConfigPatch>(&body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let control = control(app);
    match control.apply(&patch) {
        Ok(()) => Json(control.config()).into_response(),
        Err(e) => from_error(e),
    }
}

async fn expire_tokens(app: App) -> StatusCode {
    control(app).expire_tokens();
    StatusCode::NO_CONTENT
}
