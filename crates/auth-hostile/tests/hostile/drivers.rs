//! Every case against both drivers: `auth-reqwest` on a current-thread
//! runtime and `auth-ureq` on a plain thread, each with short timeouts and
//! every log event captured.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use auth_core::{
    ClientAuth, ClientCredentials, Markable, OAuth2, Openverse, Provider, RefreshPolicy,
    Registration, Scopes,
};
use auth_hostile::{
    cases::API, judge, selected_cases, Case, Class, Endpoint, HostileServer, Observed, Runner,
    Terminal, Text, ASYNC_REGISTER_BOUND, CONNECT_TIMEOUT, DRIVER_BOUND, REQUEST_TIMEOUT,
    WAIT_LIMIT,
};

use crate::common::{classify, finish, on_thread, run_all, show, LogCapture};

/// What a driver call gave back when it succeeded.
#[derive(Debug, Default)]
struct Success {
    /// The token value returned, if the call returns one.
    token: Option<String>,
    /// The status of an API answer.
    api_status: Option<u16>,
    /// `Debug` of what was returned.
    debug: String,
    /// Checks only the runner can make (a registration's credentials).
    extra: Vec<String>,
}

type Outcome = Result<Success, auth_cell::Error>;

/// Backoffs of tens of milliseconds, so a retried case takes well under a
/// second; every other setting (retry counts, caps) is the default.
fn policy() -> RefreshPolicy {
    RefreshPolicy::default()
        .with_backoff_initial(Duration::from_millis(50))
        .with_backoff_max(Duration::from_millis(300))
}

fn provider(case: &Case, base: &str) -> (Provider, Scopes) {
    let scopes = |s: &str| s.parse::<Scopes>().unwrap();
    match case.endpoint {
        Endpoint::OAuth2Basic | Endpoint::Api => (
            OAuth2::new(&format!("{base}/oauth2/token"), ClientAuth::Basic)
                .unwrap()
                .into(),
            scopes("read"),
        ),
        Endpoint::OAuth2Post => (
            OAuth2::new(&format!("{base}/oauth2/token"), ClientAuth::Post)
                .unwrap()
                .into(),
            scopes("read"),
        ),
        Endpoint::OpenverseToken | Endpoint::OpenverseKeyStatus | Endpoint::OpenverseRegister => {
            (Openverse::with_base(base).unwrap().into(), Scopes::empty())
        }
        Endpoint::MarkableDefault => (Markable::with_base(base).unwrap().into(), scopes("default")),
        Endpoint::MarkableSearch => (Markable::with_base(base).unwrap().into(), scopes("search")),
    }
}

fn credentials(case: &Case) -> ClientCredentials {
    ClientCredentials::new(case.client_id(), case.secret()).unwrap()
}

fn registration() -> Registration {
    Registration::new("hostile app", "a hostile test", "me@example.org")
}

fn check_registered(case: &Case, client: &auth_core::RegisteredClient) -> Vec<String> {
    let mut bad = Vec::new();
    if client.credentials.client_id() != case.client_id() {
        bad.push(format!(
            "registered id {:?}, not {:?}",
            client.credentials.client_id(),
            case.client_id()
        ));
    }
    let secret = case.secret();
    if client
        .credentials
        .client_secret()
        .is_none_or(|s| s.expose_secret() != secret)
    {
        bad.push("the registered secret is not the one the server issued".into());
    }
    bad
}

fn api_body() -> Vec<u8> {
    br#"{"q":"hostile"}"#.to_vec()
}

// ---------------------------------------------------------------- ureq

fn ureq_call(case: &Case, base: &str) -> Outcome {
    use auth_ureq::{SearchTokenProvider, TokenProvider};
    let (provider, scopes) = provider(case, base);
    if case.endpoint == Endpoint::OpenverseRegister {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(REQUEST_TIMEOUT))
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .max_redirects(0)
            .http_status_as_error(false)
            .build()
            .into();
        let Provider::Openverse(ov) = provider else {
            unreachable!()
        };
        let client = auth_ureq::register_with_agent(&agent, &ov, &registration())?;
        return Ok(Success {
            debug: format!("{client:?}"),
            extra: check_registered(case, &client),
            ..Success::default()
        });
    }
    let builder = TokenProvider::builder(provider, credentials(case))
        .policy(policy())
        .seed(7)
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .wait_limit(WAIT_LIMIT)
        .max_api_body_bytes(1024 * 1024);
    match case.endpoint {
        Endpoint::MarkableSearch => {
            let search = SearchTokenProvider::new(builder)?;
            let t = search.publishable_token()?;
            Ok(Success {
                token: Some(t.as_str().to_owned()),
                debug: format!("{t:?} {search:?}"),
                ..Success::default()
            })
        }
        Endpoint::OpenverseKeyStatus => {
            let tokens = builder.build()?;
            let status = tokens.key_status()?;
            Ok(Success {
                debug: format!("{status:?} {tokens:?}"),
                ..Success::default()
            })
        }
        Endpoint::Api => {
            let tokens = builder.scopes(scopes).build()?;
            let request = http::Request::post(format!("{base}{API}"))
                .header("content-type", "application/json")
                .body(api_body())
                .unwrap();
            let response = tokens.send(request)?;
            Ok(Success {
                api_status: Some(response.status().as_u16()),
                // The API's own answer is the caller's data, returned as
                // received (the CLI's `request` stdout is exempt alike).
                debug: format!("{tokens:?}"),
                ..Success::default()
            })
        }
        _ => {
            let tokens = builder.scopes(scopes).build()?;
            let t = tokens.token()?;
            Ok(Success {
                token: Some(t.access_token().expose_secret().to_owned()),
                debug: format!("{t:?} {tokens:?}"),
                ..Success::default()
            })
        }
    }
}

