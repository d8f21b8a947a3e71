//! Embedded signed certificate timestamps (RFC 6962 §3.2 / §3.3), as Fulcio issues them.

use const_oid::ObjectIdentifier;
use sha2::{Digest, Sha256};
use signet_crypto::{KeyId, PublicKey};

use crate::{Certificate, TimeRange, UnixTime, tlv};

/// The X.509 extension holding the SCT list (`1.3.6.1.4.1.11129.2.4.2`).
const SCT_LIST_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");
/// TLS `HashAlgorithm.sha256`.
const HASH_SHA256: u8 = 4;

/// A certificate transparency log trusted to sign SCTs (a trusted root's `ctlogs` entry).
#[derive(Debug, Clone)]
pub struct CtLog {
    /// The log ID: SHA-256 of the log's DER SPKI.
    pub log_id: KeyId,
    /// The log's key.
    pub key: PublicKey,
    /// When the log's key may be used (closed interval), checked against the SCT's timestamp.
    pub valid_for: TimeRange,
}

impl CtLog {
    /// A log whose ID is derived from its key (SHA-256 of the DER SPKI), as RFC 6962 defines it.
    pub fn new(key: PublicKey, valid_for: TimeRange) -> Self {
        CtLog {
            log_id: key.key_id(),
            key,
            valid_for,
        }
    }
}

/// One parsed `SignedCertificateTimestamp` (RFC 6962 §3.2), version 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sct {
    /// The log that issued it.
    pub log_id: KeyId,
    /// Milliseconds since the epoch.
    pub timestamp_millis: u64,
    /// `CtExtensions` (non-empty for Static CT logs: a leaf index).
    pub extensions: Vec<u8>,
    /// TLS `HashAlgorithm` code (4 = SHA-256).
    pub hash_algorithm: u8,
    /// TLS `SignatureAlgorithm` code (3 = ECDSA, 1 = RSA, 7 = Ed25519).
    pub signature_algorithm: u8,
    /// The signature bytes (DER for ECDSA).
    pub signature: Vec<u8>,
}

impl Sct {
    /// The SCT's time, rounded down to the second.
    pub fn time(&self) -> UnixTime {
        UnixTime::from_millis(self.timestamp_millis)
    }
}

/// An SCT that verified with a trusted log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSct {
    /// The log that signed it.
    pub log_id: KeyId,
    /// When the log saw the precertificate, in milliseconds.
    pub timestamp_millis: u64,
}

/// The SCTs of a certificate that verified (at least one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedScts {
    /// Each verified SCT, in certificate order.
    pub verified: Vec<VerifiedSct>,
}

/// Why the embedded SCTs of a certificate do not vouch for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SctError {
    /// The certificate has no SCT list extension.
    #[error(
        "the certificate has no embedded SCT (extension 1.3.6.1.4.1.11129.2.4.2): Fulcio embeds one; a detached SCT is not supported"
    )]
    MissingSctList,
    /// The SCT list extension cannot be decoded.
    #[error("the embedded SCT list is malformed: {detail}")]
    MalformedSctList {
        /// What was wrong.
        detail: &'static str,
    },
    /// An SCT of a version other than v1 (0).
    #[error("embedded SCT has version {version}, only v1 (0) is defined")]
    UnsupportedVersion {
        /// The version byte found.
        version: u8,
    },
    /// A trusted log's SCT uses a hash other than SHA-256.
    #[error("the SCT from log {log_id} uses TLS hash algorithm {hash}, expected 4 (sha256)")]
    UnsupportedHashAlgorithm {
        /// The log.
        log_id: KeyId,
        /// The TLS `HashAlgorithm` code found.
        hash: u8,
    },
    /// A trusted log's SCT signature does not verify over the reconstructed precertificate.
    #[error(
        "the SCT from trusted log {log_id} (timestamp {timestamp_millis} ms) has an invalid signature: the certificate, its issuer or the trusted root's CT key does not match"
    )]
    SignatureMismatch {
        /// The log.
        log_id: KeyId,
        /// The SCT's timestamp.
        timestamp_millis: u64,
    },
    /// No SCT verified with a trusted log.
    #[error(
        "none of the {total} embedded SCTs verified: {unknown_log} from logs not in the trusted root, {outside_validity} outside their log's validity window"
    )]
    NoVerifiedSct {
        /// How many SCTs the certificate has.
        total: usize,
        /// How many name a log that is not trusted.
        unknown_log: usize,
        /// How many name a trusted log whose window does not contain the SCT time.
        outside_validity: usize,
    },
}

