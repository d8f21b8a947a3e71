//! OIDC identity tokens: the pure checks (shape, `alg` allow-list, issuer allow-list,
//! signature against a JWKS) and, at the edge, JWKS discovery with a cache.
//!
//! Order of checks, each before any work the next one costs:
//! 1. the token is a compact JWS of bounded size whose header `alg` is an asymmetric
//!    algorithm (`none` and `HS*` are refused: an HMAC "verified" with a public key
//!    as the secret proves nothing);
//! 2. its (unverified) `iss` is in the allow-list, so nothing is ever fetched for an
//!    issuer the CA does not trust;
//! 3. the issuer's JWKS (`<iss>/.well-known/openid-configuration` → `jwks_uri`,
//!    cached for the configured TTL, refetched early when a `kid` is unknown) has a key
//!    whose signature over the token verifies;
//! 4. the claims ([`crate::identity`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::config::{CaConfig, OidcIssuerConfig};
use crate::identity::{Claims, Identity, verify_claims};
use crate::{CaError, TokenError};

/// Tokens longer than this are refused unread.
const MAX_TOKEN_LEN: usize = 32 * 1024;
/// Discovery documents and JWKS larger than this are refused.
const MAX_DOCUMENT_LEN: usize = 1024 * 1024;
/// A JWKS is refetched for an unknown `kid` at most this often.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// What a token says before its signature is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UnverifiedToken {
    pub(crate) algorithm: Algorithm,
    pub(crate) kid: Option<String>,
    pub(crate) issuer: String,
}

fn malformed(detail: impl Into<String>) -> TokenError {
    TokenError::Malformed {
        detail: detail.into(),
    }
}

fn json_part(part: &str, what: &str) -> Result<serde_json::Map<String, Value>, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| malformed(format!("the {what} is not base64url")))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(malformed(format!("the {what} is not a JSON object"))),
    }
}

/// The accepted signature algorithms: asymmetric only.
fn algorithm(name: &str) -> Option<Algorithm> {
    Some(match name {
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}

/// Reads the header and the issuer of a compact JWS, without trusting either.
pub(crate) fn inspect(token: &str) -> Result<UnverifiedToken, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(malformed(format!(
            "it is longer than {MAX_TOKEN_LEN} bytes"
        )));
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = parts.as_slice() else {
        return Err(malformed(
            "it is not a compact JWS (three dot-separated parts)",
        ));
    };
    let header = json_part(header, "header")?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("the header has no \"alg\""))?;
    let algorithm = algorithm(alg).ok_or_else(|| TokenError::UnsupportedAlgorithm {
        alg: alg.chars().take(32).collect(),
    })?;
    if signature.is_empty() {
        return Err(malformed("the signature is empty"));
    }
    if header.contains_key("crit") {
        return Err(malformed(
            "critical header parameters (\"crit\") are not supported",
        ));
    }
    let kid = match header.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(malformed("the header \"kid\" is not a string")),
    };
    let claims = json_part(payload, "payload")?;
    let issuer = claims
        .get("iss")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or(TokenError::MissingClaim { claim: "iss" })?
        .to_owned();
    Ok(UnverifiedToken {
        algorithm,
        kid,
        issuer,
    })
}

fn alg_name(a: Algorithm) -> String {
    format!("{a:?}")
}

/// Whether `jwk` may verify a token with `algorithm` and `kid`.
fn candidate(jwk: &Jwk, algorithm: Algorithm, kid: Option<&str>) -> bool {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return false;
    }
    if let Some(declared) = jwk.common.key_algorithm
        && declared.to_string() != alg_name(algorithm)
    {
        return false;
    }
    if let (Some(want), Some(have)) = (kid, jwk.common.key_id.as_deref())
        && want != have
    {
        return false;
    }
    matches!(
        (&jwk.algorithm, algorithm),
        (
            AlgorithmParameters::EllipticCurve(_),
            Algorithm::ES256 | Algorithm::ES384
        ) | (
            AlgorithmParameters::RSA(_),
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
        ) | (AlgorithmParameters::OctetKeyPair(_), Algorithm::EdDSA)
    )
}

