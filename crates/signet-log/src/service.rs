//! [`LogService`]: the log opened on a data directory, with its writer thread.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use signet_crypto::PublicKey;
use signet_tlog::merkle::{Hash, InclusionProof, empty_root};
use signet_tlog::{LogIndex, TreeSize};
use tokio::sync::{mpsc, oneshot};

use crate::LogError;
use crate::entry::{self, CanonicalEntry};
use crate::key::{self, LogKey};
use crate::merkle::{NodeId, ProofPlan};
use crate::sequencer::{self, Head, Sequencer, Submission, now_unix, parse_checkpoint};
use crate::store::{CommitMode, LogIdentity, LogStore, RedbStore, StoreError, StoredLeaf};

/// The file name of the store inside the data directory.
pub const STORE_FILE: &str = "log.redb";

/// How the log runs. Build with [`LogConfig::new`] or [`LogConfig::from_base_url`],
/// then adjust fields.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogConfig {
    /// The host name the log signs checkpoints under: the key name of the signature
    /// line, and the origin `<hostname> - <treeID>` (Rekor's `rekor_server.hostname`).
    /// It must be a substring of the `baseUrl` clients have for the log in their
    /// trusted root: @sigstore/verify rejects a checkpoint signed under any other
    /// name. [`LogConfig::from_base_url`] gets this right.
    pub hostname: String,
    /// The most entries committed in one transaction.
    pub max_batch: usize,
    /// The most submissions waiting for the writer; beyond it, 503.
    pub queue_capacity: usize,
    /// The largest request body accepted (bytes); larger is 413.
    pub max_request_bytes: usize,
    /// The store's page cache (bytes).
    pub cache_bytes: usize,
    /// The most UUIDs one `POST /api/v1/index/retrieve` returns.
    pub max_search_results: usize,
    /// How the embedded store commits a batch (two fsyncs, or one).
    pub commit: CommitMode,
}

impl LogConfig {
    /// Defaults for a log signing as `hostname`: batches of up to 1,024 entries, a
    /// queue of 16,384, 1 MiB requests, a 256 MiB cache, 10,000 search results,
    /// [`CommitMode::TwoPhase`].
    pub fn new(hostname: impl Into<String>) -> Self {
        LogConfig {
            hostname: hostname.into(),
            max_batch: 1024,
            queue_capacity: 16 * 1024,
            max_request_bytes: 1 << 20,
            cache_bytes: 256 << 20,
            max_search_results: 10_000,
            commit: CommitMode::default(),
        }
    }

    /// [`LogConfig::new`] with the host of `base_url` (no scheme, port or path), as
    /// Rekor names itself and as sigstore-go derives a log's host from its `baseUrl`.
    ///
    /// # Errors
    /// [`LogError::Config`] when the URL has no host.
    pub fn from_base_url(base_url: &str) -> Result<Self, LogError> {
        let rest = base_url.split_once("://").map_or(base_url, |(_, r)| r);
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let host = if let Some(v6) = host_port.strip_prefix('[') {
            v6.split(']').next().unwrap_or_default()
        } else {
            host_port.split(':').next().unwrap_or_default()
        };
        if host.is_empty() {
            return Err(LogError::Config {
                detail: format!("base URL {base_url:?} has no host"),
            });
        }
        Ok(Self::new(host))
    }

    fn check(&self) -> Result<(), LogError> {
        let bad = |detail: String| Err(LogError::Config { detail });
        if self.hostname.is_empty()
            || self
                .hostname
                .chars()
                .any(|c| c.is_whitespace() || c == '+' || c.is_control())
        {
            return bad(format!(
                "hostname {:?} must be non-empty, without spaces, '+' or control characters (it is a signed-note key name)",
                self.hostname
            ));
        }
        if self.max_batch == 0 || self.queue_capacity == 0 || self.max_request_bytes == 0 {
            return bad("max_batch, queue_capacity and max_request_bytes must be positive".into());
        }
        Ok(())
    }
}

/// How to combine the criteria of a search.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SearchOperator {
    /// Entries matching any criterion (Rekor's default).
    #[default]
    Or,
    /// Entries matching every criterion.
    And,
}

