//! OCI 1.1 referrers: manifests whose `subject` names another manifest. cosign v3
//! stores each Sigstore bundle of an image this way.
//!
//! Reading ([`list_referrers`]) asks the registry's referrers API
//! (`GET /v2/<repo>/referrers/<digest>`); a registry without it (distribution 2.8
//! answers 404) is read through the *referrers tag schema*: an image index tagged
//! `sha256-<hex>` (the subject digest with `:` replaced by `-`) that lists the
//! referrers. This is what go-containerregistry, cosign and oras do.
//!
//! Writing ([`push_referrer`]) PUTs the manifest by digest. A registry with the API
//! then lists it by itself (it answers `OCI-Subject`, or its referrers endpoint
//! answers with an index); otherwise the fallback index is updated: read, add the
//! entry, sort by digest, write. The registry offers no compare-and-swap, so two
//! writers can each read the old index and the second write drops the first one's
//! entry. [`push_referrer`] therefore re-reads after writing and writes again until
//! its entry has stayed listed for a settling period, with jittered backoff between
//! attempts and a bounded number of writes; each write is the union of every entry it
//! has read so far, so a stale read never makes it drop what it saw. `If-Match` with
//! the index's `ETag` is sent too; registries that honour it answer 412 instead of
//! overwriting, which is retried the same way. This is best effort: a writer of
//! another tool that read the index long before (more than the settling period) can
//! still overwrite it unseen.
//!
//! OCI layouts (`oci:PATH`) have no referrers API: the referrer manifest is written
//! as a blob and the fallback index under the `sha256-<hex>` tag of the layout's
//! `index.json`, which is how oras stores referrers in a layout too.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use signet_formats::manifest::{AnyManifest, Descriptor, Index, parse_manifest};
use signet_formats::{Digest, MediaType, gojson};

use crate::store::{ImageStore, MAX_MANIFEST_BYTES, StoreError};
use crate::{PutManifest, ReferrersResponse, RegistryError};

/// How many times [`push_referrer`] writes the fallback index before giving up.
pub const MAX_FALLBACK_WRITES: u32 = 12;

/// Reads that must see the new entry, over at least the settling period, before a
/// fallback write counts as done.
const CONFIRMATIONS: u32 = 2;

/// The shortest settling period (see [`add_to_fallback`]).
const MIN_SETTLE: Duration = Duration::from_millis(100);

/// The longest settling period.
const MAX_SETTLE: Duration = Duration::from_secs(3);

/// Where a list of referrers came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReferrersSource {
    /// The registry's referrers API.
    Api,
    /// The referrers tag schema: the index under this tag (`sha256-<hex>`).
    FallbackTag(String),
}

impl std::fmt::Display for ReferrersSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReferrersSource::Api => f.write_str("the referrers API"),
            ReferrersSource::FallbackTag(t) => write!(f, "the referrers fallback tag {t}"),
        }
    }
}

/// The referrers of one subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferrerList {
    /// Where the list came from.
    pub source: ReferrersSource,
    /// The referrer manifests' descriptors, in the order the registry (or the
    /// fallback index) gave them.
    pub descriptors: Vec<Descriptor>,
}

/// What [`push_referrer`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushedReferrer {
    /// The entry that lists the referrer: media type, size, digest, artifact type.
    pub descriptor: Descriptor,
    /// How the store lists it.
    pub source: ReferrersSource,
    /// The fallback index already listed it, so nothing was written to it.
    pub already_listed: bool,
}

/// Errors from reading or writing referrers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReferrerError {
    /// The registry or layout failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A referrers list (the API's answer or the fallback index) is not a valid OCI
    /// index of descriptors.
    #[error(
        "the referrers of {subject} in {location}, from {from}, are malformed: {reason}; the registry (or whoever wrote that tag) is at fault, and deleting the tag lets it be rebuilt"
    )]
    MalformedList {
        /// The store (`reg/repo` or `oci:PATH`).
        location: String,
        /// The subject whose referrers were asked for.
        subject: Digest,
        /// The API or the fallback tag.
        from: ReferrersSource,
        /// What is wrong.
        reason: String,
    },
    /// The manifest given to [`push_referrer`] cannot be a referrer of the subject.
    #[error("cannot push this manifest as a referrer of {subject}: {reason}")]
    InvalidReferrer {
        /// The subject it was meant for.
        subject: Digest,
        /// What is wrong with it.
        reason: String,
    },
    /// Concurrent writers kept replacing the fallback index.
    #[error(
        "the referrers fallback tag {tag} in {location} kept being rewritten by concurrent writers: {digest} was still missing after {attempts} writes; run the command again (the referrer manifest itself is stored)"
    )]
    Contention {
        /// The store.
        location: String,
        /// The fallback tag.
        tag: String,
        /// The referrer that could not be listed.
        digest: Digest,
        /// How many writes were made.
        attempts: u32,
    },
}

