//! Judging one run of one case: what every runner must check, written
//! once. A runner observes (outcome, texts, time); [`judge`] says what is
//! wrong with it.

use std::time::Duration;

use crate::cases::{Case, Endpoint, STOLEN};
use crate::expect::{Class, Expect};
use crate::oracle::{forged_lines, terminal_hazards, Oracle};
use crate::server::HostileServer;

/// Who ran the case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Runner {
    /// The async driver, `auth-reqwest`.
    Reqwest,
    /// The blocking driver, `auth-ureq`.
    Ureq,
    /// The `apiauth` binary.
    Cli,
}

impl Runner {
    /// `reqwest`, `ureq` or `cli`: the prefix of [`crate::KNOWN_FAILING`] keys.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Runner::Reqwest => "reqwest",
            Runner::Ureq => "ureq",
            Runner::Cli => "cli",
        }
    }
}

/// How a text is checked for terminal hazards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Terminal {
    /// Not at all (a body the program prints as received, by design).
    Skip,
    /// Program output: its own newlines are fine, nothing else.
    Lines,
    /// One message: no control character at all.
    OneLine,
}

/// A text a run produced, to be searched for secrets.
#[derive(Clone, Debug)]
pub struct Text {
    /// Where it came from, for the report.
    pub place: String,
    /// The text.
    pub text: String,
    /// Whether the legitimately issued token may appear (stdout of
    /// `apiauth token`, the token cache file).
    pub may_hold_token: bool,
    /// The terminal check it gets.
    pub terminal: Terminal,
}

impl Text {
    /// A text checked by `terminal`, which must not hold any token.
    #[must_use]
    pub fn new(place: impl Into<String>, text: impl Into<String>, terminal: Terminal) -> Self {
        Self {
            place: place.into(),
            text: text.into(),
            may_hold_token: false,
            terminal,
        }
    }

    /// Allows the legitimately issued token in this text.
    #[must_use]
    pub fn with_token(mut self) -> Self {
        self.may_hold_token = true;
        self
    }
}

/// What a runner saw.
#[derive(Clone, Debug)]
pub struct Observed {
    /// The outcome's family (the CLI: `Ok` on exit 0, else `Unknown`).
    pub class: Class,
    /// `is_retryable()` of a driver's error.
    pub retryable: bool,
    /// The error's `Display`, or the CLI's stderr.
    pub message: String,
    /// Every text produced.
    pub texts: Vec<Text>,
    /// The token returned or printed, if any.
    pub token: Option<String>,
    /// The status of an API answer handed back.
    pub api_status: Option<u16>,
    /// The CLI's exit code.
    pub exit_code: Option<i32>,
    /// How long the run took.
    pub elapsed: Duration,
    /// The panic message, if the run panicked.
    pub panicked: Option<String>,
}

impl Observed {
    /// An observation with nothing in it yet.
    #[must_use]
    pub fn new(class: Class, elapsed: Duration) -> Self {
        Self {
            class,
            retryable: false,
            message: String::new(),
            texts: Vec::new(),
            token: None,
            api_status: None,
            exit_code: None,
            elapsed,
            panicked: None,
        }
    }
}

