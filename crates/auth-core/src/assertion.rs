//! `private_key_jwt` client authentication (RFC 7523 §2.2, OpenID Connect
//! Core §9): the client proves who it is with a short-lived JWT it signs
//! with its private key, instead of sending a shared secret.
//!
//! In scope: reading the key (PEM or JWK), signing RS256 (RSASSA-PKCS1-v1_5
//! with SHA-256) and ES256 (ECDSA P-256 with SHA-256, RFC 6979 deterministic
//! nonces), building the assertion, and publishing the public half as a
//! JWK. Out of scope: key generation, encrypted key files (decrypt them
//! first), other algorithms, and reading the clock — the issue time comes
//! in as an argument, like every time in this crate.
//!
//! Signing is pure computation: it draws no OS randomness. ECDSA's nonce
//! comes from RFC 6979 (derived from the key and the message); RSA's
//! blinding factor comes from a generator seeded with an HMAC of the
//! message under the private exponent, so it is unknown to anyone without
//! the key and different for every assertion (each holds a new `jti`).
//!
//! ```text
//!  PrivateKey::from_pem / from_jwk ──▶ PrivateKey ──▶ ClientCredentials::with_private_key
//!                                          │
//!      TokenSource::poll_transmit(wall) ───┴─▶ client_assertion(id, token URL, wall, jti)
//!                                              = base64url(header).base64url(claims).base64url(signature)
//! ```

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::Mac as _;
use p256::ecdsa::signature::Signer as _;
use rand_chacha::rand_core::SeedableRng as _;
use rsa::pkcs8::der::SecretDocument;
use rsa::pkcs8::{ObjectIdentifier, PrivateKeyInfo};
use rsa::signature::{RandomizedSigner as _, SignatureEncoding as _};
use rsa::traits::{PrivateKeyParts as _, PublicKeyParts as _};
use serde::Serialize;
use serde_json::{json, Map, Value};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::Error;
use crate::redact::{sanitize, shorten};
pub use crate::secret::{ClientAssertion, ASSERTION_TYPE};

/// How long an assertion is valid after its `iat`: two minutes.
///
/// Short, because an assertion intercepted or logged by a proxy
/// authenticates as the client until it expires; long enough for the
/// request to arrive and for a few seconds of skew between the client's
/// clock and the server's (servers such as Okta and Entra ID refuse
/// assertions whose lifetime is long: Okta caps `exp` at one hour). A new
/// assertion is signed for every request, so nothing is gained by a
/// longer one.
pub const ASSERTION_LIFETIME: Duration = Duration::from_secs(120);

/// The smallest RSA key accepted, in bits (NIST SP 800-131A; most servers
/// refuse smaller keys too).
pub const MIN_RSA_BITS: usize = 2048;

/// What to do when a key is of the wrong kind: the one-line advice every
/// such error ends with.
const MAKE_A_KEY: &str = "apiauth signs with RS256 (an RSA key of 2048 bits or more) or ES256 (a P-256 key, recommended); make one with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem`";

const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// A private key that signs client assertions: RS256 or ES256.
///
/// The key material never shows in `Debug` (which prints the algorithm,
/// the key id and `[redacted]`), has no `Display` and no `PartialEq`, and
/// is zeroized on drop: the `rsa` and `p256` key types it holds implement
/// `ZeroizeOnDrop`, and every temporary copy made here (a decoded PEM or
/// JWK, the bytes a cache fingerprint is computed over) is `Zeroizing`.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use auth_core::PrivateKey;
///
/// // A throwaway P-256 key (tests/fixtures/p256.pkcs8.pem), for examples only.
/// let pem = "-----BEGIN PRIVATE KEY-----
/// MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg9XzAOCWKZL0Rdj91
/// zcTXMRylOMEY8+2oXhHrv9XCuIKhRANCAATS3A94FvI7/ATAIzXuQW2wHrOv+dNC
/// gJFOxvSiIMgTQ7hiPvo6R4/VGsFoDAfFxD8ZHjIVXbVnRHx4oWGscJ5n
/// -----END PRIVATE KEY-----";
/// let key = PrivateKey::from_pem(pem)?.with_key_id("2024-01");
/// assert_eq!(key.algorithm(), "ES256");
/// assert!(format!("{key:?}").contains("[redacted]"));
///
/// // The public half, to register with the provider.
/// let jwk = key.public_jwk();
/// assert_eq!(jwk["kty"], "EC");
/// assert_eq!(jwk["kid"], "2024-01");
/// assert!(jwk.get("d").is_none());
///
/// // An assertion, as the token request carries it.
/// let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let jwt = key.client_assertion("my-client", "https://auth.example.com/token", wall, "a1b2")?;
/// assert_eq!(jwt.expose_secret().split('.').count(), 3);
/// # Ok::<(), auth_core::Error>(())
/// ```
#[derive(Clone)]
pub struct PrivateKey {
    key: Key,
    kid: Option<String>,
}

