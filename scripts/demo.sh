#!/usr/bin/env bash
# `make demo`: qlab-server and two qlab-worker daemons on loopback, a demo
# sweep over e5m2/CFG-5 accumulator formats on Fashion-MNIST (6 LeNet-5
# runs, a few minutes on 2 cores), followed live in the terminal and in the
# dashboard. Ctrl-C stops everything. State lives in var/demo (fresh each
# time). QLAB_DEMO_PORT picks the port (default 8080); QLAB_DEMO_EXIT=1
# exits once the sweep has finished instead of serving until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-build/bin}
PORT=${QLAB_DEMO_PORT:-8080}
DIR=var/demo
PIDS=()

stop() {
    trap - INT TERM EXIT
    echo
    echo "demo: stopping workers and server"
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop INT TERM EXIT

rm -rf "$DIR"
mkdir -p "$DIR"
"$BIN/qlab-server" --listen "127.0.0.1:$PORT" --db "$DIR/qlab.db" --web web \
    >"$DIR/server.out" 2>"$DIR/server.log" &
PIDS+=($!)
for _ in $(seq 100); do grep -q '^listening' "$DIR/server.out" 2>/dev/null && break; sleep 0.1; done
URL=$(sed -n 's/^listening on //p' "$DIR/server.out")
if [[ -z $URL ]]; then
    echo "demo: qlab-server did not start:" >&2
    cat "$DIR/server.log" >&2
    exit 1
fi
export QLAB_SERVER=$URL

for w in 1 2; do
    "$BIN/qlab-worker" --server "$URL" --name "demo-worker-$w" --slots 1 --threads 1 \
        --state-dir "$DIR/worker-$w" --log-level warn 2>"$DIR/worker-$w.log" &
    PIDS+=($!)
done

"$BIN/qlab" submit examples/demo-sweep.json
cat <<MSG

  Dashboard:  $URL/
  CLI:        QLAB_SERVER=$URL $BIN/qlab runs
  Logs:       $DIR/*.log
  Ctrl-C stops the server and both workers.

MSG
"$BIN/qlab" watch --sweep 1 || true
"$BIN/qlab" runs --sweep 1
if [[ ${QLAB_DEMO_EXIT:-0} == 1 ]]; then
    exit 0
fi
echo
echo "demo: the sweep has finished; the dashboard stays up at $URL/ until Ctrl-C"
while true; do sleep 3600; done
