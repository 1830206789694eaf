//! CC Catalog API / Openverse: registration, email verification, client
//! credentials, key status and a throttled image search, in two flavours.
//!
//! Read from the public servers: Openverse (`WordPress/openverse`:
//! `api/api/views/oauth2_views.py`, `api/api/utils/throttle.py`,
//! `api/conf/oauth2_extensions.py`, `api/conf/settings/*.py`,
//! `api/api/serializers/media_serializers.py`) and the seed's CC Catalog API
//! (`cccatalog-api`: `cccatalog/urls.py`, `cccatalog/api/views/site_views.py`,
//! `cccatalog/settings.py`). Both are Django REST Framework with
//! django-oauth-toolkit (DOT): DRF field errors (`{"name":["…"]}`),
//! `{"detail":"…"}` for everything else, oauthlib's `{"error":"…"}` on the
//! token endpoint.

use std::collections::BTreeMap;
use std::time::Instant;

use axum::http::header::WWW_AUTHENTICATE;
use axum::http::StatusCode;
use serde_json::{json, Map, Value};

use crate::config::{ClientSpec, OpenverseFlavour, Rate, RateLimitModel, Scheme, Throttles};
use crate::reply::Reply;
use crate::server::RequestView;
use crate::state::{BearerCheck, Client, Email, Shared, State};
use crate::throttle::{Throttle, Verdict};
use crate::wire::{self, Authorization, WireError};

const NAME_MAX: usize = 150;
const DESCRIPTION_MAX: usize = 10_000;
const EMAIL_MAX: usize = 254;
/// `MAX_ANONYMOUS_PAGE_SIZE`, `MAX_AUTHED_PAGE_SIZE`, `MAX_PAGINATION_DEPTH`
/// (`api/conf/settings/misc.py`).
const MAX_ANONYMOUS_PAGE_SIZE: i64 = 20;
const MAX_AUTHED_PAGE_SIZE: i64 = 500;
const MAX_PAGINATION_DEPTH: i64 = 20;

/// The scopes DOT knows, which it also grants when none is asked
/// (`DEFAULT_SCOPES = ["__all__"]`): Openverse's `OAUTH2_PROVIDER["SCOPES"]`
/// (`api/conf/settings/oauth2.py`); for CC Catalog, the seed's token answer.
fn known_scopes(flavour: OpenverseFlavour) -> &'static [&'static str] {
    match flavour {
        OpenverseFlavour::Openverse => &["read", "write"],
        OpenverseFlavour::CcCatalog => &["read", "write", "groups"],
    }
}

/// Who is calling, once DRF's authentication has run.
enum Caller {
    Anonymous,
    Key {
        client_id: String,
        verified: bool,
        model: RateLimitModel,
    },
}

impl Caller {
    /// `SimpleRateThrottle.has_valid_token`: a live token of a verified key
    /// (`TokenInfo.valid`). Unverified keys are throttled as anonymous.
    fn has_valid_token(&self) -> bool {
        matches!(self, Caller::Key { verified: true, .. })
    }
}

/// DRF authentication with Openverse's `OAuth2Authentication`
/// (`api/conf/oauth2_extensions.py`): a bad bearer token is
/// `AuthenticationFailed` (401 with DOT's challenge), a revoked key's token
/// `PermissionDenied` (403). The CC Catalog server used DOT's class as is,
/// which leaves a bad token's request anonymous. A header of another scheme
/// carries no bearer token, so DOT ignores it.
fn authenticate(shared: &Shared, st: &State, req: &RequestView<'_>) -> Result<Caller, Box<Reply>> {
    let Authorization::Bearer(token) = wire::authorization(req.headers) else {
        return Ok(Caller::Anonymous);
    };
    let legacy = shared.flavour == OpenverseFlavour::CcCatalog;
    match st.bearer(Scheme::Openverse, &token) {
        BearerCheck::Valid(record, client) => Ok(Caller::Key {
            client_id: record.client_id.clone(),
            verified: client.spec.verified,
            model: client.spec.rate_limit_model,
        }),
        BearerCheck::Revoked => Err(Box::new(Reply::drf(
            StatusCode::FORBIDDEN,
            "You do not have permission to perform this action.",
        ))),
        BearerCheck::Expired | BearerCheck::Unknown if legacy => Ok(Caller::Anonymous),
        BearerCheck::Expired => Err(Box::new(authentication_failed(
            "The access token has expired.",
        ))),
        BearerCheck::Unknown => Err(Box::new(authentication_failed(
            "The access token is invalid.",
        ))),
    }
}

