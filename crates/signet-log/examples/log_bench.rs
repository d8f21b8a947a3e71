//! Benchmarks of the log, printed as a table:
//!
//! - durable appends per second with 1, 16 and 64 concurrent clients, through
//!   [`LogService::submit`] (validation, sequencing, the fsynced commit, and the
//!   response's proof and SET) and over HTTP on loopback (reqwest → axum);
//! - inclusion-proof latency p50/p99 at 1,000,000 entries (the store is built once
//!   with the unvalidated bulk path), for the proof alone and for a whole
//!   `GET /api/v1/log/entries?logIndex=` answer built by the library;
//! - storage bytes per entry.
//!
//! `cargo run --release -p signet-log --example log_bench [-- --entries N]`
//! (`SIGNET_LOG_BENCH_DIR` sets where the temporary stores go).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use signet_crypto::{KeyAlgorithm, PrivateKey, Signer as _};
use signet_log::{CommitMode, LogConfig, LogService, STORE_FILE, danger};
use signet_tlog::{LogIndex, TreeSize};

fn proposal(key: &PrivateKey, artifact: &[u8]) -> Vec<u8> {
    let sig = key.sign(artifact).expect("sign");
    serde_json::to_vec(&json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(artifact))}},
            "signature": {
                "content": STANDARD.encode(sig),
                "publicKey": {"content": STANDARD.encode(key.public_key().to_pem())},
            },
        },
    }))
    .expect("json")
}

fn tempdir() -> tempfile::TempDir {
    match std::env::var_os("SIGNET_LOG_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d).expect("tmp"),
        None => tempfile::tempdir().expect("tmp"),
    }
}

fn file_size(dir: &Path) -> u64 {
    std::fs::metadata(dir.join(STORE_FILE)).map_or(0, |m| m.len())
}

