//! Certificate chain verification at a given time, against Sigstore certificate authorities.

use std::time::Duration;

use pki_types::{CertificateDer, SignatureVerificationAlgorithm};

use crate::{Certificate, TimeRange, UnixTime};

/// DER contents of `id-kp-codeSigning` (1.3.6.1.5.5.7.3.3), as webpki wants it.
const CODE_SIGNING_OID_DER: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

/// The signature algorithms accepted on certificates (the ones Fulcio, TSAs and common
/// CAs use).
pub(crate) static SIGNATURE_ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] = &[
    webpki::aws_lc_rs::ECDSA_P256_SHA256,
    webpki::aws_lc_rs::ECDSA_P256_SHA384,
    webpki::aws_lc_rs::ECDSA_P384_SHA256,
    webpki::aws_lc_rs::ECDSA_P384_SHA384,
    webpki::aws_lc_rs::ECDSA_P521_SHA256,
    webpki::aws_lc_rs::ECDSA_P521_SHA384,
    webpki::aws_lc_rs::ECDSA_P521_SHA512,
    webpki::aws_lc_rs::ED25519,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA384,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA512,
    webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
    webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
];

/// A certificate authority of a trusted root (`certificateAuthorities[]`): its chain and
/// the window in which it may have issued certificates.
#[derive(Debug, Clone)]
pub struct CertificateAuthority {
    /// Intermediates followed by the root, as in a trusted root's `certChain` (leaf-most first).
    chain: Vec<Certificate>,
    /// When certificates issued by this authority are accepted (closed interval).
    pub valid_for: TimeRange,
}

impl CertificateAuthority {
    /// An authority from its `certChain` (intermediates first, root last) and its `validFor`.
    ///
    /// # Errors
    /// [`ChainError::EmptyAuthorityChain`] when `chain` is empty.
    pub fn new(chain: Vec<Certificate>, valid_for: TimeRange) -> Result<Self, ChainError> {
        if chain.is_empty() {
            return Err(ChainError::EmptyAuthorityChain);
        }
        Ok(CertificateAuthority { chain, valid_for })
    }

    /// The root (trust anchor): the last certificate of the chain.
    pub fn root(&self) -> &Certificate {
        // `new` guarantees a non-empty chain.
        &self.chain[self.chain.len() - 1]
    }

    /// The intermediates of the authority's chain (all but the root).
    pub fn intermediates(&self) -> &[Certificate] {
        &self.chain[..self.chain.len() - 1]
    }

    /// The whole chain, intermediates first, root last.
    pub fn chain(&self) -> &[Certificate] {
        &self.chain
    }
}

/// Which certificate of a chain a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainPosition {
    /// The leaf (signing) certificate.
    Leaf,
    /// An intermediate CA certificate; 0 is the one that issued the leaf.
    Intermediate(usize),
    /// The root (trust anchor) of the authority.
    Root,
}

/// A leaf that chains to a trusted authority.
#[derive(Debug, Clone)]
pub struct VerifiedChain {
    /// Index into the `authorities` slice of the authority the leaf chains to.
    pub authority_index: usize,
    /// The path: leaf, intermediates (issuer of the leaf first), root.
    pub certificates: Vec<Certificate>,
}

impl VerifiedChain {
    /// The certificate that issued the leaf (the leaf's parent in the path).
    pub fn issuer(&self) -> &Certificate {
        // A verified path always has at least a leaf and a root.
        &self.certificates[1]
    }

    /// Whether this already-verified path is also valid at `at`: its authority's
    /// window and every certificate's validity contain `at`. Signatures, EKUs and
    /// constraints do not depend on the time, so when this holds, [`verify_chain`] at
    /// `at` succeeds too (possibly through an earlier authority). When it does not,
    /// call [`verify_chain`] for the precise error or another authority's path.
    pub fn still_valid_at(&self, authorities: &[CertificateAuthority], at: UnixTime) -> bool {
        authorities
            .get(self.authority_index)
            .is_some_and(|a| a.valid_for.contains(at))
            && self.certificates.iter().all(|c| c.is_valid_at(at))
    }
}

