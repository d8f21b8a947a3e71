//! Keyless (and managed-key) verification of Sigstore bundles, in sigstore-go's order.
//!
//! Build one [`BundleVerifier`] per trusted root, then call [`BundleVerifier::verify`]
//! per bundle with the artifact and a [`Policy`]:
//!
//! 1. **Transparency log** ([`tlog`]): every entry's log must be in the root; its
//!    checkpoint must be signed by that log and the inclusion proof must reach the
//!    checkpoint's root; its signed entry timestamp (Rekor v1) must verify; the
//!    canonicalized body must describe this bundle (signature, key or certificate,
//!    artifact or DSSE digests); a Rekor v1 integrated time must not be in the future
//!    and must lie in the log key's validity window.
//! 2. **Time**: the integrated times whose SET verified, and the genTime of each RFC
//!    3161 timestamp, are the observed times. Every timestamp the bundle carries must
//!    verify (over the signature bytes, against the root's timestamp authorities), so
//!    one cannot be ignored when an integrated time is also there.
//! 3. **Certificate** (identity policy): the chain to a trusted CA at each observed
//!    time (roots in the bundle are rejected, intermediates in the bundle are not
//!    used: only the root's CAs count), an embedded SCT from a trusted CT log, then the
//!    identity.
//!    **Key** (key policy): the bundle's key hint is ignored; the given key is used.
//! 4. **Signature**: messageSignature over the artifact bytes, or over its SHA-256 when
//!    only the digest is given (ECDSA and RSA sign the digest; an Ed25519 key then fails
//!    closed with [`BundleError::PrehashUnsupported`]), or DSSE over the PAE plus an
//!    in-toto subject with the artifact's sha256.
//!
//! Pure and synchronous; the only outside input is the clock in [`BundleVerifier::verify`]
//! (use [`BundleVerifier::verify_at`] to pass it).
//!
//! Checkpoints: a Rekor v1 checkpoint (origin `<host> - <tree ID>`) is verified with the
//! log's key under any key name it carries, and its origin is not compared with the
//! trusted root, as sigstore-go does (rekor's `VerifyCheckpointSignature`). Any other
//! checkpoint is a Rekor v2 one, as sigstore-go decides: the log must have signed it
//! under the host name of its `baseUrl`, and that must be its origin. A Rekor v2
//! entry has no integrated time, so the log key's validity window must contain the
//! time of every RFC 3161 timestamp instead. `dsse` and `intoto` entries must log the
//! bundle's payload hash and signatures; their envelope hash (the hash of the text the
//! client submitted, which Rekor does not canonicalize) is compared only for an
//! `intoto` 0.0.1 entry without a payload hash, against the encodings Sigstore clients
//! use (`logged_envelope.rs`).
//!
//! [`BundleVerifier::with_cache`] adds a cache of verified certificate chains, SCTs,
//! checkpoints, SETs and RFC 3161 timestamps (`cache.rs`), for batches from one
//! instance; it never changes a verdict.
//!
//! Not done yet: bundles with several DSSE signatures, and thresholds other than
//! "every entry verifies".

mod cache;
mod error;
mod logged_envelope;
mod tlog;

#[cfg(test)]
mod verdict_tests;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};
use signet_crypto::{KeyId, PublicKey};
use signet_formats::sigstore::{
    self, Bundle, BundleContent, HashAlgorithm, SignerMaterial, TrustedRoot, UnixTime,
    ValidityWindow,
};
use signet_formats::{Digest, DigestAlgorithm};
use signet_x509::timestamp::{TimestampAuthority, parse_timestamp_response, verify_timestamp};
use signet_x509::{Certificate, CertificateAuthority, CtLog, IdentityMatcher, TimeRange};

pub use cache::{CacheStats, DEFAULT_CACHE_CAPACITY};
pub use error::{BodyField, BundleError, FailureKind, TrustedRootError};

/// The most tlog entries a bundle may carry (sigstore-go `MaxAllowedTlogEntries`).
pub const MAX_TLOG_ENTRIES: usize = 32;