/// Appends `per_client` pre-signed entries from each of `clients` concurrent tasks.
async fn throughput(
    clients: usize,
    per_client: usize,
    http: bool,
    commit: CommitMode,
) -> (f64, f64) {
    let dir = tempdir();
    let mut config = LogConfig::new("bench.local");
    config.commit = commit;
    let service = LogService::open(dir.path(), config).expect("open");
    // Sign everything first: the clients' cost is not the log's.
    let work: Vec<Vec<Vec<u8>>> = (0..clients)
        .map(|c| {
            let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).expect("key");
            (0..per_client)
                .map(|i| proposal(&key, format!("{c}/{i}").as_bytes()))
                .collect()
        })
        .collect();
    let mut server = None;
    let mut url = String::new();
    if http {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        url = format!(
            "http://{}/api/v1/log/entries",
            listener.local_addr().expect("addr")
        );
        let app = service.router();
        server = Some(tokio::spawn(
            async move { axum::serve(listener, app).await },
        ));
    }
    let client = reqwest::Client::new();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for proposals in work {
        let service = service.clone();
        let client = client.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            for p in proposals {
                if http {
                    let r = client.post(&url).body(p).send().await.expect("send");
                    assert_eq!(r.status().as_u16(), 201);
                    let _ = r.bytes().await.expect("body");
                } else {
                    service.submit(&p).await.expect("append");
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("join");
    }
    let elapsed = start.elapsed();
    let n = (clients * per_client) as f64;
    // + 1: the genesis entry.
    assert_eq!(service.tree_head().tree_size, TreeSize(n as u64 + 1));
    if let Some(s) = server {
        s.abort();
    }
    let bytes = file_size(dir.path()) as f64 / n;
    (n / elapsed.as_secs_f64(), bytes)
}

/// The p50 latency of a 4 KiB write + fdatasync in the bench directory.
fn fsync_latency() -> Duration {
    use std::io::Write as _;
    let dir = tempdir();
    let mut f = std::fs::File::create(dir.path().join("probe")).expect("create");
    let mut times: Vec<Duration> = (0..100)
        .map(|_| {
            let t = Instant::now();
            f.write_all(&[0u8; 4096]).expect("write");
            f.sync_data().expect("fdatasync");
            t.elapsed()
        })
        .collect();
    times.sort();
    times[50]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let entries: u64 = args
        .iter()
        .position(|a| a == "--entries")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);

    println!("## durable appends per second (release, 2 worker threads)");
    println!(
        "fdatasync of 4 KiB right now: {:?} (p50 of 100)",
        fsync_latency()
    );
    println!("| clients | commit | path | entries | appends/s | store bytes/entry |");
    println!("|---|---|---|---|---|---|");
    for (clients, per_client) in [(1, 1000), (16, 1500), (64, 600)] {
        for commit in [CommitMode::TwoPhase, CommitMode::OnePhase] {
            for http in [false, true] {
                let (rate, bytes) = throughput(clients, per_client, http, commit).await;
                let path = if http {
                    "HTTP (reqwest → axum, loopback)"
                } else {
                    "LogService::submit"
                };
                println!(
                    "| {clients} | {commit:?} | {path} | {} | {rate:.0} | {bytes:.0} |",
                    clients * per_client
                );
            }
        }
    }
    println!();
    println!("## {entries} entries");
    let dir = tempdir();
    let mut config = LogConfig::new("bench.local");
    config.max_batch = 4096;
    let service = LogService::open(dir.path(), config).expect("open");
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).expect("key");
    let pem = STANDARD.encode(key.public_key().to_pem());
    let sig = STANDARD.encode(key.sign(b"x").expect("sign"));
    let build = Instant::now();
    let mut body_bytes = 0u64;
    let chunk = 50_000u64;
    let mut at = 0u64;
    while at < entries {
        let n = chunk.min(entries - at);
        // Bodies shaped like real key-based hashedrekord entries (the signature does
        // not verify: this path does not validate).
        let bodies: Vec<Vec<u8>> = (at..at + n)
            .map(|i| {
                let digest = hex::encode(Sha256::digest(i.to_be_bytes()));
                format!(
                    r#"{{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{{"data":{{"hash":{{"algorithm":"sha256","value":"{digest}"}}}},"signature":{{"content":"{sig}","publicKey":{{"content":"{pem}"}}}}}}}}"#
                )
                .into_bytes()
            })
            .collect();
        body_bytes += bodies.iter().map(|b| b.len() as u64).sum::<u64>();
        danger::bulk_append_unvalidated(&service, bodies)
            .await
            .expect("bulk append");
        at += n;
    }
    let built = build.elapsed();
    let size = service.tree_head().tree_size;
    assert_eq!(size, TreeSize(entries + 1)); // + the genesis entry
    let file = file_size(dir.path());
    println!(
        "built in {:.1} s ({:.0} appends/s, bulk path, batches ≤ 4096)",
        built.as_secs_f64(),
        entries as f64 / built.as_secs_f64()
    );
    println!(
        "store: {file} bytes = {:.0} bytes/entry (bodies average {:.0} bytes)",
        file as f64 / entries as f64,
        body_bytes as f64 / entries as f64
    );

    let samples = 20_000;
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let service = Arc::new(service);
    let s = service.clone();
    let proof_times = tokio::task::spawn_blocking(move || {
        let mut times = Vec::with_capacity(samples);
        for _ in 0..samples {
            let index = LogIndex(xorshift(&mut seed) % entries);
            let t = Instant::now();
            let proof = s.inclusion_proof_blocking(index, size).expect("proof");
            times.push(t.elapsed());
            assert!(!proof.hashes.is_empty() || entries == 1);
        }
        times
    })
    .await
    .expect("join");
    let mut sorted = proof_times;
    sorted.sort();
    println!(
        "inclusion proof (store read + assemble + root), {samples} random indices: p50 {:?}, p99 {:?}, max {:?}",
        percentile(&sorted, 0.5),
        percentile(&sorted, 0.99),
        sorted.last().copied().unwrap_or_default()
    );

    let mut times = Vec::with_capacity(samples / 4);
    for _ in 0..samples / 4 {
        let index = LogIndex(xorshift(&mut seed) % entries);
        let t = Instant::now();
        let e = service.entry_by_index(index).await.expect("entry");
        times.push(t.elapsed());
        assert_eq!(e.log_index, index);
    }
    times.sort();
    println!(
        "whole entry (leaf + proof + SET signature, async), {} random indices: p50 {:?}, p99 {:?}",
        times.len(),
        percentile(&times, 0.5),
        percentile(&times, 0.99)
    );

    let fsck_start = Instant::now();
    drop(service);
    let report = signet_log::fsck(dir.path()).expect("fsck");
    println!(
        "fsck of {entries} entries: {:.1} s, clean: {}",
        fsck_start.elapsed().as_secs_f64(),
        report.is_clean()
    );
}
