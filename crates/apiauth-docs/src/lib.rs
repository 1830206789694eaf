//! # apiauth-docs: the Markdown pages, compiled
//!
//! Each module below is one page of the repository's documentation,
//! included verbatim as its doc comment, so `cargo test -p apiauth-docs`
//! (and `cargo test --workspace`, which `cargo xtask ci` runs) compiles
//! every ` ```rust ` block of README.md and docs/*.md as a doctest, and
//! runs those not marked `no_run` (the ones that would need a real server
//! or credentials are compiled only).
//!
//! Rules the pages follow (checked by `tests/pages.rs`):
//!
//! - every fenced block names its language; text that is not Rust gets
//!   `text`, `sh`, `console`, `toml` or `json`, never a bare fence (rustdoc
//!   would compile it as Rust);
//! - a page whose Rust uses a crate shows it in a ` ```toml ` dependency
//!   block, and workspace crates there are path (or git) dependencies:
//!   they are not on crates.io;
//! - hidden `# ` lines carry only boilerplate, never a `use` the reader
//!   needs.
//!
//! The crate has no code of its own and is never published.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[doc = include_str!("../../../README.md")]
pub mod readme {}

#[doc = include_str!("../../../docs/architecture.md")]
pub mod architecture {}

#[doc = include_str!("../../../docs/cli.md")]
pub mod cli {}

#[doc = include_str!("../../../docs/emulator.md")]
pub mod emulator {}

#[doc = include_str!("../../../docs/fleet.md")]
pub mod fleet {}

#[doc = include_str!("../../../docs/getting-started-async.md")]
pub mod getting_started_async {}

#[doc = include_str!("../../../docs/getting-started-blocking.md")]
pub mod getting_started_blocking {}

#[doc = include_str!("../../../docs/observability.md")]
pub mod observability {}

#[doc = include_str!("../../../docs/performance.md")]
pub mod performance {}

#[doc = include_str!("../../../docs/providers.md")]
pub mod providers {}

#[doc = include_str!("../../../docs/security.md")]
pub mod security {}
