//! DRF's throttles as Openverse configures them, and what `/v1/rate_limit/`
//! makes of them. Small rates (per day, so no window ends mid-test) or the
//! real ones where a test makes few requests; never a sleep.

use auth_emulator::{
    demo, ClientSpec, Emulator, EmulatorConfig, Rate, RateLimitModel, Scheme, Throttles,
};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::openverse::token;
use crate::{emu, emu_with, form, header, http, json, FORM};

async fn with_throttles(throttles: Throttles) -> Emulator {
    emu_with(EmulatorConfig {
        throttles,
        ..EmulatorConfig::default()
    })
    .await
}

async fn images(emu: &Emulator, token: Option<&str>) -> reqwest::Response {
    let mut req = http().get(emu.url("/v1/images/?q=cat"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

async fn key_status(
    emu: &Emulator,
    token: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut req = http().get(emu.url("/v1/rate_limit/"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    json(req.send().await.unwrap()).await
}

async fn token_request(emu: &Emulator, secret: &str) -> reqwest::Response {
    http()
        .post(emu.url("/v1/auth_tokens/token/"))
        .header("content-type", FORM)
        .body(form(&[
            ("client_id", demo::OPENVERSE_CLIENT_ID),
            ("client_secret", secret),
            ("grant_type", "client_credentials"),
        ]))
        .send()
        .await
        .unwrap()
}

/// The wait in DRF's detail, which must equal `Retry-After`.
fn drf_wait(headers: &reqwest::header::HeaderMap, body: &Value) -> u64 {
    let retry: u64 = header(headers, "retry-after").unwrap().parse().unwrap();
    assert_eq!(
        body,
        &json!({ "detail": format!("Request was throttled. Expected available in {retry} seconds.") })
    );
    retry
}

#[tokio::test]
async fn the_token_endpoint_is_throttled_per_ip_for_hours() {
    // The real rates: anon_burst 5/hour, anon_sustained 100/day.
    let emu = emu().await;
    for left in (0..5).rev() {
        // A refused secret counts as much as a good one.
        let secret = if left == 2 {
            "wrong"
        } else {
            demo::OPENVERSE_CLIENT_SECRET
        };
        let resp = token_request(&emu, secret).await;
        assert_eq!(resp.status().is_success(), left != 2);
        assert_eq!(
            header(resp.headers(), "x-ratelimit-available-anon_burst"),
            Some(left.to_string().as_str())
        );
    }
    let resp = token_request(&emu, demo::OPENVERSE_CLIENT_SECRET).await;
    assert_eq!(
        header(resp.headers(), "x-ratelimit-limit-anon_burst"),
        Some("5/hour")
    );
    assert_eq!(
        header(resp.headers(), "x-ratelimit-available-anon_burst"),
        Some("0")
    );
    // The sustained throttle let the refused request through, and counted it.
    assert_eq!(
        header(resp.headers(), "x-ratelimit-available-anon_sustained"),
        Some("94")
    );
    let (status, headers, body) = json(resp).await;
    assert_eq!(status, 429);
    // Not an OAuth error body: DRF's, with a wait of up to an hour.
    let wait = drf_wait(&headers, &body);
    assert!((1..=3600).contains(&wait), "{wait}");
    assert_eq!(emu.counters().token_requests[&Scheme::Openverse].issued, 4);

    // The same IP's anonymous searches share the bucket.
    let (status, _, _) = json(images(&emu, None).await).await;
    assert_eq!(status, 429);
    emu.reset_rate_limits();
    assert_eq!(
        token_request(&emu, demo::OPENVERSE_CLIENT_SECRET)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn unverified_keys_count_per_ip_verified_ones_per_key() {
    let emu = with_throttles(Throttles {
        anon_burst: Some(Rate::per_day(4)),
        oauth2_client_credentials_burst: Some(Rate::per_day(3)),
        // One per second would depend on how fast this test runs.
        key_status: None,
        ..Throttles::default()
    })
    .await;
    let (status, _, reg) = json(
        http()
            .post(emu.url("/v1/auth_tokens/register/"))
            .header("content-type", "application/json")
            .body(json!({"name": "app", "description": "d", "email": "me@example.org"}).to_string())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201);
    let id = reg["client_id"].as_str().unwrap();
    let token = token(&emu, id, reg["client_secret"].as_str().unwrap()).await; // anon 1

    // Unverified: the anonymous throttles, by IP.
    for left in ["2", "1"] {
        let resp = images(&emu, Some(&token)).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(
            header(resp.headers(), "x-ratelimit-limit-anon_burst"),
            Some("4/day")
        );
        assert_eq!(
            header(resp.headers(), "x-ratelimit-available-anon_burst"),
            Some(left)
        );
        assert!(header(
            resp.headers(),
            "x-ratelimit-limit-oauth2_client_credentials_burst"
        )
        .is_none());
    }
    // An unverified key's counts are null: its requests count per IP.
    let (status, _, body) = key_status(&emu, Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"requests_this_minute": null, "requests_today": null, "rate_limit_model": "standard", "verified": false})
    );
    // The verification link is an anonymous request too: the fourth.
    let link = emu.outbox()[0].link.clone();
    let resp = http().get(&link).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(resp.headers(), "x-ratelimit-available-anon_burst"),
        Some("0")
    );
    assert_eq!(images(&emu, None).await.status(), 429);

    // Verified: the key's own throttles, counted per client id.
    for left in ["2", "1", "0"] {
        let resp = images(&emu, Some(&token)).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(
            header(
                resp.headers(),
                "x-ratelimit-limit-oauth2_client_credentials_burst"
            ),
            Some("3/day")
        );
        assert_eq!(
            header(
                resp.headers(),
                "x-ratelimit-available-oauth2_client_credentials_burst"
            ),
            Some(left)
        );
        assert_eq!(
            header(
                resp.headers(),
                "x-ratelimit-limit-oauth2_client_credentials_sustained"
            ),
            Some("10000/day")
        );
    }
    let (status, headers, body) = json(images(&emu, Some(&token)).await).await;
    assert_eq!(status, 429);
    drf_wait(&headers, &body);
    // The refused request was let through, and counted, by the sustained
    // throttle only.
    let (status, _, body) = key_status(&emu, Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"requests_this_minute": 3, "requests_today": 4, "rate_limit_model": "standard", "verified": true})
    );
}

#[tokio::test]
async fn rate_limit_models_pick_the_throttles() {
    let emu = emu().await;
    emu.add_client(
        ClientSpec::openverse("big", "big-secret", true)
            .with_rate_limit_model(RateLimitModel::Enhanced),
    )
    .unwrap();
    emu.add_client(
        ClientSpec::openverse("free", "free-secret", true)
            .with_rate_limit_model(RateLimitModel::Exempt),
    )
    .unwrap();
    let big = token(&emu, "big", "big-secret").await;
    let free = token(&emu, "free", "free-secret").await;

    let resp = images(&emu, Some(&big)).await;
    assert_eq!(
        header(
            resp.headers(),
            "x-ratelimit-limit-enhanced_oauth2_client_credentials_burst"
        ),
        Some("200/min")
    );
    assert_eq!(
        header(
            resp.headers(),
            "x-ratelimit-limit-enhanced_oauth2_client_credentials_sustained"
        ),
        Some("20000/day")
    );
    let (_, _, body) = key_status(&emu, Some(&big)).await;
    assert_eq!(
        body,
        json!({"requests_this_minute": 1, "requests_today": 1, "rate_limit_model": "enhanced", "verified": true})
    );

    // Exempt: no throttle at all, so no headers and never a count.
    let resp = images(&emu, Some(&free)).await;
    assert!(!resp
        .headers()
        .keys()
        .any(|k| k.as_str().starts_with("x-ratelimit")));
    let (_, _, body) = key_status(&emu, Some(&free)).await;
    assert_eq!(
        body,
        json!({"requests_this_minute": null, "requests_today": null, "rate_limit_model": "exempt", "verified": true})
    );

    emu.set_rate_limit_model("big", RateLimitModel::Standard)
        .unwrap();
    let (_, _, body) = key_status(&emu, Some(&big)).await;
    assert_eq!(body["rate_limit_model"], "standard");
    assert_eq!(body["requests_today"], Value::Null);
}

#[tokio::test]
async fn a_cache_outage_is_a_424_with_null_counts() {
    let emu = emu().await;
    let token = token(
        &emu,
        demo::OPENVERSE_CLIENT_ID,
        demo::OPENVERSE_CLIENT_SECRET,
    )
    .await;
    images(&emu, Some(&token)).await;
    emu.set_cache_outage(true);
    let (status, headers, body) = key_status(&emu, Some(&token)).await;
    assert_eq!(status, 424);
    assert_eq!(
        body,
        json!({"requests_this_minute": null, "requests_today": null, "rate_limit_model": "standard", "verified": true})
    );
    assert!(header(&headers, "cache-control")
        .unwrap()
        .contains("no-store"));
    emu.set_cache_outage(false);
    let (status, _, body) = key_status(&emu, Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(body["requests_today"], 1);
}

#[tokio::test]
async fn key_status_and_registration_share_one_unscoped_history() {
    // TenPerDay and OnePerSecond set no scope: both are `throttle_None_<ip>`.
    let emu = with_throttles(Throttles {
        registration: Some(Rate::per_day(2)),
        key_status: Some(Rate::per_day(1)),
        ..Throttles::off()
    })
    .await;
    let register = |name: &'static str| {
        http()
            .post(emu.url("/v1/auth_tokens/register/"))
            .header("content-type", "application/json")
            .body(json!({"name": name, "description": "d", "email": "me@example.org"}).to_string())
            .send()
    };
    let resp = register("one").await.unwrap();
    assert_eq!(
        header(resp.headers(), "x-ratelimit-limit-tenperday"),
        Some("2/day")
    );
    assert_eq!(
        header(resp.headers(), "x-ratelimit-available-tenperday"),
        Some("1")
    );
    let (_, _, reg) = json(resp).await;
    let unverified = token(
        &emu,
        reg["client_id"].as_str().unwrap(),
        reg["client_secret"].as_str().unwrap(),
    )
    .await;
    // The registration left one entry: an unverified key's status call is
    // already over its one.
    let (status, headers, body) = key_status(&emu, Some(&unverified)).await;
    assert_eq!(status, 429);
    assert_eq!(
        header(&headers, "x-ratelimit-limit-onepersecond"),
        Some("1/day")
    );
    drf_wait(&headers, &body);
    // A verified key is not throttled there at all.
    let verified = token(
        &emu,
        demo::OPENVERSE_CLIENT_ID,
        demo::OPENVERSE_CLIENT_SECRET,
    )
    .await;
    let (status, headers, _) = key_status(&emu, Some(&verified)).await;
    assert_eq!(status, 200);
    assert!(header(&headers, "x-ratelimit-limit-onepersecond").is_none());
    assert_eq!(register("two").await.unwrap().status(), 201);
    let (status, _, _) = json(register("three").await.unwrap()).await;
    assert_eq!(status, 429);
}

#[tokio::test]
async fn throttles_off_say_nothing_and_count_nothing() {
    let emu = with_throttles(Throttles::off()).await;
    let token = token(
        &emu,
        demo::OPENVERSE_CLIENT_ID,
        demo::OPENVERSE_CLIENT_SECRET,
    )
    .await;
    for _ in 0..30 {
        let resp = images(&emu, None).await;
        assert_eq!(resp.status(), 200);
        assert!(!resp
            .headers()
            .keys()
            .any(|k| k.as_str().starts_with("x-ratelimit")));
        images(&emu, Some(&token)).await;
    }
    let (status, _, body) = key_status(&emu, Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(body["requests_today"], Value::Null);
    assert_eq!(emu.throttles(), Throttles::off());
    emu.set_throttles(Throttles::default());
    assert_eq!(
        header(
            images(&emu, None).await.headers(),
            "x-ratelimit-limit-anon_burst"
        ),
        Some("5/hour")
    );
}

#[test]
fn rates_read_and_write_as_drf_does() {
    assert_eq!("5/hour".parse::<Rate>().unwrap(), Rate::per_hour(5));
    assert_eq!("100/minute".parse::<Rate>().unwrap().to_string(), "100/min");
    assert_eq!(Rate::per_second(1).to_string(), "1/second");
    assert_eq!(Rate::per_day(10_000).to_string(), "10000/day");
    assert!("5/fortnight".parse::<Rate>().is_err());
    let t: Throttles =
        serde_json::from_value(json!({"anon_burst": "3/min", "markable": null})).unwrap();
    assert_eq!(t.anon_burst, Some(Rate::per_minute(3)));
    assert_eq!(t.markable, None);
    assert_eq!(t.anon_sustained, Throttles::default().anon_sustained);
    assert_eq!(
        serde_json::to_value(Throttles::default()).unwrap()["anon_burst"],
        "5/hour"
    );
}
