//! Fleet members as child processes: the Redis store's tests and the
//! fleet benchmark run the same members, so both measure one thing.
//!
//! A member is a binary run again with `FLEET_ROLE` set; the binary calls
//! [`play_if_member`] first, which plays the role instead of returning. A
//! member prints `ready`, waits for a line on standard input (so every
//! member starts together), plays, and prints one `result {json}` line.
//! Tokens never leave a member: it reports a digest.
//!
//! The plan comes from the environment: `FLEET_REDIS`, `FLEET_TOKEN_URL`,
//! `FLEET_CALLERS`, `FLEET_WAIT_MS`; optional `FLEET_RUN_MS` and
//! `FLEET_EVERY_MS` (steady load), `FLEET_LEASE_MS`,
//! `FLEET_NO_REFRESH_AHEAD`, and `FLEET_NO_STORE` (the baseline: no shared
//! store at all).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use auth_core::{ClientAuth, ClientCredentials, OAuth2, RefreshPolicy};
use auth_emulator::demo;
use auth_redis::{AsyncRedisTokenStore, RedisConfig, RedisTokenStore};

/// A short digest of a token, for comparing tokens without showing them.
#[must_use]
pub fn digest(token: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    token.hash(&mut h);
    format!("{:016x}", h.finish())
}

/// Short backoffs, as in the drivers' tests.
#[must_use]
pub fn policy() -> RefreshPolicy {
    RefreshPolicy::default()
        .with_backoff_initial(Duration::from_millis(20))
        .with_backoff_max(Duration::from_millis(200))
        .with_max_wait(Duration::from_secs(2))
}

/// The emulator's OAuth 2.0 demo client at `token_url`.
#[must_use]
pub fn oauth2(token_url: &str) -> (OAuth2, ClientCredentials) {
    (
        OAuth2::new(token_url, ClientAuth::Basic).unwrap(),
        ClientCredentials::new(demo::OAUTH2_CLIENT_ID, demo::OAUTH2_CLIENT_SECRET).unwrap(),
    )
}

/// A blocking provider on `store` (none: the no-store baseline).
#[must_use]
pub fn blocking_provider(
    token_url: &str,
    store: Option<&RedisTokenStore>,
    policy: RefreshPolicy,
    wait: Duration,
) -> auth_ureq::TokenProvider {
    let (provider, credentials) = oauth2(token_url);
    // The request must fit in the wait limit: a blocking caller with less
    // time left hands its request to another thread, and the store lock
    // (the fleet lease) is released as it does (see docs/fleet.md).
    let builder = auth_ureq::TokenProvider::builder(provider, credentials)
        .scopes("read write".parse().unwrap())
        .policy(policy)
        .timeout(wait / 3)
        .wait_limit(wait);
    match store {
        Some(store) => builder.store(Arc::new(store.clone())),
        None => builder,
    }
    .build()
    .unwrap()
}

/// An async provider on `store` (none: the no-store baseline).
#[must_use]
pub fn async_provider(
    token_url: &str,
    store: Option<&AsyncRedisTokenStore>,
    policy: RefreshPolicy,
    wait: Duration,
) -> auth_reqwest::TokenProvider {
    let (provider, credentials) = oauth2(token_url);
    let builder = auth_reqwest::TokenProvider::builder(provider, credentials)
        .scopes("read write".parse().unwrap())
        .policy(policy)
        .timeout(wait / 3)
        .wait_limit(wait);
    match store {
        Some(store) => builder.store(Arc::new(store.clone())),
        None => builder,
    }
    .build()
    .unwrap()
}

/// What one member did.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Calls that got a token.
    pub ok: u64,
    /// Every failed call's message.
    pub errors: Vec<String>,
    /// Digests of the tokens handed out.
    pub tokens: BTreeSet<String>,
    /// Slowest `token()` call, in ms.
    pub max_ms: u64,
    /// Role-specific facts (the store's health).
    pub extra: serde_json::Value,
}

