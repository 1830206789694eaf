//! `cargo xtask demo`: the emulator plus every flow, narrated.
//!
//! Each step prints what happened, the HTTP status and the time taken, and
//! the run exits non-zero if any step misbehaves. Secrets print as
//! `[redacted]`; the one token printed in full is a Markable `search` token,
//! which exists to be published.

use std::future::Future;
use std::time::{Duration, Instant};

use auth_core::{
    ClientAuth, ClientCredentials, Markable, OAuth2, Openverse, PrivateKey, RefreshPolicy,
    Registration, Routes,
};
use auth_emulator::{
    demo, Emulator, EmulatorConfig, Endpoint, Fault, FaultPlan, OpenverseFlavour, Scheme, Throttles,
};
use auth_reqwest::{SearchTokenProvider, TokenProvider};

type StepResult = Result<String, String>;

struct Narrator {
    failures: u32,
    started: Instant,
}

impl Narrator {
    fn section(&self, title: &str) {
        println!("\n== {title}");
    }

    async fn step<F>(&mut self, what: &str, f: F)
    where
        F: Future<Output = StepResult>,
    {
        let t = Instant::now();
        let result = f.await;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        match result {
            Ok(detail) => println!("  ok   {what:<52} {detail} ({ms:.0} ms)"),
            Err(why) => {
                self.failures += 1;
                println!("  FAIL {what:<52} {why} ({ms:.0} ms)");
            }
        }
    }
}

fn check(ok: bool, detail: impl Into<String>) -> StepResult {
    let detail = detail.into();
    if ok {
        Ok(detail)
    } else {
        Err(detail)
    }
}

fn e<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

pub(crate) fn run(_args: &[String]) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(e)?;
    let failures = rt.block_on(run_async())?;
    if failures == 0 {
        println!("\ndemo: every step behaved");
        Ok(())
    } else {
        Err(format!("{failures} demo step(s) misbehaved"))
    }
}

async fn run_async() -> Result<u32, String> {
    let emu = Emulator::start(EmulatorConfig::default())
        .await
        .map_err(e)?;
    let mut n = Narrator {
        failures: 0,
        started: Instant::now(),
    };
    println!(
        "apiauth demo — emulator on {} (loopback only; Markable API on {}; Openverse flavour, real throttles)",
        emu.base_url(),
        emu.markable_api_url()
    );

    openverse(&mut n, &emu).await?;
    cc_catalog(&mut n).await?;
    markable(&mut n, &emu).await?;
    oauth2(&mut n, &emu).await?;
    private_key_jwt(&mut n, &emu).await?;
    faults(&mut n, &emu).await?;
    blocking(&mut n, &emu).await?;

    println!("\ntotal {:.1} s", n.started.elapsed().as_secs_f64());
    Ok(n.failures)
}

