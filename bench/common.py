"""Helpers shared by the benchmarks in this directory (imported as `common`: each
script is run as `python3 bench/NAME.py`, so this directory is on sys.path)."""

import os
import shlex


def load_env():
    """The variables `scripts/test-env.sh up` exported into $SIGNET_TEST_DIR/env.sh,
    overridden by any SIGNET_TEST_* variable of this process (as the Rust tests do)."""
    env_file = os.path.join(os.environ.get("SIGNET_TEST_DIR", "/tmp/signet-test-env"), "env.sh")
    env = {}
    for line in open(env_file):
        line = line.strip()
        if line.startswith("export "):
            line = line[len("export "):]
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            env[k] = shlex.split(v)[0] if v else ""
    for k, v in os.environ.items():
        if k.startswith("SIGNET_TEST_"):
            env[k] = v
    return env
