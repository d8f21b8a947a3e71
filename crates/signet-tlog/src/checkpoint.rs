//! C2SP signed notes (`c2sp.org/signed-note`) and transparency-log checkpoints
//! (`c2sp.org/tlog-checkpoint`), as written by Rekor v1 and Rekor v2.
//!
//! # Key hints (key IDs)
//!
//! A signature line is `— <key name> base64(key hint (4 bytes) || signature)`. A
//! signature is checked only when **both** its key name and its key hint match a
//! configured [`NoteVerifier`]; all others (witness cosignatures, rotated keys) are
//! ignored, as the signed-note spec requires. [`KeyHint::for_key`] computes hints as
//! the Sigstore logs do:
//!
//! - **ECDSA** (Rekor v1, and Rekor v2 ECDSA keys): the first 4 bytes of SHA-256 of
//!   the key's PKIX `SubjectPublicKeyInfo` DER. Sources: rekor `pkg/util/signed_note.go`
//!   (`Sign`: `sha256.Sum256(x509.MarshalPKIXPublicKey(...))`), rekor-tiles
//!   `pkg/note/note.go` (`ecdsaKeyHash`), and C2SP signed-note type `0x02`. For Rekor
//!   v1 this equals the first 4 bytes of the log ID.
//! - **Ed25519** (Rekor v2): `SHA-256(key name || 0x0A || 0x01 || 32-byte key)[:4]`.
//!   Sources: C2SP signed-note §"Ed25519 signatures", rekor-tiles `ed25519KeyHash`.
//!   For Rekor v2 the full hash is the log ID.
//! - **RSA** (rekor-tiles only): `SHA-256(key name || 0x0A || 0xFF ||
//!   "PKIX-RSA-PKCS#1v1.5" || SPKI DER)[:4]` (rekor-tiles `rsaKeyHash`).
//!
//! Signatures are verified with [`signet_crypto::PublicKey::verify`]: ECDSA over
//! SHA-256 of the note text (what Rekor's `SignedNote.Verify` does), pure Ed25519 over
//! the note text.

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};
use signet_crypto::{KeyAlgorithm, KeyError, PublicKey, SignatureError, Signer};

use crate::merkle::{Hash, InclusionProof, ProofError, TreeSize};

/// The most signature lines a note may carry (the spec requires accepting 16).
pub const MAX_SIGNATURES: usize = 64;

/// The most bytes a note may have.
pub const MAX_NOTE_LEN: usize = 1 << 20;

/// The 4-byte key ID that starts every note signature.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHint(pub [u8; 4]);

impl fmt::Display for KeyHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyHint({self})")
    }
}

fn first4(digest: &[u8]) -> [u8; 4] {
    let mut out = [0u8; 4];
    out.copy_from_slice(&digest[..4]);
    out
}

impl KeyHint {
    /// The key hint the Sigstore logs use for `key` under the key name `name` (see the
    /// module docs for the rule per algorithm).
    pub fn for_key(name: &str, key: &PublicKey) -> KeyHint {
        let spki = key.spki_der();
        match key.algorithm() {
            KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 => {
                KeyHint(first4(key.key_id().as_bytes()))
            }
            KeyAlgorithm::Ed25519 => {
                // PublicKey::from_spki_der checked that an Ed25519 SPKI ends with the
                // 32-byte key.
                let raw = spki
                    .get(spki.len().saturating_sub(32)..)
                    .unwrap_or_default();
                let mut h = Sha256::new();
                h.update(name.as_bytes());
                h.update([0x0a, 0x01]);
                h.update(raw);
                KeyHint(first4(&h.finalize()))
            }
            _ => {
                let mut h = Sha256::new();
                h.update(name.as_bytes());
                h.update([0x0a, 0xff]);
                h.update(b"PKIX-RSA-PKCS#1v1.5");
                h.update(spki);
                KeyHint(first4(&h.finalize()))
            }
        }
    }
}

/// A key trusted to sign notes: a key name, a key hint and a public key.
#[derive(Clone)]
pub struct NoteVerifier {
    name: String,
    key_hint: KeyHint,
    key: PublicKey,
}

impl fmt::Debug for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteVerifier")
            .field("name", &self.name)
            .field("key_hint", &self.key_hint)
            .field("key_id", &self.key.key_id())
            .finish()
    }
}

