//! The `cc-catalog` provider against an emulator of the seed's own server
//! (`OpenverseFlavour::CcCatalog`): register, rate_limit and verify without
//! a trailing slash, the token endpoint with one.

use std::time::Duration;

use auth_emulator::{
    demo, EmulatorConfig, Endpoint, Lifetimes, OpenverseFlavour, Scheme, Throttles,
};

use crate::common::Env;

fn seed_server() -> Env {
    Env::with_config(EmulatorConfig {
        flavour: OpenverseFlavour::CcCatalog,
        throttles: Throttles {
            // One per second: whether two runs fall in one second is timing.
            key_status: None,
            ..Throttles::cc_catalog()
        },
        // The seed's token answer says 36000.
        lifetimes: Lifetimes {
            openverse: Duration::from_secs(36_000),
            ..Lifetimes::default()
        },
        ..EmulatorConfig::default()
    })
}

#[test]
fn token_from_flags_against_the_seed_s_server() {
    let env = seed_server();
    let base = env.url("");
    let args = ["token", "--provider", "cc-catalog", "--base-url", &base];
    let vars = [
        ("APIAUTH_CLIENT_ID", demo::OPENVERSE_CLIENT_ID),
        ("APIAUTH_CLIENT_SECRET", demo::OPENVERSE_CLIENT_SECRET),
    ];
    let first = env.run_env(&args, &vars).ok();
    let token = first.stdout.trim_end();
    assert_eq!(token.len(), 30, "{}", first.stdout);
    assert_eq!(first.stderr, "");
    // Cached: a second run sends nothing.
    let second = env.run_env(&args, &vars).ok();
    assert_eq!(second.stdout, first.stdout);
    assert_eq!(env.emu.counters().token_total(Scheme::Openverse), 1);

    let json = env.run_env(&[&args[..], &["--json"]].concat(), &vars).ok();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["access_token"], token);
    assert_eq!(v["token_type"], "Bearer");
}

#[test]
fn register_and_token_with_a_profile() {
    let env = seed_server();
    let base = env.url("");
    let out = env
        .run(&[
            "register",
            "--provider",
            "cc-catalog",
            "--name",
            "My amazing project",
            "--description",
            "A description",
            "--email",
            "example@example.com",
            "--base-url",
            &base,
        ])
        .ok();
    // The seed's path, without the slash, is the one that answered.
    let outbox = env.emu.outbox();
    assert_eq!(outbox.len(), 1);
    assert_eq!(out.stdout.trim_end(), outbox[0].client_id);
    assert_eq!(
        env.emu.counters().requests_to(Endpoint::OpenverseRegister),
        1
    );
    assert!(!outbox[0].link.ends_with('/'));

    let token = env.run(&["token"]).ok();
    assert_eq!(token.stdout.trim_end().len(), 30, "{}", token.stdout);
    assert_eq!(env.emu.counters().token_total(Scheme::Openverse), 1);
}

/// A `cc-catalog` profile keeps its routes: `status` asks the seed's
/// `/v1/rate_limit`, not Openverse's `/v1/rate_limit/` (which the seed's
/// server never had).
#[test]
fn status_with_a_cc_catalog_profile_uses_the_seed_s_key_status_path() {
    let env = seed_server();
    let base = env.url("");
    env.run_with_stdin(
        &[
            "profile",
            "add",
            "cc",
            "--provider",
            "cc-catalog",
            "--base-url",
            &base,
            "--client-id",
            demo::OPENVERSE_CLIENT_ID,
        ],
        &format!("{}\n", demo::OPENVERSE_CLIENT_SECRET),
    )
    .ok();
    let status = env.run(&["status", "--profile", "cc"]).ok();
    assert!(
        status.stdout.contains("key verified:  yes"),
        "{}",
        status.stdout
    );
    assert_eq!(
        env.emu.counters().requests_to(Endpoint::OpenverseRateLimit),
        1
    );
}
