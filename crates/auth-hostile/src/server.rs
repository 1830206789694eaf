//! The hostile server: a tokio listener on `127.0.0.1:0` speaking raw
//! bytes. Each connection carries one request; the server reads it (request
//! line, headers, a `Content-Length` body), records it, and plays the
//! scripted [`Answer`] for its path. Every connection is closed after its
//! answer, so a count of requests is a count of attempts.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::task::AbortHandle;

use crate::answer::{Answer, Reply};
use crate::encode::{self, Hex, Space, B64};

/// Longest request head read.
const MAX_HEAD: usize = 64 * 1024;
/// Longest request body read.
const MAX_BODY: usize = 4 * 1024 * 1024;
/// No connection lives longer than this, whatever its answer.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(150);
/// Most bytes an endless body sends.
const ENDLESS_CAP: usize = 256 * 1024 * 1024;

/// The answers of one path: the n-th request gets the n-th answer, and the
/// last answer repeats.
#[derive(Clone, Debug)]
struct Route {
    path: String,
    answers: Vec<Answer>,
}

/// What the server answers, per path (the query is ignored). Paths not in
/// the script get a JSON 404.
#[derive(Clone, Debug, Default)]
pub struct Script {
    routes: Vec<Route>,
}

impl Script {
    /// An empty script: every path is a 404.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers requests to `path` with `answers` in turn (the last repeats).
    /// A later route for the same path replaces an earlier one.
    #[must_use]
    pub fn route(mut self, path: &str, answers: Vec<Answer>) -> Self {
        self.routes.retain(|r| r.path != path);
        self.routes.push(Route {
            path: path.to_owned(),
            answers,
        });
        self
    }

    fn answer(&self, path: &str, nth: usize) -> Answer {
        self.routes
            .iter()
            .find(|r| r.path == path)
            .and_then(|r| r.answers.get(nth.min(r.answers.len().saturating_sub(1))))
            .cloned()
            .unwrap_or_else(|| Reply::json(404, r#"{"detail":"Not found."}"#).answer())
    }
}

/// One request as the server read it.
#[derive(Clone, Debug, Default)]
pub struct Received {
    /// `POST`, `GET`, …
    pub method: String,
    /// The request target: path and query.
    pub target: String,
    /// The path alone.
    pub path: String,
    /// Header names (lowercased) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// The client id found in a Basic header, a form body or a JSON body.
    pub client_id: Option<String>,
    /// The client secret found there.
    pub client_secret: Option<String>,
    /// The token of an `Authorization: Bearer` header.
    pub bearer: Option<String>,
}

impl Received {
    /// The first value of header `name` (lowercase).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The id and secret a case configures: what echoes fall back to when a
/// request carries none (an API call, a registration).
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    /// The client id.
    pub id: String,
    /// The client secret.
    pub secret: String,
}

struct Shared {
    script: Script,
    credentials: Credentials,
    base: String,
    other: String,
    requests: Mutex<Vec<Received>>,
    hits: Mutex<HashMap<String, usize>>,
    tasks: Mutex<Vec<AbortHandle>>,
}

/// A running hostile server; stopped (every connection dropped) on drop.
pub struct HostileServer {
    shared: Arc<Shared>,
    accept: AbortHandle,
}

impl std::fmt::Debug for HostileServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostileServer")
            .field("base", &self.shared.base)
            .finish_non_exhaustive()
    }
}

/// The runtime every server runs on, started on first use.
fn runtime() -> io::Result<&'static Runtime> {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("hostile-server")
        .enable_all()
        .build()?;
    Ok(RUNTIME.get_or_init(|| rt))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl HostileServer {
    /// Starts a server playing `script`, on a fresh loopback port.
    pub fn start(script: Script, credentials: Credentials) -> io::Result<Self> {
        let rt = runtime()?;
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let port = std_listener.local_addr()?.port();
        let listener = {
            let _guard = rt.enter();
            TcpListener::from_std(std_listener)?
        };
        let shared = Arc::new(Shared {
            script,
            credentials,
            base: format!("http://127.0.0.1:{port}"),
            other: format!("http://localhost:{port}"),
            requests: Mutex::new(Vec::new()),
            hits: Mutex::new(HashMap::new()),
            tasks: Mutex::new(Vec::new()),
        });
        let accepting = Arc::clone(&shared);
        let accept = rt
            .spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let shared = Arc::clone(&accepting);
                    let task = tokio::spawn(async move {
                        let _ =
                            tokio::time::timeout(CONNECTION_LIFETIME, serve(stream, shared)).await;
                    });
                    let mut tasks = lock(&accepting.tasks);
                    tasks.retain(|t| !t.is_finished());
                    tasks.push(task.abort_handle());
                }
            })
            .abort_handle();
        Ok(Self { shared, accept })
    }

    /// `http://127.0.0.1:PORT`.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.shared.base
    }

    /// `http://localhost:PORT`: the same server under another origin.
    #[must_use]
    pub fn other_origin(&self) -> &str {
        &self.shared.other
    }

    /// The URL of `path` on this server.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.shared.base)
    }

    /// How many requests `path` received.
    #[must_use]
    pub fn hits(&self, path: &str) -> usize {
        lock(&self.shared.hits).get(path).copied().unwrap_or(0)
    }

    /// Requests per path.
    #[must_use]
    pub fn all_hits(&self) -> HashMap<String, usize> {
        lock(&self.shared.hits).clone()
    }

    /// Every request received so far, in order.
    #[must_use]
    pub fn requests(&self) -> Vec<Received> {
        lock(&self.shared.requests).clone()
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.accept.abort();
        for t in lock(&self.shared.tasks).drain(..) {
            t.abort();
        }
    }
}