#[derive(Clone)]
enum Key {
    /// RSASSA-PKCS1-v1_5 with SHA-256. Boxed: the key is large.
    Rs256(Box<rsa::pkcs1v15::SigningKey<Sha256>>),
    /// ECDSA over P-256 with SHA-256.
    Es256(Box<p256::ecdsa::SigningKey>),
}

// The promise in the type's docs, checked by the compiler: both key types
// wipe themselves when dropped.
const _: fn() = || {
    fn zeroizes_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    zeroizes_on_drop::<rsa::pkcs1v15::SigningKey<Sha256>>();
    zeroizes_on_drop::<rsa::RsaPrivateKey>();
    zeroizes_on_drop::<p256::ecdsa::SigningKey>();
    zeroizes_on_drop::<p256::SecretKey>();
};

impl PrivateKey {
    /// Reads a PEM private key: PKCS#8 (`-----BEGIN PRIVATE KEY-----`),
    /// PKCS#1 (`RSA PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`). Other blocks
    /// in the text (a certificate before the key, say) are skipped.
    ///
    /// Refused, with what to do: encrypted keys, public keys and
    /// certificates alone, algorithms other than RSA and EC, curves other
    /// than P-256, and RSA keys under [`MIN_RSA_BITS`]. No error quotes the
    /// key.
    pub fn from_pem(pem: &str) -> Result<Self, Error> {
        let blocks = pem_blocks(pem);
        if blocks.is_empty() {
            let hint = if pem.trim_start().starts_with('{') {
                "; it looks like a JWK: use `PrivateKey::from_jwk`"
            } else {
                ""
            };
            return Err(invalid(format!(
                "the private key is not PEM: expected a `-----BEGIN PRIVATE KEY-----` block (PKCS#8), `RSA PRIVATE KEY` (PKCS#1) or `EC PRIVATE KEY` (SEC1){hint}"
            )));
        }
        let private = blocks
            .iter()
            .find(|b| b.label == "ENCRYPTED PRIVATE KEY" || b.label.ends_with("PRIVATE KEY"));
        let Some(block) = private else {
            let labels: Vec<String> = blocks
                .iter()
                .take(4)
                .map(|b| format!("`{}`", sanitize(&shorten(b.label, 40))))
                .collect();
            return Err(invalid(format!(
                "the PEM holds {}, not a private key; pass the private key (the public half is what the provider registers)",
                labels.join(", ")
            )));
        };
        if block.label == "ENCRYPTED PRIVATE KEY" {
            return Err(invalid(
                "the private key is encrypted (`ENCRYPTED PRIVATE KEY`); apiauth reads unencrypted keys only: decrypt it with `openssl pkcs8 -in key.pem -out key-plain.pem`, keep that file private (mode 0600), or load the key from a secret store".into(),
            ));
        }
        if block.text.contains("Proc-Type:") && block.text.contains("ENCRYPTED") {
            let tool = if block.label == "EC PRIVATE KEY" {
                "ec"
            } else {
                "rsa"
            };
            return Err(invalid(format!(
                "the private key is encrypted (a `Proc-Type: 4,ENCRYPTED` PEM header); apiauth reads unencrypted keys only: decrypt it with `openssl {tool} -in key.pem -out key-plain.pem` and keep that file private (mode 0600)"
            )));
        }
        let label = sanitize(&shorten(block.label, 40));
        if !matches!(
            block.label,
            "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY"
        ) {
            return Err(invalid(format!(
                "a `{label}` PEM block is not a key format apiauth reads: convert an RSA or P-256 key to PKCS#8 (`openssl pkcs8 -topk8 -nocrypt -in key -out key.pem`), or make a new one; {MAKE_A_KEY}"
            )));
        }
        let (_, der) = SecretDocument::from_pem(block.text)
            .map_err(|e| invalid(format!("the `{label}` PEM block cannot be decoded ({e})")))?;
        match block.label {
            "PRIVATE KEY" => Self::from_pkcs8_der(der.as_bytes()),
            "RSA PRIVATE KEY" => {
                use rsa::pkcs1::DecodeRsaPrivateKey as _;
                let key = rsa::RsaPrivateKey::from_pkcs1_der(der.as_bytes()).map_err(|e| {
                    invalid(format!(
                        "the `RSA PRIVATE KEY` is not a valid RSA key ({e})"
                    ))
                })?;
                Self::rsa(key)
            }
            _ => {
                let key = p256::SecretKey::from_sec1_der(der.as_bytes())
                    .map_err(|_| ec_error(curve_in_der(der.as_bytes())))?;
                Ok(Self::ec(&key))
            }
        }
    }