/// DRF's `AuthenticationFailed` with DOT's `authenticate_header`: realm
/// `api`, then the `oauth2_error` pairs, joined by bare commas.
fn authentication_failed(description: &str) -> Reply {
    Reply::drf(
        StatusCode::UNAUTHORIZED,
        "Incorrect authentication credentials.",
    )
    .header(
        WWW_AUTHENTICATE,
        &format!(
            "Bearer realm=\"api\",error=\"invalid_token\",error_description=\"{description}\""
        ),
    )
}

/// DRF's `NotAuthenticated`: the same challenge with no error in it.
fn not_authenticated(detail: &str) -> Reply {
    Reply::drf(StatusCode::UNAUTHORIZED, detail).header(WWW_AUTHENTICATE, "Bearer realm=\"api\"")
}

/// `TenPerDay` and `OnePerSecond` set no scope, so DRF keys both
/// `throttle_None_<ip>`: one history for registration and key status.
fn unscoped_key(req: &RequestView<'_>) -> String {
    format!("None:{}", req.peer.ip())
}

/// The default throttle classes (`DEFAULT_THROTTLE_CLASSES`) that apply to
/// this caller: the anonymous pair by IP, or the key's model by client id.
fn default_throttles(t: &Throttles, caller: &Caller, req: &RequestView<'_>) -> Vec<Throttle> {
    let by = |suffix: &'static str, rate, ident: &str| Throttle {
        suffix,
        rate,
        key: format!("{suffix}:{ident}"),
    };
    match caller {
        Caller::Key {
            client_id,
            verified: true,
            model,
        } => match model {
            RateLimitModel::Standard => vec![
                by(
                    "oauth2_client_credentials_sustained",
                    t.oauth2_client_credentials_sustained,
                    client_id,
                ),
                by(
                    "oauth2_client_credentials_burst",
                    t.oauth2_client_credentials_burst,
                    client_id,
                ),
            ],
            RateLimitModel::Enhanced => vec![
                by(
                    "enhanced_oauth2_client_credentials_sustained",
                    t.enhanced_oauth2_client_credentials_sustained,
                    client_id,
                ),
                by(
                    "enhanced_oauth2_client_credentials_burst",
                    t.enhanced_oauth2_client_credentials_burst,
                    client_id,
                ),
            ],
            // `exempt_oauth2_client_credentials` has a `None` rate.
            RateLimitModel::Exempt => Vec::new(),
        },
        _ => {
            let ip = req.peer.ip().to_string();
            vec![
                by("anon_burst", t.anon_burst, &ip),
                by("anon_sustained", t.anon_sustained, &ip),
            ]
        }
    }
}

/// Runs throttles unless the cache is down (they then let everything
/// through, as the emulator's choice: see `docs/emulator.md`).
fn throttle(st: &mut State, throttles: &[Throttle]) -> Verdict {
    if st.settings.cache_outage {
        return Verdict::default();
    }
    st.buckets.check(throttles, Instant::now())
}

/// What every Openverse view does before its own work: authenticate, then
/// throttle. `Err` is the answer.
fn enter(
    shared: &Shared,
    st: &mut State,
    req: &RequestView<'_>,
    throttles: impl FnOnce(&Throttles, &Caller) -> Vec<Throttle>,
) -> Result<(Caller, Verdict), Box<Reply>> {
    let caller = authenticate(shared, st, req)?;
    let list = throttles(&st.settings.throttles, &caller);
    let verdict = throttle(st, &list);
    verdict.gate()?;
    Ok((caller, verdict))
}

/// Openverse puts `never_cache` on its auth views; CC Catalog did not.
fn never_cache(shared: &Shared, reply: Reply) -> Reply {
    match shared.flavour {
        OpenverseFlavour::Openverse => reply.never_cache(),
        OpenverseFlavour::CcCatalog => reply,
    }
}

