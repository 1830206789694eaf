use std::time::{Duration, Instant};

use auth_emulator::{demo, Emulator, Endpoint, Fault, FaultPlan, Scheme};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::{basic, emu, header, http, json, FORM};

fn oauth2_token(emu: &Emulator) -> reqwest::RequestBuilder {
    http()
        .post(emu.url("/oauth2/token"))
        .header(
            "authorization",
            basic(demo::OAUTH2_CLIENT_ID, demo::OAUTH2_CLIENT_SECRET),
        )
        .header("content-type", FORM)
        .body("grant_type=client_credentials")
}

fn markable_token(emu: &Emulator) -> reqwest::RequestBuilder {
    http()
        .post(emu.url("/auth/client/authorize"))
        .header("content-type", "application/json")
        .body(
            json!({"data": {"client_id": demo::MARKABLE_CLIENT_ID, "client_secret": demo::MARKABLE_CLIENT_SECRET, "scope": "default"}})
                .to_string(),
        )
}

fn openverse_token(emu: &Emulator) -> reqwest::RequestBuilder {
    http()
        .post(emu.url("/v1/auth_tokens/token/"))
        .header("content-type", FORM)
        .body(format!(
            "client_id={}&client_secret={}&grant_type=client_credentials",
            demo::OPENVERSE_CLIENT_ID,
            demo::OPENVERSE_CLIENT_SECRET
        ))
}

fn once(emu: &Emulator, endpoint: Endpoint, fault: Fault) {
    emu.add_fault(FaultPlan::next(endpoint, fault, 1)).unwrap();
}

#[tokio::test]
async fn latency_and_slow_body() {
    let emu = emu().await;
    once(&emu, Endpoint::Oauth2Token, Fault::Latency { ms: 300 });
    let start = Instant::now();
    let (status, _, _) = json(oauth2_token(&emu).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert!(start.elapsed() >= Duration::from_millis(300));

    once(
        &emu,
        Endpoint::Oauth2Token,
        Fault::SlowBody { duration_ms: 600 },
    );
    let start = Instant::now();
    let resp = oauth2_token(&emu).send().await.unwrap();
    let headers_at = start.elapsed();
    let body = resp.bytes().await.unwrap();
    assert!(headers_at < Duration::from_millis(400), "{headers_at:?}");
    assert!(
        start.elapsed() >= Duration::from_millis(550),
        "{:?}",
        start.elapsed()
    );
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert!(body["access_token"].is_string());

    // Configured per-endpoint latency, as for benchmarks.
    emu.set_latency(Endpoint::Oauth2Token, Duration::from_millis(200));
    let start = Instant::now();
    assert_eq!(oauth2_token(&emu).send().await.unwrap().status(), 200);
    assert!(start.elapsed() >= Duration::from_millis(200));
    emu.set_latency(Endpoint::Oauth2Token, Duration::ZERO);
}

#[tokio::test]
async fn server_errors_and_429_then_recovery() {
    let emu = emu().await;
    for status in [500u16, 502, 503] {
        once(
            &emu,
            Endpoint::Oauth2Token,
            Fault::ServerError {
                status,
                retry_after_secs: (status == 503).then_some(7),
            },
        );
        let resp = oauth2_token(&emu).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), status);
        assert_eq!(
            header(resp.headers(), "retry-after"),
            (status == 503).then_some("7")
        );
    }
    once(
        &emu,
        Endpoint::Oauth2Token,
        Fault::RateLimited {
            retry_after_secs: 3,
        },
    );
    let resp = oauth2_token(&emu).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(resp.headers(), "retry-after"), Some("3"));
    // The plans are spent: the next request succeeds.
    assert_eq!(oauth2_token(&emu).send().await.unwrap().status(), 200);
    let c = emu.counters();
    assert_eq!(c.faults_injected, 4);
    assert_eq!(c.token_requests[&Scheme::Oauth2].issued, 1);
    assert_eq!(c.token_total(Scheme::Oauth2), 5);
}

