//! End-to-end tests of the `apiauth` binary against the emulator.
//!
//! One test binary (modules below) so the suite links once.

#![allow(clippy::unwrap_used)] // test fixtures: a failure here is a broken test

mod cache;
mod cc_catalog;
mod common;
mod errors;
mod jwt;
mod profiles;
mod providers;
mod secrets;
mod tokens;
mod transcripts;
