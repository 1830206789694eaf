//! One module per command. Each prints its result on stdout and returns a
//! [`Failure`] for `lib.rs` to report.

use std::io::Write;

use clap::CommandFactory as _;

use crate::cli::{Cli, Command};
use crate::failure::Failure;

mod profile;
mod publish;
mod register;
mod request;
mod status;
mod token;

pub(crate) fn dispatch(cli: Cli) -> Result<(), Failure> {
    let profile = cli.profile.as_deref();
    let limit = std::time::Duration::from_secs(cli.timeout);
    if matches!(
        cli.command,
        Command::Register(_)
            | Command::Token(_)
            | Command::Status(_)
            | Command::Request(_)
            | Command::PublishToken(_)
    ) {
        crate::deadline::start(limit);
    }
    match cli.command {
        Command::Register(args) => register::run(profile, &args),
        Command::Profile(cmd) => profile::run(profile, cmd),
        Command::Token(args) => token::run(profile, &args),
        Command::Status(args) => status::run(profile, &args),
        Command::Request(args) => request::run(profile, &args),
        Command::PublishToken(args) => publish::run(profile, &args),
        Command::Completions { shell } => {
            // Into a buffer first: clap_complete panics on a write error,
            // and `apiauth completions bash | head` closes the pipe early.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "apiauth", &mut script);
            let mut out = std::io::stdout().lock();
            out.write_all(&script)
                .and_then(|()| out.flush())
                .map_err(write_failed)
        }
    }
}

/// Standard output could not be written. A closed pipe (`… | head`) means
/// the reader has what it wanted: fail quietly, as `cat` does.
pub(crate) fn write_failed(e: std::io::Error) -> Failure {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        return Failure::quiet(crate::exit::OTHER);
    }
    Failure::new(
        crate::exit::OTHER,
        format!("could not write the output: {e}"),
    )
}

/// Writes `text` and a newline to stdout.
pub(crate) fn print_line(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(write_failed)
}