/// Lists the referrers of `subject` in `store`, keeping only those of
/// `artifact_type` when it is given.
///
/// A registry's referrers API is asked first; a 200 with an OCI index is the answer
/// (filtered here unless the registry says, with `OCI-Filters-Applied`, that it
/// filtered). Otherwise, and for layouts, the `sha256-<hex>` fallback index is read;
/// no such tag means no referrers. Lists are bounded like manifests (4 MiB).
pub async fn list_referrers(
    store: &ImageStore,
    subject: &Digest,
    artifact_type: Option<&str>,
) -> Result<ReferrerList, ReferrerError> {
    let (source, mut descriptors, filtered) = match store {
        ImageStore::Registry { client, repository } => {
            match client
                .get_referrers(repository, subject, artifact_type)
                .await
                .map_err(StoreError::from)?
            {
                ReferrersResponse::Index {
                    bytes,
                    artifact_type_filtered,
                } => {
                    let list =
                        parse_list(&bytes).map_err(|reason| ReferrerError::MalformedList {
                            location: store.name(),
                            subject: subject.clone(),
                            from: ReferrersSource::Api,
                            reason,
                        })?;
                    (ReferrersSource::Api, list, artifact_type_filtered)
                }
                ReferrersResponse::Unsupported { .. } => {
                    let f = read_fallback(store, subject).await?;
                    (ReferrersSource::FallbackTag(f.tag), f.descriptors, false)
                }
            }
        }
        ImageStore::Layout(_) => {
            let f = read_fallback(store, subject).await?;
            (ReferrersSource::FallbackTag(f.tag), f.descriptors, false)
        }
    };
    if let Some(t) = artifact_type
        && !filtered
    {
        descriptors.retain(|d| d.artifact_type.as_ref().map(MediaType::as_str) == Some(t));
    }
    Ok(ReferrerList {
        source,
        descriptors,
    })
}

/// Stores `manifest_bytes`, an image manifest whose `subject` is `subject`, as a
/// referrer: PUT by digest, then, unless the registry lists referrers by itself,
/// added to the `sha256-<hex>` fallback index (see the module docs for how
/// concurrent writers are handled). The blobs it names must already be in the store.
///
/// Pushing the same manifest again writes nothing more to the fallback index.
pub async fn push_referrer(
    store: &ImageStore,
    manifest_bytes: &[u8],
    subject: &Digest,
) -> Result<PushedReferrer, ReferrerError> {
    let descriptor = referrer_entry(manifest_bytes, subject)?;
    match store {
        ImageStore::Registry { client, repository } => {
            let put = client
                .put_manifest_if_match(
                    repository,
                    &descriptor.digest.to_string(),
                    &descriptor.media_type,
                    manifest_bytes,
                    None,
                )
                .await
                .map_err(StoreError::from)?;
            let api = match put {
                // The spec's signal: the registry processed the subject.
                PutManifest::Stored {
                    subject: Some(s), ..
                } if s == *subject => true,
                // go-containerregistry's check: does the referrers endpoint answer?
                _ => matches!(
                    client
                        .get_referrers(repository, subject, None)
                        .await
                        .map_err(StoreError::from)?,
                    ReferrersResponse::Index { .. }
                ),
            };
            if api {
                return Ok(PushedReferrer {
                    descriptor,
                    source: ReferrersSource::Api,
                    already_listed: false,
                });
            }
        }
        ImageStore::Layout(l) => {
            l.write_blob(manifest_bytes).map_err(StoreError::from)?;
        }
    }
    let already_listed = add_to_fallback(store, subject, &descriptor).await?;
    Ok(PushedReferrer {
        descriptor,
        source: ReferrersSource::FallbackTag(subject.tag_form()),
        already_listed,
    })
}

