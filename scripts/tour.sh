#!/usr/bin/env bash
# `make tour`: the numerics core through the real `qlab` binary, no server.
# Every number printed is computed here.
set -euo pipefail
QLAB=${QLAB:-build/bin/qlab}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

section() { printf '\n== %s ==\n' "$1"; }
f32() { python3 -c 'import struct,sys; sys.stdout.buffer.write(struct.pack("<%df" % (len(sys.argv)-1), *map(float, sys.argv[1:])))' "$@"; }
show() { python3 -c 'import struct,sys; d=sys.stdin.buffer.read(); print("  ".join("%g" % v for v in struct.unpack("<%df" % (len(d)//4), d)))'; }

section "Named formats (qlab formats)"
"$QLAB" formats fp16 bf16 fp8_e4m3 fp8_e5m2 e4m3 e6m5 e4m7:bias=10 q8.13 mxfp4_e2m1

vals=(0.3 1.0625 464 470 1e-3 -0.0)
section "Quantize ${vals[*]} (rne)"
for fmt in e4m3 fp8_e4m3 e5m2 e5m2:subnormal-as-normal e5m2:daz; do
    printf '%-26s ' "$fmt"; f32 "${vals[@]}" | "$QLAB" quantize --format "$fmt" | show
done

section "Stochastic rounding of 1.1 to e4m3 (sr, seeds 1 and 2): reproducible per seed"
for seed in 1 1 2; do
    printf 'seed %s: ' "$seed"
    f32 1.1 1.1 1.1 1.1 1.1 1.1 1.1 1.1 | "$QLAB" quantize --format e4m3 --rounding sr --seed "$seed" | show
done

section "MXFP4 blocks of 4 with each scale rule"
for rule in floor ceil round; do
    printf '%-6s ' "$rule"; f32 1 2 3 7 0.1 0.2 0.3 0.4 | "$QLAB" quantize --format mxfp4_e2m1@4 --scale-rule "$rule" | show
done

section "A 64x64x1024 GEMM of e5m2 inputs under different accumulators (counters on stderr)"
python3 - "$tmp" <<'PY'
import random, struct, sys
random.seed(7)
d = sys.argv[1]
with open(d + "/a.f32", "wb") as f:
    f.write(struct.pack("<%df" % (64 * 1024), *[random.gauss(0, 1) for _ in range(64 * 1024)]))
with open(d + "/b.f32", "wb") as f:
    f.write(struct.pack("<%df" % (1024 * 64), *[random.gauss(0, 1) for _ in range(1024 * 64)]))
PY
"$QLAB" gemm -M 64 -N 64 -K 1024 --a "$tmp/a.f32" --b "$tmp/b.f32" --mac acc=fp64 >"$tmp/c_exact.f32"
for mac in "cfg=5,a=e5m2,b=e5m2,acc=fp32" "cfg=5,a=e5m2,b=e5m2,acc=e6m5" \
           "cfg=5,a=e5m2,b=e5m2,acc=e6m5,chunk=32" "cfg=2,a=e5m2,b=e5m2,acc=e6m5,chunk=32" \
           "cfg=5,a=e5m2,b=e5m2,acc=q8.13" "cfg=5,a=e5m2,b=e5m2,acc=e4m7:bias=10,acc_rounding=rtz,chunk=16"; do
    "$QLAB" gemm -M 64 -N 64 -K 1024 --a "$tmp/a.f32" --b "$tmp/b.f32" --mac "$mac" --stats \
        >"$tmp/c.f32" 2>"$tmp/stats.json"
    python3 - "$tmp" "$mac" <<'PY'
import json, struct, sys
d, mac = sys.argv[1], sys.argv[2]
def load(p):
    b = open(p, "rb").read()
    return struct.unpack("<%df" % (len(b) // 4), b)
ref, c = load(d + "/c_exact.f32"), load(d + "/c.f32")
st = json.load(open(d + "/stats.json"))
err = sum(abs(x - y) for x, y in zip(c, ref)) / sum(abs(y) for y in ref)
print("%-62s rel.err %.2e  swamped %5.1f%%  overflow %d  underflow %d" % (
    mac, err, 100.0 * st["swamping"] / st["macs"], st["overflow"], st["underflow"]))
PY
done
section "Training LeNet-5 on 4096 Fashion-MNIST images: fp32 vs e5m2 / CFG-5 / e6m5 (qlab train)"
for variant in fp32 e5m2; do
    if [[ $variant == fp32 ]]; then arith='{}'; else
        arith='{"forward": {"weights": "e5m2", "activations": "e5m2", "mac": {"cfg": 5, "acc": "e6m5", "chunk": 32}},
                "backward": {"errors": "e5m2", "mac": {"cfg": 5, "acc": "e6m5", "chunk": 32}}}'
    fi
    cat >"$tmp/$variant.json" <<JSON
{"name": "demo-$variant", "model": {"arch": "lenet5"},
 "dataset": {"name": "fashion-mnist", "train_limit": 4096, "val_limit": 1000},
 "train": {"epochs": 2, "batch_size": 64, "log_interval": 32},
 "arith": $arith,
 "scaling": {"loss": {"type": "dynamic", "init": 1024, "growth_interval": 200}}}
JSON
    "$QLAB" train "$tmp/$variant.json" --quiet >"$tmp/$variant.jsonl"
    python3 - "$tmp/$variant.jsonl" "$variant" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d["kind"] == "epoch":
        print("%-5s epoch %d: val acc %.3f  loss %.3f  swamping fwd/bwd/wgrad %.2g/%.2g/%.2g" % (
            sys.argv[2], d["epoch"], d["val_acc"], d["val_loss"], d["fwd"]["swamping_rate"],
            d["bwd"]["swamping_rate"], d["wgrad"]["swamping_rate"]))
PY
done

printf '\nThe server, workers and dashboard join this demo as they land (see README).\n'
