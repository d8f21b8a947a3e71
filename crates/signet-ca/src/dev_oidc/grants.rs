//! The development issuer's pending grants: authorization codes (PKCE S256, RFC 7636)
//! and device codes (RFC 8628), held in memory, bounded in number and expiring. Pure:
//! every call is given the time, so the tests choose it.
//!
//! Nothing here authenticates anyone: whoever names a subject gets a grant for it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Url;
use sha2::{Digest as _, Sha256};

/// The most authorization codes, and separately device codes, pending at once; more
/// are refused (`temporarily_unavailable`) until some are redeemed or expire.
pub(crate) const MAX_PENDING: usize = 1000;
/// How long an authorization code can be redeemed.
pub(crate) const CODE_LIFETIME: Duration = Duration::from_secs(60);
/// How long a device code can be approved and polled (`expires_in`).
pub(crate) const DEVICE_LIFETIME: Duration = Duration::from_secs(600);
/// The polling interval the device endpoint asks for.
pub(crate) const DEVICE_INTERVAL: Duration = Duration::from_secs(1);
/// RFC 8628 §3.5: each `slow_down` adds 5 seconds to the interval.
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// An expired device code is remembered this long, so that its poller is told
/// `expired_token` rather than `invalid_grant`.
const EXPIRED_GRACE: Duration = Duration::from_secs(60);
/// The user-code alphabet RFC 8628 §6.1 suggests (no vowels, no look-alikes).
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

/// An OAuth 2.0 error answer (RFC 6749 §5.2, RFC 8628 §3.5): `{"error", "error_description"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OAuthError {
    pub(crate) code: &'static str,
    pub(crate) description: String,
}

impl OAuthError {
    pub(crate) fn new(code: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            code,
            description: description.into(),
        }
    }
}

fn invalid_grant(description: &str) -> OAuthError {
    OAuthError::new("invalid_grant", description)
}

/// What a redeemed grant mints a token for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Grant {
    pub(crate) subject: String,
    /// The token's `aud`.
    pub(crate) client_id: String,
    /// Echoed as the token's `nonce` claim.
    pub(crate) nonce: Option<String>,
}

/// A checked authorization request, with the subject the user typed.
#[derive(Clone, Debug)]
pub(crate) struct AuthorizationRequest {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) nonce: Option<String>,
    /// `BASE64URL(SHA-256(code_verifier))`.
    pub(crate) code_challenge: String,
    pub(crate) subject: String,
}

struct PendingCode {
    request: AuthorizationRequest,
    expires: Instant,
}

struct PendingDevice {
    client_id: String,
    code_challenge: Option<String>,
    user_code: String,
    expires: Instant,
    interval: Duration,
    last_poll: Option<Instant>,
    approved: Option<String>,
}

/// The answer of the device authorization endpoint (RFC 8628 §3.2), less the URIs.
#[derive(Clone, Debug)]
pub(crate) struct DeviceCodes {
    pub(crate) device_code: String,
    /// `XXXX-XXXX`.
    pub(crate) user_code: String,
    pub(crate) expires_in: Duration,
    pub(crate) interval: Duration,
}

/// All pending grants.
#[derive(Default)]
pub(crate) struct Grants {
    codes: HashMap<String, PendingCode>,
    devices: HashMap<String, PendingDevice>,
    /// Normalized user code → device code.
    user_codes: HashMap<String, String>,
}

fn random_bytes<const N: usize>() -> Result<[u8; N], OAuthError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)
        .map_err(|e| OAuthError::new("server_error", format!("no randomness: {e}")))?;
    Ok(bytes)
}

fn random_token() -> Result<String, OAuthError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

fn random_user_code() -> Result<String, OAuthError> {
    let mut code = String::with_capacity(8);
    while code.len() < 8 {
        for b in random_bytes::<16>()? {
            // Rejection sampling: 240 is the largest multiple of 20 below 256.
            if b < 240 && code.len() < 8 {
                code.push(char::from(
                    USER_CODE_ALPHABET[usize::from(b) % USER_CODE_ALPHABET.len()],
                ));
            }
        }
    }
    Ok(code)
}

/// `abcd-efgh`, `ABCDEFGH` and `ABCD EFGH` name the same code.
fn normalize_user_code(code: &str) -> String {
    code.chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// RFC 7636 §4.1: 43 to 128 unreserved characters.
fn valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// A `code_challenge` for S256: the base64url of a SHA-256 digest (43 characters).
pub(crate) fn valid_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && URL_SAFE_NO_PAD
            .decode(challenge)
            .is_ok_and(|d| d.len() == 32)
}

