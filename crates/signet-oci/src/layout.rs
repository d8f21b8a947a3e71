//! OCI image layouts on disk (`oci:PATH[:TAG]`): the embedded default store.
//!
//! A layout is `oci-layout`, `index.json` and `blobs/<alg>/<hex>`. Tags are index
//! entries with the `org.opencontainers.image.ref.name` annotation; cosign's
//! `sha256-<hex>.sig` tags live there too, so the tag scheme works unchanged.
//!
//! Writes are crash-safe: blobs and `index.json` are written to a temporary file and
//! renamed into place, and `index.json` updates hold an exclusive lock on
//! `index.json.lock`, so concurrent signers do not lose each other's tags.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use signet_formats::manifest::{Descriptor, Index};
use signet_formats::{Digest, MediaType, gojson};

/// The annotation that names a tag in `index.json`.
pub const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";
const LAYOUT_FILE: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;

/// Errors from reading or writing an OCI image layout.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    /// The directory is not an OCI image layout.
    #[error(
        "{path} is not an OCI image layout (no oci-layout file); create one with `signet demo` or `skopeo copy ... oci:{path}`"
    )]
    NotALayout {
        /// The directory.
        path: PathBuf,
    },
    /// `index.json` does not parse.
    #[error("{path}/index.json is malformed: {reason}")]
    MalformedIndex {
        /// The layout directory.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// A blob is missing.
    #[error("blob {digest} is missing from the layout at {path}")]
    BlobNotFound {
        /// The layout directory.
        path: PathBuf,
        /// The blob.
        digest: Digest,
    },
    /// A blob's bytes do not hash to its name: the layout was altered.
    #[error("blob {expected} in {path} has been altered: its content hashes to {actual}")]
    DigestMismatch {
        /// The layout directory.
        path: PathBuf,
        /// The blob's name.
        expected: Digest,
        /// What its bytes hash to.
        actual: Digest,
    },
    /// A blob is larger than the limit.
    #[error("blob {digest} in {path} is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// The layout directory.
        path: PathBuf,
        /// The blob.
        digest: Digest,
        /// Its size.
        size: u64,
        /// The limit.
        limit: usize,
    },
    /// An I/O error.
    #[error("{action} {path}: {error}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        error: std::io::Error,
    },
}

/// An OCI image layout directory.
#[derive(Clone, Debug)]
pub struct OciLayout {
    root: PathBuf,
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> LayoutError {
    let path = path.to_path_buf();
    move |error| LayoutError::Io {
        action,
        path,
        error,
    }
}

impl OciLayout {
    /// Opens an existing layout.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, LayoutError> {
        let root = root.into();
        if !root.join("oci-layout").is_file() {
            return Err(LayoutError::NotALayout { path: root });
        }
        Ok(OciLayout { root })
    }

    /// Creates an empty layout (or opens it if it exists).
    pub fn create(root: impl Into<PathBuf>) -> Result<Self, LayoutError> {
        let root = root.into();
        std::fs::create_dir_all(root.join("blobs/sha256")).map_err(io("creating", &root))?;
        let marker = root.join("oci-layout");
        if !marker.is_file() {
            write_atomic(&marker, LAYOUT_FILE.as_bytes())?;
        }
        let index = root.join("index.json");
        if !index.is_file() {
            write_atomic(&index, &gojson::to_vec(&empty_index()))?;
        }
        Ok(OciLayout { root })
    }