/// A search of the index (`POST /api/v1/index/retrieve`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SearchQuery {
    /// An artifact, payload, envelope or in-toto subject digest: `sha256:<hex>` or
    /// `<hex>`.
    pub hash: Option<String>,
    /// A PEM public key or certificate (chain): entries signed with exactly it.
    pub public_key_pem: Option<Vec<u8>>,
    /// An email (or URI) SAN of the signing certificate.
    pub email: Option<String>,
    /// How to combine them.
    pub operator: SearchOperator,
}

impl SearchQuery {
    /// An empty query (no criterion; it is refused until one is set).
    pub fn new() -> Self {
        Self::default()
    }
}

/// A log entry as Rekor returns it, with a fresh SET and an inclusion proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// The UUID: the leaf hash.
    pub uuid: Hash,
    /// The canonicalized body.
    pub body: Vec<u8>,
    /// When the log integrated it (Unix seconds).
    pub integrated_time: i64,
    /// The log ID (lowercase hex SHA-256 of the log key's SPKI).
    pub log_id: String,
    /// The entry's index.
    pub log_index: LogIndex,
    /// The signed entry timestamp (DER ECDSA over the RFC 8785 payload).
    pub signed_entry_timestamp: Vec<u8>,
    /// The inclusion proof at `inclusion_proof.tree_size`.
    pub inclusion_proof: InclusionProof,
    /// The signed checkpoint for that tree size.
    pub checkpoint: String,
}

impl LogEntry {
    /// Rekor v1's `LogEntry` JSON: `{"<uuid>": {body, integratedTime, logID, logIndex,
    /// verification: {inclusionProof: {checkpoint, hashes, logIndex, rootHash,
    /// treeSize}, signedEntryTimestamp}}}`. `hashes` and `logIndex` are always present.
    pub fn to_rekor_json(&self) -> Value {
        json!({
            self.uuid.to_string(): {
                "body": STANDARD.encode(&self.body),
                "integratedTime": self.integrated_time,
                "logID": self.log_id,
                "logIndex": self.log_index.0,
                "verification": {
                    "inclusionProof": {
                        "checkpoint": self.checkpoint,
                        "hashes": self.inclusion_proof.hashes.iter().map(Hash::to_string).collect::<Vec<_>>(),
                        "logIndex": self.inclusion_proof.log_index.0,
                        "rootHash": self.inclusion_proof.root_hash.to_string(),
                        "treeSize": self.inclusion_proof.tree_size.0,
                    },
                    "signedEntryTimestamp": STANDARD.encode(&self.signed_entry_timestamp),
                },
            }
        })
    }
}

/// The signed tree head (`GET /api/v1/log`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeHead {
    /// The tree size.
    pub tree_size: TreeSize,
    /// The root hash.
    pub root_hash: Hash,
    /// The signed checkpoint.
    pub signed_tree_head: String,
    /// The tree ID.
    pub tree_id: i64,
}

impl TreeHead {
    /// Rekor's `LogInfo` JSON.
    pub fn to_rekor_json(&self) -> Value {
        json!({
            "rootHash": self.root_hash.to_string(),
            "signedTreeHead": self.signed_tree_head,
            "treeID": self.tree_id.to_string(),
            "treeSize": self.tree_size.0,
        })
    }
}

/// A consistency proof (`GET /api/v1/log/proof`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// The root of the larger tree.
    pub root_hash: Hash,
    /// The proof hashes.
    pub hashes: Vec<Hash>,
}

impl ConsistencyProof {
    /// Rekor's `ConsistencyProof` JSON.
    pub fn to_rekor_json(&self) -> Value {
        json!({
            "hashes": self.hashes.iter().map(Hash::to_string).collect::<Vec<_>>(),
            "rootHash": self.root_hash.to_string(),
        })
    }
}

