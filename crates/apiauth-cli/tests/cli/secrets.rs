//! The client secret appears in the profile file and nowhere else: not on
//! stdout or stderr of any command, not in `--json`, not in the cache.

use auth_emulator::{ClientSpec, Endpoint, Fault, FaultPlan};

use crate::common::Env;

const ID: &str = "leak-check-client";
const SECRET: &str = "Zx9-unmistakable-secret-Qw7";

#[test]
fn the_secret_stays_in_the_profile_file() {
    let env = Env::new();
    env.emu
        .add_client(ClientSpec::oauth2(
            ID,
            SECRET,
            &["read", "write"],
            &["read"],
        ))
        .unwrap();
    let url = env.url("/oauth2/token");
    let mut outputs = Vec::new();
    let add = env.run_with_stdin(
        &[
            "profile",
            "add",
            "ci",
            "--provider",
            "oauth2",
            "--token-url",
            &url,
            "--auth",
            "post",
            "--client-id",
            ID,
            "--scope",
            "read",
        ],
        &format!("{SECRET}\n"),
    );
    outputs.push(add.ok());
    let resource = env.url("/oauth2/resource");
    for args in [
        &["token", "--profile", "ci"][..],
        &["token", "--profile", "ci", "--json"],
        &["token", "--profile", "ci", "--scope", "write", "--json"],
        &["status", "--profile", "ci"],
        &["profile", "show", "ci"],
        &["profile", "show", "ci", "--json"],
        &["profile", "list"],
        &["request", "--profile", "ci", "-i", &resource],
        &["-v", "token", "--profile", "ci", "--scope", "read write"],
        &["publish-token", "--profile", "ci"],
    ] {
        outputs.push(env.run(args));
    }
    // Failures print server text: make the server fail in several ways.
    env.emu
        .add_fault(FaultPlan::next(Endpoint::Oauth2Token, Fault::NotJson, 3))
        .unwrap();
    outputs.push(env.run(&["-v", "token", "--profile", "ci", "--scope", "admin"]));
    outputs.push(env.run(&["token", "--profile", "ci", "--scope", "delete"]));
    outputs.push(env.run_env(
        &[
            "token",
            "--provider",
            "oauth2",
            "--token-url",
            &url,
            "--client-id",
            ID,
        ],
        &[("APIAUTH_CLIENT_SECRET", SECRET)],
    ));
    outputs.push(env.run_env(
        &[
            "token",
            "--provider",
            "oauth2",
            "--token-url",
            &url,
            "--client-id",
            ID,
        ],
        &[("APIAUTH_CLIENT_SECRET", "wrong-secret-value")],
    ));

    for out in &outputs {
        assert!(!out.all().contains(SECRET), "{}", out.all());
        assert!(!out.all().contains("wrong-secret-value"), "{}", out.all());
    }
    let profile = env.profile_path("ci");
    let files = env.files();
    assert!(files.len() >= 4, "{files:?}");
    for (path, bytes) in files {
        let holds = String::from_utf8_lossy(&bytes).contains(SECRET);
        assert_eq!(holds, path == profile, "{}", path.display());
    }
}
