//! CC Catalog API / Openverse: registration, email verification, client
//! credentials, key status and a rate-limited image search.
//!
//! Shapes follow the seed (`seeds/000_*`) and the public server, which is
//! Django REST Framework with django-oauth-toolkit: DRF field errors
//! (`{"name":["…"]}`), `{"detail":"…"}` for everything else.

use std::collections::BTreeMap;
use std::time::Instant;

use axum::http::header::{HeaderName, RETRY_AFTER};
use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::config::{ClientSpec, Scheme};
use crate::reply::Reply;
use crate::server::RequestView;
use crate::state::{BearerCheck, Client, Email, Shared, State, Window, WINDOW};
use crate::wire::{self, Authorization, WireError};

const NAME_MAX: usize = 150;
const DESCRIPTION_MAX: usize = 10_000;
const EMAIL_MAX: usize = 254;
/// The scope string the seed shows; DOT grants it to every application.
const SCOPE: &str = "read write groups";

pub(crate) fn register(shared: &Shared, req: &RequestView<'_>) -> Reply {
    // DRF's default parsers take form bodies as well as JSON.
    let is_form =
        wire::media_type(req.headers).as_deref() == Some("application/x-www-form-urlencoded");
    let parsed = if is_form {
        wire::parse_form(req.body)
            .map(|form| {
                Value::Object(
                    form.into_iter()
                        .map(|(k, v)| (k, Value::String(v)))
                        .collect(),
                )
            })
            .map_err(|_| "Malformed form data.".to_owned())
    } else {
        serde_json::from_slice(req.body).map_err(|e| format!("JSON parse error - {e}"))
    };
    let body = match parsed {
        Ok(v) => v,
        Err(detail) => return Reply::json(StatusCode::BAD_REQUEST, json!({ "detail": detail })),
    };
    let Some(fields) = body.as_object() else {
        return Reply::json(
            StatusCode::BAD_REQUEST,
            json!({ "non_field_errors": ["Invalid data. Expected a dictionary."] }),
        );
    };
    let mut errors: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let name = text_field(fields.get("name"), NAME_MAX, &mut errors, "name");
    let description = text_field(
        fields.get("description"),
        DESCRIPTION_MAX,
        &mut errors,
        "description",
    );
    let email = text_field(fields.get("email"), EMAIL_MAX, &mut errors, "email");
    if let Some(email) = &email {
        if !is_plausible_email(email) {
            errors
                .entry("email")
                .or_default()
                .push("Enter a valid email address.".to_owned());
        }
    }

    let mut st = shared.lock();
    if let Some(name) = &name {
        if st.app_names.iter().any(|n| n == name) {
            errors
                .entry("name")
                .or_default()
                .push("An application with this name already exists.".to_owned());
        }
    }
    let (Some(name), Some(_), Some(email), true) = (name, description, email, errors.is_empty())
    else {
        return Reply::json(StatusCode::BAD_REQUEST, json!(errors));
    };

    let client_id = st.rng.alphanumeric(40);
    let client_secret = st.rng.alphanumeric(128);
    let code = st.rng.alphanumeric(32);
    let link = format!("{}/v1/auth_tokens/verify/{code}/", shared.base_url);
    st.app_names.push(name.clone());
    st.codes.insert(code.clone(), client_id.clone());
    st.clients.insert(
        (Scheme::Openverse, client_id.clone()),
        Client {
            spec: ClientSpec::openverse(&client_id, &client_secret, false),
            revoked: false,
        },
    );
    st.outbox.push(Email {
        to: email.clone(),
        subject: "Verify your API credentials".to_owned(),
        body: format!(
            "To verify your API credentials for \"{name}\", click on the following link:\n\n{link}\n\n\
             If you believe you received this message in error, please disregard it.\n"
        ),
        link,
        code,
        client_id: client_id.clone(),
    });
    tracing::info!(client_id = %client_id, "registered openverse application");
    Reply::json(
        StatusCode::CREATED,
        json!({
            "client_id": client_id,
            "client_secret": client_secret,
            "name": name,
            "msg": "Check your email for a verification link.",
        }),
    )
}

