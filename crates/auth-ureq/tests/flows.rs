//! Every flow of every dialect against the emulator, plus configuration
//! errors and persistent stores.

mod common;

use std::sync::Arc;

use auth_core::{ClientAuth, ClientCredentials, Registration};
use auth_emulator::{demo, Endpoint, OAuth2Methods, Scheme};
use auth_ureq::{register, Error, MemoryStore, SearchTokenProvider, TokenStore};
use common::{emulator, get, markable, oauth2, openverse};

fn text(body: &[u8]) -> String {
    String::from_utf8_lossy(body).into_owned()
}

#[test]
fn oauth2_basic_gets_a_token_and_calls_the_api() {
    let emu = emulator();
    emu.set_oauth2_methods(OAuth2Methods {
        basic: true,
        post: false,
    });
    let tokens = oauth2(&emu, ClientAuth::Basic).build().unwrap();
    let token = tokens.token().unwrap();
    assert_eq!(token.granted_scopes().to_string(), "read write");
    assert!(Arc::ptr_eq(&token, &tokens.token().unwrap()), "cached");

    let response = tokens.send(get(emu.url("/oauth2/resource"))).unwrap();
    assert_eq!(response.status(), 200);
    assert!(text(response.body()).contains("read write"));

    let (authorized, attached) = tokens.authorize(get(emu.url("/x"))).unwrap();
    assert_eq!(
        attached.id(),
        token.id(),
        "authorize returns the token it attached"
    );
    assert!(authorized
        .headers()
        .get(http::header::AUTHORIZATION)
        .unwrap()
        .is_sensitive());
    assert_eq!(emu.counters().token_total(Scheme::Oauth2), 1);
}

#[test]
fn oauth2_post_sends_the_credentials_in_the_body() {
    let emu = emulator();
    emu.set_oauth2_methods(OAuth2Methods {
        basic: false,
        post: true,
    });
    let tokens = oauth2(&emu, ClientAuth::Post).build().unwrap();
    let response = tokens.send(get(emu.url("/oauth2/resource"))).unwrap();
    assert_eq!(response.status(), 200);
    // The same client with Basic is refused: the post path really ran.
    let basic = oauth2(&emu, ClientAuth::Basic).build().unwrap();
    let e = basic.token().unwrap_err();
    assert_eq!(e.status(), Some(http::StatusCode::UNAUTHORIZED), "{e}");
    assert!(!e.is_retryable());
}

#[test]
fn openverse_register_verify_token_images_and_key_status() {
    // The real throttles, but for the one-per-second key status one, which
    // the registrations a moment ago would trip (they share a cache key).
    let emu = auth_emulator::BlockingEmulator::start(auth_emulator::EmulatorConfig {
        throttles: auth_emulator::Throttles {
            key_status: None,
            ..auth_emulator::Throttles::default()
        },
        ..auth_emulator::EmulatorConfig::default()
    })
    .unwrap();
    let base = openverse(&emu);
    let registration = Registration::new("my-app", "tests auth-ureq", "me@example.com");
    let client = register(&base, &registration).unwrap();
    assert_eq!(client.name, "my-app");
    let secret = client
        .credentials
        .client_secret()
        .expect("a registered client has a secret");
    assert!(!format!("{client:?}").contains(secret.expose_secret()));

    // The name is taken now: the server's field error comes back typed.
    match register(&base, &registration).unwrap_err() {
        Error::Auth(auth_core::Error::Registration { fields, .. }) => {
            assert!(fields.iter().any(|f| f.field == "name"), "{fields:?}");
        }
        other => panic!("expected a registration error, got {other}"),
    }

    let outbox = emu.outbox();
    let email = outbox.last().expect("a verification email");
    assert_eq!(email.to, "me@example.com");
    assert_eq!(email.client_id, client.credentials.client_id());

    let tokens = auth_ureq::TokenProvider::builder(base.clone(), client.credentials.clone())
        .policy(common::fast_policy())
        .build()
        .unwrap();
    let images = || tokens.send(get(emu.url("/v1/images/?q=cat"))).unwrap();
    assert_eq!(images().status(), 200);
    let unverified = tokens.last_rate_limits().unwrap();
    let before = unverified.scopes.iter().find(|r| r.scope == "anon_burst");
    let before = before.expect("unverified: the anonymous tier").clone();
    assert_eq!(tokens.key_status().unwrap().verified, Some(false));

    // Following the emailed link verifies the key.
    let verify = ureq::get(&email.link).call().unwrap();
    assert_eq!(verify.status(), 200);

    assert_eq!(images().status(), 200);
    let verified = tokens.last_rate_limits().unwrap();
    let after = verified
        .scopes
        .iter()
        .find(|r| r.scope == "oauth2_client_credentials_burst")
        .expect("verified tier");
    assert!(
        after.available.unwrap() > before.available.unwrap(),
        "{after:?} vs {before:?}"
    );
    let status = tokens.key_status().unwrap();
    assert_eq!(status.verified, Some(true));
    // Only the call after verification counts against the key itself.
    assert_eq!(status.requests_today, Some(1));
    assert_eq!(emu.counters().token_total(Scheme::Openverse), 1);
}