/// The fallback-index entry for a referrer manifest, after checking it is one.
fn referrer_entry(bytes: &[u8], subject: &Digest) -> Result<Descriptor, ReferrerError> {
    let invalid = |reason: String| ReferrerError::InvalidReferrer {
        subject: subject.clone(),
        reason,
    };
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(invalid(format!(
            "it is {} bytes, over the {MAX_MANIFEST_BYTES}-byte manifest limit",
            bytes.len()
        )));
    }
    let manifest = match parse_manifest(bytes, None) {
        Ok(AnyManifest::Image(m)) => m,
        Ok(AnyManifest::Index(_)) => {
            return Err(invalid("it is an index, not an image manifest".to_owned()));
        }
        Err(e) => return Err(invalid(e.to_string())),
    };
    match &manifest.subject {
        Some(s) if s.digest == *subject => {}
        Some(s) => {
            return Err(invalid(format!(
                "its subject is {}, not {subject}",
                s.digest
            )));
        }
        None => return Err(invalid("it has no subject field".to_owned())),
    }
    let media_type = manifest.media_type.unwrap_or(MediaType::OCI_MANIFEST);
    if media_type.is_index() || !media_type.is_image_manifest() {
        return Err(invalid(format!(
            "its mediaType {media_type} is not an image manifest type"
        )));
    }
    let mut d = Descriptor::of(media_type, bytes);
    d.artifact_type = Some(manifest.artifact_type.unwrap_or(manifest.config.media_type));
    Ok(d)
}

/// The fallback index of a subject, as read.
struct Fallback {
    tag: String,
    descriptors: Vec<Descriptor>,
    etag: Option<String>,
}

async fn read_fallback(store: &ImageStore, subject: &Digest) -> Result<Fallback, ReferrerError> {
    let tag = subject.tag_form();
    let (bytes, etag) = match store {
        ImageStore::Registry { client, repository } => {
            match client
                .get_manifest_with_etag(repository, &tag)
                .await
                .map_err(StoreError::from)?
            {
                Some((m, etag)) => (Some(m.bytes), etag),
                None => (None, None),
            }
        }
        ImageStore::Layout(l) => match l.resolve_tag(&tag).map_err(StoreError::from)? {
            Some(d) => (
                Some(
                    l.read_blob(&d.digest, MAX_MANIFEST_BYTES)
                        .map_err(StoreError::from)?,
                ),
                None,
            ),
            None => (None, None),
        },
    };
    let descriptors = match bytes {
        None => Vec::new(),
        Some(b) => parse_list(&b).map_err(|reason| ReferrerError::MalformedList {
            location: store.name(),
            subject: subject.clone(),
            from: ReferrersSource::FallbackTag(tag.clone()),
            reason,
        })?,
    };
    Ok(Fallback {
        tag,
        descriptors,
        etag,
    })
}

/// Parses a referrers list: an OCI image index (`manifests` may be `null`).
fn parse_list(bytes: &[u8]) -> Result<Vec<Descriptor>, String> {
    let index: Index = serde_json::from_slice(bytes)
        .map_err(|e| format!("not an OCI image index of descriptors: {e}"))?;
    if index.schema_version != 2 {
        return Err(format!(
            "schemaVersion is {}, expected 2",
            index.schema_version
        ));
    }
    if let Some(mt) = &index.media_type
        && *mt != MediaType::OCI_INDEX
    {
        return Err(format!(
            "mediaType is {mt}, expected {}",
            MediaType::OCI_INDEX
        ));
    }
    if let Some(d) = index.manifests.iter().find(|d| d.size < 0) {
        return Err(format!("entry {} has a negative size", d.digest));
    }
    Ok(index.manifests)
}

