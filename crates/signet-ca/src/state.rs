//! An authority's keys and certificates on disk: created once, all together, then
//! only read.
//!
//! A state directory (`<data-dir>/ca`, `<data-dir>/tsa`, `<data-dir>/dev-oidc`) is
//! written in a temporary sibling, every file synced, and renamed into place: it is
//! either absent or complete, and two processes starting at once end up with the same
//! authority (the loser of the rename reads the winner's). Keys are PKCS#8 PEM files
//! with mode 0600; certificates are PEM.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use signet_crypto::PrivateKey;
use signet_x509::Certificate;
use zeroize::Zeroizing;

use crate::CaError;

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> CaError {
    let path = path.to_path_buf();
    move |source| CaError::Io {
        action,
        path,
        source,
    }
}

/// A complete state directory.
#[derive(Debug)]
pub(crate) struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// Opens `dir`, which must hold every file of `files`; when it does not exist,
    /// `create` writes them into a fresh directory that is then moved into place.
    pub(crate) fn open_or_create(
        dir: PathBuf,
        files: &[&'static str],
        create: impl FnOnce(&Path) -> Result<(), CaError>,
    ) -> Result<Self, CaError> {
        if !dir.exists() {
            create_atomically(&dir, create)?;
        }
        let state = StateDir { dir };
        for name in files {
            if !state.path(name).exists() {
                return Err(CaError::IncompleteState {
                    dir: state.dir.clone(),
                    missing: name,
                });
            }
        }
        Ok(state)
    }

    /// Opens an existing, complete `dir`.
    pub(crate) fn open_existing(
        dir: PathBuf,
        files: &[&'static str],
    ) -> Option<Result<Self, CaError>> {
        if !dir.exists() {
            return None;
        }
        Some(Self::open_or_create(dir, files, |_| Ok(())))
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Reads a PKCS#8 PEM private key.
    pub(crate) fn read_key(&self, name: &str) -> Result<PrivateKey, CaError> {
        let path = self.path(name);
        let text = Zeroizing::new(fs::read(&path).map_err(io("read", &path))?);
        let corrupt = |detail: String| CaError::CorruptState {
            path: path.clone(),
            what: "PKCS#8 PEM private key",
            detail,
        };
        let (label, der) = der::pem::decode_vec(&text).map_err(|e| corrupt(e.to_string()))?;
        let der = Zeroizing::new(der);
        if label != "PRIVATE KEY" {
            return Err(corrupt(format!("found a `{label}` block")));
        }
        PrivateKey::from_pkcs8_der(&der).map_err(|e| corrupt(e.to_string()))
    }

    /// Reads a PEM certificate.
    pub(crate) fn read_certificate(&self, name: &str) -> Result<Certificate, CaError> {
        let path = self.path(name);
        let text = fs::read(&path).map_err(io("read", &path))?;
        let mut chain = Certificate::parse_pem_chain(&text).map_err(|e| CaError::CorruptState {
            path: path.clone(),
            what: "PEM certificate",
            detail: e.to_string(),
        })?;
        match chain.len() {
            1 => Ok(chain.remove(0)),
            n => Err(CaError::CorruptState {
                path,
                what: "PEM certificate",
                detail: format!("it holds {n} certificates, expected 1"),
            }),
        }
    }

    /// Reads a small text file, trimmed.
    pub(crate) fn read_text(&self, name: &str) -> Result<String, CaError> {
        let path = self.path(name);
        let text = fs::read_to_string(&path).map_err(io("read", &path))?;
        Ok(text.trim().to_owned())
    }
}

fn create_atomically(
    dir: &Path,
    create: impl FnOnce(&Path) -> Result<(), CaError>,
) -> Result<(), CaError> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io("create directory", parent))?;
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| CaError::Io {
        action: "create a temporary name for",
        path: dir.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent.join(format!(".{name}.tmp-{}", hex::encode(nonce)));
    let result = (|| {
        create_private_dir(&tmp)?;
        create(&tmp)?;
        sync_dir(&tmp)?;
        match fs::rename(&tmp, dir) {
            Ok(()) => sync_dir(parent),
            // Another process created it first: use theirs.
            Err(_) if dir.exists() => Ok(()),
            Err(e) => Err(io("rename into place", dir)(e)),
        }
    })();
    if tmp.exists() {
        let _ = fs::remove_dir_all(&tmp);
    }
    result
}

#[cfg(unix)]
fn create_private_dir(path: &Path) -> Result<(), CaError> {
    use std::os::unix::fs::DirBuilderExt as _;
    fs::DirBuilder::new()
        .mode(0o700)
        .create(path)
        .map_err(io("create directory", path))
}

#[cfg(not(unix))]
fn create_private_dir(path: &Path) -> Result<(), CaError> {
    fs::create_dir(path).map_err(io("create directory", path))
}

fn sync_dir(path: &Path) -> Result<(), CaError> {
    fs::File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(io("sync", path))
}

/// Writes `contents` to a new file `dir/name` with `mode`, synced.
fn write_new(dir: &Path, name: &str, contents: &[u8], mode: u32) -> Result<(), CaError> {
    let path = dir.join(name);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(&path).map_err(io("create", &path))?;
    file.write_all(contents).map_err(io("write", &path))?;
    file.sync_all().map_err(io("sync", &path))
}

/// Writes a private key as PKCS#8 PEM, readable by the owner only (0600).
pub(crate) fn write_key(dir: &Path, name: &str, key: &PrivateKey) -> Result<(), CaError> {
    let der = key.to_pkcs8_der();
    let pem = Zeroizing::new(
        der::pem::encode_string("PRIVATE KEY", der::pem::LineEnding::LF, &der).map_err(|e| {
            CaError::Encoding {
                what: "a PEM private key",
                detail: e.to_string(),
            }
        })?,
    );
    write_new(dir, name, pem.as_bytes(), 0o600)
}

/// Writes a certificate as PEM (0644).
pub(crate) fn write_certificate(dir: &Path, name: &str, der: &[u8]) -> Result<(), CaError> {
    write_new(dir, name, crate::certificate::pem(der).as_bytes(), 0o644)
}

#[cfg(test)]
mod tests {
    use super::*;
    use signet_crypto::{KeyAlgorithm, Signer as _};

    #[test]
    fn created_once_then_read() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("nested").join("ca");
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let state =
            StateDir::open_or_create(dir.clone(), &["k.pem"], |d| write_key(d, "k.pem", &key))
                .unwrap();
        assert_eq!(
            state.read_key("k.pem").unwrap().public_key(),
            key.public_key()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(dir.join("k.pem"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A second open does not create anything.
        StateDir::open_or_create(dir.clone(), &["k.pem"], |_| panic!("must not create")).unwrap();
        // No temporary directory is left behind.
        let leftovers: Vec<_> = fs::read_dir(dir.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1);
    }

    #[test]
    fn partial_state_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ca");
        fs::create_dir(&dir).unwrap();
        let err = StateDir::open_or_create(dir, &["root.pem"], |_| Ok(())).unwrap_err();
        assert!(matches!(
            err,
            CaError::IncompleteState {
                missing: "root.pem",
                ..
            }
        ));
    }

    #[test]
    fn failed_creation_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ca");
        let err = StateDir::open_or_create(dir.clone(), &["x"], |_| {
            Err(CaError::InvalidConfig {
                detail: "boom".into(),
            })
        })
        .unwrap_err();
        assert!(matches!(err, CaError::InvalidConfig { .. }));
        assert!(!dir.exists());
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
    }
}
