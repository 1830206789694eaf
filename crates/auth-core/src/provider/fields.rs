//! Reading the token fields that RFC 6749 §5.1 defines (and Markable reuses)
//! out of a JSON object, leniently where servers differ and strictly where a
//! mistake would hand out a bad token.

use std::time::{Duration, UNIX_EPOCH};

use http::Response;
use serde_json::{Map, Value};

use crate::datetime::parse_iso8601;
use crate::error::Error;
use crate::redact::Redactor;
use crate::scope::Scopes;
use crate::secret::AccessToken;
use crate::token::{Lifetime, TokenResponse, TokenType};
use crate::wire::{self, malformed};

/// Reads `access_token`, `token_type`, `expires_in` / `expires_at` and
/// `scope` from `obj`.
pub(crate) fn read_token(
    obj: &Map<String, Value>,
    response: &Response<Vec<u8>>,
    redactor: &Redactor<'_>,
) -> Result<TokenResponse, Error> {
    let bad = |reason: &str| malformed(response, redactor, reason.to_owned());

    let access_token = match obj.get("access_token") {
        Some(Value::String(s)) if s.is_empty() => return Err(bad("access_token is empty")),
        Some(Value::String(s)) => s,
        Some(_) => return Err(bad("access_token is not a string")),
        None => return Err(bad("the response has no access_token")),
    };
    // RFC 6750 §2.1 b64token is narrower; visible ASCII is what can travel
    // in a header at all, and anything else means a garbled response.
    if !access_token.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(bad(
            "access_token holds characters that cannot go in an HTTP header",
        ));
    }

    // Missing token_type is read as Bearer: Markable never sends one and
    // several OAuth servers omit it, and Bearer is the only type we send.
    let token_type = match obj.get("token_type") {
        None | Some(Value::Null) => TokenType::Bearer,
        // Redact only to build the error: a type the parser accepts holds
        // no secret, and redacting every success cost a tenth of a fetch.
        Some(Value::String(s)) => match TokenType::parse(s) {
            Ok(t) => t,
            Err(_) => TokenType::parse(&redactor.text(s))?,
        },
        Some(_) => return Err(bad("token_type is not a string")),
    };

    let lifetime = match (obj.get("expires_in"), obj.get("expires_at")) {
        (Some(v), _) if !v.is_null() => expires_in(v).map_err(|r| bad(&r))?,
        (_, Some(v)) if !v.is_null() => expires_at(v).map_err(|r| bad(&r))?,
        _ => Lifetime::Unknown,
    };

    let granted_scopes = match obj.get("scope") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            Some(Scopes::parse(s).map_err(|e| bad(&format!("the granted scope is invalid: {e}")))?)
        }
        // Not RFC 6749, but some servers send an array; accept it.
        Some(Value::Array(items)) => {
            let tokens: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
            let tokens = tokens.ok_or_else(|| bad("scope is an array of non-strings"))?;
            Some(
                Scopes::from_tokens(tokens)
                    .map_err(|e| bad(&format!("the granted scope is invalid: {e}")))?,
            )
        }
        Some(_) => return Err(bad("scope is not a string")),
    };

    Ok(TokenResponse {
        access_token: AccessToken::new(access_token.as_str()),
        token_type,
        lifetime,
        granted_scopes,
        server_date: wire::date(response.headers()),
        publishable: false,
        issued_at: None,
    })
}

/// `expires_in`: an integer, an integer-valued string, or a float. Zero
/// means "not stated" (as Go's x/oauth2 reads it); negative is an error.
fn expires_in(v: &Value) -> Result<Lifetime, String> {
    let secs: u64 = match v {
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                u
            } else if n.as_i64().is_some() {
                return Err(format!("expires_in is negative ({n})"));
            } else {
                match n.as_f64() {
                    Some(f) if f.is_finite() && f >= 0.0 => f as u64,
                    _ => return Err(format!("expires_in is not a usable number ({n})")),
                }
            }
        }
        Value::String(s) => {
            let t = s.trim();
            match t.parse::<u64>() {
                Ok(u) => u,
                Err(_) if t.parse::<i64>().is_ok() => {
                    return Err("expires_in is a negative number (as a string)".into())
                }
                // Not quoted: a successful answer's strings may hold the
                // token or an echoed secret (see `redact`).
                Err(_) => {
                    return Err(format!(
                        "expires_in is not a number (a string of {} characters)",
                        s.chars().count()
                    ));
                }
            }
        }
        _ => return Err("expires_in is neither a number nor a numeric string".into()),
    };
    Ok(if secs == 0 {
        Lifetime::Unknown
    } else {
        Lifetime::ExpiresIn(Duration::from_secs(secs))
    })
}

/// Unix times at or above this are milliseconds: as seconds they would be
/// past the year 5000, and Markable's timestamps are milliseconds.
const MILLIS_FROM: u64 = 100_000_000_000;

/// `expires_at`: ISO 8601 (Markable), or Unix seconds or milliseconds
/// (seen elsewhere; told apart by size, see [`MILLIS_FROM`]).
fn expires_at(v: &Value) -> Result<Lifetime, String> {
    match v {
        Value::String(s) => parse_iso8601(s).map(Lifetime::ExpiresAt).ok_or_else(|| {
            format!(
                "expires_at is not an ISO 8601 date-time (a string of {} characters)",
                s.chars().count()
            )
        }),
        Value::Number(n) => n
            .as_u64()
            .map(|n| {
                if n >= MILLIS_FROM {
                    Duration::from_millis(n)
                } else {
                    Duration::from_secs(n)
                }
            })
            .and_then(|d| UNIX_EPOCH.checked_add(d))
            .map(Lifetime::ExpiresAt)
            .ok_or_else(|| format!("expires_at is not a usable Unix time ({n})")),
        _ => Err("expires_at is neither a string nor a number".into()),
    }
}