pub(crate) struct Inner {
    pub(crate) config: LogConfig,
    pub(crate) store: Arc<dyn LogStore>,
    pub(crate) key: Arc<LogKey>,
    pub(crate) identity: LogIdentity,
    pub(crate) head: Arc<RwLock<Arc<Head>>>,
    tx: Option<mpsc::Sender<Submission>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the queue ends the writer after its current batch; join it so the
        // store is closed when the service is gone.
        self.tx = None;
        let handle = match self.writer.get_mut() {
            Ok(h) => h.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

/// A Rekor v1-compatible transparency log over a data directory. Cheap to clone.
#[derive(Clone)]
pub struct LogService {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for LogService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogService")
            .field("origin", &self.origin())
            .field("log_id", &self.log_id())
            .finish_non_exhaustive()
    }
}

fn random_tree_id() -> Result<i64, LogError> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(|e| LogError::Config {
        detail: format!("no randomness for the tree ID: {e}"),
    })?;
    // Positive and non-zero, as Trillian tree IDs are.
    Ok(i64::from_be_bytes(b) & i64::MAX | 1)
}

/// Opens the store in `data_dir` and checks it against the key file.
pub(crate) fn open_store(
    data_dir: &Path,
    cache_bytes: usize,
    commit: CommitMode,
) -> Result<Arc<RedbStore>, LogError> {
    Ok(Arc::new(RedbStore::open(
        &data_dir.join(STORE_FILE),
        cache_bytes,
        commit,
    )?))
}

pub(crate) fn check_key(
    data_dir: &Path,
    identity: &LogIdentity,
    key: &LogKey,
) -> Result<(), LogError> {
    if identity.public_key_spki != key.public_key().spki_der() {
        let expected = hex::encode(sha2_256(&identity.public_key_spki));
        return Err(LogError::KeyMismatch {
            path: data_dir.join(key::KEY_FILE),
            expected,
            found: key.log_id_hex().to_owned(),
        });
    }
    Ok(())
}

fn sha2_256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(data).into()
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, LogError> + Send + 'static,
) -> Result<T, LogError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| LogError::Unavailable {
            detail: format!("a storage task failed: {e}"),
        })?
}

/// Appends entry 0: a `hashedrekord` signed by the log's own key over the artifact
/// `signet-log genesis\n<origin>\n<creation time>\n`.
///
/// Why: Sigstore clients built on sigstore-go before 1.0 (cosign 2.5 among them)
/// treat a bundle entry whose `logIndex` is 0 as missing ("nil value in transaction
/// log entry", the protobuf zero value), so no client entry may sit at index 0. The
/// genesis entry is an ordinary, verifiable entry that takes that index.
fn append_genesis(
    store: &dyn LogStore,
    key: &LogKey,
    hostname: &str,
    identity: &LogIdentity,
) -> Result<(), LogError> {
    let artifact = format!(
        "signet-log genesis\n{hostname} - {}\n{}\n",
        identity.tree_id,
        rfc3339(identity.created_at)
    );
    let signature = key.sign(artifact.as_bytes())?;
    let proposal = json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex::encode(sha2_256(artifact.as_bytes()))}},
            "signature": {
                "content": STANDARD.encode(signature),
                "publicKey": {"content": STANDARD.encode(key.public_key().to_pem())},
            },
        },
    });
    let entry =
        entry::canonicalize_proposed_entry(proposal.to_string().as_bytes()).map_err(|e| {
            LogError::Signing {
                what: "the genesis entry",
                detail: e.to_string(),
            }
        })?;
    let mut frontier = crate::merkle::Frontier::empty();
    frontier.append(entry.leaf_hash);
    let tree_size = frontier.size();
    let checkpoint = key.sign_checkpoint(hostname, identity.tree_id, tree_size, frontier.root())?;
    store.append(&crate::store::AppendBatch {
        leaves: vec![crate::store::NewLeaf {
            index: LogIndex(0),
            body: entry.body,
            leaf_hash: entry.leaf_hash,
            integrated_time: identity.created_at,
            search_keys: entry.search_keys,
        }],
        nodes: Vec::new(),
        tree_size,
        checkpoint,
    })?;
    Ok(())
}

impl LogService {
    /// Opens the log in `data_dir` (created if missing): loads or generates the log
    /// key (`log-key.pem`, 0600), opens or creates the store (`log.redb`), checks
    /// that the key is the one the log was created with, loads the committed head,
    /// and starts the writer thread. Must be called inside a Tokio runtime only for
    /// the async methods; opening itself does blocking I/O.
    ///
    /// # Errors
    /// [`LogError::Config`], [`LogError::Io`], [`LogError::Key`],
    /// [`LogError::KeyMismatch`], [`LogError::Store`] (a corrupt store, or one another
    /// process has open).
    pub fn open(data_dir: &Path, config: LogConfig) -> Result<LogService, LogError> {
        prepare(data_dir, &config)?;
        let store = open_store(data_dir, config.cache_bytes, config.commit)?;
        Self::start(data_dir, store, config)
    }

