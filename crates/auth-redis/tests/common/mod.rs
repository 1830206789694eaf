//! Helpers of the Redis store tests: the emulator, fleet members (from
//! `auth_redis_testing::fleet`, shared with the fleet benchmark) and a log
//! capture.
//!
//! A fleet member is this very test binary run again with `FLEET_ROLE`
//! set: `fleet_member` (a test every binary declares) then plays the role
//! instead of returning at once.

#![allow(dead_code)] // each test binary uses a different subset

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth_emulator::{BlockingEmulator, EmulatorConfig, Scheme};
#[allow(unused_imports)] // each test binary uses a different subset
pub use auth_redis_testing::fleet::{
    async_provider, blocking_provider, digest, gather, member_config, ms, oauth2, play_if_member,
    policy, Member, Report,
};

/// How libtest runs the `fleet_member` entry point alone.
pub const MEMBER: &[&str] = &["--exact", "fleet_member", "--nocapture", "--test-threads=1"];

/// Heavy tests take this so they do not share the two cores.
pub static HEAVY: Mutex<()> = Mutex::new(());

pub fn heavy() -> std::sync::MutexGuard<'static, ()> {
    HEAVY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub fn emulator(lifetime: Duration) -> BlockingEmulator {
    let emu = BlockingEmulator::start(EmulatorConfig::default()).expect("emulator starts");
    emu.set_lifetime(Scheme::Oauth2, lifetime).unwrap();
    emu
}

pub fn token_requests(emu: &BlockingEmulator) -> u64 {
    emu.counters().token_total(Scheme::Oauth2)
}

/// A member of this test binary playing `role`.
pub fn member(role: &str, env: &[(&str, String)]) -> Member {
    Member::spawn(MEMBER, role, env)
}

/// Starts members of this test binary and lets them go together.
pub fn start_all(role: &str, n: usize, env: &[(&str, String)]) -> Vec<Member> {
    auth_redis_testing::fleet::start_all(MEMBER, role, n, env)
}

/// Log lines written while the capture is installed (this thread only).
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Installs a TRACE subscriber for the current thread.
    pub fn capture(&self) -> tracing::subscriber::DefaultGuard {
        let logs = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || LogWriter(logs.clone()))
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }
}

struct LogWriter(Logs);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 .0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
