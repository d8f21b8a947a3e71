//! The Sigstore public-good trust material, embedded at build time.
//!
//! These are snapshots of the `trusted_root.json` and `signing_config.v0.2.json` targets
//! of Sigstore's TUF repositories (`https://tuf-repo-cdn.sigstore.dev` for production,
//! `https://tuf-repo-cdn.sigstage.dev` for staging), as shipped in sigstore-python 4.5.1.
//! Provenance and checksums: `crates/signet-formats/trust/PROVENANCE.md`.
//!
//! Keys rotate. A bundle signed after a rotation needs a newer root than this snapshot:
//!
//! * per invocation, pass `--trusted-root FILE` (any `trusted_root.json`); it replaces
//!   the embedded root entirely;
//! * to refresh the snapshot, fetch the current targets through a TUF client that
//!   verifies them from the pinned `root.json` (for example
//!   `sigstore plumbing update-trust-root` from sigstore-python, or go-tuf), copy them
//!   over the files in `crates/signet-formats/trust/`, update the checksums in
//!   `PROVENANCE.md`, and rebuild. Never copy targets fetched without TUF verification.
//!
//! signet does not fetch these itself: this crate does no I/O.

use super::{SigningConfig, TrustedRoot};

/// The production trusted root, as JSON.
pub const PRODUCTION_TRUSTED_ROOT_JSON: &str =
    include_str!("../../trust/production_trusted_root.json");
/// The staging trusted root, as JSON.
pub const STAGING_TRUSTED_ROOT_JSON: &str = include_str!("../../trust/staging_trusted_root.json");
/// The production signing config (v0.2), as JSON.
pub const PRODUCTION_SIGNING_CONFIG_JSON: &str =
    include_str!("../../trust/production_signing_config.v0.2.json");
/// The staging signing config (v0.2), as JSON.
pub const STAGING_SIGNING_CONFIG_JSON: &str =
    include_str!("../../trust/staging_signing_config.v0.2.json");

// Invariant for the `expect`s below: the embedded files are fixed at build time and the
// tests `embedded_material_parses` (here) and tests/sigstore_conformance.rs parse them.

/// The embedded production (sigstore.dev) trusted root.
pub fn production_trusted_root() -> TrustedRoot {
    #[allow(clippy::expect_used)]
    TrustedRoot::parse(PRODUCTION_TRUSTED_ROOT_JSON.as_bytes())
        .expect("embedded production trusted root parses")
}

/// The embedded staging (sigstage.dev) trusted root.
pub fn staging_trusted_root() -> TrustedRoot {
    #[allow(clippy::expect_used)]
    TrustedRoot::parse(STAGING_TRUSTED_ROOT_JSON.as_bytes())
        .expect("embedded staging trusted root parses")
}

/// The embedded production signing config.
pub fn production_signing_config() -> SigningConfig {
    #[allow(clippy::expect_used)]
    SigningConfig::parse(PRODUCTION_SIGNING_CONFIG_JSON.as_bytes())
        .expect("embedded production signing config parses")
}

/// The embedded staging signing config.
pub fn staging_signing_config() -> SigningConfig {
    #[allow(clippy::expect_used)]
    SigningConfig::parse(STAGING_SIGNING_CONFIG_JSON.as_bytes())
        .expect("embedded staging signing config parses")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_material_parses() {
        let prod = production_trusted_root();
        assert_eq!(prod.tlogs.len(), 2);
        assert_eq!(prod.certificate_authorities.len(), 2);
        assert_eq!(prod.ctlogs.len(), 2);
        assert_eq!(prod.timestamp_authorities.len(), 1);
        // The public-good Rekor v1 log id (cosign-formats.md §3.4).
        let rekor = hex::decode("c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d")
            .unwrap();
        assert_eq!(
            prod.tlog_by_id(&rekor).unwrap().base_url,
            "https://rekor.sigstore.dev"
        );
        assert!(!staging_trusted_root().tlogs.is_empty());
        let cfg = production_signing_config();
        assert_eq!(cfg.rekor_tlog_urls.len(), 1);
        assert_eq!(cfg.rekor_tlog_urls[0].major_api_version, 1);
        assert!(
            staging_signing_config()
                .rekor_tlog_urls
                .iter()
                .any(|s| s.major_api_version == 2)
        );
    }
}