impl NoteVerifier {
    /// A verifier for `key` under `name`, with the hint from [`KeyHint::for_key`].
    ///
    /// # Errors
    /// [`NoteError::InvalidKeyName`] when `name` is empty or has spaces or `+`.
    pub fn new(name: impl Into<String>, key: PublicKey) -> Result<Self, NoteError> {
        let name = name.into();
        let key_hint = KeyHint::for_key(&name, &key);
        Self::with_key_hint(name, key_hint, key)
    }

    /// A verifier with an explicit key hint.
    ///
    /// # Errors
    /// [`NoteError::InvalidKeyName`] when `name` is empty or has spaces or `+`.
    pub fn with_key_hint(
        name: impl Into<String>,
        key_hint: KeyHint,
        key: PublicKey,
    ) -> Result<Self, NoteError> {
        let name = name.into();
        if !is_valid_key_name(&name) {
            return Err(NoteError::InvalidKeyName { name });
        }
        Ok(NoteVerifier {
            name,
            key_hint,
            key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key hint.
    pub fn key_hint(&self) -> KeyHint {
        self.key_hint
    }

    /// The public key.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }
}

fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key hint (first 4 decoded bytes).
    pub key_hint: KeyHint,
    /// The signature (the decoded bytes after the hint).
    pub signature: Vec<u8>,
}

/// Why a note could not be parsed or verified.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// The note is larger than [`MAX_NOTE_LEN`].
    #[error("the note is {found} bytes, more than the limit of {limit}")]
    TooLarge {
        /// The note's length.
        found: usize,
        /// The limit.
        limit: usize,
    },
    /// The note is not UTF-8.
    #[error("the note is not valid UTF-8")]
    NotUtf8,
    /// The note has a control character other than newline.
    #[error(
        "the note has control character {found:#04x} at byte {offset}: notes may only contain newlines"
    )]
    ControlCharacter {
        /// Byte offset.
        offset: usize,
        /// The character.
        found: u8,
    },
    /// There is no blank line separating the text from the signatures.
    #[error("the note has no blank line before its signatures: it is not a signed note")]
    MissingSignatureSeparator,
    /// The note does not end with a newline.
    #[error("the note does not end with a newline: it was truncated")]
    MissingFinalNewline,
    /// The note has no signature lines.
    #[error("the note has no signatures: the log did not sign it")]
    NoSignatures,
    /// Too many signature lines.
    #[error("the note has {found} signatures, more than the limit of {limit}")]
    TooManySignatures {
        /// How many were found.
        found: usize,
        /// The limit.
        limit: usize,
    },
    /// A signature line is not `— <name> <base64>`.
    #[error("signature line {line} is not of the form `\u{2014} <name> <base64>`")]
    MalformedSignatureLine {
        /// 1-based number of the line within the signature block.
        line: usize,
    },
    /// A key name is empty or has spaces or `+`.
    #[error("key name {name:?} is invalid: it must be non-empty, without spaces or '+'")]
    InvalidKeyName {
        /// The name.
        name: String,
    },
    /// A signature is not standard padded base64.
    #[error("the signature by {name:?} is not valid base64")]
    MalformedSignatureBase64 {
        /// The key name.
        name: String,
    },
    /// A signature has no bytes after the 4-byte key hint.
    #[error(
        "the signature by {name:?} is {len} bytes, too short for a 4-byte key hint and a signature"
    )]
    SignatureTooShort {
        /// The key name.
        name: String,
        /// Decoded length.
        len: usize,
    },
    /// No signature was made by a known key (matching name and key hint).
    #[error(
        "no signature is from a trusted key: trusted {trusted:?}, signatures are from {found:?}; the note comes from another log or the trusted root is missing its key"
    )]
    NoMatchingSignature {
        /// (name, hint) of the configured verifiers.
        trusted: Vec<(String, KeyHint)>,
        /// (name, hint) of the signatures in the note.
        found: Vec<(String, KeyHint)>,
    },
    /// A signature from a known key did not verify.
    #[error(
        "the signature by {name:?} (key hint {key_hint}) does not verify: the note was altered or forged"
    )]
    SignatureInvalid {
        /// The key name.
        name: String,
        /// The key hint.
        key_hint: KeyHint,
        /// Why the signature was rejected.
        #[source]
        source: SignatureError,
    },
}

