//! Bundles verified per second by `BundleVerifier`, for `bench/bundles.py` (which builds
//! this in release mode and compares it with sigstore-python and sigstore-js).
//!
//! ```text
//! bundle_throughput SPEC_JSON [--threads N] [--cache]
//! ```
//!
//! SPEC_JSON is the spec the oracle scripts read (`scripts/oracles/*`): `{"iterations",
//! "warmup", "cases": [{"name", "bundle", "artifact", "trusted_root", "identity",
//! "issuer"} | {..., "key"}]}`, paths absolute or relative to the working directory. Each
//! timed call parses the bundle JSON and verifies it against the artifact bytes, with one
//! verifier per trusted root built beforehand (as a long-lived verifier would be). With
//! `--threads N` every thread runs the whole round robin `iterations` times through
//! clones of the same verifiers (so with `--cache` they share one cache). Prints
//! `{"runtime", "threads", "cached", "wall_ns", "calls", "cache", "cases": [{"name",
//! "ns": [...]}], "floor_ns": [...]}` on stdout, where `floor_ns` times the signature
//! checks of one keyless bundle (4 P-256 and 2 P-384 verifies) once per round robin, in
//! the same run; any failed verification aborts with exit 1.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Instant;

use serde_json::{Value, json};
use signet_crypto::{KeyAlgorithm, PrivateKey, PublicKey, Signer as _};
use signet_formats::sigstore::{Bundle, TrustedRoot, trust};
use signet_verify::bundle::{Artifact, BundleVerifier, Policy};
use signet_x509::IdentityMatcher;

struct Case {
    name: String,
    root: String,
    bundle: Vec<u8>,
    artifact: Vec<u8>,
    policy: Policy,
}

fn field(c: &Value, k: &str) -> Result<String, String> {
    c[k].as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("spec case lacks a string {k:?}"))
}

fn read(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))
}

fn load(spec: &Value) -> Result<(Vec<Case>, HashMap<String, BundleVerifier>), String> {
    let mut cases = Vec::new();
    let mut roots = HashMap::new();
    for c in spec["cases"].as_array().ok_or("spec has no cases")? {
        let root = c["trusted_root"].as_str().unwrap_or("").to_owned();
        if !roots.contains_key(&root) {
            let tr = if root.is_empty() {
                trust::production_trusted_root()
            } else {
                TrustedRoot::parse(&read(&root)?).map_err(|e| format!("{root}: {e}"))?
            };
            let v = BundleVerifier::new(&tr).map_err(|e| format!("{root}: {e}"))?;
            roots.insert(root.clone(), v);
        }
        let policy = match c["key"].as_str() {
            Some(k) => {
                Policy::Key(PublicKey::from_pem(&read(k)?).map_err(|e| format!("{k}: {e}"))?)
            }
            None => Policy::Identity(IdentityMatcher::exact(
                field(c, "identity")?,
                field(c, "issuer")?,
            )),
        };
        cases.push(Case {
            name: field(c, "name")?,
            root,
            bundle: read(&field(c, "bundle")?)?,
            artifact: read(&field(c, "artifact")?)?,
            policy,
        });
    }
    Ok((cases, roots))
}

fn verify_once(v: &BundleVerifier, c: &Case) -> Result<u64, String> {
    let t0 = Instant::now();
    let bundle = Bundle::parse(&c.bundle).map_err(|e| format!("{}: {e}", c.name))?;
    v.verify(&bundle, Artifact::Bytes(&c.artifact), &c.policy)
        .map_err(|e| format!("{}: {e}", c.name))?;
    Ok(u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX))
}

/// The signature-check floor of one keyless bundle: 4 P-256 verifies (signature, SCT,
/// SET, checkpoint) and 2 P-384 verifies (leaf and intermediate of the P-384 Fulcio
/// chain), over fresh keys, timed in the same round robin as the bundles so that both
/// see the same machine.
struct Floor(Vec<(PublicKey, Vec<u8>, Vec<u8>)>);

/// One thread's timings: per case, then the floor's.
type ThreadTimings = (Vec<Vec<u64>>, Vec<u64>);

