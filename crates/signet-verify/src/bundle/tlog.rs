//! Step (a): the bundle's transparency log entries.
//!
//! For each entry: the log key by log ID from the trusted root; the inclusion proof
//! against its checkpoint, which that log must have signed; the signed entry timestamp
//! (Rekor v1); the canonicalized body against the bundle (signature, key or
//! certificate, artifact or DSSE digests); the integrated time not in the future and
//! inside the log key's validity window.

use std::collections::HashSet;

use base64::Engine as _;
use signet_crypto::PublicKey;
use signet_formats::sigstore::{Bundle, BundleContent, Envelope, TransparencyLogEntry, UnixTime};
use signet_tlog::checkpoint::{
    CheckpointInclusionError, Note, NoteVerifier, verify_checkpoint,
    verify_inclusion_against_checkpoint,
};
use signet_tlog::entry::{EntryBody, V2Verifier};
use signet_tlog::merkle::{Hash, InclusionProof, leaf_hash};
use signet_tlog::set::verify_set;
use signet_tlog::{LogIndex, TreeSize};

use super::{
    BodyField, BundleError, BundleVerifier, MAX_TLOG_ENTRIES, TrustedLog, VerifiedTlogEntry, cache,
    logged_envelope, sha256,
};

/// The signer the entries must name: the bundle's leaf certificate, or the policy key.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Signer<'a> {
    /// The leaf certificate's DER.
    Certificate(&'a [u8]),
    /// The key from the policy.
    Key(&'a PublicKey),
}

impl Signer<'_> {
    /// Whether the PEM text in an entry names this signer. The PEM is decoded
    /// leniently (any line length), as Rekor stores whatever the client submitted.
    fn matches_pem(&self, pem: &[u8]) -> bool {
        let Some((label, der)) = pem_der(pem) else {
            return false;
        };
        match self {
            Signer::Certificate(cert) => label == "CERTIFICATE" && der == *cert,
            Signer::Key(key) => label == "PUBLIC KEY" && der == key.spki_der(),
        }
    }

    fn matches_v2(&self, verifier: &V2Verifier) -> bool {
        match (self, verifier) {
            (Signer::Certificate(der), V2Verifier::X509Certificate { der: d, .. }) => d == der,
            (Signer::Key(key), V2Verifier::PublicKey { der: d, .. }) => d == key.spki_der(),
            _ => false,
        }
    }
}

/// The label and DER of the first PEM block in `pem`.
fn pem_der(pem: &[u8]) -> Option<(String, Vec<u8>)> {
    let text = std::str::from_utf8(pem).ok()?;
    let mut lines = text
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("-----BEGIN "));
    let label = lines
        .next()?
        .strip_prefix("-----BEGIN ")?
        .strip_suffix("-----")?
        .to_owned();
    let end = format!("-----END {label}-----");
    let mut b64 = String::new();
    for line in lines {
        if line == end {
            let der = base64::engine::general_purpose::STANDARD
                .decode(&b64)
                .ok()?;
            return Some((label, der));
        }
        b64.push_str(line);
    }
    None
}

/// Verifies every tlog entry of `bundle`.
pub(crate) fn verify_entries(
    verifier: &BundleVerifier,
    bundle: &Bundle,
    signer: &Signer<'_>,
    artifact_sha256: &[u8; 32],
    now: UnixTime,
) -> Result<Vec<VerifiedTlogEntry>, BundleError> {
    let entries = &bundle.verification_material.tlog_entries;
    if entries.is_empty() {
        return Err(BundleError::NoTlogEntries);
    }
    // Limit the number of entries (DoS), and refuse duplicates (threshold bypass).
    if entries.len() > MAX_TLOG_ENTRIES {
        return Err(BundleError::TooManyTlogEntries {
            found: entries.len(),
            limit: MAX_TLOG_ENTRIES,
        });
    }
    let mut seen = HashSet::new();
    let mut verified = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if !seen.insert((&e.log_id.key_id, e.log_index, &e.canonicalized_body)) {
            return Err(BundleError::DuplicateTlogEntry { entry: i });
        }
        verified.push(verify_entry(
            verifier,
            i,
            e,
            bundle,
            signer,
            artifact_sha256,
            now,
        )?);
    }
    Ok(verified)
}