/// One throttle keyed by the caller's address, skipped for a valid token
/// (the registration and key-status views' own scopes).
fn unscoped(
    req: &RequestView<'_>,
    suffix: &'static str,
    rate: impl FnOnce(&Throttles) -> Option<Rate>,
) -> impl FnOnce(&Throttles, &Caller) -> Vec<Throttle> {
    let key = unscoped_key(req);
    move |t, caller| {
        if caller.has_valid_token() {
            Vec::new()
        } else {
            vec![Throttle {
                suffix,
                rate: rate(t),
                key,
            }]
        }
    }
}

pub(crate) fn register(shared: &Shared, req: &RequestView<'_>) -> Reply {
    let mut st = shared.lock();
    let entered = enter(
        shared,
        &mut st,
        req,
        unscoped(req, "tenperday", |t| t.registration),
    );
    let verdict = match entered {
        Ok((_, v)) => v,
        Err(reply) => return never_cache(shared, *reply),
    };
    let reply = register_inner(shared, &mut st, req);
    never_cache(shared, verdict.decorate(reply))
}

fn register_inner(shared: &Shared, st: &mut State, req: &RequestView<'_>) -> Reply {
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
        Err(detail) => return Reply::drf(StatusCode::BAD_REQUEST, &detail),
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
    // `secrets.token_urlsafe(64)` in both servers' `Register` view.
    let code = st.rng.token_urlsafe(64);
    let (slash, api_name) = match shared.flavour {
        OpenverseFlavour::Openverse => ("/", "Openverse API"),
        OpenverseFlavour::CcCatalog => ("", "CC Catalog API"),
    };
    let link = format!("{}/v1/auth_tokens/verify/{code}{slash}", shared.base_url);
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
            "To verify your {api_name} credentials, click on the following link:\n\n{link}\n\n\
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
    let mut st = shared.lock();
    let verdict = match enter(shared, &mut st, req, |t, c| default_throttles(t, c, req)) {
        Ok((_, v)) => v,
        Err(reply) => return never_cache(shared, *reply),
    };
    let code = req
        .path()
        .trim_start_matches("/v1/auth_tokens/verify/")
        .trim_end_matches('/');
    // The code is deleted once used, so a second click fails like an
    // unknown code: with a 500, as `VerifyEmail` answers.
    let reply = match st.codes.remove(code) {
        None => Reply::json(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({ "msg": "Invalid verification code. Did you validate your credentials already?" }),
        ),
        Some(client_id) => {
            if let Some(client) = st.clients.get_mut(&(Scheme::Openverse, client_id.clone())) {
                client.spec.verified = true;
            }
            tracing::info!(client_id = %client_id, "verified openverse application");
            Reply::ok(json!({
                "msg": "Successfully verified email. Your OAuth2 credentials are now active."
            }))
        }
    };
    never_cache(shared, verdict.decorate(reply))
}

pub(crate) fn token(shared: &Shared, req: &RequestView<'_>) -> Reply {
    let mut st = shared.lock();
    match shared.flavour {
        // Openverse wraps DOT's view in a DRF `APIView`, so the default
        // throttles run first (per IP: the request carries no bearer token)
        // and DOT's answer is re-sent without its headers.
        OpenverseFlavour::Openverse => {
            let verdict = match enter(shared, &mut st, req, |t, c| default_throttles(t, c, req)) {
                Ok((_, v)) => v,
                Err(reply) => return reply.never_cache(),
            };
            let reply = dot_token(&mut st, req, shared.flavour);
            verdict.decorate(reply).never_cache()
        }
        // CC Catalog routed DOT's own Django view: no DRF, no throttles,
        // oauthlib's headers kept.
        OpenverseFlavour::CcCatalog => {
            let reply = dot_token(&mut st, req, shared.flavour);
            let reply = if reply.status == StatusCode::UNAUTHORIZED {
                let code = reply.body["error"].as_str().unwrap_or("invalid_client");
                let challenge = format!("Bearer error=\"{code}\"");
                reply.header(WWW_AUTHENTICATE, &challenge)
            } else {
                reply
            };
            reply.no_store()
        }
    }
}

/// oauthlib's error body: the code, and a description only when it has one.
fn oauthlib_error(status: StatusCode, code: &str, description: Option<&str>) -> Reply {
    let mut body = Map::new();
    body.insert("error".into(), json!(code));
    if let Some(d) = description {
        body.insert("error_description".into(), json!(d));
    }
    Reply::json(status, Value::Object(body))
}

