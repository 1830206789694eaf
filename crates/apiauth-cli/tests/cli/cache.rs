//! Tokens shared through Redis: `APIAUTH_CACHE_URL` for ad-hoc runs, a
//! profile's `--cache`, and what `status` says about the cache.

use auth_emulator::{demo, Scheme};
use auth_redis_testing::RedisServer;

use crate::common::Env;

fn ad_hoc(url: &str) -> Vec<String> {
    [
        "token",
        "--provider",
        "oauth2",
        "--token-url",
        url,
        "--scope",
        "read",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

#[test]
fn runs_on_two_machines_share_one_token_through_redis() {
    let redis = RedisServer::start();
    // Two config directories: two machines, no file cache in common.
    let (a, b) = (Env::new(), Env::new());
    let token_url = a.url("/oauth2/token");
    let args = ad_hoc(&token_url);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let cache_url = redis.url();
    let vars = [
        ("APIAUTH_CLIENT_ID", demo::OAUTH2_CLIENT_ID),
        ("APIAUTH_CLIENT_SECRET", demo::OAUTH2_CLIENT_SECRET),
        ("APIAUTH_CACHE_URL", cache_url.as_str()),
    ];
    let first = a.run_env(&args, &vars).ok();
    let second = b.run_env(&args, &vars).ok();
    assert_eq!(first.stdout, second.stdout);
    assert_eq!(a.emu.counters().token_total(Scheme::Oauth2), 1);
    assert!(
        !b.files()
            .iter()
            .any(|(p, _)| p.to_string_lossy().contains("tokens")),
        "the token lives in Redis, not in a file: {:?}",
        b.files().iter().map(|(p, _)| p).collect::<Vec<_>>()
    );
    assert_eq!(redis.keys("apiauth:v1:token:*").len(), 1);

    // `status` names the cache, says it answers, and whether it encrypts.
    let mut status_args = args.clone();
    status_args[0] = "status";
    let status = b.run_env(&status_args, &vars).ok();
    let line = format!("token cache:   {cache_url} (reachable, PING ");
    assert!(status.stdout.contains(&line), "{}", status.stdout);
    assert!(status.stdout.contains("not encrypted"), "{}", status.stdout);
    assert!(
        status.stdout.contains("cached token:  valid until"),
        "{}",
        status.stdout
    );

    // A password in the URL is never shown; an unreachable cache is
    // reported, and the token still comes (fetched by this run).
    let secret_url = format!(
        "redis://:hunter2-pass@127.0.0.1:{}/0",
        auth_redis_testing::free_port()
    );
    let vars = [
        ("APIAUTH_CLIENT_ID", demo::OAUTH2_CLIENT_ID),
        ("APIAUTH_CLIENT_SECRET", demo::OAUTH2_CLIENT_SECRET),
        ("APIAUTH_CACHE_URL", secret_url.as_str()),
    ];
    let status = b.run_env(&status_args, &vars).ok();
    assert!(status.stdout.contains("unreachable"), "{}", status.stdout);
    let token = b.run_env(&args, &vars).ok();
    assert!(!token.stdout.trim().is_empty());
    for out in [&status, &token] {
        assert!(!out.all().contains("hunter2"), "{}", out.all());
    }
}

#[test]
fn a_profile_keeps_its_cache_and_encrypts_with_the_key() {
    let redis = RedisServer::start();
    let env = Env::new();
    let token_url = env.url("/oauth2/token");
    let cache = format!("redis://:pw-in-profile@127.0.0.1:{}/0", redis.port());
    let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    // A bad URL is refused before the secret is asked for.
    env.run_with_stdin(
        &[
            "profile",
            "add",
            "ci",
            "--provider",
            "oauth2",
            "--token-url",
            &token_url,
            "--client-id",
            demo::OAUTH2_CLIENT_ID,
            "--cache",
            "http://nope",
        ],
        demo::OAUTH2_CLIENT_SECRET,
    )
    .fails(2);
    env.run_with_stdin(
        &[
            "profile",
            "add",
            "ci",
            "--provider",
            "oauth2",
            "--token-url",
            &token_url,
            "--client-id",
            demo::OAUTH2_CLIENT_ID,
            "--scope",
            "read",
            "--cache",
            &cache,
        ],
        demo::OAUTH2_CLIENT_SECRET,
    )
    .ok();
    let show = env.run(&["profile", "show", "ci"]).ok();
    let shown = format!("cache:         redis://127.0.0.1:{}/0", redis.port());
    assert!(show.stdout.contains(&shown), "{}", show.stdout);
    let json = env.run(&["profile", "show", "ci", "--json"]).ok();
    assert!(!show.all().contains("pw-in-profile") && !json.all().contains("pw-in-profile"));

    // Redis has no password here: AUTH fails, the cache is unreachable,
    // and the command still works (it fetches for itself).
    let vars = [("APIAUTH_CACHE_KEY", key)];
    let t1 = env.run_env(&["token", "--profile", "ci"], &vars).ok();
    assert!(!t1.all().contains("pw-in-profile"));
    assert_eq!(redis.keys("apiauth:*").len(), 0);

    // With the right URL the token is shared and sealed.
    env.run_with_stdin(
        &[
            "profile",
            "add",
            "ci",
            "--force",
            "--provider",
            "oauth2",
            "--token-url",
            &token_url,
            "--client-id",
            demo::OAUTH2_CLIENT_ID,
            "--scope",
            "read",
            "--cache",
            &redis.url(),
        ],
        demo::OAUTH2_CLIENT_SECRET,
    )
    .ok();
    let t2 = env.run_env(&["token", "--profile", "ci"], &vars).ok();
    let t3 = env.run_env(&["token", "--profile", "ci"], &vars).ok();
    assert_eq!(t2.stdout, t3.stdout);
    let entries = redis.keys("apiauth:v1:token:*");
    assert_eq!(entries.len(), 1);
    let raw = redis.get(&entries[0]).unwrap();
    let token = t2.stdout.trim();
    assert!(!raw.windows(token.len()).any(|w| w == token.as_bytes()));
    let status = env.run_env(&["status", "--profile", "ci"], &vars).ok();
    assert!(
        status.stdout.contains("entries encrypted"),
        "{}",
        status.stdout
    );
    // A wrong key cannot read it: that run fetches a token of its own.
    let before = env.emu.counters().token_total(Scheme::Oauth2);
    let wrong = [(
        "APIAUTH_CACHE_KEY",
        "BAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    )];
    let t4 = env.run_env(&["token", "--profile", "ci"], &wrong).ok();
    assert_ne!(t4.stdout, t2.stdout);
    assert_eq!(env.emu.counters().token_total(Scheme::Oauth2), before + 1);
    // A malformed key is a usage error that says what to do.
    env.run_env(
        &["token", "--profile", "ci"],
        &[("APIAUTH_CACHE_KEY", "short")],
    )
    .fails(2)
    .hinted();
}
