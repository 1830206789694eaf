//! Exit codes: one per kind of failure, each with a message and a hint.

use auth_emulator::{demo, Endpoint, Fault, FaultPlan, Scheme};

use crate::common::Env;

#[test]
fn wrong_secret_exits_3() {
    let env = Env::new();
    env.add_oauth2("ci", "not-the-secret", &[]).ok();
    let out = env.run(&["token", "--profile", "ci"]).fails(3).hinted();
    assert!(out.stderr.contains("invalid_client"), "{}", out.stderr);
    assert!(
        out.stderr.contains("apiauth profile add ci --force"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr.lines().count(), 2, "{}", out.stderr);
    assert!(!out.all().contains("not-the-secret"));
}

#[test]
fn a_scope_the_client_may_not_have_exits_4() {
    let env = Env::new();
    env.add_oauth2("ci", demo::OAUTH2_CLIENT_SECRET, &["delete"])
        .ok();
    let out = env.run(&["token", "--profile", "ci"]).fails(4).hinted();
    assert!(out.stderr.contains("invalid_scope"), "{}", out.stderr);
    // Markable knows only `default` and `search`: refused before a request.
    env.add_markable("m", "default").ok();
    env.run(&["token", "--profile", "m", "--scope", "admin"])
        .fails(4);
    assert_eq!(env.emu.counters().token_total(Scheme::Markable), 0);
}

#[test]
fn rate_limited_exits_5_at_once() {
    let env = Env::new();
    env.add_oauth2("ci", demo::OAUTH2_CLIENT_SECRET, &[]).ok();
    env.emu
        .add_fault(FaultPlan::always(
            Endpoint::Oauth2Token,
            Fault::RateLimited {
                retry_after_secs: 3600,
            },
        ))
        .unwrap();
    let started = std::time::Instant::now();
    let out = env.run(&["token", "--profile", "ci"]).fails(5).hinted();
    assert!(
        started.elapsed().as_secs() < 5,
        "a long Retry-After is not waited out"
    );
    assert!(out.stderr.contains("429"), "{}", out.stderr);
    assert!(out.stderr.contains("60 min"), "{}", out.stderr);
}

#[test]
fn server_errors_exit_7_after_the_retries() {
    let env = Env::new();
    env.add_oauth2("ci", demo::OAUTH2_CLIENT_SECRET, &[]).ok();
    env.emu
        .add_fault(FaultPlan::always(
            Endpoint::Oauth2Token,
            Fault::ServerError {
                status: 503,
                retry_after_secs: None,
            },
        ))
        .unwrap();
    let out = env.run(&["token", "--profile", "ci"]).fails(7).hinted();
    assert!(out.stderr.contains("503"), "{}", out.stderr);
    // The default policy retries twice while the caller waits.
    assert_eq!(env.emu.counters().token_total(Scheme::Oauth2), 3);
}

/// A token endpoint that accepts and never answers, or trickles a byte at
/// a time: the command ends within its `--timeout` (plus the watchdog's
/// grace), exit 6, never the 90 s of three 30 s attempts.
#[test]
fn a_silent_or_trickling_server_ends_within_the_timeout() {
    use std::io::{Read as _, Write as _};
    let env = Env::new();
    for trickle in [false, true] {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { return };
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf);
                    if trickle {
                        for b in b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n{"
                            .iter()
                            .cycle()
                        {
                            if s.write_all(&[*b]).is_err() {
                                return;
                            }
                            std::thread::sleep(std::time::Duration::from_millis(300));
                        }
                    } else {
                        std::thread::sleep(std::time::Duration::from_secs(60));
                    }
                });
            }
        });
        let url = format!("http://127.0.0.1:{port}/token");
        let started = std::time::Instant::now();
        let out = env
            .run_env(
                &[
                    "token",
                    "--timeout",
                    "2",
                    "--provider",
                    "oauth2",
                    "--token-url",
                    &url,
                ],
                &[
                    ("APIAUTH_CLIENT_ID", "id"),
                    ("APIAUTH_CLIENT_SECRET", "slow-secret"),
                ],
            )
            .fails(6)
            .hinted();
        let took = started.elapsed();
        // The limit plus the watchdog's grace, and slack for a loaded machine.
        assert!(
            took < std::time::Duration::from_secs(12),
            "took {took:?}: {}",
            out.stderr
        );
        assert!(!out.all().contains("slow-secret"));
    }
}

#[test]
fn a_closed_port_exits_6() {
    let env = Env::new();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/token");
    let out = env
        .run_env(
            &["token", "--provider", "oauth2", "--token-url", &url],
            &[
                ("APIAUTH_CLIENT_ID", "id"),
                ("APIAUTH_CLIENT_SECRET", "closed-port-secret"),
            ],
        )
        .fails(6)
        .hinted();
    assert!(out.stderr.contains("connect"), "{}", out.stderr);
    assert!(!out.all().contains("closed-port-secret"));
}

#[test]
fn api_errors_of_request_have_their_codes() {
    let env = Env::new();
    env.add_oauth2("ci", demo::OAUTH2_CLIENT_SECRET, &["read"])
        .ok();
    let forbidden = env
        .run(&[
            "request",
            "--profile",
            "ci",
            &env.url("/oauth2/resource?require=admin"),
        ])
        .fails(4)
        .hinted();
    assert!(
        forbidden.stdout.contains("insufficient_scope"),
        "{}",
        forbidden.stdout
    );
    env.emu
        .add_fault(FaultPlan::next(
            Endpoint::Oauth2Resource,
            Fault::RateLimited {
                retry_after_secs: 30,
            },
            1,
        ))
        .unwrap();
    let limited = env
        .run(&["request", "--profile", "ci", &env.url("/oauth2/resource")])
        .fails(5);
    assert!(limited.stderr.contains("30 s"), "{}", limited.stderr);
    env.emu
        .add_fault(FaultPlan::next(
            Endpoint::Oauth2Resource,
            Fault::ServerError {
                status: 502,
                retry_after_secs: None,
            },
            1,
        ))
        .unwrap();
    env.run(&["request", "--profile", "ci", &env.url("/oauth2/resource")])
        .fails(7);
    env.run(&["request", "--profile", "ci", "http://api.example.com/items"])
        .fails(2)
        .hinted();
    // A redirect on an API call (a 307 here) is a configuration
    // error, not a network failure to retry; the token never follows it.
    env.emu
        .add_fault(FaultPlan::next(
            Endpoint::Oauth2Resource,
            Fault::Redirect { status: 307 },
            1,
        ))
        .unwrap();
    let url = env.url("/oauth2/resource?q=1");
    let moved = env
        .run(&["request", "--profile", "ci", &url])
        .fails(2)
        .hinted();
    assert!(
        moved.stderr.contains(
            "HTTP 307 redirecting to http://evil.example.invalid/oauth2/resource (query withheld)"
        ),
        "{}",
        moved.stderr
    );
    assert!(moved.stderr.contains("final URL"), "{}", moved.stderr);
}
