#!/usr/bin/env python3
"""Load benchmark of `signet admission` (the webhook) over HTTPS on 127.0.0.1, against
Debian's distribution 2.8 from scripts/test-env.sh, with images signed by signet.

Three scenarios (issue 5's targets on 2 cores):

  cold   1,000 pods/min, every pod a new image (pinned by digest, never seen before,
         so every admission verifies): p99 < 30 ms
  warm   100,000 pods/min, images repeating as across a Deployment's replicas (a warm
         verdict cache): p99 < 2 ms
  fanout one pod with 8 containers x 5 authorities (5 policies, each one key; every image
         signed by the 5 keys), each run on 8 new images: < 50 ms

Load is open-loop: request i is sent at t0 + i/rate by one of several client processes
(python3 stdlib only: http.client over ssl with keep-alive, one connection per process,
so no GIL is shared), and latency is measured from the send to the end of the response
body. Each scenario prints throughput, p50/p99/p999, the verdict cache hit rate (from
/metrics) and the registry round trips per admission (lines for the bench repositories
in the registry's access log, $SIGNET_TEST_REGISTRY_LOG).

    python3 bench/admission.py [--signet PATH] [--cold-pods N] [--warm-seconds S]
                               [--fanout-runs N] [--processes N]

Run `bash scripts/test-env.sh up` first. Without --signet, target/release/signet (or
$CARGO_TARGET_DIR/release/signet) is used and built if missing.
"""

import argparse
import http.client
import json
import multiprocessing as mp
import os
import re
import signal
import ssl
import subprocess
import sys
import tempfile
import time

from common import load_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSWORD = "bench-password"


def run(cmd, env=None, cwd=None):
    r = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stdout}\n{r.stderr}")
    return r.stdout


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, int(round(p / 100 * (len(xs) - 1)))))
    return xs[k]


def fmt(xs):
    ms = [x * 1000 for x in xs]
    return f"p50 {pct(ms, 50):7.2f} ms  p99 {pct(ms, 99):7.2f} ms  p999 {pct(ms, 99.9):7.2f} ms  max {max(ms):7.2f} ms"


def review(uid, images, namespace="bench"):
    containers = [{"name": f"c{i}", "image": img} for i, img in enumerate(images)]
    return json.dumps({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": namespace, "operation": "CREATE",
            "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "web-"},
                       "spec": {"containers": containers}},
        },
    }).encode()


# ---------------------------------------------------------------------------- client
def client_proc(port, cafile, bodies, offsets, t0, out):
    """Sends bodies[i] at t0 + offsets[i]; puts (latency, allowed, lag) per request."""
    ctx = ssl.create_default_context(cafile=cafile)
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
    conn.connect()
    results = []
    for body, off in zip(bodies, offsets):
        now = time.perf_counter()
        wait = t0 + off - now
        if wait > 0:
            time.sleep(wait)
        start = time.perf_counter()
        try:
            conn.request("POST", "/validate", body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
            results.append((time.perf_counter() - start, None, start - (t0 + off)))
            continue
        lat = time.perf_counter() - start
        allowed = b'"allowed":true' in data
        results.append((lat, allowed, start - (t0 + off)))
    out.put(results)


def load(port, cafile, bodies, rate, processes):
    """Open-loop: request i at i/rate, round-robin over `processes` clients."""
    out = mp.Queue()
    t0 = time.perf_counter() + 1.0  # time for the processes to connect
    procs = []
    for p in range(processes):
        idx = list(range(p, len(bodies), processes))
        proc = mp.Process(target=client_proc, args=(
            port, cafile, [bodies[i] for i in idx], [i / rate for i in idx], t0, out))
        proc.start()
        procs.append(proc)
    results = []
    for _ in procs:
        results.extend(out.get())
    for proc in procs:
        proc.join()
    wall = max(len(bodies) / rate, 1e-9)
    return results, wall


# ---------------------------------------------------------------------------- server
def counter(text, name):
    """The value of the sample `name` in a /metrics text, 0 when absent."""
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


class Webhook:
    def __init__(self, signet, work, policy_dir, env):
        self.cafile = os.path.join(work, "tls.crt")
        key = os.path.join(work, "tls.key")
        if not os.path.exists(self.cafile):
            run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", key, "-out", self.cafile, "-days", "1", "-subj", "/CN=127.0.0.1",
                 "-addext", "subjectAltName=IP:127.0.0.1"])
        self.proc = subprocess.Popen(
            [signet, "admission", "--addr", "127.0.0.1:0", "--tls-cert", self.cafile, "--tls-key", key,
             "--policy", policy_dir, "--timeout", "8s"],
            stdout=subprocess.PIPE, stderr=open(os.path.join(work, "webhook.log"), "a"), text=True, env=env)
        line = self.proc.stdout.readline()
        m = re.search(r"https://127\.0\.0\.1:(\d+)", line)
        if not m:
            self.proc.kill()
            sys.exit(f"the webhook did not start: {line!r} (see {work}/webhook.log)")
        self.port = int(m.group(1))

    def metrics(self):
        """The /metrics text."""
        ctx = ssl.create_default_context(cafile=self.cafile)
        c = http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=10)
        c.request("GET", "/metrics")
        return c.getresponse().read().decode()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)