/// Parses the embedded SCT list of `cert`.
///
/// # Errors
/// [`SctError::MissingSctList`], [`SctError::MalformedSctList`] or [`SctError::UnsupportedVersion`].
pub fn parse_embedded_scts(cert: &Certificate) -> Result<Vec<Sct>, SctError> {
    let ext = cert
        .x509()
        .tbs_certificate()
        .extensions()
        .map(|e| e.as_slice())
        .unwrap_or(&[])
        .iter()
        .find(|e| e.extn_id == SCT_LIST_OID)
        .ok_or(SctError::MissingSctList)?;
    parse_sct_list_extension(ext.extn_value.as_bytes())
}

/// Parses the extension value: a DER OCTET STRING around the TLS `SignedCertificateTimestampList`.
pub(crate) fn parse_sct_list_extension(value: &[u8]) -> Result<Vec<Sct>, SctError> {
    let malformed = |detail| SctError::MalformedSctList { detail };
    let (octets, rest) = tlv::read(value).ok_or(malformed("not a DER OCTET STRING"))?;
    if octets.tag != 0x04 || !rest.is_empty() {
        return Err(malformed("not a DER OCTET STRING"));
    }
    let mut r = TlsReader(octets.contents);
    let list = r.vec16().ok_or(malformed("truncated list length"))?;
    if !r.0.is_empty() {
        return Err(malformed("trailing bytes after the SCT list"));
    }
    let mut list = TlsReader(list);
    let mut scts = Vec::new();
    while !list.0.is_empty() {
        let sct = list.vec16().ok_or(malformed("truncated SCT entry"))?;
        scts.push(parse_sct(sct)?);
    }
    if scts.is_empty() {
        return Err(malformed("the SCT list is empty"));
    }
    Ok(scts)
}

fn parse_sct(bytes: &[u8]) -> Result<Sct, SctError> {
    let truncated = SctError::MalformedSctList {
        detail: "truncated SCT",
    };
    let mut r = TlsReader(bytes);
    let version = r.u8().ok_or(truncated.clone())?;
    if version != 0 {
        return Err(SctError::UnsupportedVersion { version });
    }
    let log_id = r.array32().ok_or(truncated.clone())?;
    let timestamp_millis = r.u64().ok_or(truncated.clone())?;
    let extensions = r.vec16().ok_or(truncated.clone())?.to_vec();
    let hash_algorithm = r.u8().ok_or(truncated.clone())?;
    let signature_algorithm = r.u8().ok_or(truncated.clone())?;
    let signature = r.vec16().ok_or(truncated)?.to_vec();
    if !r.0.is_empty() {
        return Err(SctError::MalformedSctList {
            detail: "trailing bytes after an SCT",
        });
    }
    Ok(Sct {
        log_id: KeyId::from_bytes(log_id),
        timestamp_millis,
        extensions,
        hash_algorithm,
        signature_algorithm,
        signature,
    })
}

/// The precertificate `TBSCertificate` (RFC 6962 §3.2): the leaf's TBS, byte for byte,
/// without the SCT list extension.
pub(crate) fn precertificate_tbs(leaf_der: &[u8]) -> Option<Vec<u8>> {
    let tbs = tlv::tbs_certificate(leaf_der)?;
    let mut contents = Vec::with_capacity(tbs.contents.len());
    for elem in tlv::elements(tbs.contents)? {
        if elem.tag != 0xa3 {
            contents.extend_from_slice(elem.encoded);
            continue;
        }
        let (seq, rest) = tlv::read(elem.contents)?;
        if seq.tag != 0x30 || !rest.is_empty() {
            return None;
        }
        let mut kept = Vec::with_capacity(seq.contents.len());
        for ext in tlv::elements(seq.contents)? {
            let (oid, _) = tlv::read(ext.contents)?;
            if oid.tag == 0x06 && oid.contents == SCT_LIST_OID.as_bytes() {
                continue;
            }
            kept.extend_from_slice(ext.encoded);
        }
        if !kept.is_empty() {
            contents.extend_from_slice(&tlv::encode(0xa3, &tlv::encode(0x30, &kept)));
        }
    }
    Some(tlv::encode(0x30, &contents))
}

