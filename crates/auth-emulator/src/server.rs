//! Routing, the per-request pipeline (count → latency → fault → handler →
//! shape), and binding of the two listeners (the main one, and the Markable
//! API host).

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{
    ALLOW, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, RETRY_AFTER,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::{EmulatorConfig, OpenverseFlavour, Scheme};
use crate::conn::{ConnHandle, EmuListener};
use crate::error::EmulatorError;
use crate::fault::{Endpoint, Fault};
use crate::reply::Reply;
use crate::state::Shared;
use crate::{admin, discovery, markable, oauth2, openverse, wire};

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

/// The two bound listeners and the state they share.
pub(crate) struct Bound {
    main: TcpListener,
    api: TcpListener,
    pub(crate) shared: Arc<Shared>,
}

async fn listen(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), EmulatorError> {
    if !addr.ip().is_loopback() {
        return Err(EmulatorError::NonLoopback(addr));
    }
    let bind_error = |source| EmulatorError::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
    let local = listener.local_addr().map_err(bind_error)?;
    Ok((listener, local))
}

/// Checks the config and opens the loopback listeners.
pub(crate) async fn bind(config: &EmulatorConfig) -> Result<Bound, EmulatorError> {
    if !config.addr.ip().is_loopback() {
        return Err(EmulatorError::NonLoopback(config.addr));
    }
    for scheme in Scheme::ALL {
        crate::control::check_lifetime(config.lifetimes.get(scheme))?;
    }
    let api_addr = config
        .markable_api_addr
        .unwrap_or_else(|| SocketAddr::new(config.addr.ip(), 0));
    if !api_addr.ip().is_loopback() {
        return Err(EmulatorError::NonLoopback(api_addr));
    }
    let (main, addr) = listen(config.addr).await?;
    let (api, api_addr) = listen(api_addr).await?;
    let shared = Arc::new(Shared::new(config, addr, api_addr));
    tracing::info!(
        base_url = %shared.base_url,
        markable_api = %shared.markable_api_base_url,
        flavour = %shared.flavour,
        "auth-emulator listening"
    );
    Ok(Bound { main, api, shared })
}

/// Serves both listeners until `shutdown` completes, then lets in-flight
/// requests finish.
pub(crate) async fn serve(bound: Bound, shutdown: impl Future<Output = ()> + Send + 'static) {
    let Bound { main, api, shared } = bound;
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        // A dropped sender means the same as a sent stop.
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let main_app = router(shared.clone()).into_make_service_with_connect_info::<ConnHandle>();
    let api_app = api_router(shared).into_make_service_with_connect_info::<ConnHandle>();
    let main = axum::serve(EmuListener::new(main), main_app)
        .with_graceful_shutdown(stopped(stop_rx.clone()));
    let api = axum::serve(EmuListener::new(api), api_app).with_graceful_shutdown(stopped(stop_rx));
    let trigger = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };
    let (main, api, ()) = tokio::join!(main.into_future(), api.into_future(), trigger);
    for result in [main, api] {
        if let Err(e) = result {
            tracing::error!(error = %e, "auth-emulator server stopped");
        }
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

/// The main listener: the Openverse routes of the configured flavour, the
/// Markable authorization server, the OAuth 2.0 server with its discovery
/// documents, and the admin API.
fn router(shared: Arc<Shared>) -> Router {
    use Endpoint as E;
    let router = match shared.flavour {
        // `api/conf/urls/auth_tokens.py`: every route with the slash; the
        // slash-less form gets Django's APPEND_SLASH redirect (for any
        // method: a POST that follows it arrives as a GET and gets 405).
        OpenverseFlavour::Openverse => Router::new()
            .route(
                "/v1/auth_tokens/register/",
                post(ep!(E::OpenverseRegister)).fallback(drf_405_post),
            )
            .route("/v1/auth_tokens/register", any(append_slash))
            .route(
                "/v1/auth_tokens/verify/{code}/",
                get(ep!(E::OpenverseVerify)).fallback(drf_405_get),
            )
            .route("/v1/auth_tokens/verify/{code}", any(append_slash))
            .route(
                "/v1/auth_tokens/token/",
                post(ep!(E::OpenverseToken)).fallback(drf_405_post),
            )
            .route("/v1/auth_tokens/token", any(append_slash))
            .route(
                "/v1/rate_limit/",
                get(ep!(E::OpenverseRateLimit)).fallback(drf_405_get),
            )
            .route("/v1/rate_limit", any(append_slash))
            .route(
                "/v1/images/",
                get(ep!(E::OpenverseImages)).fallback(drf_405_get),
            )
            .route("/v1/images", any(append_slash)),
        // `cccatalog/urls.py`: register, rate_limit and verify without the
        // slash (their slash forms match nothing: 404); the token endpoint
        // from DOT's URLs with it (the slash-less form: APPEND_SLASH);
        // `re_path('images')` matches both image paths.
        OpenverseFlavour::CcCatalog => Router::new()
            .route(
                "/v1/auth_tokens/register",
                post(ep!(E::OpenverseRegister)).fallback(drf_405_post),
            )
            .route(
                "/v1/auth_tokens/verify/{code}",
                get(ep!(E::OpenverseVerify)).fallback(drf_405_get),
            )
            .route(
                "/v1/auth_tokens/token/",
                post(ep!(E::OpenverseToken)).fallback(django_405_post),
            )
            .route("/v1/auth_tokens/token", any(append_slash))
            .route(
                "/v1/rate_limit",
                get(ep!(E::OpenverseRateLimit)).fallback(drf_405_get),
            )
            .route("/v1/images/", get(ep!(E::OpenverseImages)))
            .route("/v1/images", get(ep!(E::OpenverseImages))),
    };
    router
        .route("/auth/client/authorize", post(ep!(E::MarkableAuthorize)))
        .route("/oauth2/token", post(ep!(E::Oauth2Token)))
        .route("/oauth2/resource", get(ep!(E::Oauth2Resource)))
        .route(
            "/.well-known/oauth-authorization-server",
            get(ep!(E::Oauth2Metadata)),
        )
        .route(
            "/.well-known/openid-configuration",
            get(ep!(E::OpenidConfiguration)),
        )
        .nest("/_emulator", admin::router())
        .fallback(not_found)
        .with_state(shared)
}

/// The second listener: the Markable Lens API, a host of its own.
fn api_router(shared: Arc<Shared>) -> Router {
    use Endpoint as E;
    Router::new()
        .route("/api/v1/search", get(ep!(E::MarkableSearch)))
        .route("/api/v1/catalogs", post(ep!(E::MarkableCatalogs)))
        .fallback(jsonapi_not_found)
        .with_state(shared)
}

/// Django's 404 page: no URL pattern matched.
async fn not_found() -> Response {
    Reply::django_404().into_response()
}

async fn jsonapi_not_found() -> Response {
    Reply::jsonapi_error(StatusCode::NOT_FOUND, "No such resource").into_response()
}

/// Django's `CommonMiddleware` with `APPEND_SLASH`: 301 to the path with a
/// slash, query kept, empty body, whatever the method.
async fn append_slash(uri: Uri) -> Response {
    let location = match uri.query() {
        Some(q) => format!("{}/?{q}", uri.path()),
        None => format!("{}/", uri.path()),
    };
    Reply::raw(StatusCode::MOVED_PERMANENTLY, crate::reply::HTML, b"")
        .header(LOCATION, &location)
        .into_response()
}

/// DRF's `MethodNotAllowed` for a view with only `post`.
async fn drf_405_post(method: Method) -> Response {
    drf_405(&method, "POST, OPTIONS")
}

/// DRF's `MethodNotAllowed` for a view with only `get` (Django adds HEAD).
async fn drf_405_get(method: Method) -> Response {
    drf_405(&method, "GET, HEAD, OPTIONS")
}

fn drf_405(method: &Method, allow: &str) -> Response {
    Reply::drf(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("Method \"{method}\" not allowed."),
    )
    .header(ALLOW, allow)
    .into_response()
}

/// A plain Django view's `http_method_not_allowed`: empty body.
async fn django_405_post() -> Response {
    Reply::raw(StatusCode::METHOD_NOT_ALLOWED, crate::reply::HTML, b"")
        .header(ALLOW, "POST, OPTIONS")
        .into_response()
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
    let (mut parts, body) = req.into_parts();
    let limit = if endpoint.token_scheme() == Some(Scheme::Markable) || is_markable_api(endpoint) {
        markable::BODY_LIMIT
    } else {
        MAX_BODY
    };
    let Ok(body) = axum::body::to_bytes(body, limit).await else {
        let reply = if dialect(endpoint) == Dialect::JsonApi {
            Reply::jsonapi_error(StatusCode::PAYLOAD_TOO_LARGE, "request entity too large")
        } else {
            Reply::drf(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large.")
        };
        return reply.into_response();
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
            return replacement(f, endpoint, &parts, &conn);
        }
        if matches!(f, Fault::DropAuthorization) {
            parts.headers.remove(AUTHORIZATION);
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
        Endpoint::Oauth2Metadata | Endpoint::OpenidConfiguration => {
            discovery::document(&app, endpoint)
        }
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

fn is_markable_api(endpoint: Endpoint) -> bool {
    matches!(
        endpoint,
        Endpoint::MarkableSearch | Endpoint::MarkableCatalogs
    )
}

/// The error shape an endpoint answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// `{"detail":"…"}`
    Drf,
    /// `{"errors":[…]}`
    JsonApi,
    /// `{"error":"…"}`
    OAuth2,
}

fn dialect(endpoint: Endpoint) -> Dialect {
    match endpoint {
        Endpoint::MarkableAuthorize | Endpoint::MarkableSearch | Endpoint::MarkableCatalogs => {
            Dialect::JsonApi
        }
        Endpoint::Oauth2Token
        | Endpoint::Oauth2Resource
        | Endpoint::Oauth2Metadata
        | Endpoint::OpenidConfiguration => Dialect::OAuth2,
        _ => Dialect::Drf,
    }
}

/// A response a replacing fault sends instead of running the endpoint.
fn replacement(fault: &Fault, endpoint: Endpoint, parts: &Parts, conn: &ConnHandle) -> Response {
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
        Fault::ClientError { status } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST);
            let reason = status.canonical_reason().unwrap_or("Client error");
            match dialect(endpoint) {
                Dialect::JsonApi => Reply::jsonapi_error(status, "injected fault"),
                Dialect::Drf => Reply::drf(status, reason),
                Dialect::OAuth2 => Reply::oauth_error(status, "invalid_request", reason),
            }
            .into_response()
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
        raw,
    } = reply;
    if let Some((endpoint, f)) = fault {
        if f.is_token_shape() && status.is_success() && raw.is_none() {
            shape_token(endpoint, &mut body, f);
        }
    }
    let fault = fault.map(|(_, f)| f);
    let (bytes, own_type) = match raw {
        Some(raw) => (Bytes::from(raw.bytes), raw.content_type),
        None => (
            Bytes::from(serde_json::to_vec(&body).unwrap_or_default()),
            JSON,
        ),
    };
    let ctype = if matches!(fault, Some(Fault::WrongContentType)) {
        "text/plain; charset=utf-8"
    } else {
        own_type
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
            map.insert("expires_at".into(), json!(wire::unix_millis(past)));
        }
        Fault::NegativeExpiresIn => {
            map.insert("expires_in".into(), json!(-3600));
        }
        _ => {}
    }
}