/// django-oauth-toolkit's token endpoint over oauthlib's client credentials
/// grant.
fn dot_token(st: &mut State, req: &RequestView<'_>, flavour: OpenverseFlavour) -> Reply {
    // Django fills `request.POST` from form and multipart bodies only; a
    // JSON body, or one without a Content-Type, leaves it empty, so the
    // grant type is missing.
    let form = match wire::media_type(req.headers).as_deref() {
        Some("application/x-www-form-urlencoded") => wire::parse_form(req.body),
        Some("multipart/form-data") => {
            wire::parse_multipart(req.headers, req.body).unwrap_or(Ok(Vec::new()))
        }
        _ => Ok(Vec::new()),
    };
    let form = match form {
        Ok(f) => f,
        Err(WireError::Duplicate(p)) => {
            return oauthlib_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                Some(&format!("Duplicate {p} parameter.")),
            )
        }
        Err(WireError::BadEncoding) => Vec::new(),
    };
    // A missing grant type falls to oauthlib's default handler
    // (authorization_code), which refuses it as unsupported too.
    if wire::form_get(&form, "grant_type") != Some("client_credentials") {
        return oauthlib_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", None);
    }
    // `OAuth2Validator.authenticate_client`: HTTP Basic first, then the
    // credentials in the body.
    let mut client_id = None;
    if let Authorization::Basic { id, secret } = wire::authorization(req.headers) {
        st.count_client_token_request(Scheme::Openverse, &id);
        if st.authenticate(Scheme::Openverse, &id, &secret).is_some() {
            client_id = Some(id);
        }
    }
    if client_id.is_none() {
        if let (Some(id), Some(secret)) = (
            wire::form_get(&form, "client_id"),
            wire::form_get(&form, "client_secret"),
        ) {
            st.count_client_token_request(Scheme::Openverse, id);
            if st.authenticate(Scheme::Openverse, id, secret).is_some() {
                client_id = Some(id.to_owned());
            }
        }
    }
    let Some(id) = client_id else {
        return oauthlib_error(StatusCode::UNAUTHORIZED, "invalid_client", None);
    };
    let known = known_scopes(flavour);
    let asked: Vec<String> = wire::form_get(&form, "scope")
        .map(|s| {
            s.split(' ')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let granted: Vec<String> = if asked.is_empty() {
        known.iter().map(|s| (*s).to_owned()).collect()
    } else if asked.iter().all(|s| known.contains(&s.as_str())) {
        asked
    } else {
        return oauthlib_error(StatusCode::BAD_REQUEST, "invalid_scope", None);
    };
    let scope = granted.join(" ");
    // A revoked key still gets tokens: revocation is checked when a token
    // is used (`OAuth2Authentication`), not when it is issued.
    let (token, lifetime) = st.issue_token(Scheme::Openverse, &id, granted, 30);
    tracing::info!(client_id = %id, "issued openverse token");
    Reply::ok(json!({
        "access_token": token,
        "expires_in": lifetime.as_secs(),
        "token_type": "Bearer",
        "scope": scope,
    }))
}

pub(crate) fn rate_limit(shared: &Shared, req: &RequestView<'_>) -> Reply {
    let mut st = shared.lock();
    let entered = enter(
        shared,
        &mut st,
        req,
        unscoped(req, "onepersecond", |t| t.key_status),
    );
    let (caller, verdict) = match entered {
        Ok(entered) => entered,
        Err(reply) => return never_cache(shared, *reply),
    };
    let reply = rate_limit_inner(shared, &st, caller);
    never_cache(shared, verdict.decorate(reply))
}

fn rate_limit_inner(shared: &Shared, st: &State, caller: Caller) -> Reply {
    let legacy = shared.flavour == OpenverseFlavour::CcCatalog;
    let Caller::Key {
        client_id,
        verified,
        model,
    } = caller
    else {
        // `CheckRates`: no token, 403. Openverse raises `PermissionDenied`;
        // the CC Catalog view returned the bare string.
        return if legacy {
            Reply::json(StatusCode::FORBIDDEN, json!("Forbidden"))
        } else {
            Reply::drf(StatusCode::FORBIDDEN, "Forbidden")
        };
    };
    if legacy && model == RateLimitModel::Exempt {
        return Reply::json(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!("Unknown API key rate limit type"),
        );
    }
    if st.settings.cache_outage {
        // Openverse catches Redis' ConnectionError and answers 424 with
        // null counts; the CC Catalog view did not catch it.
        if legacy {
            return Reply::django_500();
        }
        return Reply::json(
            StatusCode::FAILED_DEPENDENCY,
            json!({
                "requests_this_minute": null,
                "requests_today": null,
                "rate_limit_model": model.as_str(),
                "verified": verified,
            }),
        );
    }
    let (burst, sustained) = match model {
        RateLimitModel::Standard => (
            "oauth2_client_credentials_burst",
            "oauth2_client_credentials_sustained",
        ),
        RateLimitModel::Enhanced => (
            "enhanced_oauth2_client_credentials_burst",
            "enhanced_oauth2_client_credentials_sustained",
        ),
        // Never written: `exempt` keys are not throttled.
        RateLimitModel::Exempt => (
            "exempt_oauth2_client_credentials_burst",
            "exempt_oauth2_client_credentials_sustained",
        ),
    };
    let now = Instant::now();
    // An empty or missing history is null, not 0 (`len(list) if list else
    // None`): so always for an unverified key, whose requests count per IP.
    let count = |scope: &str| st.buckets.recorded(&format!("{scope}:{client_id}"), now);
    Reply::ok(json!({
        "requests_this_minute": count(burst),
        "requests_today": count(sustained),
        "rate_limit_model": model.as_str(),
        "verified": verified,
    }))
}

pub(crate) fn images(shared: &Shared, req: &RequestView<'_>) -> Reply {
    let mut st = shared.lock();
    let (caller, verdict) = match enter(shared, &mut st, req, |t, c| default_throttles(t, c, req)) {
        Ok(entered) => entered,
        Err(reply) => return *reply,
    };
    let reply = match shared.flavour {
        OpenverseFlavour::Openverse => match paging(req, &caller) {
            Ok((page_size, page)) => Reply::ok(result_page(
                req.query_param("q").unwrap_or_default(),
                page_size,
                page,
            )),
            Err(reply) => *reply,
        },
        OpenverseFlavour::CcCatalog => {
            Reply::ok(result_page(req.query_param("q").unwrap_or_default(), 20, 1))
        }
    };
    verdict.decorate(reply)
}

/// `PaginatedRequestSerializer`: an anonymous `page_size` over 20 raises
/// `NotAuthenticated` (401, no error in the challenge) before any other
/// field is looked at; the rest are DRF field errors, wrapped in `detail`
/// by Openverse's exception handler.
fn paging(req: &RequestView<'_>, caller: &Caller) -> Result<(i64, i64), Box<Reply>> {
    let anonymous = matches!(caller, Caller::Anonymous);
    let mut errors = Map::new();
    let mut field = |name: &str, default: i64, max: i64| -> Option<i64> {
        let message = match req.query_param(name) {
            None => return Some(default),
            Some(raw) => match raw.trim().parse::<i64>() {
                Err(_) => "A valid integer is required.".to_owned(),
                Ok(n) if n < 1 => "Ensure this value is greater than or equal to 1.".to_owned(),
                Ok(n) if n > max => format!("Ensure this value is less than or equal to {max}."),
                Ok(n) => return Some(n),
            },
        };
        errors.insert(name.to_owned(), json!([message]));
        None
    };
    if anonymous {
        if let Some(n) = req
            .query_param("page_size")
            .and_then(|raw| raw.trim().parse::<i64>().ok())
        {
            if n > MAX_ANONYMOUS_PAGE_SIZE {
                return Err(Box::new(not_authenticated(&format!(
                    "Ensure this value is less than or equal to {MAX_ANONYMOUS_PAGE_SIZE}."
                ))));
            }
        }
    }
    let max_size = if anonymous {
        MAX_ANONYMOUS_PAGE_SIZE
    } else {
        MAX_AUTHED_PAGE_SIZE
    };
    let page_size = field("page_size", MAX_ANONYMOUS_PAGE_SIZE, max_size);
    let page = field("page", 1, MAX_PAGINATION_DEPTH);
    match (page_size, page) {
        (Some(size), Some(page)) => Ok((size, page)),
        _ => Err(Box::new(Reply::json(
            StatusCode::BAD_REQUEST,
            json!({ "detail": Value::Object(errors) }),
        ))),
    }
}

fn result_page(q: String, page_size: i64, page: i64) -> Value {
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
        "page_size": page_size,
        "page": page,
        "results": results,
    })
}
