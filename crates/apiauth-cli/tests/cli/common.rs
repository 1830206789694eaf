//! Runs the real `apiauth` binary against an emulator on loopback, each
//! test with its own config directory.

#![allow(dead_code)] // each test module uses a different subset

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use auth_emulator::{demo, BlockingEmulator, EmulatorConfig};
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_apiauth");

/// Variables a developer's shell might have set that would change what
/// the binary under test does.
const AMBIENT: &[&str] = &[
    "APIAUTH_PROFILE",
    "APIAUTH_CLIENT_ID",
    "APIAUTH_CLIENT_SECRET",
    "APIAUTH_CONFIG_DIR",
    "APIAUTH_TIMEOUT",
    "APIAUTH_CACHE_URL",
    "APIAUTH_CACHE_KEY",
    "APIAUTH_CACHE_KEY_FILE",
];

pub struct Env {
    pub emu: BlockingEmulator,
    dir: TempDir,
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    fn from(output: Output) -> Out {
        Out {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Exits `0`, or panics with everything the run printed.
    pub fn ok(self) -> Out {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    /// Exits `code` with an `apiauth:` line and a `hint:` line on stderr.
    pub fn fails(self, code: i32) -> Out {
        assert_eq!(
            self.code, code,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        assert!(self.stderr.contains("apiauth: "), "{}", self.stderr);
        self
    }

    pub fn hinted(self) -> Out {
        assert!(self.stderr.contains("\nhint: "), "{}", self.stderr);
        self
    }

    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl Env {
    pub fn new() -> Env {
        Env::with_config(EmulatorConfig::default())
    }

    /// An emulator started with `config` (a flavour, other throttles).
    pub fn with_config(config: EmulatorConfig) -> Env {
        Env {
            emu: BlockingEmulator::start(config).expect("emulator starts"),
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// `APIAUTH_CONFIG_DIR` of this test (not created until apiauth writes).
    pub fn config(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    pub fn profile_path(&self, name: &str) -> PathBuf {
        self.config().join("profiles").join(format!("{name}.json"))
    }

    pub fn url(&self, path: &str) -> String {
        self.emu.url(path)
    }

    /// A URL on the emulator's Markable API host (apart from its
    /// authorization host, as on the real service).
    pub fn api_url(&self, path: &str) -> String {
        self.emu.markable_api_url_for(path)
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        for var in AMBIENT {
            cmd.env_remove(var);
        }
        cmd.env("APIAUTH_CONFIG_DIR", self.config())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Out {
        Out::from(self.cmd(args).output().expect("apiauth runs"))
    }

    /// Runs with `input` on standard input.
    pub fn run_with_stdin(&self, args: &[&str], input: &str) -> Out {
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .spawn()
            .expect("apiauth runs");
        feed(&mut child, input);
        Out::from(child.wait_with_output().expect("apiauth ends"))
    }

    /// Runs with extra environment variables.
    pub fn run_env(&self, args: &[&str], vars: &[(&str, &str)]) -> Out {
        let mut cmd = self.cmd(args);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        Out::from(cmd.output().expect("apiauth runs"))
    }

    /// `profile add NAME` for the demo OAuth 2.0 client, secret on stdin.
    pub fn add_oauth2(&self, name: &str, secret: &str, scopes: &[&str]) -> Out {
        let url = self.url("/oauth2/token");
        let mut args = vec![
            "profile",
            "add",
            name,
            "--provider",
            "oauth2",
            "--token-url",
            &url,
            "--client-id",
            demo::OAUTH2_CLIENT_ID,
        ];
        for s in scopes {
            args.extend(["--scope", s]);
        }
        self.run_with_stdin(&args, &format!("{secret}\n"))
    }

    pub fn add_openverse(&self, name: &str) -> Out {
        let base = self.url("");
        self.run_with_stdin(
            &[
                "profile",
                "add",
                name,
                "--provider",
                "openverse",
                "--base-url",
                &base,
                "--client-id",
                demo::OPENVERSE_CLIENT_ID,
            ],
            &format!("{}\n", demo::OPENVERSE_CLIENT_SECRET),
        )
    }

    pub fn add_markable(&self, name: &str, scope: &str) -> Out {
        let base = self.url("");
        self.run_with_stdin(
            &[
                "profile",
                "add",
                name,
                "--provider",
                "markable",
                "--base-url",
                &base,
                "--scope",
                scope,
                "--client-id",
                demo::MARKABLE_CLIENT_ID,
            ],
            &format!("{}\n", demo::MARKABLE_CLIENT_SECRET),
        )
    }

    /// The token cache file of a profile, as `apiauth status` names it.
    pub fn cache_file(&self, profile: &str) -> PathBuf {
        let out = self.run(&["status", "--profile", profile]).ok();
        let line = out
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("token cache:"))
            .expect("status names the cache file");
        PathBuf::from(line.trim())
    }

    /// Every file under the config directory, with its contents.
    pub fn files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut found = Vec::new();
        walk(&self.config(), &mut found);
        found
    }
}

fn walk(dir: &Path, found: &mut Vec<(PathBuf, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, found);
        } else {
            let bytes = std::fs::read(&path).unwrap_or_default();
            found.push((path, bytes));
        }
    }
}

pub fn feed(child: &mut Child, input: &str) {
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // A command that fails before reading closes the pipe; that is its answer.
    let _ = stdin.write_all(input.as_bytes());
}

#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("exists")
        .permissions()
        .mode()
        & 0o777
}

#[cfg(unix)]
pub fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}
