//! Every case against the `apiauth` binary, each run in its own config
//! directory, without a profile where the command allows it (the secret
//! then comes from `APIAUTH_CLIENT_SECRET`, the only other place it may be).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use auth_hostile::cases::{API, OAUTH2_TOKEN};
use auth_hostile::{
    judge, selected_cases, Case, Class, Endpoint, Expect, HostileServer, Observed, Runner,
    Terminal, Text, CLI_BOUND, CLI_KILL, CLI_TIMEOUT,
};

use crate::common::{finish, run_all, show};

/// Variables a developer's shell may have set that change what apiauth does.
const AMBIENT: &[&str] = &[
    "APIAUTH_TIMEOUT",
    "APIAUTH_PROFILE",
    "APIAUTH_CLIENT_ID",
    "APIAUTH_CLIENT_SECRET",
    "APIAUTH_CONFIG_DIR",
];

/// The `apiauth` binary, built for this run: `cargo build -p apiauth-cli`
/// (a no-op when `cargo test --workspace` built it already), so a stale
/// binary is never tested. Without cargo (the test binary run by hand),
/// the one next to this test binary.
fn apiauth() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        // target/<profile>/deps/hostile-… → target/<profile>
        let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
        let sibling = profile_dir.join(format!("apiauth{}", std::env::consts::EXE_SUFFIX));
        let Ok(cargo) = std::env::var("CARGO") else {
            assert!(
                sibling.exists(),
                "build it first: cargo build -p apiauth-cli"
            );
            return sibling;
        };
        let target_dir = profile_dir.parent().unwrap();
        let mut cmd = Command::new(cargo);
        // What cargo set for this test process would change the build
        // scripts' environment and rebuild half the tree every run.
        for (key, _) in std::env::vars_os() {
            let k = key.to_string_lossy();
            let set_by_cargo = k.starts_with("CARGO_PKG_")
                || k.starts_with("CARGO_MANIFEST_")
                || matches!(
                    &*k,
                    "CARGO_CRATE_NAME"
                        | "CARGO_BIN_NAME"
                        | "CARGO_PRIMARY_PACKAGE"
                        | "CARGO_TARGET_TMPDIR"
                        | "OUT_DIR"
                        | "LD_LIBRARY_PATH"
                        | "DYLD_FALLBACK_LIBRARY_PATH"
                );
            if set_by_cargo {
                cmd.env_remove(&key);
            }
        }
        cmd.args(["build", "-p", "apiauth-cli", "--bin", "apiauth"])
            .arg("--message-format=json-render-diagnostics")
            .arg("--target-dir")
            .arg(target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stderr(Stdio::inherit());
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let out = cmd.output().expect("cargo runs");
        assert!(out.status.success(), "cargo build -p apiauth-cli failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|m| m["target"]["name"] == "apiauth")
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .unwrap_or(sibling)
    })
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

/// Runs apiauth with `args` and `env`, killed after [`CLI_KILL`].
fn apiauth_run(config: &Path, args: &[String], env: &[(&str, String)]) -> Run {
    let mut cmd = Command::new(apiauth());
    for var in AMBIENT {
        cmd.env_remove(var);
    }
    cmd.env("APIAUTH_CONFIG_DIR", config)
        .env("APIAUTH_TIMEOUT", CLI_TIMEOUT.as_secs().to_string())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let mut child = cmd.spawn().expect("apiauth starts");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        b
    });
    let err = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err.read_to_end(&mut b);
        b
    });
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code().unwrap_or(-1);
        }
        if started.elapsed() > CLI_KILL {
            let _ = child.kill();
            let _ = child.wait();
            break -9;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    Run {
        code,
        stdout: String::from_utf8_lossy(&out.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&err.join().unwrap()).into_owned(),
        elapsed,
    }
}