fn verify_entry(
    verifier: &BundleVerifier,
    i: usize,
    e: &TransparencyLogEntry,
    bundle: &Bundle,
    signer: &Signer<'_>,
    artifact_sha256: &[u8; 32],
    now: UnixTime,
) -> Result<VerifiedTlogEntry, BundleError> {
    let log = verifier
        .tlog(&e.log_id.key_id)
        .ok_or_else(|| BundleError::UnknownLog {
            entry: i,
            log_id: hex::encode(&e.log_id.key_id),
        })?;

    if let Some(proof) = &e.inclusion_proof {
        verify_inclusion(verifier, i, e, log, proof)?;
    }

    let mut set_verified = false;
    if let Some(promise) = &e.inclusion_promise {
        let verify = || {
            verify_set(
                &log.key,
                &e.canonicalized_body,
                e.integrated_time.0,
                &log.log_id_hex,
                LogIndex(e.log_index.0),
                &promise.signed_entry_timestamp,
            )
        };
        match verifier.cache() {
            Some(c) => c.set(
                cache::key(&[
                    b"set",
                    log.log_id_hex.as_bytes(),
                    &e.canonicalized_body,
                    &e.integrated_time.0.to_be_bytes(),
                    &e.log_index.0.to_be_bytes(),
                    &promise.signed_entry_timestamp,
                ]),
                verify,
            ),
            None => verify(),
        }
        .map_err(|source| BundleError::SetInvalid { entry: i, source })?;
        set_verified = true;
    }

    let body = EntryBody::parse(&e.canonicalized_body)
        .map_err(|source| BundleError::MalformedTlogBody { entry: i, source })?;
    check_body(i, &body, &bundle.content, signer, artifact_sha256)?;

    // Rekor v2 entries have no integrated time (0): their time comes from RFC 3161.
    let integrated = e.integrated_time;
    if integrated.0 != 0 {
        if integrated > now {
            return Err(BundleError::IntegratedTimeInFuture {
                entry: i,
                integrated_time: integrated,
                now,
            });
        }
        if !log.valid_for.contains(integrated) {
            return Err(BundleError::LogKeyNotValidAt {
                entry: i,
                integrated_time: integrated,
                window: log.valid_for,
            });
        }
    }
    Ok(VerifiedTlogEntry {
        log_index: e.log_index.0,
        log_id: log.log_id_hex.clone(),
        // The integrated time is signed only in the SET: an inclusion proof alone does
        // not vouch for it (sigstore-go does the same).
        integrated_time: (set_verified && integrated.0 != 0).then_some(integrated),
    })
}