fn pkce_matches(challenge: &str, verifier: &str) -> bool {
    valid_verifier(verifier) && URL_SAFE_NO_PAD.encode(Sha256::digest(verifier)) == challenge
}

/// A redirect URI the issuer will send codes to: `http` on a loopback host
/// (`localhost`, `127.0.0.1`, `[::1]`, any port), without credentials or fragment.
///
/// # Errors
/// Why it is refused.
pub(crate) fn loopback_redirect(uri: &str) -> Result<Url, String> {
    let url = Url::parse(uri).map_err(|e| format!("redirect_uri is not a URL: {e}"))?;
    if url.scheme() != "http" {
        return Err("redirect_uri must be an http:// loopback URL".into());
    }
    // The parser lower-cases host names and normalizes addresses (`127.1`, `[0::1]`).
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if !loopback {
        return Err(
            "redirect_uri must be on localhost, 127.0.0.1 or [::1]: this development issuer sends codes only to the local machine"
                .into(),
        );
    }
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err("redirect_uri must not carry credentials or a fragment".into());
    }
    Ok(url)
}

impl Grants {
    fn purge(&mut self, now: Instant) {
        self.codes.retain(|_, c| now < c.expires);
        let user_codes = &mut self.user_codes;
        self.devices.retain(|_, d| {
            let keep = now < d.expires + EXPIRED_GRACE;
            if !keep {
                user_codes.remove(&d.user_code);
            }
            keep
        });
    }

    fn full() -> OAuthError {
        OAuthError::new(
            "temporarily_unavailable",
            format!("more than {MAX_PENDING} sign-ins are pending; try again in a minute"),
        )
    }

    /// A single-use code for `request`, valid for [`CODE_LIFETIME`].
    pub(crate) fn issue_code(
        &mut self,
        request: AuthorizationRequest,
        now: Instant,
    ) -> Result<String, OAuthError> {
        self.purge(now);
        if self.codes.len() >= MAX_PENDING {
            return Err(Self::full());
        }
        let code = random_token()?;
        self.codes.insert(
            code.clone(),
            PendingCode {
                request,
                expires: now + CODE_LIFETIME,
            },
        );
        Ok(code)
    }

    /// Redeems an authorization code (RFC 6749 §4.1.3 and RFC 7636 §4.6). The code is
    /// gone afterwards, whatever the outcome.
    pub(crate) fn redeem_code(
        &mut self,
        code: &str,
        client_id: &str,
        redirect_uri: &str,
        code_verifier: &str,
        now: Instant,
    ) -> Result<Grant, OAuthError> {
        let pending = self
            .codes
            .remove(code)
            .ok_or_else(|| invalid_grant("unknown or already used authorization code"))?;
        let request = pending.request;
        if now >= pending.expires {
            return Err(invalid_grant("the authorization code has expired"));
        }
        if request.client_id != client_id {
            return Err(invalid_grant(
                "the authorization code was issued to another client_id",
            ));
        }
        if request.redirect_uri != redirect_uri {
            return Err(invalid_grant(
                "redirect_uri differs from the authorization request's",
            ));
        }
        if !pkce_matches(&request.code_challenge, code_verifier) {
            return Err(invalid_grant(
                "code_verifier does not match the code_challenge (PKCE S256)",
            ));
        }
        Ok(Grant {
            subject: request.subject,
            client_id: request.client_id,
            nonce: request.nonce,
        })
    }

    /// Starts a device authorization (RFC 8628 §3.2).
    pub(crate) fn start_device(
        &mut self,
        client_id: &str,
        code_challenge: Option<String>,
        now: Instant,
    ) -> Result<DeviceCodes, OAuthError> {
        self.purge(now);
        if self.devices.len() >= MAX_PENDING {
            return Err(Self::full());
        }
        let device_code = random_token()?;
        let mut user_code = random_user_code()?;
        while self.user_codes.contains_key(&user_code) {
            user_code = random_user_code()?;
        }
        self.user_codes
            .insert(user_code.clone(), device_code.clone());
        self.devices.insert(
            device_code.clone(),
            PendingDevice {
                client_id: client_id.to_string(),
                code_challenge,
                user_code: user_code.clone(),
                expires: now + DEVICE_LIFETIME,
                interval: DEVICE_INTERVAL,
                last_poll: None,
                approved: None,
            },
        );
        Ok(DeviceCodes {
            device_code,
            user_code: format!("{}-{}", &user_code[..4], &user_code[4..]),
            expires_in: DEVICE_LIFETIME,
            interval: DEVICE_INTERVAL,
        })
    }

