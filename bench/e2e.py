#!/usr/bin/env python3
"""End-to-end benchmarks of signet against cosign 2.5, on the same images and the same
registry (Debian's distribution 2.8 from scripts/test-env.sh), alternating runs
(A B A B ...) so that drift of the machine cancels out.

Prints: whole-process verify latency (p50/p99), verify throughput over 200 images,
registry requests per verify (from the registry's access log), and whole-process sign.
Usage: bench/e2e.py [--runs N] [--many N]   (run `bash scripts/test-env.sh up` first)
"""
import argparse, os, statistics, subprocess, sys, tempfile, time

from common import load_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, env, check=True):
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and p.returncode != 0:
        sys.exit(f"command failed ({p.returncode}): {' '.join(cmd[:6])}...\n{p.stderr.decode()[-2000:]}")
    return p


def timed(cmd, env):
    t = time.perf_counter()
    run(cmd, env)
    return time.perf_counter() - t


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]


def alternate(a, b, runs, env):
    ta, tb = [], []
    for _ in range(runs):
        ta.append(timed(a, env))
        tb.append(timed(b, env))
    return ta, tb


def fmt_ms(xs):
    return f"p50 {pct(xs, 50) * 1000:7.1f} ms  p99 {pct(xs, 99) * 1000:7.1f} ms  mean {statistics.mean(xs) * 1000:7.1f} ms"


def count_requests(log, cmd, env):
    before = os.path.getsize(log)
    run(cmd, env)
    time.sleep(0.2)
    with open(log, "rb") as f:
        f.seek(before)
        lines = [l for l in f.read().decode().splitlines() if '"' in l]
    return len(lines), [l.split('"')[1] for l in lines]


def throughput(sv, cv, tags, rounds, env):
    ts, tc = alternate(sv + tags, cv + tags, rounds, env)
    n = len(tags)
    print(f"verify {n} distinct images by tag in one process ({rounds} rounds each)")
    print(f"  signet  {n / statistics.median(ts):7.0f} images/s  (median {statistics.median(ts):.3f} s)")
    print(f"  cosign  {n / statistics.median(tc):7.0f} images/s  (median {statistics.median(tc):.3f} s)")
    print(f"  signet/cosign throughput: {statistics.median(tc) / statistics.median(ts):.1f}x")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--many", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ggcr", action="store_true",
                    help="measure verify throughput against go-containerregistry's in-memory registry "
                         "(`scripts/test-env.sh ggcr`) instead of distribution")
    args = ap.parse_args()

    t = load_env()
    signet = os.path.join(ROOT, "target/release/signet")
    cosign = t["SIGNET_TEST_COSIGN"]
    reg = t["SIGNET_TEST_REGISTRY"]
    if args.ggcr:
        reg = "127.0.0.1:" + os.environ.get("SIGNET_GGCR_PORT", "15010")
    log = t["SIGNET_TEST_REGISTRY_LOG"]
    work = tempfile.mkdtemp(prefix="signet-bench.")
    env = dict(os.environ, COSIGN_PASSWORD="bench", HOME=work, DOCKER_CONFIG=os.path.join(work, ".docker"),
               TUF_ROOT=os.path.join(work, ".sigstore"))
    env.pop("COSIGN_REPOSITORY", None)
    os.chdir(work)
    run([signet, "generate-key-pair"], env)

    # 200 distinct images, each signed once (by signet; both tools verify the same signatures)
    repo = f"bench/run-{os.getpid()}-{int(time.time())}"  # fresh repository: no signatures yet
    many_env = dict(env, SIGNET_REG_PORT=reg.rsplit(":", 1)[1])
    run(["bash", os.path.join(ROOT, "scripts/test-env.sh"), "many", str(args.many), repo], many_env)
    many = [line.split() for line in open(os.path.join(t["SIGNET_TEST_DIR"], "many.txt"))][: args.many]
    refs = [f"{ref.rsplit(':', 1)[0]}@{digest}" for ref, digest in many]
    tags = [ref for ref, _ in many]
    run([signet, "sign", "--key", "cosign.key"] + refs, env)

    one_tag, one_digest = tags[0], refs[0]
    sv = [signet, "verify", "--key", "cosign.pub"]
    cv = [cosign, "verify", "--key", "cosign.pub", "--insecure-ignore-tlog"]
    # warm both (page cache, registry)
    run(sv + [one_tag], env); run(cv + [one_tag], env)

    kind = "go-containerregistry in-memory" if args.ggcr else "distribution 2.8"
    print(f"machine: {os.cpu_count()} cores; registry: {kind} at {reg}; runs alternate signet/cosign\n")
    if args.ggcr:
        throughput(sv, cv, tags, args.rounds, env)
        return

    ts, tc = alternate(sv + [one_tag], cv + [one_tag], args.runs, env)
    print(f"verify one image by tag, whole process ({args.runs} runs each)")
    print(f"  signet  {fmt_ms(ts)}")
    print(f"  cosign  {fmt_ms(tc)}")
    print(f"  cosign/signet (p50): {pct(tc, 50) / pct(ts, 50):.1f}x\n")

    tsv, tcv = alternate(sv + [one_digest], cv + [one_digest], args.runs, env)
    print("verify one image by digest, whole process")
    print(f"  signet  {fmt_ms(tsv)}")
    print(f"  cosign  {fmt_ms(tcv)}")
    print(f"  cosign/signet (p50): {pct(tcv, 50) / pct(tsv, 50):.1f}x\n")

    throughput(sv, cv, tags, args.rounds, env)
    print()

    print("registry requests per verify (from the registry access log)")
    for label, cmd in [("signet by tag", sv + [one_tag]), ("cosign by tag", cv + [one_tag]),
                       ("signet by digest", sv + [one_digest]), ("cosign by digest", cv + [one_digest])]:
        n_req, reqs = count_requests(log, cmd, env)
        print(f"  {label:17} {n_req}   " + ", ".join(r.split(' ')[0] + ' ' + r.split(' ')[1].split('/')[-2] + '/' + r.split(' ')[1].split('/')[-1][:19] for r in reqs))
    print()

    # sign: a new payload each run (-a run=i) so that neither tool can dedupe
    ss, cs = [], []
    for i in range(max(5, args.runs // 2)):
        ss.append(timed([signet, "sign", "--key", "cosign.key", "-a", f"run={i}", refs[1]], env))
        cs.append(timed([cosign, "sign", "--key", "cosign.key", "--tlog-upload=false", "-y", "-a", f"run={i}", refs[2]], env))
    print(f"sign one image by digest, whole process incl. key unlock (scrypt N=2^16), {len(ss)} runs each")
    print(f"  signet  {fmt_ms(ss)}")
    print(f"  cosign  {fmt_ms(cs)}")
    print(f"  cosign/signet (p50): {pct(cs, 50) / pct(ss, 50):.2f}x")


if __name__ == "__main__":
    main()
