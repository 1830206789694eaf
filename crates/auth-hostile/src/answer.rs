//! What the hostile server says back: well-formed replies, raw bytes no
//! HTTP library would write, and the ways a connection can go wrong.
//!
//! Text in a reply (status line, headers, body, raw bytes) is a template:
//! `{{name}}` is replaced by what the request carried, in the form the name
//! says, and `{{name|json}}` by that, JSON-escaped for use inside a string.
//!
//! | name | value |
//! |---|---|
//! | `id`, `secret` | the client id and secret the client sent (Basic header, form body or JSON body), else the case's own |
//! | `secret.debug`, `secret.json` | `{:?}`- and JSON-escaped |
//! | `secret.form`, `secret.form.lower` | form-urlencoded, space as `+`, upper / lower hex |
//! | `secret.form20`, `secret.form20.lower` | form-urlencoded, space as `%20` |
//! | `secret.pct`, `secret.pct.lower` | RFC 3986 percent-encoded |
//! | `secret.b64` | base64 of the secret alone |
//! | `basic`, `basic.url`, `basic.nopad` | base64 (standard, URL-safe, unpadded) of `id:secret` |
//! | `basic.form`, `basic.form.url` | base64 of `form(id):form(secret)` (what RFC 6749 §2.3.1 sends) |
//! | `authz` | the `Authorization` header value as received |
//! | `bearer` | the bearer token the request carried |
//! | `body` | the request body as received |
//! | `base` | `http://127.0.0.1:PORT`, this server |
//! | `other` | `http://localhost:PORT`: this server under another origin |

use std::time::Duration;

/// A well-formed HTTP/1.1 response. `Content-Length` and `Connection:
/// close` are added unless a header sets `Content-Length` or
/// `Transfer-Encoding` itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The status code (any number, even one HTTP does not define).
    pub status: u16,
    /// Headers, in order, templates allowed.
    pub headers: Vec<(String, String)>,
    /// The body, a template.
    pub body: String,
}

impl Reply {
    /// A reply with a body of `content_type`.
    #[must_use]
    pub fn new(status: u16, content_type: &str, body: impl Into<String>) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
        }
    }

    /// A JSON reply.
    #[must_use]
    pub fn json(status: u16, body: impl Into<String>) -> Self {
        Self::new(status, "application/json", body)
    }

    /// A reply with no body and no content type.
    #[must_use]
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The reply as a [`Answer::Reply`].
    #[must_use]
    pub fn answer(self) -> Answer {
        Answer::Reply(self)
    }

    /// The bytes on the wire, templates filled by `fill`.
    pub(crate) fn render(&self, fill: &dyn Fn(&str) -> String) -> Vec<u8> {
        let body = fill(&self.body);
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        let mut framed = false;
        for (name, value) in &self.headers {
            let lower = name.to_ascii_lowercase();
            framed |= lower == "content-length" || lower == "transfer-encoding";
            head.push_str(&fill(name));
            head.push_str(": ");
            head.push_str(&fill(value));
            head.push_str("\r\n");
        }
        if !framed {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("Connection: close\r\n\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body.as_bytes());
        bytes
    }
}

/// How the server answers one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A well-formed response.
    Reply(Reply),
    /// These bytes exactly (a template), then the connection is closed.
    Raw(String),
    /// Close the connection without a byte.
    Close,
    /// Reset the connection (`SO_LINGER` 0, then close): the client sees RST.
    Reset,
    /// Never answer; keep the connection open until the client gives up.
    Silent,
    /// Wait, then answer.
    Delay(Duration, Box<Answer>),
    /// Send the answer's bytes one at a time, each after this pause.
    Trickle(Duration, Box<Answer>),
    /// Send the head and the first `keep` bytes of the body that
    /// `Content-Length` announces in full, then close (or reset).
    CutBody {
        /// The reply whose body is cut.
        reply: Reply,
        /// How many body bytes go out.
        keep: usize,
        /// Reset instead of closing.
        reset: bool,
    },
    /// A `200` whose body never ends (up to 256 MiB): with a huge
    /// `Content-Length`, or chunked.
    Endless {
        /// Chunked transfer coding instead of a `Content-Length`.
        chunked: bool,
    },
}

impl Answer {
    /// The same answer after `delay`.
    #[must_use]
    pub fn after(self, delay: Duration) -> Answer {
        Answer::Delay(delay, Box::new(self))
    }

    /// The same answer, one byte every `every`.
    #[must_use]
    pub fn trickled(self, every: Duration) -> Answer {
        Answer::Trickle(every, Box::new(self))
    }

    /// Whether the answer takes long by design (a client must time out).
    #[must_use]
    pub fn is_slow(&self) -> bool {
        match self {
            Answer::Silent | Answer::Trickle(..) => true,
            Answer::Delay(d, inner) => *d >= Duration::from_secs(2) || inner.is_slow(),
            _ => false,
        }
    }
}

/// The reason phrase the status line carries.
#[must_use]
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        418 => "I'm a teapot",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}
