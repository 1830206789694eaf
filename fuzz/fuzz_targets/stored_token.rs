//! The stored-token file (`StoredToken` JSON) as a cache reads it back:
//! `StoredToken::from_json`, then `into_response` under the key it was
//! stored for. `$K` in the input expands to that key, `$T<c>` to a token.
//!
//! Asserts: no panic; an entry re-serializes to itself; neither its
//! `Debug` nor a refusal depends on the token value (so neither can show
//! it); an accepted entry keeps the token and its lifetime; `is_fresh`
//! agrees with the expiry.
#![no_main]

use apiauth_fuzz::{expand, wall, Markers};
use auth_core::store::{CacheKey, FingerprintKey, StoredToken};
use auth_core::{AccessToken, ClientAuth, ClientCredentials, OAuth2, Provider, Scopes};
use libfuzzer_sys::fuzz_target;

fn key() -> CacheKey {
    let Ok(p) = OAuth2::new("https://auth.example.com/oauth2/token", ClientAuth::Basic) else {
        panic!("the fuzz token URL is refused");
    };
    let scopes = Scopes::parse("read write").unwrap_or_else(|_| Scopes::empty());
    let creds: ClientCredentials = apiauth_fuzz::credentials();
    let fingerprint = FingerprintKey::new([7; 32]).fingerprint(&creds);
    CacheKey::new(&Provider::from(p), creds.client_id(), &fingerprint, &scopes)
}

/// The entry with another (non-empty) token value.
fn with_token(entry: &StoredToken, token: &str) -> StoredToken {
    let mut other = entry.clone();
    other.access_token = AccessToken::new(token);
    other
}

fuzz_target!(|data: &[u8]| {
    let key = key();
    let data = expand(
        data,
        &Markers {
            key: key.as_str(),
            ..Markers::default()
        },
    );
    let Ok(entry) = StoredToken::from_json(&data) else {
        return;
    };

    // It writes back as itself.
    let Ok(json) = entry.to_json() else {
        panic!("a read entry does not serialize")
    };
    let Ok(again) = StoredToken::from_json(&json) else {
        panic!("a written entry does not read back")
    };
    assert_eq!(
        again.to_json().ok(),
        Some(json),
        "serialization is not stable"
    );

    // Debug never depends on the token value.
    let other = with_token(&entry, "x");
    assert_eq!(
        format!("{entry:?}"),
        format!("{other:?}"),
        "Debug shows the token"
    );

    let token = entry.access_token.expose_secret().to_owned();
    let fresh = entry.is_fresh(wall());
    let result = entry.clone().into_response(&key);
    if !token.is_empty() {
        // A refusal (or acceptance) never depends on the token value.
        let other = other.into_response(&key);
        match (&result, &other) {
            (Ok(_), Ok(_)) => {}
            (Err(a), Err(b)) => {
                assert_eq!(a.to_string(), b.to_string(), "a refusal shows the token");
                assert_eq!(
                    format!("{a:?}"),
                    format!("{b:?}"),
                    "a refusal shows the token"
                );
            }
            _ => panic!("accepting an entry depends on its token value"),
        }
    }
    match result {
        Ok(response) => {
            assert_eq!(response.access_token.expose_secret(), token);
            assert!(!token.is_empty(), "an empty stored token was accepted");
            match (&entry.expires_at, response.lifetime) {
                (None, auth_core::Lifetime::Unknown) => assert!(fresh),
                (Some(_), auth_core::Lifetime::ExpiresAt(at)) => {
                    assert_eq!(fresh, at > wall(), "is_fresh disagrees with the expiry");
                }
                (e, l) => panic!("expires_at {e:?} read as {l:?}"),
            }
        }
        Err(e) => {
            let _ = (e.to_string(), e.is_retryable());
        }
    }
});