    /// Approves the device authorization with `user_code` for `subject`.
    pub(crate) fn approve(
        &mut self,
        user_code: &str,
        subject: &str,
        now: Instant,
    ) -> Result<(), OAuthError> {
        let device = self
            .user_codes
            .get(&normalize_user_code(user_code))
            .and_then(|d| self.devices.get_mut(d))
            .ok_or_else(|| invalid_grant("unknown user code"))?;
        if now >= device.expires {
            return Err(OAuthError::new(
                "expired_token",
                "the user code has expired",
            ));
        }
        if device.approved.is_some() {
            return Err(invalid_grant("this user code is already approved"));
        }
        device.approved = Some(subject.to_string());
        Ok(())
    }

    /// One poll of the token endpoint with a device code (RFC 8628 §3.4, §3.5):
    /// `authorization_pending` until approved, `slow_down` when polled faster than the
    /// interval (which then grows by 5 s), `expired_token` after [`DEVICE_LIFETIME`];
    /// the grant once, after which the code is gone.
    pub(crate) fn poll_device(
        &mut self,
        device_code: &str,
        client_id: &str,
        code_verifier: Option<&str>,
        now: Instant,
    ) -> Result<Grant, OAuthError> {
        let device = self
            .devices
            .get_mut(device_code)
            .ok_or_else(|| invalid_grant("unknown or already used device code"))?;
        let forget = |grants: &mut Grants| {
            if let Some(d) = grants.devices.remove(device_code) {
                grants.user_codes.remove(&d.user_code);
            }
        };
        if now >= device.expires {
            forget(self);
            return Err(OAuthError::new(
                "expired_token",
                "the device code has expired; start again",
            ));
        }
        if device.client_id != client_id {
            return Err(invalid_grant(
                "the device code was issued to another client_id",
            ));
        }
        let too_soon = device
            .last_poll
            .is_some_and(|last| now.saturating_duration_since(last) < device.interval);
        device.last_poll = Some(now);
        if too_soon {
            device.interval += SLOW_DOWN_STEP;
            return Err(OAuthError::new(
                "slow_down",
                format!(
                    "polled faster than the interval; wait {} s between polls",
                    device.interval.as_secs()
                ),
            ));
        }
        let Some(subject) = device.approved.clone() else {
            return Err(OAuthError::new(
                "authorization_pending",
                "the user has not approved this device code yet",
            ));
        };
        let client_id = device.client_id.clone();
        let challenge = device.code_challenge.clone();
        forget(self);
        if let Some(challenge) = challenge
            && !code_verifier.is_some_and(|v| pkce_matches(&challenge, v))
        {
            return Err(invalid_grant(
                "code_verifier does not match the code_challenge (PKCE S256)",
            ));
        }
        Ok(Grant {
            subject,
            client_id,
            nonce: None,
        })
    }