/// The command line for a case, and whether its stdout is an API body
/// printed as received (by design, like curl).
fn command(case: &Case, server: &HostileServer) -> (Vec<String>, bool) {
    let base = server.base_url().to_owned();
    let token_url = server.url(OAUTH2_TOKEN);
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    match case.endpoint {
        Endpoint::OAuth2Basic | Endpoint::OAuth2Post => {
            let auth = if case.endpoint == Endpoint::OAuth2Basic {
                "basic"
            } else {
                "post"
            };
            let args = [
                "token",
                "--provider",
                "oauth2",
                "--token-url",
                &token_url,
                "--auth",
                auth,
                "--scope",
                "read",
            ];
            (s(&args), false)
        }
        Endpoint::OpenverseToken => (
            s(&["token", "--provider", "openverse", "--base-url", &base]),
            false,
        ),
        Endpoint::MarkableDefault => (
            s(&[
                "token",
                "--provider",
                "markable",
                "--base-url",
                &base,
                "--scope",
                "default",
            ]),
            false,
        ),
        // publish-token has no --scope: it runs from a `search` profile.
        Endpoint::MarkableSearch => (s(&["publish-token", "--profile", "shop-search"]), false),
        Endpoint::OpenverseRegister => (
            s(&[
                "register",
                "--profile",
                "ov",
                "--name",
                "hostile app",
                "--description",
                "a hostile test",
                "--email",
                "me@example.org",
                "--base-url",
                &base,
            ]),
            false,
        ),
        Endpoint::OpenverseKeyStatus => (
            s(&["status", "--provider", "openverse", "--base-url", &base]),
            false,
        ),
        Endpoint::Api => {
            let api = server.url(API);
            let args = [
                "request",
                "--provider",
                "oauth2",
                "--token-url",
                &token_url,
                "--auth",
                "basic",
                "--scope",
                "read",
                "-d",
                r#"{"q":"hostile"}"#,
                &api,
            ];
            (s(&args), true)
        }
    }
}

/// Every file under `dir`, with its contents.
fn files(dir: &Path, found: &mut Vec<(PathBuf, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, found);
        } else {
            let bytes = std::fs::read(&path).unwrap_or_default();
            found.push((path, String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
}

/// A profile file with its `client_secret` taken out: the one place the
/// secret may be is that field of that file.
fn without_secret(text: &str) -> (String, Option<String>) {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(mut map)) => {
            let secret = map
                .remove("client_secret")
                .and_then(|v| v.as_str().map(str::to_owned));
            (serde_json::Value::Object(map).to_string(), secret)
        }
        _ => (text.to_owned(), None),
    }
}