/// Why a candidate certificate path was rejected (from webpki's verdict).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathRejection {
    /// A certificate's signature does not verify with its issuer's key.
    SignatureMismatch,
    /// An intermediate is outside its validity at the given time.
    IntermediateNotValidAt,
    /// A certificate in the path is not allowed to issue certificates (no `cA`, path length).
    IssuerNotCa,
    /// A CA certificate does not allow code signing in its extendedKeyUsage.
    EkuNotAllowed,
    /// A certificate has a critical extension that is not understood.
    UnsupportedCriticalExtension,
    /// A signature algorithm is not supported.
    UnsupportedSignatureAlgorithm,
    /// Another path validation failure (webpki's description).
    Other(String),
}

/// Why a leaf certificate is not trusted at a given time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// The leaf is a CA certificate.
    #[error(
        "the signing certificate is a CA (basicConstraints cA=true): a signing certificate must be a leaf"
    )]
    LeafIsCa,
    /// The leaf lacks the codeSigning extended key usage.
    #[error("the signing certificate lacks the codeSigning extended key usage (1.3.6.1.5.5.7.3.3)")]
    MissingCodeSigningEku,
    /// A certificate of the path is not valid at the time.
    #[error(
        "the {position:?} certificate is valid from {not_before} to {not_after}, not at {at}: verify against the time of signing (tlog integrated time or RFC 3161 timestamp)"
    )]
    NotValidAt {
        /// Which certificate.
        position: ChainPosition,
        /// Its notBefore.
        not_before: UnixTime,
        /// Its notAfter.
        not_after: UnixTime,
        /// The time checked.
        at: UnixTime,
    },
    /// No authority of the trusted root is valid at the time.
    #[error(
        "none of the {authorities} certificate authorities of the trusted root is valid at {at}: check the trusted root's validFor windows"
    )]
    NoAuthorityValidAt {
        /// How many authorities there are.
        authorities: usize,
        /// The time checked.
        at: UnixTime,
    },
    /// The leaf does not chain to any authority valid at the time.
    ///
    /// As in Go's `x509.Verify`, a candidate issuer whose name matches but whose key
    /// does not verify the signature (another CA with the same name, e.g. staging vs
    /// production Fulcio) makes the path untrusted: `closest` then says
    /// [`PathRejection::SignatureMismatch`].
    #[error(
        "the signing certificate (issuer `{issuer}`) does not chain to any of the {tried} certificate authorities valid at that time (closest candidate: {closest:?}): is the bundle from another Sigstore instance? pass the matching trusted root"
    )]
    Untrusted {
        /// The leaf's issuer DN.
        issuer: String,
        /// How many authorities were tried.
        tried: usize,
        /// Why the closest candidate path failed, if any issuer name matched.
        closest: Option<PathRejection>,
    },
    /// A path to an authority was found, but it is invalid.
    #[error("the certificate path to authority {authority_index} is invalid: {reason:?}")]
    InvalidPath {
        /// The authority whose root the path reaches.
        authority_index: usize,
        /// What was wrong.
        reason: PathRejection,
    },
    /// A certificate authority was given without certificates.
    #[error("a certificate authority has an empty certChain: the trusted root is malformed")]
    EmptyAuthorityChain,
}

