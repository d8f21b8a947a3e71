#!/usr/bin/env bash
# The project's test command. Registry-backed tests read the SIGNET_TEST_* variables
# that `scripts/test-env.sh up` writes to $SIGNET_TEST_DIR/env.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

env_file=${SIGNET_TEST_DIR:-/tmp/signet-test-env}/env.sh
if [ -f "$env_file" ]; then
  # shellcheck source=/dev/null
  . "$env_file"
fi

cargo test --workspace --locked
