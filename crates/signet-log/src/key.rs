//! The log's signing key: an ECDSA P-256 key in `log-key.pem` (PKCS#8, mode 0600)
//! under the data directory, generated on first start.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use signet_crypto::{KeyAlgorithm, PrivateKey, PublicKey, Signer as _};
use signet_tlog::checkpoint::{Checkpoint, sign_note};
use signet_tlog::merkle::Hash;
use signet_tlog::set::sign_set;
use signet_tlog::{LogIndex, TreeSize};

use crate::error::LogError;

/// The file name of the log key inside the data directory.
pub const KEY_FILE: &str = "log-key.pem";
const PEM_LABEL: &str = "PRIVATE KEY";

/// The log key with everything derived from it.
pub(crate) struct LogKey {
    key: PrivateKey,
    /// Lowercase hex SHA-256 of the SPKI DER (Rekor's log ID).
    log_id_hex: String,
}

impl std::fmt::Debug for LogKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogKey")
            .field("log_id", &self.log_id_hex)
            .finish_non_exhaustive()
    }
}

fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEY_FILE)
}

impl LogKey {
    /// Loads `data_dir/log-key.pem`, or generates and writes it (0600, fsynced,
    /// atomically renamed into place) when there is none.
    pub(crate) fn load_or_generate(data_dir: &Path) -> Result<Self, LogError> {
        let path = key_path(data_dir);
        match fs::read(&path) {
            Ok(pem) => Self::from_pem(&path, &pem),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).map_err(|source| {
                    LogError::Key {
                        path: path.clone(),
                        detail: source.to_string(),
                    }
                })?;
                write_private(&path, &key)?;
                Ok(Self::new(key))
            }
            Err(source) => Err(LogError::Io {
                action: "reading the log key",
                path,
                source,
            }),
        }
    }

    /// Loads the key of an existing log (`fsck`); never generates one.
    pub(crate) fn load(data_dir: &Path) -> Result<Self, LogError> {
        let path = key_path(data_dir);
        let pem = fs::read(&path).map_err(|source| LogError::Io {
            action: "reading the log key",
            path: path.clone(),
            source,
        })?;
        Self::from_pem(&path, &pem)
    }

    fn from_pem(path: &Path, pem: &[u8]) -> Result<Self, LogError> {
        let bad = |detail: String| LogError::Key {
            path: path.to_owned(),
            detail,
        };
        let (label, der) =
            pem_rfc7468::decode_vec(pem).map_err(|e| bad(format!("not PEM: {e}")))?;
        if label != PEM_LABEL {
            return Err(bad(format!("PEM label {label:?}, expected {PEM_LABEL:?}")));
        }
        let key = PrivateKey::from_pkcs8_der(&der).map_err(|e| bad(e.to_string()))?;
        if key.algorithm() != KeyAlgorithm::EcdsaP256 {
            return Err(bad(format!(
                "the log key is {}; Rekor v1 clients expect ecdsa-p256",
                key.algorithm()
            )));
        }
        Ok(Self::new(key))
    }

    fn new(key: PrivateKey) -> Self {
        let log_id_hex = hex::encode(key.public_key().key_id().as_bytes());
        LogKey { key, log_id_hex }
    }

    pub(crate) fn public_key(&self) -> &PublicKey {
        self.key.public_key()
    }

    pub(crate) fn log_id_hex(&self) -> &str {
        &self.log_id_hex
    }

    /// Signs `message` with the log key (ECDSA over SHA-256).
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, LogError> {
        self.key.sign(message).map_err(|e| LogError::Signing {
            what: "a message",
            detail: e.to_string(),
        })
    }

    /// A Rekor v1 checkpoint: origin `<hostname> - <tree ID>`, signed under
    /// `hostname` (rekor `CreateAndSignCheckpoint`).
    pub(crate) fn sign_checkpoint(
        &self,
        hostname: &str,
        tree_id: i64,
        tree_size: TreeSize,
        root: Hash,
    ) -> Result<String, LogError> {
        let text = Checkpoint {
            origin: format!("{hostname} - {tree_id}"),
            tree_size,
            root_hash: root,
            extensions: Vec::new(),
        }
        .to_body();
        sign_note(&text, hostname, &self.key).map_err(|e| LogError::Signing {
            what: "a checkpoint",
            detail: e.to_string(),
        })
    }

    /// The signed entry timestamp of an entry.
    pub(crate) fn sign_set(
        &self,
        body: &[u8],
        integrated_time: i64,
        index: LogIndex,
    ) -> Result<Vec<u8>, LogError> {
        sign_set(&self.key, body, integrated_time, &self.log_id_hex, index).map_err(|e| {
            LogError::Signing {
                what: "a signed entry timestamp",
                detail: e.to_string(),
            }
        })
    }
}

