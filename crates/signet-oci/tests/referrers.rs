//! OCI 1.1 referrers (`signet_oci::referrers`) against both real registries of
//! `scripts/test-env.sh`: distribution 2.8 (`SIGNET_TEST_REGISTRY`, no referrers API:
//! the `sha256-<hex>` fallback index) and the ggcr-based referrers registry
//! (`SIGNET_TEST_REFERRERS_REGISTRY`, the API), plus oras 1.2 (`SIGNET_TEST_ORAS`) as
//! an independent reader and writer, and a scripted server for malformed answers.
//!
//! The registry tests skip, saying so, when `SIGNET_TEST_REFERRERS_REGISTRY` is unset
//! (source `$SIGNET_TEST_DIR/env.sh` after `bash scripts/test-env.sh up`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub
)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use signet_formats::manifest::{Descriptor, Index};
use signet_formats::{Digest, MediaType, Repository, gojson};
use signet_oci::referrers::{ReferrerError, ReferrersSource, list_referrers, push_referrer};
use signet_oci::{ClientConfig, ImageStore, RegistryClient, RegistryError, StoreError};

// ---------------------------------------------------------------------------------
// helpers

/// A client as the CLI builds it (anonymous, default retries).
fn client() -> RegistryClient {
    RegistryClient::new(ClientConfig {
        docker_config: Some(PathBuf::from("/nonexistent/signet-oci-test/config.json")),
        ..ClientConfig::default()
    })
    .unwrap()
}

/// No retries: for the scripted server, whose 5xx answers are deliberate.
fn impatient_client() -> RegistryClient {
    RegistryClient::new(ClientConfig {
        docker_config: Some(PathBuf::from("/nonexistent/signet-oci-test/config.json")),
        max_retries: 0,
        ..ClientConfig::default()
    })
    .unwrap()
}

fn nonce() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{t}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// One registry under test.
#[derive(Clone)]
struct Target {
    /// `distribution-2.8` or `referrers-api`.
    name: &'static str,
    registry: String,
    /// Whether it has the referrers API.
    api: bool,
}

impl Target {
    fn store(&self, c: &RegistryClient, repo: &str) -> ImageStore {
        ImageStore::Registry {
            client: c.clone(),
            repository: Repository::parse(&format!("{}/{repo}", self.registry)).unwrap(),
        }
    }

    fn expected_source(&self, subject: &Digest) -> ReferrersSource {
        if self.api {
            ReferrersSource::Api
        } else {
            ReferrersSource::FallbackTag(subject.tag_form())
        }
    }
}

fn targets() -> Option<Vec<Target>> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let (Some(plain), Some(api)) = (
        var("SIGNET_TEST_REGISTRY"),
        var("SIGNET_TEST_REFERRERS_REGISTRY"),
    ) else {
        println!(
            "skipping: SIGNET_TEST_REGISTRY or SIGNET_TEST_REFERRERS_REGISTRY not set (run `bash scripts/test-env.sh up` and source $SIGNET_TEST_DIR/env.sh)"
        );
        return None;
    };
    Some(vec![
        Target {
            name: "distribution-2.8",
            registry: plain,
            api: false,
        },
        Target {
            name: "referrers-api",
            registry: api,
            api: true,
        },
    ])
}

fn registry_parts(store: &ImageStore) -> (&RegistryClient, &Repository) {
    match store {
        ImageStore::Registry { client, repository } => (client, repository),
        ImageStore::Layout(_) => unreachable!("registry tests only"),
    }
}

/// Pushes a fresh image and returns its descriptor (the subject of the test).
async fn fresh_subject(store: &ImageStore) -> Descriptor {
    let (c, r) = registry_parts(store);
    let n = nonce();
    let config = format!(r#"{{"signet-referrers-test":"{n}"}}"#).into_bytes();
    let layer = format!("layer {n}").into_bytes();
    c.push_blob(r, &Digest::sha256_of(&config), &config)
        .await
        .unwrap();
    c.push_blob(r, &Digest::sha256_of(&layer), &layer)
        .await
        .unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "size": config.len(), "digest": Digest::sha256_of(&config).to_string()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "size": layer.len(), "digest": Digest::sha256_of(&layer).to_string()}],
    }))
    .unwrap();
    let tag = format!("s{}", n.replace('-', ""));
    c.put_manifest(r, &tag, &MediaType::OCI_MANIFEST, &manifest)
        .await
        .unwrap();
    Descriptor::of(MediaType::OCI_MANIFEST, &manifest)
}

