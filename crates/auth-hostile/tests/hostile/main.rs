//! The hostile suite: every case of `auth_hostile::cases::all` against the
//! async driver, the blocking driver and the `apiauth` binary, in one test
//! binary so the three runners overlap their waits.
//!
//! One case: `HOSTILE_CASE=oauth2-basic/echo-form-plus cargo test -p auth-hostile --test hostile`
//! (add `ureq`, `reqwest` or `cli` after `--test hostile` for one runner).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli;
mod common;
mod drivers;
mod leak_check;
