//! Moving bytes: the token client's settings, a capped body read, and the
//! mapping of reqwest failures onto the core's transport kinds.

use std::error::Error as _;

use auth_cell::Limits;
use auth_core::TransportErrorKind;

/// A failure before a complete response.
#[derive(Debug)]
pub(crate) struct Failure {
    pub kind: TransportErrorKind,
    pub detail: String,
}

/// A client with both timeouts and rustls. Auth endpoints get no redirects
/// (`for_api` false): a redirect could carry the secret to another host.
pub(crate) fn client(limits: &Limits, for_api: bool) -> Result<reqwest::Client, auth_cell::Error> {
    let builder = reqwest::Client::builder()
        .connect_timeout(limits.connect_timeout)
        .timeout(limits.timeout)
        .use_rustls_tls();
    let builder = if for_api {
        builder
    } else {
        // The provider already refused non-loopback http.
        builder
            .redirect(reqwest::redirect::Policy::none())
            .https_only(false)
    };
    builder
        .build()
        .map_err(|e| auth_cell::Error::config(format!("could not build the HTTP client: {e}")))
}

/// Sends `request` and reads at most `limits.max_body_bytes` of the body.
pub(crate) async fn send(
    client: &reqwest::Client,
    request: http::Request<Vec<u8>>,
    max_body_bytes: usize,
) -> Result<http::Response<Vec<u8>>, Failure> {
    let request = reqwest::Request::try_from(request).map_err(|e| classify(&e))?;
    let response = client.execute(request).await.map_err(|e| classify(&e))?;
    read_capped(response, max_body_bytes).await
}

/// Turns a reqwest response into an `http` one, refusing bodies over `cap`.
/// Content-Length is only a hint: the count is kept while reading.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<http::Response<Vec<u8>>, Failure> {
    let too_large = || Failure {
        kind: TransportErrorKind::BodyTooLarge,
        detail: format!("the response body exceeds the {cap}-byte limit"),
    };
    if response.content_length().is_some_and(|n| n > cap as u64) {
        return Err(too_large());
    }
    let mut builder = http::Response::builder()
        .status(response.status())
        .version(response.version());
    if let Some(h) = builder.headers_mut() {
        *h = std::mem::take(response.headers_mut());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| classify(&e))? {
        if body.len() + chunk.len() > cap {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    builder.body(body).map_err(|e| Failure {
        kind: TransportErrorKind::Other,
        detail: e.to_string(),
    })
}

/// Maps a reqwest error to the kind the core backs off on. The detail is
/// reqwest's message plus its root cause; neither holds a secret (the
/// secret travels in headers and bodies, which reqwest never prints).
pub(crate) fn classify(e: &reqwest::Error) -> Failure {
    let mut kind = if e.is_timeout() {
        TransportErrorKind::Timeout
    } else if e.is_connect() {
        TransportErrorKind::Connect
    } else if e.is_body() || e.is_decode() {
        TransportErrorKind::Body
    } else {
        TransportErrorKind::Other
    };
    let mut detail = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            match io.kind() {
                K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof
                    if kind == TransportErrorKind::Other || kind == TransportErrorKind::Body =>
                {
                    kind = TransportErrorKind::Reset;
                }
                K::TimedOut => kind = TransportErrorKind::Timeout,
                _ => {}
            }
        }
        let text = s.to_string();
        if kind == TransportErrorKind::Other
            && (text.contains("connection closed") || text.contains("incomplete message"))
        {
            kind = TransportErrorKind::Reset;
        }
        if s.source().is_none() {
            detail = format!("{detail}: {text}");
        }
        source = s.source();
    }
    if kind == TransportErrorKind::Other && detail.contains("certificate") {
        kind = TransportErrorKind::Tls;
    }
    Failure { kind, detail }
}
