//! Crash safety: kill -9 the log under concurrent append load, many times at random
//! points, then check that every acknowledged entry survived at its index, that all
//! checkpoints seen are consistent with each other, that fsck passes, and that there
//! are no duplicates.
//!
//! The child process is this test binary itself, re-run with `--ignored --exact
//! crash_child` and `SIGNET_LOG_CRASH_CHILD=<data dir>`: it serves the log on a
//! loopback socket and runs 16 HTTP clients that print one `ACK` line per 201.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use signet_log::{CommitMode, LogConfig, LogError, LogService, fsck};
use signet_tlog::checkpoint::{NoteVerifier, verify_checkpoint};
use signet_tlog::merkle::{Hash, leaf_hash, verify_consistency};
use signet_tlog::{LogIndex, TreeSize};

use common::{HOST, hashedrekord, key, only_entry};

const ENV: &str = "SIGNET_LOG_CRASH_CHILD";
const MODE_ENV: &str = "SIGNET_LOG_CRASH_ONE_PHASE";
const CLIENTS: usize = 16;

/// The child: serve, load, print acknowledgements until killed.
#[test]
#[ignore = "the child process of the crash_safety tests; run by them"]
fn crash_child() {
    let Ok(dir) = std::env::var(ENV) else {
        return;
    };
    // Bounded in time even if the parent dies without killing it.
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(60));
        std::process::exit(0);
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let mut config = LogConfig::new(HOST);
        if std::env::var_os(MODE_ENV).is_some() {
            config.commit = CommitMode::OnePhase;
        }
        let service = LogService::open(std::path::Path::new(&dir), config).expect("open");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = service.router();
        tokio::spawn(async move { axum::serve(listener, app).await });
        println!("READY {addr}");
        let client = reqwest::Client::new();
        let mut tasks = Vec::new();
        for c in 0..CLIENTS {
            let client = client.clone();
            let url = format!("http://{addr}/api/v1/log/entries");
            tasks.push(tokio::spawn(async move {
                let k = key();
                let mut n = 0u64;
                loop {
                    n += 1;
                    let artifact = format!("{} {c} {n}", std::process::id());
                    let Ok(resp) = client
                        .post(&url)
                        .body(hashedrekord(&k, artifact.as_bytes()))
                        .send()
                        .await
                    else {
                        continue;
                    };
                    if resp.status().as_u16() != 201 {
                        continue;
                    }
                    let Ok(bytes) = resp.bytes().await else {
                        continue;
                    };
                    let Ok(v) = serde_json::from_slice::<Value>(&bytes) else {
                        continue;
                    };
                    let (uuid, e) = only_entry(&v);
                    let p = &e["verification"]["inclusionProof"];
                    let checkpoint = p["checkpoint"].as_str().unwrap_or_default();
                    // One write per line; END marks a complete line.
                    let line = format!(
                        "ACK {uuid} {} {} {} END\n",
                        e["logIndex"],
                        p["treeSize"],
                        STANDARD.encode(checkpoint)
                    );
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(line.as_bytes());
                    let _ = out.flush();
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
}

struct Ack {
    uuid: String,
    index: u64,
    tree_size: u64,
    checkpoint: String,
}

fn parse_ack(line: &str) -> Option<Ack> {
    let parts: Vec<&str> = line.split(' ').collect();
    let ["ACK", uuid, index, size, cp, "END"] = parts.as_slice() else {
        return None;
    };
    Some(Ack {
        uuid: (*uuid).to_owned(),
        index: index.parse().ok()?,
        tree_size: size.parse().ok()?,
        checkpoint: String::from_utf8(STANDARD.decode(cp).ok()?).ok()?,
    })
}

/// Kills the child when dropped, so that a failing assertion never leaves it running.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn random_below(n: u64) -> u64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).expect("random");
    u64::from_le_bytes(b) % n
}

#[test]
fn crash_safety_under_kill_9_two_phase_commit() {
    crash_rounds(CommitMode::TwoPhase, 20);
}

#[test]
fn crash_safety_under_kill_9_one_phase_commit() {
    crash_rounds(CommitMode::OnePhase, 12);
}

fn crash_rounds(mode: CommitMode, rounds: usize) {
    let dir = tempfile::tempdir().expect("tmp");
    let exe = std::env::current_exe().expect("test binary");
    let mut acks: Vec<Ack> = Vec::new();
    for round in 0..rounds {
        let mut child = KillOnDrop(
            Command::new(&exe)
                .args([
                    "--ignored",
                    "--exact",
                    "crash_child",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(ENV, dir.path())
                .envs((mode == CommitMode::OnePhase).then_some((MODE_ENV, "1")))
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn child"),
        );
        let stdout = child.0.stdout.take().expect("stdout");
        let (ready_tx, ready_rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // libtest's "test crash_child ... " may precede the first line.
                if line.contains("READY ") {
                    let _ = ready_tx.send(());
                } else if let Some(a) = line.find("ACK ").and_then(|at| parse_ack(&line[at..])) {
                    got.push(a);
                }
            }
            got
        });
        ready_rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("round {round}: the child never became ready"));
        // Kill at a random point under load (and, every few rounds, right away).
        let delay = if round % 5 == 4 {
            random_below(20)
        } else {
            50 + random_below(450)
        };
        std::thread::sleep(Duration::from_millis(delay));
        child.0.kill().expect("kill -9");
        let _ = child.0.wait();
        let got = reader.join().expect("reader");
        eprintln!(
            "{mode:?} round {round}: killed after {delay} ms, {} acknowledged",
            got.len()
        );
        acks.extend(got);
    }
    assert!(
        acks.len() > 100,
        "too little load: {} acknowledgements",
        acks.len()
    );

    // fsck on the killed log.
    let report = fsck(dir.path()).expect("fsck runs");
    assert!(report.is_clean(), "{report}");
    eprint!("{mode:?}: {report}");

    // No duplicates among acknowledgements: distinct UUIDs, distinct indices.
    let uuids: HashSet<&str> = acks.iter().map(|a| a.uuid.as_str()).collect();
    let indices: HashSet<u64> = acks.iter().map(|a| a.index).collect();
    assert_eq!(uuids.len(), acks.len(), "a UUID was acknowledged twice");
    assert_eq!(indices.len(), acks.len(), "an index was acknowledged twice");
    assert!(report.tree_size >= acks.len() as u64);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let service = LogService::open(dir.path(), LogConfig::new(HOST)).expect("reopen");
        // Every acknowledged entry is there, at the same index.
        for a in &acks {
            let e = service
                .entry_by_uuid(&a.uuid)
                .await
                .unwrap_or_else(|err| panic!("acknowledged {} lost: {err}", a.uuid));
            assert_eq!(e.log_index, LogIndex(a.index), "{} moved", a.uuid);
            assert_eq!(leaf_hash(&e.body).to_string(), a.uuid);
        }
        // A resubmitted acknowledged entry is a duplicate at its index.
        for a in acks.iter().step_by(acks.len() / 10 + 1) {
            let e = service.entry_by_uuid(&a.uuid).await.expect("entry");
            match service.submit(&e.body).await {
                Err(LogError::Duplicate { index, .. }) => assert_eq!(index, LogIndex(a.index)),
                other => panic!("resubmission of {}: {other:?}", a.uuid),
            }
        }

        // Checkpoints seen by clients: signed by the log, one root per size, and
        // consistent with each other and with the final tree.
        let verifier = NoteVerifier::new(HOST, service.public_key().clone()).expect("verifier");
        let mut roots: BTreeMap<u64, Hash> = BTreeMap::new();
        for a in &acks {
            let cp = verify_checkpoint(a.checkpoint.as_bytes(), std::slice::from_ref(&verifier))
                .expect("checkpoint verifies");
            assert_eq!(cp.checkpoint().tree_size.0, a.tree_size);
            let root = cp.checkpoint().root_hash;
            if let Some(prev) = roots.insert(a.tree_size, root) {
                assert_eq!(
                    prev, root,
                    "two roots for tree size {}: a fork",
                    a.tree_size
                );
            }
        }
        let head = service.tree_head();
        roots.insert(head.tree_size.0, head.root_hash);
        let seen: Vec<(u64, Hash)> = roots.into_iter().collect();
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        if seen.len() <= 400 {
            for i in 0..seen.len() {
                for j in i + 1..seen.len() {
                    pairs.push((i, j));
                }
            }
        } else {
            // Consecutive pairs and each against the final tree (consistency is
            // transitive), plus a random sample of other pairs.
            for i in 0..seen.len() - 1 {
                pairs.push((i, i + 1));
                pairs.push((i, seen.len() - 1));
            }
            for _ in 0..20_000 {
                let i = random_below(seen.len() as u64 - 1) as usize;
                let j = i + 1 + random_below((seen.len() - 1 - i) as u64) as usize;
                pairs.push((i, j));
            }
        }
        let started = Instant::now();
        let mut cache: HashMap<(u64, u64), Vec<Hash>> = HashMap::new();
        for (i, j) in &pairs {
            let ((old, old_root), (new, new_root)) = (seen[*i], seen[*j]);
            if old == 0 {
                continue;
            }
            let proof = match cache.get(&(old, new)) {
                Some(p) => p.clone(),
                None => {
                    let p = service
                        .consistency_proof(TreeSize(old), TreeSize(new))
                        .await
                        .expect("proof")
                        .hashes;
                    cache.insert((old, new), p.clone());
                    p
                }
            };
            verify_consistency(TreeSize(old), TreeSize(new), &old_root, &new_root, &proof)
                .unwrap_or_else(|e| panic!("checkpoints {old} and {new} inconsistent: {e}"));
        }
        eprintln!(
            "{mode:?}: {} acknowledged entries survived; {} checkpoint sizes, {} pairs consistent ({:?})",
            acks.len(),
            seen.len(),
            pairs.len(),
            started.elapsed()
        );
    });
}
