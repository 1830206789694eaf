//! `private_key_jwt` (RFC 7523 §2.2 and §3, OpenID Connect Core §9): a
//! client's registered public key, and the checks a client assertion must
//! pass at `/oauth2/token`.
//!
//! This is the emulator's own code on purpose: it shares nothing with the
//! signer in `auth-core`, so a client that builds its assertion wrongly is
//! refused here instead of agreed with. It verifies RS256
//! (RSASSA-PKCS1-v1_5 with SHA-256, RFC 7518 §3.3) with the `rsa` crate and
//! ES256 (ECDSA P-256 with SHA-256, RFC 7518 §3.4) with `p256`, and turns the
//! JWK (RFC 7517, RFC 7518 §6) into a key by hand, from `n`/`e` or `x`/`y`.
//!
//! Checks, in order (each failure is a 401 `invalid_client` whose
//! description says what was wrong and never quotes the assertion):
//!
//! 1. `client_assertion_type` is [`ASSERTION_TYPE`], `client_assertion` is
//!    present and is a compact JWS: three base64url parts without padding,
//!    the first two JSON objects;
//! 2. `iss` and `sub` are both the client id (and equal a form `client_id`);
//! 3. the client exists, is not revoked and has a registered key;
//! 4. the header's `alg` is `RS256` or `ES256` and fits the key's `kty` (and
//!    its `alg`, if the JWK names one); a `kid` in both must be the same; no
//!    `crit` header;
//! 5. the signature verifies with the key (ES256: exactly 64 bytes, `r || s`);
//! 6. `aud` is the token endpoint URL, or an array holding it;
//! 7. `exp` is in the future (with [`LEEWAY_SECS`] for clock skew), `nbf`
//!    (if any) and `iat` (if any) are not in the future, and the assertion
//!    lives at most [`MAX_LIFETIME_SECS`] (`exp - iat`, or `exp - now`
//!    without an `iat`);
//! 8. `jti` is present and was never seen for this client while an
//!    assertion carrying it could still be valid (the caller keeps the
//!    seen ids until their `exp`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::Verifier as _;
use rsa::traits::PublicKeyParts as _;
use serde_json::{Map, Value};
use sha2::Sha256;

/// `client_assertion_type` for a JWT assertion (RFC 7523 §2.2).
pub(crate) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
pub(crate) const LEEWAY_SECS: i64 = 5;

/// The longest an assertion may live, `exp - iat`, in seconds (five
/// minutes; real servers cap it too, Okta at an hour, others lower).
pub(crate) const MAX_LIFETIME_SECS: i64 = 300;

/// The smallest RSA key registered, in bits (NIST SP 800-131A).
const MIN_RSA_BITS: usize = 2048;

/// The public half of a client's key, as its JWK registers it.
#[derive(Debug)]
pub(crate) struct RegisteredKey {
    key: Key,
    kid: Option<String>,
    /// The JWK's own `alg`, if it names one.
    alg: Option<String>,
}

#[derive(Debug)]
enum Key {
    Rs256(Box<rsa::pkcs1v15::VerifyingKey<Sha256>>),
    Es256(Box<p256::ecdsa::VerifyingKey>),
}

