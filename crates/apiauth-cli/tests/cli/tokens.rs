//! `apiauth token`: output, the shared cache, single flight across
//! processes, recovery from a corrupt cache.

use std::process::Stdio;
use std::time::Duration;

use auth_emulator::{demo, Endpoint, Scheme};

use crate::common::{Env, Out};

#[test]
fn prints_only_the_token_and_reuses_it_from_the_cache() {
    let env = Env::new();
    env.add_oauth2("ci", demo::OAUTH2_CLIENT_SECRET, &["read"])
        .ok();
    let first = env.run(&["token", "--profile", "ci"]).ok();
    let token = first.stdout.strip_suffix('\n').unwrap();
    assert!(
        !token.is_empty() && !token.contains(char::is_whitespace),
        "{first:?}",
        first = first.stdout
    );
    assert_eq!(first.stderr, "");
    assert_eq!(env.emu.counters().token_total(Scheme::Oauth2), 1);

    // A second process reads the cache: same token, no request.
    let second = env.run(&["token", "--profile", "ci"]).ok();
    assert_eq!(second.stdout, first.stdout);
    assert_eq!(env.emu.counters().token_total(Scheme::Oauth2), 1);

    // --json carries the same token and its metadata.
    let json = env.run(&["token", "--profile", "ci", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["access_token"], token);
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["scope"], "read");
    let expires = v["expires_at"].as_str().unwrap();
    assert!(expires.ends_with('Z') && expires.len() == 20, "{expires}");
    let mut keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["access_token", "expires_at", "scope", "token_type"]);

    // Other scopes are another cache entry.
    let write = env
        .run(&["token", "--profile", "ci", "--scope", "read write"])
        .ok();
    assert_ne!(write.stdout, first.stdout);
    assert_eq!(env.emu.counters().token_total(Scheme::Oauth2), 2);
    env.run(&[
        "token",
        "--profile",
        "ci",
        "--scope",
        "write",
        "--scope",
        "read",
    ])
    .ok();
    assert_eq!(env.emu.counters().token_total(Scheme::Oauth2), 2);
}

#[test]
fn works_without_a_profile_from_flags_and_the_environment() {
    let env = Env::new();
    let url = env.url("/oauth2/token");
    let args = [
        "token",
        "--provider",
        "oauth2",
        "--token-url",
        &url,
        "--auth",
        "post",
        "--scope",
        "read",
    ];
    let vars = [
        ("APIAUTH_CLIENT_ID", demo::OAUTH2_CLIENT_ID),
        ("APIAUTH_CLIENT_SECRET", demo::OAUTH2_CLIENT_SECRET),
    ];
    let first = env.run_env(&args, &vars).ok();
    let again = env.run_env(&args, &vars).ok();
    assert_eq!(first.stdout, again.stdout);
    assert_eq!(env.emu.counters().token_total(Scheme::Oauth2), 1);

    // No secret in the environment: refused, never read from a flag.
    let out = env
        .run_env(&args, &[("APIAUTH_CLIENT_ID", demo::OAUTH2_CLIENT_ID)])
        .fails(2)
        .hinted();
    assert!(
        out.stderr.contains("APIAUTH_CLIENT_SECRET"),
        "{}",
        out.stderr
    );
    // A profile and ad hoc flags do not mix.
    env.run_env(&[&args[..], &["--profile", "x"]].concat(), &vars)
        .fails(2);

    // A wrong secret never reads the token cached with the right one: the
    // cache key fingerprints the secret, so it asks the server, which says no.
    let wrong = [
        ("APIAUTH_CLIENT_ID", demo::OAUTH2_CLIENT_ID),
        ("APIAUTH_CLIENT_SECRET", "wrong-secret"),
    ];
    let out = env.run_env(&args, &wrong).fails(3);
    assert!(!out.stdout.contains(first.stdout.trim()), "{}", out.stdout);
    assert_eq!(env.emu.counters().token_total(Scheme::Oauth2), 2);
}