def buckets(text):
    """The validate latency histogram of a /metrics text: [(le seconds, cumulative count)]."""
    out = []
    for m in re.finditer(r'^signet_admission_request_duration_seconds_bucket\{le="([^"]+)",endpoint="validate"\} (\S+)$',
                         text, re.M):
        le = float("inf") if m.group(1) == "+Inf" else float(m.group(1))
        out.append((le, float(m.group(2))))
    return sorted(out)


def server_quantiles(before, after):
    """Upper bounds of the server-side p50/p99/p999 from two histogram snapshots."""
    b = dict(before)
    delta = [(le, n - b.get(le, 0.0)) for le, n in after]
    total = delta[-1][1] if delta else 0
    def q(p):
        for le, n in delta:
            if total and n >= p * total:
                return "<= inf" if le == float("inf") else f"<= {le * 1000:g} ms"
        return "n/a"
    return f"p50 {q(0.5)}  p99 {q(0.99)}  p999 {q(0.999)}"


def registry_lines(log, paths):
    n = 0
    with open(log, errors="replace") as f:
        for line in f:
            if any(p in line for p in paths):
                n += 1
    return n


def policy(name, glob, pub):
    pem = open(pub).read()
    return json.dumps({"apiVersion": "policy.sigstore.dev/v1beta1", "kind": "ClusterImagePolicy",
                       "metadata": {"name": name},
                       "spec": {"images": [{"glob": glob}],
                                "authorities": [{"name": "key", "key": {"data": pem}}]}})


def report(title, results, wall, hits, misses, round_trips, admissions, server=None):
    lats = [r[0] for r in results if r[1] is not None]
    errors = sum(1 for r in results if r[1] is None)
    denied = sum(1 for r in results if r[1] is False)
    lag = [r[2] for r in results]
    print(title)
    print(f"  requests {len(results)}  errors {errors}  denied {denied}  "
          f"throughput {len(results) / wall:8.1f}/s ({len(results) / wall * 60:,.0f} pods/min)")
    if lats:
        print(f"  latency  {fmt(lats)}")
    if server:
        print(f"  server   {server} (handler time, from the webhook's own histogram buckets)")
    print(f"  client send lag p99 {pct(lag, 99) * 1000:.2f} ms (how late the load generator sent)")
    total = hits + misses
    rate = f"{hits / total * 100:.1f}%" if total else "n/a"
    print(f"  cache    hits {hits:.0f}  misses {misses:.0f}  hit rate {rate}")
    print(f"  registry {round_trips} requests for {admissions} admissions = "
          f"{round_trips / max(admissions, 1):.2f} per admission\n")


