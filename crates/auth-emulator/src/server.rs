//! Routing, the per-request pipeline (count → latency → fault → handler →
//! shape), and binding.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::config::{EmulatorConfig, Scheme};
use crate::conn::{ConnHandle, EmuListener};
use crate::error::EmulatorError;
use crate::fault::{Endpoint, Fault};
use crate::reply::Reply;
use crate::state::Shared;
use crate::{admin, markable, oauth2, openverse, wire};

/// Request bodies above this are refused; real token requests are tiny.
const MAX_BODY: usize = 1024 * 1024;
/// [`Fault::HugeBody`] sends a little more than this.
pub(crate) const HUGE_BODY_LEN: usize = 10 * 1024 * 1024;

/// The parts of a request the endpoint handlers read.
pub(crate) struct RequestView<'a> {
    pub(crate) parts: &'a Parts,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a [u8],
    pub(crate) peer: SocketAddr,
}

impl RequestView<'_> {
    pub(crate) fn path(&self) -> &str {
        self.parts.uri.path()
    }

    /// A decoded query parameter; an unreadable query counts as absent.
    pub(crate) fn query_param(&self, name: &str) -> Option<String> {
        let query = self.parts.uri.query()?;
        let form = wire::parse_form(query.as_bytes()).ok()?;
        wire::form_get(&form, name).map(str::to_owned)
    }
}

/// Checks the config and opens the loopback listener.
pub(crate) async fn bind(
    config: &EmulatorConfig,
) -> Result<(TcpListener, Arc<Shared>), EmulatorError> {
    if !config.addr.ip().is_loopback() {
        return Err(EmulatorError::NonLoopback(config.addr));
    }
    for scheme in Scheme::ALL {
        crate::control::check_lifetime(config.lifetimes.get(scheme))?;
    }
    let listener = TcpListener::bind(config.addr)
        .await
        .map_err(|source| EmulatorError::Bind {
            addr: config.addr,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| EmulatorError::Bind {
            addr: config.addr,
            source,
        })?;
    let shared = Arc::new(Shared::new(config, addr));
    tracing::info!(base_url = %shared.base_url, "auth-emulator listening");
    Ok((listener, shared))
}

/// Serves until `shutdown` completes, then lets in-flight requests finish.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let app = router(shared).into_make_service_with_connect_info::<ConnHandle>();
    if let Err(e) = axum::serve(EmuListener::new(listener), app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(error = %e, "auth-emulator server stopped");
    }
}

/// Each route passes its [`Endpoint`] to [`dispatch`], which does the
/// bookkeeping every endpoint shares.
macro_rules! ep {
    ($endpoint:expr) => {
        |State(app): State<Arc<Shared>>,
         ConnectInfo(conn): ConnectInfo<ConnHandle>,
         req: Request| { dispatch($endpoint, app, conn, req) }
    };
}

fn router(shared: Arc<Shared>) -> Router {
    use Endpoint as E;
    Router::new()
        // Older servers had no trailing slashes, so both forms are served.
        .route("/v1/auth_tokens/register/", post(ep!(E::OpenverseRegister)))
        .route("/v1/auth_tokens/register", post(ep!(E::OpenverseRegister)))
        .route(
            "/v1/auth_tokens/verify/{code}/",
            get(ep!(E::OpenverseVerify)),
        )
        .route(
            "/v1/auth_tokens/verify/{code}",
            get(ep!(E::OpenverseVerify)),
        )
        .route("/v1/auth_tokens/token/", post(ep!(E::OpenverseToken)))
        .route("/v1/auth_tokens/token", post(ep!(E::OpenverseToken)))
        .route("/v1/rate_limit/", get(ep!(E::OpenverseRateLimit)))
        .route("/v1/rate_limit", get(ep!(E::OpenverseRateLimit)))
        .route("/v1/images/", get(ep!(E::OpenverseImages)))
        .route("/v1/images", get(ep!(E::OpenverseImages)))
        .route("/auth/client/authorize", post(ep!(E::MarkableAuthorize)))
        .route("/api/v1/search", get(ep!(E::MarkableSearch)))
        .route("/api/v1/catalogs", post(ep!(E::MarkableCatalogs)))
        .route("/oauth2/token", post(ep!(E::Oauth2Token)))
        .route("/oauth2/resource", get(ep!(E::Oauth2Resource)))
        .nest("/_emulator", admin::router())
        .fallback(not_found)
        .with_state(shared)
}

