//! X.509 for Sigstore keyless verification: Fulcio certificates, chain verification
//! *at a given time*, embedded SCTs and identity matching.
//!
//! Main types and functions:
//! - [`Certificate`]: a parsed DER certificate with SANs ([`San`]), Fulcio extensions
//!   ([`FulcioExtensions`]), validity ([`UnixTime`]) and its public key;
//! - [`verify_chain`]: the leaf chains (rustls-webpki path building) to a
//!   [`CertificateAuthority`] whose window contains the time, with codeSigning EKU;
//! - [`verify_embedded_scts`]: at least one embedded SCT verifies with a trusted [`CtLog`]
//!   over the reconstructed precertificate (RFC 6962 §3.2);
//! - [`IdentityMatcher`]: SAN and OIDC issuer matching, exact or regex.
//!
//! ```no_run
//! use signet_x509::{Certificate, IdentityMatcher, UnixTime, verify_chain, verify_embedded_scts};
//! # fn demo(leaf_der: &[u8], authorities: &[signet_x509::CertificateAuthority],
//! #         logs: &[signet_x509::CtLog], integrated_time: i64) -> Result<(), Box<dyn std::error::Error>> {
//! let leaf = Certificate::from_der(leaf_der)?;
//! let chain = verify_chain(&leaf, &[], authorities, UnixTime(integrated_time))?;
//! verify_embedded_scts(&leaf, chain.issuer(), logs)?;
//! IdentityMatcher::exact("me@example.com", "https://accounts.google.com").verify(&leaf)?;
//! # Ok(()) }
//! ```
//!
//! What this crate does **not** do:
//! - read the clock: every time is passed in;
//! - parse `trusted_root.json` or bundles (that is `signet-formats`), or decide which
//!   time to verify at (integrated time, RFC 3161, `notBefore`: that is `signet-verify`);
//! - reject a bundle chain that contains a root (a bundle rule, not a chain rule);
//! - revocation (CRL/OCSP), detached SCTs, or SCT-threshold policies other than "at least one";
//! - match the GitHub/build Fulcio extensions against a policy (they are exposed, not checked).

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod certificate;
mod chain;
mod identity;
mod sct;
mod time;
pub mod timestamp;
mod tlv;

pub use certificate::{Certificate, CertificateError, FulcioExtensions, San};
pub use chain::{
    CertificateAuthority, ChainError, ChainPosition, PathRejection, VerifiedChain, verify_chain,
};
pub use identity::{IdentityError, IdentityMatcher, StringMatcher};
pub use sct::{
    CtLog, Sct, SctError, VerifiedSct, VerifiedScts, parse_embedded_scts, verify_embedded_scts,
};
pub use time::{TimeRange, UnixTime};

/// Entry points for fuzzers and property tests: they must never panic.
#[doc(hidden)]
pub mod fuzzing {
    use crate::timestamp::{TimestampAuthority, parse_timestamp_response, verify_timestamp};
    use crate::{Certificate, IdentityMatcher, TimeRange, UnixTime};

    /// Errors are printed on one line (they end up in one-line verification verdicts).
    fn assert_one_line<T, E: std::fmt::Display>(result: &Result<T, E>) {
        if let Err(e) = result {
            let message = e.to_string();
            assert!(
                !message.contains(['\n', '\r']),
                "multi-line error: {message:?}"
            );
        }
    }

    /// Every accessor of a parsed certificate, its SCTs and its precertificate.
    fn exercise(cert: &Certificate) {
        for san in cert.subject_alternative_names() {
            let _ = (san.value(), san.to_string());
        }
        let _ = cert.fulcio_extensions();
        assert_one_line(&cert.public_key());
        let _ = (cert.spki_der(), cert.der());
        let _ = (
            cert.not_before(),
            cert.not_after(),
            cert.is_valid_at(cert.not_before()),
            cert.is_ca(),
            cert.has_code_signing_eku(),
            cert.subject(),
            cert.issuer(),
        );
        let scts = crate::parse_embedded_scts(cert);
        assert_one_line(&scts);
        for sct in scts.iter().flatten() {
            let _ = sct.time();
        }
        let _ = crate::sct::precertificate_tbs(cert.der());
        assert_one_line(&IdentityMatcher::exact("", "").verify(cert));
    }

    /// Parses `data` as a DER certificate (exercising every accessor, the embedded
    /// SCT list and the precertificate rebuild), as a PEM chain, as an SCT list
    /// extension value and as a certificate for the precertificate rebuild.
    pub fn fuzz_certificate(data: &[u8]) {
        let cert = Certificate::from_der(data);
        assert_one_line(&cert);
        if let Ok(cert) = cert {
            exercise(&cert);
        }
        let chain = Certificate::parse_pem_chain(data);
        assert_one_line(&chain);
        if let Ok(chain) = chain {
            chain.iter().for_each(exercise);
        }
        assert_one_line(&crate::sct::parse_sct_list_extension(data));
        let _ = crate::sct::precertificate_tbs(data);
    }

    /// Parses `data` as an RFC 3161 `TimeStampResp` or `TimeStampToken` and, if it
    /// parses, verifies it over `data` with no authority and with an authority made of
    /// its own embedded certificates (which reaches the CMS signature check).
    pub fn fuzz_timestamp(data: &[u8]) {
        let ts = parse_timestamp_response(data);
        assert_one_line(&ts);
        let Ok(ts) = ts else {
            return;
        };
        let _ = (
            ts.gen_time(),
            ts.imprint_algorithm(),
            ts.imprint(),
            ts.tst_info_der(),
        );
        let _ = ts.imprint_algorithm().digest(data);
        ts.certificates().iter().for_each(exercise);
        assert_one_line(&verify_timestamp(&ts, data, &[]));
        if let Ok(authority) = TimestampAuthority::new(
            ts.certificates().to_vec(),
            TimeRange::starting_at(UnixTime(0)),
        ) {
            let _ = (
                authority.leaf(),
                authority.intermediates(),
                authority.root(),
            );
            assert_one_line(&verify_timestamp(&ts, data, &[authority]));
        }
    }
}