    /// [`LogService::open`] over any [`LogStore`] (a database server, or a wrapper
    /// that injects faults in tests). The key file still lives in `data_dir`.
    ///
    /// # Errors
    /// As [`LogService::open`].
    pub fn open_with_store(
        data_dir: &Path,
        store: Arc<dyn LogStore>,
        config: LogConfig,
    ) -> Result<LogService, LogError> {
        prepare(data_dir, &config)?;
        Self::start(data_dir, store, config)
    }

    /// Loads the key, initializes the store if new, and starts the writer.
    fn start(
        data_dir: &Path,
        store: Arc<dyn LogStore>,
        config: LogConfig,
    ) -> Result<LogService, LogError> {
        let key = Arc::new(LogKey::load_or_generate(data_dir)?);
        let identity = match store.identity()? {
            Some(identity) => {
                check_key(data_dir, &identity, &key)?;
                identity
            }
            None => {
                let identity = LogIdentity {
                    tree_id: random_tree_id()?,
                    public_key_spki: key.public_key().spki_der().to_vec(),
                    created_at: now_unix(),
                };
                let empty = key.sign_checkpoint(
                    &config.hostname,
                    identity.tree_id,
                    TreeSize(0),
                    empty_root(),
                )?;
                store.initialize(&identity, &empty)?;
                identity
            }
        };
        if store.head()?.tree_size.0 == 0 {
            append_genesis(store.as_ref(), &key, &config.hostname, &identity)?;
        }
        let (head, frontier, last_time) = sequencer::load_state(store.as_ref())?;
        let head = Arc::new(RwLock::new(Arc::new(head)));
        let (tx, rx) = mpsc::channel(config.queue_capacity);
        let seq = Sequencer {
            store: store.clone(),
            key: key.clone(),
            hostname: config.hostname.clone(),
            tree_id: identity.tree_id,
            max_batch: config.max_batch,
            head: head.clone(),
            frontier,
            last_time,
        };
        let writer = std::thread::Builder::new()
            .name("signet-log-writer".into())
            .spawn(move || seq.run(rx))
            .map_err(|source| LogError::Io {
                action: "starting the writer thread",
                path: PathBuf::from(data_dir),
                source,
            })?;
        Ok(LogService {
            inner: Arc::new(Inner {
                config,
                store,
                key,
                identity,
                head,
                tx: Some(tx),
                writer: Mutex::new(Some(writer)),
            }),
        })
    }

    /// The Rekor v1 API as an axum router (see the crate docs for the routes).
    pub fn router(&self) -> axum::Router {
        crate::http::router(self.clone())
    }

    /// The configuration.
    pub fn config(&self) -> &LogConfig {
        &self.inner.config
    }

    /// The log's public key (ECDSA P-256).
    pub fn public_key(&self) -> &PublicKey {
        self.inner.key.public_key()
    }

    /// The log ID: lowercase hex SHA-256 of the public key's DER SPKI (a bundle's
    /// `logId.keyId` is these 32 bytes, base64).
    pub fn log_id(&self) -> &str {
        self.inner.key.log_id_hex()
    }

    /// The tree ID.
    pub fn tree_id(&self) -> i64 {
        self.inner.identity.tree_id
    }

    /// The checkpoint origin, `<hostname> - <treeID>`.
    pub fn origin(&self) -> String {
        format!("{} - {}", self.inner.config.hostname, self.tree_id())
    }

    /// When the log was created (Unix seconds): the start of its key's validity.
    pub fn created_at(&self) -> i64 {
        self.inner.identity.created_at
    }