/// One run of `case`'s command, judged as `expect` (the case's own, or
/// its follow-up's).
fn judge_run(
    case: &Case,
    server: &HostileServer,
    config: &Path,
    run: &Run,
    api_body: bool,
) -> Vec<String> {
    let mut obs = Observed::new(
        if run.code == 0 {
            Class::Ok
        } else {
            Class::Unknown(format!("exit {}", run.code))
        },
        run.elapsed,
    );
    obs.exit_code = Some(run.code);
    obs.message = run.stderr.clone();
    let prints_token = matches!(
        case.endpoint,
        Endpoint::OAuth2Basic
            | Endpoint::OAuth2Post
            | Endpoint::OpenverseToken
            | Endpoint::MarkableDefault
            | Endpoint::MarkableSearch
    );
    if run.code == 0 && prints_token {
        obs.token = Some(run.stdout.trim_end_matches('\n').to_owned());
    }
    let mut stdout = Text::new(
        "stdout",
        run.stdout.clone(),
        if api_body {
            Terminal::Skip
        } else {
            Terminal::Lines
        },
    );
    if prints_token || api_body {
        stdout = stdout.with_token();
    }
    obs.texts.push(stdout);
    obs.texts
        .push(Text::new("stderr", run.stderr.clone(), Terminal::Lines));
    let mut found = Vec::new();
    files(config, &mut found);
    let mut extra = Vec::new();
    let mut kept_secret = false;
    for (path, text) in found {
        let place = format!("file {}", path.display());
        let is_cache = path.parent().is_some_and(|p| p.ends_with("tokens"));
        // The secret may be kept in a private file's `client_secret` field
        // (the profile; a registration the CLI could not finish) and
        // nowhere else: not in the token cache, not in any other field.
        let (rest, secret) = if is_cache {
            (text, None)
        } else {
            without_secret(&text)
        };
        if secret.as_deref() == Some(case.secret().as_str()) {
            kept_secret = true;
            if let Some(mode) = group_or_other_bits(&path) {
                extra.push(format!(
                    "{place} holds the client secret but is readable by others (mode {mode:o})"
                ));
            }
        }
        let t = Text::new(place, rest, Terminal::Skip);
        obs.texts.push(if is_cache { t.with_token() } else { t });
    }
    show(
        Runner::Cli,
        case,
        &format!(
            "exit {} in {:.1?}\n{}{}",
            run.code, run.elapsed, run.stdout, run.stderr
        ),
    );
    let mut failures = judge(case, Runner::Cli, server, &obs, CLI_BOUND);
    if case.endpoint == Endpoint::OpenverseRegister {
        let wants_kept = matches!(case.expect, Expect::Registered | Expect::HalfRegistered);
        if wants_kept && !kept_secret {
            extra.push("the new client secret was kept in no file".into());
        }
        if case.expect == Expect::Registered && run.stdout.trim() != case.client_id() {
            extra.push(format!(
                "stdout is {:?}, not the client id {:?}",
                run.stdout,
                case.client_id()
            ));
        }
    }
    failures.extend(extra);
    failures
}

/// The group and other permission bits of `path`, when any is set.
#[cfg(unix)]
fn group_or_other_bits(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then_some(mode)
}

#[cfg(not(unix))]
fn group_or_other_bits(_: &Path) -> Option<u32> {
    None
}

fn run_case(case: &Case) -> Vec<String> {
    let server = HostileServer::start(case.script(), case.credentials()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let env = [
        ("APIAUTH_CLIENT_ID", case.client_id()),
        ("APIAUTH_CLIENT_SECRET", case.secret()),
    ];
    if case.endpoint == Endpoint::MarkableSearch {
        let add = [
            "profile",
            "add",
            "shop-search",
            "--provider",
            "markable",
            "--base-url",
            server.base_url(),
            "--scope",
            "search",
        ]
        .map(str::to_owned);
        let run = apiauth_run(&config, &add, &env);
        if run.code != 0 {
            return vec![format!("profile add failed: {}", run.stderr)];
        }
    }
    let env: &[(&str, String)] = if case.endpoint == Endpoint::OpenverseRegister {
        &[]
    } else {
        &env
    };
    let (args, api_body) = command(case, &server);
    let run = apiauth_run(&config, &args, env);
    let mut failures = judge_run(case, &server, &config, &run, api_body);
    if let Some(next) = &case.followup {
        // The server gives its next answer; nothing stuck may stand in the way.
        let mut again = case.clone();
        again.expect = next.clone();
        let mut env = env.to_vec();
        if let Some(other) = &case.followup_secret {
            env.retain(|(k, _)| *k != "APIAUTH_CLIENT_SECRET");
            env.push(("APIAUTH_CLIENT_SECRET", other.clone()));
        }
        let run = apiauth_run(&config, &args, &env);
        for f in judge_run(&again, &server, &config, &run, api_body) {
            failures.push(format!("second run: {f}"));
        }
    }
    failures
}

#[test]
fn cli_against_every_case() {
    let started = Instant::now();
    let (cases, complete) = selected_cases();
    apiauth();
    let verdicts = run_all(&cases, 16, run_case);
    finish(Runner::Cli, &verdicts, complete, started);
}
