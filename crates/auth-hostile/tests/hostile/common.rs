//! What the three runners share: running cases side by side, capturing
//! logs, sorting a driver's error into a [`Class`], settling the verdicts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use auth_core::{OAuthErrorCode, TransportErrorKind};
use auth_hostile::{settle, Case, Class, Kind, Runner, Verdict};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Runs `run` on every case and returns the verdicts in the table's order.
/// Slow cases (they wait for a timeout, using no CPU) each get a thread of
/// their own at once; the quick ones share `threads` workers.
pub fn run_all(
    cases: &[Case],
    threads: usize,
    run: impl Fn(&Case) -> Vec<String> + Sync,
) -> Vec<Verdict> {
    let (slow, quick): (Vec<usize>, Vec<usize>) =
        (0..cases.len()).partition(|&i| cases[i].is_slow());
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Vec<String>>>> = Mutex::new(vec![None; cases.len()]);
    let one = |i: usize| {
        let failures = match catch_unwind(AssertUnwindSafe(|| run(&cases[i]))) {
            Ok(f) => f,
            Err(p) => vec![format!("the runner itself panicked: {}", panic_text(&*p))],
        };
        results.lock().unwrap()[i] = Some(failures);
    };
    std::thread::scope(|s| {
        for &i in &slow {
            let one = &one;
            s.spawn(move || one(i));
        }
        for _ in 0..threads.min(quick.len()).max(1) {
            s.spawn(|| loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let Some(&i) = quick.get(n) else { break };
                one(i);
            });
        }
    });
    let results = results.into_inner().unwrap();
    cases
        .iter()
        .zip(results)
        .map(|(c, f)| Verdict {
            case: c.name.clone(),
            failures: f.unwrap_or_else(|| vec!["never ran".into()]),
        })
        .collect()
}

/// Prints the report and fails the test unless every failure is a known one
/// and every known one still fails.
pub fn finish(runner: Runner, verdicts: &[Verdict], complete: bool, started: Instant) {
    let outcome = settle(runner, verdicts, complete);
    let took = format!("{}: ran in {:.1?}\n", runner.label(), started.elapsed());
    match outcome {
        Ok(report) => println!("{took}{report}"),
        Err(report) => panic!("{took}{report}"),
    }
}

/// With `HOSTILE_VERBOSE` set, prints what a run said, passing or not.
pub fn show(runner: Runner, case: &Case, what: &str) {
    if std::env::var_os("HOSTILE_VERBOSE").is_some() {
        println!("{}:{}: {}", runner.label(), case.name, what.escape_debug());
    }
}

/// The text of a panic payload.
pub fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic".into())
}

/// Runs `f` on its own thread; gives up on it after `limit` (it is then
/// left to finish alone). `Err` holds the panic message or "hung".
pub fn on_thread<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("hostile-case".into())
        .spawn(move || {
            let r = catch_unwind(AssertUnwindSafe(f)).map_err(|p| panic_text(&*p));
            let _ = tx.send(r);
        });
    if let Err(e) = spawned {
        return Err(format!("could not start a thread: {e}"));
    }
    match rx.recv_timeout(limit) {
        Ok(r) => r,
        Err(_) => Err(format!("hung: no outcome within {limit:?}")),
    }
}

/// The family of a driver error.
pub fn classify(e: &auth_cell::Error) -> Class {
    use auth_core::Error as E;
    match e {
        auth_cell::Error::Auth(core) => match core {
            E::Rejected(o) => match o.code {
                OAuthErrorCode::InvalidClient
                | OAuthErrorCode::UnauthorizedClient
                | OAuthErrorCode::InvalidGrant => Class::Credentials,
                OAuthErrorCode::InvalidScope => Class::Scope,
                OAuthErrorCode::InvalidRequest | OAuthErrorCode::UnsupportedGrantType => {
                    Class::BadRequest
                }
                _ => Class::OtherCode,
            },
            E::RateLimited { .. } => Class::RateLimited,
            E::Server { .. } => Class::Server,
            E::Transport { kind, .. } => Class::Transport(kind_of(*kind)),
            E::MalformedResponse { .. } => Class::Malformed,
            E::UnexpectedStatus { status, .. } if status.is_redirection() => Class::Redirect,
            E::UnexpectedStatus { status, .. } => Class::Status(status.as_u16()),
            E::KeyStatusFailed { status, .. } => match status.as_u16() {
                401 | 403 => Class::Credentials,
                429 => Class::RateLimited,
                300..=399 => Class::Redirect,
                500..=599 => Class::Server,
                s => Class::Status(s),
            },
            E::UnsupportedTokenType { .. } => Class::TokenType,
            E::Registration { .. } => Class::Registration,
            E::InvalidScope { .. } => Class::Scope,
            E::InvalidConfig(_) => Class::Config,
            other => Class::Unknown(variant(other)),
        },
        auth_cell::Error::Transport { kind, .. } => Class::Transport(kind_of(*kind)),
        auth_cell::Error::WaitTimeout(_) => Class::WaitTimeout,
        other => Class::Unknown(variant(other)),
    }
}

fn variant(e: &impl std::fmt::Debug) -> String {
    let d = format!("{e:?}");
    d.split(['(', ' ', '{']).next().unwrap_or("").to_owned()
}

fn kind_of(k: TransportErrorKind) -> Kind {
    match k {
        TransportErrorKind::Connect => Kind::Connect,
        TransportErrorKind::Timeout => Kind::Timeout,
        TransportErrorKind::Reset => Kind::Reset,
        TransportErrorKind::Body => Kind::Body,
        TransportErrorKind::BodyTooLarge => Kind::TooLarge,
        TransportErrorKind::Tls => Kind::Tls,
        TransportErrorKind::Protocol => Kind::Protocol,
        _ => Kind::Other,
    }
}

/// A `tracing` subscriber that keeps every event and span, all levels, as
/// raw text: field values as the library gave them (`%` fields unescaped),
/// so the checks see exactly what a log line would hold.
#[derive(Clone, Default)]
pub struct LogCapture {
    lines: Arc<Mutex<Vec<String>>>,
    next_id: Arc<AtomicUsize>,
}

impl LogCapture {
    /// Every event and span recorded, one string each.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Runs `f` with this subscriber as the thread's default (threads the
    /// drivers start inherit it).
    pub fn during<T>(&self, f: impl FnOnce() -> T) -> T {
        tracing::subscriber::with_default(self.clone(), f)
    }

    fn push(&self, line: String) {
        self.lines.lock().unwrap().push(line);
    }
}

#[derive(Default)]
struct Fields(String);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={}", field.name(), value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
}

impl Subscriber for LogCapture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut f = Fields::default();
        span.record(&mut f);
        let meta = span.metadata();
        self.push(format!("span {} {}:{}", meta.target(), meta.name(), f.0));
        Id::from_u64(self.next_id.fetch_add(1, Ordering::Relaxed) as u64 + 1)
    }

    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut f = Fields::default();
        values.record(&mut f);
        self.push(format!("span record:{}", f.0));
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut f = Fields::default();
        event.record(&mut f);
        let meta = event.metadata();
        self.push(format!("{} {}:{}", meta.level(), meta.target(), f.0));
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}
