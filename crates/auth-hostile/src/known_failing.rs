//! The cases that fail today because of library bugs being fixed (issue
//! 10), and the rule that keeps this list honest: a listed case that fails
//! is reported and tolerated; a listed case that passes fails the run,
//! so the list can only shrink.

use crate::judge::Runner;

/// `("runner:case", reason)`. `runner` is `reqwest`, `ureq`, `cli`,
/// `drivers` (both drivers) or `*`;
/// `case` is a case name in which `*` matches any run of characters. Every
/// run an entry matches must fail: narrow or remove an entry as soon as
/// part of it passes.
pub const KNOWN_FAILING: &[(&str, &str)] = &[];

/// The outcome of one case in one runner.
#[derive(Clone, Debug)]
pub struct Verdict {
    /// The case name.
    pub case: String,
    /// Everything wrong with the run; empty when it passed.
    pub failures: Vec<String>,
}

/// Whether `pattern` (with `*` wildcards) matches `text`.
#[must_use]
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(at) => rest = &rest[at + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Whether the runner part of a key covers `runner`.
fn runner_matches(pattern: &str, runner: Runner) -> bool {
    match pattern {
        "*" => true,
        "drivers" => runner != Runner::Cli,
        p => p == runner.label(),
    }
}

/// The [`KNOWN_FAILING`] entry that covers `case` in `runner`, if any.
#[must_use]
pub fn known(runner: Runner, case: &str) -> Option<(&'static str, &'static str)> {
    known_in(KNOWN_FAILING, runner, case)
}

fn known_in(
    list: &'static [(&'static str, &'static str)],
    runner: Runner,
    case: &str,
) -> Option<(&'static str, &'static str)> {
    list.iter().copied().find(|(key, _)| {
        key.split_once(':')
            .is_some_and(|(r, c)| runner_matches(r, runner) && glob(c, case))
    })
}

/// Settles a runner's verdicts against [`KNOWN_FAILING`]: `Ok(report)`
/// when every failure is known and every known entry still fails, else
/// `Err(report)` naming what to fix. `complete` says whether every case
/// ran (then an entry matching no case at all is reported as stale).
pub fn settle(runner: Runner, verdicts: &[Verdict], complete: bool) -> Result<String, String> {
    settle_with(KNOWN_FAILING, runner, verdicts, complete)
}

/// [`settle`] against another list (for testing the rule itself).
pub fn settle_with(
    list: &'static [(&'static str, &'static str)],
    runner: Runner,
    verdicts: &[Verdict],
    complete: bool,
) -> Result<String, String> {
    let mut report = String::new();
    let mut errors = String::new();
    let mut known_failures = 0;
    for v in verdicts {
        let entry = known_in(list, runner, &v.case);
        match (v.failures.is_empty(), entry) {
            (true, None) => {}
            (true, Some((key, _))) => errors.push_str(&format!(
                "{}:{} passes: remove it from KNOWN_FAILING (entry {key:?})\n",
                runner.label(),
                v.case
            )),
            (false, Some((_, reason))) => {
                known_failures += 1;
                report.push_str(&format!(
                    "known failing {}:{} ({reason}): {}\n",
                    runner.label(),
                    v.case,
                    v.failures[0]
                ));
            }
            (false, None) => {
                errors.push_str(&format!("FAILED {}:{}\n", runner.label(), v.case));
                for f in &v.failures {
                    errors.push_str(&format!("    {f}\n"));
                }
            }
        }
    }
    if complete {
        for (key, _) in list {
            let Some((r, c)) = key.split_once(':') else {
                errors.push_str(&format!(
                    "KNOWN_FAILING entry {key:?} has no runner prefix\n"
                ));
                continue;
            };
            if runner_matches(r, runner) && !verdicts.iter().any(|v| glob(c, &v.case)) {
                errors.push_str(&format!(
                    "KNOWN_FAILING entry {key:?} matches no case: remove it\n"
                ));
            }
        }
    }
    let summary = format!(
        "{}: {} cases, {} passed, {} known failing\n",
        runner.label(),
        verdicts.len(),
        verdicts.iter().filter(|v| v.failures.is_empty()).count(),
        known_failures
    );
    if errors.is_empty() {
        Ok(format!("{summary}{report}"))
    } else {
        Err(format!("{summary}{report}{errors}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("a/b", "a/b"));
        assert!(!glob("a/b", "a/bc"));
        assert!(glob("*/echo-*", "oauth2-basic/echo-raw"));
        assert!(glob("oauth2-*/echo-form*", "oauth2-post/echo-form-plus"));
        assert!(!glob("oauth2-*/echo-form*", "markable/echo-form-plus"));
        assert!(glob("*", ""));
    }

    #[test]
    fn the_list_only_shrinks() {
        static LIST: &[(&str, &str)] = &[("ureq:x/*", "bug"), ("*:gone", "stale")];
        let v = |case: &str, ok: bool| Verdict {
            case: case.into(),
            failures: if ok { vec![] } else { vec!["bad".into()] },
        };
        // Known and failing: fine; but the stale entry is reported.
        let r = settle_with(LIST, Runner::Ureq, &[v("x/a", false)], true);
        assert!(r.unwrap_err().contains("matches no case"));
        let r = settle_with(LIST, Runner::Ureq, &[v("x/a", false)], false);
        assert!(r.unwrap().contains("known failing ureq:x/a"));
        // Known and passing: the run fails.
        let r = settle_with(LIST, Runner::Ureq, &[v("x/a", true)], false);
        assert!(r.unwrap_err().contains("remove it from KNOWN_FAILING"));
        // Not listed for this runner: a failure is a failure.
        let r = settle_with(LIST, Runner::Cli, &[v("x/a", false)], false);
        assert!(r.unwrap_err().contains("FAILED cli:x/a"));
    }
}