/// DRF `CharField` validation: required, not blank, bounded length, string.
fn text_field(
    value: Option<&Value>,
    max: usize,
    errors: &mut BTreeMap<&'static str, Vec<String>>,
    field: &'static str,
) -> Option<String> {
    let message = match value {
        None | Some(Value::Null) => "This field is required.".to_owned(),
        Some(Value::String(s)) if s.trim().is_empty() => "This field may not be blank.".to_owned(),
        Some(Value::String(s)) if s.chars().count() > max => {
            format!("Ensure this field has no more than {max} characters.")
        }
        Some(Value::String(s)) => return Some(s.trim().to_owned()),
        Some(_) => "Not a valid string.".to_owned(),
    };
    errors.entry(field).or_default().push(message);
    None
}

/// Close enough to Django's `EmailValidator` for a test double: one `@`, a
/// non-empty local part, a dotted domain, no whitespace.
fn is_plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
}

pub(crate) fn verify(shared: &Shared, req: &RequestView<'_>) -> Reply {
    let code = req
        .path()
        .trim_start_matches("/v1/auth_tokens/verify/")
        .trim_end_matches('/');
    let mut st = shared.lock();
    let Some(client_id) = st.codes.get(code).cloned() else {
        return Reply::json(StatusCode::NOT_FOUND, json!({ "detail": "Not found." }));
    };
    if let Some(client) = st.clients.get_mut(&(Scheme::Openverse, client_id.clone())) {
        client.spec.verified = true;
    }
    tracing::info!(client_id = %client_id, "verified openverse application");
    Reply::ok(json!({
        "msg": "Successfully verified email. Your OAuth2 credentials are now active."
    }))
}

pub(crate) fn token(shared: &Shared, req: &RequestView<'_>) -> Reply {
    let mut st = shared.lock();
    token_inner(&mut st, req)
}

fn token_inner(st: &mut State, req: &RequestView<'_>) -> Reply {
    let bad = |d: &str| Reply::oauth_error(StatusCode::BAD_REQUEST, "invalid_request", d);
    match wire::media_type(req.headers).as_deref() {
        Some("application/x-www-form-urlencoded") | None => {}
        Some(_) => return bad("The token request must be form-encoded"),
    }
    let form = match wire::parse_form(req.body) {
        Ok(f) => f,
        Err(WireError::Duplicate(p)) => return bad(&format!("Duplicate {p} parameter")),
        Err(WireError::BadEncoding) => return bad("Malformed form body"),
    };
    match wire::form_get(&form, "grant_type") {
        None => return bad("Missing grant type"),
        Some("client_credentials") => {}
        Some(_) => {
            return Reply::oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Only client_credentials is supported",
            )
        }
    }
    let form_id = wire::form_get(&form, "client_id");
    let form_secret = wire::form_get(&form, "client_secret");
    let (id, secret) = match (wire::authorization(req.headers), form_id, form_secret) {
        (Authorization::Basic { id, secret }, _, None) => {
            if form_id.is_some_and(|f| f != id) {
                return bad("Mismatching client_id");
            }
            (id, secret)
        }
        (Authorization::Basic { .. }, _, Some(_)) => {
            return bad("Multiple client authentication methods")
        }
        (_, Some(id), Some(secret)) => (id.to_owned(), secret.to_owned()),
        _ => {
            return Reply::json(
                StatusCode::UNAUTHORIZED,
                json!({ "error": "invalid_client" }),
            )
            .no_store()
        }
    };
    st.count_client_token_request(Scheme::Openverse, &id);
    if st.authenticate(Scheme::Openverse, &id, &secret).is_none() {
        return Reply::json(
            StatusCode::UNAUTHORIZED,
            json!({ "error": "invalid_client" }),
        )
        .no_store();
    }
    // A revoked key still gets tokens, as on the real server where
    // revocation is a throttling flag: its API calls are what fail (403).
    let (token, lifetime) = st.issue_token(Scheme::Openverse, &id, vec![SCOPE.to_owned()], 30);
    tracing::info!(client_id = %id, "issued openverse token");
    Reply::ok(json!({
        "access_token": token,
        "scope": SCOPE,
        "expires_in": lifetime.as_secs(),
        "token_type": "Bearer",
    }))
    .no_store()
}

/// Who is calling, once the bearer token (if any) has been checked.
enum Caller {
    Anonymous,
    Key { client_id: String, verified: bool },
}