/// The bytes of an artifact manifest that refers to `subject` (its blobs uploaded).
async fn artifact(
    store: &ImageStore,
    subject: &Descriptor,
    artifact_type: &str,
    note: &str,
) -> Vec<u8> {
    let config = b"{}";
    let layer = format!("artifact {note}").into_bytes();
    store.push_blob(config).await.unwrap();
    store.push_blob(&layer).await.unwrap();
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2,
                   "digest": Digest::sha256_of(config).to_string()},
        "layers": [{"mediaType": "application/octet-stream", "size": layer.len(),
                    "digest": Digest::sha256_of(&layer).to_string()}],
        "annotations": {"test.note": note},
        "subject": subject,
        "artifactType": artifact_type,
    }))
    .unwrap()
}

fn digests(ds: &[Descriptor]) -> Vec<String> {
    ds.iter().map(|d| d.digest.to_string()).collect()
}

// ---------------------------------------------------------------------------------
// both registries

/// Push one referrer, list it back (digest, size, artifact type; annotations where
/// the API reports them), read the manifest by digest.
#[tokio::test]
async fn round_trip() {
    let Some(targets) = targets() else { return };
    for t in targets {
        let store = t.store(&client(), "signet-oci-test/referrers-roundtrip");
        let subject = fresh_subject(&store).await;
        assert!(
            list_referrers(&store, &subject.digest, None)
                .await
                .unwrap()
                .descriptors
                .is_empty(),
            "{}: a new image has no referrers",
            t.name
        );
        let m = artifact(&store, &subject, "application/vnd.signet.test", "one").await;
        let pushed = push_referrer(&store, &m, &subject.digest).await.unwrap();
        assert_eq!(
            pushed.source,
            t.expected_source(&subject.digest),
            "{}",
            t.name
        );
        assert_eq!(pushed.descriptor.digest, Digest::sha256_of(&m));
        let list = list_referrers(&store, &subject.digest, None).await.unwrap();
        assert_eq!(
            list.source,
            t.expected_source(&subject.digest),
            "{}",
            t.name
        );
        assert_eq!(list.descriptors.len(), 1, "{}", t.name);
        let d = &list.descriptors[0];
        assert_eq!(d.digest, Digest::sha256_of(&m), "{}", t.name);
        assert_eq!(d.size, m.len() as i64);
        assert_eq!(d.media_type, MediaType::OCI_MANIFEST);
        assert_eq!(
            d.artifact_type.as_ref().map(MediaType::as_str),
            Some("application/vnd.signet.test")
        );
        if t.api {
            assert_eq!(d.annotations.as_ref().unwrap()["test.note"], "one");
        } else {
            // ggcr's fallback entries carry no annotations; neither do ours.
            assert!(d.annotations.is_none());
        }
        let back = store
            .manifest(&d.digest.to_string())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(back.bytes, m);
        println!("{}: round trip via {}", t.name, list.source);
    }
}

