//! Every ```console transcript of docs/cli.md, run against the emulator:
//! what the page shows is what the command prints.
//!
//! How a block is read:
//!
//! - `$ apiauth …` is a command; a line ending in `\` continues on the
//!   next. `$ echo $?` prints the exit code of the command before it. Any
//!   other command fails the test.
//! - The lines up to the next `$` are the expected output: standard output
//!   and standard error together, in the order a terminal shows them (both
//!   go to one file here).
//! - Placeholders in the expected output:
//!   - `…` alone on a line: any number of lines, none included;
//!   - `…` right after a letter, digit, `-` or `_`: that word is a value
//!     cut short (a token, an id), and the whole word matches any run of
//!     letters, digits, `-` and `_` (`pm8GMaIX…`, `cat_…`);
//!   - `…` anywhere else: any text within the line.
//! - Normalized on both sides: RFC 3339 UTC timestamps
//!   (`2026-11-22T07:41:51Z`) and the 16-hex-digit digests of cache file
//!   names (`tokens/5489dfd39021a81c.json`).
//! - Replaced in commands, setup lines and expected output alike: the real
//!   hosts the page shows ([`HOSTS`]) by the emulator's address,
//!   `/home/me/.config/apiauth` by the test's config directory, and the
//!   shell variables of [`VARS`] by their values. `register` and
//!   `profile add` for Openverse, CC Catalog or Markable without
//!   `--base-url` get `--base-url <emulator>`, since their default is the
//!   real service.
//! - Every emulator also knows the OAuth 2.0 client `my-client` (secret
//!   `$SECRET`, scopes `read write`) the page's examples use.
//! - An HTML comment right before a block steers it:
//!   - `<!-- transcript setup:` … `-->`: lines run first — `apiauth …`
//!     (must exit 0) or `emulator fault <FaultPlan JSON>`;
//!   - `<!-- transcript: not run (why) -->`: the block cannot run here
//!     (the reason is required, and printed).
//!
//! Each block runs in a fresh environment (emulator and config directory),
//! all blocks in parallel.

use std::io::{Read, Seek};
use std::process::Stdio;

use auth_emulator::{demo, ClientSpec, EmulatorConfig, FaultPlan, Throttles};

use crate::common::{feed, Env};

const PAGE: &str = include_str!("../../../../docs/cli.md");

/// Real hosts on the page, and the emulator path that stands in for each.
const HOSTS: &[(&str, &str)] = &[
    ("https://auth.example.com/token", "/oauth2/token"),
    ("https://api.example.com/items", "/oauth2/resource"),
    ("https://api.openverse.org", ""),
    ("https://api.creativecommons.engineering", ""),
    ("https://auth.markable.ai", ""),
];

/// The Markable API's real host, which the emulator serves on a listener
/// of its own.
const MARKABLE_API_HOST: &str = "https://api.markable.ai";

const CONFIG: &str = "/home/me/.config/apiauth";

/// The secret of `my-client`, the OAuth 2.0 client of the page's examples.
const SECRET: &str = "my-client-secret";

/// Shell variables the page's commands use.
const VARS: &[(&str, &str)] = &[
    ("SECRET", SECRET),
    ("MARKABLE_ID", demo::MARKABLE_CLIENT_ID),
    ("MARKABLE_SECRET", demo::MARKABLE_CLIENT_SECRET),
];

/// One ```console block and what steers it.
struct Transcript {
    /// Line of the opening fence in docs/cli.md.
    line: usize,
    setup: Vec<String>,
    not_run: Option<String>,
    lines: Vec<String>,
}