async fn serve(mut stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let Some(received) = read_request(&mut stream).await else {
        return;
    };
    let nth = {
        let mut hits = lock(&shared.hits);
        let n = hits.entry(received.path.clone()).or_insert(0);
        *n += 1;
        *n - 1
    };
    let answer = shared.script.answer(&received.path, nth);
    let echo = Echo::new(&received, &shared);
    lock(&shared.requests).push(received);
    play(stream, answer, echo).await;
}

async fn read_request(stream: &mut TcpStream) -> Option<Received> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = find(&buf, b"\r\n\r\n") {
            break at;
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let target = first.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_BODY);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let path = target.split('?').next().unwrap_or("").to_owned();
    let mut received = Received {
        method,
        target,
        path,
        headers,
        body,
        ..Received::default()
    };
    extract_credentials(&mut received);
    Some(received)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Finds the credentials wherever a dialect puts them: `Authorization:
/// Basic base64(form(id):form(secret))` (RFC 6749 §2.3.1), a form body's
/// `client_id` / `client_secret`, or a JSON body's (at the top level or
/// under `data`, as Markable sends them).
fn extract_credentials(r: &mut Received) {
    if let Some(v) = r.header("authorization").map(str::to_owned) {
        if let Some(b64) = v.strip_prefix("Basic ") {
            let decoded = encode::base64_decode(b64).and_then(|b| String::from_utf8(b).ok());
            if let Some((id, secret)) = decoded.as_deref().and_then(|d| d.split_once(':')) {
                r.client_id = encode::form_decode(id);
                r.client_secret = encode::form_decode(secret);
            }
        } else if let Some(token) = v.strip_prefix("Bearer ") {
            r.bearer = Some(token.to_owned());
        }
    }
    let content_type = r.header("content-type").unwrap_or("").to_owned();
    let body = String::from_utf8_lossy(&r.body).into_owned();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        for pair in body.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "client_id" => r.client_id = encode::form_decode(v),
                "client_secret" => r.client_secret = encode::form_decode(v),
                _ => {}
            }
        }
    } else if let Ok(serde_json::Value::Object(top)) = serde_json::from_str(&body) {
        let data = top.get("data").and_then(serde_json::Value::as_object);
        let field = |k: &str| {
            top.get(k)
                .or_else(|| data.and_then(|d| d.get(k)))
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        if let Some(id) = field("client_id") {
            r.client_id = Some(id);
        }
        if let Some(secret) = field("client_secret") {
            r.client_secret = Some(secret);
        }
    }
}

/// The values a template can name, computed once per request.
struct Echo {
    values: HashMap<&'static str, String>,
}

