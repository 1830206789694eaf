//! `--private-key` and `--issuer`: private_key_jwt with discovery, ad hoc
//! and through a profile, against the emulator's demo key client (which
//! verifies every assertion and refuses a replayed `jti`).

use std::path::PathBuf;

use auth_emulator::{demo, Endpoint, Scheme};
use tempfile::TempDir;

use crate::common::{Env, Out};

/// The demo key in a file of its own, readable by the owner only.
fn key_file() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo-key.pem");
    std::fs::write(&path, demo::OAUTH2_JWT_PRIVATE_KEY_PEM).unwrap();
    #[cfg(unix)]
    crate::common::chmod(&path, 0o600);
    (dir, path)
}

/// Nothing of the key, and no assertion, in what the command printed.
#[track_caller]
fn shows_no_key(out: &Out) {
    let all = out.all();
    for line in demo::OAUTH2_JWT_PRIVATE_KEY_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
    {
        assert!(!all.contains(line), "key material in: {all}");
    }
    assert!(!all.contains("PRIVATE KEY"), "{all}");
    // A JWS starts with base64url of `{"`.
    assert!(!all.contains("eyJ"), "an assertion in: {all}");
}

#[test]
fn ad_hoc_token_with_issuer_and_private_key() {
    let env = Env::new();
    let (_dir, key) = key_file();
    let base = env.url("");
    let key = key.to_str().unwrap();
    let args = [
        "token",
        "--provider",
        "oauth2",
        "--issuer",
        &base,
        "--client-id",
        demo::OAUTH2_JWT_CLIENT_ID,
        "--private-key",
        key,
    ];
    let out = env.run(&args).ok();
    let token = out.stdout.strip_suffix('\n').unwrap();
    assert!(
        !token.is_empty() && !token.contains(char::is_whitespace),
        "{}",
        out.stdout
    );
    shows_no_key(&out);
    let c = env.emu.counters();
    assert_eq!(c.requests_to(Endpoint::Oauth2Metadata), 1);
    assert_eq!(
        c.token_requests_by(Scheme::Oauth2, demo::OAUTH2_JWT_CLIENT_ID),
        1
    );
    assert_eq!(c.rejected, 0);
}

#[test]
fn profile_with_issuer_and_private_key() {
    let env = Env::new();
    let (_dir, key) = key_file();
    let base = env.url("");
    let key = key.to_str().unwrap();
    let added = env
        .run(&[
            "profile",
            "add",
            "jwt",
            "--provider",
            "oauth2",
            "--issuer",
            &base,
            "--private-key",
            key,
            "--client-id",
            demo::OAUTH2_JWT_CLIENT_ID,
        ])
        .ok();
    shows_no_key(&added);
    assert_eq!(env.emu.counters().requests_to(Endpoint::Oauth2Metadata), 1);

    let show = env.run(&["profile", "show", "jwt"]).ok();
    assert!(show.stdout.contains("private_key_jwt"), "{}", show.stdout);
    assert!(
        show.stdout
            .lines()
            .any(|l| l.starts_with("issuer:") && l.trim_end().ends_with(&base)),
        "no issuer line: {}",
        show.stdout
    );
    shows_no_key(&show);
    let json = env.run(&["profile", "show", "jwt", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["auth"], "private_key_jwt");
    assert_eq!(v["issuer"], base.as_str());
    assert_eq!(v["token_url"], env.url("/oauth2/token").as_str());

    let first = env.run(&["token", "--profile", "jwt"]).ok();
    assert!(!first.stdout.trim().is_empty());
    shows_no_key(&first);
    // A second process reads the cache: same token, no request.
    let second = env.run(&["token", "--profile", "jwt"]).ok();
    assert_eq!(second.stdout, first.stdout);
    let c = env.emu.counters();
    assert_eq!(
        c.requests_to(Endpoint::Oauth2Metadata),
        1,
        "the profile remembers the token URL: no discovery per run"
    );
    assert_eq!(
        c.token_requests_by(Scheme::Oauth2, demo::OAUTH2_JWT_CLIENT_ID),
        1
    );
    assert_eq!(c.rejected, 0);

    // The key stays in its file: no file apiauth wrote holds any of it.
    for (path, bytes) in env.files() {
        let text = String::from_utf8_lossy(&bytes);
        for line in demo::OAUTH2_JWT_PRIVATE_KEY_PEM
            .lines()
            .filter(|l| !l.starts_with("-----"))
        {
            assert!(!text.contains(line), "key material in {}", path.display());
        }
    }
}