fn transcripts() -> Vec<Transcript> {
    let lines: Vec<&str> = PAGE.lines().collect();
    let mut found = Vec::new();
    // A directive comment: (its lines, the index of its last line).
    let mut directive: Option<(Vec<String>, usize)> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.starts_with("<!-- transcript") {
            let mut body = vec![line.to_owned()];
            while !body.last().is_some_and(|l| l.contains("-->")) {
                i += 1;
                body.push(lines.get(i).expect("the comment is closed").to_string());
            }
            assert!(
                directive.is_none(),
                "docs/cli.md:{}: two transcript comments in a row",
                i + 1
            );
            directive = Some((body, i));
        } else if line == "```console" {
            let start = i;
            let mut block = Vec::new();
            i += 1;
            while lines.get(i).is_some_and(|l| *l != "```") {
                block.push(lines[i].to_owned());
                i += 1;
            }
            let mut t = Transcript {
                line: start + 1,
                setup: Vec::new(),
                not_run: None,
                lines: block,
            };
            if let Some((body, end)) = directive.take() {
                assert_eq!(
                    end + 1,
                    start,
                    "docs/cli.md:{}: a transcript comment must come right before its block",
                    end + 1
                );
                read_directive(&body, &mut t);
            }
            found.push(t);
        } else if line.starts_with("```") {
            // Skip other blocks whole: a `$` inside them is not a transcript.
            i += 1;
            while lines.get(i).is_some_and(|l| *l != "```") {
                i += 1;
            }
        }
        if let Some((_, end)) = &directive {
            assert!(
                i <= end + 1,
                "docs/cli.md:{}: a transcript comment not followed by a ```console block",
                end + 1
            );
        }
        i += 1;
    }
    found
}

fn read_directive(body: &[String], t: &mut Transcript) {
    let first = body[0].as_str();
    if let Some(rest) = first.strip_prefix("<!-- transcript: not run") {
        let reason = rest.trim().trim_end_matches("-->").trim();
        let reason = reason.trim_start_matches('(').trim_end_matches(')').trim();
        assert!(
            !reason.is_empty(),
            "docs/cli.md:{}: `not run` needs a reason",
            t.line
        );
        t.not_run = Some(reason.to_owned());
    } else if first.trim() == "<!-- transcript setup:" {
        t.setup = body[1..]
            .iter()
            .filter(|l| l.trim() != "-->")
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect();
    } else {
        panic!(
            "docs/cli.md:{}: unknown transcript comment `{first}`",
            t.line
        );
    }
}

/// A command of a transcript with the output the page shows for it.
struct Step {
    command: String,
    expected: Vec<String>,
}

fn steps(t: &Transcript) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut lines = t.lines.iter();
    while let Some(line) = lines.next() {
        if let Some(command) = line.strip_prefix("$ ") {
            let mut command = command.to_owned();
            while command.ends_with('\\') {
                command.pop();
                command.push_str(lines.next().expect("a continued line"));
            }
            steps.push(Step {
                command,
                expected: Vec::new(),
            });
        } else {
            steps
                .last_mut()
                .unwrap_or_else(|| panic!("docs/cli.md:{}: output before any `$` line", t.line))
                .expected
                .push(line.clone());
        }
    }
    steps
}

/// The page's words with the test's hosts, directory and values.
fn substitute(text: &str, env: &Env) -> String {
    let mut text = text.replace(CONFIG, &env.config().display().to_string());
    for (host, path) in HOSTS {
        text = text.replace(host, &env.url(path));
    }
    text.replace(MARKABLE_API_HOST, &env.api_url(""))
}