// ------------------------------------------------------------- reqwest

async fn reqwest_call(case: &Case, base: &str) -> Outcome {
    use auth_reqwest::{SearchTokenProvider, TokenProvider};
    let (provider, scopes) = provider(case, base);
    if case.endpoint == Endpoint::OpenverseRegister {
        let Provider::Openverse(ov) = provider else {
            unreachable!()
        };
        let client = auth_reqwest::register(&ov, &registration()).await?;
        return Ok(Success {
            debug: format!("{client:?}"),
            extra: check_registered(case, &client),
            ..Success::default()
        });
    }
    let builder = TokenProvider::builder(provider, credentials(case))
        .policy(policy())
        .seed(7)
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .wait_limit(WAIT_LIMIT)
        .max_api_body_bytes(1024 * 1024);
    match case.endpoint {
        Endpoint::MarkableSearch => {
            let search = SearchTokenProvider::new(builder)?;
            let t = search.publishable_token().await?;
            Ok(Success {
                token: Some(t.as_str().to_owned()),
                debug: format!("{t:?} {search:?}"),
                ..Success::default()
            })
        }
        Endpoint::OpenverseKeyStatus => {
            let tokens = builder.build()?;
            let status = tokens.key_status().await?;
            Ok(Success {
                debug: format!("{status:?} {tokens:?}"),
                ..Success::default()
            })
        }
        Endpoint::Api => {
            let tokens = builder.scopes(scopes).build()?;
            let mut request = reqwest::Request::new(
                reqwest::Method::POST,
                format!("{base}{API}").parse().unwrap(),
            );
            request.headers_mut().insert(
                reqwest::header::CONTENT_TYPE,
                "application/json".parse().unwrap(),
            );
            *request.body_mut() = Some(api_body().into());
            let response = tokens.send(request).await?;
            // The body is the caller's, unread and uncapped by design.
            Ok(Success {
                api_status: Some(response.status().as_u16()),
                // The API's own answer is the caller's data, returned as
                // received (the CLI's `request` stdout is exempt alike).
                debug: format!("{tokens:?}"),
                ..Success::default()
            })
        }
        _ => {
            let tokens = builder.scopes(scopes).build()?;
            let t = tokens.token().await?;
            Ok(Success {
                token: Some(t.access_token().expose_secret().to_owned()),
                debug: format!("{t:?} {tokens:?}"),
                ..Success::default()
            })
        }
    }
}

// -------------------------------------------------------------- judging

fn bound(case: &Case, runner: Runner) -> Duration {
    if runner == Runner::Reqwest && case.endpoint == Endpoint::OpenverseRegister {
        ASYNC_REGISTER_BOUND
    } else {
        DRIVER_BOUND
    }
}

fn run_case(case: &Case, runner: Runner) -> Vec<String> {
    let server = HostileServer::start(case.script(), case.credentials()).unwrap();
    let base = server.base_url().to_owned();
    let logs = LogCapture::default();
    let started = Instant::now();
    let limit = bound(case, runner) + Duration::from_secs(20);
    let (c, l) = (case.clone(), logs.clone());
    let result = on_thread(limit, move || {
        l.during(|| match runner {
            Runner::Ureq => ureq_call(&c, &base),
            _ => {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(reqwest_call(&c, &base))
            }
        })
    });
    let elapsed = started.elapsed();
    let mut extra = Vec::new();
    let mut obs = match result {
        Ok(Ok(success)) => {
            let mut obs = Observed::new(Class::Ok, elapsed);
            obs.token = success.token;
            obs.api_status = success.api_status;
            let mut debug = Text::new("Debug of the value returned", success.debug, Terminal::Skip);
            if case.endpoint == Endpoint::MarkableSearch {
                // A publishable token is the one token that may be shown.
                debug = debug.with_token();
            }
            obs.texts.push(debug);
            extra = success.extra;
            obs
        }
        Ok(Err(e)) => {
            let mut obs = Observed::new(classify(&e), elapsed);
            obs.retryable = e.is_retryable();
            obs.message = e.to_string();
            obs.texts
                .push(Text::new("error Display", e.to_string(), Terminal::OneLine));
            obs.texts
                .push(Text::new("error Debug", format!("{e:?}"), Terminal::Skip));
            obs
        }
        Err(p) => {
            let mut obs = Observed::new(Class::Unknown("panic".into()), elapsed);
            obs.panicked = Some(p);
            obs
        }
    };
    for (i, line) in logs.lines().into_iter().enumerate() {
        obs.texts
            .push(Text::new(format!("log line {i}"), line, Terminal::OneLine));
    }
    // Give a request handed to a background thread or task time to land,
    // so a retry storm after the caller's return is still counted.
    std::thread::sleep(Duration::from_millis(300));
    show(runner, case, &format!("{:?} {}", obs.class, obs.message));
    let mut failures = judge(case, runner, &server, &obs, bound(case, runner));
    failures.extend(extra);
    failures
}

fn run(runner: Runner) {
    let started = Instant::now();
    let (cases, complete) = selected_cases();
    let verdicts = run_all(&cases, 8, |case| run_case(case, runner));
    finish(runner, &verdicts, complete, started);
}

#[test]
fn reqwest_driver_against_every_case() {
    run(Runner::Reqwest);
}

#[test]
fn ureq_driver_against_every_case() {
    run(Runner::Ureq);
}
