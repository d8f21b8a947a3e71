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
    use crate::Certificate;

    /// Parses `data` as a certificate and, if it parses, exercises every accessor
    /// and the SCT parser and precertificate rebuild.
    pub fn fuzz_certificate(data: &[u8]) {
        if let Ok(cert) = Certificate::from_der(data) {
            let _ = cert.subject_alternative_names();
            let _ = cert.fulcio_extensions();
            let _ = cert.public_key();
            let _ = (
                cert.not_before(),
                cert.not_after(),
                cert.is_ca(),
                cert.subject(),
            );
            let _ = crate::parse_embedded_scts(&cert);
            let _ = crate::sct::precertificate_tbs(cert.der());
        }
        let _ = Certificate::parse_pem_chain(data);
        let _ = crate::sct::parse_sct_list_extension(data);
        let _ = crate::sct::precertificate_tbs(data);
    }
}
