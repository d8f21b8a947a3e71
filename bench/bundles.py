#!/usr/bin/env python3
"""Sigstore bundle verification throughput: signet vs sigstore-python vs sigstore-js.

One run measures, on the same conformance happy-path bundles (keyless v0.1, keyless
v0.3, DSSE, key-based):

* signet's `BundleVerifier` (crates/signet-verify/examples/bundle_throughput.rs, built here
  in release mode): without and with the cache, on 1 thread and on 2;
* sigstore-python's library (`Verifier.verify_artifact` / `verify_dsse`) in-process,
  from the oracle venv (scripts/oracles/py-verify.py; it cannot load key-based bundles);
* sigstore-js's `@sigstore/verify` in-process under node (scripts/oracles/js-verify.js);

and prints per-bundle p50/p99 in microseconds, bundles per second, and the ratio to each
peer. Each timed call parses the bundle JSON and verifies it; trust material is built
once per trusted root in every implementation. Then whole processes: `signet verify-blob`
against `sigstore verify identity` (the CLI, with a --trust-config of the same root), p50
wall time per run.

The peers come from `scripts/test-env.sh oracles` (SIGNET_TEST_SIGSTORE_PYTHON,
SIGNET_TEST_SIGSTORE_JS, else their default place under /tmp/signet-test-cache); a
missing one is left out of the table.

    python3 bench/bundles.py [--iterations N] [--peer-iterations N] [--cli-runs N] [--no-build]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONF = REPO / "testdata" / "conformance"
PROD_ROOT = REPO / "crates" / "signet-formats" / "trust" / "production_trusted_root.json"
ID = ("https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
      ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main")
ISS = "https://token.actions.githubusercontent.com"
CACHE = Path(os.environ.get("SIGNET_TEST_CACHE", "/tmp/signet-test-cache"))

# (name, case folder, key or None); all use a.txt and the production root.
CASES = [
    ("keyless v0.1", "happy-path-v0.1", None),
    ("keyless v0.3", "happy-path-v0.3", None),
    ("DSSE (in-toto)", "happy-path-intoto-in-dsse-v3", None),
    ("key-based", "managed-key-happy-path", "managed-key-happy-path/key.pub"),
]


def spec(iterations, warmup, with_keys):
    cases = []
    for name, case, key in CASES:
        if key and not with_keys:
            continue
        c = {"name": name, "bundle": str(CONF / case / "bundle.sigstore.json"),
             "artifact": str(CONF / "a.txt"), "trusted_root": str(PROD_ROOT)}
        if key:
            c["key"] = str(CONF / key)
        else:
            c.update(identity=ID, issuer=ISS)
        cases.append(c)
    return {"iterations": iterations, "warmup": warmup, "cases": cases}


def target_dir():
    return Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))


def build():
    for args in (["-p", "signet-verify", "--example", "bundle_throughput"],
                 ["-p", "signet-cli", "--bin", "signet"]):
        subprocess.run(["cargo", "build", "--release", "--quiet", *args], cwd=REPO, check=True)


def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout)


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def oracle_env(scratch):
    env = dict(os.environ)
    env["XDG_CACHE_HOME"] = str(scratch / "xdg-cache")
    env["XDG_DATA_HOME"] = str(scratch / "xdg-data")
    env["SIGSTORE_OFFLINE"] = "true"
    return env


def find_python():
    p = os.environ.get("SIGNET_TEST_SIGSTORE_PYTHON") or str(CACHE / "oracles/py/bin/python")
    return p if Path(p).exists() and Path(p).with_name("sigstore").exists() else None


def find_js():
    d = os.environ.get("SIGNET_TEST_SIGSTORE_JS") or str(CACHE / "oracles/js/node_modules")
    return d if (Path(d) / "@sigstore/verify").exists() else None


def summarize(label, result):
    """Rows per case, plus the all-bundles row; bundles/s from the wall clock when given."""
    rows = []
    every = []
    for c in result["cases"]:
        ns = c["ns"]
        every.extend(ns)
        rows.append({"impl": label, "case": c["name"], "p50": pct(ns, 50) / 1e3,
                     "p99": pct(ns, 99) / 1e3, "per_s": 1e9 / statistics.mean(ns)})
    if "wall_ns" in result and result["wall_ns"] > 0:
        per_s = result["calls"] * 1e9 / result["wall_ns"]
    else:
        per_s = 1e9 / statistics.mean(every)
    rows.append({"impl": label, "case": "all", "p50": pct(every, 50) / 1e3,
                 "p99": pct(every, 99) / 1e3, "per_s": per_s})
    return rows


def cli_p50(cmd, runs, env=None):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, env=env)
        times.append(time.perf_counter() - t0)
        if r.returncode != 0:
            sys.exit(f"{cmd[0]} failed: {r.stderr.decode(errors='replace')[-500:]}")
    return statistics.median(times) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iterations", type=int, default=1000, help="signet rounds (default 1000)")
    ap.add_argument("--peer-iterations", type=int, default=200,
                    help="sigstore-python / sigstore-js rounds (default 200)")
    ap.add_argument("--cli-runs", type=int, default=30, help="whole-process runs (default 30)")
    ap.add_argument("--no-build", action="store_true", help="use the binaries already built")
    a = ap.parse_args()

    if not a.no_build:
        build()
    bench_bin = target_dir() / "release" / "examples" / "bundle_throughput"
    signet_bin = target_dir() / "release" / "signet"
    python, js = find_python(), find_js()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        full = tmp / "spec.json"
        full.write_text(json.dumps(spec(a.iterations, max(20, a.iterations // 10), True)))
        peer_full = tmp / "peer.json"
        peer_full.write_text(json.dumps(spec(a.peer_iterations, 10, True)))
        peer_keyless = tmp / "peer-keyless.json"
        peer_keyless.write_text(json.dumps(spec(a.peer_iterations, 10, False)))

        results = {}
        for threads in (1, 2):
            for cached in (False, True):
                label = f"signet {'cached' if cached else 'uncached'} {threads}T"
                cmd = [str(bench_bin), str(full), "--threads", str(threads)]
                if cached:
                    cmd.append("--cache")
                results[label] = run_json(cmd)
        if python:
            results["sigstore-python"] = run_json(
                [python, str(REPO / "scripts/oracles/py-verify.py"), "bench", str(peer_keyless)],
                env=oracle_env(tmp))
        else:
            print("sigstore-python: not installed (scripts/test-env.sh oracles); left out")
        if js:
            env = dict(os.environ, SIGNET_TEST_SIGSTORE_JS=js)
            results["sigstore-js"] = run_json(
                ["node", str(REPO / "scripts/oracles/js-verify.js"), "bench", str(peer_full)], env=env)
        else:
            print("sigstore-js: not installed (scripts/test-env.sh oracles); left out")

        rows = [r for label, res in results.items() for r in summarize(label, res)]
        peer = {(r["impl"], r["case"]): r for r in rows if not r["impl"].startswith("signet")}

        print(f"\nBundle verification, parse + verify per call, {os.cpu_count()} CPUs; "
              f"signet {a.iterations} rounds, peers {a.peer_iterations}")
        for label, res in results.items():
            print(f"  {label}: {res.get('runtime', '')}"
                  + (f", cache {res['cache']}" if res.get("cache") else ""))
        head = (f"{'implementation':<22} {'bundle':<15} {'p50 µs':>9} {'p99 µs':>9} "
                f"{'bundles/s':>10} {'vs python':>10} {'vs js':>8}")
        print("\n" + head + "\n" + "-" * len(head))

        def ratio(r, name):
            p = peer.get((name, r["case"]))
            if not p or r["impl"] == name:
                return "-"
            # per-bundle rows compare p50 latency; the "all" row compares throughput
            if r["case"] == "all":
                return f"{r['per_s'] / p['per_s']:.1f}x"
            return f"{p['p50'] / r['p50']:.1f}x"

        for r in rows:
            print(f"{r['impl']:<22} {r['case']:<15} {r['p50']:>9.1f} {r['p99']:>9.1f} "
                  f"{r['per_s']:>10.0f} {ratio(r, 'sigstore-python'):>10} {ratio(r, 'sigstore-js'):>8}")

        # Whole process: one verify-blob against sigstore-python's CLI, same bundle and root.
        bundle = CONF / "happy-path-v0.3" / "bundle.sigstore.json"
        artifact = CONF / "a.txt"
        ours = cli_p50([str(signet_bin), "verify-blob", "--bundle", str(bundle),
                        "--certificate-identity", ID, "--certificate-oidc-issuer", ISS,
                        str(artifact)], a.cli_runs)
        print(f"\nWhole process, happy-path-v0.3, p50 of {a.cli_runs} runs:")
        print(f"  signet verify-blob (embedded production root)        {ours:8.2f} ms")
        cli_ratio = None
        if python:
            tc = tmp / "trust_config.json"
            tc.write_text(json.dumps({
                "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
                "trustedRoot": json.loads(PROD_ROOT.read_text()),
                "signingConfig": {"mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json"},
            }))
            runs = max(5, a.cli_runs // 3)
            theirs = cli_p50([str(Path(python).with_name("sigstore")), "--trust-config", str(tc),
                              "verify", "identity", "--bundle", str(bundle), "--cert-identity", ID,
                              "--cert-oidc-issuer", ISS, str(artifact)], runs, env=oracle_env(tmp))
            cli_ratio = theirs / ours
            print(f"  sigstore verify identity --trust-config (p50 of {runs})   {theirs:8.2f} ms"
                  f"   signet is {cli_ratio:.0f}x faster")

        # The targets.
        def row(impl, case="all"):
            return next((r for r in rows if r["impl"] == impl and r["case"] == case), None)

        print("\nTargets:")
        u, c = row("signet uncached 1T"), row("signet cached 1T")
        print(f"  uncached p50 per bundle <= 650 µs: {u['p50']:.0f} µs "
              f"{'met' if u['p50'] <= 650 else 'MISSED'}")
        # The floor (4 P-256 + 2 P-384 verifies) timed in the same round robin, so that
        # the ratio holds however loaded the machine is during the run.
        floor = statistics.median(results["signet uncached 1T"]["floor_ns"]) / 1000
        keyless = [row("signet uncached 1T", n) for n, _, k in CASES if k is None]
        worst = max(r["p50"] for r in keyless)
        print(f"  uncached keyless p50 within 1.3x of the signature floor measured in the same run "
              f"({floor:.0f} µs): worst case {worst:.0f} µs = {worst / floor:.2f}x "
              f"{'met' if worst <= 1.3 * floor else 'MISSED'}")
        print(f"  cached p50 per bundle below the signature floor ({floor:.0f} µs): {c['p50']:.0f} µs "
              f"{'met' if c['p50'] < floor else 'MISSED'}")
        py = row("sigstore-python")
        if py:
            amort = row("signet cached 2T")["per_s"] / py["per_s"]
            print(f"  cached (2 threads) >= 4x sigstore-python amortised: {amort:.0f}x "
                  f"{'met' if amort >= 4 else 'MISSED'}")
        if cli_ratio is not None:
            print(f"  verify-blob >= 20x sigstore CLI: {cli_ratio:.0f}x {'met' if cli_ratio >= 20 else 'MISSED'}")


if __name__ == "__main__":
    main()