/// `?artifactType=` on the API (server-side, `OCI-Filters-Applied`) and on the
/// fallback index (client-side) give the same answer.
#[tokio::test]
async fn artifact_type_filter() {
    let Some(targets) = targets() else { return };
    for t in targets {
        let store = t.store(&client(), "signet-oci-test/referrers-filter");
        let subject = fresh_subject(&store).await;
        let a = artifact(&store, &subject, "application/vnd.signet.a", "a").await;
        let b = artifact(&store, &subject, "application/vnd.signet.b+json", "b").await;
        push_referrer(&store, &a, &subject.digest).await.unwrap();
        push_referrer(&store, &b, &subject.digest).await.unwrap();
        let only_b = list_referrers(
            &store,
            &subject.digest,
            Some("application/vnd.signet.b+json"),
        )
        .await
        .unwrap();
        assert_eq!(
            digests(&only_b.descriptors),
            vec![Digest::sha256_of(&b).to_string()],
            "{}",
            t.name
        );
        let none = list_referrers(&store, &subject.digest, Some("application/vnd.signet.c"))
            .await
            .unwrap();
        assert!(none.descriptors.is_empty(), "{}", t.name);
        assert_eq!(
            list_referrers(&store, &subject.digest, None)
                .await
                .unwrap()
                .descriptors
                .len(),
            2
        );
    }
}

/// The fallback index is exactly what go-containerregistry writes: an OCI index whose
/// entries are `{mediaType,size,digest,artifactType}`, sorted by digest string. The
/// API registry gets no such tag.
#[tokio::test]
async fn fallback_index_is_sorted_by_digest() {
    let Some(targets) = targets() else { return };
    for t in targets {
        let store = t.store(&client(), "signet-oci-test/referrers-sorted");
        let subject = fresh_subject(&store).await;
        let mut pushed = Vec::new();
        for i in 0..6 {
            let m = artifact(
                &store,
                &subject,
                "application/vnd.signet.sorted",
                &format!("{i}"),
            )
            .await;
            pushed.push(
                push_referrer(&store, &m, &subject.digest)
                    .await
                    .unwrap()
                    .descriptor,
            );
        }
        let mut want = pushed.clone();
        want.sort_by_key(|d| d.digest.to_string());
        let listed = list_referrers(&store, &subject.digest, None).await.unwrap();
        assert_eq!(digests(&listed.descriptors), digests(&want), "{}", t.name);
        let tag = store.manifest(&subject.digest.tag_form()).await.unwrap();
        if t.api {
            assert!(
                tag.is_none(),
                "{}: no fallback tag when the API exists",
                t.name
            );
            continue;
        }
        let tag = tag.unwrap();
        assert_eq!(tag.media_type, MediaType::OCI_INDEX);
        let expected = gojson::to_vec(&Index {
            schema_version: 2,
            media_type: Some(MediaType::OCI_INDEX),
            manifests: want,
            annotations: None,
        });
        assert_eq!(
            String::from_utf8(tag.bytes).unwrap(),
            String::from_utf8(expected).unwrap()
        );
    }
}

/// Pushing the same referrer twice lists it once; the second push writes nothing to
/// the fallback index.
#[tokio::test]
async fn pushing_twice_is_idempotent() {
    let Some(targets) = targets() else { return };
    for t in targets {
        let store = t.store(&client(), "signet-oci-test/referrers-idempotent");
        let subject = fresh_subject(&store).await;
        let m = artifact(&store, &subject, "application/vnd.signet.twice", "x").await;
        let first = push_referrer(&store, &m, &subject.digest).await.unwrap();
        assert!(!first.already_listed);
        let tag_before = store
            .manifest(&subject.digest.tag_form())
            .await
            .unwrap()
            .map(|m| m.digest);
        let second = push_referrer(&store, &m, &subject.digest).await.unwrap();
        assert_eq!(second.already_listed, !t.api, "{}", t.name);
        let tag_after = store
            .manifest(&subject.digest.tag_form())
            .await
            .unwrap()
            .map(|m| m.digest);
        assert_eq!(tag_before, tag_after, "{}", t.name);
        let list = list_referrers(&store, &subject.digest, None).await.unwrap();
        assert_eq!(
            digests(&list.descriptors),
            vec![Digest::sha256_of(&m).to_string()],
            "{}",
            t.name
        );
    }
}