#[test]
fn openverse_demo_key_is_verified() {
    let emu = emulator();
    let credentials =
        ClientCredentials::new(demo::OPENVERSE_CLIENT_ID, demo::OPENVERSE_CLIENT_SECRET).unwrap();
    let tokens = auth_ureq::TokenProvider::builder(openverse(&emu), credentials)
        .build()
        .unwrap();
    let token = tokens.token().unwrap();
    // Openverse grants `read write` when nothing is asked.
    assert_eq!(token.extra_scopes().to_string(), "read write");
    assert_eq!(tokens.key_status().unwrap().verified, Some(true));
}

#[test]
fn markable_default_scope_can_write_and_is_not_publishable() {
    let emu = emulator();
    let tokens = markable(&emu)
        .scopes("default".parse().unwrap())
        .build()
        .unwrap();
    let token = tokens.token().unwrap();
    assert!(token.publishable().is_none());
    let search = tokens
        .send(get(emu.markable_api_url_for("/api/v1/search?q=shoes")))
        .unwrap();
    assert_eq!(search.status(), 200);
    let create = http::Request::post(emu.markable_api_url_for("/api/v1/catalogs"))
        .header("content-type", "application/json")
        .body(br#"{"data":{"attributes":{"name":"spring"}}}"#.to_vec())
        .unwrap();
    let created = tokens.send(create).unwrap();
    assert_eq!(created.status(), 201);
    assert!(text(created.body()).contains("spring"));
}

#[test]
fn markable_without_expiry_is_used_until_rejected() {
    let emu = emulator();
    emu.set_markable_minimal_response(true);
    let tokens = markable(&emu).build().unwrap();
    let token = tokens.token().unwrap();
    assert_eq!(token.usable_until(), None);
    emu.expire_tokens();
    let search = tokens
        .send(get(emu.markable_api_url_for("/api/v1/search?q=shoes")))
        .unwrap();
    assert_eq!(search.status(), 200);
    assert_eq!(emu.counters().token_total(Scheme::Markable), 2);
}

#[test]
fn markable_search_token_is_publishable_and_cannot_write() {
    let emu = emulator();
    let search = SearchTokenProvider::new(markable(&emu)).unwrap();
    let public = search.publishable_token().unwrap();
    assert_eq!(
        public.as_str(),
        search.token().unwrap().access_token().expose_secret()
    );
    let found = search
        .send(get(emu.markable_api_url_for("/api/v1/search?q=shoes")))
        .unwrap();
    assert_eq!(found.status(), 200);

    let create = http::Request::post(emu.markable_api_url_for("/api/v1/catalogs"))
        .body(br#"{"data":{}}"#.to_vec())
        .unwrap();
    let refused = search.send(create).unwrap();
    assert_eq!(refused.status(), 403);
    // A 403 is about permission, not the token: no new token was fetched.
    assert_eq!(emu.counters().token_total(Scheme::Markable), 1);
}

#[test]
fn configuration_mistakes_are_refused_up_front() {
    let emu = emulator();
    let e = markable(&emu)
        .scopes("default search".parse().unwrap())
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("exactly one scope"), "{e}");

    let e = SearchTokenProvider::new(oauth2(&emu, ClientAuth::Basic)).unwrap_err();
    assert!(e.to_string().contains("Markable"), "{e}");
    let e =
        SearchTokenProvider::new(markable(&emu).scopes("default".parse().unwrap())).unwrap_err();
    assert!(e.to_string().contains("`search` only"), "{e}");

    let e = oauth2(&emu, ClientAuth::Basic)
        .max_body_bytes(0)
        .build()
        .unwrap_err();
    assert!(
        matches!(e, Error::Auth(auth_core::Error::InvalidConfig(_))),
        "{e}"
    );

    let oauth = oauth2(&emu, ClientAuth::Basic).build().unwrap();
    let e = oauth.key_status().unwrap_err();
    assert!(matches!(e, Error::Misuse(_)), "{e}");
    assert_eq!(emu.counters().token_requests_total, 0, "nothing was sent");

    // Plain http to a non-loopback host is refused by the core.
    assert!(auth_core::OAuth2::new("http://auth.example.com/token", ClientAuth::Basic).is_err());
}

#[test]
fn a_store_is_read_before_fetching_and_cleared_on_rejection() {
    let emu = emulator();
    let store = Arc::new(MemoryStore::new());
    let first = oauth2(&emu, ClientAuth::Basic)
        .store(store.clone())
        .build()
        .unwrap();
    let token = first.token().unwrap();
    assert_eq!(store.len(), 1);

    // A second provider (another process, say) reuses the stored token.
    let second = oauth2(&emu, ClientAuth::Basic)
        .store(store.clone())
        .build()
        .unwrap();
    let restored = second.token().unwrap();
    assert_eq!(
        restored.access_token().expose_secret(),
        token.access_token().expose_secret()
    );
    assert_eq!(emu.counters().token_total(Scheme::Oauth2), 1);

    // A rejection removes it, so the next process does not restore it.
    second.invalidate(&restored);
    assert!(store.is_empty());
    let _ = second.token().unwrap();
    assert_eq!(store.len(), 1);
    assert_eq!(emu.counters().token_total(Scheme::Oauth2), 2);
}

#[test]
fn a_failing_store_never_fails_a_token_request() {
    struct Broken;
    impl TokenStore for Broken {
        fn load(&self, _: &auth_core::CacheKey) -> Result<Option<auth_core::StoredToken>, Error> {
            Err(Error::Store("disk on fire".into()))
        }
        fn save(&self, _: &auth_core::CacheKey, _: &auth_core::StoredToken) -> Result<(), Error> {
            Err(Error::Store("disk on fire".into()))
        }
        fn remove(&self, _: &auth_core::CacheKey, _: &auth_core::StoredToken) -> Result<(), Error> {
            panic!("a store that panics")
        }
        fn lock(
            &self,
            _: &auth_core::CacheKey,
            _: std::time::Duration,
        ) -> Result<Option<Box<dyn std::any::Any + Send>>, Error> {
            Err(Error::Store("no locks today".into()))
        }
    }
    let emu = emulator();
    let tokens = oauth2(&emu, ClientAuth::Basic)
        .store(Arc::new(Broken))
        .build()
        .unwrap();
    let token = tokens.token().unwrap();
    assert_eq!(
        emu.counters().requests_to(Endpoint::Oauth2Token),
        1,
        "one fetch despite the store"
    );
    // A store that panics is an error logged, not a caller's panic, and the
    // provider goes on.
    tokens.invalidate(&token);
    assert!(tokens.token().is_ok());
    assert_eq!(emu.counters().requests_to(Endpoint::Oauth2Token), 2);
}

#[test]
fn the_store_lock_is_held_across_load_fetch_and_save() {
    use std::sync::Mutex;

    #[derive(Default)]
    struct Journal(Arc<Mutex<Vec<&'static str>>>);
    struct Unlock(Arc<Mutex<Vec<&'static str>>>);
    impl Drop for Unlock {
        fn drop(&mut self) {
            self.0.lock().unwrap().push("unlock");
        }
    }
    impl TokenStore for Journal {
        fn load(&self, _: &auth_core::CacheKey) -> Result<Option<auth_core::StoredToken>, Error> {
            self.0.lock().unwrap().push("load");
            Ok(None)
        }
        fn save(&self, _: &auth_core::CacheKey, _: &auth_core::StoredToken) -> Result<(), Error> {
            self.0.lock().unwrap().push("save");
            Ok(())
        }
        fn remove(&self, _: &auth_core::CacheKey, _: &auth_core::StoredToken) -> Result<(), Error> {
            self.0.lock().unwrap().push("remove");
            Ok(())
        }
        fn lock(
            &self,
            _: &auth_core::CacheKey,
            _: std::time::Duration,
        ) -> Result<Option<Box<dyn std::any::Any + Send>>, Error> {
            self.0.lock().unwrap().push("lock");
            Ok(Some(Box::new(Unlock(Arc::clone(&self.0)))))
        }
    }
    let emu = emulator();
    let journal = Journal::default();
    let entries = Arc::clone(&journal.0);
    let tokens = oauth2(&emu, ClientAuth::Basic)
        .store(Arc::new(journal))
        .build()
        .unwrap();
    let token = tokens.token().unwrap();
    assert_eq!(*entries.lock().unwrap(), ["lock", "load", "save", "unlock"]);
    // The hot path never touches the store.
    for _ in 0..10 {
        assert!(Arc::ptr_eq(&token, &tokens.token().unwrap()));
    }
    assert_eq!(entries.lock().unwrap().len(), 4);
}