async fn not_found() -> Response {
    Reply::json(StatusCode::NOT_FOUND, json!({ "detail": "Not found." })).into_response()
}

/// Decrements the in-flight count however the request ends, including
/// when the client hangs up during injected latency and the future is dropped.
struct InFlight<'a> {
    shared: &'a Shared,
    scheme: Option<Scheme>,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Some(scheme) = self.scheme {
            self.shared.end_in_flight(scheme);
        }
    }
}

async fn dispatch(
    endpoint: Endpoint,
    app: Arc<Shared>,
    conn: ConnHandle,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return Reply::json(
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({ "detail": "Request body too large." }),
        )
        .into_response();
    };
    let (decision, latency) = app.begin(endpoint);
    let _in_flight = InFlight {
        shared: &app,
        scheme: endpoint.token_scheme(),
    };
    let delay = latency.saturating_add(decision.latency);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let fault = decision.fault;
    if let Some(f) = &fault {
        tracing::info!(endpoint = %endpoint, fault = ?f, "injecting fault");
        if f.replaces_response() {
            return replacement(f, &parts, &conn);
        }
    }
    let view = RequestView {
        parts: &parts,
        headers: &parts.headers,
        body: &body,
        peer: conn.peer(),
    };
    let reply = match endpoint {
        Endpoint::OpenverseRegister => openverse::register(&app, &view),
        Endpoint::OpenverseVerify => openverse::verify(&app, &view),
        Endpoint::OpenverseToken => openverse::token(&app, &view),
        Endpoint::OpenverseRateLimit => openverse::rate_limit(&app, &view),
        Endpoint::OpenverseImages => openverse::images(&app, &view),
        Endpoint::MarkableAuthorize => markable::authorize(&app, &view),
        Endpoint::MarkableSearch => markable::search(&app, &view),
        Endpoint::MarkableCatalogs => markable::catalogs(&app, &view),
        Endpoint::Oauth2Token => oauth2::token(&app, &view),
        Endpoint::Oauth2Resource => oauth2::resource(&app, &view),
    };
    if reply.status.is_client_error() {
        app.lock().count_rejected();
    }
    tracing::info!(endpoint = %endpoint, status = reply.status.as_u16(), "answered");
    render(reply, fault.as_ref().map(|f| (endpoint, f)))
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        render(self, None)
    }
}

const JSON: &str = "application/json";

/// A response a replacing fault sends instead of running the endpoint.
fn replacement(fault: &Fault, parts: &Parts, conn: &ConnHandle) -> Response {
    let with_type = |status: StatusCode, ctype: &'static str, body: Body| {
        (
            status,
            [(CONTENT_TYPE, HeaderValue::from_static(ctype))],
            body,
        )
            .into_response()
    };
    match fault {
        Fault::ServerError {
            status,
            retry_after_secs,
        } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut reply = Reply::json(
                status,
                json!({ "error": "server_error", "detail": "injected fault" }),
            );
            if let Some(secs) = retry_after_secs {
                reply = reply.header(RETRY_AFTER, &secs.to_string());
            }
            reply.into_response()
        }
        Fault::RateLimited { retry_after_secs } => Reply::json(
            StatusCode::TOO_MANY_REQUESTS,
            json!({ "detail": "Request was throttled." }),
        )
        .header(RETRY_AFTER, &retry_after_secs.to_string())
        .into_response(),
        Fault::ConnectionReset => {
            conn.request_reset();
            // Never written: the first write on this connection fails and
            // the socket is dropped with SO_LINGER 0.
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Fault::NotJson => with_type(
            StatusCode::OK,
            JSON,
            Body::from("access_token=this-is-not-json; {oops"),
        ),
        Fault::Html => with_type(
            StatusCode::OK,
            "text/html; charset=utf-8",
            Body::from(
                "<!DOCTYPE html>\n<html><head><title>Sign in to the network</title></head>\
                 <body><h1>Network login required</h1><form method=\"post\"></form></body></html>\n",
            ),
        ),
        Fault::HugeBody => with_type(StatusCode::OK, JSON, Body::from(huge_body())),
        Fault::Redirect { status } => {
            let target = parts
                .uri
                .path_and_query()
                .map_or("/", |pq| pq.as_str());
            let location = format!("http://evil.example.invalid{target}");
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::FOUND);
            match HeaderValue::from_str(&location) {
                Ok(v) => (status, [(LOCATION, v)]).into_response(),
                Err(_) => (
                    status,
                    [(LOCATION, HeaderValue::from_static("http://evil.example.invalid/"))],
                )
                    .into_response(),
            }
        }
        // Non-replacing faults never reach here; answer something sane.
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// A valid JSON document just over 10 MiB, built once.
fn huge_body() -> Bytes {
    static HUGE: OnceLock<Bytes> = OnceLock::new();
    HUGE.get_or_init(|| {
        let mut body = Vec::with_capacity(HUGE_BODY_LEN + 64);
        body.extend_from_slice(b"{\"access_token\":\"");
        body.resize(body.len() + HUGE_BODY_LEN, b'A');
        body.extend_from_slice(b"\",\"token_type\":\"Bearer\",\"expires_in\":3600}");
        Bytes::from(body)
    })
    .clone()
}

