//! Helpers of the Redis store tests: the emulator, providers of both
//! drivers on a Redis store, fleet members as child processes, and a log
//! capture.
//!
//! A fleet member is this very test binary run again with `FLEET_ROLE`
//! set: `fleet_member` (a test every binary declares) then plays the role
//! instead of returning at once. It prints `ready`, waits for a line on
//! standard input (so every member starts together), plays, and prints one
//! `result {json}` line. Tokens never leave a member: it reports a digest.

#![allow(dead_code)] // each test binary uses a different subset

pub mod roles;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use auth_core::{ClientAuth, ClientCredentials, OAuth2, RefreshPolicy};
use auth_emulator::{demo, BlockingEmulator, EmulatorConfig, Scheme};
use auth_redis::{AsyncRedisTokenStore, RedisConfig, RedisTokenStore};

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

/// A short digest of a token, for comparing tokens without showing them.
pub fn digest(token: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    token.hash(&mut h);
    format!("{:016x}", h.finish())
}

/// Short backoffs, as in the drivers' tests.
pub fn policy() -> RefreshPolicy {
    RefreshPolicy::default()
        .with_backoff_initial(Duration::from_millis(20))
        .with_backoff_max(Duration::from_millis(200))
        .with_max_wait(Duration::from_secs(2))
}

pub fn oauth2(token_url: &str) -> (OAuth2, ClientCredentials) {
    (
        OAuth2::new(token_url, ClientAuth::Basic).unwrap(),
        ClientCredentials::new(demo::OAUTH2_CLIENT_ID, demo::OAUTH2_CLIENT_SECRET).unwrap(),
    )
}

pub fn blocking_provider(
    token_url: &str,
    store: &RedisTokenStore,
    policy: RefreshPolicy,
    wait: Duration,
) -> auth_ureq::TokenProvider {
    let (provider, credentials) = oauth2(token_url);
    // The request must fit in the wait limit: a blocking caller with less
    // time left hands its request to another thread, and the store lock
    // (the fleet lease) is released as it does (see docs/fleet.md).
    auth_ureq::TokenProvider::builder(provider, credentials)
        .scopes("read write".parse().unwrap())
        .policy(policy)
        .timeout(wait / 3)
        .wait_limit(wait)
        .store(Arc::new(store.clone()))
        .build()
        .unwrap()
}

pub fn async_provider(
    token_url: &str,
    store: &AsyncRedisTokenStore,
    policy: RefreshPolicy,
    wait: Duration,
) -> auth_reqwest::TokenProvider {
    let (provider, credentials) = oauth2(token_url);
    auth_reqwest::TokenProvider::builder(provider, credentials)
        .scopes("read write".parse().unwrap())
        .policy(policy)
        .timeout(wait / 3)
        .wait_limit(wait)
        .store(Arc::new(store.clone()))
        .build()
        .unwrap()
}

/// What one member did.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub ok: u64,
    pub errors: Vec<String>,
    pub tokens: BTreeSet<String>,
    /// Slowest `token()` call, in ms.
    pub max_ms: u64,
    pub extra: serde_json::Value,
}

impl Report {
    pub fn to_line(&self) -> String {
        let v = serde_json::json!({
            "ok": self.ok,
            "errors": self.errors,
            "tokens": self.tokens,
            "max_ms": self.max_ms,
            "extra": self.extra,
        });
        format!("result {v}")
    }

    fn parse(line: &str) -> Report {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        Report {
            ok: v["ok"].as_u64().unwrap(),
            errors: v["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e.as_str().unwrap().to_owned())
                .collect(),
            tokens: v["tokens"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e.as_str().unwrap().to_owned())
                .collect(),
            max_ms: v["max_ms"].as_u64().unwrap(),
            extra: v["extra"].clone(),
        }
    }

    /// Adds one `token()` outcome.
    pub fn record<E: std::fmt::Display>(
        &mut self,
        outcome: Result<Arc<auth_core::Token>, E>,
        took: Duration,
    ) {
        match outcome {
            Ok(t) => {
                self.ok += 1;
                self.tokens.insert(digest(t.access_token().expose_secret()));
            }
            Err(e) => self.errors.push(e.to_string()),
        }
        self.max_ms = self.max_ms.max(u64::try_from(took.as_millis()).unwrap());
    }

    pub fn merge(&mut self, other: Report) {
        self.ok += other.ok;
        self.errors.extend(other.errors);
        self.tokens.extend(other.tokens);
        self.max_ms = self.max_ms.max(other.max_ms);
    }
}

/// A fleet member: a child process playing `role`.
pub struct Member {
    pub child: Child,
    stdin: Option<ChildStdin>,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Member {
    pub fn spawn(role: &str, env: &[(&str, String)]) -> Member {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args(["--exact", "fleet_member", "--nocapture", "--test-threads=1"])
            .env("FLEET_ROLE", role)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Member {
            stdin: child.stdin.take(),
            child,
            lines: rx,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the member's `ready` line.
    pub fn ready(&self) {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                // libtest may have written `test fleet_member ... ` first.
                Ok(line) if line.trim_end().ends_with("ready") => return,
                Ok(_) => {}
                Err(e) => panic!("member {} never got ready: {e}", self.pid()),
            }
        }
    }

    pub fn go(&mut self) {
        let mut stdin = self.stdin.take().unwrap();
        stdin.write_all(b"go\n").unwrap();
    }

    /// Waits for the member's report (and its exit).
    pub fn report(mut self, within: Duration) -> Report {
        let until = Instant::now() + within;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some((_, json)) = line.split_once("result {") {
                        let json = format!("{{{json}");
                        let report = Report::parse(&json);
                        let _ = self.child.wait();
                        return report;
                    }
                }
                Err(e) => {
                    let _ = self.child.kill();
                    panic!("member {} sent no report: {e}", self.child.id());
                }
            }
        }
    }

    pub fn kill(&mut self) {
        // SIGKILL, by pid.
        self.child.kill().unwrap();
        let _ = self.child.wait();
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Starts members and lets them go together.
pub fn start_all(role: &str, n: usize, env: &[(&str, String)]) -> Vec<Member> {
    let mut members: Vec<Member> = (0..n).map(|_| Member::spawn(role, env)).collect();
    for m in &members {
        m.ready();
    }
    for m in &mut members {
        m.go();
    }
    members
}

/// In a member: `ready`, then wait for the go line.
pub fn await_go() {
    println!("ready");
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
}

pub fn env_var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is set by the parent"))
}

pub fn env_ms(name: &str) -> Duration {
    Duration::from_millis(env_var(name).parse().unwrap())
}

pub fn ms(d: Duration) -> String {
    d.as_millis().to_string()
}

pub fn member_config(url: &str) -> RedisConfig {
    let mut config = RedisConfig::new(url).unwrap();
    if let Ok(lease) = std::env::var("FLEET_LEASE_MS") {
        config = config.with_lease_ttl(Duration::from_millis(lease.parse().unwrap()));
    }
    config
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