    /// This log's `tlogs[]` entry for a `trusted_root.json`, served at `base_url`:
    /// `{baseUrl, hashAlgorithm: SHA2_256, publicKey: {rawBytes, keyDetails:
    /// PKIX_ECDSA_P256_SHA_256, validFor: {start}}, logId: {keyId}}`.
    pub fn transparency_log_instance(&self, base_url: &str) -> Value {
        json!({
            "baseUrl": base_url,
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": STANDARD.encode(self.public_key().spki_der()),
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                "validFor": {"start": rfc3339(self.created_at())},
            },
            "logId": {"keyId": STANDARD.encode(self.public_key().key_id().as_bytes())},
        })
    }

    /// The committed tree head.
    pub fn tree_head(&self) -> TreeHead {
        let head = self.head();
        TreeHead {
            tree_size: head.tree_size,
            root_hash: head.root,
            signed_tree_head: head.checkpoint.to_string(),
            tree_id: self.tree_id(),
        }
    }

    pub(crate) fn head(&self) -> Arc<Head> {
        match self.inner.head.read() {
            Ok(h) => h.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Validates, sequences and durably commits a proposed entry (the body of
    /// `POST /api/v1/log/entries`); returns it with its SET and inclusion proof.
    ///
    /// # Errors
    /// [`LogError::Rejected`] (nothing written), [`LogError::Duplicate`],
    /// [`LogError::Unavailable`], [`LogError::Store`].
    pub async fn submit(&self, request: &[u8]) -> Result<LogEntry, LogError> {
        let entry = entry::canonicalize_proposed_entry(request).map_err(LogError::Rejected)?;
        self.submit_canonical(entry).await
    }

    pub(crate) async fn submit_canonical(
        &self,
        entry: CanonicalEntry,
    ) -> Result<LogEntry, LogError> {
        let body = entry.body.clone();
        let uuid = entry.leaf_hash;
        let (reply, rx) = oneshot::channel();
        let tx = self
            .inner
            .tx
            .as_ref()
            .ok_or_else(|| LogError::Unavailable {
                detail: "the log is shutting down".into(),
            })?;
        tx.try_send(Submission { entry, reply })
            .map_err(|e| LogError::Unavailable {
                detail: match e {
                    mpsc::error::TrySendError::Full(_) => {
                        "too many submissions are waiting; retry shortly".into()
                    }
                    mpsc::error::TrySendError::Closed(_) => "the log writer has stopped".into(),
                },
            })?;
        let appended = rx.await.map_err(|_| LogError::Unavailable {
            detail: "the log writer stopped before answering; the entry may or may not be in the log, retry to find out".into(),
        })??;
        let leaf = StoredLeaf {
            index: appended.index,
            body,
            leaf_hash: uuid,
            integrated_time: appended.integrated_time,
        };
        let this = self.clone();
        blocking(move || this.entry_at(leaf, &appended.head)).await
    }

    /// Builds the full entry for `leaf` at the tree of `head` (blocking: reads the
    /// store and signs).
    fn entry_at(&self, leaf: StoredLeaf, head: &Head) -> Result<LogEntry, LogError> {
        let plan =
            ProofPlan::inclusion(leaf.index, head.tree_size).map_err(|e| StoreError::Corrupt {
                detail: e.to_string(),
            })?;
        let hashes = self.proof_hashes(&plan)?;
        let set = self
            .inner
            .key
            .sign_set(&leaf.body, leaf.integrated_time, leaf.index)?;
        Ok(LogEntry {
            uuid: leaf.leaf_hash,
            body: leaf.body,
            integrated_time: leaf.integrated_time,
            log_id: self.log_id().to_owned(),
            log_index: leaf.index,
            signed_entry_timestamp: set,
            inclusion_proof: InclusionProof {
                log_index: leaf.index,
                tree_size: head.tree_size,
                root_hash: head.root,
                hashes,
            },
            checkpoint: head.checkpoint.to_string(),
        })
    }

    /// A head that includes `index`: the published one, or (when the writer has
    /// committed but not yet published) the store's.
    fn head_including(&self, index: LogIndex) -> Result<Arc<Head>, LogError> {
        let head = self.head();
        if index.0 < head.tree_size.0 {
            return Ok(head);
        }
        let stored = self.inner.store.head()?;
        let root = parse_checkpoint(&stored.checkpoint)
            .map(|c| c.root_hash)
            .ok_or_else(|| StoreError::Corrupt {
                detail: "the latest checkpoint does not parse".into(),
            })?;
        Ok(Arc::new(Head {
            tree_size: stored.tree_size,
            root,
            checkpoint: stored.checkpoint.into(),
        }))
    }

    /// A head of at least `tree_size` leaves (see [`Self::head_including`]).
    ///
    /// # Errors
    /// [`LogError::TreeSizeTooLarge`] when the log is smaller.
    fn head_of_size(&self, tree_size: TreeSize) -> Result<Arc<Head>, LogError> {
        let head = self.head_including(LogIndex(tree_size.0.saturating_sub(1)))?;
        if tree_size > head.tree_size {
            return Err(LogError::TreeSizeTooLarge {
                requested: tree_size,
                current: head.tree_size,
            });
        }
        Ok(head)
    }

    /// Reads the nodes of `plan` and assembles its hashes.
    fn proof_hashes(&self, plan: &ProofPlan) -> Result<Vec<Hash>, LogError> {
        let nodes = self.inner.store.nodes(plan.nodes())?;
        Ok(plan.assemble(&nodes).map_err(|e| StoreError::Corrupt {
            detail: e.to_string(),
        })?)
    }

    fn entry_by_index_blocking(&self, index: LogIndex) -> Result<LogEntry, LogError> {
        let leaf = self
            .inner
            .store
            .leaf(index)?
            .ok_or_else(|| LogError::NotFound {
                what: format!("log index {index}"),
            })?;
        let head = self.head_including(index)?;
        self.entry_at(leaf, &head)
    }

    /// The entry at `index`, with a proof at the current tree size.
    ///
    /// # Errors
    /// [`LogError::NotFound`], [`LogError::Store`].
    pub async fn entry_by_index(&self, index: LogIndex) -> Result<LogEntry, LogError> {
        let this = self.clone();
        blocking(move || this.entry_by_index_blocking(index)).await
    }

    /// The entry with this UUID: 64 hex digits (the leaf hash), or 80 with this
    /// log's tree ID in front (Rekor's entry ID).
    ///
    /// # Errors
    /// [`LogError::BadRequest`] for a malformed UUID, [`LogError::NotFound`],
    /// [`LogError::Store`].
    pub async fn entry_by_uuid(&self, uuid: &str) -> Result<LogEntry, LogError> {
        let hash = self.parse_uuid(uuid)?;
        let this = self.clone();
        let uuid = uuid.to_owned();
        blocking(move || {
            let index = this
                .inner
                .store
                .find_leaves(&[hash])?
                .first()
                .copied()
                .flatten()
                .ok_or(LogError::NotFound {
                    what: format!("entry {uuid}"),
                })?;
            this.entry_by_index_blocking(index)
        })
        .await
    }

    fn parse_uuid(&self, uuid: &str) -> Result<Hash, LogError> {
        let bad = || LogError::BadRequest {
            detail: format!(
                "entry UUID {:?} is neither 64 hex digits nor 80 (16 of tree ID, then 64)",
                uuid.chars().take(100).collect::<String>()
            ),
        };
        let hex_part = match uuid.len() {
            64 => uuid,
            80 => {
                let (tree, rest) = uuid.split_at(16);
                let tree_id = i64::from_str_radix(tree, 16).map_err(|_| bad())?;
                if tree_id != self.tree_id() {
                    return Err(LogError::NotFound {
                        what: format!("entry {uuid} (tree ID {tree_id} is not this log's)"),
                    });
                }
                rest
            }
            _ => return Err(bad()),
        };
        let bytes = hex::decode(hex_part).map_err(|_| bad())?;
        Hash::try_from(bytes.as_slice()).map_err(|_| bad())
    }

    /// The inclusion proof of `index` in the tree of `tree_size` (≤ the current size).
    ///
    /// # Errors
    /// [`LogError::TreeSizeTooLarge`], [`LogError::NotFound`] (index not below the
    /// size), [`LogError::Store`].
    pub async fn inclusion_proof(
        &self,
        index: LogIndex,
        tree_size: TreeSize,
    ) -> Result<InclusionProof, LogError> {
        let this = self.clone();
        blocking(move || this.inclusion_proof_blocking(index, tree_size)).await
    }

    /// [`LogService::inclusion_proof`] without the async hop, for benchmarks and
    /// callers already on a blocking thread.
    ///
    /// # Errors
    /// As [`LogService::inclusion_proof`].
    pub fn inclusion_proof_blocking(
        &self,
        index: LogIndex,
        tree_size: TreeSize,
    ) -> Result<InclusionProof, LogError> {
        let current = self.head_of_size(tree_size)?;
        let plan = ProofPlan::inclusion(index, tree_size).map_err(|_| LogError::NotFound {
            what: format!("log index {index} in a tree of size {tree_size}"),
        })?;
        let hashes = self.proof_hashes(&plan)?;
        let root = if tree_size == current.tree_size {
            current.root
        } else {
            self.root_blocking(tree_size)?
        };
        Ok(InclusionProof {
            log_index: index,
            tree_size,
            root_hash: root,
            hashes,
        })
    }

    fn root_blocking(&self, tree_size: TreeSize) -> Result<Hash, LogError> {
        Ok(self
            .proof_hashes(&ProofPlan::root(tree_size))?
            .first()
            .copied()
            .unwrap_or_else(empty_root))
    }

    /// The consistency proof between two tree sizes (Rekor: `firstSize` ≥ 1,
    /// `lastSize` ≥ `firstSize`, at most the current size).
    ///
    /// # Errors
    /// [`LogError::BadRequest`], [`LogError::TreeSizeTooLarge`], [`LogError::Store`].
    pub async fn consistency_proof(
        &self,
        first: TreeSize,
        last: TreeSize,
    ) -> Result<ConsistencyProof, LogError> {
        if first > last {
            return Err(LogError::BadRequest {
                detail: format!("firstSize {first} must be at most lastSize {last}"),
            });
        }
        let this = self.clone();
        blocking(move || {
            this.head_of_size(last)?;
            let plan = ProofPlan::consistency(first, last).map_err(|e| LogError::BadRequest {
                detail: e.to_string(),
            })?;
            let hashes = this.proof_hashes(&plan)?;
            Ok(ConsistencyProof {
                root_hash: this.root_blocking(last)?,
                hashes,
            })
        })
        .await
    }

    /// The UUIDs of the entries matching `query`, in log order, at most
    /// [`LogConfig::max_search_results`].
    ///
    /// # Errors
    /// [`LogError::BadRequest`] (no criterion, a malformed hash or key),
    /// [`LogError::Store`].
    pub async fn search(&self, query: &SearchQuery) -> Result<Vec<Hash>, LogError> {
        let mut keys = Vec::new();
        if let Some(h) = &query.hash {
            let h = h.to_lowercase();
            let hex_part = h.strip_prefix("sha256:").unwrap_or(&h);
            if hex_part.len() != 64 || !hex_part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(LogError::BadRequest {
                    detail: format!(
                        "hash {:?} is not sha256:<64 hex digits>",
                        h.chars().take(100).collect::<String>()
                    ),
                });
            }
            keys.push(format!("sha256:{hex_part}"));
        }
        if let Some(pem) = &query.public_key_pem {
            keys.push(
                entry::verifier_search_key(pem).map_err(|e| LogError::BadRequest {
                    detail: e.to_string(),
                })?,
            );
        }
        if let Some(email) = &query.email {
            if email.is_empty() {
                return Err(LogError::BadRequest {
                    detail: "email is empty".into(),
                });
            }
            keys.push(email.to_lowercase());
        }
        if keys.is_empty() {
            return Err(LogError::BadRequest {
                detail: "give at least one of hash, publicKey or email".into(),
            });
        }
        let operator = query.operator;
        let limit = self.inner.config.max_search_results;
        // The first `limit` of a union are among the first `limit` of each key; an AND
        // needs every match of each key to intersect correctly.
        let per_key = match operator {
            SearchOperator::Or => limit,
            SearchOperator::And => usize::MAX,
        };
        let this = self.clone();
        blocking(move || {
            let store = &this.inner.store;
            let mut result: Option<Vec<LogIndex>> = None;
            for key in &keys {
                let found = store.search(key, per_key)?;
                result = Some(match (result, operator) {
                    (None, _) => found,
                    (Some(acc), SearchOperator::Or) => {
                        let mut all = acc;
                        all.extend(found);
                        all
                    }
                    (Some(acc), SearchOperator::And) => {
                        let found: std::collections::HashSet<LogIndex> =
                            found.into_iter().collect();
                        acc.into_iter().filter(|i| found.contains(i)).collect()
                    }
                });
            }
            let mut indices = result.unwrap_or_default();
            indices.sort();
            indices.dedup();
            indices.truncate(limit);
            let ids: Vec<NodeId> = indices
                .iter()
                .map(|i| NodeId {
                    level: 0,
                    index: i.0,
                })
                .collect();
            Ok(store.nodes(&ids)?)
        })
        .await
    }
}

/// Checks `config` and creates `data_dir`.
fn prepare(data_dir: &Path, config: &LogConfig) -> Result<(), LogError> {
    config.check()?;
    std::fs::create_dir_all(data_dir).map_err(|source| LogError::Io {
        action: "creating the data directory",
        path: data_dir.to_owned(),
        source,
    })
}

/// `YYYY-MM-DDTHH:MM:SSZ` for Unix seconds (UTC).
pub(crate) fn rfc3339(secs: i64) -> String {
    signet_formats::sigstore::UnixTime(secs).to_rfc3339()
}

/// Entry points that skip validation, for benchmarks and bulk imports only.
pub mod danger {
    use signet_tlog::TreeSize;
    use tokio::sync::oneshot;

    use super::{LogEntry, LogError, LogService, Submission};
    use crate::entry::{CanonicalEntry, EntryKind};

    fn unvalidated(body: Vec<u8>) -> CanonicalEntry {
        let leaf_hash = signet_tlog::merkle::leaf_hash(&body);
        CanonicalEntry {
            kind: EntryKind::HashedRekordV001,
            body,
            leaf_hash,
            search_keys: Vec::new(),
        }
    }

    /// Appends many bodies as leaves **without validating them**, through the normal
    /// sequencer and commit path (so in batches of up to `max_batch`), waiting for
    /// queue space instead of answering 503, and without building responses (no
    /// proofs, no SETs). For building large logs for benchmarks. Returns the tree size
    /// after the last commit.
    ///
    /// # Errors
    /// [`LogError::Duplicate`], [`LogError::Unavailable`], [`LogError::Store`] for the
    /// first body that failed (earlier ones may be committed).
    pub async fn bulk_append_unvalidated(
        service: &LogService,
        bodies: Vec<Vec<u8>>,
    ) -> Result<TreeSize, LogError> {
        let tx = service
            .inner
            .tx
            .as_ref()
            .ok_or_else(|| LogError::Unavailable {
                detail: "the log is shutting down".into(),
            })?
            .clone();
        let mut replies = Vec::with_capacity(bodies.len());
        for body in bodies {
            let (reply, rx) = oneshot::channel();
            tx.send(Submission {
                entry: unvalidated(body),
                reply,
            })
            .await
            .map_err(|_| LogError::Unavailable {
                detail: "the log writer has stopped".into(),
            })?;
            replies.push(rx);
        }
        let mut size = service.tree_head().tree_size;
        for rx in replies {
            let appended = rx.await.map_err(|_| LogError::Unavailable {
                detail: "the log writer stopped before answering".into(),
            })??;
            size = size.max(appended.head.tree_size);
        }
        Ok(size)
    }

    /// Appends `body` as a leaf **without validating it** (no parsing, no signature
    /// check): for building large test logs quickly. The body is stored as given and
    /// goes through the normal sequencer and commit path.
    ///
    /// # Errors
    /// As [`LogService::submit`], except [`LogError::Rejected`].
    pub async fn append_unvalidated(
        service: &LogService,
        body: Vec<u8>,
    ) -> Result<LogEntry, LogError> {
        service.submit_canonical(unvalidated(body)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_767_225_599), "2025-12-31T23:59:59Z");
    }

    #[test]
    fn hostnames_from_base_urls() {
        let h = |u: &str| LogConfig::from_base_url(u).map(|c| c.hostname);
        assert_eq!(
            h("http://127.0.0.1:8080").ok().as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(
            h("https://rekor.example.com/api").ok().as_deref(),
            Some("rekor.example.com")
        );
        assert_eq!(h("http://[::1]:3000").ok().as_deref(), Some("::1"));
        assert!(matches!(h("http://"), Err(LogError::Config { .. })));
        assert!(matches!(
            LogConfig::new("a b").check(),
            Err(LogError::Config { .. })
        ));
    }
}
