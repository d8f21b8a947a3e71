//! Who must have signed: `--key`, or the keyless identity flags. One place turns the
//! flags into a key or an identity matcher, with cosign's errors for bad combinations.

use anyhow::{Context, Result, bail};
use signet_crypto::PublicKey;
use signet_x509::{IdentityMatcher, StringMatcher};

use crate::cli::IdentityArgs;
use crate::keys;

/// The signer a verification requires.
pub(crate) enum Expected {
    /// A signature by this key.
    Key(PublicKey),
    /// A certificate for this identity and issuer.
    Identity(IdentityMatcher),
}

fn matcher(exact: &Option<String>, regexp: &Option<String>, flag: &str) -> Result<StringMatcher> {
    match (exact, regexp) {
        (Some(e), None) => Ok(StringMatcher::Exact(e.clone())),
        (None, Some(r)) => StringMatcher::regex(r).with_context(|| format!("--{flag}-regexp")),
        (Some(_), Some(_)) => bail!("pass --{flag} or --{flag}-regexp, not both"),
        (None, None) => bail!(
            "--{flag} or --{flag}-regexp is required for verification in keyless mode (or pass --key)"
        ),
    }
}

/// `--key` (a path, env://VAR or https:// URL), or the identity flags; never both.
pub(crate) async fn expected(key: &Option<String>, id: &IdentityArgs) -> Result<Expected> {
    let keyless = id.certificate_identity.is_some()
        || id.certificate_identity_regexp.is_some()
        || id.certificate_oidc_issuer.is_some()
        || id.certificate_oidc_issuer_regexp.is_some();
    match key {
        Some(_) if keyless => bail!(
            "exactly one of: key reference (--key) or certificate identity (--certificate-identity/--certificate-oidc-issuer) must be given"
        ),
        Some(k) => Ok(Expected::Key(keys::load_public_key(k).await?)),
        None => Ok(Expected::Identity(IdentityMatcher {
            subject: matcher(
                &id.certificate_identity,
                &id.certificate_identity_regexp,
                "certificate-identity",
            )?,
            issuer: matcher(
                &id.certificate_oidc_issuer,
                &id.certificate_oidc_issuer_regexp,
                "certificate-oidc-issuer",
            )?,
        })),
    }
}