/// Everything wrong with `obs`, a run of `case` by `runner` against
/// `server`, bounded by `bound`. Empty when the run is right.
#[must_use]
pub fn judge(
    case: &Case,
    runner: Runner,
    server: &HostileServer,
    obs: &Observed,
    bound: Duration,
) -> Vec<String> {
    let mut bad = Vec::new();
    let expect = &case.expect;
    if let Some(p) = &obs.panicked {
        bad.push(format!("panicked: {p}"));
    }
    if obs.elapsed > bound {
        bad.push(format!(
            "took {:.1?}, more than the bound of {bound:?}",
            obs.elapsed
        ));
    }

    // The outcome's family.
    let failed = match obs.exit_code {
        Some(code) => {
            if code == 101 || obs.message.contains("panicked") {
                bad.push(format!("the CLI panicked (exit {code})"));
            }
            let codes = expect.exit_codes();
            if !codes.contains(&code) {
                bad.push(format!(
                    "exit {code}, expected {codes:?} for {expect:?}; stderr: {}",
                    obs.message.trim().escape_debug()
                ));
            }
            code != 0
        }
        None => {
            if !expect.accepts(&obs.class, &obs.message, obs.retryable) {
                bad.push(format!(
                    "got {:?} (retryable: {}), expected {expect:?}: {}",
                    obs.class,
                    obs.retryable,
                    obs.message.escape_debug()
                ));
            }
            obs.class != Class::Ok
        }
    };

    // No unusable token accepted.
    let legit = case.legit_token();
    let issued = case.issued_tokens();
    if let Some(token) = &obs.token {
        if case.bait.contains(token) {
            bad.push(format!("accepted the unusable token {token}"));
        } else if wants_token(expect) && *token != legit {
            bad.push(format!(
                "returned {token:?}, not the token issued ({legit})"
            ));
        }
    }
    if !failed && !expect.allows_success() && obs.panicked.is_none() {
        bad.push(format!(
            "succeeded, but {expect:?} was expected (token {:?})",
            obs.token
        ));
    }
    if let (Expect::ApiStatus { status, .. }, Some(got), None) =
        (expect, obs.api_status, obs.exit_code)
    {
        if *status != got {
            bad.push(format!("the API status handed back is {got}, not {status}"));
        }
    }

    // The message names what was wrong, and nothing misleading.
    if failed {
        let lower = obs.message.to_ascii_lowercase();
        let mut groups = expect.mentions();
        groups.extend(case.mention.iter().cloned());
        for group in groups {
            if !group
                .iter()
                .any(|w| lower.contains(&w.to_ascii_lowercase()))
            {
                bad.push(format!(
                    "the message names none of {group:?}: {}",
                    obs.message.trim().escape_debug()
                ));
            }
        }
        for phrase in expect
            .forbids()
            .into_iter()
            .chain(case.forbid.iter().copied())
        {
            if lower.contains(&phrase.to_ascii_lowercase()) {
                bad.push(format!(
                    "the message says {phrase:?}: {}",
                    obs.message.trim().escape_debug()
                ));
            }
        }
    }

    // The CLI names the endpoint that answered (or did not), so a person
    // knows which of a profile's URLs to check.
    if failed && runner == Runner::Cli && names_endpoint(expect) {
        let host = server.base_url().trim_start_matches("http://");
        if !obs.message.contains(host) {
            bad.push(format!(
                "the message does not name the endpoint ({host}): {}",
                obs.message.trim().escape_debug()
            ));
        }
    }

    // No secret in any form, anywhere; nothing a terminal would act on.
    let oracle = case.oracle();
    let mut token_oracle = Oracle::new();
    for t in &issued {
        token_oracle.token("issued access token", t);
    }
    for t in &obs.texts {
        for leak in oracle.find(&t.text) {
            bad.push(format!("{}: {leak}", t.place));
        }
        if !t.may_hold_token {
            for leak in token_oracle.find(&t.text) {
                bad.push(format!("{}: {leak}", t.place));
            }
        }
        let hazards = match t.terminal {
            Terminal::Skip => Vec::new(),
            Terminal::Lines => terminal_hazards(&t.text, true),
            Terminal::OneLine => terminal_hazards(&t.text, false),
        };
        if let Some(first) = hazards.first() {
            bad.push(format!(
                "{}: {} terminal control character(s), first {first}",
                t.place,
                hazards.len()
            ));
        }
        if t.terminal != Terminal::Skip {
            for line in forged_lines(&t.text) {
                bad.push(format!(
                    "{}: a server forged the line {:?}",
                    t.place,
                    line.escape_debug().to_string()
                ));
            }
        }
    }

    // Bounded retries; redirects never followed with a secret.
    let followups = usize::from(case.followup.is_some() && runner == Runner::Cli);
    let target = case.endpoint.target();
    let hits = server.hits(target);
    let max = case.max_hits + followups;
    if hits > max {
        bad.push(format!(
            "{target} got {hits} requests, at most {max} allowed"
        ));
    }
    if let Some(route) = case.endpoint.token_route().filter(|r| *r != target) {
        let token_hits = server.hits(route);
        if token_hits > 2 {
            bad.push(format!(
                "{route} got {token_hits} token requests for one call, at most 2 allowed"
            ));
        }
    }
    for r in server.requests() {
        if !r.path.starts_with(STOLEN) {
            continue;
        }
        if case.endpoint != Endpoint::Api {
            bad.push(format!("followed a redirect to {}", r.target));
        } else if r.header("authorization").is_some() {
            bad.push(format!(
                "carried Authorization across origins to {}",
                r.target
            ));
        }
    }
    if case.endpoint.sends_secret() && hits > 0 {
        let secret = case.secret();
        let sent = server
            .requests()
            .iter()
            .any(|r| r.path == target && r.client_secret.as_deref() == Some(secret.as_str()));
        if !sent {
            bad.push(format!(
                "the server never found the client secret in a request to {target}: \
                 the case does not test what it claims"
            ));
        }
    }
    bad
}

/// Failures whose fix starts with knowing which URL misbehaved. (A
/// redirect names where it points, which is what a person must fix; a
/// timeout's fix is more time or later, and the CLI's watchdog, which
/// knows no URL, may be the one to report it.)
fn names_endpoint(expect: &Expect) -> bool {
    match expect {
        Expect::Protocol
        | Expect::Reset
        | Expect::Body
        | Expect::BrokenBody
        | Expect::Server
        | Expect::Malformed
        | Expect::Status(_)
        | Expect::TooLarge => true,
        Expect::Either(a, b) => names_endpoint(a) && names_endpoint(b),
        _ => false,
    }
}

fn wants_token(expect: &Expect) -> bool {
    match expect {
        Expect::Token => true,
        Expect::Either(a, b) => wants_token(a) || wants_token(b),
        _ => false,
    }
}