impl Echo {
    fn new(r: &Received, shared: &Shared) -> Self {
        let id = r
            .client_id
            .clone()
            .unwrap_or_else(|| shared.credentials.id.clone());
        let secret = r
            .client_secret
            .clone()
            .unwrap_or_else(|| shared.credentials.secret.clone());
        let plain = format!("{id}:{secret}");
        let formed = format!("{}:{}", encode::form_std(&id), encode::form_std(&secret));
        let mut values = HashMap::new();
        let mut put = |k: &'static str, v: String| {
            values.insert(k, v);
        };
        put("secret.debug", encode::debug(&secret));
        put("secret.json", encode::json(&secret));
        put(
            "secret.form",
            encode::form(&secret, Space::Plus, Hex::Upper),
        );
        put(
            "secret.form.lower",
            encode::form(&secret, Space::Plus, Hex::Lower),
        );
        put(
            "secret.form20",
            encode::form(&secret, Space::Percent, Hex::Upper),
        );
        put(
            "secret.form20.lower",
            encode::form(&secret, Space::Percent, Hex::Lower),
        );
        put("secret.pct", encode::percent(&secret, Hex::Upper));
        put("secret.pct.lower", encode::percent(&secret, Hex::Lower));
        put(
            "secret.b64",
            encode::base64(secret.as_bytes(), B64::Standard),
        );
        put("basic", encode::base64(plain.as_bytes(), B64::Standard));
        put("basic.url", encode::base64(plain.as_bytes(), B64::UrlSafe));
        put(
            "basic.nopad",
            encode::base64(plain.as_bytes(), B64::StandardNoPad),
        );
        put(
            "basic.form",
            encode::base64(formed.as_bytes(), B64::Standard),
        );
        put(
            "basic.form.url",
            encode::base64(formed.as_bytes(), B64::UrlSafe),
        );
        put(
            "authz",
            r.header("authorization").unwrap_or_default().to_owned(),
        );
        put("bearer", r.bearer.clone().unwrap_or_default());
        put("body", String::from_utf8_lossy(&r.body).into_owned());
        put("base", shared.base.clone());
        put("other", shared.other.clone());
        put("id", id);
        put("secret", secret);
        Self { values }
    }

    /// Fills `{{name}}` and `{{name|json}}`; unknown names stay as written.
    fn fill(&self, template: &str) -> String {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(open) = rest.find("{{") {
            out.push_str(&rest[..open]);
            let after = &rest[open + 2..];
            let Some(close) = after.find("}}") else {
                out.push_str(&rest[open..]);
                return out;
            };
            let spec = &after[..close];
            let (name, json) = match spec.strip_suffix("|json") {
                Some(n) => (n, true),
                None => (spec, false),
            };
            match self.values.get(name) {
                Some(v) if json => out.push_str(&encode::json(v)),
                Some(v) => out.push_str(v),
                None => {
                    out.push_str("{{");
                    out.push_str(spec);
                    out.push_str("}}");
                }
            }
            rest = &after[close + 2..];
        }
        out.push_str(rest);
        out
    }

    fn bytes(&self, answer: &Answer) -> Vec<u8> {
        match answer {
            Answer::Reply(r) => r.render(&|t| self.fill(t)),
            Answer::Raw(raw) => self.fill(raw).into_bytes(),
            Answer::Delay(_, inner) | Answer::Trickle(_, inner) => self.bytes(inner),
            _ => Vec::new(),
        }
    }
}

async fn play(mut stream: TcpStream, answer: Answer, echo: Echo) {
    match answer {
        Answer::Reply(_) | Answer::Raw(_) => {
            let _ = stream.write_all(&echo.bytes(&answer)).await;
            let _ = stream.shutdown().await;
            linger_briefly(stream).await;
        }
        Answer::Close => {
            let _ = stream.shutdown().await;
        }
        Answer::Reset => reset(stream),
        Answer::Silent => {
            let mut sink = [0u8; 1024];
            while let Ok(n) = stream.read(&mut sink).await {
                if n == 0 {
                    break;
                }
            }
        }
        Answer::Delay(delay, inner) => {
            tokio::time::sleep(delay).await;
            Box::pin(play(stream, *inner, echo)).await;
        }
        Answer::Trickle(every, inner) => {
            for b in echo.bytes(&inner) {
                if stream.write_all(&[b]).await.is_err() {
                    return;
                }
                tokio::time::sleep(every).await;
            }
            let _ = stream.shutdown().await;
        }
        Answer::CutBody {
            reply,
            keep,
            reset: rst,
        } => {
            let bytes = reply.render(&|t| echo.fill(t));
            let head = find(&bytes, b"\r\n\r\n").map_or(0, |at| at + 4);
            let end = (head + keep).min(bytes.len());
            let _ = stream.write_all(&bytes[..end]).await;
            let _ = stream.flush().await;
            if rst {
                // Let the bytes leave before the reset discards them.
                tokio::time::sleep(Duration::from_millis(50)).await;
                reset(stream);
            } else {
                let _ = stream.shutdown().await;
                linger_briefly(stream).await;
            }
        }
        Answer::Endless { chunked } => {
            let head = if chunked {
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                    .to_owned()
            } else {
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    1u64 << 40
                )
            };
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let filler = vec![b' '; 64 * 1024];
            let mut sent = 0;
            while sent < ENDLESS_CAP {
                let ok = if chunked {
                    let mut framed = format!("{:x}\r\n", filler.len()).into_bytes();
                    framed.extend_from_slice(&filler);
                    framed.extend_from_slice(b"\r\n");
                    stream.write_all(&framed).await
                } else {
                    stream.write_all(&filler).await
                };
                if ok.is_err() {
                    return;
                }
                sent += filler.len();
            }
        }
    }
}

/// Waits a moment for the client to close first, so the answer is not cut
/// by a reset when the client still writes (it should not).
async fn linger_briefly(mut stream: TcpStream) {
    let mut sink = [0u8; 256];
    let _ = tokio::time::timeout(Duration::from_millis(500), async {
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

fn reset(stream: TcpStream) {
    // SO_LINGER 0: close sends RST instead of FIN.
    let _ = stream.set_zero_linger();
    drop(stream);
}