/// The bytes a log signs for a precertificate entry (RFC 6962 §3.2 `digitally-signed struct`).
pub(crate) fn signed_data(
    sct: &Sct,
    issuer_key_hash: &[u8; 32],
    precert_tbs: &[u8],
) -> Option<Vec<u8>> {
    let tbs_len = u32::try_from(precert_tbs.len()).ok()?;
    let ext_len = u16::try_from(sct.extensions.len()).ok()?;
    if tbs_len >= 1 << 24 {
        return None;
    }
    let mut out = Vec::with_capacity(precert_tbs.len() + sct.extensions.len() + 50);
    out.push(0); // sct_version v1
    out.push(0); // signature_type certificate_timestamp
    out.extend_from_slice(&sct.timestamp_millis.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes()); // entry_type precert_entry
    out.extend_from_slice(issuer_key_hash);
    out.extend_from_slice(&tbs_len.to_be_bytes()[1..]); // opaque TBSCertificate<1..2^24-1>
    out.extend_from_slice(precert_tbs);
    out.extend_from_slice(&ext_len.to_be_bytes()); // CtExtensions<0..2^16-1>
    out.extend_from_slice(&sct.extensions);
    Some(out)
}

/// Verifies the SCTs embedded in `leaf`, issued by `issuer`, against trusted `logs`.
///
/// Rules (sigstore-go `VerifySignedCertificateTimestamp` with threshold 1):
/// - SCTs from logs not in `logs` are skipped;
/// - an SCT from a trusted log whose `valid_for` does not contain the SCT's own
///   timestamp is skipped;
/// - an SCT from a trusted log whose signature does not verify is an error
///   (fail closed: conformance case `invalid-ct-key_fail`);
/// - at least one SCT must verify.
///
/// # Errors
/// Any [`SctError`].
pub fn verify_embedded_scts(
    leaf: &Certificate,
    issuer: &Certificate,
    logs: &[CtLog],
) -> Result<VerifiedScts, SctError> {
    let scts = parse_embedded_scts(leaf)?;
    let precert = precertificate_tbs(leaf.der()).ok_or(SctError::MalformedSctList {
        detail: "cannot rebuild the precertificate TBS from the leaf",
    })?;
    let issuer_key_hash: [u8; 32] = Sha256::digest(issuer.spki_der()).into();

    let mut verified = Vec::new();
    let (mut unknown_log, mut outside_validity) = (0, 0);
    for sct in &scts {
        let Some(log) = logs.iter().find(|l| l.log_id == sct.log_id) else {
            unknown_log += 1;
            continue;
        };
        if !log.valid_for.contains(sct.time()) {
            outside_validity += 1;
            continue;
        }
        if sct.hash_algorithm != HASH_SHA256 {
            return Err(SctError::UnsupportedHashAlgorithm {
                log_id: sct.log_id,
                hash: sct.hash_algorithm,
            });
        }
        let mismatch = SctError::SignatureMismatch {
            log_id: sct.log_id,
            timestamp_millis: sct.timestamp_millis,
        };
        let message = signed_data(sct, &issuer_key_hash, &precert).ok_or(mismatch.clone())?;
        log.key
            .verify(&message, &sct.signature)
            .map_err(|_| mismatch)?;
        verified.push(VerifiedSct {
            log_id: sct.log_id,
            timestamp_millis: sct.timestamp_millis,
        });
    }
    if verified.is_empty() {
        return Err(SctError::NoVerifiedSct {
            total: scts.len(),
            unknown_log,
            outside_validity,
        });
    }
    Ok(VerifiedScts { verified })
}

/// A cursor over TLS presentation-language bytes.
struct TlsReader<'a>(&'a [u8]);