/// Turns a handler's reply into a response, bent by a non-replacing fault
/// planned for the endpoint that produced it.
fn render(reply: Reply, fault: Option<(Endpoint, &Fault)>) -> Response {
    let Reply {
        status,
        mut headers,
        mut body,
    } = reply;
    if let Some((endpoint, f)) = fault {
        if f.is_token_shape() && status.is_success() {
            shape_token(endpoint, &mut body, f);
        }
    }
    let fault = fault.map(|(_, f)| f);
    let bytes = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
    let ctype = if matches!(fault, Some(Fault::WrongContentType)) {
        "text/plain; charset=utf-8"
    } else {
        JSON
    };
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
    let body = match fault {
        Some(Fault::TruncatedBody) => {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
            truncated(bytes)
        }
        Some(Fault::SlowBody { duration_ms }) => {
            trickled(bytes, Duration::from_millis(*duration_ms))
        }
        _ => Body::from(bytes),
    };
    (status, headers, body).into_response()
}

/// Half the body, a pause so hyper flushes it with the headers, then an
/// error: hyper sees the stream fail short of the declared `Content-Length`
/// and closes the connection.
fn truncated(bytes: Bytes) -> Body {
    let half = bytes.slice(..bytes.len() / 2);
    let stream = futures_util::stream::unfold(Some(half), |state| async move {
        match state {
            Some(half) => Some((Ok(half), None)),
            None => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Some((
                    Err(std::io::Error::new(
                        std::io::ErrorKind::BrokenPipe,
                        "injected truncation",
                    )),
                    None,
                ))
            }
        }
    });
    Body::from_stream(stream)
}

/// The body in up to 20 pieces, the first at once and the rest spaced so the
/// last arrives after `total`.
fn trickled(bytes: Bytes, total: Duration) -> Body {
    const PIECES: usize = 20;
    let piece = bytes.len().div_ceil(PIECES).max(1);
    let chunks: Vec<Bytes> = (0..bytes.len())
        .step_by(piece)
        .map(|start| bytes.slice(start..(start + piece).min(bytes.len())))
        .collect();
    let gaps = u32::try_from(chunks.len().saturating_sub(1).max(1)).unwrap_or(1);
    let gap = total / gaps;
    let stream = futures_util::stream::unfold(
        (chunks.into_iter(), true),
        move |(mut rest, first)| async move {
            let chunk = rest.next()?;
            if !first {
                tokio::time::sleep(gap).await;
            }
            Some((Ok::<_, std::io::Error>(chunk), (rest, false)))
        },
    );
    Body::from_stream(stream)
}

fn shape_token(endpoint: Endpoint, body: &mut Value, fault: &Fault) {
    let markable = endpoint == Endpoint::MarkableAuthorize;
    let target = if markable {
        body.get_mut("data")
    } else {
        Some(body)
    };
    let Some(Value::Object(map)) = target else {
        return;
    };
    match fault {
        Fault::WrongTokenType => {
            map.insert("token_type".into(), json!("mac"));
        }
        Fault::MissingAccessToken => {
            map.remove("access_token");
        }
        Fault::StringExpiresIn if markable => {
            map.insert("expires_at".into(), json!("3600"));
        }
        Fault::StringExpiresIn => {
            map.insert("expires_in".into(), json!("3600"));
        }
        Fault::NegativeExpiresIn if markable => {
            let past = std::time::SystemTime::now()
                .checked_sub(Duration::from_secs(3600))
                .unwrap_or(std::time::UNIX_EPOCH);
            map.insert("expires_at".into(), json!(wire::iso8601_utc(past)));
        }
        Fault::NegativeExpiresIn => {
            map.insert("expires_in".into(), json!(-3600));
        }
        _ => {}
    }
}