#[tokio::test]
async fn connection_reset_is_a_transport_error() {
    let emu = emu().await;
    for endpoint in [
        Endpoint::Oauth2Token,
        Endpoint::MarkableAuthorize,
        Endpoint::OpenverseToken,
    ] {
        once(&emu, endpoint, Fault::ConnectionReset);
    }
    for req in [
        oauth2_token(&emu),
        markable_token(&emu),
        openverse_token(&emu),
    ] {
        let result = match req.send().await {
            Ok(resp) => resp.bytes().await.map(|_| ()),
            Err(e) => Err(e),
        };
        let err = result.unwrap_err();
        assert!(!err.is_status(), "{err}");
    }
    // A fresh connection works again.
    assert_eq!(oauth2_token(&emu).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn truncated_body_fails_while_reading() {
    let emu = emu().await;
    once(&emu, Endpoint::OpenverseToken, Fault::TruncatedBody);
    let resp = openverse_token(&emu).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let declared: usize = header(resp.headers(), "content-length")
        .unwrap()
        .parse()
        .unwrap();
    assert!(declared > 10);
    assert!(resp.bytes().await.is_err());
}

#[tokio::test]
async fn not_json_html_and_wrong_content_type() {
    let emu = emu().await;
    once(&emu, Endpoint::MarkableAuthorize, Fault::NotJson);
    let resp = markable_token(&emu).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(resp.headers(), "content-type"),
        Some("application/json")
    );
    let bytes = resp.bytes().await.unwrap();
    assert!(serde_json::from_slice::<Value>(&bytes).is_err());

    once(&emu, Endpoint::Oauth2Token, Fault::Html);
    let resp = oauth2_token(&emu).send().await.unwrap();
    assert!(header(resp.headers(), "content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(resp.text().await.unwrap().starts_with("<!DOCTYPE html>"));

    once(&emu, Endpoint::Oauth2Token, Fault::WrongContentType);
    let resp = oauth2_token(&emu).send().await.unwrap();
    assert!(header(resp.headers(), "content-type")
        .unwrap()
        .starts_with("text/plain"));
    let body: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!(body["token_type"], "Bearer");
}

#[tokio::test]
async fn huge_body_is_over_ten_mib() {
    let emu = emu().await;
    once(&emu, Endpoint::Oauth2Token, Fault::HugeBody);
    let resp = oauth2_token(&emu).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let bytes = resp.bytes().await.unwrap();
    assert!(bytes.len() >= 10 * 1024 * 1024);
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(body["access_token"].is_string());
}

#[tokio::test]
async fn redirect_points_at_another_host() {
    let emu = emu().await;
    once(
        &emu,
        Endpoint::OpenverseToken,
        Fault::Redirect { status: 302 },
    );
    let resp = openverse_token(&emu).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(
        header(resp.headers(), "location"),
        Some("http://evil.example.invalid/v1/auth_tokens/token/")
    );
    once(&emu, Endpoint::Oauth2Token, Fault::Redirect { status: 307 });
    let resp = oauth2_token(&emu).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::TEMPORARY_REDIRECT);
}

#[tokio::test]
async fn malformed_token_responses() {
    let emu = emu().await;
    let cases: [(Fault, &str, Value); 4] = [
        (Fault::WrongTokenType, "token_type", json!("mac")),
        (Fault::MissingAccessToken, "access_token", Value::Null),
        (Fault::StringExpiresIn, "expires_in", json!("3600")),
        (Fault::NegativeExpiresIn, "expires_in", json!(-3600)),
    ];
    for (fault, field, expected) in &cases {
        once(&emu, Endpoint::Oauth2Token, fault.clone());
        let (_, _, body) = json(oauth2_token(&emu).send().await.unwrap()).await;
        assert_eq!(body[field], *expected, "{fault:?} on oauth2: {body}");
        once(&emu, Endpoint::OpenverseToken, fault.clone());
        let (_, _, body) = json(openverse_token(&emu).send().await.unwrap()).await;
        assert_eq!(body[field], *expected, "{fault:?} on openverse: {body}");
    }

    once(&emu, Endpoint::MarkableAuthorize, Fault::MissingAccessToken);
    let (_, _, body) = json(markable_token(&emu).send().await.unwrap()).await;
    assert!(body["data"].is_object());
    assert!(body["data"].get("access_token").is_none());
    once(&emu, Endpoint::MarkableAuthorize, Fault::StringExpiresIn);
    let (_, _, body) = json(markable_token(&emu).send().await.unwrap()).await;
    assert_eq!(body["data"]["expires_at"], "3600");
    once(&emu, Endpoint::MarkableAuthorize, Fault::WrongTokenType);
    let (_, _, body) = json(markable_token(&emu).send().await.unwrap()).await;
    assert_eq!(body["data"]["token_type"], "mac");
    once(&emu, Endpoint::MarkableAuthorize, Fault::NegativeExpiresIn);
    let (_, _, body) = json(markable_token(&emu).send().await.unwrap()).await;
    let past = body["data"]["expires_at"].as_u64().unwrap();
    assert!(past < body["data"]["created_at"].as_u64().unwrap());
}

#[tokio::test]
async fn faults_on_the_other_endpoints() {
    let emu = emu().await;
    let endpoints = [
        (
            Endpoint::OpenverseRegister,
            "/v1/auth_tokens/register/",
            true,
        ),
        (
            Endpoint::OpenverseVerify,
            "/v1/auth_tokens/verify/x/",
            false,
        ),
        (Endpoint::OpenverseRateLimit, "/v1/rate_limit/", false),
        (Endpoint::OpenverseImages, "/v1/images/?q=a", false),
        (Endpoint::MarkableSearch, "/api/v1/search?q=a", false),
        (Endpoint::MarkableCatalogs, "/api/v1/catalogs", true),
        (Endpoint::Oauth2Resource, "/oauth2/resource", false),
    ];
    for (endpoint, path, is_post) in endpoints {
        let url = if path.starts_with("/api/") {
            emu.markable_api_url_for(path)
        } else {
            emu.url(path)
        };
        emu.add_fault(FaultPlan::next(
            endpoint,
            Fault::ServerError {
                status: 502,
                retry_after_secs: None,
            },
            1,
        ))
        .unwrap();
        let req = if is_post {
            http().post(url).body("{}")
        } else {
            http().get(url)
        };
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 502, "{endpoint}");
    }
    once(&emu, Endpoint::OpenverseImages, Fault::Html);
    let resp = http().get(emu.url("/v1/images/?q=a")).send().await.unwrap();
    assert!(header(resp.headers(), "content-type")
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(emu.counters().faults_injected, 8);

    // Token-shape faults only make sense where tokens are issued.
    assert!(emu
        .add_fault(FaultPlan::always(
            Endpoint::OpenverseImages,
            Fault::WrongTokenType
        ))
        .is_err());
    assert!(emu
        .add_fault(FaultPlan::always(
            Endpoint::Oauth2Token,
            Fault::ServerError {
                status: 404,
                retry_after_secs: None
            }
        ))
        .is_err());
    assert!(emu
        .add_fault(FaultPlan::fraction(Endpoint::Oauth2Token, Fault::Html, 1.5))
        .is_err());
    assert!(emu
        .add_fault(FaultPlan::always(
            Endpoint::Oauth2Token,
            Fault::ClientError { status: 503 }
        ))
        .is_err());
}

#[tokio::test]
async fn client_errors_speak_each_endpoint_s_dialect() {
    let emu = emu().await;
    for (endpoint, status) in [
        (Endpoint::MarkableAuthorize, 409),
        (Endpoint::OpenverseToken, 408),
        (Endpoint::Oauth2Token, 413),
    ] {
        once(&emu, endpoint, Fault::ClientError { status });
    }
    let (status, _, body) = json(markable_token(&emu).send().await.unwrap()).await;
    assert_eq!(status, 409);
    assert_eq!(
        body,
        json!({"errors": [{"status": 409, "title": "Conflict", "detail": "injected fault"}]})
    );
    let (status, _, body) = json(openverse_token(&emu).send().await.unwrap()).await;
    assert_eq!(status, 408);
    assert_eq!(body, json!({"detail": "Request Timeout"}));
    let (status, _, body) = json(oauth2_token(&emu).send().await.unwrap()).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"], "invalid_request");
    // Replaced before the endpoint ran: no token was issued.
    assert_eq!(
        emu.counters()
            .token_requests
            .values()
            .map(|c| c.issued)
            .sum::<u64>(),
        0
    );
}

#[tokio::test]
async fn a_dropped_authorization_header_makes_the_caller_anonymous() {
    let emu = emu().await;
    let (_, _, body) = json(oauth2_token(&emu).send().await.unwrap()).await;
    let token = body["access_token"].as_str().unwrap().to_owned();
    once(&emu, Endpoint::Oauth2Resource, Fault::DropAuthorization);
    let resource = || {
        http()
            .get(emu.url("/oauth2/resource"))
            .bearer_auth(&token)
            .send()
    };
    let resp = resource().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(header(resp.headers(), "www-authenticate"), Some("Bearer"));
    assert_eq!(resource().await.unwrap().status(), 200);
}

#[tokio::test]
async fn fraction_is_deterministic_and_clear_stops_it() {
    let emu = emu().await;
    emu.add_fault(FaultPlan::fraction(
        Endpoint::Oauth2Token,
        Fault::ServerError {
            status: 503,
            retry_after_secs: None,
        },
        0.5,
    ))
    .unwrap();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(oauth2_token(&emu).send().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [200, 503, 200, 503, 200, 503]);
    assert_eq!(emu.faults().len(), 1);
    emu.clear_faults();
    assert!(emu.faults().is_empty());
    assert_eq!(oauth2_token(&emu).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn counters_track_concurrency_and_rejections() {
    let emu = emu().await;
    emu.set_latency(Endpoint::Oauth2Token, Duration::from_millis(300));
    let requests: Vec<_> = (0..5).map(|_| oauth2_token(&emu).send()).collect();
    for resp in futures_util::future::join_all(requests).await {
        assert_eq!(resp.unwrap().status(), 200);
    }
    let c = emu.counters();
    assert_eq!(c.token_requests[&Scheme::Oauth2].max_in_flight, 5);
    assert_eq!(c.max_token_in_flight, 5);
    assert_eq!(
        c.token_requests_by(Scheme::Oauth2, demo::OAUTH2_CLIENT_ID),
        5
    );
    assert_eq!(c.requests_to(Endpoint::Oauth2Token), 5);
    assert_eq!(c.token_requests_total, 5);
    assert_eq!(c.rejected, 0);
    emu.set_latency(Endpoint::Oauth2Token, Duration::ZERO);

    let resp = http()
        .get(emu.url("/oauth2/resource"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let c = emu.counters();
    assert_eq!(c.rejected, 1);
    assert_eq!(c.requests_to(Endpoint::Oauth2Resource), 1);

    emu.reset_counters();
    assert_eq!(emu.counters(), Default::default());
    // In-flight accounting came back to zero: one request now is a max of one.
    oauth2_token(&emu).send().await.unwrap();
    assert_eq!(emu.counters().max_token_in_flight, 1);
}