    /// The layout directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(digest.algorithm().as_str())
            .join(digest.hex())
    }

    /// Reads `index.json`.
    pub fn index(&self) -> Result<Index, LayoutError> {
        let path = self.root.join("index.json");
        let bytes = std::fs::read(&path).map_err(io("reading", &path))?;
        serde_json::from_slice(&bytes).map_err(|e| LayoutError::MalformedIndex {
            path: self.root.clone(),
            reason: e.to_string(),
        })
    }

    /// The descriptor tagged `tag`, if any.
    pub fn resolve_tag(&self, tag: &str) -> Result<Option<Descriptor>, LayoutError> {
        Ok(self
            .index()?
            .manifests
            .into_iter()
            .find(|d| ref_name(d) == Some(tag)))
    }

    /// Whether a blob exists.
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Reads a blob, checking its digest and `limit`.
    pub fn read_blob(&self, digest: &Digest, limit: usize) -> Result<Vec<u8>, LayoutError> {
        let path = self.blob_path(digest);
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(LayoutError::BlobNotFound {
                    path: self.root.clone(),
                    digest: digest.clone(),
                });
            }
            Err(e) => return Err(io("reading", &path)(e)),
        };
        if meta.len() > limit as u64 {
            return Err(LayoutError::TooLarge {
                path: self.root.clone(),
                digest: digest.clone(),
                size: meta.len(),
                limit,
            });
        }
        let bytes = std::fs::read(&path).map_err(io("reading", &path))?;
        let actual = Digest::compute(digest.algorithm(), &bytes);
        if actual != *digest {
            return Err(LayoutError::DigestMismatch {
                path: self.root.clone(),
                expected: digest.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Writes a blob (no-op if present).
    pub fn write_blob(&self, bytes: &[u8]) -> Result<Digest, LayoutError> {
        let digest = Digest::sha256_of(bytes);
        let path = self.blob_path(&digest);
        if !path.is_file() {
            let dir = path.parent().unwrap_or(&self.root);
            std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
            write_atomic(&path, bytes)?;
        }
        Ok(digest)
    }

    /// Points `tag` at `descriptor` in `index.json`, replacing any earlier entry with
    /// that tag. The update is atomic and serialised with other writers.
    pub fn set_tag(&self, tag: &str, mut descriptor: Descriptor) -> Result<(), LayoutError> {
        let lock_path = self.root.join("index.json.lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io("locking", &lock_path))?;
        lock.lock().map_err(io("locking", &lock_path))?;
        let mut index = self.index()?;
        index.manifests.retain(|d| ref_name(d) != Some(tag));
        let mut ann = descriptor.annotations.take().unwrap_or_default();
        ann.insert(REF_NAME_ANNOTATION.to_owned(), tag.to_owned());
        descriptor.annotations = Some(ann);
        index.manifests.push(descriptor);
        let result = write_atomic(&self.root.join("index.json"), &gojson::to_vec(&index));
        drop(lock);
        result
    }

    /// All tags and what they point at.
    pub fn tags(&self) -> Result<BTreeMap<String, Descriptor>, LayoutError> {
        Ok(self
            .index()?
            .manifests
            .into_iter()
            .filter_map(|d| ref_name(&d).map(|t| (t.to_owned(), d.clone())))
            .collect())
    }
}

fn ref_name(d: &Descriptor) -> Option<&str> {
    d.annotations
        .as_ref()?
        .get(REF_NAME_ANNOTATION)
        .map(String::as_str)
}

fn empty_index() -> Index {
    Index {
        schema_version: 2,
        media_type: Some(MediaType::OCI_INDEX),
        manifests: Vec::new(),
        annotations: None,
    }
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, and renames it over
/// `path`, so readers see the old or the new content and never a torn file.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), LayoutError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce)
        .map_err(|e| io("creating a temporary file for", path)(std::io::Error::other(e)))?;
    let tmp = dir.join(format!(".{name}.{}.tmp", hex::encode(nonce)));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io("writing", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_blobs_and_tamper_detection() {
        let dir = tempfile::tempdir().unwrap();
        let l = OciLayout::create(dir.path().join("lay")).unwrap();
        let d = l.write_blob(b"hello").unwrap();
        assert_eq!(l.read_blob(&d, 100).unwrap(), b"hello");
        assert!(matches!(
            l.read_blob(&d, 2),
            Err(LayoutError::TooLarge { .. })
        ));
        l.set_tag("v1", Descriptor::of(MediaType::OCI_MANIFEST, b"hello"))
            .unwrap();
        l.set_tag("v1", Descriptor::of(MediaType::OCI_MANIFEST, b"hello"))
            .unwrap();
        assert_eq!(l.tags().unwrap().len(), 1);
        assert_eq!(l.resolve_tag("v1").unwrap().unwrap().digest, d);
        std::fs::write(l.blob_path(&d), b"HELLO").unwrap();
        assert!(matches!(
            l.read_blob(&d, 100),
            Err(LayoutError::DigestMismatch { .. })
        ));
        let missing = Digest::sha256_of(b"nope");
        assert!(matches!(
            l.read_blob(&missing, 100),
            Err(LayoutError::BlobNotFound { .. })
        ));
        assert!(matches!(
            OciLayout::open(dir.path()),
            Err(LayoutError::NotALayout { .. })
        ));
    }

    #[test]
    fn concurrent_tag_writers_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let l = OciLayout::create(dir.path()).unwrap();
        std::thread::scope(|s| {
            for i in 0..16 {
                let l = l.clone();
                s.spawn(move || {
                    let body = format!("m{i}");
                    l.set_tag(
                        &format!("t{i}"),
                        Descriptor::of(MediaType::OCI_MANIFEST, body.as_bytes()),
                    )
                    .unwrap();
                });
            }
        });
        assert_eq!(l.tags().unwrap().len(), 16);
    }
}
