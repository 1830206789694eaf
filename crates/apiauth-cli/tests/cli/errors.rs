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
    assert!(out.stderr.contains("3600 s"), "{}", out.stderr);
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
}
