#!/usr/bin/env bash
# End-to-end tests of qlab-worker: real qlab-server and qlab-worker processes
# on loopback in a temporary directory (tests/worker/test_worker.py says what
# each test checks). Usage: BIN=build/bin tests/worker/run.sh [TEST...]
set -euo pipefail

BIN=${BIN:-build/bin}
for b in qlab-server qlab-worker qlab; do
    if [[ ! -x $BIN/$b ]]; then
        echo "run.sh: no $b in '$BIN' (build it with make, or set BIN)" >&2
        exit 1
    fi
done
if ! command -v python3 >/dev/null; then
    echo "run.sh: python3 is needed to drive the processes" >&2
    exit 1
fi
export BIN
# test_tls.py: the same over HTTPS with tokens (certificates made by openssl).
python3 "$(dirname "$0")/test_worker.py" "$@"
if [[ $# -eq 0 ]]; then
    python3 "$(dirname "$0")/test_tls.py"
fi