    fn from_pkcs8_der(der: &[u8]) -> Result<Self, Error> {
        let info = PrivateKeyInfo::try_from(der)
            .map_err(|e| invalid(format!("the `PRIVATE KEY` is not a valid PKCS#8 key ({e})")))?;
        let oid = info.algorithm.oid;
        if oid == OID_RSA {
            let key = rsa::RsaPrivateKey::try_from(info)
                .map_err(|e| invalid(format!("the `PRIVATE KEY` is not a valid RSA key ({e})")))?;
            return Self::rsa(key);
        }
        if oid == OID_EC {
            let curve = info.algorithm.parameters_oid().ok();
            if curve != Some(OID_P256) {
                return Err(ec_error(curve.map_or("an unnamed curve", curve_name)));
            }
            let key = p256::SecretKey::try_from(info).map_err(|e| {
                invalid(format!("the `PRIVATE KEY` is not a valid P-256 key ({e})"))
            })?;
            return Ok(Self::ec(&key));
        }
        Err(invalid(format!(
            "the key is {}; {MAKE_A_KEY}",
            algorithm_name(oid)
        )))
    }

    /// Reads a private JWK (RFC 7517, RFC 7518 §6): `{"kty":"RSA"}` with
    /// `n`, `e`, `d` (and `p`, `q`, used when present), or `{"kty":"EC",
    /// "crv":"P-256"}` with `x`, `y`, `d`. A `kid` in the JWK becomes the
    /// key id; an `alg` must be RS256 or ES256 to match; a `use` must be
    /// `sig`. A JWK Set (`{"keys":[…]}`) holding exactly one key is read
    /// as that key. No error quotes the key.
    pub fn from_jwk(jwk: &str) -> Result<Self, Error> {
        let value: Value = serde_json::from_str(jwk).map_err(|e| {
            invalid(format!(
                "the JWK is not JSON (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        // Wiped when dropped, on every path: it holds the private key.
        let mut obj = Zeroizing::new(JwkFields(value));
        if let Some(keys) = obj.0.get_mut("keys") {
            let Some([only]) = keys.as_array_mut().map(Vec::as_mut_slice) else {
                let n = keys.as_array().map_or(0, Vec::len);
                return Err(invalid(format!(
                    "the JWK Set holds {n} keys; pass the one key to sign with"
                )));
            };
            let only = Zeroizing::new(JwkFields(only.take()));
            obj = only;
        }
        let Value::Object(fields) = &obj.0 else {
            return Err(invalid("the JWK is not a JSON object".into()));
        };
        let obj = fields;
        let text = |k: &str| obj.get(k).and_then(Value::as_str);
        if let Some(u) = text("use").filter(|u| *u != "sig") {
            return Err(invalid(format!(
                "the JWK is for `use` `{}`, not `sig`; pass a signing key",
                sanitize(&shorten(u, 20))
            )));
        }
        let kid = text("kid").filter(|k| !k.is_empty()).map(str::to_owned);
        let key = match text("kty") {
            Some("RSA") => Self::rsa_from_jwk(obj)?,
            Some("EC") => Self::ec_from_jwk(obj)?,
            Some("oct") => {
                return Err(invalid(format!(
                    "the JWK is a symmetric key (`oct`, as client_secret_jwt uses); apiauth signs with a private key: {MAKE_A_KEY}"
                )))
            }
            Some(other) => {
                return Err(invalid(format!(
                    "the JWK's key type `{}` is not supported; {MAKE_A_KEY}",
                    sanitize(&shorten(other, 20))
                )))
            }
            None => return Err(invalid("the JWK has no `kty`".into())),
        };
        if let Some(alg) = text("alg").filter(|a| *a != key.algorithm()) {
            return Err(invalid(format!(
                "the JWK is marked for `{}`, but apiauth signs this key with {}; a server that registered it for `{}` would refuse the assertion: register the key for {} (or drop its `alg`)",
                sanitize(&shorten(alg, 20)),
                key.algorithm(),
                sanitize(&shorten(alg, 20)),
                key.algorithm()
            )));
        }
        Ok(match kid {
            Some(kid) => key.with_key_id(kid),
            None => key,
        })
    }

    fn rsa_from_jwk(obj: &Map<String, Value>) -> Result<Self, Error> {
        let num = |k: &str| -> Result<Option<rsa::BigUint>, Error> {
            Ok(jwk_bytes(obj, k)?.map(|b| rsa::BigUint::from_bytes_be(&b)))
        };
        let (Some(n), Some(e)) = (num("n")?, num("e")?) else {
            return Err(invalid("the RSA JWK lacks `n` or `e`".into()));
        };
        let Some(d) = num("d")? else {
            return Err(invalid(
                "the RSA JWK is a public key (no `d`); pass the private JWK".into(),
            ));
        };
        let primes = match (num("p")?, num("q")?) {
            (Some(p), Some(q)) => vec![p, q],
            // Without them, the primes are recovered from n, e and d.
            (None, None) => Vec::new(),
            _ => {
                return Err(invalid(
                    "the RSA JWK has only one of `p` and `q`; give both or neither".into(),
                ))
            }
        };
        let key = rsa::RsaPrivateKey::from_components(n, e, d, primes)
            .map_err(|e| invalid(format!("the RSA JWK is not a valid key ({e})")))?;
        Self::rsa(key)
    }

    fn ec_from_jwk(obj: &Map<String, Value>) -> Result<Self, Error> {
        match obj.get("crv").and_then(Value::as_str) {
            Some("P-256") => {}
            Some(other) => {
                return Err(ec_error(&format!("`{}`", sanitize(&shorten(other, 20)))));
            }
            None => return Err(invalid("the EC JWK has no `crv`".into())),
        }
        let Some(d) = jwk_bytes(obj, "d")? else {
            return Err(invalid(
                "the EC JWK is a public key (no `d`); pass the private JWK".into(),
            ));
        };
        if d.len() != 32 {
            return Err(invalid(format!(
                "the EC JWK's `d` is {} bytes; a P-256 key's is 32",
                d.len()
            )));
        }
        let secret = p256::SecretKey::from_slice(&d)
            .map_err(|_| invalid("the EC JWK's `d` is not a valid P-256 key".into()))?;
        let key = Self::ec(&secret);
        // x and y are redundant with d; if present they must agree, or the
        // provider holds a public key that will not verify our signatures.
        let public = key.public_jwk();
        for coord in ["x", "y"] {
            if let Some(given) = jwk_bytes(obj, coord)? {
                let ours = public[coord]
                    .as_str()
                    .and_then(|c| URL_SAFE_NO_PAD.decode(c).ok());
                if ours.as_deref() != Some(given.as_slice()) {
                    return Err(invalid(format!(
                        "the EC JWK's `{coord}` does not belong to its `d`; the JWK is corrupt"
                    )));
                }
            }
        }
        Ok(key)
    }

    fn rsa(key: rsa::RsaPrivateKey) -> Result<Self, Error> {
        let bits = key.n().bits();
        if bits < MIN_RSA_BITS {
            return Err(invalid(format!(
                "the RSA key has {bits} bits; RS256 needs at least {MIN_RSA_BITS} (NIST SP 800-131A; servers refuse smaller): make a new key, preferably ES256 with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem`"
            )));
        }
        Ok(Self {
            key: Key::Rs256(Box::new(rsa::pkcs1v15::SigningKey::<Sha256>::new(key))),
            kid: None,
        })
    }

    fn ec(key: &p256::SecretKey) -> Self {
        Self {
            key: Key::Es256(Box::new(p256::ecdsa::SigningKey::from(key))),
            kid: None,
        }
    }

    /// Sets the key id sent as the JWS header's `kid`, which tells a server
    /// that holds several keys for the client which one to verify with.
    /// An empty id means none.
    #[must_use]
    pub fn with_key_id(mut self, kid: impl Into<String>) -> Self {
        let kid = kid.into();
        self.kid = (!kid.is_empty()).then_some(kid);
        self
    }

    /// The key id, if one was set (or came with the JWK).
    #[must_use]
    pub fn key_id(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The JWS algorithm this key signs with: `RS256` or `ES256`.
    #[must_use]
    pub fn algorithm(&self) -> &'static str {
        match self.key {
            Key::Rs256(_) => "RS256",
            Key::Es256(_) => "ES256",
        }
    }

    /// The public half as a JWK (RFC 7517), with `alg`, `use: "sig"` and
    /// the key id: what to register with the provider, or publish in a
    /// JWKS. It holds no private part.
    #[must_use]
    pub fn public_jwk(&self) -> Value {
        let mut jwk = match &self.key {
            Key::Rs256(k) => {
                let key: &rsa::RsaPrivateKey = k.as_ref().as_ref();
                json!({
                    "kty": "RSA",
                    "n": URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
                    "e": URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
                })
            }
            Key::Es256(k) => {
                let point = k.verifying_key().to_encoded_point(false);
                let coord = |c: Option<&p256::FieldBytes>| {
                    c.map_or_else(String::new, |c| URL_SAFE_NO_PAD.encode(c))
                };
                json!({
                    "kty": "EC",
                    "crv": "P-256",
                    "x": coord(point.x()),
                    "y": coord(point.y()),
                })
            }
        };
        if let Value::Object(map) = &mut jwk {
            map.insert("alg".into(), self.algorithm().into());
            map.insert("use".into(), "sig".into());
            if let Some(kid) = &self.kid {
                map.insert("kid".into(), kid.as_str().into());
            }
        }
        jwk
    }

    /// Signs a client assertion (RFC 7523 §3, OpenID Connect Core §9):
    /// header `{"alg","typ":"JWT","kid"?}`, claims `iss` = `sub` =
    /// `client_id`, `aud` = `audience` (the token endpoint URL), `iat` =
    /// `issued_at` in whole seconds, `exp` = `iat` + [`ASSERTION_LIFETIME`],
    /// and `jti` = `jti`, which must never repeat for this client (servers
    /// refuse a replayed one).
    ///
    /// The token machine calls this for every request it sends, with the
    /// wall time given to [`TokenSource::poll_transmit`](crate::TokenSource::poll_transmit)
    /// and an id from its seeded generator. Fails only for a wall time
    /// before 1970 or an empty `jti`.
    pub fn client_assertion(
        &self,
        client_id: &str,
        audience: &str,
        issued_at: SystemTime,
        jti: &str,
    ) -> Result<ClientAssertion, Error> {
        if jti.is_empty() {
            return Err(Error::Misuse(
                "a client assertion needs a non-empty jti".into(),
            ));
        }
        let iat = issued_at
            .duration_since(UNIX_EPOCH)
            .map_err(|_| {
                invalid("the wall clock reads before 1970, so no assertion can be dated; set the system clock".into())
            })?
            .as_secs();
        let header = Header {
            alg: self.algorithm(),
            typ: "JWT",
            kid: self.kid.as_deref(),
        };
        let claims = Claims {
            iss: client_id,
            sub: client_id,
            aud: audience,
            iat,
            exp: iat.saturating_add(ASSERTION_LIFETIME.as_secs()),
            jti,
        };
        // Room for a 4096-bit RSA signature: no reallocation leaves a
        // copy behind.
        let mut jws = Zeroizing::new(String::with_capacity(2048));
        URL_SAFE_NO_PAD.encode_string(to_json(&header)?, &mut jws);
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(to_json(&claims)?, &mut jws);
        let signature = Zeroizing::new(self.sign(jws.as_bytes())?);
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(&*signature, &mut jws);
        // An exact-size copy moves into the secret without a reallocation
        // that would leave an unwiped buffer behind; `jws` is wiped.
        let mut exact = String::with_capacity(jws.len());
        exact.push_str(&jws);
        Ok(ClientAssertion::new(exact))
    }

    /// The JWS signature of `input` (RFC 7515 §5.1, RFC 7518 §3.3–3.4):
    /// the PKCS#1 v1.5 signature for RS256, `r || s` (64 bytes) for ES256.
    fn sign(&self, input: &[u8]) -> Result<Vec<u8>, Error> {
        let failed =
            |e: rsa::signature::Error| invalid(format!("signing the assertion failed ({e})"));
        match &self.key {
            Key::Rs256(k) => {
                // Blinding hides the private exponent from timing (see
                // docs/security.md, RUSTSEC-2023-0071). The blinding factor
                // must be unknown to others, and the core draws no OS
                // randomness: seed it from an HMAC of the input under the
                // private exponent, the way RFC 6979 derives ECDSA nonces.
                let key: &rsa::RsaPrivateKey = k.as_ref().as_ref();
                let d = Zeroizing::new(key.d().to_bytes_be());
                let mut mac = hmac::Hmac::<Sha256>::new_from_slice(&d)
                    .map_err(|_| invalid("the RSA key cannot seed its blinding".into()))?;
                mac.update(b"apiauth rs256 blinding v1\0");
                mac.update(input);
                let seed = Zeroizing::new(<[u8; 32]>::from(mac.finalize().into_bytes()));
                let mut rng = rand_chacha::ChaCha20Rng::from_seed(*seed);
                let signature = k.try_sign_with_rng(&mut rng, input).map_err(failed)?;
                Ok(signature.to_vec())
            }
            Key::Es256(k) => {
                // `Signer::try_sign` uses RFC 6979 deterministic nonces.
                let signature: p256::ecdsa::Signature = k.try_sign(input).map_err(failed)?;
                Ok(signature.to_bytes().to_vec())
            }
        }
    }

    /// The bytes a cache-key fingerprint is computed over: the algorithm
    /// and the private scalar or exponent, canonical (big-endian, no
    /// leading zeros for RSA; 32 bytes for P-256).
    pub(crate) fn fingerprint_material(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(300));
        out.extend_from_slice(self.algorithm().as_bytes());
        out.push(0);
        match &self.key {
            Key::Rs256(k) => {
                let key: &rsa::RsaPrivateKey = k.as_ref().as_ref();
                out.extend_from_slice(&Zeroizing::new(key.d().to_bytes_be()));
            }
            Key::Es256(k) => out.extend_from_slice(&Zeroizing::new(k.to_bytes())),
        }
        out
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("algorithm", &self.algorithm())
            .field("key_id", &self.kid)
            .field("key", &format_args!("[redacted]"))
            .finish()
    }
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'a str,
    typ: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
    jti: &'a str,
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(value).map_err(|e| invalid(format!("could not encode the assertion ({e})")))
}

fn invalid(message: String) -> Error {
    Error::InvalidConfig(message)
}

fn ec_error(curve: &str) -> Error {
    invalid(format!(
        "the EC key is on {curve}, not P-256; ES256 needs a P-256 key. {MAKE_A_KEY}"
    ))
}

/// A parsed JWK, wiped when done with (it holds the private key): every
/// string in it, at any depth, keys included.
struct JwkFields(Value);

impl zeroize::Zeroize for JwkFields {
    fn zeroize(&mut self) {
        fn wipe(v: &mut Value) {
            match v {
                Value::String(s) => s.zeroize(),
                Value::Array(items) => items.iter_mut().for_each(wipe),
                Value::Object(map) => {
                    for (mut k, mut v) in std::mem::take(map) {
                        k.zeroize();
                        wipe(&mut v);
                    }
                }
                _ => {}
            }
        }
        wipe(&mut self.0);
    }
}

/// A base64url member of a JWK, decoded (tolerating `=` padding).
fn jwk_bytes(obj: &Map<String, Value>, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
    let Some(value) = obj.get(name) else {
        return Ok(None);
    };
    let text = value
        .as_str()
        .ok_or_else(|| invalid(format!("the JWK's `{name}` is not a string")))?;
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map(|b| Some(Zeroizing::new(b)))
        .map_err(|_| invalid(format!("the JWK's `{name}` is not base64url")))
}

struct PemBlock<'a> {
    label: &'a str,
    /// From `-----BEGIN` through the matching `-----END …-----`.
    text: &'a str,
}

/// The PEM blocks in `input`, in order. An unterminated block runs to the
/// end of the input, for the decoder to refuse.
fn pem_blocks(input: &str) -> Vec<PemBlock<'_>> {
    const BEGIN: &str = "-----BEGIN ";
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(found) = input[at..].find(BEGIN) {
        let start = at + found;
        let after = start + BEGIN.len();
        let Some(label_len) = input[after..].find("-----") else {
            break;
        };
        let label = &input[after..after + label_len];
        let end_marker = format!("-----END {label}-----");
        let end = input[after..]
            .find(&end_marker)
            .map_or(input.len(), |i| after + i + end_marker.len());
        out.push(PemBlock {
            label,
            text: &input[start..end],
        });
        at = end;
    }
    out
}

/// The name of a PKCS#8 algorithm, for an error message.
fn algorithm_name(oid: ObjectIdentifier) -> String {
    match oid.to_string().as_str() {
        "1.3.101.112" => "Ed25519".into(),
        "1.3.101.113" => "Ed448".into(),
        "1.3.101.110" | "1.3.101.111" => "an X25519/X448 key-agreement key".into(),
        "1.2.840.113549.1.1.10" => "RSASSA-PSS (a PSS-only RSA key)".into(),
        "1.2.840.10040.4.1" => "DSA".into(),
        other => format!("of algorithm {other}"),
    }
}

/// The name of a named curve, for an error message.
fn curve_name(oid: ObjectIdentifier) -> &'static str {
    match oid.to_string().as_str() {
        "1.3.132.0.34" => "P-384",
        "1.3.132.0.35" => "P-521",
        "1.3.132.0.10" => "secp256k1",
        "1.2.840.10045.3.1.7" => "P-256",
        _ => "another curve",
    }
}