#[test]
fn twenty_processes_on_a_cold_cache_make_one_request() {
    let env = Env::new();
    env.add_oauth2("ci", demo::OAUTH2_CLIENT_SECRET, &["read"])
        .ok();
    env.emu
        .set_latency(Endpoint::Oauth2Token, Duration::from_millis(200));
    let children: Vec<_> = (0..20)
        .map(|_| {
            env.cmd(&["token", "--profile", "ci"])
                .stdin(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<Out> = children
        .into_iter()
        .map(|c| {
            let o = c.wait_with_output().unwrap();
            Out {
                code: o.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            }
        })
        .collect();
    for o in &outs {
        assert_eq!(o.code, 0, "{}", o.stderr);
    }
    let counters = env.emu.counters();
    assert_eq!(counters.token_total(Scheme::Oauth2), 1, "{counters:?}");
    let first = &outs[0].stdout;
    assert!(first.len() > 1);
    assert!(outs.iter().all(|o| &o.stdout == first));
}

#[test]
fn a_corrupt_cache_file_is_ignored_with_a_warning_and_rewritten() {
    let env = Env::new();
    env.add_oauth2("ci", demo::OAUTH2_CLIENT_SECRET, &["read"])
        .ok();
    let old = env.run(&["token", "--profile", "ci"]).ok().stdout;
    let cache = env.cache_file("ci");
    let good = std::fs::read(&cache).unwrap();
    // What a writer killed mid-write would leave if writes were not atomic.
    std::fs::write(&cache, &good[..good.len() / 2]).unwrap();

    let out = env.run(&["token", "--profile", "ci"]).ok();
    assert!(
        out.stderr
            .contains("apiauth: warning: cached token is corrupt"),
        "{}",
        out.stderr
    );
    assert_ne!(out.stdout, old);
    assert_eq!(env.emu.counters().token_total(Scheme::Oauth2), 2);
    let rewritten: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cache).unwrap()).unwrap();
    assert_eq!(
        rewritten["access_token"].as_str().unwrap(),
        out.stdout.trim_end()
    );
    // And the next run reads it quietly.
    let next = env.run(&["token", "--profile", "ci"]).ok();
    assert_eq!(next.stdout, out.stdout);
    assert_eq!(next.stderr, "");
    assert_eq!(env.emu.counters().token_total(Scheme::Oauth2), 2);
}

#[test]
fn a_cached_token_close_to_expiry_is_replaced() {
    let env = Env::new();
    env.emu
        .set_lifetime(Scheme::Oauth2, Duration::from_secs(120))
        .unwrap();
    env.add_oauth2("ci", demo::OAUTH2_CLIENT_SECRET, &[]).ok();
    // A fresh token is printed whatever its lifetime: no loop on short tokens.
    let fresh = env
        .run(&["token", "--profile", "ci", "--min-valid", "600"])
        .ok();
    assert_eq!(env.emu.counters().token_total(Scheme::Oauth2), 1);
    // Cached with ~120 s left: good enough for 60 s, not for 600 s.
    let cached = env.run(&["token", "--profile", "ci"]).ok();
    assert_eq!(cached.stdout, fresh.stdout);
    assert_eq!(env.emu.counters().token_total(Scheme::Oauth2), 1);
    let replaced = env
        .run(&["token", "--profile", "ci", "--min-valid", "600"])
        .ok();
    assert_ne!(replaced.stdout, fresh.stdout);
    assert_eq!(env.emu.counters().token_total(Scheme::Oauth2), 2);
}

#[test]
fn help_documents_the_exit_codes() {
    let env = Env::new();
    let help = env.run(&["--help"]).ok();
    for line in [
        "Exit codes:",
        "2  usage or configuration error",
        "3  credentials rejected",
        "4  scope rejected",
        "5  rate limited",
        "6  network or transient failure",
        "7  server error",
    ] {
        assert!(help.stdout.contains(line), "{line}\n{}", help.stdout);
    }
    let usage = env.run(&["token", "--no-such-flag"]);
    assert_eq!(usage.code, 2);
    for shell in ["bash", "zsh", "fish"] {
        let script = env.run(&["completions", shell]).ok();
        assert!(script.stdout.contains("apiauth"), "{shell}");
        assert!(script.stdout.contains("publish-token"), "{shell}");
    }
}

/// `--resource` / `--audience` go into the token request and the cache
/// key: tokens for two APIs never share an entry, and each is reused.
#[test]
fn resource_and_audience_get_tokens_of_their_own() {
    let env = Env::new();
    let url = env.url("/oauth2/token");
    let run = |extra: &[&str]| {
        let args = [
            &["token", "--provider", "oauth2", "--token-url", &url][..],
            extra,
        ]
        .concat();
        env.run_env(
            &args,
            &[
                ("APIAUTH_CLIENT_ID", demo::OAUTH2_CLIENT_ID),
                ("APIAUTH_CLIENT_SECRET", demo::OAUTH2_CLIENT_SECRET),
            ],
        )
        .ok()
        .stdout
    };
    let a = run(&["--resource", "https://a.example/api"]);
    let b = run(&["--resource", "https://b.example/api"]);
    let a_again = run(&["--resource", "https://a.example/api"]);
    let aud = run(&["--audience", "orders"]);
    assert_ne!(a, b);
    assert_eq!(a, a_again, "the same resource reads its cached token");
    assert_ne!(aud, a);
    assert_eq!(env.emu.counters().token_total(Scheme::Oauth2), 3);
    env.run_env(
        &[
            "token",
            "--provider",
            "oauth2",
            "--token-url",
            &url,
            "--resource",
            "not-a-uri",
        ],
        &[
            ("APIAUTH_CLIENT_ID", demo::OAUTH2_CLIENT_ID),
            ("APIAUTH_CLIENT_SECRET", demo::OAUTH2_CLIENT_SECRET),
        ],
    )
    .fails(2);
}