/// Adds `entry` to the fallback index until it is seen to stay there. `Ok(true)` when
/// it was already listed before anything was written.
///
/// Every write is the union of *all* entries this call has seen in any read, plus
/// `entry`: a stale or torn read (distribution truncates a tag's link file before
/// rewriting it) then cannot make this writer drop what it saw earlier. After a write
/// the entry must stay listed for a settling period, at least [`MIN_SETTLE`] and four
/// times the slowest read-then-write this call has made itself: a concurrent writer
/// that read the index before our write is, under the same load, done within that.
async fn add_to_fallback(
    store: &ImageStore,
    subject: &Digest,
    entry: &Descriptor,
) -> Result<bool, ReferrerError> {
    let key = entry.digest.to_string();
    let mut seen: BTreeMap<String, Descriptor> = BTreeMap::new();
    let (mut writes, mut failures) = (0u32, 0u32);
    let mut settle = MIN_SETTLE;
    let mut listed_since: Option<(Instant, u32)> = None;
    let mut backed_off = false;
    let mut delay = Duration::ZERO;
    loop {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let read_at = Instant::now();
        let current = match read_fallback(store, subject).await {
            Ok(c) => c,
            Err(e) if is_transient(&e) && failures < MAX_FALLBACK_WRITES => {
                failures += 1;
                delay = jitter(Duration::from_millis(15u64 << failures.min(5)));
                continue;
            }
            Err(e) => return Err(e),
        };
        let read_time = read_at.elapsed();
        let listed = current.descriptors.iter().any(|d| d.digest == entry.digest);
        for d in &current.descriptors {
            seen.entry(d.digest.to_string())
                .or_insert_with(|| d.clone());
        }
        if listed {
            if writes == 0 {
                return Ok(true);
            }
            let (since, reads) = listed_since.get_or_insert((read_at, 0));
            *reads += 1;
            if *reads >= CONFIRMATIONS && since.elapsed() >= settle {
                return Ok(false);
            }
            // A writer that read the index before our write may still overwrite it:
            // look again once such a read-modify-write has had time to land.
            delay = jitter(settle / 2);
            continue;
        }
        listed_since = None;
        if writes > 0 && !backed_off {
            // We wrote and lost a race: back off (jittered, so that the writers spread
            // out), then re-read and re-merge.
            backed_off = true;
            delay = jitter(Duration::from_millis(15u64 << writes.min(5)));
            continue;
        }
        if writes >= MAX_FALLBACK_WRITES {
            return Err(ReferrerError::Contention {
                location: store.name(),
                tag: current.tag,
                digest: entry.digest.clone(),
                attempts: writes,
            });
        }
        writes += 1;
        backed_off = false;
        delay = Duration::ZERO;
        let mut manifests: BTreeMap<String, Descriptor> = seen.clone();
        manifests.insert(key.clone(), entry.clone());
        let write_at = Instant::now();
        match write_fallback(store, &current, manifests.into_values().collect()).await {
            Ok(()) => {}
            // distribution answers 500 when concurrent PUTs of one tag collide: a lost
            // race like any other, which the next read shows.
            Err(e) if is_transient(&e) => {}
            Err(e) => return Err(e),
        }
        settle = settle
            .max((read_time + write_at.elapsed()) * 4)
            .min(MAX_SETTLE);
    }
}

/// Failures worth another round of the fallback loop: server errors and rate limits
/// that outlasted the client's own retries, and broken connections.
fn is_transient(e: &ReferrerError) -> bool {
    matches!(
        e,
        ReferrerError::Store(StoreError::Registry(
            RegistryError::Server { .. }
                | RegistryError::RateLimited { .. }
                | RegistryError::Transport { .. }
                | RegistryError::Timeout { .. }
        ))
    )
}

/// Writes `manifests` (already in digest-string order, go-containerregistry's) as the
/// fallback index, conditional on the ETag of the read when there was one. A 412
/// writes nothing, which the caller's next read notices.
async fn write_fallback(
    store: &ImageStore,
    read: &Fallback,
    manifests: Vec<Descriptor>,
) -> Result<(), ReferrerError> {
    let bytes = gojson::to_vec(&Index {
        schema_version: 2,
        media_type: Some(MediaType::OCI_INDEX),
        manifests,
        annotations: None,
    });
    match store {
        ImageStore::Registry { client, repository } => {
            client
                .put_manifest_if_match(
                    repository,
                    &read.tag,
                    &MediaType::OCI_INDEX,
                    &bytes,
                    read.etag.as_deref(),
                )
                .await
                .map_err(StoreError::from)?;
        }
        ImageStore::Layout(_) => {
            store
                .put_tagged_manifest(&read.tag, &MediaType::OCI_INDEX, &bytes)
                .await?;
        }
    }
    Ok(())
}