fn verify_inclusion(
    verifier: &BundleVerifier,
    i: usize,
    e: &TransparencyLogEntry,
    log: &TrustedLog,
    proof: &signet_formats::sigstore::InclusionProof,
) -> Result<(), BundleError> {
    let hash = |b: &[u8]| {
        Hash::try_from(b)
            .map_err(|source| BundleError::MalformedInclusionProof { entry: i, source })
    };
    let merkle_proof = InclusionProof {
        log_index: LogIndex(proof.log_index.0),
        tree_size: TreeSize(proof.tree_size.0),
        root_hash: hash(&proof.root_hash)?,
        hashes: proof
            .hashes
            .iter()
            .map(|h| hash(h))
            .collect::<Result<Vec<_>, _>>()?,
    };
    let leaf = leaf_hash(&e.canonicalized_body);
    let Some(checkpoint) = &proof.checkpoint else {
        // Only v0.1 bundles may lack a checkpoint; their SET is then what binds the
        // entry to the log. The proof must still be self-consistent.
        return merkle_proof
            .verify(&leaf)
            .map_err(|source| BundleError::InclusionProofInvalid {
                entry: i,
                source: CheckpointInclusionError::Proof(source),
            });
    };
    let note = checkpoint.envelope.as_bytes();
    // Rekor v1 or v2, decided as sigstore-go does (`hasRekorV1STH`).
    let v2_host = if has_rekor_v1_origin(&checkpoint.envelope) {
        None
    } else {
        Some(
            log.host
                .as_deref()
                .ok_or_else(|| BundleError::CheckpointLogWithoutHost {
                    entry: i,
                    log_id: log.log_id_hex.clone(),
                })?,
        )
    };
    let verify = || {
        let names: Vec<String> = match v2_host {
            // Rekor v2 (sigstore-go `VerifyCheckpointAndInclusion`): the log signs under
            // the host name of its baseUrl.
            Some(host) => vec![host.to_owned()],
            // Rekor v1 (rekor `VerifyCheckpointSignature`): the log's key under any name
            // the note carries: the checkpoint's origin and the names on its signature
            // lines. The key hint (and, for Ed25519, the name inside it) must still
            // match the log's key, and the signature must verify with it.
            None => {
                let mut names: Vec<String> = Vec::new();
                if let Ok(parsed) = Note::parse(note) {
                    if let Some(origin) = parsed.text().lines().next() {
                        names.push(origin.to_owned());
                    }
                    for s in parsed.signatures() {
                        if !names.contains(&s.name) {
                            names.push(s.name.clone());
                        }
                    }
                }
                names
            }
        };
        let verifiers: Vec<NoteVerifier> = names
            .into_iter()
            .filter_map(|n| NoteVerifier::new(n, log.key.clone()).ok())
            .collect();
        verify_checkpoint(note, &verifiers)
    };
    let verified = match verifier.cache() {
        Some(c) => c.checkpoint(
            cache::key(&[
                b"checkpoint",
                log.log_id_hex.as_bytes(),
                note,
                v2_host.unwrap_or_default().as_bytes(),
            ]),
            verify,
        ),
        None => verify(),
    }
    .map_err(|source| BundleError::CheckpointUnverified { entry: i, source })?;
    if let Some(host) = v2_host {
        let origin = &verified.checkpoint().origin;
        if origin != host {
            return Err(BundleError::CheckpointOriginMismatch {
                entry: i,
                origin: origin.clone(),
                expected: host.to_owned(),
            });
        }
    }
    verify_inclusion_against_checkpoint(&verified, &leaf, &merkle_proof)
        .map_err(|source| BundleError::InclusionProofInvalid { entry: i, source })
}

/// Whether a checkpoint is a Rekor v1 signed tree head: its first line is
/// `<anything> - <decimal tree ID>` and it has at least four lines (sigstore-go
/// `hasRekorV1STH`, regexp `.* - [0-9]+$`).
pub(crate) fn has_rekor_v1_origin(envelope: &str) -> bool {
    let mut lines = envelope.split('\n');
    let first = lines.next().unwrap_or_default();
    if lines.count() < 3 {
        return false;
    }
    let head = first.trim_end_matches(|c: char| c.is_ascii_digit());
    head.len() < first.len() && head.ends_with(" - ")
}

/// Entries without an integrated time (Rekor v2): the log key's validity window must
/// contain the time of every verified RFC 3161 timestamp, the only times the bundle has.
pub(crate) fn check_untimed_entries(
    verifier: &BundleVerifier,
    bundle: &Bundle,
    timestamp_times: &[UnixTime],
) -> Result<(), BundleError> {
    for (i, e) in bundle.verification_material.tlog_entries.iter().enumerate() {
        if e.integrated_time.0 != 0 {
            continue;
        }
        let Some(log) = verifier.tlog(&e.log_id.key_id) else {
            continue; // unknown logs were refused by verify_entries
        };
        if let Some(t) = timestamp_times
            .iter()
            .find(|t| !log.valid_for.contains(**t))
        {
            return Err(BundleError::LogKeyNotValidAtTimestamp {
                entry: i,
                time: *t,
                window: log.valid_for,
            });
        }
    }
    Ok(())
}