/// RFC 3339 UTC timestamps and cache-file digests, made comparable.
fn normalize(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let digits = |s: &[char]| s.iter().all(char::is_ascii_digit);
    while i < chars.len() {
        // 2026-11-22T07:41:51Z
        if let Some(w) = chars.get(i..i + 20) {
            if digits(&w[0..4])
                && w[4] == '-'
                && digits(&w[5..7])
                && w[7] == '-'
                && digits(&w[8..10])
                && w[10] == 'T'
                && digits(&w[11..13])
                && w[13] == ':'
                && digits(&w[14..16])
                && w[16] == ':'
                && digits(&w[17..19])
                && w[19] == 'Z'
            {
                out.push_str("<timestamp>");
                i += 20;
                continue;
            }
        }
        // tokens/5489dfd39021a81c.json
        if let Some(w) = chars.get(i..i + 28) {
            let s: String = w.iter().collect();
            if s.starts_with("tokens/")
                && s.ends_with(".json")
                && w[7..23]
                    .iter()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(c))
            {
                out.push_str("tokens/<digest>.json");
                i += 28;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out.trim_end().to_owned()
}

#[derive(Debug)]
enum Tok {
    Lit(char),
    Any,
    Word,
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

fn pattern(expected: &str) -> Vec<Tok> {
    let mut toks: Vec<Tok> = Vec::new();
    for c in expected.chars() {
        if c != '…' {
            toks.push(Tok::Lit(c));
            continue;
        }
        let mut word = false;
        while matches!(toks.last(), Some(Tok::Lit(p)) if is_word(*p)) {
            toks.pop();
            word = true;
        }
        toks.push(if word { Tok::Word } else { Tok::Any });
    }
    toks
}

fn line_matches(toks: &[Tok], text: &[char]) -> bool {
    match toks.split_first() {
        None => text.is_empty(),
        Some((Tok::Lit(c), rest)) => text.first() == Some(c) && line_matches(rest, &text[1..]),
        Some((Tok::Any, rest)) => (0..=text.len()).any(|k| line_matches(rest, &text[k..])),
        Some((Tok::Word, rest)) => (1..=text.len())
            .take_while(|k| is_word(text[k - 1]))
            .any(|k| line_matches(rest, &text[k..])),
    }
}

fn lines_match(expected: &[String], actual: &[String]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((e, rest)) if e == "…" => {
            (0..=actual.len()).any(|k| lines_match(rest, &actual[k..]))
        }
        Some((e, rest)) => actual.split_first().is_some_and(|(a, more)| {
            let text: Vec<char> = a.chars().collect();
            line_matches(&pattern(e), &text) && lines_match(rest, more)
        }),
    }
}

/// Shell words of a command line: quotes, `\` escapes, `$VAR` and
/// `<<<word` (returned as the standard input).
fn shell_words(command: &str) -> (Vec<String>, Option<String>) {
    let expand = |name: &str| {
        VARS.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
            .unwrap_or_else(|| panic!("`${name}` is not a variable the test knows"))
    };
    let mut words = Vec::new();
    let mut stdin = None;
    let mut chars = command.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut here = false;
        if command_rest_starts_with(&chars, "<<<") {
            chars.nth(2);
            here = true;
        }
        let mut word = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            match c {
                '\'' => word.extend(chars.by_ref().take_while(|&c| c != '\'')),
                '"' => {
                    let mut quoted = String::new();
                    for c in chars.by_ref() {
                        if c == '"' {
                            break;
                        }
                        quoted.push(c);
                    }
                    word.push_str(&expand_vars(&quoted, &expand));
                }
                '\\' => word.extend(chars.next()),
                '$' => {
                    let mut name = String::new();
                    while let Some(&n) = chars.peek() {
                        if !(n.is_ascii_alphanumeric() || n == '_') {
                            break;
                        }
                        name.push(n);
                        chars.next();
                    }
                    word.push_str(&expand(&name));
                }
                c => word.push(c),
            }
        }
        if here {
            stdin = Some(word);
        } else {
            words.push(word);
        }
    }
    (words, stdin)
}

fn command_rest_starts_with(
    chars: &std::iter::Peekable<std::str::Chars<'_>>,
    prefix: &str,
) -> bool {
    chars.clone().take(prefix.len()).eq(prefix.chars())
}

fn expand_vars(text: &str, expand: &dyn Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let mut name = String::new();
        while let Some(&n) = chars.peek() {
            if !(n.is_ascii_alphanumeric() || n == '_') {
                break;
            }
            name.push(n);
            chars.next();
        }
        out.push_str(&expand(&name));
    }
    out
}

