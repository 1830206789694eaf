//! Shared pieces of apiauth's benchmarks: the baseline caches people write
//! instead of using apiauth, and small statistics helpers.
//!
//! The baselines are deliberately the common patterns, written plainly:
//! - [`CheckThenFetch`]: read lock, fetch outside the lock on a miss, write
//!   lock to store — correct but stampedes on a cold cache.
//! - [`HoldLockWhileFetching`]: one mutex held across the fetch at expiry,
//!   like Go's `x/oauth2` `ReuseTokenSource` — no stampede, but every
//!   caller waits for the fetch.

pub mod fleet;

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// A token as a hand-written cache holds it.
#[derive(Clone, Debug)]
pub struct PlainToken {
    /// The `Authorization` header value.
    pub header: String,
    /// When to stop using it.
    pub expires_at: Instant,
}

/// Fetches a token over HTTP with a plain reqwest client (no apiauth).
pub async fn fetch_plain(
    client: &reqwest::Client,
    url: &str,
    id: &str,
    secret: &str,
) -> Result<PlainToken, String> {
    let body = format!("grant_type=client_credentials&client_id={id}&client_secret={secret}");
    let started = Instant::now();
    let r = client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let v: serde_json::Value = serde_json::from_slice(&r.bytes().await.map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let token = v["access_token"].as_str().ok_or("no access_token")?;
    let secs = v["expires_in"].as_u64().unwrap_or(3600);
    Ok(PlainToken {
        header: format!("Bearer {token}"),
        expires_at: started
            + Duration::from_secs(secs).saturating_sub(Duration::from_secs(secs / 10)),
    })
}

/// Read lock; on a miss, fetch without any lock; write lock to store.
pub struct CheckThenFetch {
    slot: RwLock<Option<PlainToken>>,
    client: reqwest::Client,
    url: String,
    id: String,
    secret: String,
    /// Bounds concurrent connections so the baseline stays within the
    /// machine's file-descriptor limit; every miss still fetches.
    permits: Arc<tokio::sync::Semaphore>,
}

impl CheckThenFetch {
    /// A cold cache.
    pub fn new(url: &str, id: &str, secret: &str, max_connections: usize) -> Self {
        Self {
            slot: RwLock::new(None),
            client: reqwest::Client::new(),
            url: url.to_owned(),
            id: id.to_owned(),
            secret: secret.to_owned(),
            permits: Arc::new(tokio::sync::Semaphore::new(max_connections)),
        }
    }

    /// The token, fetching on a miss.
    pub async fn token(&self) -> Result<PlainToken, String> {
        if let Some(t) = self.slot.read().map_err(|e| e.to_string())?.as_ref() {
            if Instant::now() < t.expires_at {
                return Ok(t.clone());
            }
        }
        let _permit = self.permits.acquire().await.map_err(|e| e.to_string())?;
        let t = fetch_plain(&self.client, &self.url, &self.id, &self.secret).await?;
        *self.slot.write().map_err(|e| e.to_string())? = Some(t.clone());
        Ok(t)
    }
}

/// One async mutex held across the fetch when the token has expired.
pub struct HoldLockWhileFetching {
    slot: tokio::sync::Mutex<Option<PlainToken>>,
    client: reqwest::Client,
    url: String,
    id: String,
    secret: String,
}

impl HoldLockWhileFetching {
    /// A cold cache.
    pub fn new(url: &str, id: &str, secret: &str) -> Self {
        Self {
            slot: tokio::sync::Mutex::new(None),
            client: reqwest::Client::new(),
            url: url.to_owned(),
            id: id.to_owned(),
            secret: secret.to_owned(),
        }
    }

    /// The token; the caller that finds it expired fetches while holding
    /// the lock, and everyone else waits for it.
    pub async fn token(&self) -> Result<PlainToken, String> {
        let mut slot = self.slot.lock().await;
        if let Some(t) = slot.as_ref() {
            if Instant::now() < t.expires_at {
                return Ok(t.clone());
            }
        }
        let t = fetch_plain(&self.client, &self.url, &self.id, &self.secret).await?;
        *slot = Some(t.clone());
        Ok(t)
    }
}

/// The `q`-quantile (0–1) of sorted samples.
#[must_use]
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Milliseconds with two decimals, for JSON.
#[must_use]
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 100_000.0).round() / 100.0
}

/// Microseconds with one decimal, for JSON.
#[must_use]
pub fn us(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000_000.0).round() / 10.0
}