impl RegisteredKey {
    /// Reads a public JWK: `{"kty":"RSA","n","e"}` (2048 bits or more) or
    /// `{"kty":"EC","crv":"P-256","x","y"}`, with optional `kid` and `alg`.
    /// A JWK holding a private part (`d`) is refused: only the public half
    /// is ever registered with a server.
    pub(crate) fn from_jwk(jwk: &Value) -> Result<Self, String> {
        let obj = jwk.as_object().ok_or("the JWK is not a JSON object")?;
        if obj.contains_key("d") {
            return Err(
                "the JWK holds a private key (`d`); register the public half only".to_owned(),
            );
        }
        let text = |name: &str| obj.get(name).and_then(Value::as_str);
        let bytes = |name: &str| -> Result<Vec<u8>, String> {
            let v = text(name).ok_or_else(|| format!("the JWK has no `{name}` string"))?;
            URL_SAFE_NO_PAD
                .decode(v)
                .map_err(|_| format!("the JWK's `{name}` is not base64url without padding"))
        };
        let key = match text("kty") {
            Some("RSA") => {
                let n = rsa::BigUint::from_bytes_be(&bytes("n")?);
                let e = rsa::BigUint::from_bytes_be(&bytes("e")?);
                let public = rsa::RsaPublicKey::new(n, e)
                    .map_err(|e| format!("the JWK is not a usable RSA public key ({e})"))?;
                let bits = public.size() * 8;
                if bits < MIN_RSA_BITS {
                    return Err(format!(
                        "the RSA key has {bits} bits; at least {MIN_RSA_BITS} are required"
                    ));
                }
                Key::Rs256(Box::new(rsa::pkcs1v15::VerifyingKey::new(public)))
            }
            Some("EC") => {
                if text("crv") != Some("P-256") {
                    return Err("the EC JWK's `crv` must be P-256 (ES256)".to_owned());
                }
                let (x, y) = (bytes("x")?, bytes("y")?);
                if x.len() != 32 || y.len() != 32 {
                    return Err("a P-256 JWK's `x` and `y` are 32 bytes each".to_owned());
                }
                // SEC1 uncompressed point: 0x04 || x || y.
                let mut point = Vec::with_capacity(65);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                    .map_err(|_| "the JWK's `x`, `y` are not a point on P-256".to_owned())?;
                Key::Es256(Box::new(key))
            }
            Some(other) => {
                return Err(format!(
                    "the JWK's kty `{}` is not supported (RSA or EC)",
                    printable(other)
                ))
            }
            None => return Err("the JWK has no `kty` string".to_owned()),
        };
        let registered = RegisteredKey {
            key,
            kid: text("kid").map(str::to_owned),
            alg: text("alg").map(str::to_owned),
        };
        if let Some(alg) = &registered.alg {
            if alg != registered.jws_alg() {
                return Err(format!(
                    "the JWK's alg `{}` does not fit its kty {}",
                    printable(alg),
                    registered.kty()
                ));
            }
        }
        Ok(registered)
    }

    /// The JWS algorithm the key verifies.
    fn jws_alg(&self) -> &'static str {
        match self.key {
            Key::Rs256(_) => "RS256",
            Key::Es256(_) => "ES256",
        }
    }

    fn kty(&self) -> &'static str {
        match self.key {
            Key::Rs256(_) => "RSA",
            Key::Es256(_) => "EC",
        }
    }

    fn verifies(&self, input: &[u8], signature: &[u8]) -> Result<(), String> {
        let bad = || "the signature does not verify with the client's registered key".to_owned();
        match &self.key {
            Key::Rs256(key) => {
                let sig = rsa::pkcs1v15::Signature::try_from(signature).map_err(|_| bad())?;
                key.verify(input, &sig).map_err(|_| bad())
            }
            Key::Es256(key) => {
                // RFC 7518 §3.4: the JWS signature is r || s, 32 bytes each,
                // not the DER an ECDSA library produces by default.
                if signature.len() != 64 {
                    return Err(format!(
                        "an ES256 signature is 64 bytes (r || s, RFC 7518 §3.4), not {}",
                        signature.len()
                    ));
                }
                let sig = p256::ecdsa::Signature::from_slice(signature).map_err(|_| bad())?;
                key.verify(input, &sig).map_err(|_| bad())
            }
        }
    }
}

/// A compact JWS split and decoded, not yet trusted.
pub(crate) struct Jws<'a> {
    header: Map<String, Value>,
    claims: Map<String, Value>,
    /// `base64url(header) || '.' || base64url(claims)`, what was signed.
    signing_input: &'a str,
    signature: Vec<u8>,
}

/// What a verified assertion says.
#[derive(Debug)]
pub(crate) struct Verified {
    pub(crate) jti: String,
    /// `exp`, seconds since 1970: how long to remember the `jti`.
    pub(crate) exp: i64,
}

