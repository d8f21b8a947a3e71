#!/usr/bin/env python3
"""py-verify.py: sigstore-python as an in-process reference verifier.

Run it with the venv's python (scripts/test-env.sh oracles; $SIGNET_TEST_SIGSTORE_PYTHON).
Exit 0 = verified ("OK" on stdout), 1 = not verified ("FAIL: ..." on stderr), 2 = usage.

    python py-verify.py identity BUNDLE ARTIFACT TRUSTED_ROOT IDENTITY ISSUER
    python py-verify.py bench SPEC_JSON

This is the library path (sigstore.verify.Verifier with a TrustedRoot), the same checks
as `sigstore --trust-config TC.json verify identity`, without the CLI's start-up. There is
no key mode: sigstore-python cannot load bundles whose verification material is a
`publicKey` (shared/spec/sigstore-interop.md section 3.1). For a DSSE bundle the artifact
must be a subject of the in-toto statement, which this script checks.

bench: SPEC_JSON is {"iterations": N, "warmup": W, "cases": [{"name", "bundle",
"artifact", "trusted_root", "identity", "issuer"}]}. Every case is verified round robin,
W + N times; each timed call parses the bundle JSON and verifies it (one Verifier per
trusted root, built once). Prints {"runtime", "cases": [{"name", "ns": [...]}]}.
"""

import hashlib
import json
import sys
import time

from sigstore.models import Bundle, TrustedRoot
from sigstore.verify import Verifier, policy


def usage(msg):
    print(f"usage error: {msg}\n" + __doc__.split("\n\n")[2], file=sys.stderr)
    sys.exit(2)


def make_verifier(case, roots):
    root = case["trusted_root"]
    if root not in roots:
        roots[root] = Verifier(trusted_root=TrustedRoot.from_file(root))
    verifier = roots[root]
    pol = policy.Identity(identity=case["identity"], issuer=case["issuer"])
    with open(case["artifact"], "rb") as f:
        artifact = f.read()
    want = hashlib.sha256(artifact).hexdigest()

    def verify(bundle_text):
        bundle = Bundle.from_json(bundle_text)
        if bundle._dsse_envelope is not None:
            _, payload = verifier.verify_dsse(bundle, pol)
            subjects = json.loads(payload).get("subject") or []
            if not any((s.get("digest") or {}).get("sha256") == want for s in subjects):
                raise ValueError(f"artifact sha256:{want} is not a subject of the in-toto statement")
        else:
            verifier.verify_artifact(artifact, bundle, pol)

    return verify


def bench(spec_path):
    with open(spec_path) as f:
        spec = json.load(f)
    roots = {}
    cases = []
    for c in spec["cases"]:
        with open(c["bundle"], "rb") as f:
            text = f.read()
        cases.append({"name": c["name"], "verify": make_verifier(c, roots), "text": text, "ns": []})
    warmup = spec.get("warmup", 0)
    for i in range(warmup + spec["iterations"]):
        for c in cases:
            t0 = time.perf_counter_ns()
            c["verify"](c["text"])
            t1 = time.perf_counter_ns()
            if i >= warmup:
                c["ns"].append(t1 - t0)
    import sigstore

    out = {
        "runtime": f"sigstore-python {sigstore.__version__}, CPython {sys.version.split()[0]}",
        "cases": [{"name": c["name"], "ns": c["ns"]} for c in cases],
    }
    print(json.dumps(out))


def main(argv):
    if not argv:
        usage("no mode")
    mode, rest = argv[0], argv[1:]
    if mode == "bench":
        if len(rest) != 1:
            usage("bench takes SPEC_JSON")
        return bench(rest[0])
    if mode != "identity" or len(rest) != 5:
        usage("identity takes 5 arguments")
    bundle, artifact, root, identity, issuer = rest
    case = {"artifact": artifact, "trusted_root": root, "identity": identity, "issuer": issuer}
    try:
        with open(bundle, "rb") as f:
            text = f.read()
        make_verifier(case, {})(text)
    except Exception as e:  # every failure is a verdict here, with its class for context
        print(f"FAIL: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main(sys.argv[1:])
