//! `apiauth profile …`: files, permissions, validation.

use auth_emulator::demo;

use crate::common::{chmod, mode, Env};

#[test]
fn add_list_show_remove() {
    let env = Env::new();
    env.add_oauth2("ci", demo::OAUTH2_CLIENT_SECRET, &["read"])
        .ok();
    env.add_openverse("ov").ok();

    let list = env.run(&["profile", "list"]).ok();
    let lines: Vec<&str> = list.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", list.stdout);
    assert!(
        lines[0].starts_with("ci ") && lines[0].contains("oauth2"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("ov ") && lines[1].contains("openverse"),
        "{}",
        lines[1]
    );

    let show = env.run(&["profile", "show", "ci"]).ok();
    assert!(
        show.stdout.contains("client secret: [redacted]"),
        "{}",
        show.stdout
    );
    assert!(show.stdout.contains(demo::OAUTH2_CLIENT_ID));
    assert!(show.stdout.contains("basic (client_secret_basic)"));

    let json = env
        .run(&["--profile", "ci", "profile", "show", "--json"])
        .ok();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["provider"], "oauth2");
    assert_eq!(v["client_secret"], "[redacted]");
    assert_eq!(v["scopes"], serde_json::json!(["read"]));
    assert_eq!(v["token_url"], env.url("/oauth2/token"));

    env.run(&["token", "--profile", "ci"]).ok();
    let cache = env.cache_file("ci");
    assert!(cache.exists());
    env.run(&["profile", "remove", "ci"]).ok();
    assert!(!env.profile_path("ci").exists());
    assert!(!cache.exists(), "the cached token goes with the profile");
    env.run(&["profile", "show", "ci"]).fails(2).hinted();
    env.run(&["profile", "remove", "ci"]).fails(2);
}

#[test]
fn the_file_format_is_the_documented_one() {
    let env = Env::new();
    env.add_markable("shop", "search").ok();
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.profile_path("shop")).unwrap()).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "provider": "markable",
            "base_url": env.url(""),
            "scopes": ["search"],
            "client_id": demo::MARKABLE_CLIENT_ID,
            "client_secret": demo::MARKABLE_CLIENT_SECRET,
        })
    );
    // Presets: --provider without --base-url stores the public base.
    env.run_env(
        &[
            "profile",
            "add",
            "cc",
            "--provider",
            "cc-catalog",
            "--client-id",
            "x",
        ],
        &[("APIAUTH_CLIENT_SECRET", "y")],
    )
    .ok();
    let show = env.run(&["profile", "show", "cc"]).ok();
    assert!(
        show.stdout
            .contains("https://api.creativecommons.engineering/v1/auth_tokens/token/"),
        "{}",
        show.stdout
    );
}

