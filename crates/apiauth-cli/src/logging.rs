//! Library log events on stderr, as `apiauth: warning: …` lines.
//!
//! The libraries report through `tracing`. By default only warnings are
//! shown (a corrupt cache file that is being rewritten, a cache that could
//! not be written); `--verbose` adds the debug trail. The libraries never
//! put a secret in an event, so fields are printed as they come.
//!
//! A minimal subscriber rather than `tracing-subscriber`: one line per
//! event is all a command needs, and it keeps the binary small.

use std::fmt::{self, Write as _};
use std::io::Write as _;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Installs the stderr subscriber for this process.
pub(crate) fn install(verbose: bool) {
    // Fails only if one is installed already, which then keeps working.
    let _ = tracing::subscriber::set_global_default(Stderr { verbose });
}

struct Stderr {
    verbose: bool,
}

/// Warnings that repeat the error the command itself reports.
const ECHOES: &[&str] = &["token request failed", "token refresh failed"];

impl Subscriber for Stderr {
    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        let ours = meta.target().starts_with("auth_") || meta.target().starts_with("apiauth");
        let max = if self.verbose {
            Level::DEBUG
        } else {
            Level::WARN
        };
        ours && *meta.level() <= max
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        // Spans are not shown; every span gets the same id.
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut line = Line::default();
        event.record(&mut line);
        if !self.verbose && ECHOES.iter().any(|e| line.message.starts_with(e)) {
            return;
        }
        let level = match *event.metadata().level() {
            Level::ERROR => "error",
            Level::WARN => "warning",
            Level::INFO => "info",
            _ => "debug",
        };
        let mut out = format!("apiauth: {level}: {}", line.message);
        if !line.fields.is_empty() {
            let _ = write!(out, " ({})", line.fields);
        }
        let _ = writeln!(std::io::stderr().lock(), "{out}");
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

#[derive(Default)]
struct Line {
    message: String,
    fields: String,
}

impl Visit for Line {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, format_args!("{value:?}"));
    }
}

impl Line {
    fn push(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        if field.name() == "message" {
            let _ = self.message.write_fmt(value);
            return;
        }
        if !self.fields.is_empty() {
            self.fields.push_str(", ");
        }
        let _ = write!(self.fields, "{}: {value}", field.name());
    }
}