/// Runs `apiauth` with `args` and `stdin`; returns its exit code and its
/// stdout and stderr interleaved, as a terminal would show them.
fn run(env: &Env, args: &[String], stdin: Option<&str>) -> (i32, String) {
    let mut args = args.to_vec();
    // The real services' defaults point at the emulator instead.
    let service = args.first().is_some_and(|a| a == "register")
        || (args.starts_with(&["profile".into(), "add".into()])
            && args
                .windows(2)
                .any(|w| w[0] == "--provider" && w[1] != "oauth2"));
    if service && !args.iter().any(|a| a == "--base-url") {
        args.extend(["--base-url".to_owned(), env.url("")]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut out = tempfile::tempfile().expect("a temporary file");
    let mut cmd = env.cmd(&args);
    cmd.stdout(Stdio::from(out.try_clone().expect("dup")))
        .stderr(Stdio::from(out.try_clone().expect("dup")));
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().expect("apiauth runs");
    if let Some(input) = stdin {
        feed(&mut child, &format!("{input}\n"));
    }
    let status = child.wait().expect("apiauth ends");
    drop(cmd);
    out.rewind().expect("rewind");
    let mut text = String::new();
    out.read_to_string(&mut text).expect("utf-8 output");
    (status.code().unwrap_or(-1), text)
}

/// The emulator a transcript runs against: the defaults, but for the
/// one-per-second key-status throttle, which shares its cache key with
/// registration, so a `status` right after a `register` would pass or get a
/// 429 by how fast the setup ran.
fn transcript_env() -> Env {
    Env::with_config(EmulatorConfig {
        throttles: Throttles {
            key_status: None,
            ..Throttles::default()
        },
        ..EmulatorConfig::default()
    })
}

/// Runs one transcript; `Err` describes every difference.
fn check(t: &Transcript) -> Result<(), String> {
    let env = transcript_env();
    env.emu
        .add_client(ClientSpec::oauth2(
            "my-client",
            SECRET,
            &["read", "write"],
            &["read"],
        ))
        .expect("the page's client");
    for line in &t.setup {
        let line = substitute(line, &env);
        if let Some(json) = line.strip_prefix("emulator fault ") {
            let plan: FaultPlan = serde_json::from_str(json)
                .map_err(|e| format!("setup `{line}`: not a FaultPlan: {e}"))?;
            env.emu
                .add_fault(plan)
                .map_err(|e| format!("setup `{line}`: {e}"))?;
        } else if let Some(command) = line.strip_prefix("apiauth ") {
            let (words, stdin) = shell_words(command);
            let (code, output) = run(&env, &words, stdin.as_deref());
            if code != 0 {
                return Err(format!("setup `{line}` exited {code}:\n{output}"));
            }
        } else {
            return Err(format!(
                "setup line `{line}` is neither `apiauth …` nor `emulator fault …`"
            ));
        }
    }
    let mut last_code = None;
    for step in steps(t) {
        let command = substitute(&step.command, &env);
        let (code, output) = if command.trim() == "echo $?" {
            let code = last_code.ok_or("`echo $?` before any command")?;
            (0, format!("{code}\n"))
        } else if let Some(rest) = command.strip_prefix("apiauth ") {
            let (words, stdin) = shell_words(rest);
            run(&env, &words, stdin.as_deref())
        } else {
            return Err(format!("`$ {}` is not an apiauth command", step.command));
        };
        last_code = Some(code);
        let expected: Vec<String> = step
            .expected
            .iter()
            .map(|l| normalize(&substitute(l, &env)))
            .collect();
        let actual: Vec<String> = output.lines().map(normalize).collect();
        if !lines_match(&expected, &actual) {
            return Err(format!(
                "`$ {}` (exit {code}) printed:\n{}\n--- the page shows (after substitution):\n{}",
                step.command,
                actual.join("\n"),
                expected.join("\n")
            ));
        }
    }
    Ok(())
}

#[test]
fn every_transcript_in_cli_md_matches_what_the_cli_prints() {
    let transcripts = transcripts();
    assert!(
        transcripts.len() >= 8,
        "only {} transcripts found",
        transcripts.len()
    );
    let failures: Vec<String> = std::thread::scope(|scope| {
        let runs: Vec<_> = transcripts
            .iter()
            .filter(|t| t.not_run.is_none())
            .map(|t| (t.line, scope.spawn(move || check(t))))
            .collect();
        runs.into_iter()
            .filter_map(|(line, run)| match run.join() {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(format!("docs/cli.md:{line}: {e}")),
                Err(_) => Some(format!("docs/cli.md:{line}: the check panicked")),
            })
            .collect()
    });
    for t in transcripts.iter().filter(|t| t.not_run.is_some()) {
        eprintln!(
            "docs/cli.md:{}: not run: {}",
            t.line,
            t.not_run.as_deref().unwrap_or("")
        );
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// The placeholders do what the page says they do.
#[test]
fn placeholders_match_what_they_promise() {
    let m = |e: &str, a: &str| {
        let text: Vec<char> = a.chars().collect();
        line_matches(&pattern(e), &text)
    };
    assert!(m(
        "client id:     pm8GMaIX…",
        "client id:     Ue7hUTtYNI49J2Qh"
    ));
    assert!(!m("client id:     pm8GMaIX…", "client id:     two words"));
    assert!(m(r#""id":"cat_…","type""#, r#""id":"cat_74XY","type""#));
    assert!(m(
        r#"{…"result_count":…}"#,
        r#"{"page":1,"result_count":3,"results":[]}"#
    ));
    assert!(!m("exact", "exactly"));
    let lines = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert!(lines_match(
        &lines(&["a", "…", "", "b"]),
        &lines(&["a", "x", "y", "", "b"])
    ));
    assert!(lines_match(&lines(&["a", "…", "b"]), &lines(&["a", "b"])));
    assert!(!lines_match(&lines(&["a", "b"]), &lines(&["a", "b", "c"])));
    assert_eq!(
        normalize("valid until 2026-11-22T16:42:10Z, cached in /x/tokens/5489dfd39021a81c.json  "),
        "valid until <timestamp>, cached in /x/tokens/<digest>.json"
    );
    let (words, stdin) = shell_words(r#"a 'b c' "$SECRET" d\ e <<<"$MARKABLE_ID""#);
    assert_eq!(words, ["a", "b c", SECRET, "d e"]);
    assert_eq!(stdin.as_deref(), Some(demo::MARKABLE_CLIENT_ID));
}

/// The profile file and cache entry examples name the fields apiauth
/// writes, and the cache key has the documented parts.
#[test]
fn json_examples_match_the_files() {
    let json_blocks: Vec<serde_json::Value> = PAGE
        .split("```json\n")
        .skip(1)
        .map(|b| serde_json::from_str(b.split("```").next().unwrap_or("")).expect("valid JSON"))
        .collect();
    let [profile_example, cache_example] = &json_blocks[..] else {
        panic!("expected two JSON examples, found {}", json_blocks.len());
    };
    let env = Env::new();
    env.emu
        .add_client(ClientSpec::oauth2(
            "my-client",
            SECRET,
            &["read"],
            &["read"],
        ))
        .unwrap();
    let token_url = env.url("/oauth2/token");
    let (code, out) = run(
        &env,
        &[
            "profile",
            "add",
            "ci",
            "--provider",
            "oauth2",
            "--token-url",
            &token_url,
            "--scope",
            "read",
            "--client-id",
            "my-client",
        ]
        .map(str::to_owned),
        Some(SECRET),
    );
    assert_eq!(code, 0, "{out}");
    let (code, out) = run(&env, &["token", "--profile", "ci"].map(str::to_owned), None);
    assert_eq!(code, 0, "{out}");

    let read = |path: &std::path::Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let profile = read(&env.profile_path("ci"));
    assert_eq!(keys(profile_example), keys(&profile));
    let cache = read(&env.cache_file("ci"));
    assert_eq!(keys(cache_example), keys(&cache));
    // provider, token URL, fingerprint, client id, [scopes]
    let shown: Vec<&str> = cache_example["key"].as_str().unwrap().split(' ').collect();
    let written: Vec<&str> = cache["key"].as_str().unwrap().split(' ').collect();
    assert_eq!(shown.len(), written.len(), "{shown:?} vs {written:?}");
    assert_eq!(shown[0], written[0]);
    assert_eq!(shown[2].len(), written[2].len(), "the fingerprint's length");
    assert_eq!(shown[3..], written[3..]);
}