    #[cfg(test)]
    fn pending(&self) -> (usize, usize) {
        (self.codes.len(), self.devices.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    // RFC 7636 appendix B.
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const REDIRECT: &str = "http://localhost:4711/auth/callback";

    fn request() -> AuthorizationRequest {
        AuthorizationRequest {
            client_id: "sigstore".into(),
            redirect_uri: REDIRECT.into(),
            nonce: Some("n-1".into()),
            code_challenge: CHALLENGE.into(),
            subject: "alice@example.com".into(),
        }
    }

    #[test]
    fn the_rfc_7636_example_verifier_matches_its_challenge() {
        assert!(valid_challenge(CHALLENGE));
        assert!(pkce_matches(CHALLENGE, VERIFIER));
        assert!(!pkce_matches(CHALLENGE, &VERIFIER.replace('d', "e")));
        assert!(!pkce_matches(CHALLENGE, "short"));
        assert!(!valid_challenge("plain-challenge"));
    }

    #[test]
    fn a_code_is_redeemed_once_with_the_right_client_redirect_and_verifier() {
        let mut g = Grants::default();
        let t0 = Instant::now();
        let code = g.issue_code(request(), t0).unwrap();
        let grant = g
            .redeem_code(&code, "sigstore", REDIRECT, VERIFIER, t0)
            .unwrap();
        assert_eq!(
            grant,
            Grant {
                subject: "alice@example.com".into(),
                client_id: "sigstore".into(),
                nonce: Some("n-1".into()),
            }
        );
        // Reuse is refused.
        let err = g
            .redeem_code(&code, "sigstore", REDIRECT, VERIFIER, t0)
            .unwrap_err();
        assert_eq!(err.code, "invalid_grant");
        assert!(err.description.contains("already used"), "{err:?}");
    }

    #[test]
    fn a_code_is_refused_for_a_wrong_verifier_client_or_redirect_and_is_then_gone() {
        let mut g = Grants::default();
        let t0 = Instant::now();
        for (client, redirect, verifier, why) in [
            ("sigstore", REDIRECT, &*VERIFIER.replace('d', "e"), "PKCE"),
            ("sigstore", REDIRECT, "", "PKCE"),
            ("other", REDIRECT, VERIFIER, "client_id"),
            (
                "sigstore",
                "http://localhost:4712/auth/callback",
                VERIFIER,
                "redirect_uri",
            ),
        ] {
            let code = g.issue_code(request(), t0).unwrap();
            let err = g
                .redeem_code(&code, client, redirect, verifier, t0)
                .unwrap_err();
            assert_eq!(err.code, "invalid_grant");
            assert!(err.description.contains(why), "{why}: {err:?}");
            // A failed attempt used the code up: the right verifier no longer works.
            let again = g
                .redeem_code(&code, "sigstore", REDIRECT, VERIFIER, t0)
                .unwrap_err();
            assert!(again.description.contains("already used"), "{again:?}");
        }
    }

    #[test]
    fn a_code_expires_after_a_minute() {
        let mut g = Grants::default();
        let t0 = Instant::now();
        let code = g.issue_code(request(), t0).unwrap();
        let err = g
            .redeem_code(&code, "sigstore", REDIRECT, VERIFIER, t0 + CODE_LIFETIME)
            .unwrap_err();
        assert!(err.description.contains("expired"), "{err:?}");
        // And an old code is purged when new ones are issued.
        let _old = g.issue_code(request(), t0).unwrap();
        g.issue_code(request(), t0 + CODE_LIFETIME).unwrap();
        assert_eq!(g.pending().0, 1);
    }

    #[test]
    fn pending_grants_are_bounded() {
        let mut g = Grants::default();
        let t0 = Instant::now();
        for _ in 0..MAX_PENDING {
            g.issue_code(request(), t0).unwrap();
            g.start_device("sigstore", None, t0).unwrap();
        }
        assert_eq!(
            g.issue_code(request(), t0).unwrap_err().code,
            "temporarily_unavailable"
        );
        assert_eq!(
            g.start_device("sigstore", None, t0).unwrap_err().code,
            "temporarily_unavailable"
        );
        // Once they expire there is room again.
        g.issue_code(request(), t0 + CODE_LIFETIME).unwrap();
        assert_eq!(g.pending(), (1, MAX_PENDING));
        g.start_device("sigstore", None, t0 + DEVICE_LIFETIME + EXPIRED_GRACE)
            .unwrap();
        assert_eq!(g.pending(), (0, 1));
    }

    #[test]
    fn only_loopback_http_redirects_are_accepted() {
        for ok in [
            "http://localhost:1234/auth/callback",
            "http://127.0.0.1:1234/cb",
            "http://[::1]:8/",
            "http://LOCALHOST/auth/callback",
        ] {
            assert!(loopback_redirect(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("https://localhost/cb", "must be an http:// loopback URL"),
            ("http://evil.example/cb", "must be on localhost"),
            ("http://127.0.0.2/cb", "must be on localhost"),
            ("http://localhost.evil.example/cb", "must be on localhost"),
            ("http://user:pw@localhost/cb", "must not carry credentials"),
            (
                "http://localhost/cb#frag",
                "must not carry credentials or a fragment",
            ),
            ("localhost/cb", "is not a URL"),
            (
                "urn:ietf:wg:oauth:2.0:oob",
                "must be an http:// loopback URL",
            ),
        ] {
            let err = loopback_redirect(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn a_device_code_is_pending_until_approved_then_redeemed_once() {
        let mut g = Grants::default();
        let t0 = Instant::now();
        let codes = g.start_device("sigstore", None, t0).unwrap();
        assert_eq!(codes.interval, DEVICE_INTERVAL);
        assert_eq!(codes.expires_in, DEVICE_LIFETIME);
        assert!(
            codes.user_code.len() == 9 && codes.user_code.as_bytes()[4] == b'-',
            "{}",
            codes.user_code
        );
        let poll = |g: &mut Grants, at: Duration| {
            g.poll_device(&codes.device_code, "sigstore", None, t0 + at)
        };
        assert_eq!(
            poll(&mut g, Duration::from_secs(1)).unwrap_err().code,
            "authorization_pending"
        );
        assert_eq!(
            poll(&mut g, Duration::from_secs(2)).unwrap_err().code,
            "authorization_pending"
        );
        // Approval accepts the code in any case, with or without its dash.
        let typed = codes.user_code.replace('-', "").to_ascii_lowercase();
        assert_eq!(
            g.approve("NOPE-NOPE", "bob@example.com", t0)
                .unwrap_err()
                .code,
            "invalid_grant"
        );
        g.approve(&typed, "bob@example.com", t0).unwrap();
        assert_eq!(
            g.approve(&codes.user_code, "eve@example.com", t0),
            Err(invalid_grant("this user code is already approved"))
        );
        // Another client cannot redeem it.
        assert_eq!(
            g.poll_device(
                &codes.device_code,
                "other",
                None,
                t0 + Duration::from_secs(3)
            )
            .unwrap_err()
            .code,
            "invalid_grant"
        );
        let grant = poll(&mut g, Duration::from_secs(5)).unwrap();
        assert_eq!(grant.subject, "bob@example.com");
        assert_eq!(grant.client_id, "sigstore");
        assert_eq!(
            poll(&mut g, Duration::from_secs(7)).unwrap_err().code,
            "invalid_grant"
        );
        assert_eq!(g.pending(), (0, 0));
    }

    #[test]
    fn polling_faster_than_the_interval_is_slowed_down_by_five_seconds_each_time() {
        let mut g = Grants::default();
        let t0 = Instant::now();
        let codes = g.start_device("sigstore", None, t0).unwrap();
        let poll = |g: &mut Grants, ms: u64| {
            g.poll_device(
                &codes.device_code,
                "sigstore",
                None,
                t0 + Duration::from_millis(ms),
            )
            .unwrap_err()
            .code
        };
        assert_eq!(poll(&mut g, 1000), "authorization_pending");
        assert_eq!(poll(&mut g, 1500), "slow_down"); // 0.5 s < 1 s; now 6 s
        assert_eq!(poll(&mut g, 6000), "slow_down"); // 4.5 s < 6 s; now 11 s
        assert_eq!(poll(&mut g, 17_000), "authorization_pending"); // 11 s
        assert_eq!(poll(&mut g, 28_000), "authorization_pending");
    }

    #[test]
    fn a_device_code_expires() {
        let mut g = Grants::default();
        let t0 = Instant::now();
        let codes = g.start_device("sigstore", None, t0).unwrap();
        assert_eq!(
            g.approve(&codes.user_code, "a@example.com", t0 + DEVICE_LIFETIME)
                .unwrap_err()
                .code,
            "expired_token"
        );
        let err = g
            .poll_device(&codes.device_code, "sigstore", None, t0 + DEVICE_LIFETIME)
            .unwrap_err();
        assert_eq!(err.code, "expired_token");
        assert_eq!(g.pending(), (0, 0));
    }

    #[test]
    fn a_device_code_started_with_pkce_needs_the_verifier() {
        let mut g = Grants::default();
        let t0 = Instant::now();
        let mismatch = Err(invalid_grant(
            "code_verifier does not match the code_challenge (PKCE S256)",
        ));
        let granted = Ok(Grant {
            subject: "a@example.com".into(),
            client_id: "sigstore".into(),
            nonce: None,
        });
        for (verifier, expected) in [
            (None, &mismatch),
            (Some("x"), &mismatch),
            (Some(VERIFIER), &granted),
        ] {
            let codes = g
                .start_device("sigstore", Some(CHALLENGE.into()), t0)
                .unwrap();
            g.approve(&codes.user_code, "a@example.com", t0).unwrap();
            let got = g.poll_device(&codes.device_code, "sigstore", verifier, t0);
            assert_eq!(&got, expected, "{verifier:?}");
        }
    }
}