/// Writes the key 0600 to a temporary file, fsyncs it, renames it into place and
/// fsyncs the directory, so a crash leaves either no key file or a whole one.
fn write_private(path: &Path, key: &PrivateKey) -> Result<(), LogError> {
    let der = key.to_pkcs8_der();
    let pem =
        pem_rfc7468::encode_string(PEM_LABEL, pem_rfc7468::LineEnding::LF, &der).map_err(|e| {
            LogError::Key {
                path: path.to_owned(),
                detail: e.to_string(),
            }
        })?;
    let tmp = path.with_extension("pem.tmp");
    let io = |action: &'static str, p: &Path| {
        let p = p.to_owned();
        move |source| LogError::Io {
            action,
            path: p,
            source,
        }
    };
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut f = options
        .open(&tmp)
        .map_err(io("creating the log key", &tmp))?;
    f.write_all(pem.as_bytes())
        .map_err(io("writing the log key", &tmp))?;
    f.sync_all().map_err(io("syncing the log key", &tmp))?;
    drop(f);
    fs::rename(&tmp, path).map_err(io("installing the log key", path))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// fsyncs a directory, so that a rename or create inside it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), LogError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| LogError::Io {
            action: "syncing the data directory",
            path: dir.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use signet_tlog::checkpoint::{NoteVerifier, verify_checkpoint};
    use signet_tlog::merkle::empty_root;

    use super::*;

    #[test]
    fn generated_once_then_reloaded_with_mode_0600() {
        let dir = tempfile::tempdir().expect("tmp");
        let a = LogKey::load_or_generate(dir.path()).expect("generate");
        let b = LogKey::load_or_generate(dir.path()).expect("reload");
        assert_eq!(a.public_key(), b.public_key());
        assert_eq!(a.log_id_hex().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(dir.path().join(KEY_FILE))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!dir.path().join("log-key.pem.tmp").exists());
    }

    #[test]
    fn bad_key_files_are_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        fs::write(dir.path().join(KEY_FILE), "junk").expect("write");
        assert!(matches!(
            LogKey::load_or_generate(dir.path()),
            Err(LogError::Key { .. })
        ));
        let ed = PrivateKey::generate(KeyAlgorithm::Ed25519).expect("key");
        write_private(&dir.path().join(KEY_FILE), &ed).expect("write");
        assert!(matches!(
            LogKey::load(dir.path()),
            Err(LogError::Key { .. })
        ));
    }

    #[test]
    fn checkpoints_verify_as_rekor_v1() {
        let dir = tempfile::tempdir().expect("tmp");
        let k = LogKey::load_or_generate(dir.path()).expect("key");
        let note = k
            .sign_checkpoint("log.example:8080", 42, TreeSize(0), empty_root())
            .expect("sign");
        assert!(note.starts_with("log.example:8080 - 42\n0\n"));
        let v = NoteVerifier::new("log.example:8080", k.public_key().clone()).expect("v");
        verify_checkpoint(note.as_bytes(), &[v]).expect("verifies");
    }
}