fn mismatch(entry: usize, field: BodyField, detail: impl Into<String>) -> BundleError {
    BundleError::TlogBodyMismatch {
        entry,
        field,
        detail: detail.into(),
    }
}

fn check_digest(
    i: usize,
    logged: Option<[u8; 32]>,
    expected: &[u8; 32],
    what: &str,
) -> Result<(), BundleError> {
    if logged.as_ref() == Some(expected) {
        Ok(())
    } else {
        Err(mismatch(
            i,
            BodyField::Digest,
            format!(
                "{what}: expected sha256:{}, entry has {}",
                hex::encode(expected),
                logged.map_or_else(
                    || "a non-sha256 digest".to_owned(),
                    |d| format!("sha256:{}", hex::encode(d))
                )
            ),
        ))
    }
}

/// The envelope hash a `dsse` or `intoto` entry logged must be the hash of the bundle's
/// envelope as some client encoded it (see [`logged_envelope`]).
fn check_envelope_hash(
    i: usize,
    logged: Option<[u8; 32]>,
    matches: impl Fn(&[u8; 32]) -> bool,
    what: &str,
) -> Result<(), BundleError> {
    match logged {
        Some(h) if matches(&h) => Ok(()),
        Some(h) => Err(mismatch(
            i,
            BodyField::Digest,
            format!(
                "{what} sha256:{} is not the hash of the bundle's envelope in any encoding a Sigstore client submits: the envelope (payload type, payload, signatures or keyids) differs from the one logged; use the bundle as the signer wrote it",
                hex::encode(h)
            ),
        )),
        None => Err(mismatch(
            i,
            BodyField::Digest,
            format!("{what} is not a sha256 digest: only sha256 envelope hashes are checked"),
        )),
    }
}

fn check_verifier(i: usize, ok: bool) -> Result<(), BundleError> {
    if ok {
        Ok(())
    } else {
        Err(mismatch(
            i,
            BodyField::Verifier,
            "the entry names another key or certificate than the bundle's signer",
        ))
    }
}

fn check_signature(i: usize, ok: bool) -> Result<(), BundleError> {
    if ok {
        Ok(())
    } else {
        Err(mismatch(
            i,
            BodyField::Signature,
            "the entry holds another signature than the bundle",
        ))
    }
}

/// Every signature of `env` is logged (`is_sig`), by a verifier that is the bundle's
/// signer (`by_signer`), and the entry logs no other signature.
fn check_logged_signatures<L>(
    i: usize,
    env: &Envelope,
    logged: &[L],
    is_sig: impl Fn(&L, &[u8]) -> bool,
    by_signer: impl Fn(&L) -> bool,
) -> Result<(), BundleError> {
    check_signature(i, logged.len() == env.signatures.len())?;
    for s in &env.signatures {
        let found = logged.iter().find(|l| is_sig(l, &s.sig));
        check_signature(i, found.is_some())?;
        check_verifier(i, found.is_some_and(&by_signer))?;
    }
    Ok(())
}

fn single_signature(env: &Envelope) -> Result<&[u8], BundleError> {
    match env.signatures.as_slice() {
        [sig] => Ok(&sig.sig),
        other => Err(BundleError::DsseSignatureCount { found: other.len() }),
    }
}