impl<'a> Jws<'a> {
    /// Splits a compact JWS (RFC 7515 §7.1) and decodes its header and
    /// claims.
    pub(crate) fn decode(assertion: &'a str) -> Result<Self, String> {
        let not_jws = || {
            "client_assertion is not a compact JWS (three base64url parts joined by dots)"
                .to_owned()
        };
        let mut parts = assertion.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(not_jws());
        };
        let signing_input = &assertion[..h.len() + 1 + c.len()];
        let object = |part: &str, what: &str| -> Result<Map<String, Value>, String> {
            let bytes = URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| format!("the assertion's {what} is not base64url without padding"))?;
            match serde_json::from_slice(&bytes) {
                Ok(Value::Object(map)) => Ok(map),
                _ => Err(format!("the assertion's {what} is not a JSON object")),
            }
        };
        let header = object(h, "header")?;
        let claims = object(c, "claims")?;
        let signature = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| "the assertion's signature is not base64url without padding".to_owned())?;
        Ok(Jws {
            header,
            claims,
            signing_input,
            signature,
        })
    }

    /// The client the assertion claims to come from: `iss`, which must
    /// equal `sub` (RFC 7523 §3 items 1–2 for client authentication).
    pub(crate) fn client_id(&self) -> Result<&str, String> {
        let iss = self.claim_str("iss")?;
        let sub = self.claim_str("sub")?;
        if iss != sub {
            return Err("iss and sub must both be the client id".to_owned());
        }
        Ok(iss)
    }

    fn claim_str(&self, name: &str) -> Result<&str, String> {
        match self.claims.get(name) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s),
            Some(_) => Err(format!(
                "the assertion's `{name}` must be a non-empty string"
            )),
            None => Err(format!("the assertion has no `{name}` claim")),
        }
    }

    /// A NumericDate claim (RFC 7519 §2), whole seconds (fractions dropped).
    fn claim_time(&self, name: &str) -> Result<Option<i64>, String> {
        match self.claims.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .or_else(|| {
                    v.as_f64()
                        .filter(|f| f.is_finite())
                        .map(|f| f.floor() as i64)
                })
                .map(Some)
                .ok_or_else(|| {
                    format!("the assertion's `{name}` must be a number of seconds since 1970")
                }),
        }
    }

    /// Every check after the client is known: header, signature, `aud`,
    /// times and the presence of `jti` (its novelty is the caller's to
    /// check, against the ids it has seen). `now` is seconds since 1970.
    pub(crate) fn verify(
        &self,
        key: &RegisteredKey,
        audience: &str,
        now: i64,
    ) -> Result<Verified, String> {
        let alg = match self.header.get("alg") {
            Some(Value::String(a)) => a.as_str(),
            _ => return Err("the assertion's header has no `alg` string".to_owned()),
        };
        if !matches!(alg, "RS256" | "ES256") {
            return Err(format!(
                "alg `{}` is not accepted (RS256 or ES256)",
                printable(alg)
            ));
        }
        if alg != key.jws_alg() {
            return Err(format!(
                "alg {alg} does not fit the client's {} key ({} expected)",
                key.kty(),
                key.jws_alg()
            ));
        }
        if self.header.contains_key("crit") {
            return Err(
                "the assertion's header has `crit` parameters this server does not understand"
                    .to_owned(),
            );
        }
        match (self.header.get("kid"), &key.kid) {
            (Some(Value::String(got)), Some(want)) if got != want => {
                return Err(format!(
                    "kid `{}` is not the client's key id `{}`",
                    printable(got),
                    printable(want)
                ))
            }
            (Some(v), _) if !v.is_string() => {
                return Err("the assertion's `kid` must be a string".to_owned())
            }
            _ => {}
        }
        key.verifies(self.signing_input.as_bytes(), &self.signature)?;

        let aud_ok = match self.claims.get("aud") {
            Some(Value::String(a)) => a == audience,
            Some(Value::Array(items)) => items.iter().any(|a| a.as_str() == Some(audience)),
            _ => false,
        };
        if !aud_ok {
            return Err(format!(
                "aud must be the token endpoint URL {audience} (a string, or an array holding it)"
            ));
        }

        let exp = self
            .claim_time("exp")?
            .ok_or("the assertion has no `exp` claim")?;
        if now >= exp.saturating_add(LEEWAY_SECS) {
            return Err(format!(
                "the assertion expired {} s ago",
                now.saturating_sub(exp)
            ));
        }
        if let Some(nbf) = self.claim_time("nbf")? {
            if nbf > now.saturating_add(LEEWAY_SECS) {
                return Err("the assertion is not valid yet (nbf is in the future)".to_owned());
            }
        }
        match self.claim_time("iat")? {
            Some(iat) => {
                if iat > now.saturating_add(LEEWAY_SECS) {
                    return Err("the assertion's iat is in the future".to_owned());
                }
                if exp <= iat {
                    return Err("the assertion's exp is not after its iat".to_owned());
                }
                let lifetime = exp.saturating_sub(iat);
                if lifetime > MAX_LIFETIME_SECS {
                    return Err(format!(
                        "the assertion lives {lifetime} s (exp - iat); at most {MAX_LIFETIME_SECS} s are accepted"
                    ));
                }
            }
            None => {
                if exp.saturating_sub(now) > MAX_LIFETIME_SECS + LEEWAY_SECS {
                    return Err(format!(
                        "the assertion's exp is more than {MAX_LIFETIME_SECS} s away"
                    ));
                }
            }
        }

        let jti = self.claim_str("jti")?.to_owned();
        Ok(Verified { jti, exp })
    }
}