/// What was signed: the artifact bytes, or its SHA-256 digest.
#[derive(Clone, Debug)]
pub enum Artifact<'a> {
    /// The artifact itself.
    Bytes(&'a [u8]),
    /// The artifact's digest (must be sha256).
    Sha256(Digest),
}

/// Who must have signed.
#[derive(Clone, Debug)]
pub enum Policy {
    /// A Fulcio certificate for this identity (SAN and OIDC issuer).
    Identity(IdentityMatcher),
    /// This key (the bundle's key hint is ignored).
    Key(PublicKey),
}

/// Who signed, as verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifiedSigner {
    /// A certificate: the SAN that matched and the OIDC issuer.
    Certificate {
        /// The SAN that matched the policy.
        san: String,
        /// The Fulcio OIDC issuer.
        issuer: String,
    },
    /// The policy's key.
    Key(KeyId),
}

/// A tlog entry that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedTlogEntry {
    /// The entry's log index.
    pub log_index: u64,
    /// The log ID (hex).
    pub log_id: String,
    /// The integrated time, when the SET verified it (Rekor v1).
    pub integrated_time: Option<UnixTime>,
}

/// The result of a successful verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedBundle {
    /// The verified tlog entries.
    pub tlog_entries: Vec<VerifiedTlogEntry>,
    /// The times the certificate was checked at (verified integrated times).
    pub observed_times: Vec<UnixTime>,
    /// Who signed.
    pub signer: VerifiedSigner,
    /// The artifact's sha256.
    pub artifact: Digest,
}

/// A transparency log of the trusted root.
#[derive(Clone, Debug)]
pub(crate) struct TrustedLog {
    pub(crate) key: PublicKey,
    pub(crate) valid_for: ValidityWindow,
    pub(crate) log_id_hex: String,
    /// The host name of the log's `baseUrl` (the origin of its Rekor v2 checkpoints).
    pub(crate) host: Option<String>,
}

/// Verifies bundles against one trusted root.
#[derive(Clone, Debug)]
pub struct BundleVerifier {
    /// Key-policy bundles may verify with no observed time (cosign
    /// `--insecure-ignore-tlog` with `--key`).
    untimed_keys: bool,
    authorities: Vec<CertificateAuthority>,
    timestamp_authorities: Vec<TimestampAuthority>,
    tlogs: HashMap<Vec<u8>, TrustedLog>,
    ctlogs: Vec<CtLog>,
    /// Verified chains, SCTs, checkpoints, SETs and timestamps ([`Self::with_cache`]).
    cache: Option<Arc<cache::VerifierCache>>,
}

fn time_range(w: &ValidityWindow) -> TimeRange {
    TimeRange {
        start: signet_x509::UnixTime(w.start().0),
        end: w.end().map(|e| signet_x509::UnixTime(e.0)),
    }
}

