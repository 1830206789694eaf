//! A real `redis-server` for tests: started on a free loopback port with a
//! temporary directory and no persistence, stopped by its pid when dropped.
//!
//! Tests never mock Redis: a store's behaviour under a slow, dead or
//! restarted server is only worth something against the real one. The
//! binary comes from the `redis-server` Debian package (`.ci/run` installs
//! it when missing); set `REDIS_SERVER` to use another one.
//!
//! ```no_run
//! let redis = auth_redis_testing::RedisServer::start();
//! assert!(redis.url().starts_with("redis://127.0.0.1:"));
//! redis.stop(); // as a crash would: the data is gone
//! redis.restart(); // same port, empty
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![allow(clippy::expect_used, clippy::unwrap_used)] // a fixture: a failure is a broken test setup

#[cfg(feature = "fleet")]
pub mod fleet;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A `redis-server` child process on `127.0.0.1:<port>`.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: tempfile::TempDir,
    child: Mutex<Option<Child>>,
    tls: Option<Tls>,
}

/// The TLS side of a server from [`RedisServer::start_tls`].
#[derive(Debug)]
struct Tls {
    port: u16,
    ca_pem: String,
}

impl RedisServer {
    /// Starts a server on a free loopback port and waits until it answers.
    ///
    /// # Panics
    ///
    /// If `redis-server` cannot be run or does not answer within 10 s.
    #[must_use]
    pub fn start() -> RedisServer {
        Self::start_with(false)
    }

    /// Starts a server that also serves TLS on a second port, with a
    /// certificate for `127.0.0.1` and `localhost` from a CA made for it:
    /// [`url`](Self::url) is then `rediss://…`, and [`ca_pem`](Self::ca_pem)
    /// the CA a client must trust. The plain port stays open for the
    /// fixture's own commands.
    ///
    /// # Panics
    ///
    /// As [`start`](Self::start), or if the certificates cannot be made.
    #[must_use]
    pub fn start_tls() -> RedisServer {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> RedisServer {
        // A port can be taken between the probe and the bind: try a few.
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("a temp dir for redis-server");
            let tls = tls.then(|| Tls {
                port: free_port(),
                ca_pem: certificates(dir.path()),
            });
            let server = RedisServer {
                port: free_port(),
                dir,
                child: Mutex::new(None),
                tls,
            };
            if server.spawn() {
                return server;
            }
        }
        panic!("redis-server did not start on any of 5 free ports");
    }

    /// The server's port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>/0`, or for a TLS server
    /// `rediss://127.0.0.1:<tls port>/0`.
    #[must_use]
    pub fn url(&self) -> String {
        match &self.tls {
            Some(tls) => format!("rediss://127.0.0.1:{}/0", tls.port),
            None => format!("redis://127.0.0.1:{}/0", self.port),
        }
    }

    /// The PEM of the CA that signed a TLS server's certificate.
    ///
    /// # Panics
    ///
    /// If the server was not started with [`start_tls`](Self::start_tls).
    #[must_use]
    pub fn ca_pem(&self) -> &str {
        &self.tls.as_ref().expect("a TLS server").ca_pem
    }

    /// Kills the server (SIGKILL, by pid) and waits for it: like a crash,
    /// every key is lost (nothing is persisted).
    pub fn stop(&self) {
        if let Some(mut child) = self.child.lock().unwrap().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, empty.
    ///
    /// # Panics
    ///
    /// If it does not come back within 10 s.
    pub fn restart(&self) {
        self.stop();
        assert!(
            self.spawn(),
            "redis-server did not restart on port {}",
            self.port
        );
    }

    /// Whether the server process is running.
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.child.lock().unwrap().is_some()
    }

    /// Sends one command (inline, space-separated arguments without
    /// spaces) and returns the first line of the reply, e.g. `+OK`, `:1`,
    /// `$5` (a bulk reply's length line; see [`get`](Self::get)).
    ///
    /// # Panics
    ///
    /// If the server does not answer within 10 s.
    #[must_use]
    pub fn command(&self, args: &[&str]) -> String {
        let mut conn = self.connect();
        conn.write_all(&resp(args)).unwrap();
        let mut reader = BufReader::new(conn);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        line.trim_end().to_owned()
    }