/// A value from the request fit for an error description: printable ASCII,
/// at most 40 characters.
fn printable(s: &str) -> String {
    let mut out: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(40)
        .collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use serde_json::json;

    use super::*;
    use crate::config::demo;

    const AUD: &str = "http://127.0.0.1:1/oauth2/token";

    fn demo_key() -> RegisteredKey {
        let jwk: Value = serde_json::from_str(demo::OAUTH2_JWT_PUBLIC_JWK).unwrap();
        RegisteredKey::from_jwk(&jwk).unwrap()
    }

    fn now() -> i64 {
        i64::try_from(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        )
        .unwrap()
    }

    #[test]
    fn an_assertion_from_an_independent_signer_verifies() {
        let key = auth_core::PrivateKey::from_pem(demo::OAUTH2_JWT_PRIVATE_KEY_PEM)
            .unwrap()
            .with_key_id("demo-es256");
        let t = now();
        let wall = UNIX_EPOCH + Duration::from_secs(u64::try_from(t).unwrap());
        let jwt = key
            .client_assertion(demo::OAUTH2_JWT_CLIENT_ID, AUD, wall, "j-1")
            .unwrap();
        let jws = Jws::decode(jwt.expose_secret()).unwrap();
        assert_eq!(jws.client_id().unwrap(), demo::OAUTH2_JWT_CLIENT_ID);
        let verified = jws.verify(&demo_key(), AUD, t).unwrap();
        assert_eq!(verified.jti, "j-1");
        assert_eq!(verified.exp, t + 120);
        // The same assertion, for another endpoint.
        let e = jws
            .verify(&demo_key(), "http://elsewhere/token", t)
            .unwrap_err();
        assert!(e.contains("aud"), "{e}");
    }

    #[test]
    fn jwks_are_read_strictly() {
        assert!(RegisteredKey::from_jwk(&json!("RSA")).is_err());
        assert!(RegisteredKey::from_jwk(&json!({"kty":"oct","k":"AAAA"}))
            .unwrap_err()
            .contains("kty"));
        let mut jwk: Value = serde_json::from_str(demo::OAUTH2_JWT_PUBLIC_JWK).unwrap();
        jwk["d"] = json!("AAAA");
        assert!(RegisteredKey::from_jwk(&jwk)
            .unwrap_err()
            .contains("private"));
        let mut jwk: Value = serde_json::from_str(demo::OAUTH2_JWT_PUBLIC_JWK).unwrap();
        jwk["alg"] = json!("RS256");
        assert!(RegisteredKey::from_jwk(&jwk).unwrap_err().contains("alg"));
        let mut jwk: Value = serde_json::from_str(demo::OAUTH2_JWT_PUBLIC_JWK).unwrap();
        jwk["crv"] = json!("P-384");
        assert!(RegisteredKey::from_jwk(&jwk).unwrap_err().contains("P-256"));
        // A point off the curve.
        let mut jwk: Value = serde_json::from_str(demo::OAUTH2_JWT_PUBLIC_JWK).unwrap();
        jwk["y"] = json!(URL_SAFE_NO_PAD.encode([7u8; 32]));
        assert!(RegisteredKey::from_jwk(&jwk).is_err());
        // RSA under 2048 bits: a 1024-bit modulus (any odd number will do).
        let small = json!({"kty":"RSA","n": URL_SAFE_NO_PAD.encode([0xc5u8; 128]),"e":"AQAB"});
        assert!(RegisteredKey::from_jwk(&small)
            .unwrap_err()
            .contains("2048"));
    }

    #[test]
    fn malformed_assertions_are_described_without_quoting() {
        for (text, want) in [
            ("", "compact JWS"),
            ("a.b", "compact JWS"),
            ("a.b.c.d", "compact JWS"),
            ("e30=.e30.AA", "header"),
            ("bm90IGpzb24.e30.AA", "header"),
            ("e30.W10.AA", "claims"),
            ("e30.e30.*", "signature"),
        ] {
            let e = Jws::decode(text).err().unwrap();
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn printable_shortens_and_strips() {
        assert_eq!(printable("a\nb\u{7}c"), "abc");
        assert_eq!(printable(&"x".repeat(50)).chars().count(), 41);
    }
}