impl BundleVerifier {
    /// Loads every key and certificate of `root`; fails closed if any does not load.
    ///
    /// # Errors
    /// Any [`TrustedRootError`].
    pub fn new(root: &TrustedRoot) -> Result<Self, TrustedRootError> {
        let mut authorities = Vec::new();
        for ca in &root.certificate_authorities {
            let chain = ca
                .cert_chain
                .iter()
                .map(|c| Certificate::from_der(&c.raw_bytes))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|source| TrustedRootError::CaCertificate {
                    uri: ca.uri.clone(),
                    source,
                })?;
            let authority =
                CertificateAuthority::new(chain, time_range(&ca.valid_for)).map_err(|_| {
                    TrustedRootError::EmptyCaChain {
                        uri: ca.uri.clone(),
                    }
                })?;
            authorities.push(authority);
        }
        let mut timestamp_authorities = Vec::new();
        for tsa in &root.timestamp_authorities {
            let chain = tsa
                .cert_chain
                .iter()
                .map(|c| Certificate::from_der(&c.raw_bytes))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|source| TrustedRootError::TsaCertificate {
                    uri: tsa.uri.clone(),
                    source,
                })?;
            let authority =
                TimestampAuthority::new(chain, time_range(&tsa.valid_for)).map_err(|_| {
                    TrustedRootError::EmptyTsaChain {
                        uri: tsa.uri.clone(),
                    }
                })?;
            timestamp_authorities.push(authority);
        }
        let mut tlogs = HashMap::new();
        for log in &root.tlogs {
            let log_id_hex = hex::encode(&log.log_id.key_id);
            let key = load_key(&log.public_key).map_err(|source| TrustedRootError::TlogKey {
                log_id: log_id_hex.clone(),
                base_url: log.base_url.clone(),
                source,
            })?;
            tlogs.insert(
                log.log_id.key_id.clone(),
                TrustedLog {
                    key,
                    valid_for: log.public_key.valid_for,
                    log_id_hex,
                    host: url_host(&log.base_url),
                },
            );
        }
        let mut ctlogs = Vec::new();
        for log in &root.ctlogs {
            let log_id = hex::encode(&log.log_id.key_id);
            let key = load_key(&log.public_key).map_err(|source| TrustedRootError::CtLogKey {
                log_id: log_id.clone(),
                base_url: log.base_url.clone(),
                source,
            })?;
            let id: [u8; 32] =
                log.log_id
                    .key_id
                    .as_slice()
                    .try_into()
                    .map_err(|_| TrustedRootError::CtLogId {
                        log_id: log_id.clone(),
                        base_url: log.base_url.clone(),
                    })?;
            ctlogs.push(CtLog {
                log_id: KeyId::from_bytes(id),
                key,
                valid_for: time_range(&log.public_key.valid_for),
            });
        }
        Ok(BundleVerifier {
            untimed_keys: false,
            authorities,
            timestamp_authorities,
            tlogs,
            ctlogs,
            cache: None,
        })
    }

    /// A verifier for the embedded Sigstore public-good production root.
    ///
    /// # Errors
    /// Any [`TrustedRootError`] (none is expected for the embedded root).
    pub fn production() -> Result<Self, TrustedRootError> {
        Self::new(&sigstore::trust::production_trusted_root())
    }

    /// Lets bundles checked under [`Policy::Key`] verify without any observed time (no
    /// verified tlog entry or timestamp), as `cosign verify --key --insecure-ignore-tlog`
    /// does. Evidence the bundle does carry is still verified in full. Certificate
    /// policies always need a verified time.
    #[must_use]
    pub fn allow_key_signatures_without_time(mut self) -> Self {
        self.untimed_keys = true;
        self
    }

    /// Adds a cache of verified certificate chains, SCTs, checkpoints, signed entry
    /// timestamps and RFC 3161 timestamps ([`DEFAULT_CACHE_CAPACITY`] entries of each),
    /// for verifying many bundles from one Sigstore instance. A cached answer is the
    /// answer the check would give again (each is keyed by a hash of all its inputs, and
    /// only successes are kept), so verdicts and errors do not change. Clones of the
    /// verifier share the cache, across threads.
    #[must_use]
    pub fn with_cache(self) -> Self {
        self.with_cache_capacity(DEFAULT_CACHE_CAPACITY)
    }

    /// [`Self::with_cache`] with at most `capacity` entries per kind of check (a full
    /// table is emptied).
    #[must_use]
    pub fn with_cache_capacity(mut self, capacity: usize) -> Self {
        self.cache = Some(Arc::new(cache::VerifierCache::new(
            &self.authorities,
            capacity,
        )));
        self
    }

    /// How the cache has done, if there is one.
    pub fn cache_stats(&self) -> Option<CacheStats> {
        self.cache.as_ref().map(|c| c.stats())
    }

    /// Verifies `bundle` for `artifact` under `policy`, with the system clock as "now".
    ///
    /// # Errors
    /// Any [`BundleError`]; see the module docs for the order of checks.
    pub fn verify(
        &self,
        bundle: &Bundle,
        artifact: Artifact<'_>,
        policy: &Policy,
    ) -> Result<VerifiedBundle, BundleError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        self.verify_at(bundle, artifact, policy, UnixTime(now))
    }

    /// [`BundleVerifier::verify`] with an explicit "now".
    ///
    /// # Errors
    /// Any [`BundleError`].
    pub fn verify_at(
        &self,
        bundle: &Bundle,
        artifact: Artifact<'_>,
        policy: &Policy,
        now: UnixTime,
    ) -> Result<VerifiedBundle, BundleError> {
        let artifact_digest = match &artifact {
            Artifact::Bytes(b) => Digest::sha256_of(b),
            Artifact::Sha256(d) => {
                if d.algorithm() != DigestAlgorithm::Sha256 {
                    return Err(BundleError::UnsupportedArtifactDigest { found: d.clone() });
                }
                d.clone()
            }
        };
        let artifact_sha256: [u8; 32] =
            artifact_digest.bytes().as_slice().try_into().map_err(|_| {
                BundleError::UnsupportedArtifactDigest {
                    found: artifact_digest.clone(),
                }
            })?;

        // The signer material: parsed once, used by the tlog body checks and later.
        let vm = &bundle.verification_material;
        let signer = match (&vm.signer, policy) {
            (SignerMaterial::PublicKey(_), Policy::Key(key)) => tlog::Signer::Key(key),
            (SignerMaterial::PublicKey(_), Policy::Identity(_)) => {
                return Err(BundleError::SignerKindMismatch {
                    expected: "certificate",
                    found: "public key",
                });
            }
            (_, Policy::Key(_)) => {
                return Err(BundleError::SignerKindMismatch {
                    expected: "public key",
                    found: "certificate",
                });
            }
            (material, Policy::Identity(_)) => {
                let leaf =
                    material
                        .leaf_certificate()
                        .ok_or(BundleError::MalformedCertificate {
                            source: signet_x509::CertificateError::EmptyPemChain,
                        })?;
                tlog::Signer::Certificate(&leaf.raw_bytes)
            }
        };

        // (a) transparency log entries.
        let untimed_key = self.untimed_keys && matches!(policy, Policy::Key(_));
        let entries = if untimed_key && vm.tlog_entries.is_empty() {
            Vec::new()
        } else {
            tlog::verify_entries(self, bundle, &signer, &artifact_sha256, now)?
        };

        // Establish the observed times: the integrated time of each entry whose signed
        // entry timestamp verified, and the genTime of each RFC 3161 timestamp. Every
        // timestamp the bundle carries must verify (over the signature bytes), and the
        // certificate is then checked at every one of these times, as sigstore-go does.
        let mut observed_times: Vec<UnixTime> =
            entries.iter().filter_map(|e| e.integrated_time).collect();
        let signature_bytes: &[u8] = match &bundle.content {
            BundleContent::MessageSignature(ms) => &ms.signature,
            BundleContent::DsseEnvelope(env) => {
                env.signatures.first().map_or(&[][..], |s| s.sig.as_slice())
            }
        };
        let mut timestamp_times = Vec::new();
        for (index, t) in vm
            .timestamp_verification_data
            .rfc3161_timestamps
            .iter()
            .enumerate()
        {
            let verify = || {
                parse_timestamp_response(&t.signed_timestamp)
                    .and_then(|ts| {
                        verify_timestamp(&ts, signature_bytes, &self.timestamp_authorities)
                    })
                    .map(|v| v.gen_time.0)
            };
            let gen_time = match &self.cache {
                Some(c) => c.timestamp(
                    cache::key(&[b"rfc3161", &t.signed_timestamp, signature_bytes]),
                    verify,
                ),
                None => verify(),
            }
            .map_err(|source| BundleError::Timestamp { index, source })?;
            timestamp_times.push(UnixTime(gen_time));
        }
        // A Rekor v2 entry has no integrated time: its log key must have been valid at
        // the timestamps' times.
        tlog::check_untimed_entries(self, bundle, &timestamp_times)?;
        observed_times.extend_from_slice(&timestamp_times);
        if observed_times.is_empty() && !untimed_key {
            return Err(BundleError::NoObservedTime);
        }

        // (b) certificate, or (c) key.
        let (signing_key, verified_signer) = match policy {
            Policy::Key(key) => (key.clone(), VerifiedSigner::Key(key.key_id())),
            Policy::Identity(matcher) => {
                self.verify_certificate(&vm.signer, matcher, &observed_times)?
            }
        };

        // (d) the signature.
        match &bundle.content {
            BundleContent::MessageSignature(ms) => {
                if let Some(md) = &ms.message_digest {
                    if md.algorithm != HashAlgorithm::Sha2_256 {
                        return Err(BundleError::UnsupportedMessageDigest {
                            algorithm: md.algorithm.as_str(),
                        });
                    }
                    if md.digest != artifact_sha256 {
                        return Err(BundleError::MessageDigestMismatch {
                            bundle: format!("sha256:{}", hex::encode(&md.digest)),
                            artifact: artifact_digest,
                        });
                    }
                }
                match &artifact {
                    Artifact::Bytes(bytes) => {
                        signing_key.verify(bytes, &ms.signature).map_err(|source| {
                            BundleError::SignatureMismatch {
                                over: "artifact",
                                source,
                            }
                        })?
                    }
                    Artifact::Sha256(_) => signing_key
                        .verify_prehashed_sha256(&artifact_sha256, &ms.signature)
                        .map_err(|source| match source {
                            signet_crypto::SignatureError::PrehashUnsupported { .. } => {
                                BundleError::PrehashUnsupported
                            }
                            source => BundleError::SignatureMismatch {
                                over: "artifact digest",
                                source,
                            },
                        })?,
                }
            }
            BundleContent::DsseEnvelope(env) => {
                let [sig] = env.signatures.as_slice() else {
                    return Err(BundleError::DsseSignatureCount {
                        found: env.signatures.len(),
                    });
                };
                signing_key.verify(&env.pae(), &sig.sig).map_err(|source| {
                    BundleError::SignatureMismatch {
                        over: "dsse PAE",
                        source,
                    }
                })?;
                let statement = env
                    .statement()
                    .map_err(|source| BundleError::MalformedStatement { source })?;
                if statement.find_subject(&artifact_digest).is_none() {
                    return Err(BundleError::SubjectNotFound {
                        artifact: artifact_digest,
                        subjects: statement
                            .subjects
                            .iter()
                            .map(|s| {
                                format!(
                                    "{}=sha256:{}",
                                    s.name.as_deref().unwrap_or_default(),
                                    s.digest.get("sha256").map_or("-", String::as_str)
                                )
                            })
                            .collect(),
                    });
                }
            }
        }

        Ok(VerifiedBundle {
            tlog_entries: entries,
            observed_times,
            signer: verified_signer,
            artifact: artifact_digest,
        })
    }

    fn verify_certificate(
        &self,
        material: &SignerMaterial,
        matcher: &IdentityMatcher,
        times: &[UnixTime],
    ) -> Result<(PublicKey, VerifiedSigner), BundleError> {
        let parse = |der: &[u8]| {
            Certificate::from_der(der)
                .map_err(|source| BundleError::MalformedCertificate { source })
        };
        let (leaf, rest) = match material {
            SignerMaterial::Certificate(c) => (parse(&c.raw_bytes)?, Vec::new()),
            SignerMaterial::X509CertificateChain(chain) => {
                let mut certs = chain
                    .iter()
                    .map(|c| parse(&c.raw_bytes))
                    .collect::<Result<Vec<_>, _>>()?;
                if certs.is_empty() {
                    return Err(BundleError::MalformedCertificate {
                        source: signet_x509::CertificateError::EmptyPemChain,
                    });
                }
                let leaf = certs.remove(0);
                (leaf, certs)
            }
            SignerMaterial::PublicKey(_) => {
                return Err(BundleError::SignerKindMismatch {
                    expected: "certificate",
                    found: "public key",
                });
            }
        };
        // A root in the bundle is never trusted, and its presence is rejected
        // (conformance `bundle-with-root-cert_fail`, as sigstore-go and -python do).
        if let Some(root) = std::iter::once(&leaf)
            .chain(rest.iter())
            .find(|c| c.is_ca() && c.subject() == c.issuer())
        {
            return Err(BundleError::BundleChainContainsRoot {
                subject: root.subject(),
            });
        }
        // Intermediates in the bundle are not used: only the trusted root's CAs count.
        // The path is built and its signatures checked once; a further observed time
        // only needs the path's validity windows, unless they exclude it (then a full
        // verification gives the precise error, or another authority's path).
        let mut issuer: Option<signet_x509::VerifiedChain> = None;
        for t in times {
            let at = signet_x509::UnixTime(t.0);
            if issuer
                .as_ref()
                .is_some_and(|c| c.still_valid_at(&self.authorities, at))
            {
                continue;
            }
            let verify = || signet_x509::verify_chain(&leaf, &[], &self.authorities, at);
            let chain = match &self.cache {
                Some(c) => c.chain(&leaf, at, verify),
                None => verify(),
            }
            .map_err(|source| BundleError::CertificateUntrusted { at: *t, source })?;
            issuer.get_or_insert(chain);
        }
        let Some(chain) = issuer else {
            return Err(BundleError::NoObservedTime);
        };
        let verify_scts =
            || signet_x509::verify_embedded_scts(&leaf, chain.issuer(), &self.ctlogs).map(|_| ());
        match &self.cache {
            Some(c) => c.scts(&leaf, chain.issuer(), verify_scts),
            None => verify_scts(),
        }
        .map_err(|source| BundleError::SctUnverified { source })?;
        let san = matcher
            .verify(&leaf)
            .map_err(|source| BundleError::IdentityMismatch { source })?
            .value();
        let issuer = leaf.fulcio_extensions().issuer.clone().unwrap_or_default();
        let key = leaf
            .public_key()
            .map_err(|source| BundleError::UnusableCertificateKey { source })?;
        Ok((key, VerifiedSigner::Certificate { san, issuer }))
    }

    pub(crate) fn tlog(&self, log_id: &[u8]) -> Option<&TrustedLog> {
        self.tlogs.get(log_id)
    }

    pub(crate) fn cache(&self) -> Option<&cache::VerifierCache> {
        self.cache.as_deref()
    }
}