/// The curve named in a SEC1 key's DER, found by its OID's encoding.
fn curve_in_der(der: &[u8]) -> &'static str {
    const CURVES: &[(&[u8], &str)] = &[
        (&[0x2b, 0x81, 0x04, 0x00, 0x22], "P-384"),
        (&[0x2b, 0x81, 0x04, 0x00, 0x23], "P-521"),
        (&[0x2b, 0x81, 0x04, 0x00, 0x0a], "secp256k1"),
    ];
    CURVES
        .iter()
        .find(|(oid, _)| der.windows(oid.len()).any(|w| w == *oid))
        .map_or("another curve (or the key is corrupt)", |(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_are_found_in_order_with_their_labels() {
        let text = "junk\n-----BEGIN CERTIFICATE-----\nAA\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nBB\n-----END PRIVATE KEY-----\n";
        let blocks = pem_blocks(text);
        let labels: Vec<&str> = blocks.iter().map(|b| b.label).collect();
        assert_eq!(labels, ["CERTIFICATE", "PRIVATE KEY"]);
        assert!(blocks[1].text.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(blocks[1].text.ends_with("-----END PRIVATE KEY-----"));
        assert!(pem_blocks("-----BEGIN ").is_empty());
        assert_eq!(pem_blocks("-----BEGIN X-----\nAA").len(), 1);
    }
}