/// Verifies `token`'s signature with one of `keys` (an issuer's JWKS) and returns its
/// claims. Time and audience are not checked here.
///
/// # Errors
/// [`TokenError::UnknownKey`] when no key fits the token's `alg` and `kid`;
/// [`TokenError::BadSignature`] when none of those that fit verifies it.
pub(crate) fn verify_signature(
    token: &str,
    unverified: &UnverifiedToken,
    keys: &[Jwk],
) -> Result<Claims, TokenError> {
    let mut validation = Validation::new(unverified.algorithm);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let mut tried = 0;
    for jwk in keys
        .iter()
        .filter(|k| candidate(k, unverified.algorithm, unverified.kid.as_deref()))
    {
        let Ok(key) = DecodingKey::from_jwk(jwk) else {
            continue;
        };
        tried += 1;
        if let Ok(data) = jsonwebtoken::decode::<Claims>(token, &key, &validation) {
            return Ok(data.claims);
        }
    }
    if tried == 0 {
        Err(TokenError::UnknownKey {
            issuer: unverified.issuer.clone(),
            kid: unverified.kid.clone(),
            alg: alg_name(unverified.algorithm),
        })
    } else {
        Err(TokenError::BadSignature {
            issuer: unverified.issuer.clone(),
        })
    }
}

/// Parses a JWKS document, skipping keys this crate cannot use (unknown `kty`, …).
pub(crate) fn parse_jwks(document: &[u8]) -> Result<Vec<Jwk>, String> {
    let value: Value =
        serde_json::from_slice(document).map_err(|e| format!("the JWKS is not JSON: {e}"))?;
    let keys = value
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("the JWKS has no \"keys\" array")?;
    Ok(keys
        .iter()
        .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
        .collect())
}

struct CachedKeys {
    keys: Arc<Vec<Jwk>>,
    fetched: Instant,
}