impl<'a> TlsReader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)?.try_into().ok().map(u64::from_be_bytes)
    }
    fn array32(&mut self) -> Option<[u8; 32]> {
        self.take(32)?.try_into().ok()
    }
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let len = self.take(2)?;
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        self.take(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tlv::encode;

    fn extension(oid: &ObjectIdentifier, value: &[u8]) -> Vec<u8> {
        let mut contents = encode(0x06, oid.as_bytes());
        contents.extend(encode(0x04, value));
        encode(0x30, &contents)
    }

    fn cert_with_extensions(exts: &[Vec<u8>]) -> (Vec<u8>, Vec<u8>) {
        let head = [encode(0x02, &[1]), encode(0x30, &[])].concat();
        let ext_block = encode(0xa3, &encode(0x30, &exts.concat()));
        let tbs = encode(0x30, &[head.clone(), ext_block].concat());
        let cert = encode(0x30, &[tbs, encode(0x30, &[]), encode(0x03, &[0])].concat());
        (cert, head)
    }

    #[test]
    fn precert_tbs_drops_only_the_sct_extension() {
        let other = extension(&ObjectIdentifier::new_unwrap("2.5.29.19"), &[0x30, 0x00]);
        let sct = extension(&SCT_LIST_OID, &[0x04, 0x00]);
        let (cert, head) = cert_with_extensions(&[other.clone(), sct.clone(), other.clone()]);
        let expected = encode(
            0x30,
            &[
                head.clone(),
                encode(0xa3, &encode(0x30, &[other.clone(), other].concat())),
            ]
            .concat(),
        );
        assert_eq!(precertificate_tbs(&cert), Some(expected));
        // With only the SCT extension, the [3] block disappears.
        let (cert, head) = cert_with_extensions(&[sct]);
        assert_eq!(precertificate_tbs(&cert), Some(encode(0x30, &head)));
    }

    fn sct_bytes(version: u8, ext: &[u8]) -> Vec<u8> {
        let mut s = vec![version];
        s.extend([7u8; 32]);
        s.extend(1_700_000_000_000u64.to_be_bytes());
        s.extend((ext.len() as u16).to_be_bytes());
        s.extend(ext);
        s.extend([4, 3, 0, 2, 0xaa, 0xbb]);
        s
    }

    fn list(scts: &[Vec<u8>]) -> Vec<u8> {
        let mut body = Vec::new();
        for s in scts {
            body.extend((s.len() as u16).to_be_bytes());
            body.extend(s);
        }
        let mut tls = (body.len() as u16).to_be_bytes().to_vec();
        tls.extend(body);
        encode(0x04, &tls)
    }

    #[test]
    fn sct_list_parses_with_extensions() {
        let scts = parse_sct_list_extension(&list(&[sct_bytes(0, b"\x00\x01\x02")])).unwrap();
        assert_eq!(scts.len(), 1);
        assert_eq!(scts[0].extensions, b"\x00\x01\x02");
        assert_eq!(scts[0].timestamp_millis, 1_700_000_000_000);
        assert_eq!(scts[0].signature, [0xaa, 0xbb]);
        assert_eq!(scts[0].time(), UnixTime(1_700_000_000));
    }

    #[test]
    fn sct_list_errors_are_typed() {
        assert_eq!(
            parse_sct_list_extension(&list(&[sct_bytes(1, b"")])),
            Err(SctError::UnsupportedVersion { version: 1 })
        );
        assert!(matches!(
            parse_sct_list_extension(&list(&[])),
            Err(SctError::MalformedSctList {
                detail: "the SCT list is empty"
            })
        ));
        let mut truncated = sct_bytes(0, b"");
        truncated.pop();
        assert!(matches!(
            parse_sct_list_extension(&list(&[truncated])),
            Err(SctError::MalformedSctList { .. })
        ));
        assert!(matches!(
            parse_sct_list_extension(&[0x05, 0x00]),
            Err(SctError::MalformedSctList { .. })
        ));
    }

    #[test]
    fn signed_data_layout() {
        let sct = Sct {
            log_id: KeyId::from_bytes([0; 32]),
            timestamp_millis: 0x0102_0304_0506_0708,
            extensions: vec![0xee],
            hash_algorithm: 4,
            signature_algorithm: 3,
            signature: vec![],
        };
        let data = signed_data(&sct, &[0x11; 32], &[0x30, 0x00]).unwrap();
        let mut expected = vec![0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1];
        expected.extend([0x11; 32]);
        expected.extend([0, 0, 2, 0x30, 0x00, 0, 1, 0xee]);
        assert_eq!(data, expected);
    }
}