/// The body must describe this bundle.
fn check_body(
    i: usize,
    body: &EntryBody,
    content: &BundleContent,
    signer: &Signer<'_>,
    artifact_sha256: &[u8; 32],
) -> Result<(), BundleError> {
    match (body, content) {
        (EntryBody::HashedRekordV001(h), BundleContent::MessageSignature(ms)) => {
            check_digest(i, h.artifact_sha256(), artifact_sha256, "artifact digest")?;
            check_signature(i, h.signature == ms.signature)?;
            check_verifier(i, signer.matches_pem(&h.verifier_pem))
        }
        (EntryBody::HashedRekordV002(h), BundleContent::MessageSignature(ms)) => {
            check_digest(i, h.artifact_sha256(), artifact_sha256, "artifact digest")?;
            check_signature(i, h.signature == ms.signature)?;
            check_verifier(i, signer.matches_v2(&h.verifier))
        }
        (EntryBody::HashedRekordV002(h), BundleContent::DsseEnvelope(env)) => {
            // hashedrekord-over-DSSE (rekor-v2-spec §6.1.4): the digest of the PAE.
            check_digest(
                i,
                h.artifact_sha256(),
                &sha256(&env.pae()),
                "dsse PAE digest",
            )?;
            check_signature(i, h.signature == single_signature(env)?)?;
            check_verifier(i, signer.matches_v2(&h.verifier))
        }
        (EntryBody::DsseV001(d), BundleContent::DsseEnvelope(env)) => {
            check_digest(
                i,
                d.payload_hash.sha256(),
                &sha256(&env.payload),
                "dsse payload hash",
            )?;
            check_logged_signatures(
                i,
                env,
                &d.signatures,
                |l, sig| l.signature == sig,
                |l| signer.matches_pem(&l.verifier_pem),
            )?;
            // envelopeHash is not compared: Rekor hashes the text the client sent, which
            // only fixes unsigned encoding details once the payload hash and the
            // signatures above match (sigstore-go, -python and -js do not compare it).
            Ok(())
        }
        (EntryBody::DsseV002(d), BundleContent::DsseEnvelope(env)) => {
            check_digest(
                i,
                d.payload_hash.sha256(),
                &sha256(&env.payload),
                "dsse payload hash",
            )?;
            check_logged_signatures(
                i,
                env,
                &d.signatures,
                |l, sig| l.content == sig,
                |l| signer.matches_v2(&l.verifier),
            )
        }
        (EntryBody::IntotoV002(t), BundleContent::DsseEnvelope(env)) => {
            check_digest(
                i,
                t.payload_hash.sha256(),
                &sha256(&env.payload),
                "intoto payload hash",
            )?;
            if t.payload_type != env.payload_type {
                return Err(mismatch(
                    i,
                    BodyField::Digest,
                    format!(
                        "payload type: bundle has {:?}, entry has {:?}",
                        env.payload_type, t.payload_type
                    ),
                ));
            }
            if let Some(field) = &t.payload_field {
                let decoded = base64::engine::general_purpose::STANDARD.decode(field);
                if decoded.as_deref().ok() != Some(env.payload.as_slice()) {
                    return Err(mismatch(
                        i,
                        BodyField::Digest,
                        "the logged envelope payload differs from the bundle's",
                    ));
                }
            }
            check_logged_signatures(
                i,
                env,
                &t.signatures,
                |l, sig| l.signature().as_deref() == Some(sig),
                |l| signer.matches_pem(&l.public_key_pem),
            )?;
            // content.hash is not compared, for the reason given for dsse envelopeHash.
            Ok(())
        }
        (EntryBody::IntotoV001(t), BundleContent::DsseEnvelope(env)) => {
            check_verifier(i, signer.matches_pem(&t.public_key_pem))?;
            match (&t.payload_hash, &t.hash) {
                (Some(ph), _) => {
                    check_digest(i, ph.sha256(), &sha256(&env.payload), "intoto payload hash")
                }
                // Without a payload hash only the envelope hash ties the entry to this
                // envelope, so it must match the envelope as some client encoded it.
                (None, Some(h)) => check_envelope_hash(
                    i,
                    h.sha256(),
                    |h| logged_envelope::envelope_hash_matches(env, h),
                    "content.hash",
                ),
                (None, None) => Err(mismatch(
                    i,
                    BodyField::Digest,
                    "the intoto entry carries neither a payload hash nor an envelope hash, so it does not name this envelope",
                )),
            }
        }
        (body, content) => Err(mismatch(
            i,
            BodyField::Kind,
            format!(
                "a {} {} entry cannot log a {} bundle",
                body.kind(),
                body.api_version(),
                match content {
                    BundleContent::MessageSignature(_) => "messageSignature",
                    BundleContent::DsseEnvelope(_) => "dsseEnvelope",
                }
            ),
        )),
    }
}