impl Floor {
    fn new() -> Result<Floor, String> {
        let mut checks = Vec::new();
        for (alg, n) in [(KeyAlgorithm::EcdsaP256, 4), (KeyAlgorithm::EcdsaP384, 2)] {
            for i in 0..n {
                let key = PrivateKey::generate(alg).map_err(|e| e.to_string())?;
                let message = vec![i as u8; 600];
                let sig = key.sign(&message).map_err(|e| e.to_string())?;
                checks.push((key.public_key().clone(), message, sig));
            }
        }
        Ok(Floor(checks))
    }

    fn once(&self) -> Result<u64, String> {
        let t0 = Instant::now();
        for (key, message, sig) in &self.0 {
            key.verify(message, sig)
                .map_err(|e| format!("floor: {e}"))?;
        }
        Ok(u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }
}

/// One thread's run: `warmup + iterations` round robins; the timings of the last ones,
/// per case, then the floor's.
fn run_thread(
    cases: &[Case],
    roots: &HashMap<String, BundleVerifier>,
    floor: &Floor,
    warmup: usize,
    iterations: usize,
) -> Result<ThreadTimings, String> {
    let mut ns = vec![Vec::with_capacity(iterations); cases.len()];
    let mut floor_ns = Vec::with_capacity(iterations);
    for i in 0..warmup + iterations {
        for (k, c) in cases.iter().enumerate() {
            let v = roots
                .get(&c.root)
                .ok_or("no verifier for the case's root")?;
            let t = verify_once(v, c)?;
            if i >= warmup {
                ns[k].push(t);
            }
        }
        let t = floor.once()?;
        if i >= warmup {
            floor_ns.push(t);
        }
    }
    Ok((ns, floor_ns))
}

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bundle_throughput: {e}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut spec_path = None;
    let mut threads = 1usize;
    let mut cached = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--cache" => cached = true,
            "--threads" => {
                threads = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or("--threads takes a positive number")?;
            }
            p if spec_path.is_none() => spec_path = Some(p.to_owned()),
            other => {
                return Err(format!(
                    "unexpected argument {other:?}; usage: bundle_throughput SPEC_JSON [--threads N] [--cache]"
                ));
            }
        }
    }
    let spec_path =
        spec_path.ok_or("usage: bundle_throughput SPEC_JSON [--threads N] [--cache]")?;
    let spec: Value =
        serde_json::from_slice(&read(&spec_path)?).map_err(|e| format!("{spec_path}: {e}"))?;
    let iterations = spec["iterations"].as_u64().ok_or("spec lacks iterations")? as usize;
    let warmup = spec["warmup"].as_u64().unwrap_or(0) as usize;
    let (cases, mut roots) = load(&spec)?;
    if cached {
        roots = roots
            .into_iter()
            .map(|(k, v)| (k, v.with_cache()))
            .collect();
    }

    let floor = Floor::new()?;
    let t0 = Instant::now();
    let per_thread: Vec<Result<ThreadTimings, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let roots = roots.clone(); // clones share the cache
                let (cases, floor) = (&cases, &floor);
                s.spawn(move || run_thread(cases, &roots, floor, warmup, iterations))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a thread panicked".into())))
            .collect()
    });
    let wall = t0.elapsed();
    let mut ns: Vec<Vec<u64>> = vec![Vec::new(); cases.len()];
    let mut floor_ns = Vec::new();
    for r in per_thread {
        let (cases_ns, f) = r?;
        for (k, v) in cases_ns.into_iter().enumerate() {
            ns[k].extend(v);
        }
        floor_ns.extend(f);
    }
    // Calls timed after warm-up; the wall clock includes the warm-up too, so scale it.
    let timed_calls: usize = ns.iter().map(Vec::len).sum();
    let all_calls = threads * (warmup + iterations) * cases.len();
    let wall_ns = wall.as_nanos() as f64 * timed_calls as f64 / all_calls.max(1) as f64;
    let cache: Vec<Value> = roots
        .values()
        .filter_map(BundleVerifier::cache_stats)
        .map(|s| json!({"hits": s.hits, "misses": s.misses, "entries": s.entries}))
        .collect();
    let out = json!({
        "runtime": format!("signet-verify {} (release)", env!("CARGO_PKG_VERSION")),
        "threads": threads,
        "cached": cached,
        "wall_ns": wall_ns,
        "calls": timed_calls,
        "cache": cache,
        "cases": cases.iter().zip(ns).map(|(c, ns)| json!({"name": c.name, "ns": ns})).collect::<Vec<_>>(),
        "floor_ns": floor_ns,
    });
    println!("{out}");
    Ok(())
}