fn caller(st: &State, req: &RequestView<'_>) -> Result<Caller, Box<Reply>> {
    match wire::authorization(req.headers) {
        Authorization::None => Ok(Caller::Anonymous),
        Authorization::Bearer(token) => match st.bearer(Scheme::Openverse, &token) {
            BearerCheck::Valid(record, client) => Ok(Caller::Key {
                client_id: record.client_id.clone(),
                verified: client.spec.verified,
            }),
            BearerCheck::Revoked => Err(Box::new(Reply::json(
                StatusCode::FORBIDDEN,
                json!({ "detail": "Your API key has been revoked." }),
            ))),
            BearerCheck::Unknown | BearerCheck::Expired => Err(Box::new(Reply::invalid_token(
                json!({ "detail": "Invalid token." }),
            ))),
        },
        Authorization::Basic { .. } | Authorization::Malformed { .. } => Err(Box::new(
            Reply::bearer_required(json!({ "detail": "Invalid token header." })),
        )),
    }
}

pub(crate) fn rate_limit(shared: &Shared, req: &RequestView<'_>) -> Reply {
    let st = shared.lock();
    match caller(&st, req) {
        Err(reply) => *reply,
        Ok(Caller::Anonymous) => Reply::bearer_required(
            json!({ "detail": "Authentication credentials were not provided." }),
        ),
        Ok(Caller::Key {
            client_id,
            verified,
        }) => {
            let key = format!("client:{client_id}");
            let now = Instant::now();
            let this_minute = st
                .windows
                .get(&key)
                .filter(|w| now.duration_since(w.started) < WINDOW)
                .map_or(0, |w| w.count);
            let today = st.daily.get(&key).copied().unwrap_or(0);
            Reply::ok(json!({
                "requests_this_minute": this_minute,
                "requests_today": today,
                "rate_limit_model": "standard",
                "verified": verified,
            }))
        }
    }
}

pub(crate) fn images(shared: &Shared, req: &RequestView<'_>) -> Reply {
    let mut st = shared.lock();
    let caller = match caller(&st, req) {
        Ok(c) => c,
        Err(reply) => return *reply,
    };
    let limits = st.settings.rate_limits;
    let (key, scope, limit) = match &caller {
        Caller::Anonymous => (
            format!("anon:{}", req.peer.ip()),
            "anon_burst",
            limits.anonymous,
        ),
        Caller::Key {
            client_id,
            verified: false,
        } => (
            format!("client:{client_id}"),
            "unverified_burst",
            limits.unverified,
        ),
        Caller::Key {
            client_id,
            verified: true,
        } => (
            format!("client:{client_id}"),
            "standard_burst",
            limits.verified,
        ),
    };
    let now = Instant::now();
    let window = st.windows.entry(key.clone()).or_insert(Window {
        started: now,
        count: 0,
    });
    if now.duration_since(window.started) >= WINDOW {
        *window = Window {
            started: now,
            count: 0,
        };
    }
    let limit_header = HeaderName::try_from(format!("x-ratelimit-limit-{scope}"));
    let available_header = HeaderName::try_from(format!("x-ratelimit-available-{scope}"));
    let throttled = window.count >= limit;
    if !throttled {
        window.count += 1;
    }
    let available = limit.saturating_sub(window.count);
    let wait = WINDOW
        .saturating_sub(now.duration_since(window.started))
        .as_secs()
        .max(1);
    let mut reply = if throttled {
        Reply::json(
            StatusCode::TOO_MANY_REQUESTS,
            json!({ "detail": format!("Request was throttled. Expected available in {wait} seconds.") }),
        )
        .header(RETRY_AFTER, &wait.to_string())
    } else {
        *st.daily.entry(key).or_insert(0) += 1;
        Reply::ok(result_page(req.query_param("q").unwrap_or_default()))
    };
    if let (Ok(l), Ok(a)) = (limit_header, available_header) {
        reply = reply
            .header(l, &format!("{limit}/min"))
            .header(a, &available.to_string());
    }
    reply
}

fn result_page(q: String) -> Value {
    let results: Vec<Value> = (1..=3)
        .map(|i| {
            json!({
                "id": format!("00000000-0000-4000-8000-00000000000{i}"),
                "title": format!("{q} {i}"),
                "url": format!("https://images.example.invalid/{i}.jpg"),
                "creator": "auth-emulator",
                "license": "by",
                "license_version": "4.0",
                "provider": "emulator",
                "source": "emulator",
            })
        })
        .collect();
    json!({
        "result_count": results.len(),
        "page_count": 1,
        "page_size": 20,
        "page": 1,
        "results": results,
    })
}
