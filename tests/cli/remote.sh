#!/usr/bin/env bash
# The qlab REST client commands against a real qlab-server on loopback with
# a temporary database: every command, the shape of its --json output, and
# the exit statuses (0 ok, 1 server or network error, 2 usage error).
# Usage: QLAB=build/bin/qlab QLAB_SERVER_BIN=build/bin/qlab-server tests/cli/remote.sh
set -euo pipefail

QLAB=$(realpath "${QLAB:-build/bin/qlab}")
SRV=$(realpath "${QLAB_SERVER_BIN:-build/bin/qlab-server}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/qlab-remote.XXXXXX")
SRV_PID=
cleanup() {
    [[ -n $SRV_PID ]] && kill "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

PASSED=0
FAILED=0
ok() { echo "ok - $1"; PASSED=$((PASSED + 1)); }
not_ok() { echo "not ok - $1"; FAILED=$((FAILED + 1)); [[ -n ${2:-} ]] && printf '%s\n' "$2" | sed -n '1,8s/^/#   /p'; return 0; }

# expect STATUS DESC CMD...: ok when CMD exits with STATUS; output in $T/out, $T/err.
expect() {
    local want=$1 desc=$2 got=0
    shift 2
    "$@" >"$T/out" 2>"$T/err" || got=$?
    if [[ $got == "$want" ]]; then ok "$desc"; else not_ok "$desc (exit $got, wanted $want)" "$(cat "$T/err" "$T/out")"; fi
}
# json_check DESC PYEXPR: evaluates PYEXPR with `d` = the JSON in $T/out.
json_check() {
    if python3 -c "import json,sys; d=json.load(open('$T/out')); sys.exit(0 if ($2) else 1)" 2>"$T/perr"; then
        ok "$1"
    else
        not_ok "$1" "$(cat "$T/perr" "$T/out" | head -5)"
    fi
}

"$SRV" --listen 127.0.0.1:0 --db "$T/q.db" --web "" --lease-ttl 30 >"$T/srv.out" 2>"$T/srv.err" &
SRV_PID=$!
for _ in $(seq 50); do grep -q listening "$T/srv.out" 2>/dev/null && break; sleep 0.1; done
export QLAB_SERVER
QLAB_SERVER=$(sed -n 's/^listening on //p' "$T/srv.out")
[[ -n $QLAB_SERVER ]] || { echo "remote.sh: qlab-server did not start: $(cat "$T/srv.err")" >&2; exit 1; }

cat >"$T/exp.json" <<'J'
{"name": "cli-exp", "model": {"arch": "mlp", "hidden": [16]}, "dataset": {"name": "synthetic"}}
J
cat >"$T/sweep.json" <<'J'
{"name": "cli-sweep", "base": {"name": "b", "model": {"arch": "mlp", "hidden": [16]},
 "dataset": {"name": "synthetic"}},
 "parameters": {"arith.forward.mac.acc": {"values": ["e6m5", "fp32"]}, "train.seed": {"values": [1, 2]}}}
J
cat >"$T/bad.json" <<'J'
{"name": "bad", "model": {"arch": "mlp", "hidden": [16]}, "dataset": {"name": "synthetic"},
 "arith": {"forward": {"mac": {"acc": "e6m55"}}}}
J

expect 0 "submit an experiment" "$QLAB" submit "$T/exp.json"
grep -q "warning: no worker is registered" "$T/err" && ok "submit prints the server's warnings" || not_ok "submit prints the server's warnings" "$(cat "$T/err")"
grep -q "run 1 submitted" "$T/out" && ok "submit names the run" || not_ok "submit names the run" "$(cat "$T/out")"
expect 0 "submit a sweep --json" "$QLAB" submit --json "$T/sweep.json"
json_check "sweep --json has id and 4 runs" "d['sweep']['runs'] == 4 and d['sweep']['id'] == 1"
expect 2 "a bad format string is refused locally (exit 2)" "$QLAB" submit "$T/bad.json"
grep -q "/arith/forward/mac/acc" "$T/err" && ok "the error names the field" || not_ok "the error names the field" "$(cat "$T/err")"
expect 2 "submit without a file is a usage error" "$QLAB" submit

# validate --remote: the server's verdict and its warnings about its workers
# (none has registered yet).
cat >"$T/remote.json" <<'J'
{"name": "checked-there", "model": {"arch": "mlp", "hidden": [8]}, "dataset": {"name": "synthetic"}}
J
expect 0 "validate --remote: valid, with the server's warning" "$QLAB" validate --remote "$T/remote.json"
grep -q "^qlab: validate: warning: no worker is registered" "$T/err" && grep -q "valid on the server too" "$T/err" \
    && ok "the server's warning is printed" || not_ok "the server's warning is printed" "$(cat "$T/err")"
expect 0 "validate --remote of a sweep" "$QLAB" validate --remote "$T/sweep.json"
grep -q "valid on the server too" "$T/err" && ok "the sweep is valid there too" || not_ok "the sweep is valid there too" "$(cat "$T/err")"
expect 0 "validate without --remote asks no server" "$QLAB" validate "$T/remote.json" --server http://127.0.0.1:1
expect 1 "validate --remote of an unreachable server" "$QLAB" validate --remote "$T/remote.json" --server http://127.0.0.1:1

expect 0 "runs" "$QLAB" runs
[[ $(grep -c queued "$T/out") == 5 ]] && ok "runs lists 5 queued runs" || not_ok "runs lists 5 queued runs" "$(cat "$T/out")"
grep -Eq "^ +1 +queued .* [0-9]+ +cli-exp$" "$T/out" && ok "runs shows the fp32 run's LUTs (committed cost table)" || not_ok "runs shows the fp32 run's LUTs" "$(cat "$T/out")"
grep -q "unavailable" "$T/out" && ok "runs shows a cost this server will not synthesize" || not_ok "runs shows unavailable costs" "$(cat "$T/out")"
expect 0 "runs --sweep --json" "$QLAB" runs --sweep 1 --json
json_check "runs --sweep has the sweep's 4 runs" "len(d['runs']) == 4 and all(r['sweep'] == 1 for r in d['runs'])"
expect 0 "runs --limit 2 --json pages" "$QLAB" runs --limit 2 --json
json_check "a page of 2 with a cursor" "len(d['runs']) == 2 and d['next_cursor'] is not None"
expect 2 "runs --state with junk" "$QLAB" runs --state 'x;y'
expect 1 "runs --state unknown is refused by the server" "$QLAB" runs --state bogus


expect 0 "show" "$QLAB" show 1
grep -q "cli-exp" "$T/out" && ok "show prints the name" || not_ok "show prints the name"
grep -Eq "^cost +[0-9]+ LUT, [0-9]+ FF, [0-9]+ DSP, [0-9]+ gates, " "$T/out" && grep -Eq "^cost_tool +Yosys " "$T/out" \
    && grep -Eq "^  forward +[0-9]+ LUT" "$T/out" && grep -Eq "^    cfg=.*acc=fp32" "$T/out" \
    && ok "show prints the cost and each group's MAC" || not_ok "show prints the cost" "$(cat "$T/out")"
expect 0 "show --json" "$QLAB" show --json 2
json_check "show --json has the expanded spec" "d['spec']['arith']['forward']['mac']['acc'] == 'e6m5' and d['state'] == 'queued'"
expect 1 "show of a missing run" "$QLAB" show 999
grep -q "404" "$T/err" && ok "the 404 is reported" || not_ok "the 404 is reported" "$(cat "$T/err")"
expect 2 "show of a non-id" "$QLAB" show abc

expect 0 "cancel a queued run" "$QLAB" cancel 1
expect 0 "show --json after cancel" "$QLAB" show --json 1
json_check "the run is canceled" "d['state'] == 'canceled'"
expect 1 "cancelling it again is a conflict" "$QLAB" cancel 1
expect 0 "cancel a sweep --json" "$QLAB" cancel --sweep 1 --json
json_check "all 4 runs canceled" "d['canceled'] == 4"
expect 1 "watch of a canceled run exits 1" "$QLAB" watch 1
grep -q "canceled" "$T/out" && ok "watch shows the final state" || not_ok "watch shows the final state" "$(cat "$T/out")"
expect 1 "watch --sweep of a canceled sweep exits 1" "$QLAB" watch --sweep 1

expect 0 "workers" "$QLAB" workers
expect 0 "workers --json" "$QLAB" workers --json
json_check "workers --json is a list" "d['workers'] == []"

# A run with metrics, posted through the worker API as a worker would.
python3 - "$QLAB_SERVER" <<'PY'
import json, sys, urllib.request
base = sys.argv[1]
def call(method, path, body=None, headers={}):
    req = urllib.request.Request(base + path, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")
call("POST", "/api/v1/experiments",
     {"name": "m", "model": {"arch": "mlp", "hidden": [8]}, "dataset": {"name": "synthetic"}})
w = call("POST", "/api/v1/workers/register", {"name": "w", "devices": [{"id": "cpu0", "kind": "cpu", "slots": 1}]})
l = call("POST", "/api/v1/workers/%d/lease" % w["worker"]["id"], {"devices": ["cpu0"], "wait": 1})
h = {"X-Qlab-Lease": l["lease"]}
rid = l["run"]["id"]
call("POST", "/api/v1/runs/%d/start" % rid, None, h)
pts = [{"step": s, "name": "train_loss", "value": 2.0 / s} for s in range(1, 11)]
pts += [{"step": 10, "name": "val_acc", "value": 0.75}]
call("POST", "/api/v1/runs/%d/metrics" % rid, {"points": pts}, h)
call("POST", "/api/v1/runs/%d/complete" % rid, {"state": "succeeded"}, h)
PY
expect 0 "metrics" "$QLAB" metrics 6
[[ $(grep -c . "$T/out") == 11 ]] && ok "metrics prints a header and 10 steps" || not_ok "metrics prints a header and 10 steps" "$(cat "$T/out")"
expect 0 "metrics --csv" "$QLAB" metrics --csv 6
head -1 "$T/out" | grep -q "^step,train_loss,val_acc$" && ok "csv header" || not_ok "csv header" "$(head -2 "$T/out")"
grep -q "^10,0.2,0.75$" "$T/out" && ok "csv row of step 10" || not_ok "csv row of step 10" "$(tail -2 "$T/out")"
expect 0 "metrics --json --max-points 4" "$QLAB" metrics --json --max-points 4 6
json_check "downsampled to 4 points keeping the extremes" "d['downsampled'] and len(d['series']['train_loss']['step']) == 4 and max(d['series']['train_loss']['value']) == 2.0 and min(d['series']['train_loss']['value']) == 0.2"
expect 2 "metrics --csv --json" "$QLAB" metrics --csv --json 6
expect 0 "watch a succeeded run exits 0" "$QLAB" watch 6
expect 0 "runs --state succeeded --json" "$QLAB" runs --state succeeded --json
json_check "the summary carries val_acc" "d['runs'][0]['summary']['val_acc'] == 0.75"

# Progress and states: run 7 runs (its steps stored 0.3 s apart, so the step
# rate and the ETA are known), sweep 2 has one run leased and one running.
python3 - "$QLAB_SERVER" <<'PY'
import json, sys, time, urllib.request
base = sys.argv[1]
def call(method, path, body=None, headers={}):
    req = urllib.request.Request(base + path, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")
name = "a-run-with-a-long-name-" + "x" * 80
call("POST", "/api/v1/experiments",
     {"name": name, "model": {"arch": "mlp", "hidden": [8]}, "dataset": {"name": "synthetic"},
      "train": {"epochs": 10, "optimizer": {"type": "sgd", "lr": 0.05}}})
w = call("POST", "/api/v1/workers/register", {"name": "w2", "devices": [{"id": "cpu0", "kind": "cpu", "slots": 4}]})
wid = w["worker"]["id"]
def lease():
    l = call("POST", "/api/v1/workers/%d/lease" % wid, {"devices": ["cpu0"], "wait": 1})
    return l["run"]["id"], {"X-Qlab-Lease": l["lease"]}
rid, h = lease()
call("POST", "/api/v1/runs/%d/start" % rid, None, h)
for k, step in enumerate((10, 20, 30)):
    if k:
        time.sleep(0.3)
    call("POST", "/api/v1/runs/%d/metrics" % rid, {"points": [
        {"step": step, "name": "total_steps", "value": 1000}, {"step": step, "name": "epoch", "value": 0},
        {"step": step, "name": "train_loss", "value": 1.0 / step}, {"step": step, "name": "loss_scale", "value": 65536}]}, h)
call("POST", "/api/v1/sweeps", {"name": "states", "base": {"name": "b", "model": {"arch": "mlp", "hidden": [8]},
     "dataset": {"name": "synthetic"}}, "parameters": {"arith.forward.mac.acc": {"values": ["e6m5", "fp32"]}}})
lease()
r2, h2 = lease()
call("POST", "/api/v1/runs/%d/start" % r2, None, h2)
PY
expect 124 "watch --json of a running run follows it (stopped by timeout)" timeout 3 "$QLAB" watch --json 7
head -1 "$T/out" >"$T/first"
mv "$T/first" "$T/out"
json_check "watch --json: the real step of the planned total, and an ETA" "d['state'] == 'running' and d['step'] == 30 and d['total_steps'] == 1000 and d['epoch'] == 0 and 10 < d['eta_s'] < 120"
expect 124 "watch of a running run" timeout 3 "$QLAB" watch 7
grep -Eq "^run 7: running \(attempt 1\), step 30 of 1000 \(3\.0%\), epoch 1 of 10, train_loss 0\.03333, val_acc -, ETA [0-9]+s$" "$T/out" \
    && ok "watch: step N of M, epoch, numbers for people, ETA" || not_ok "watch: step N of M, epoch, numbers for people, ETA" "$(cat "$T/out")"
expect 124 "watch --sweep of a sweep with a leased and a running run" timeout 3 "$QLAB" watch --sweep 2
grep -q "^sweep 2: 0 queued, 1 leased, 1 running, 0 succeeded, 0 failed, 0 canceled$" "$T/out" \
    && ok "watch --sweep tells leased and running apart" || not_ok "watch --sweep tells leased and running apart" "$(cat "$T/out")"
expect 0 "show of the running run" "$QLAB" show 7
grep -Eq '^  loss_scale +65536$' "$T/out" && grep -q '"lr": 0.05,' "$T/out" \
    && ok "show prints 65536 and 0.05 for people" || not_ok "show prints 65536 and 0.05 for people" "$(grep -E 'loss_scale|"lr"' "$T/out")"
expect 0 "runs with a long name" "$QLAB" runs
if awk 'length($0) > 100 { bad = 1 } END { exit bad }' "$T/out" && grep -q -- "--wide" "$T/out"; then
    ok "runs: lines fit 100 columns and say how to get the whole names"
else
    not_ok "runs: lines fit 100 columns and say how to get the whole names" "$(cat "$T/out")"
fi
expect 0 "runs --wide" "$QLAB" runs --wide
grep -q "a-run-with-a-long-name-$(printf 'x%.0s' $(seq 80))$" "$T/out" \
    && ok "runs --wide prints the whole name" || not_ok "runs --wide prints the whole name"

# The HTML report: one self-contained file from the template in web/.
if [[ -f $ROOT/web/vendor/uPlot.iife.min.js ]]; then
    expect 0 "report SWEEP -o FILE" "$QLAB" report 2 -o "$T/report.html" --web "$ROOT/web"
    grep -q "wrote $T/report.html (2 runs" "$T/err" && ok "report says what it wrote" || not_ok "report says what it wrote" "$(cat "$T/err")"
    if python3 - "$T/report.html" <<'PY'
import json, re, sys
html = open(sys.argv[1]).read()
assert "QLAB:" not in html, "a marker was left unfilled"
assert not re.search(r"<(script|link|img)[^>]+(src|href)=", html), "the page loads something"
assert "uPlot" in html and "Accuracy vs bits" in html
data = json.loads(re.search(r'<script id="qlab-data" type="application/json">(.*?)</script>', html, re.S).group(1))
assert data["sweep"]["name"] == "states" and len(data["runs"]) == 2, data["sweep"]
assert data["axes"]["arith.forward.mac.acc"] == {"values": ["e6m5", "fp32"], "bits": [12, 32]}, data["axes"]
assert data["versions"]["qlab"] and data["workers"], data["versions"]
PY
    then ok "report: inlined, no external loads, the sweep's runs and axes with bits"; else not_ok "report: inlined, no external loads, the sweep's runs and axes with bits"; fi
    (cd "$T" && "$QLAB" report 2 >/dev/null 2>&1) && [[ -s $T/sweep-2-report.html ]] \
        && ok "report: default file name, dashboard found beside the binary" || not_ok "report: default file name, dashboard found beside the binary"
else
    echo "ok - SKIP report: web/vendor/ is missing (make deps fetches uPlot)"
fi
expect 2 "report --web of a directory without the dashboard" "$QLAB" report 2 --web "$T"
expect 1 "report of a missing sweep" "$QLAB" report 99 -o "$T/none.html" --web "$ROOT/web"
[[ ! -e $T/none.html ]] && ok "a failed report writes nothing" || not_ok "a failed report writes nothing"

# ---- results out and in order (issue 16) ----
expect 0 "a sweep for results" "$QLAB" submit --json "$T/sweep.json"
SW=$(python3 -c "import json; print(json.load(open('$T/out'))['sweep']['id'])")
expect 0 "the sweep's runs" "$QLAB" runs --json --filter "sweep = $SW" --order-by id
R=$(python3 -c "import json; print(json.load(open('$T/out'))['runs'][0]['id'])")
expect 0 "runs --filter on spec fields" "$QLAB" runs --json --filter "sweep = $SW and arith.forward.mac.acc = \"fp32\" and train.seed >= 2"
json_check "one run, with its spec" "len(d['runs']) == 1 and d['runs'][0]['spec']['train']['seed'] == 2"
expect 0 "runs --order-by -train.seed" "$QLAB" runs --json --filter "sweep = $SW" --order-by -train.seed
json_check "ordered by seed, descending" "[r['spec']['train']['seed'] for r in d['runs']] == [2, 2, 1, 1]"
expect 1 "an unknown filter field is refused by the server" "$QLAB" runs --filter 'nope = 1'
grep -q "400 bad_param at ?filter" "$T/err" && ok "the 400 names ?filter" || not_ok "the 400 names ?filter" "$(cat "$T/err")"
expect 0 "sweeps" "$QLAB" sweeps
grep -q "cli-sweep" "$T/out" && ok "sweeps lists the sweep" || not_ok "sweeps lists the sweep" "$(cat "$T/out")"
expect 0 "tag a run" "$QLAB" tag "$R" good study
expect 0 "tag --remove" "$QLAB" tag "$R" --remove study
expect 0 "note a run" "$QLAB" note "$R" '**best** so far'
expect 0 "rename a run" "$QLAB" rename "$R" 'renamed, "quoted"'
expect 0 "show --json" "$QLAB" show --json "$R"
json_check "name, note and tags changed" "d['name'] == 'renamed, \"quoted\"' and d['note'] == '**best** so far' and d['tags'] == ['good']"
expect 0 "note prints it" "$QLAB" note "$R"
[[ $(cat "$T/out") == '**best** so far' ]] && ok "the note as written" || not_ok "the note as written" "$(cat "$T/out")"
printf '# From a file\nline two\n' >"$T/note.md"
expect 0 "note --sweep -f FILE" "$QLAB" note --sweep "$SW" -f "$T/note.md"
expect 0 "tag --sweep" "$QLAB" tag --sweep "$SW" study
expect 0 "sweeps --filter tag --json" "$QLAB" sweeps --json --filter 'tag = study'
json_check "the tagged sweep with its note" "[s['id'] for s in d['sweeps']] == [$SW] and d['sweeps'][0]['note'] == '# From a file\nline two\n'"
expect 1 "a bad tag is refused" "$QLAB" tag "$R" 'a b'
expect 2 "tag without tags" "$QLAB" tag "$R"
expect 2 "rename without a name" "$QLAB" rename "$R"
expect 0 "export --csv" "$QLAB" export "$SW" --csv
head -1 "$T/out" | grep -q "^id,name,state,sweep,worker,device,attempt,created,started,finished,duration,error,submitted_by,tags,imported,arith.forward.mac.acc,train.seed," && ok "export's columns" || not_ok "export's columns" "$(head -1 "$T/out")"
grep -q ',"renamed, ""quoted""",queued,' "$T/out" && ok "CSV quoting of the renamed run" || not_ok "CSV quoting" "$(cat "$T/out" | head -3)"
[[ $(wc -l <"$T/out") == 5 ]] && ok "a header and four rows" || not_ok "a header and four rows" "$(cat "$T/out")"
expect 0 "export --json -o" "$QLAB" export "$SW" --json -o "$T/export.json"
cp "$T/export.json" "$T/out"
json_check "the JSON table has the same rows" "len(d['rows']) == 4 and d['columns'][0] == 'id' and d['rows'][0]['train.seed'] == 1"
expect 1 "export of a missing sweep" "$QLAB" export 999
expect 2 "export --csv --json" "$QLAB" export 1 --csv --json

# A local run recorded on the server: no worker needed.
mkdir -p "$T/rundir"
cat >"$T/rundir/spec.json" <<'J'
{"name": "local-run", "model": {"arch": "mlp", "hidden": [8]},
 "dataset": {"name": "synthetic", "train_limit": 128, "val_limit": 64},
 "train": {"epochs": 1, "batch_size": 64, "log_interval": 1}}
J
expect 0 "train locally" "$QLAB" train "$T/rundir/spec.json" --quiet --threads 1 --metrics "$T/rundir/metrics.jsonl" --checkpoint-dir "$T/rundir"
expect 0 "upload the run directory" "$QLAB" upload "$T/rundir" --tag laptop
UP=$(cat "$T/out")
expect 0 "upload again" "$QLAB" upload "$T/rundir"
[[ $(cat "$T/out") == "$UP" ]] && ok "the same files are the same run" || not_ok "the same run" "$UP vs $(cat "$T/out")"
expect 0 "show the uploaded run" "$QLAB" show --json "$UP"
json_check "succeeded, imported, tagged, with val_acc" "d['state'] == 'succeeded' and d['imported'] and d['tags'] == ['laptop'] and 'val_acc' in d['summary']"
expect 0 "its checkpoint is on the server" curl -sf -o "$T/ck" "$QLAB_SERVER/api/v1/runs/$UP/checkpoint"
cmp -s "$T/ck" "$T/rundir/checkpoint.qck" && ok "the checkpoint's bytes" || not_ok "the checkpoint's bytes"
expect 0 "train --upload" "$QLAB" train "$T/rundir/spec.json" --quiet --threads 1 --upload --tag direct
grep -q '"kind":"epoch"' "$T/out" && ok "train --upload still prints the metric lines" || not_ok "metric lines" "$(head -2 "$T/out")"
grep -q "recorded on" "$T/err" && ok "train --upload says where" || not_ok "train --upload says where" "$(cat "$T/err")"
DIRECT=$(sed -n 's/.*upload: run \([0-9]*\) recorded.*/\1/p' "$T/err")
expect 0 "the directly uploaded run's points" curl -sf "$QLAB_SERVER/api/v1/metrics?runs=$DIRECT&names=train_loss,val_acc"
json_check "each point has the time its line was written" "len(d['points']) >= 3 and len(set(p['time'] for p in d['points'])) >= 2"
expect 0 "runs --filter imported" "$QLAB" runs --json --filter 'imported = true' --order-by id
json_check "two imported runs" "[r['tags'] for r in d['runs']] == [['laptop'], ['direct']]"
expect 0 "metrics of two runs: the long CSV" "$QLAB" metrics "$UP" 6 --names val_acc
head -1 "$T/out" | tr -d '\r' | grep -q "^run,name,step,value,time$" && ok "long CSV header" || not_ok "long CSV header" "$(head -2 "$T/out")"
grep -q "^6,val_acc,10,0.75," "$T/out" && ok "long CSV row of run 6" || not_ok "long CSV row" "$(cat "$T/out")"
expect 2 "upload without a directory or --spec" "$QLAB" upload
expect 1 "upload of a missing directory" "$QLAB" upload "$T/nothing"
printf '{"kind":"step","step":1,"train_loss":1}\nnot json\n' >"$T/bad.jsonl"
expect 2 "upload of bad metric lines names the line" "$QLAB" upload --spec "$T/rundir/spec.json" --metrics "$T/bad.jsonl"
grep -q "line 2" "$T/err" && ok "line 2 is named" || not_ok "line 2 is named" "$(cat "$T/err")"

# Deletion: the uploaded run goes with its points and its checkpoint.
expect 0 "rm RUN" "$QLAB" rm "$UP"
grep -q "^run $UP deleted$" "$T/out" && ok "rm says what it deleted" || not_ok "rm says what it deleted" "$(cat "$T/out")"
expect 1 "the deleted run is gone" "$QLAB" show "$UP"
[[ $(curl -s -o /dev/null -w '%{http_code}' "$QLAB_SERVER/api/v1/runs/$UP/checkpoint") == 404 ]] \
    && ok "its checkpoint is gone" || not_ok "its checkpoint is gone"
expect 0 "its points are gone" curl -sf "$QLAB_SERVER/api/v1/metrics?runs=$DIRECT,$UP"
json_check "only the other run's points remain" "len(d['points']) > 0 and {p['run'] for p in d['points']} == {$DIRECT}"
expect 1 "rm of a deleted run" "$QLAB" rm "$UP"
expect 2 "rm without ids" "$QLAB" rm
expect 2 "rm of a non-id" "$QLAB" rm 3 x

expect 1 "an unreachable server is exit 1" "$QLAB" runs --server http://127.0.0.1:1
expect 2 "--server needs a URL" "$QLAB" runs --server ftp://x
expect 2 "--token without a value" "$QLAB" runs --token

echo "$PASSED passed, $FAILED failed"
[[ $FAILED == 0 ]]