def measure(hook, log, repo, bodies, rate, processes, title):
    """Sends `bodies` at `rate` and reports the latency, the verdict cache's hits and
    misses, and the registry round trips for `repo` meanwhile; returns the results."""
    def snapshot():
        text = hook.metrics()
        return (counter(text, "signet_admission_cache_hits_total"),
                counter(text, "signet_admission_cache_misses_total"), buckets(text),
                registry_lines(log, [repo]) if log else 0)
    h0, m0, b0, before = snapshot()
    results, wall = load(hook.port, hook.cafile, bodies, rate, processes)
    time.sleep(0.3)
    h1, m1, b1, after = snapshot()
    report(title, results, wall, h1 - h0, m1 - m0, after - before, len(bodies),
           server_quantiles(b0, b1))
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--signet")
    ap.add_argument("--cold-pods", type=int, default=300)
    ap.add_argument("--cold-rate", type=float, default=1000 / 60)
    ap.add_argument("--warm-seconds", type=float, default=10)
    ap.add_argument("--warm-rate", type=float, default=100000 / 60)
    ap.add_argument("--warm-images", type=int, default=20)
    ap.add_argument("--fanout-runs", type=int, default=5)
    ap.add_argument("--processes", type=int, default=4)
    args = ap.parse_args()

    t = load_env()
    reg = t["SIGNET_TEST_REGISTRY"]
    log = t.get("SIGNET_TEST_REGISTRY_LOG")
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    signet = args.signet or os.path.join(target, "release", "signet")
    if not os.path.exists(signet):
        run(["cargo", "build", "--release", "-p", "signet-cli"], cwd=ROOT)
    work = tempfile.mkdtemp(prefix="signet-admission-bench.")
    env = dict(os.environ, COSIGN_PASSWORD=PASSWORD, DOCKER_CONFIG=os.path.join(work, "docker"))
    os.makedirs(env["DOCKER_CONFIG"])
    stamp = f"{os.getpid()}-{int(time.time())}"
    many_env = dict(env, SIGNET_REG_PORT=reg.rsplit(":", 1)[1])

    def images(n, repo):
        run(["bash", os.path.join(ROOT, "scripts/test-env.sh"), "many", str(n), repo], many_env)
        many = [line.split() for line in open(os.path.join(t["SIGNET_TEST_DIR"], "many.txt"))][:n]
        return [f"{ref.rsplit(':', 1)[0]}@{digest}" for ref, digest in many]

    keys = []
    for i in range(5):
        run([signet, "generate-key-pair", "--output-key-prefix", f"k{i}"], env, cwd=work)
        keys.append((os.path.join(work, f"k{i}.key"), os.path.join(work, f"k{i}.pub")))

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; registry {reg}; "
          f"webhook {signet}\n")

    # ----------------------------------------------------------------- cold + warm
    cold_repo = f"bench/admission-cold-{stamp}"
    cold = images(args.cold_pods, cold_repo)
    warm_repo = f"bench/admission-warm-{stamp}"
    warm = images(args.warm_images, warm_repo)
    run([signet, "sign", "--key", keys[0][0], "--tlog-upload=false", "-y"] + cold + warm, env, cwd=work)
    pdir = os.path.join(work, "policies-1")
    os.makedirs(pdir)
    open(os.path.join(pdir, "bench.yaml"), "w").write(policy("bench", f"{reg}/bench/**", keys[0][1]))
    hook = Webhook(signet, work, pdir, env)
    try:
        # One request elsewhere first, so that connections and the referrers probe are
        # not part of the first measured admission.
        load(hook.port, hook.cafile, [review("warmup", [warm[0]])], 10, 1)
        bodies = [review(f"cold-{i}", [img]) for i, img in enumerate(cold)]
        measure(hook, log, cold_repo, bodies, args.cold_rate, args.processes,
                f"cold: {len(bodies)} pods at {args.cold_rate * 60:,.0f}/min, every image new (target p99 < 30 ms)")

        # warm: prime each image once, then the load
        load(hook.port, hook.cafile, [review(f"prime-{i}", [img]) for i, img in enumerate(warm)], 50, 1)
        n = int(args.warm_rate * args.warm_seconds)
        bodies = [review(f"warm-{i}", [warm[i % len(warm)]]) for i in range(n)]
        measure(hook, log, warm_repo, bodies, args.warm_rate, args.processes,
                f"warm: {n} pods at {args.warm_rate * 60:,.0f}/min over {len(warm)} images (target p99 < 2 ms)")
    finally:
        hook.stop()

    # ----------------------------------------------------------------- fan-out
    fan_repo = f"bench/admission-fanout-{stamp}"
    fan = images(8 * args.fanout_runs, fan_repo)
    for key, _ in keys:
        run([signet, "sign", "--key", key, "--tlog-upload=false", "-y"] + fan, env, cwd=work)
    pdir = os.path.join(work, "policies-5")
    os.makedirs(pdir)
    for i, (_, pub) in enumerate(keys):
        open(os.path.join(pdir, f"p{i}.yaml"), "w").write(policy(f"authority-{i}", f"{reg}/bench/**", pub))
    hook = Webhook(signet, work, pdir, env)
    try:
        load(hook.port, hook.cafile, [review("warmup", [warm[0]])], 10, 1)
        bodies = [review(f"fan-{r}", fan[8 * r: 8 * r + 8]) for r in range(args.fanout_runs)]
        results = measure(hook, log, fan_repo, bodies, 1.0, 1,
                          f"fanout: {len(bodies)} pods, each 8 new images x 5 authorities, cold (target < 50 ms each)")
        print("  per run: " + ", ".join(f"{r[0] * 1000:.1f} ms" for r in results))
    finally:
        hook.stop()


if __name__ == "__main__":
    main()