/// `base` scaled by a random factor in [0.5, 1.5).
fn jitter(base: Duration) -> Duration {
    let mut b = [0u8; 2];
    // Without randomness the delay is just not spread; nothing else depends on it.
    let r = match getrandom::fill(&mut b) {
        Ok(()) => u16::from_le_bytes(b),
        Err(_) => u16::MAX / 2,
    };
    base.mul_f64(0.5 + f64::from(r) / f64::from(u16::MAX) - f64::EPSILON)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUBJECT: &str = "sha256:fef38e0cf62aa1966194b389a832e6ac6ef6f66ff566cf8abeb2af034f485b6f";

    fn manifest(subject: &str, artifact_type: Option<&str>) -> Vec<u8> {
        let at = artifact_type
            .map(|t| format!(r#","artifactType":"{t}""#))
            .unwrap_or_default();
        format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.empty.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"}},"layers":[],"subject":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":559,"digest":"{subject}"}}{at}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn entry_takes_artifact_type_then_config_type() {
        let subject: Digest = SUBJECT.parse().unwrap();
        let m = manifest(SUBJECT, Some("application/x-test"));
        let d = referrer_entry(&m, &subject).unwrap();
        assert_eq!(d.digest, Digest::sha256_of(&m));
        assert_eq!(d.size, m.len() as i64);
        assert_eq!(d.artifact_type.unwrap().as_str(), "application/x-test");
        let d = referrer_entry(&manifest(SUBJECT, None), &subject).unwrap();
        assert_eq!(
            d.artifact_type.unwrap().as_str(),
            "application/vnd.oci.empty.v1+json"
        );
        // The fallback entry is exactly mediaType, size, digest, artifactType.
        let json =
            String::from_utf8(gojson::to_vec(&referrer_entry(&m, &subject).unwrap())).unwrap();
        assert!(
            json.starts_with(
                r#"{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":"#
            )
        );
        assert!(json.ends_with(r#","artifactType":"application/x-test"}"#));
    }

    #[test]
    fn entry_refuses_what_is_not_a_referrer_of_the_subject() {
        let subject: Digest = SUBJECT.parse().unwrap();
        let other = Digest::sha256_of(b"other");
        for (bytes, want) in [
            (manifest(&other.to_string(), None), "its subject is"),
            (b"{".to_vec(), "manifest"),
            (
                br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#.to_vec(),
                "an index",
            ),
            (
                br#"{"schemaVersion":2,"config":{"mediaType":"a","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"layers":[]}"#.to_vec(),
                "no subject",
            ),
        ] {
            let e = referrer_entry(&bytes, &subject).unwrap_err().to_string();
            assert!(e.contains(want), "{e} lacks {want}");
        }
    }

    #[test]
    fn lists_parse_strictly() {
        assert!(
            parse_list(br#"{"schemaVersion":2,"manifests":null}"#)
                .unwrap()
                .is_empty()
        );
        let ok = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"m","size":3,"digest":"{SUBJECT}","artifactType":"t","annotations":{{"a":"b"}}}}]}}"#
        );
        let l = parse_list(ok.as_bytes()).unwrap();
        assert_eq!(l[0].annotations.as_ref().unwrap()["a"], "b");
        for (bad, want) in [
            (&b"not json"[..], "not an OCI image index"),
            (br#"{"schemaVersion":1,"manifests":[]}"#, "schemaVersion is 1"),
            (
                br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","manifests":[]}"#,
                "mediaType is",
            ),
            (
                br#"{"schemaVersion":2,"manifests":[{"mediaType":"m","size":3,"digest":"sha256:00"}]}"#,
                "not an OCI image index",
            ),
            (
                br#"{"schemaVersion":2,"manifests":[{"mediaType":"m","size":-1,"digest":"sha256:fef38e0cf62aa1966194b389a832e6ac6ef6f66ff566cf8abeb2af034f485b6f"}]}"#,
                "negative size",
            ),
        ] {
            let e = parse_list(bad).unwrap_err();
            assert!(e.contains(want), "{e} lacks {want}");
        }
    }

    #[test]
    fn jitter_stays_in_range() {
        for _ in 0..100 {
            let d = jitter(Duration::from_millis(100));
            assert!(d >= Duration::from_millis(50) && d < Duration::from_millis(150));
        }
    }

    #[tokio::test]
    async fn layout_fallback_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let layout = crate::OciLayout::create(dir.path().join("l")).unwrap();
        let store = ImageStore::Layout(layout.clone());
        let subject: Digest = SUBJECT.parse().unwrap();
        assert!(
            list_referrers(&store, &subject, None)
                .await
                .unwrap()
                .descriptors
                .is_empty()
        );
        let mut digests = Vec::new();
        for t in ["application/b", "application/a", "application/c"] {
            let m = manifest(SUBJECT, Some(t));
            let p = push_referrer(&store, &m, &subject).await.unwrap();
            assert!(!p.already_listed);
            assert_eq!(p.source, ReferrersSource::FallbackTag(subject.tag_form()));
            digests.push(p.descriptor.digest);
        }
        let again = push_referrer(&store, &manifest(SUBJECT, Some("application/a")), &subject)
            .await
            .unwrap();
        assert!(again.already_listed);
        let all = list_referrers(&store, &subject, None).await.unwrap();
        let mut sorted: Vec<String> = digests.iter().map(ToString::to_string).collect();
        sorted.sort();
        let listed: Vec<String> = all
            .descriptors
            .iter()
            .map(|d| d.digest.to_string())
            .collect();
        assert_eq!(listed, sorted);
        let only_a = list_referrers(&store, &subject, Some("application/a"))
            .await
            .unwrap();
        assert_eq!(only_a.descriptors.len(), 1);
        // The referrer manifests themselves are readable by digest.
        for d in &digests {
            assert!(store.manifest(&d.to_string()).await.unwrap().is_some());
        }
    }
}