/// The host name of a URL, as Go's `url.Parse(u).Hostname()` gives it (no port, no
/// brackets around an IPv6 address); `None` for an empty or host-less URL.
pub(crate) fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    (!host.is_empty()).then(|| host.to_owned())
}

/// A trusted-root key: DER SPKI, or DER PKCS#1 for the `PKCS1_RSA_*` key details (the
/// old CT log key format).
fn load_key(key: &sigstore::PublicKey) -> Result<PublicKey, signet_crypto::KeyError> {
    use base64::Engine as _;
    use sigstore::PublicKeyDetails as D;
    match key.key_details {
        D::Pkcs1RsaPkcs1v5 | D::Pkcs1RsaPss => {
            let b64 = base64::engine::general_purpose::STANDARD.encode(&key.raw_bytes);
            let mut pem = String::from("-----BEGIN RSA PUBLIC KEY-----\n");
            for chunk in b64.as_bytes().chunks(64) {
                pem.push_str(&String::from_utf8_lossy(chunk));
                pem.push('\n');
            }
            pem.push_str("-----END RSA PUBLIC KEY-----\n");
            PublicKey::from_pem(pem.as_bytes())
        }
        _ => PublicKey::from_spki_der(&key.raw_bytes),
    }
}

/// SHA-256 of `data`.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}