impl Report {
    /// The `result {json}` line a member prints.
    #[must_use]
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
        let strings = |key: &str| -> Vec<String> {
            v[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e.as_str().unwrap().to_owned())
                .collect()
        };
        Report {
            ok: v["ok"].as_u64().unwrap(),
            errors: strings("errors"),
            tokens: strings("tokens").into_iter().collect(),
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

    /// Adds another member's report.
    pub fn merge(&mut self, other: Report) {
        self.ok += other.ok;
        self.errors.extend(other.errors);
        self.tokens.extend(other.tokens);
        self.max_ms = self.max_ms.max(other.max_ms);
    }
}

/// A fleet member: a child process playing a role.
#[derive(Debug)]
pub struct Member {
    /// The child process.
    pub child: Child,
    stdin: Option<ChildStdin>,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Member {
    /// Runs this binary again with `args` (which must reach
    /// [`play_if_member`]) as a member playing `role` (`async` or
    /// `blocking`), with `env` added to its environment.
    #[must_use]
    pub fn spawn(args: &[&str], role: &str, env: &[(&str, String)]) -> Member {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args(args)
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

    /// The member's pid.
    #[must_use]
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

    /// Lets the member start.
    pub fn go(&mut self) {
        let mut stdin = self.stdin.take().unwrap();
        stdin.write_all(b"go\n").unwrap();
    }

    /// Waits for the member's report (and its exit).
    #[must_use]
    pub fn report(mut self, within: Duration) -> Report {
        let until = Instant::now() + within;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some((_, json)) = line.split_once("result {") {
                        let report = Report::parse(&format!("{{{json}"));
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

    /// SIGKILL, by pid.
    pub fn kill(&mut self) {
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

/// Starts `n` members and lets them go together.
#[must_use]
pub fn start_all(args: &[&str], role: &str, n: usize, env: &[(&str, String)]) -> Vec<Member> {
    let mut members: Vec<Member> = (0..n).map(|_| Member::spawn(args, role, env)).collect();
    for m in &members {
        m.ready();
    }
    for m in &mut members {
        m.go();
    }
    members
}

/// Waits for every member's report, within `within` each, and merges them.
#[must_use]
pub fn gather(members: Vec<Member>, within: Duration) -> Report {
    let mut all = Report::default();
    for m in members {
        all.merge(m.report(within));
    }
    all
}

/// Milliseconds, as the `FLEET_*_MS` variables take them.
#[must_use]
pub fn ms(d: Duration) -> String {
    d.as_millis().to_string()
}

/// Plays `FLEET_ROLE` if this process is a fleet member, and returns
/// whether it did; returns `false` at once otherwise.
pub fn play_if_member() -> bool {
    let Ok(role) = std::env::var("FLEET_ROLE") else {
        return false;
    };
    // Warnings (and the store's notices) on stderr, which the parent shows.
    let _ = tracing_subscriber::fmt()
        .with_max_level(
            std::env::var("FLEET_LOG")
                .ok()
                .and_then(|l| l.parse().ok())
                .unwrap_or(tracing::Level::INFO),
        )
        .with_writer(|| PidWriter)
        .with_ansi(false)
        .try_init();
    let report = match role.as_str() {
        "async" => async_member(),
        "blocking" => blocking_member(),
        other => panic!("unknown role {other}"),
    };
    println!("{}", report.to_line());
    std::io::stdout().flush().unwrap();
    true
}

fn await_go() {
    println!("ready");
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
}

fn env_var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is set by the parent"))
}

fn env_ms(name: &str) -> Duration {
    Duration::from_millis(env_var(name).parse().unwrap())
}

/// The store configuration a member uses (`FLEET_LEASE_MS` sets the lease).
#[must_use]
pub fn member_config(url: &str) -> RedisConfig {
    let mut config = RedisConfig::new(url).unwrap();
    if let Ok(lease) = std::env::var("FLEET_LEASE_MS") {
        config = config.with_lease_ttl(Duration::from_millis(lease.parse().unwrap()));
    }
    config
}

/// `FLEET_CALLERS` callers; each asks once, or — with `FLEET_RUN_MS` —
/// every `FLEET_EVERY_MS` until the run ends (steady load).
struct Plan {
    redis: Option<String>,
    token_url: String,
    callers: usize,
    wait: Duration,
    run: Option<Duration>,
    every: Duration,
    policy: RefreshPolicy,
}

impl Plan {
    fn from_env() -> Plan {
        let mut policy = policy();
        if std::env::var("FLEET_NO_REFRESH_AHEAD").is_ok() {
            policy = policy
                .with_refresh_ahead(Duration::ZERO)
                .with_refresh_jitter(0.0);
        }
        Plan {
            redis: match std::env::var("FLEET_NO_STORE") {
                Ok(_) => None,
                Err(_) => Some(env_var("FLEET_REDIS")),
            },
            token_url: env_var("FLEET_TOKEN_URL"),
            callers: env_var("FLEET_CALLERS").parse().unwrap(),
            wait: env_ms("FLEET_WAIT_MS"),
            run: std::env::var("FLEET_RUN_MS")
                .ok()
                .map(|_| env_ms("FLEET_RUN_MS")),
            every: std::env::var("FLEET_EVERY_MS")
                .map_or(Duration::from_millis(20), |_| env_ms("FLEET_EVERY_MS")),
            policy,
        }
    }

    /// Whether a caller that started its loop at `started` asks again.
    fn again(&self, started: Instant) -> bool {
        self.run.is_some_and(|run| started.elapsed() < run)
    }
}

fn async_member() -> Report {
    let plan = Arc::new(Plan::from_env());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let store = match &plan.redis {
            Some(url) => Some(AsyncRedisTokenStore::new(member_config(url)).await.unwrap()),
            None => None,
        };
        let tokens = async_provider(
            &plan.token_url,
            store.as_ref(),
            plan.policy.clone(),
            plan.wait,
        );
        await_go();
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..plan.callers {
            let (tokens, plan) = (tokens.clone(), Arc::clone(&plan));
            tasks.push(tokio::spawn(async move {
                let mut report = Report::default();
                loop {
                    let t0 = Instant::now();
                    let outcome = tokens.token().await;
                    report.record(outcome, t0.elapsed());
                    if !plan.again(started) {
                        return report;
                    }
                    tokio::time::sleep(plan.every).await;
                }
            }));
        }
        let mut report = Report::default();
        for t in tasks {
            report.merge(t.await.unwrap());
        }
        report.extra = serde_json::json!({
            "healthy": store.as_ref().is_some_and(AsyncRedisTokenStore::is_healthy),
            "shared": store.as_ref().is_some_and(AsyncRedisTokenStore::is_shared),
        });
        report
    })
}

fn blocking_member() -> Report {
    let plan = Arc::new(Plan::from_env());
    let store = plan
        .redis
        .as_ref()
        .map(|url| RedisTokenStore::new(member_config(url)).unwrap());
    let tokens = blocking_provider(
        &plan.token_url,
        store.as_ref(),
        plan.policy.clone(),
        plan.wait,
    );
    await_go();
    let started = Instant::now();
    let threads: Vec<_> = (0..plan.callers)
        .map(|_| {
            let (tokens, plan) = (tokens.clone(), Arc::clone(&plan));
            std::thread::spawn(move || {
                let mut report = Report::default();
                loop {
                    let t0 = Instant::now();
                    let outcome = tokens.token();
                    report.record(outcome, t0.elapsed());
                    if !plan.again(started) {
                        return report;
                    }
                    std::thread::sleep(plan.every);
                }
            })
        })
        .collect();
    let mut report = Report::default();
    for t in threads {
        report.merge(t.join().unwrap());
    }
    report.extra = serde_json::json!({
        "healthy": store.as_ref().is_some_and(RedisTokenStore::is_healthy),
        "shared": store.as_ref().is_some_and(RedisTokenStore::is_shared),
    });
    report
}

/// stderr, each write prefixed with the member's pid.
struct PidWriter;

impl Write for PidWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut line = format!("[{}] ", std::process::id()).into_bytes();
        line.extend_from_slice(buf);
        std::io::stderr().write_all(&line)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