#[test]
#[cfg(unix)]
fn files_are_private_and_writes_replace() {
    let env = Env::new();
    env.add_oauth2("ci", demo::OAUTH2_CLIENT_SECRET, &[]).ok();
    env.run(&["token", "--profile", "ci"]).ok();
    assert_eq!(mode(&env.config()), 0o700);
    assert_eq!(mode(&env.config().join("profiles")), 0o700);
    assert_eq!(mode(&env.config().join("tokens")), 0o700);
    for (path, _) in env.files() {
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    // No temporary file is left behind by the atomic replace.
    let out = env.run_with_stdin(
        &[
            "profile",
            "add",
            "ci",
            "--force",
            "--provider",
            "oauth2",
            "--token-url",
            &env.url("/oauth2/token"),
            "--client-id",
            "someone-else",
        ],
        "s\n",
    );
    out.ok();
    let names: Vec<String> = std::fs::read_dir(env.config().join("profiles"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["ci.json"]);
    assert!(env
        .run(&["profile", "show", "ci"])
        .ok()
        .stdout
        .contains("someone-else"));
}

#[test]
fn adding_refuses_overwrites_bad_names_and_missing_secrets() {
    let env = Env::new();
    env.add_oauth2("ci", demo::OAUTH2_CLIENT_SECRET, &[]).ok();
    let again = env.add_oauth2("ci", "another", &[]).fails(2).hinted();
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);

    for bad in ["../escape", "a/b", ".hidden"] {
        env.add_oauth2(bad, "s", &[]).fails(2).hinted();
    }
    assert_eq!(env.files().len(), 1);

    // An empty standard input is no secret.
    let url = env.url("/oauth2/token");
    let args = [
        "profile",
        "add",
        "x",
        "--provider",
        "oauth2",
        "--token-url",
        &url,
        "--client-id",
        "id",
    ];
    let none = env.run_with_stdin(&args, "").fails(2).hinted();
    assert!(none.stderr.contains("no client secret"), "{}", none.stderr);
    // The secret is never an argument.
    let flag = env.run(&[
        "profile",
        "add",
        "x",
        "--provider",
        "oauth2",
        "--token-url",
        &url,
        "--client-id",
        "id",
        "--client-secret",
        "s",
    ]);
    assert_eq!(flag.code, 2, "{}", flag.stderr);

    // Plain http to another host would send the secret in clear.
    let clear = env.run_with_stdin(
        &[
            "profile",
            "add",
            "x",
            "--provider",
            "oauth2",
            "--token-url",
            "http://auth.example.com/token",
            "--client-id",
            "id",
        ],
        "s\n",
    );
    clear.fails(2);
    // Flags that do not fit the provider.
    env.run_with_stdin(
        &[
            "profile",
            "add",
            "x",
            "--provider",
            "openverse",
            "--token-url",
            &url,
            "--client-id",
            "id",
        ],
        "s\n",
    )
    .fails(2);
    env.run_with_stdin(
        &[
            "profile",
            "add",
            "x",
            "--provider",
            "oauth2",
            "--client-id",
            "id",
        ],
        "s\n",
    )
    .fails(2);
    env.run_with_stdin(
        &[
            "profile",
            "add",
            "x",
            "--provider",
            "markable",
            "--scope",
            "admin",
            "--client-id",
            "id",
        ],
        "s\n",
    )
    .fails(4);
    assert!(!env.profile_path("x").exists());
}

#[test]
#[cfg(unix)]
fn a_readable_profile_is_refused_with_the_fix() {
    let env = Env::new();
    env.add_oauth2("ci", demo::OAUTH2_CLIENT_SECRET, &[]).ok();
    chmod(&env.profile_path("ci"), 0o644);
    let out = env.run(&["token", "--profile", "ci"]).fails(2).hinted();
    assert!(out.stderr.contains("too open"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("chmod 600 {}", env.profile_path("ci").display())),
        "{}",
        out.stderr
    );
    assert_eq!(env.emu.counters().token_requests_total, 0);
    chmod(&env.profile_path("ci"), 0o600);
    env.run(&["token", "--profile", "ci"]).ok();
}

#[test]
#[cfg(unix)]
fn a_malformed_profile_gets_a_clear_error() {
    let env = Env::new();
    env.add_oauth2("ci", demo::OAUTH2_CLIENT_SECRET, &[]).ok();
    let path = env.profile_path("ci");
    std::fs::write(&path, b"{\"provider\": \"oauth2\", \"client_id\": \"x\"").unwrap();
    let out = env.run(&["token", "--profile", "ci"]).fails(2).hinted();
    assert!(out.stderr.contains("profile `ci`"), "{}", out.stderr);
    assert!(out.stderr.contains("is malformed"), "{}", out.stderr);
    assert!(out.stderr.contains("line 1"), "{}", out.stderr);

    std::fs::write(
        &path,
        format!(
            "{{\"provider\":\"gopher\",\"client_id\":\"x\",\"client_secret\":\"{}\"}}",
            demo::OAUTH2_CLIENT_SECRET
        ),
    )
    .unwrap();
    let out = env.run(&["token", "--profile", "ci"]).fails(2).hinted();
    assert!(
        out.stderr.contains("unknown variant `gopher`"),
        "{}",
        out.stderr
    );
    assert!(!out.all().contains(demo::OAUTH2_CLIENT_SECRET));

    // A profile that names no token URL is refused as a configuration error.
    std::fs::write(
        &path,
        b"{\"provider\":\"oauth2\",\"client_id\":\"x\",\"client_secret\":\"y\"}",
    )
    .unwrap();
    let out = env.run(&["token", "--profile", "ci"]).fails(2);
    assert!(out.stderr.contains("token_url"), "{}", out.stderr);

    // `list` still shows the others.
    env.add_openverse("ov").ok();
    let list = env.run(&["profile", "list"]).ok();
    assert!(list.stdout.contains("ov "), "{}", list.stdout);
}

#[test]
fn the_profile_comes_from_the_flag_the_environment_or_default() {
    let env = Env::new();
    env.add_oauth2("default", demo::OAUTH2_CLIENT_SECRET, &["read"])
        .ok();
    env.add_oauth2("other", demo::OAUTH2_CLIENT_SECRET, &["write"])
        .ok();
    let scope = |out: crate::common::Out| {
        let v: serde_json::Value = serde_json::from_str(&out.ok().stdout).unwrap();
        v["scope"].as_str().unwrap().to_owned()
    };
    assert_eq!(scope(env.run(&["token", "--json"])), "read");
    assert_eq!(
        scope(env.run_env(&["token", "--json"], &[("APIAUTH_PROFILE", "other")])),
        "write"
    );
    assert_eq!(
        scope(env.run_env(
            &["token", "--json", "--profile", "default"],
            &[("APIAUTH_PROFILE", "other")]
        )),
        "read"
    );
    let missing = env.run(&["token", "--profile", "nope"]).fails(2).hinted();
    assert!(
        missing.stderr.contains("no profile named `nope`"),
        "{}",
        missing.stderr
    );
}
