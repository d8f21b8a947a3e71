#!/usr/bin/env python3
"""Keyless signing end to end against `signet serve` on loopback.

Starts `signet serve --dev-oidc` (release build) in a temporary directory and measures,
on the same stack and the same file:

* `signet sign-blob` without a key, as a whole process: token → ephemeral key →
  certificate (Fulcio v2) → RFC 3161 timestamp → Rekor v1 entry → bundle, verified
  against the stack's trusted root before it is written;
* `sigstore sign` (sigstore-python, `--trust-config` of the stack), the peer, when
  the oracle venv is installed (SIGNET_TEST_SIGSTORE_PYTHON);

and prints p50/p99 wall time per signature and the ratio. Tokens are minted beforehand
(`signet dev-token`), outside the timed part.

    python3 bench/keyless.py [--runs N] [--peer-runs N] [--no-build]
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def target_dir():
    return Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def report(name, ms):
    print(f"{name:<34} p50 {statistics.median(ms):8.1f} ms   p99 {pct(ms, 99):8.1f} ms   "
          f"({len(ms)} runs, {1000 / statistics.median(ms):6.1f} signatures/s sequential)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--peer-runs", type=int, default=10)
    ap.add_argument("--no-build", action="store_true")
    args = ap.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "signet-cli", "--bin", "signet"],
                       cwd=REPO, check=True)
    signet = target_dir() / "release" / "signet"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "stack"
        server = subprocess.Popen([signet, "serve", "--data-dir", data, "--addr", "127.0.0.1:0", "--dev-oidc"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        url = None
        for line in server.stdout:
            if line.startswith("ca: "):
                url = line.split()[1]
            if line.startswith("trust: "):
                break
        try:
            trust = data / "trust"
            artifact = tmp / "artifact.txt"
            artifact.write_bytes(b"bench\n" * 100)

            def token(subject):
                return subprocess.run([signet, "dev-token", "--data-dir", data, "--subject", subject],
                                      check=True, capture_output=True, text=True).stdout.strip()

            ms = []
            for i in range(args.runs + 2):
                tok = token(f"bench{i}@example.com")
                t0 = time.perf_counter()
                subprocess.run([signet, "sign-blob", "--identity-token", tok,
                                "--signing-config", trust / "signing_config.json",
                                "--trusted-root", trust / "trusted_root.json",
                                "--bundle", tmp / "out.sigstore.json", artifact],
                               check=True, capture_output=True)
                if i >= 2:  # the first two warm the page cache
                    ms.append((time.perf_counter() - t0) * 1000)
            print(f"stack: {url} (signet serve, release), artifact {artifact.stat().st_size} bytes")
            report("signet sign-blob (keyless)", ms)

            python = os.environ.get("SIGNET_TEST_SIGSTORE_PYTHON")
            if python and Path(python).with_name("sigstore").exists():
                cli = Path(python).with_name("sigstore")
                peer = []
                for i in range(args.peer_runs):
                    tok = token(f"peer{i}@example.com")
                    t0 = time.perf_counter()
                    subprocess.run([cli, "--trust-config", trust / "client_trust_config.json", "sign",
                                    "--oidc-disable-ambient-providers", "--identity-token", tok,
                                    "--overwrite", "--bundle", tmp / "py.sigstore.json", artifact],
                                   check=True, capture_output=True)
                    peer.append((time.perf_counter() - t0) * 1000)
                report("sigstore-python sign (CLI)", peer)
                print(f"ratio (p50): signet is {statistics.median(peer) / statistics.median(ms):.1f}x faster")
            else:
                print("sigstore-python: not installed (SIGNET_TEST_SIGSTORE_PYTHON); peer not measured")
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
