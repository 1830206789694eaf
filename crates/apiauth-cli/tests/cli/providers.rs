//! Every provider through every command: Openverse registration and key
//! status, Markable's publishable token, authenticated requests.

use auth_emulator::{demo, EmulatorConfig, Endpoint, Scheme, Throttles};

use crate::common::Env;

#[test]
fn openverse_register_status_and_verification() {
    // The real throttles but the one-per-second key status one: it shares
    // its cache key with registration, so a status call right after
    // registering would be a 429.
    let env = Env::with_config(EmulatorConfig {
        throttles: Throttles {
            key_status: None,
            ..Throttles::default()
        },
        ..EmulatorConfig::default()
    });
    let base = env.url("");
    let args = [
        "register",
        "--name",
        "My amazing project",
        "--description",
        "tests",
        "--email",
        "me@example.org",
        "--base-url",
        &base,
    ];
    let out = env.run(&args).ok();
    let outbox = env.emu.outbox();
    assert_eq!(outbox.len(), 1);
    let client_id = &outbox[0].client_id;
    assert_eq!(out.stdout.trim_end(), client_id);
    assert!(out.stderr.contains("me@example.org"), "{}", out.stderr);
    assert!(
        out.stderr.contains("throttled like an anonymous caller"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("profile `default`"), "{}", out.stderr);

    // The secret went into the profile and nowhere else.
    let profile: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.profile_path("default")).unwrap()).unwrap();
    assert_eq!(profile["provider"], "openverse");
    assert_eq!(profile["client_id"], client_id.as_str());
    let secret = profile["client_secret"].as_str().unwrap();
    assert!(secret.len() > 20);
    assert!(!out.all().contains(secret));

    // A second registration under the same profile is refused before any request.
    env.run(&args).fails(2).hinted();
    assert_eq!(
        env.emu.counters().requests_to(Endpoint::OpenverseRegister),
        1
    );

    let status = env.run(&["status"]).ok();
    assert!(
        status.stdout.contains("provider:      openverse"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("key verified:  no"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("rate limit:    standard"),
        "{}",
        status.stdout
    );
    // An unverified key's requests count per IP: the server says null.
    assert!(
        status
            .stdout
            .contains("requests:      not counted for this key"),
        "{}",
        status.stdout
    );
    assert!(!status.all().contains(secret));

    env.emu.set_verified(client_id, true).unwrap();
    let images = env.url("/v1/images/?q=cat");
    env.run(&["request", &images]).ok();
    let status = env.run(&["status"]).ok();
    assert!(
        status.stdout.contains("key verified:  yes"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("1 this minute, 1 today"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("cached token:  valid until"),
        "{}",
        status.stdout
    );
    // One token served register → status → request → status.
    assert_eq!(env.emu.counters().token_total(Scheme::Openverse), 1);

    // A taken name: the server's field error, and nothing is saved.
    let taken = env
        .run(&[&args[..], &["--profile", "second"]].concat())
        .fails(1)
        .hinted();
    assert!(taken.stderr.contains("already exists"), "{}", taken.stderr);
    assert!(!env.profile_path("second").exists());
}

#[test]
fn openverse_requests_show_rate_limit_headers_and_survive_a_rejected_token() {
    let env = Env::new();
    env.add_openverse("ov").ok();
    let images = env.url("/v1/images/?q=cat");
    let out = env.run(&["request", "--profile", "ov", "-i", &images]).ok();
    let (head, body) = out.stdout.split_once("\n\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\n"), "{head}");
    assert!(
        head.contains("x-ratelimit-limit-oauth2_client_credentials_burst: 100/min"),
        "{head}"
    );
    assert!(
        head.contains("x-ratelimit-available-oauth2_client_credentials_burst: 99"),
        "{head}"
    );
    assert!(
        head.contains("x-ratelimit-limit-oauth2_client_credentials_sustained: 10000/day"),
        "{head}"
    );
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["result_count"], 3);

    // Openverse knows `read write` only: another scope is refused by the
    // server with invalid_scope (exit 4), never printed nor cached.
    let refused = env
        .run(&["token", "--profile", "ov", "--scope", "admin"])
        .fails(4)
        .hinted();
    assert!(
        refused.stderr.contains("invalid_scope"),
        "{}",
        refused.stderr
    );
    assert!(refused.stdout.is_empty(), "{}", refused.stdout);

    // The API forgets every token: the cached one gets a 401, a new one
    // is fetched and the request repeated once.
    env.emu.expire_tokens();
    let again = env.run(&["request", "--profile", "ov", &images]).ok();
    assert!(again.stdout.starts_with('{'), "{}", again.stdout);
    assert_eq!(env.emu.counters().token_total(Scheme::Openverse), 3);
    // The new token was cached for the next run.
    env.run(&["request", "--profile", "ov", &images]).ok();
    assert_eq!(env.emu.counters().token_total(Scheme::Openverse), 3);
}

#[test]
fn markable_search_tokens_publish_and_default_tokens_do_not() {
    let env = Env::new();
    env.add_markable("shop", "default").ok();
    env.add_markable("shop-search", "search").ok();

    let refused = env
        .run(&["publish-token", "--profile", "shop"])
        .fails(2)
        .hinted();
    assert!(
        refused.stderr.contains("must stay private"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("--scope search"),
        "{}",
        refused.stderr
    );
    assert_eq!(refused.stdout, "");
    assert_eq!(env.emu.counters().token_total(Scheme::Markable), 0);

    let public = env.run(&["publish-token", "--profile", "shop-search"]).ok();
    let token = public.stdout.trim_end();
    assert!(!token.is_empty());
    // The same token `apiauth token` gives for that profile (one cache entry).
    let same = env.run(&["token", "--profile", "shop-search"]).ok();
    assert_eq!(same.stdout.trim_end(), token);
    assert_eq!(env.emu.counters().token_total(Scheme::Markable), 1);

    // A default token may write; a search token may only search.
    let catalogs = env.api_url("/api/v1/catalogs");
    let body = r#"{"data":{"attributes":{"name":"spring"}}}"#;
    let created = env
        .run(&["request", "--profile", "shop", "-d", body, &catalogs])
        .ok();
    assert!(created.stdout.contains("\"spring\""), "{}", created.stdout);
    env.run(&["request", "--profile", "shop-search", "-d", body, &catalogs])
        .fails(3);
    // A body from a file.
    let file = env.config().join("body.json");
    std::fs::write(&file, r#"{"data":{"attributes":{"name":"from-file"}}}"#).unwrap();
    let at = format!("@{}", file.display());
    let created = env
        .run(&[
            "request",
            "--profile",
            "shop",
            "-X",
            "post",
            "-d",
            &at,
            &catalogs,
        ])
        .ok();
    assert!(
        created.stdout.contains("\"from-file\""),
        "{}",
        created.stdout
    );
    std::fs::remove_file(&file).unwrap();
    let search = env.api_url("/api/v1/search?q=shoes");
    env.run(&["request", "--profile", "shop-search", &search])
        .ok();

    // Other providers have nothing to publish.
    env.add_oauth2("ci", demo::OAUTH2_CLIENT_SECRET, &[]).ok();
    env.run(&["publish-token", "--profile", "ci"])
        .fails(2)
        .hinted();
}

#[test]
fn markable_minimal_responses_have_no_expiry_and_still_cache() {
    let env = Env::new();
    env.emu.set_markable_minimal_response(true);
    env.add_markable("shop", "default").ok();
    let first = env.run(&["token", "--profile", "shop", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&first.stdout).unwrap();
    assert!(v["expires_at"].is_null(), "{v}");
    let second = env.run(&["token", "--profile", "shop", "--json"]).ok();
    assert_eq!(first.stdout, second.stdout);
    assert_eq!(env.emu.counters().token_total(Scheme::Markable), 1);
    let status = env.run(&["status", "--profile", "shop"]).ok();
    assert!(
        status.stdout.contains("no stated expiry"),
        "{}",
        status.stdout
    );
}

#[test]
fn oauth2_request_methods_headers_and_status() {
    let env = Env::new();
    env.add_oauth2("ci", demo::OAUTH2_CLIENT_SECRET, &["read", "write"])
        .ok();
    let resource = env.url("/oauth2/resource");
    let out = env
        .run(&["request", "--profile", "ci", "-H", "X-Trace: 1", &resource])
        .ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["client_id"], demo::OAUTH2_CLIENT_ID);
    assert_eq!(v["scope"], "read write");
    let status = env.run(&["status", "--profile", "ci"]).ok();
    assert!(
        status.stdout.contains("cached token:  valid until"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("scopes:        read write"),
        "{}",
        status.stdout
    );
    // Only a GET exists there: the method is sent as asked.
    let wrong = env.run(&["request", "--profile", "ci", "-X", "delete", &resource]);
    assert_eq!(wrong.code, 1, "{}", wrong.stderr);
    assert!(wrong.stderr.contains("HTTP 405"), "{}", wrong.stderr);
    env.run(&[
        "request",
        "--profile",
        "ci",
        "-H",
        "Authorization: x",
        &resource,
    ])
    .fails(2);
}
