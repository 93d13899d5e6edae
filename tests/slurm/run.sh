#!/usr/bin/env bash
# qlab workers under a real single-node SLURM started in a temporary
# directory (tests/slurm/test_slurm.py says what it checks). Skips, saying
# why, where SLURM cannot run here (not installed, not root).
# Usage: BIN=build/bin tests/slurm/run.sh
set -euo pipefail

BIN=${BIN:-build/bin}
for b in qlab-server qlab-worker qlab; do
    if [[ ! -x $BIN/$b ]]; then
        echo "run.sh: no $b in '$BIN' (build it with make, or set BIN)" >&2
        exit 1
    fi
done
export BIN
exec python3 "$(dirname "$0")/test_slurm.py" "$@"