    /// `GET key` as raw bytes (`None` when the key is missing).
    #[must_use]
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        let conn = self.connect();
        (&conn).write_all(&resp(&["GET", key])).unwrap();
        let mut reader = BufReader::new(conn);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let len: i64 = line.trim_end().strip_prefix('$')?.parse().ok()?;
        let len = usize::try_from(len).ok()?;
        let mut value = vec![0; len + 2];
        reader.read_exact(&mut value).unwrap();
        value.truncate(len);
        Some(value)
    }

    /// `SET key value` with a binary-safe value.
    pub fn set(&self, key: &str, value: &[u8]) {
        let mut conn = self.connect();
        let mut out = format!(
            "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n",
            key.len(),
            value.len()
        )
        .into_bytes();
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
        conn.write_all(&out).unwrap();
        let mut reply = [0u8; 5];
        conn.read_exact(&mut reply).unwrap();
        assert_eq!(&reply, b"+OK\r\n");
    }

    /// Every key matching `pattern` (`KEYS`, fine for a test's few keys).
    #[must_use]
    pub fn keys(&self, pattern: &str) -> Vec<String> {
        let conn = self.connect();
        (&conn).write_all(&resp(&["KEYS", pattern])).unwrap();
        let mut reader = BufReader::new(conn);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let n: usize = line.trim_end().trim_start_matches('*').parse().unwrap_or(0);
        let mut keys = Vec::with_capacity(n);
        for _ in 0..n {
            line.clear();
            reader.read_line(&mut line).unwrap();
            line.clear();
            reader.read_line(&mut line).unwrap();
            keys.push(line.trim_end().to_owned());
        }
        keys
    }

    fn connect(&self) -> TcpStream {
        let conn = TcpStream::connect(("127.0.0.1", self.port)).expect("redis-server is up");
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        conn
    }

    fn spawn(&self) -> bool {
        let bin = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_owned());
        let child = Command::new(&bin)
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(["--save", "", "--appendonly", "no"])
            // DEBUG SLEEP, for the slow-server tests.
            .args(["--enable-debug-command", "local"])
            .args(self.tls.as_ref().map_or_else(Vec::new, |tls| {
                let file = |name: &str| self.dir.path().join(name).display().to_string();
                vec![
                    "--tls-port".to_owned(),
                    tls.port.to_string(),
                    "--tls-cert-file".to_owned(),
                    file("server.crt"),
                    "--tls-key-file".to_owned(),
                    file("server.key"),
                    "--tls-ca-cert-file".to_owned(),
                    file("ca.crt"),
                    "--tls-auth-clients".to_owned(),
                    "no".to_owned(),
                ]
            }))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run `{bin}` ({e}); install it: apt-get install -y redis-server")
            });
        *self.child.lock().unwrap() = Some(child);
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Ok(mut conn) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = conn.set_read_timeout(Some(Duration::from_secs(1)));
                let mut reply = [0u8; 7];
                if conn.write_all(b"PING\r\n").is_ok() && conn.read_exact(&mut reply).is_ok() {
                    return &reply == b"+PONG\r\n";
                }
            }
            let exited = self
                .child
                .lock()
                .unwrap()
                .as_mut()
                .is_some_and(|c| c.try_wait().ok().flatten().is_some());
            if exited {
                // The port was taken meanwhile (or the binary is broken).
                self.child.lock().unwrap().take();
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
        self.stop();
        false
    }

    /// The temp directory the server runs in.
    #[must_use]
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Writes `ca.crt`, `server.crt` and `server.key` into `dir` (a CA made
/// for this server, and a certificate it signed for `127.0.0.1` and
/// `localhost`); returns the CA's PEM.
fn certificates(dir: &std::path::Path) -> String {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, SanType};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let mut server = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    server
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let key = KeyPair::generate().unwrap();
    let cert = server.signed_by(&key, &ca).unwrap();
    std::fs::write(dir.join("ca.crt"), ca.pem()).unwrap();
    std::fs::write(dir.join("server.crt"), cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
    ca.pem()
}

fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len());
    for a in args {
        out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    out.into_bytes()
}

/// A free loopback port (bound, read and released).
#[must_use]
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A TCP listener on loopback that accepts connections and never answers:
/// a Redis stalled mid-conversation (or a black hole behind a proxy).
/// Dropped, it closes every connection it accepted.
#[derive(Debug)]
pub struct StalledServer {
    port: u16,
    held: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl StalledServer {
    /// Starts listening on a free loopback port.
    #[must_use]
    pub fn start() -> StalledServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let held = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (h, s) = (Arc::clone(&held), Arc::clone(&stop));
        thread::spawn(move || {
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => h.lock().unwrap().push(conn),
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        StalledServer { port, held, stop }
    }

    /// `redis://127.0.0.1:<port>/0`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// How many connections it has accepted.
    #[must_use]
    pub fn accepted(&self) -> usize {
        self.held.lock().unwrap().len()
    }
}

impl Drop for StalledServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for conn in self.held.lock().unwrap().drain(..) {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }
}