/// A parsed (not yet verified) signed note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// Parses a signed note strictly.
    ///
    /// # Errors
    /// Every [`NoteError`] except the two verification variants.
    pub fn parse(note: &[u8]) -> Result<Note, NoteError> {
        if note.len() > MAX_NOTE_LEN {
            return Err(NoteError::TooLarge {
                found: note.len(),
                limit: MAX_NOTE_LEN,
            });
        }
        let note = core::str::from_utf8(note).map_err(|_| NoteError::NotUtf8)?;
        if let Some((offset, &found)) = note
            .as_bytes()
            .iter()
            .enumerate()
            .find(|&(_, &b)| b < 0x20 && b != b'\n')
        {
            return Err(NoteError::ControlCharacter { offset, found });
        }
        let split = note
            .rfind("\n\n")
            .ok_or(NoteError::MissingSignatureSeparator)?;
        let text = &note[..=split];
        let sigs = &note[split + 2..];
        if sigs.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        let Some(sigs) = sigs.strip_suffix('\n') else {
            return Err(NoteError::MissingFinalNewline);
        };
        let lines: Vec<&str> = sigs.split('\n').collect();
        if lines.len() > MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures {
                found: lines.len(),
                limit: MAX_SIGNATURES,
            });
        }
        let mut signatures = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            let malformed = NoteError::MalformedSignatureLine { line: i + 1 };
            let rest = line.strip_prefix("\u{2014} ").ok_or(malformed.clone())?;
            let (name, b64) = rest.split_once(' ').ok_or(malformed.clone())?;
            if !is_valid_key_name(name) {
                return Err(NoteError::InvalidKeyName { name: name.into() });
            }
            let raw = STANDARD
                .decode(b64)
                .map_err(|_| NoteError::MalformedSignatureBase64 { name: name.into() })?;
            if raw.len() < 5 {
                return Err(NoteError::SignatureTooShort {
                    name: name.into(),
                    len: raw.len(),
                });
            }
            signatures.push(NoteSignature {
                name: name.into(),
                key_hint: KeyHint(first4(&raw)),
                signature: raw[4..].to_vec(),
            });
        }
        Ok(Note {
            text: text.into(),
            signatures,
        })
    }

    /// The signed text, including its final newline.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Verifies the note: every signature whose name and key hint match a verifier
    /// must verify, and at least one must. Returns the names of the keys that signed.
    ///
    /// # Errors
    /// [`NoteError::SignatureInvalid`] and [`NoteError::NoMatchingSignature`].
    pub fn verify(&self, verifiers: &[NoteVerifier]) -> Result<Vec<String>, NoteError> {
        let mut signed_by = Vec::new();
        for sig in &self.signatures {
            let candidates: Vec<&NoteVerifier> = verifiers
                .iter()
                .filter(|v| v.name == sig.name && v.key_hint == sig.key_hint)
                .collect();
            let Some(first) = candidates.first() else {
                continue;
            };
            let mut last_err = None;
            for v in &candidates {
                match v.key.verify(self.text.as_bytes(), &sig.signature) {
                    Ok(()) => {
                        last_err = None;
                        break;
                    }
                    Err(e) => last_err = Some(e),
                }
            }
            if let Some(source) = last_err {
                return Err(NoteError::SignatureInvalid {
                    name: first.name.clone(),
                    key_hint: first.key_hint,
                    source,
                });
            }
            signed_by.push(sig.name.clone());
        }
        if signed_by.is_empty() {
            return Err(NoteError::NoMatchingSignature {
                trusted: verifiers
                    .iter()
                    .map(|v| (v.name.clone(), v.key_hint))
                    .collect(),
                found: self
                    .signatures
                    .iter()
                    .map(|s| (s.name.clone(), s.key_hint))
                    .collect(),
            });
        }
        Ok(signed_by)
    }
}

/// Parses and verifies a signed note; returns its text and the names of the keys
/// that signed it. See [`Note::verify`] for the rules.
///
/// # Errors
/// Any [`NoteError`].
pub fn verify_note(
    note: &[u8],
    verifiers: &[NoteVerifier],
) -> Result<(String, Vec<String>), NoteError> {
    let parsed = Note::parse(note)?;
    let signed_by = parsed.verify(verifiers)?;
    Ok((parsed.text, signed_by))
}

