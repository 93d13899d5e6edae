#!/usr/bin/env bash
# The GPU check of the CUDA backend (docs/cuda.md): builds it, runs the GPU
# tests (tests/unit/test_cuda.c: GPU against CPU, bit for bit) and the GPU
# benchmarks (qlab-bench group "cuda"), and prints a summary. Under 8
# minutes on a GPU machine; exits 0 only when every GPU test passed (none
# skipped: on a GPU machine a skip means the GPU was not usable).
#
#   scripts/gpu-check.sh                  build here with make, then check
#   scripts/gpu-check.sh --bundle DIR     build here (no GPU needed), and put
#                                         the binaries, the shared libraries a
#                                         bare CUDA machine lacks and this
#                                         script into DIR
#   scripts/gpu-check.sh --from-bundle DIR   on the GPU machine: check with
#                                         DIR's binaries (no compiler needed)
#
# Environment: QLAB_GPU_CHECK_IMAGES (images of the ResNet-20 epoch slice,
# default 5120; the figure also gives the 50000-image estimate), NVCC, JOBS.
set -u

here=$(cd "$(dirname "$0")/.." && pwd)
mode=build
dir=
case "${1:-}" in
--bundle) mode=bundle; dir=${2:?--bundle needs a folder} ;;
--from-bundle) mode=from-bundle; dir=${2:?--from-bundle needs a folder} ;;
-h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
"") ;;
*) echo "gpu-check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
esac

jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
images=${QLAB_GPU_CHECK_IMAGES:-5120}
start=$(date +%s)
say() { printf 'gpu-check: %s\n' "$*"; }

build() {
    say "building the CUDA backend, the tests and the benchmarks (make -j$jobs)"
    local out
    out=$(cd "$here" && make -j"$jobs" build/bin/qlab-tests build/bin/qlab-bench 2>&1)
    local rc=$?
    printf '%s\n' "$out" | grep -E '^qlab: CUDA backend' | head -1
    if [ $rc -ne 0 ]; then
        printf '%s\n' "$out" | tail -30
        say "FAILED: the build failed (a machine without the project's Debian packages can run"
        say "        a bundle made elsewhere: --bundle DIR there, --from-bundle DIR here)"
        exit 1
    fi
    if ! printf '%s\n' "$out" | grep -q 'CUDA backend built'; then
        say "FAILED: nvcc was not found, so there is no CUDA backend to check (NVCC=/path/to/nvcc)"
        exit 1
    fi
}

if [ "$mode" = bundle ]; then
    build
    mkdir -p "$dir/bin" "$dir/lib" "$dir/scripts"
    cp "$here/build/bin/qlab-tests" "$here/build/bin/qlab-bench" "$dir/bin/"
    cp "$0" "$dir/scripts/gpu-check.sh"
    # Every shared library the binaries load, except the C runtime and the
    # CUDA libraries, which a CUDA machine has (and which must match its driver).
    ldd "$dir/bin/qlab-tests" "$dir/bin/qlab-bench" | awk '/=> \//{print $3}' | sort -u |
        grep -vE '/(libc|libm|libdl|librt|libpthread|ld-linux[^/]*|libgcc_s|libstdc\+\+|libcublas[^/]*|libcuda[^/]*)\.so' |
        while read -r lib; do cp -L "$lib" "$dir/lib/"; done
    say "bundle in $dir ($(du -sh "$dir" | cut -f1)); on the GPU machine: $dir/scripts/gpu-check.sh --from-bundle $dir"
    exit 0
fi

if [ "$mode" = from-bundle ]; then
    bin=$dir/bin
    export LD_LIBRARY_PATH="$dir/lib:/usr/local/cuda/lib64:/usr/local/cuda/targets/x86_64-linux/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
else
    build
    bin=$here/build/bin
fi

say "devices"
if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader
else
    say "  (no nvidia-smi here)"
fi

# 1. The GPU tests.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
say "GPU tests: qlab-tests --filter 'cuda/*'"
timeout 300 "$bin/qlab-tests" --filter 'cuda/*' --verbose --jobs 1 >"$log" 2>&1
trc=$?
grep -E '^\[(PASS|FAIL|SKIP|RUN|----)\]|^\[====\]|Assertion|crash' "$log" | grep -v '^\[RUN' | head -80
passed=$(grep -c '^\[PASS\] cuda::' "$log")
failed=$(grep -cE '^\[(FAIL|CRASH)\] cuda::|CRASH' "$log")
skipped=$(grep -c '^\[SKIP\] cuda::' "$log")
[ $trc -eq 124 ] && say "the GPU tests ran past 300 s and were stopped"

# 2. The GPU benchmarks (one JSON line per figure).
bench=$(mktemp)
trap 'rm -f "$log" "$bench"' EXIT
say "GPU benchmarks: qlab-bench cuda (ResNet-20 slice of $images images)"
QLAB_BENCH_CUDA_IMAGES=$images timeout 360 "$bin/qlab-bench" cuda >"$bench" 2>&1
brc=$?
cat "$bench"
[ $brc -eq 124 ] && say "the benchmarks ran past 360 s and were stopped"

# 3. The summary.
echo
say "==================== summary ===================="
say "GPU tests: $passed passed, $failed failed, $skipped skipped (exit $trc)"
python3 - "$bench" <<'EOF' 2>/dev/null || grep '"bench"' "$bench"
import json, sys
for line in open(sys.argv[1]):
    try:
        f = json.loads(line)
    except ValueError:
        continue
    if f.get("skipped"):
        print(f"gpu-check: {f['bench']}: skipped: {f.get('reason')}")
        continue
    tgt = f" target {f['target']} {'met' if f.get('met') else 'NOT met'}" if "target" in f else ""
    extra = {k: f[k] for k in ("emulated_gmac_s", "sgemm_tflops", "epoch_s_estimate",
                               "emulated_images_s") if k in f}
    print(f"gpu-check: {f['bench']}: {f['value']:.4g} {f.get('unit','')}, ratio "
          f"{f['ratio']:.4g} vs {f.get('baseline')}{tgt} {extra if extra else ''}")
EOF
say "took $(( $(date +%s) - start )) s"
if [ "$failed" -ne 0 ] || [ $trc -ne 0 ]; then
    say "RESULT: FAILED (GPU tests)"
    exit 1
fi
if [ "$skipped" -ne 0 ] || [ "$passed" -eq 0 ]; then
    say "RESULT: NOT VERIFIED: the GPU tests skipped (no usable GPU; the reasons are above)"
    exit 3
fi
if [ $brc -ne 0 ]; then
    say "RESULT: the GPU tests passed; the benchmarks FAILED (exit $brc)"
    exit 1
fi
say "RESULT: OK: the GPU gives the CPU's bits in every test"
exit 0