async fn openverse(n: &mut Narrator, emu: &Emulator) -> Result<(), String> {
    n.section("Openverse: register, verify, exchange, call");
    let openverse = Openverse::with_base(emu.base_url()).map_err(e)?;
    n.step(
        "the slash-less register path is a 301, as on the real server",
        async {
            let r = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(e)?
                .post(emu.url("/v1/auth_tokens/register"))
                .send()
                .await
                .map_err(e)?;
            let to = r
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("?")
                .to_owned();
            check(
                r.status() == 301 && to == "/v1/auth_tokens/register/",
                format!("{} → {to}", r.status().as_u16()),
            )
        },
    )
    .await;
    let mut creds: Option<ClientCredentials> = None;
    n.step("register a client", async {
        let c = auth_reqwest::register(
            &openverse,
            &Registration::new("apiauth demo", "Shows every flow", "demo@example.org"),
        )
        .await
        .map_err(e)?;
        let detail = format!(
            "201 client_id={} client_secret={}",
            c.credentials.client_id(),
            c.credentials
                .client_secret()
                .map_or_else(|| "none".to_owned(), |s| format!("{s:?}"))
        );
        creds = Some(c.credentials);
        Ok(detail)
    })
    .await;
    let creds = creds.ok_or("registration failed; the rest of this flow needs its client")?;

    let outbox = emu.outbox();
    let mail = outbox
        .iter()
        .find(|m| m.client_id == creds.client_id())
        .cloned();
    n.step("read the verification email from the outbox", async {
        let m = mail.as_ref().ok_or("no email")?;
        Ok(format!("to {} — “{}”", m.to, m.subject))
    })
    .await;

    let provider = TokenProvider::builder(openverse.clone(), creds.clone())
        .build()
        .map_err(e)?;
    n.step("exchange the credentials for a token", async {
        let t = provider.token().await.map_err(e)?;
        Ok(format!(
            "200 Bearer [redacted], scope “{}”, {} s left",
            t.granted_scopes(),
            t.remaining(Instant::now()).map_or(0, |d| d.as_secs())
        ))
    })
    .await;

    let images = |p: &TokenProvider| {
        let p = p.clone();
        let url = emu.url("/v1/images/?q=test");
        async move {
            let mut ok = 0u32;
            for _ in 0..200 {
                let req = reqwest::Client::new().get(&url).build().map_err(e)?;
                let r = p.send(req).await.map_err(e)?;
                if r.status() == 429 {
                    let after = r
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("?")
                        .to_owned();
                    return Ok::<_, String>((
                        ok,
                        format!("429 after {ok} calls, Retry-After {after} s"),
                    ));
                }
                ok += 1;
            }
            Ok((ok, format!("200 × {ok}, never throttled")))
        }
    };
    let mut unverified = 0;
    n.step(
        "call the API before verifying (anonymous limits, per IP)",
        async {
            let (ok, detail) = images(&provider).await?;
            unverified = ok;
            let limits = provider
                .last_rate_limits()
                .and_then(|l| {
                    l.tightest()
                        .map(|t| format!(" [{}: {}]", t.scope, t.limit.clone().unwrap_or_default()))
                })
                .unwrap_or_default();
            Ok(format!("{detail}{limits}"))
        },
    )
    .await;

    // The link is an anonymous request too: skip the hour's wait.
    emu.reset_rate_limits();
    n.step(
        "follow the verification link (the emulator forgot the hour)",
        async {
            let m = mail.as_ref().ok_or("no email")?;
            let r = reqwest::get(&m.link).await.map_err(e)?;
            check(r.status().is_success(), format!("{}", r.status().as_u16()))
        },
    )
    .await;
    n.step("key status shows the key verified", async {
        let s = provider.key_status().await.map_err(e)?;
        let count = |c: Option<u64>| c.map_or_else(|| "null".to_owned(), |c| c.to_string());
        check(
            s.verified == Some(true),
            format!(
                "verified={:?} model={} today={} (no history yet)",
                s.verified,
                s.rate_limit_model.unwrap_or_default(),
                count(s.requests_today)
            ),
        )
    })
    .await;
    n.step("call the API again: higher rate limit", async {
        let (ok, detail) = images(&provider).await?;
        check(ok > unverified, format!("{detail} (was {unverified})"))
    })
    .await;

    emu.set_lifetime(Scheme::Openverse, Duration::from_secs(2))
        .map_err(e)?;
    // Each renewal is an anonymous token request (5 an hour): start afresh.
    emu.reset_rate_limits();
    let short = TokenProvider::builder(openverse, creds)
        .build()
        .map_err(e)?;
    n.step("let a 2 s token expire and watch it renew", async {
        let first = short.token().await.map_err(e)?;
        let start = Instant::now();
        let mut renewals = 0;
        let mut last = first.id();
        while start.elapsed() < Duration::from_millis(4500) {
            let t = short.token().await.map_err(e)?;
            if t.id() != last {
                renewals += 1;
                last = t.id();
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        check(
            renewals >= 2,
            format!("{renewals} background renewals in 4.5 s, no caller waited or failed"),
        )
    })
    .await;
    emu.set_lifetime(Scheme::Openverse, Duration::from_secs(43_200))
        .map_err(e)?;
    emu.reset_rate_limits();
    Ok(())
}

/// One request against the seed's own server: the CC Catalog flavour, on a
/// second emulator.
async fn cc_catalog(n: &mut Narrator) -> Result<(), String> {
    n.section("CC Catalog (the seed's server, on a second emulator)");
    let emu = Emulator::start(EmulatorConfig {
        flavour: OpenverseFlavour::CcCatalog,
        throttles: Throttles::cc_catalog(),
        ..EmulatorConfig::default()
    })
    .await
    .map_err(e)?;
    let seed = Openverse::with_routes(emu.base_url(), Routes::CcCatalog).map_err(e)?;
    let creds = ClientCredentials::new(demo::OPENVERSE_CLIENT_ID, demo::OPENVERSE_CLIENT_SECRET)
        .map_err(e)?;
    let p = TokenProvider::builder(seed.clone(), creds)
        .build()
        .map_err(e)?;
    n.step(
        "key status at the seed's /v1/rate_limit (no slash)",
        async {
            let s = p.key_status().await.map_err(e)?;
            let t = p.token().await.map_err(e)?;
            check(
                s.verified == Some(true) && seed.key_status_url().path() == "/v1/rate_limit",
                format!(
                    "200 verified={:?}; token scope “{}”",
                    s.verified,
                    t.granted_scopes()
                ),
            )
        },
    )
    .await;
    emu.shutdown().await;
    Ok(())
}

async fn markable(n: &mut Narrator, emu: &Emulator) -> Result<(), String> {
    n.section("Markable Lens: private default token, publishable search token");
    let markable = Markable::with_base(emu.base_url()).map_err(e)?;
    let creds = ClientCredentials::new(demo::MARKABLE_CLIENT_ID, demo::MARKABLE_CLIENT_SECRET)
        .map_err(e)?;
    let private = TokenProvider::builder(markable.clone(), creds.clone())
        .scopes("default".parse().map_err(e)?)
        .build()
        .map_err(e)?;
    n.step("authorize with scope default (must stay private)", async {
        let t = private.token().await.map_err(e)?;
        check(
            t.publishable().is_none(),
            "200 Bearer [redacted]; no publish door for this token",
        )
    })
    .await;
    n.step("create a catalog with the default token", async {
        let req = reqwest::Client::new()
            .post(emu.markable_api_url_for("/api/v1/catalogs"))
            .header("content-type", "application/json")
            .body(r#"{"name":"demo"}"#)
            .build()
            .map_err(e)?;
        let r = private.send(req).await.map_err(e)?;
        check(r.status().is_success(), r.status().as_u16().to_string())
    })
    .await;
    let search = SearchTokenProvider::new(TokenProvider::builder(markable, creds)).map_err(e)?;
    n.step("authorize with scope search and publish it", async {
        let p = search.publishable_token().await.map_err(e)?;
        Ok(format!("200 publishable token: {p}"))
    })
    .await;
    n.step("search with the published token", async {
        let req = reqwest::Client::new()
            .get(emu.markable_api_url_for("/api/v1/search?q=shoes"))
            .build()
            .map_err(e)?;
        let r = search.send(req).await.map_err(e)?;
        check(r.status() == 200, r.status().as_u16().to_string())
    })
    .await;
    n.step("a write with the search token is refused", async {
        let req = reqwest::Client::new()
            .post(emu.markable_api_url_for("/api/v1/catalogs"))
            .header("content-type", "application/json")
            .body(r#"{"name":"demo"}"#)
            .build()
            .map_err(e)?;
        let r = search.send(req).await.map_err(e)?;
        check(
            r.status() == 403,
            format!("{} as it should be", r.status().as_u16()),
        )
    })
    .await;
    Ok(())
}

async fn oauth2(n: &mut Narrator, emu: &Emulator) -> Result<(), String> {
    n.section("Plain OAuth 2.0 client credentials (RFC 6749 §4.4)");
    let url = emu.url("/oauth2/token");
    let creds =
        ClientCredentials::new(demo::OAUTH2_CLIENT_ID, demo::OAUTH2_CLIENT_SECRET).map_err(e)?;
    for auth in [ClientAuth::Basic, ClientAuth::Post] {
        let p = TokenProvider::builder(OAuth2::new(&url, auth).map_err(e)?, creds.clone())
            .scopes("read write".parse().map_err(e)?)
            .build()
            .map_err(e)?;
        n.step(&format!("token with {}", auth.as_str()), async {
            let t = p.token().await.map_err(e)?;
            let req = reqwest::Client::new()
                .get(emu.url("/oauth2/resource"))
                .build()
                .map_err(e)?;
            let r = p.send(req).await.map_err(e)?;
            check(
                r.status() == 200,
                format!(
                    "200 scope “{}”; resource {}",
                    t.granted_scopes(),
                    r.status().as_u16()
                ),
            )
        })
        .await;
    }
    let greedy = TokenProvider::builder(OAuth2::new(&url, ClientAuth::Basic).map_err(e)?, creds)
        .scopes("read root".parse().map_err(e)?)
        .build()
        .map_err(e)?;
    n.step("ask for a scope the client may not have", async {
        match greedy.token().await {
            Ok(_) => Err("the server granted a forbidden scope".into()),
            Err(err) => check(
                err.to_string().contains("invalid_scope"),
                format!("typed error: {err}"),
            ),
        }
    })
    .await;
    Ok(())
}

/// Discovery (RFC 8414) and private_key_jwt (RFC 7523) with the emulator's
/// demo key, a fixed public test key: the emulator checks every assertion's
/// signature, `aud`, `exp` and `jti` with its own code.
async fn private_key_jwt(n: &mut Narrator, emu: &Emulator) -> Result<(), String> {
    n.section("private_key_jwt and discovery");
    let mut metadata = None;
    n.step("discover the emulator's issuer", async {
        let m = auth_reqwest::discover(emu.base_url()).await.map_err(e)?;
        let detail = format!(
            "token endpoint {}; methods {}",
            m.token_endpoint(),
            m.token_endpoint_auth_methods().join(", ")
        );
        metadata = Some(m);
        Ok(detail)
    })
    .await;
    let metadata = metadata.ok_or("discovery failed; the rest of this flow needs it")?;

    let key = PrivateKey::from_pem(demo::OAUTH2_JWT_PRIVATE_KEY_PEM)
        .map_err(e)?
        .with_key_id(demo::OAUTH2_JWT_KEY_ID);
    let shown = format!("{key:?}");
    let creds = ClientCredentials::with_private_key(demo::OAUTH2_JWT_CLIENT_ID, key).map_err(e)?;
    let provider = metadata.provider(&creds).map_err(e)?;
    let auth = provider.auth();
    let p = TokenProvider::builder(provider, creds).build().map_err(e)?;
    let mut first = None;
    n.step("token with a signed assertion (ES256)", async {
        let t = p.token().await.map_err(e)?;
        let req = reqwest::Client::new()
            .get(emu.url("/oauth2/resource"))
            .build()
            .map_err(e)?;
        let r = p.send(req).await.map_err(e)?;
        let detail = format!(
            "method {} chosen from the metadata; 200 Bearer [redacted], scope “{}”; resource {}",
            auth.as_str(),
            t.granted_scopes(),
            r.status().as_u16()
        );
        let ok = auth == ClientAuth::PrivateKeyJwt && r.status() == 200;
        first = Some(t);
        check(ok, detail)
    })
    .await;
    let first = first.ok_or("no token; the rest of this flow needs it")?;

    let rejected_before = emu.counters().rejected;
    n.step("invalidate it: a fresh assertion is accepted", async {
        p.invalidate(&first);
        let t = p.token().await.map_err(e)?;
        let c = emu.counters();
        let sent = c.token_requests_by(Scheme::Oauth2, demo::OAUTH2_JWT_CLIENT_ID);
        check(
            t.id() != first.id() && c.rejected == rejected_before,
            format!("a new token; {sent} assertions sent, each with its own jti, none refused as a replay"),
        )
    })
    .await;

    n.step("the key's Debug hides the key", async {
        let leaks = demo::OAUTH2_JWT_PRIVATE_KEY_PEM
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .any(|l| shown.contains(l));
        check(shown.contains("[redacted]") && !leaks, shown.clone())
    })
    .await;
    Ok(())
}

async fn faults(n: &mut Narrator, emu: &Emulator) -> Result<(), String> {
    n.section("A fault burst on the token endpoint");
    let creds =
        ClientCredentials::new(demo::OAUTH2_CLIENT_ID, demo::OAUTH2_CLIENT_SECRET).map_err(e)?;
    let p = TokenProvider::builder(
        OAuth2::new(&emu.url("/oauth2/token"), ClientAuth::Basic).map_err(e)?,
        creds,
    )
    .policy(RefreshPolicy::default().with_waiting_retries(3))
    .build()
    .map_err(e)?;
    emu.clear_faults();
    let before = emu
        .counters()
        .requests
        .get(&Endpoint::Oauth2Token)
        .copied()
        .unwrap_or(0);
    for fault in [
        Fault::ServerError {
            status: 503,
            retry_after_secs: None,
        },
        Fault::ConnectionReset,
        Fault::Html,
    ] {
        emu.add_fault(FaultPlan::next(Endpoint::Oauth2Token, fault, 1))
            .map_err(e)?;
    }
    n.step("503, a reset and an HTML page, then recovery", async {
        let t = p.token().await.map_err(e)?;
        let after = emu
            .counters()
            .requests
            .get(&Endpoint::Oauth2Token)
            .copied()
            .unwrap_or(0);
        check(
            t.is_usable(Instant::now()),
            format!(
                "token after {} requests, backing off between them",
                after - before
            ),
        )
    })
    .await;
    emu.clear_faults();
    Ok(())
}

/// The same flows through the blocking driver, as a cron script would run
/// them (on a blocking thread: auth-ureq has no async anywhere).
async fn blocking(n: &mut Narrator, emu: &Emulator) -> Result<(), String> {
    n.section("The blocking driver (auth-ureq): what a script sees");
    let token_url = emu.url("/oauth2/token");
    let resource = emu.url("/oauth2/resource");
    n.step("OAuth 2.0 token and an authorized call", async move {
        tokio::task::spawn_blocking(move || {
            let creds = ClientCredentials::new(demo::OAUTH2_CLIENT_ID, demo::OAUTH2_CLIENT_SECRET)
                .map_err(e)?;
            let p = auth_ureq::TokenProvider::builder(
                OAuth2::new(&token_url, ClientAuth::Basic).map_err(e)?,
                creds,
            )
            .scopes("read".parse().map_err(e)?)
            .build()
            .map_err(e)?;
            let t = p.token().map_err(e)?;
            let again = p.token().map_err(e)?;
            let req = http::Request::get(&resource).body(Vec::new()).map_err(e)?;
            let r = p.send(req).map_err(e)?;
            check(
                r.status() == 200 && t.id() == again.id(),
                format!(
                    "200 Bearer [redacted], cached on the second read; resource {}",
                    r.status().as_u16()
                ),
            )
        })
        .await
        .map_err(e)?
    })
    .await;

    let base = emu.base_url().to_owned();
    n.step("Openverse key status", async move {
        tokio::task::spawn_blocking(move || {
            let creds =
                ClientCredentials::new(demo::OPENVERSE_CLIENT_ID, demo::OPENVERSE_CLIENT_SECRET)
                    .map_err(e)?;
            let p =
                auth_ureq::TokenProvider::builder(Openverse::with_base(&base).map_err(e)?, creds)
                    .build()
                    .map_err(e)?;
            let s = p.key_status().map_err(e)?;
            check(
                s.verified == Some(true),
                format!("verified={:?}", s.verified),
            )
        })
        .await
        .map_err(e)?
    })
    .await;

    let base = emu.base_url().to_owned();
    n.step("Markable search token, published", async move {
        tokio::task::spawn_blocking(move || {
            let creds =
                ClientCredentials::new(demo::MARKABLE_CLIENT_ID, demo::MARKABLE_CLIENT_SECRET)
                    .map_err(e)?;
            let p = auth_ureq::SearchTokenProvider::new(auth_ureq::TokenProvider::builder(
                Markable::with_base(&base).map_err(e)?,
                creds,
            ))
            .map_err(e)?;
            let t = p.publishable_token().map_err(e)?;
            Ok(format!("200 publishable token: {t}"))
        })
        .await
        .map_err(e)?
    })
    .await;
    Ok(())
}