/// JWKS per issuer, fetched through discovery and kept for a TTL.
pub(crate) struct JwksCache {
    client: reqwest::Client,
    ttl: Duration,
    entries: Mutex<HashMap<String, CachedKeys>>,
    /// One fetch at a time per issuer.
    fetching: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl JwksCache {
    pub(crate) fn new(ttl: Duration, timeout: Duration) -> Result<Self, CaError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("signet-ca/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CaError::HttpClient {
                detail: e.to_string(),
            })?;
        Ok(JwksCache {
            client,
            ttl,
            entries: Mutex::new(HashMap::new()),
            fetching: Mutex::new(HashMap::new()),
        })
    }

    /// The cached keys of `issuer`, if they are younger than the TTL and either know
    /// `kid` or were fetched too recently to refetch for an unknown one.
    fn fresh(&self, issuer: &str, kid: Option<&str>) -> Option<Arc<Vec<Jwk>>> {
        let entries = self.entries.lock().ok()?;
        let cached = entries.get(issuer)?;
        let age = cached.fetched.elapsed();
        let usable = age < self.ttl
            && match kid {
                // An unknown kid: the issuer may have rotated. Refetch, but not too often.
                Some(kid)
                    if !cached
                        .keys
                        .iter()
                        .any(|k| k.common.key_id.as_deref() == Some(kid)) =>
                {
                    age < MIN_REFRESH_INTERVAL
                }
                _ => true,
            };
        usable.then(|| cached.keys.clone())
    }

    /// The JWKS of `issuer`, from the cache or fetched.
    pub(crate) async fn keys(
        &self,
        issuer: &str,
        kid: Option<&str>,
    ) -> Result<Arc<Vec<Jwk>>, TokenError> {
        if let Some(keys) = self.fresh(issuer, kid) {
            return Ok(keys);
        }
        let lock = {
            let mut fetching = self
                .fetching
                .lock()
                .map_err(|_| unavailable(issuer, "lock poisoned"))?;
            fetching
                .entry(issuer.to_owned())
                .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(())))
                .clone()
        };
        let _guard = lock.lock().await;
        // Another request may have fetched while this one waited.
        if let Some(keys) = self.fresh(issuer, kid) {
            return Ok(keys);
        }
        let keys = Arc::new(self.fetch(issuer).await?);
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(
                issuer.to_owned(),
                CachedKeys {
                    keys: keys.clone(),
                    fetched: Instant::now(),
                },
            );
        }
        Ok(keys)
    }

    async fn get(&self, issuer: &str, url: &str) -> Result<Vec<u8>, TokenError> {
        let mut response = self
            .client
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| unavailable(issuer, &format!("GET {url}: {e}")))?;
        if !response.status().is_success() {
            return Err(unavailable(
                issuer,
                &format!("GET {url} answered {}", response.status()),
            ));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| unavailable(issuer, &format!("GET {url}: {e}")))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT_LEN {
                return Err(unavailable(
                    issuer,
                    &format!("GET {url}: the document is larger than {MAX_DOCUMENT_LEN} bytes"),
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    async fn fetch(&self, issuer: &str) -> Result<Vec<Jwk>, TokenError> {
        let discovery_url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let discovery: Value = serde_json::from_slice(&self.get(issuer, &discovery_url).await?)
            .map_err(|e| unavailable(issuer, &format!("{discovery_url} is not JSON: {e}")))?;
        // OpenID Connect Discovery §4.3: the document must name the issuer it was fetched for.
        if discovery.get("issuer").and_then(Value::as_str) != Some(issuer) {
            return Err(unavailable(
                issuer,
                &format!("{discovery_url} names another issuer"),
            ));
        }
        let jwks_uri = discovery
            .get("jwks_uri")
            .and_then(Value::as_str)
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
            .ok_or_else(|| {
                unavailable(issuer, &format!("{discovery_url} has no http(s) jwks_uri"))
            })?
            .to_owned();
        parse_jwks(&self.get(issuer, &jwks_uri).await?)
            .map_err(|detail| unavailable(issuer, &format!("{jwks_uri}: {detail}")))
    }
}

fn unavailable(issuer: &str, detail: &str) -> TokenError {
    TokenError::IssuerUnavailable {
        issuer: issuer.to_owned(),
        detail: detail.to_owned(),
    }
}

/// Checks identity tokens against the allow-list and the issuers' keys.
pub(crate) struct TokenVerifier {
    issuers: Vec<OidcIssuerConfig>,
    leeway: i64,
    jwks: JwksCache,
}

impl TokenVerifier {
    pub(crate) fn new(config: &CaConfig) -> Result<Self, CaError> {
        Ok(TokenVerifier {
            issuers: config.issuers.clone(),
            leeway: i64::try_from(config.clock_leeway.as_secs()).unwrap_or(i64::MAX),
            jwks: JwksCache::new(config.jwks_cache_ttl, config.http_timeout)?,
        })
    }

    pub(crate) fn issuers(&self) -> &[OidcIssuerConfig] {
        &self.issuers
    }

    /// Verifies `token` at `now` and returns the identity it proves.
    pub(crate) async fn verify(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<Identity, TokenError> {
        let unverified = inspect(token)?;
        let issuer = self
            .issuers
            .iter()
            .find(|i| i.url == unverified.issuer)
            .ok_or_else(|| TokenError::UnknownIssuer {
                issuer: unverified.issuer.chars().take(200).collect(),
            })?;
        let keys = self
            .jwks
            .keys(&issuer.url, unverified.kid.as_deref())
            .await?;
        let claims = verify_signature(token, &unverified, &keys)?;
        let now = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        verify_claims(&claims, issuer, now, self.leeway)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    #[test]
    fn inspect_refuses_none_and_hmac() {
        let claims = b64(&serde_json::json!({"iss": "https://i.example"}));
        let none = format!("{}.{claims}.", b64(&serde_json::json!({"alg": "none"})));
        assert_eq!(
            inspect(&none),
            Err(TokenError::UnsupportedAlgorithm { alg: "none".into() })
        );
        let hs = format!(
            "{}.{claims}.c2ln",
            b64(&serde_json::json!({"alg": "HS256"}))
        );
        assert_eq!(
            inspect(&hs),
            Err(TokenError::UnsupportedAlgorithm {
                alg: "HS256".into()
            })
        );
        let es = format!(
            "{}.{claims}.c2ln",
            b64(&serde_json::json!({"alg": "ES256", "kid": "k1"}))
        );
        assert_eq!(
            inspect(&es),
            Ok(UnverifiedToken {
                algorithm: Algorithm::ES256,
                kid: Some("k1".into()),
                issuer: "https://i.example".into()
            })
        );
        let unsigned = format!("{}.{claims}.", b64(&serde_json::json!({"alg": "ES256"})));
        for bad in ["", "a.b", "a.b.c.d", "!!.!!.!!", unsigned.as_str()] {
            assert!(
                matches!(inspect(bad), Err(TokenError::Malformed { .. })),
                "{bad}"
            );
        }
        let crit = format!(
            "{}.{claims}.c2ln",
            b64(&serde_json::json!({"alg": "ES256", "crit": ["x"]}))
        );
        assert_eq!(
            inspect(&crit),
            Err(malformed(
                "critical header parameters (\"crit\") are not supported"
            ))
        );
        let no_iss = format!(
            "{}.{}.c2ln",
            b64(&serde_json::json!({"alg": "ES256"})),
            b64(&serde_json::json!({}))
        );
        assert_eq!(
            inspect(&no_iss),
            Err(TokenError::MissingClaim { claim: "iss" })
        );
    }

    #[test]
    fn jwks_parsing_skips_unusable_keys() {
        let doc = serde_json::json!({"keys": [
            {"kty": "EC", "crv": "P-256", "kid": "a", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            "not a key",
        ]});
        let keys = parse_jwks(&serde_json::to_vec(&doc).unwrap()).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].common.key_id.as_deref(), Some("a"));
        assert_eq!(
            parse_jwks(b"{}").unwrap_err(),
            "the JWKS has no \"keys\" array"
        );
        assert!(
            parse_jwks(b"nope")
                .unwrap_err()
                .starts_with("the JWKS is not JSON: "),
        );
    }
}