/// Verifies that `leaf` chains to one of `authorities` at time `at`.
///
/// Checks, in order:
/// 1. the leaf is not a CA and has the codeSigning EKU;
/// 2. the leaf is valid at `at` (`notBefore <= at <= notAfter`);
/// 3. for each authority whose `valid_for` contains `at`, path building with
///    rustls-webpki from the leaf through `intermediates` and the authority's own
///    intermediates to the authority's root: every signature, `cA` on issuers,
///    path length, name constraints, EKU (codeSigning) and validity of the
///    intermediates at `at`;
/// 4. the root itself is valid at `at` (webpki does not look at a trust anchor's dates).
///
/// The first authority that accepts the leaf wins.
///
/// # Errors
/// Any [`ChainError`]. When every authority fails, a path that reached a root but
/// was invalid ([`ChainError::InvalidPath`]) is reported before [`ChainError::Untrusted`].
pub fn verify_chain(
    leaf: &Certificate,
    intermediates: &[Certificate],
    authorities: &[CertificateAuthority],
    at: UnixTime,
) -> Result<VerifiedChain, ChainError> {
    if leaf.is_ca() {
        return Err(ChainError::LeafIsCa);
    }
    if !leaf.has_code_signing_eku() {
        return Err(ChainError::MissingCodeSigningEku);
    }
    check_valid_at(leaf, ChainPosition::Leaf, at)?;
    let Ok(seconds) = u64::try_from(at.0) else {
        // Unreachable in practice: the leaf's notBefore is at or after 1970.
        return Err(not_valid_at(leaf, ChainPosition::Leaf, at));
    };
    let webpki_time = pki_types::UnixTime::since_unix_epoch(Duration::from_secs(seconds));

    let leaf_der = CertificateDer::from(leaf.der());
    let end_entity =
        webpki::EndEntityCert::try_from(&leaf_der).map_err(|e| ChainError::InvalidPath {
            authority_index: 0,
            reason: PathRejection::Other(format!("webpki cannot parse the leaf: {e:?}")),
        })?;

    let mut tried = 0;
    let mut first_invalid: Option<ChainError> = None;
    let mut closest: Option<PathRejection> = None;
    for (index, authority) in authorities.iter().enumerate() {
        if !authority.valid_for.contains(at) {
            continue;
        }
        tried += 1;
        let root_der = CertificateDer::from(authority.root().der());
        let anchor = match webpki::anchor_from_trusted_cert(&root_der) {
            Ok(anchor) => anchor,
            Err(e) => {
                first_invalid.get_or_insert(ChainError::InvalidPath {
                    authority_index: index,
                    reason: PathRejection::Other(format!("the root is not usable: {e:?}")),
                });
                continue;
            }
        };
        let pool: Vec<&Certificate> = intermediates
            .iter()
            .chain(authority.intermediates())
            .collect();
        let pool_der: Vec<CertificateDer<'_>> =
            pool.iter().map(|c| CertificateDer::from(c.der())).collect();
        let anchors = [anchor];
        let result = end_entity.verify_for_usage(
            SIGNATURE_ALGORITHMS,
            &anchors,
            &pool_der,
            webpki_time,
            webpki::KeyUsage::required(CODE_SIGNING_OID_DER),
            None,
            None,
        );
        match result {
            Ok(path) => {
                let mut certificates = vec![leaf.clone()];
                for cert in path.intermediate_certificates() {
                    let der = cert.der();
                    // webpki only returns certificates from the pool it was given.
                    if let Some(found) = pool.iter().find(|c| c.der() == der.as_ref()) {
                        certificates.push((*found).clone());
                    }
                }
                check_valid_at(authority.root(), ChainPosition::Root, at)?;
                certificates.push(authority.root().clone());
                return Ok(VerifiedChain {
                    authority_index: index,
                    certificates,
                });
            }
            Err(webpki::Error::UnknownIssuer) => {}
            Err(e @ webpki::Error::InvalidSignatureForPublicKey) => {
                closest.get_or_insert(rejection(&e));
            }
            Err(e) => {
                first_invalid.get_or_insert(ChainError::InvalidPath {
                    authority_index: index,
                    reason: rejection(&e),
                });
            }
        }
    }
    if tried == 0 {
        return Err(ChainError::NoAuthorityValidAt {
            authorities: authorities.len(),
            at,
        });
    }
    Err(first_invalid.unwrap_or_else(|| ChainError::Untrusted {
        issuer: leaf.issuer(),
        tried,
        closest,
    }))
}

fn rejection(e: &webpki::Error) -> PathRejection {
    use webpki::Error as E;
    match e {
        E::InvalidSignatureForPublicKey => PathRejection::SignatureMismatch,
        E::CertExpired { .. } | E::CertNotValidYet { .. } => PathRejection::IntermediateNotValidAt,
        E::EndEntityUsedAsCa | E::PathLenConstraintViolated => PathRejection::IssuerNotCa,
        E::RequiredEkuNotFoundContext(_) => PathRejection::EkuNotAllowed,
        E::UnsupportedCriticalExtension => PathRejection::UnsupportedCriticalExtension,
        E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
            PathRejection::UnsupportedSignatureAlgorithm
        }
        other => PathRejection::Other(format!("{other:?}")),
    }
}

fn not_valid_at(cert: &Certificate, position: ChainPosition, at: UnixTime) -> ChainError {
    ChainError::NotValidAt {
        position,
        not_before: cert.not_before(),
        not_after: cert.not_after(),
        at,
    }
}

fn check_valid_at(
    cert: &Certificate,
    position: ChainPosition,
    at: UnixTime,
) -> Result<(), ChainError> {
    if cert.is_valid_at(at) {
        Ok(())
    } else {
        Err(not_valid_at(cert, position, at))
    }
}