/// 20 signers at once, each with its own client (as separate processes would be),
/// each pushing its own referrer for the same subject: none is lost, on the fallback
/// index (read-modify-write without compare-and-swap) or on the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_signers_all_listed() {
    let Some(targets) = targets() else { return };
    for t in targets {
        let setup = t.store(&client(), "signet-oci-test/referrers-concurrent");
        let subject = fresh_subject(&setup).await;
        let mut manifests = Vec::new();
        for i in 0..20 {
            manifests.push(
                artifact(
                    &setup,
                    &subject,
                    "application/vnd.signet.concurrent",
                    &format!("{i}"),
                )
                .await,
            );
        }
        let started = Instant::now();
        let tasks: Vec<_> = manifests
            .iter()
            .cloned()
            .map(|m| {
                let store = t.store(&client(), "signet-oci-test/referrers-concurrent");
                let subject = subject.digest.clone();
                tokio::spawn(async move { push_referrer(&store, &m, &subject).await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let elapsed = started.elapsed();
        let listed: BTreeSet<String> = list_referrers(&setup, &subject.digest, None)
            .await
            .unwrap()
            .descriptors
            .iter()
            .map(|d| d.digest.to_string())
            .collect();
        let want: BTreeSet<String> = manifests
            .iter()
            .map(|m| Digest::sha256_of(m).to_string())
            .collect();
        assert_eq!(
            listed, want,
            "{}: every concurrent referrer is listed",
            t.name
        );
        println!("{}: 20 concurrent pushes in {elapsed:?}", t.name);
    }
}

/// A fallback tag that holds something other than an index is a typed error naming
/// the tag, not an empty list.
#[tokio::test]
async fn malformed_fallback_tag_is_an_error() {
    let Some(targets) = targets() else { return };
    let t = &targets[0];
    let store = t.store(&client(), "signet-oci-test/referrers-malformed");
    let subject = fresh_subject(&store).await;
    let other = fresh_subject(&store).await;
    // An image manifest under the subject's fallback tag.
    let (c, r) = registry_parts(&store);
    let bytes = store
        .manifest(&other.digest.to_string())
        .await
        .unwrap()
        .unwrap()
        .bytes;
    c.put_manifest(
        r,
        &subject.digest.tag_form(),
        &MediaType::OCI_MANIFEST,
        &bytes,
    )
    .await
    .unwrap();
    let e = list_referrers(&store, &subject.digest, None)
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(&e, ReferrerError::MalformedList { from: ReferrersSource::FallbackTag(tag), .. } if *tag == subject.digest.tag_form()),
        "{msg}"
    );
    assert!(
        msg.contains("mediaType is application/vnd.oci.image.manifest.v1+json"),
        "{msg}"
    );
}

// ---------------------------------------------------------------------------------
// oras 1.2

fn oras() -> Option<(String, tempfile::TempDir)> {
    let o = std::env::var("SIGNET_TEST_ORAS")
        .ok()
        .filter(|v| !v.is_empty())?;
    Some((o, tempfile::tempdir().unwrap()))
}

fn run_oras(oras: &str, home: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(oras)
        .args(args)
        .env("HOME", home)
        .current_dir(home)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "oras {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn oras_discover(
    oras: &str,
    home: &std::path::Path,
    t: &Target,
    repo: &str,
    subject: &Digest,
) -> BTreeSet<String> {
    let spec = if t.api {
        "v1.1-referrers-api"
    } else {
        "v1.1-referrers-tag"
    };
    let out = run_oras(
        oras,
        home,
        &[
            "discover",
            "--plain-http",
            "--no-tty",
            "--distribution-spec",
            spec,
            "--format",
            "json",
            &format!("{}/{repo}@{subject}", t.registry),
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap().to_owned())
        .collect()
}

/// oras discover sees what we wrote (the fallback index on 2.8, the API otherwise),
/// and we list what oras attach wrote.
#[tokio::test]
async fn oras_reads_ours_and_we_read_oras() {
    let Some(targets) = targets() else { return };
    let Some((oras, home)) = oras() else {
        println!("skipping: SIGNET_TEST_ORAS not set (run `bash scripts/test-env.sh tools`)");
        return;
    };
    let repo = "signet-oci-test/referrers-oras";
    for t in targets {
        let store = t.store(&client(), repo);
        let subject = fresh_subject(&store).await;
        let ours = artifact(&store, &subject, "application/vnd.signet.ours", "ours").await;
        push_referrer(&store, &ours, &subject.digest).await.unwrap();
        let seen = oras_discover(&oras, home.path(), &t, repo, &subject.digest);
        assert_eq!(
            seen,
            BTreeSet::from([Digest::sha256_of(&ours).to_string()]),
            "{}",
            t.name
        );

        std::fs::write(home.path().join("note.txt"), "from oras\n").unwrap();
        let spec = if t.api {
            "v1.1-referrers-api"
        } else {
            "v1.1-referrers-tag"
        };
        let out = run_oras(
            &oras,
            home.path(),
            &[
                "attach",
                "--plain-http",
                "--no-tty",
                "--distribution-spec",
                spec,
                "--artifact-type",
                "application/vnd.signet.oras",
                "--format",
                "json",
                &format!("{}/{repo}@{}", t.registry, subject.digest),
                "note.txt",
            ],
        );
        let attached: serde_json::Value = serde_json::from_str(&out).unwrap();
        let oras_digest = attached["digest"].as_str().unwrap().to_owned();
        let list = list_referrers(&store, &subject.digest, None).await.unwrap();
        let by_oras = list
            .descriptors
            .iter()
            .find(|d| d.digest.to_string() == oras_digest)
            .unwrap_or_else(|| panic!("{}: oras's referrer {oras_digest} not listed", t.name));
        assert_eq!(
            by_oras.artifact_type.as_ref().map(MediaType::as_str),
            Some("application/vnd.signet.oras")
        );
        assert_eq!(list.descriptors.len(), 2, "{}", t.name);
        // And a push after oras's keeps oras's entry (the fallback index is merged).
        let later = artifact(&store, &subject, "application/vnd.signet.ours", "later").await;
        push_referrer(&store, &later, &subject.digest)
            .await
            .unwrap();
        let seen = oras_discover(&oras, home.path(), &t, repo, &subject.digest);
        assert_eq!(seen.len(), 3, "{}: {seen:?}", t.name);
        assert!(seen.contains(&oras_digest));
    }
}

// ---------------------------------------------------------------------------------
// a scripted registry for answers the real ones do not give

#[path = "support/fake.rs"]
mod fake;

const INDEX: &str = "application/vnd.oci.image.index.v1+json";
const SUBJECT: &str = "sha256:fef38e0cf62aa1966194b389a832e6ac6ef6f66ff566cf8abeb2af034f485b6f";

fn fake_store(server: &fake::Server) -> ImageStore {
    ImageStore::Registry {
        client: impatient_client(),
        repository: Repository::parse(&format!("{}/demo/app", server.addr)).unwrap(),
    }
}

fn entry(digest: &Digest, artifact_type: &str) -> String {
    format!(
        r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":10,"digest":"{digest}","artifactType":"{artifact_type}"}}"#
    )
}

fn index_of(entries: &[String]) -> Vec<u8> {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{INDEX}","manifests":[{}]}}"#,
        entries.join(",")
    )
    .into_bytes()
}

/// Answers the API returns that are not a list are typed errors; a 200 that is not an
/// OCI index means "no API" (go-containerregistry's rule), as do 404 and 400.
#[tokio::test]
async fn api_answers_are_checked() {
    let subject: Digest = SUBJECT.parse().unwrap();
    // A 200 index whose body is not an index.
    let s = fake::Server::start(|_, _| fake::Reply::new(200, INDEX, b"<html>")).await;
    let e = list_referrers(&fake_store(&s), &subject, None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &e,
            ReferrerError::MalformedList {
                from: ReferrersSource::Api,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("not an OCI image index"), "{e}");

    // A 200 index with a bad entry.
    let s = fake::Server::start(|_, _| {
        fake::Reply::new(
            200,
            INDEX,
            br#"{"schemaVersion":2,"manifests":[{"mediaType":"m","size":1,"digest":"sha256:12"}]}"#,
        )
    })
    .await;
    let e = list_referrers(&fake_store(&s), &subject, None)
        .await
        .unwrap_err();
    assert!(matches!(&e, ReferrerError::MalformedList { .. }), "{e}");

    // Over 4 MiB.
    let s =
        fake::Server::start(|_, _| fake::Reply::new(200, INDEX, &vec![b' '; 4 * 1024 * 1024 + 1]))
            .await;
    let e = list_referrers(&fake_store(&s), &subject, None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &e,
            ReferrerError::Store(StoreError::Registry(RegistryError::TooLarge { .. }))
        ),
        "{e}"
    );

    // 500: an error, not a fallback.
    let s = fake::Server::start(|_, _| fake::Reply::new(500, "text/plain", b"boom")).await;
    let e = list_referrers(&fake_store(&s), &subject, None)
        .await
        .unwrap_err();
    assert!(matches!(&e, ReferrerError::Store(_)), "{e}");

    // 200 text/html, 404 and 400: the fallback tag is read (here it is missing: empty).
    for (status, ct) in [
        (200, "text/html"),
        (404, "text/plain"),
        (400, "application/json"),
    ] {
        let s = fake::Server::start(move |r, _| {
            if r.target.contains("/referrers/") {
                fake::Reply::new(status, ct, b"no")
            } else {
                fake::Reply::new(
                    404,
                    "application/json",
                    br#"{"errors":[{"code":"MANIFEST_UNKNOWN"}]}"#,
                )
            }
        })
        .await;
        let store = fake_store(&s);
        // The client's first request to a loopback registry settles http vs https, and
        // a 400 to it is an error; a real verify resolves the image first.
        let (c, r) = registry_parts(&store);
        assert!(c.get_manifest(r, "v1").await.unwrap().is_none());
        let l = list_referrers(&store, &subject, None).await.unwrap();
        assert_eq!(l.source, ReferrersSource::FallbackTag(subject.tag_form()));
        assert!(l.descriptors.is_empty());
        let log = s.requests();
        assert!(
            log[2]
                .target
                .ends_with(&format!("/manifests/{}", subject.tag_form())),
            "{:?}",
            log[2]
        );
    }
}

/// The filter goes out percent-encoded; without `OCI-Filters-Applied` it is applied
/// here, with it the server's answer is taken as filtered.
#[tokio::test]
async fn filter_is_sent_and_applied_when_the_server_did_not() {
    let subject: Digest = SUBJECT.parse().unwrap();
    let (a, b) = (Digest::sha256_of(b"a"), Digest::sha256_of(b"b"));
    let body = index_of(&[
        entry(&a, "application/x.a+json"),
        entry(&b, "application/x.b"),
    ]);
    let unfiltered = body.clone();
    let s = fake::Server::start(move |_, _| fake::Reply::new(200, INDEX, &unfiltered)).await;
    let l = list_referrers(&fake_store(&s), &subject, Some("application/x.a+json"))
        .await
        .unwrap();
    assert_eq!(digests(&l.descriptors), vec![a.to_string()]);
    let target = s.requests()[0].target.clone();
    assert!(
        target.ends_with(&format!(
            "/v2/demo/app/referrers/{subject}?artifactType=application%2Fx.a%2Bjson"
        )),
        "{target}"
    );

    let s = fake::Server::start(move |_, _| {
        fake::Reply::new(200, &format!("{INDEX}; charset=utf-8"), &body)
            .with("OCI-Filters-Applied", "artifactType")
    })
    .await;
    let l = list_referrers(&fake_store(&s), &subject, Some("application/x.a+json"))
        .await
        .unwrap();
    assert_eq!(l.descriptors.len(), 2, "the server said it filtered");
}

/// With an ETag on the fallback index, the write is conditional; a 412 (the index
/// changed) is re-read and merged, not an error.
#[tokio::test]
async fn fallback_write_uses_if_match_and_survives_412() {
    let subject: Digest = SUBJECT.parse().unwrap();
    let theirs = Digest::sha256_of(b"theirs");
    // The fallback index: starts with `theirs`; the first conditional PUT gets 412.
    let state = Arc::new(Mutex::new((index_of(&[entry(&theirs, "t")]), 0u32)));
    let st = state.clone();
    let s = fake::Server::start(move |r, _| {
        let mut st = st.lock().unwrap();
        let tag_path = format!("/manifests/{}", Digest::tag_form(&SUBJECT.parse().unwrap()));
        if r.target.contains("/referrers/") {
            return fake::Reply::new(404, "text/plain", b"404 page not found");
        }
        if r.target.ends_with(&tag_path) && r.method == "GET" {
            let etag = format!("\"v{}\"", st.1);
            return fake::Reply::new(200, INDEX, &st.0).with("ETag", &etag);
        }
        if r.target.ends_with(&tag_path) && r.method == "PUT" {
            st.1 += 1;
            if st.1 == 1 {
                assert_eq!(r.header("if-match"), Some("\"v0\""));
                return fake::Reply::new(412, "application/json", b"{}");
            }
            st.0 = r.body.clone();
            return fake::Reply::new(201, "text/plain", b"");
        }
        // The referrer manifest PUT by digest.
        fake::Reply::new(201, "text/plain", b"")
    })
    .await;
    let store = fake_store(&s);
    let m = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.empty.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"}},"layers":[],"subject":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"{SUBJECT}"}},"artifactType":"application/x"}}"#
    );
    let p = push_referrer(&store, m.as_bytes(), &subject).await.unwrap();
    assert!(!p.already_listed);
    let final_index: Index = serde_json::from_slice(&state.lock().unwrap().0).unwrap();
    let listed: BTreeSet<String> = digests(&final_index.manifests).into_iter().collect();
    assert_eq!(
        listed,
        BTreeSet::from([
            theirs.to_string(),
            Digest::sha256_of(m.as_bytes()).to_string()
        ])
    );
    let puts: Vec<_> = s
        .requests()
        .iter()
        .filter(|r| r.method == "PUT" && r.target.contains("/manifests/sha256-"))
        .map(|r| r.header("if-match").map(str::to_owned))
        .collect();
    assert_eq!(
        puts,
        vec![Some("\"v0\"".to_owned()), Some("\"v1\"".to_owned())]
    );
}

/// A 404 from `/referrers/` means "no API" for the whole registry (the spec forbids a
/// registry with the API from answering 404), so the client does not ask again: later
/// lists on any repository of that registry cost only the fallback-tag read.
#[tokio::test]
async fn a_404_from_the_referrers_api_is_remembered_per_registry() {
    let subject: Digest = SUBJECT.parse().unwrap();
    let s = fake::Server::start(|r, _| {
        if r.target.contains("/referrers/") {
            fake::Reply::new(404, "text/plain", b"404 page not found")
        } else {
            fake::Reply::new(
                404,
                "application/json",
                br#"{"errors":[{"code":"MANIFEST_UNKNOWN"}]}"#,
            )
        }
    })
    .await;
    let store = fake_store(&s);
    let other_repo = ImageStore::Registry {
        client: registry_parts(&store).0.clone(),
        repository: Repository::parse(&format!("{}/demo/other", s.addr)).unwrap(),
    };
    for st in [&store, &store, &other_repo] {
        let l = list_referrers(st, &subject, None).await.unwrap();
        assert_eq!(l.source, ReferrersSource::FallbackTag(subject.tag_form()));
    }
    let asked_api = s
        .requests()
        .iter()
        .filter(|r| r.target.contains("/referrers/"))
        .count();
    let read_tag = s
        .requests()
        .iter()
        .filter(|r| {
            r.target
                .ends_with(&format!("/manifests/{}", subject.tag_form()))
        })
        .count();
    assert_eq!((asked_api, read_tag), (1, 3));

    // A fresh client asks again: the memory is per client, not global.
    let fresh = fake_store(&s);
    list_referrers(&fresh, &subject, None).await.unwrap();
    let asked_api = s
        .requests()
        .iter()
        .filter(|r| r.target.contains("/referrers/"))
        .count();
    assert_eq!(asked_api, 2);
}