/// Why a note could not be signed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignNoteError {
    /// The key name is empty or has spaces or `+`.
    #[error("key name {name:?} is invalid: it must be non-empty, without spaces or '+'")]
    InvalidKeyName {
        /// The name.
        name: String,
    },
    /// The text cannot be the text of a signed note: empty, not ending in a newline,
    /// with a blank line (which would end the text early), or with a control character.
    #[error(
        "the note text is not signable: {detail}; a note text is non-empty lines, each ending in a newline"
    )]
    MalformedText {
        /// What is wrong with it.
        detail: &'static str,
    },
    /// The key failed to sign.
    #[error("the note could not be signed: {0}")]
    Signing(#[source] KeyError),
}

/// Signs a note text with `signer` under `key_name`, the way Rekor v1 signs its
/// checkpoints (rekor `pkg/util/signed_note.go`): the signature line is
/// `— <key_name> base64(key hint || signature)`, with the hint of [`KeyHint::for_key`]
/// and the signature over the text bytes (ECDSA: ASN.1 DER over SHA-256; Ed25519: over
/// the text). Returns the whole signed note: text, blank line, signature line.
///
/// The counterpart of [`Note::verify`]: a note signed here verifies with
/// `NoteVerifier::new(key_name, signer.public_key().clone())`.
///
/// # Errors
/// [`SignNoteError::InvalidKeyName`], [`SignNoteError::MalformedText`] and
/// [`SignNoteError::Signing`].
pub fn sign_note(text: &str, key_name: &str, signer: &dyn Signer) -> Result<String, SignNoteError> {
    if !is_valid_key_name(key_name) {
        return Err(SignNoteError::InvalidKeyName {
            name: key_name.into(),
        });
    }
    let malformed = |detail| Err(SignNoteError::MalformedText { detail });
    if text.is_empty() {
        return malformed("it is empty");
    }
    if !text.ends_with('\n') {
        return malformed("it does not end with a newline");
    }
    if text.starts_with('\n') || text.contains("\n\n") {
        return malformed("it has an empty line");
    }
    if text.bytes().any(|b| b < 0x20 && b != b'\n') {
        return malformed("it has a control character");
    }
    let hint = KeyHint::for_key(key_name, signer.public_key());
    let signature = signer
        .sign(text.as_bytes())
        .map_err(SignNoteError::Signing)?;
    let mut raw = Vec::with_capacity(4 + signature.len());
    raw.extend_from_slice(&hint.0);
    raw.extend_from_slice(&signature);
    Ok(format!(
        "{text}\n\u{2014} {key_name} {}\n",
        STANDARD.encode(raw)
    ))
}

/// The body of a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line.
    pub origin: String,
    /// The tree size.
    pub tree_size: TreeSize,
    /// The RFC 6962 root hash at that size.
    pub root_hash: Hash,
    /// Extension lines (opaque, may be empty), without newlines.
    pub extensions: Vec<String>,
}

/// Why a checkpoint was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The signed note around it is malformed or does not verify.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// Fewer than the three mandatory lines (origin, size, root hash).
    #[error("the checkpoint has {found} lines; it needs an origin, a tree size and a root hash")]
    MissingLines {
        /// How many body lines there were.
        found: usize,
    },
    /// An empty line inside the body.
    #[error("checkpoint line {line} is empty; checkpoint lines must be non-empty")]
    EmptyLine {
        /// 1-based line number.
        line: usize,
    },
    /// The text does not end with a newline.
    #[error("the checkpoint text does not end with a newline")]
    MissingFinalNewline,
    /// The size line is not a canonical decimal `u64`.
    #[error("checkpoint tree size {found:?} is not a decimal number without leading zeros")]
    MalformedTreeSize {
        /// The line.
        found: String,
    },
    /// The root line is not standard base64 of 32 bytes.
    #[error("checkpoint root hash {found:?} is not the base64 of a 32-byte hash")]
    MalformedRootHash {
        /// The line.
        found: String,
    },
}

impl Checkpoint {
    /// Parses a checkpoint body (the note text, ending in a newline).
    ///
    /// # Errors
    /// Every [`CheckpointError`] except [`CheckpointError::Note`].
    pub fn parse_body(text: &str) -> Result<Checkpoint, CheckpointError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::MissingFinalNewline)?;
        let lines: Vec<&str> = body.split('\n').collect();
        if let Some(i) = lines.iter().position(|l| l.is_empty()) {
            return Err(CheckpointError::EmptyLine { line: i + 1 });
        }
        let [origin, size, root, extensions @ ..] = lines.as_slice() else {
            return Err(CheckpointError::MissingLines { found: lines.len() });
        };
        let bad_size = || CheckpointError::MalformedTreeSize {
            found: (*size).into(),
        };
        if !size.bytes().all(|b| b.is_ascii_digit()) || (size.len() > 1 && size.starts_with('0')) {
            return Err(bad_size());
        }
        let tree_size = size.parse::<u64>().map_err(|_| bad_size())?;
        let root_hash = STANDARD
            .decode(root)
            .ok()
            .and_then(|b| Hash::try_from(b.as_slice()).ok())
            .ok_or_else(|| CheckpointError::MalformedRootHash {
                found: (*root).into(),
            })?;
        Ok(Checkpoint {
            origin: (*origin).into(),
            tree_size: TreeSize(tree_size),
            root_hash,
            extensions: extensions.iter().map(|s| (*s).to_string()).collect(),
        })
    }

    /// The note text of this checkpoint (what a log signs).
    pub fn to_body(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.tree_size,
            STANDARD.encode(self.root_hash.0)
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }
}

/// A checkpoint whose note signature has been verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    checkpoint: Checkpoint,
    signed_by: Vec<String>,
}

impl VerifiedCheckpoint {
    /// The checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The names of the trusted keys whose signatures verified.
    pub fn signed_by(&self) -> &[String] {
        &self.signed_by
    }
}

/// Parses a signed checkpoint strictly, then verifies its signatures with
/// `verifiers` (see [`Note::verify`]).
///
/// The body is parsed before signatures are checked, so a malformed checkpoint is
/// reported as malformed even when it is also unsigned. The origin is not compared
/// with anything here: Rekor v1 origins carry a tree ID (`rekor.sigstore.dev -
/// 2605736670972794746`) that the trusted root does not know; compare
/// [`Checkpoint::origin`] yourself when you know it.
///
/// # Errors
/// Any [`CheckpointError`].
pub fn verify_checkpoint(
    note: &[u8],
    verifiers: &[NoteVerifier],
) -> Result<VerifiedCheckpoint, CheckpointError> {
    let parsed = Note::parse(note)?;
    let checkpoint = Checkpoint::parse_body(parsed.text())?;
    let signed_by = parsed.verify(verifiers)?;
    Ok(VerifiedCheckpoint {
        checkpoint,
        signed_by,
    })
}

/// Why an inclusion proof does not tie to a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointInclusionError {
    /// The proof itself does not verify against its own root.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// The proof is for a different tree size than the checkpoint.
    #[error(
        "the inclusion proof is for tree size {proof}, the checkpoint for {checkpoint}: the checkpoint does not apply to this proof"
    )]
    TreeSizeMismatch {
        /// Size in the proof.
        proof: TreeSize,
        /// Size in the checkpoint.
        checkpoint: TreeSize,
    },
    /// The proof's root differs from the checkpoint's.
    #[error(
        "the inclusion proof's root {proof} differs from the checkpoint's root {checkpoint}: the checkpoint does not apply to this proof"
    )]
    RootHashMismatch {
        /// Root in the proof.
        proof: Hash,
        /// Root in the checkpoint.
        checkpoint: Hash,
    },
}

/// Verifies that `leaf_hash` is in the log at the state a verified checkpoint commits to.
///
/// Order (as rekor's `VerifyInclusion` then `VerifyCheckpointSignature`): the proof is
/// verified against its own root first, then its size and root must equal the
/// checkpoint's.
///
/// # Errors
/// Any [`CheckpointInclusionError`].
pub fn verify_inclusion_against_checkpoint(
    checkpoint: &VerifiedCheckpoint,
    leaf_hash: &Hash,
    proof: &InclusionProof,
) -> Result<(), CheckpointInclusionError> {
    proof.verify(leaf_hash)?;
    let cp = &checkpoint.checkpoint;
    if proof.tree_size != cp.tree_size {
        return Err(CheckpointInclusionError::TreeSizeMismatch {
            proof: proof.tree_size,
            checkpoint: cp.tree_size,
        });
    }
    if proof.root_hash != cp.root_hash {
        return Err(CheckpointInclusionError::RootHashMismatch {
            proof: proof.root_hash,
            checkpoint: cp.root_hash,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
