#!/usr/bin/env bash
# End-to-end tests of the qlab command-line program: every command run as a
# user runs it, on real files in a temporary directory, with the expected
# numbers worked out by hand in the comments (docs/formats.md, docs/mac.md).
# Usage: QLAB=build/bin/qlab tests/cli/run.sh   (prints "N passed, M failed")
set -euo pipefail

QLAB=${QLAB:-build/bin/qlab}
if [[ ! -x $QLAB ]]; then
    echo "run.sh: no qlab binary at '$QLAB' (build it with make, or set QLAB)" >&2
    exit 1
fi
if ! command -v python3 >/dev/null; then
    echo "run.sh: python3 is needed to write and check the binary test files" >&2
    exit 1
fi
QLAB=$(cd "$(dirname "$QLAB")" && pwd)/$(basename "$QLAB")
T=$(mktemp -d "${TMPDIR:-/tmp}/qlab-cli.XXXXXX")
trap 'rm -rf "$T"' EXIT

PASSED=0
FAILED=0

ok() {
    echo "ok - $1"
    PASSED=$((PASSED + 1))
}

not_ok() {
    echo "not ok - $1"
    FAILED=$((FAILED + 1))
    if [[ -s $T/err ]]; then sed -n '1,5s/^/#   stderr: /p' "$T/err"; fi
    if [[ -n ${2:-} ]]; then printf '%s\n' "$2" | sed -n '1,8s/^/#   /p'; fi
}

# check DESC CMD...: ok when CMD succeeds. Its output, if any, is shown on failure.
check() {
    local desc=$1 msg
    shift
    if msg=$("$@" 2>&1); then ok "$desc"; else not_ok "$desc" "$msg"; fi
}

# q ARGS...: runs qlab with an empty stdin; stdout in $T/out, stderr in $T/err, status in RC.
q() {
    RC=0
    "$QLAB" "$@" </dev/null >"$T/out" 2>"$T/err" || RC=$?
}

# qin FILE ARGS...: the same with stdin from FILE (a regular file).
qin() {
    local in=$1
    shift
    RC=0
    "$QLAB" "$@" <"$in" >"$T/out" 2>"$T/err" || RC=$?
}

# qpipe FILE ARGS...: the same with stdin from a pipe.
qpipe() {
    local in=$1
    shift
    RC=0
    cat "$in" | "$QLAB" "$@" >"$T/out" 2>"$T/err" || RC=$?
}

# expect_success DESC: status 0 and nothing on stderr.
expect_success() {
    if [[ $RC -eq 0 && ! -s $T/err ]]; then ok "$1"; else not_ok "$1" "exit status $RC"; fi
}

# expect_error STATUS DESC [TEXT...]: the status, empty stdout, exactly one
# stderr line "qlab: ...", containing every TEXT.
expect_error() {
    local want=$1 desc=$2 t
    shift 2
    local why=""
    [[ $RC -eq $want ]] || why="exit status $RC, expected $want"
    [[ ! -s $T/out ]] || why="$why; stdout not empty"
    [[ $(wc -l <"$T/err") -eq 1 ]] || why="$why; stderr has $(wc -l <"$T/err") lines"
    grep -q '^qlab: ' "$T/err" || why="$why; stderr does not start with 'qlab: '"
    for t in "$@"; do
        grep -qF -- "$t" "$T/err" || why="$why; stderr lacks '$t'"
    done
    if [[ -z $why ]]; then ok "$desc"; else not_ok "$desc" "$why"; fi
}

# ---- python helpers: binary files in and out --------------------------------
cat >"$T/t.py" <<'EOF'
import json, math, random, re, struct, sys

def vals(args):
    return [float(eval(a, {"inf": math.inf, "nan": math.nan})) for a in args]

def read(ty, path):
    data = open(path, "rb").read()
    n = len(data) // (4 if ty == "f32" else 8)
    return list(struct.unpack("<%d%s" % (n, "f" if ty == "f32" else "d"), data))

def bits(ty, v):
    return struct.pack("<f" if ty == "f32" else "<d", v)

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "pack":            # pack TYPE OUT V...: values as Python expressions
    ty, out = args[0], args[1]
    with open(out, "wb") as f:
        for v in vals(args[2:]):
            f.write(bits(ty, v))
elif cmd == "expect":        # expect TYPE FILE V...: bit-exact (any NaN matches NaN)
    ty, path = args[0], args[1]
    got, want = read(ty, path), vals(args[2:])
    if len(got) != len(want):
        sys.exit("%d values, expected %d: %r" % (len(got), len(want), got))
    for i, (g, w) in enumerate(zip(got, want)):
        if math.isnan(w) and math.isnan(g):
            continue
        if bits(ty, g) != bits(ty, w):
            sys.exit("value %d is %r, expected %r; all: %r" % (i, g, w, got))
elif cmd == "npy":           # npy TYPE OUT SHAPE V...: a .npy file (SHAPE like 2x3)
    ty, out, shape = args[0], args[1], [int(x) for x in args[2].split("x")]
    d = "{'descr': '<%s', 'fortran_order': False, 'shape': (%s), }" % (
        "f4" if ty == "f32" else "f8", ", ".join(map(str, shape)) + ("," if len(shape) == 1 else ""))
    h = d + " " * ((64 - (10 + len(d) + 1) % 64) % 64) + "\n"
    with open(out, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode())
        for v in vals(args[3:]):
            f.write(bits(ty, v))
elif cmd == "npyexpect":     # npyexpect TYPE FILE SHAPE V...: a .npy with that dtype, shape, values
    ty, path, shape = args[0], args[1], tuple(int(x) for x in args[2].split("x"))
    data = open(path, "rb").read()
    if data[:6] != b"\x93NUMPY":
        sys.exit("not a .npy file: %r" % data[:16])
    hl = struct.unpack("<H", data[8:10])[0]
    head = eval(data[10:10 + hl].decode())
    if head != {"descr": "<f4" if ty == "f32" else "<f8", "fortran_order": False, "shape": shape}:
        sys.exit("header %r" % head)
    if (10 + hl) % 64:
        sys.exit("data starts at %d, not a multiple of 64" % (10 + hl))
    open(path + ".raw", "wb").write(data[10 + hl:])
    got, want = read(ty, path + ".raw"), vals(args[3:])
    if [bits(ty, g) for g in got] != [bits(ty, w) for w in want] and not all(
            math.isnan(g) and math.isnan(w) or g == w for g, w in zip(got, want)):
        sys.exit("values %r, expected %r" % (got, want))
elif cmd == "json_vs_progress":  # json_vs_progress JSONL ERR: step lines' losses on stderr
    steps = [json.loads(l) for l in open(args[0]) if '"kind":"step"' in l]
    err = open(args[1]).read()
    for d in steps:
        want = "step %d/%d" % (d["step"], d["total_steps"])
        m = re.search(re.escape(want) + r" \([0-9.]+%\), epoch \d+/\d+, loss ([0-9.e+-]+)", err)
        if not m or abs(float(m.group(1)) - d["train_loss"]) > 5e-4 * abs(d["train_loss"]):
            sys.exit("%s: loss %r in the metric line, progress %r" % (want, d["train_loss"], m and m.group(1)))
elif cmd == "width":         # width FILE N: no line longer than N columns
    n = int(args[1])
    long = [l for l in open(args[0]).read().splitlines() if len(l) > n]
    if long:
        sys.exit("%d lines over %d columns, e.g. %r" % (len(long), n, long[0]))
elif cmd == "rand":          # rand TYPE OUT N SEED [SCALE]: normal values
    ty, out, n, seed = args[0], args[1], int(args[2]), int(args[3])
    scale = float(args[4]) if len(args) > 4 else 1.0
    rng = random.Random(seed)
    with open(out, "wb") as f:
        f.write(b"".join(bits(ty, rng.gauss(0, 1) * scale) for _ in range(n)))
elif cmd == "const":         # const TYPE OUT N V: N copies of V
    ty, out, n = args[0], args[1], int(args[2])
    with open(out, "wb") as f:
        f.write(bits(ty, vals(args[3:4])[0]) * n)
elif cmd == "json":          # json FILE EXPR: EXPR true of the parsed JSON `d`
    d = json.load(open(args[0]))
    by = {o["name"]: o for o in d} if isinstance(d, list) else {}
    if not eval(args[1], {"d": d, "by": by, "math": math, "sys": sys}):
        sys.exit("false: %s\n%s" % (args[1], json.dumps(d)[:600]))
elif cmd == "jsonline":      # jsonline FILE EXPR: the file is exactly one JSON line
    lines = open(args[0]).read().splitlines()
    if len(lines) != 1:
        sys.exit("%d lines on stderr: %r" % (len(lines), lines))
    d = json.loads(lines[0])
    if not eval(args[1], {"d": d}):
        sys.exit("false: %s\n%s" % (args[1], lines[0]))
elif cmd == "jsonlines":     # jsonlines FILE EXPR: every line is JSON, EXPR true of each
    lines = open(args[0]).read().splitlines()
    if not lines:
        sys.exit("no lines")
    for line in lines:
        d = json.loads(line)
        if not eval(args[1], {"d": d}):
            sys.exit("false: %s\n%s" % (args[1], line))
elif cmd == "samelines":     # samelines A B: the same metric lines, throughput aside
    def strip(p):
        out = []
        for line in open(p).read().splitlines():
            d = json.loads(line)
            d.pop("images_per_s", None)
            out.append(d)
        return out
    a, b = strip(args[0]), strip(args[1])
    if a != b:
        sys.exit("differ: %d vs %d lines; first: %r / %r" % (len(a), len(b), a[:1], b[:1]))
elif cmd == "between":       # between TYPE X LO HI: each X[i] is LO[i] or HI[i]
    x, lo, hi = (read(args[0], p) for p in args[1:4])
    bad = [i for i in range(len(x)) if x[i] != lo[i] and x[i] != hi[i]]
    if bad or len(x) != len(lo):
        sys.exit("values not on a neighbour: %r" % bad[:5])
    if all(x[i] == lo[i] for i in range(len(x))) or all(x[i] == hi[i] for i in range(len(x))):
        sys.exit("stochastic rounding went one way for every value")
elif cmd == "halves_differ": # halves_differ TYPE FILE: first half != second half
    x = read(args[0], args[1])
    h = len(x) // 2
    if x[:h] == x[h:2 * h]:
        sys.exit("the two halves are identical")
elif cmd == "table":         # table FILE JSONFILE: aligned columns, one row per format
    lines = open(args[0]).read().splitlines()
    names = [o["name"] for o in json.load(open(args[1]))]
    head = lines[0]
    titles = head.split()
    if titles[:2] != ["NAME", "KIND"] or len(lines) != len(names) + 1:
        sys.exit("header %r, %d lines for %d formats" % (titles, len(lines), len(names)))
    ncols = len(titles) - 1        # the last column is free text
    starts = [m.start() for m in re.finditer(r"\S+", head)][:ncols]
    ends = [m.end() for m in re.finditer(r"\S+", head)][:ncols]
    left = {"NAME", "KIND", "INF", "NAN", "MODIFIERS"}
    for line, name in zip(lines[1:], names):
        cells = list(re.finditer(r"\S+", line))[:ncols]
        if cells[0].group() != name:
            sys.exit("row %r is not format %s" % (line, name))
        for c, (t, s, e) in enumerate(zip(titles, starts, ends)):
            # Text columns start under their title; numbers (and their
            # titles) are right-aligned, so they end where the title ends.
            if t in left and cells[c].start() != s:
                sys.exit("column %s misaligned in %r" % (t, line))
            if t not in left and cells[c].end() != e:
                sys.exit("column %s misaligned in %r" % (t, line))
else:
    sys.exit("t.py: unknown command " + cmd)
EOF
py() { python3 "$T/t.py" "$@"; }

# ---- help and version -------------------------------------------------------
q help
if [[ $RC -eq 0 ]] && grep -q formats "$T/out" && grep -q quantize "$T/out" &&
    grep -q gemm "$T/out"; then ok "help lists every command"; else not_ok "help lists every command"; fi
cp "$T/out" "$T/help1"
q --help
check "--help equals help" cmp -s "$T/out" "$T/help1"
q --version
check "--version prints 'qlab VERSION'" grep -Eq '^qlab [0-9]+\.[0-9]+' "$T/out"
for c in formats quantize gemm; do
    q "$c" --help
    if [[ $RC -eq 0 && ! -s $T/err ]] && grep -q "^usage: qlab $c" "$T/out"; then
        ok "$c --help prints its usage"
    else
        not_ok "$c --help prints its usage"
    fi
    cp "$T/out" "$T/help_$c"
    q help "$c"
    check "help $c equals $c --help" cmp -s "$T/out" "$T/help_$c"
done
check "gemm --help documents -M and --mac" grep -q -- '--mac' "$T/help_gemm"

# ---- usage errors -------------------------------------------------------------
q
expect_error 2 "no command is a usage error" "missing command"
q bogus
expect_error 2 "unknown command" "qlab: bogus: unknown command"
q help bogus
expect_error 2 "help for an unknown command" "bogus"
q formats --bogus
expect_error 2 "formats: unknown flag" "qlab: formats: " "--bogus"
q formats e9m60
expect_error 2 "formats: e9m60 names the bad part" "9+60+1 bits exceed 64"
q formats e4m3 nonsense
expect_error 2 "formats: one bad format among good ones" "nonsense"
q quantize
expect_error 2 "quantize: --format is required" "--format"
q quantize --format
expect_error 2 "quantize: --format without its value" "needs a value"
q quantize --format e4m3 --cols abc
expect_error 2 "quantize: --cols not a number" "abc"
q quantize --format e4m3 --cols 0
expect_error 2 "quantize: --cols 0" "--cols"
q quantize --format e4m3 --rounding foo
expect_error 2 "quantize: bad rounding mode" "--rounding" "foo"
q quantize --format e4m3 --seed -1
expect_error 2 "quantize: negative seed" "--seed"
q quantize --format e4m3 --in f16
expect_error 2 "quantize: bad --in type" "f16"
q quantize --format e4m3 --scale-rule sideways
expect_error 2 "quantize: bad --scale-rule" "sideways"
q quantize --format 'e4m3:sat:wrap'
expect_error 2 "quantize: contradictory modifiers" "sat" "wrap"
q quantize --format e4m3 extra
expect_error 2 "quantize: stray argument" "extra"
q gemm -M 2 -N 2 --a x --b y
expect_error 2 "gemm: missing -K" "-K"
q gemm -M 0 -N 2 -K 2 --a x --b y
expect_error 2 "gemm: -M 0" "-M" "'0'"
q gemm -M 2000000 -N 2 -K 2 --a x --b y
expect_error 2 "gemm: a dimension over 2^20" "2000000"
q gemm -M 32768 -N 1 -K 16384 --a x --b y
expect_error 2 "gemm: A over 2^28 elements" "A (m*k)"
q gemm -M 2x -N 2 -K 2 --a x --b y
expect_error 2 "gemm: -M not a number" "2x"
q gemm -M 1 -N 1 -K 1 --a x --b y --threads many
expect_error 2 "gemm: --threads not a number" "many"
q gemm -M 1 -N 1 -K 1 --a x --b y --mac 'acc=bogus'
expect_error 2 "gemm: bad accumulator in --mac" "--mac" "bogus"
q gemm -M 1 -N 1 -K 1 --a x --b y --a-format e9m60
expect_error 2 "gemm: bad --a-format" "--a-format" "9+60+1 bits exceed 64"

# ---- formats -----------------------------------------------------------------
q formats --json
expect_success "formats --json runs"
cp "$T/out" "$T/all.json"
check "formats --json is valid JSON (json.tool)" python3 -m json.tool "$T/all.json"
check "formats --json lists the named formats" \
    py json "$T/all.json" "len(d) >= 10 and 'fp8_e4m3' in by and 'mxfp4_e2m1@32' in by"
check "fp8_e4m3: max 448, no inf, NaN, modifier fn" py json "$T/all.json" \
    "by['fp8_e4m3']['max_finite'] == 448 and not by['fp8_e4m3']['has_inf'] and by['fp8_e4m3']['has_nan'] and by['fp8_e4m3']['modifiers'] == ['fn'] and by['fp8_e4m3']['bits'] == 8"
check "fp8_e5m2: max 57344, bias 15, emin -14" py json "$T/all.json" \
    "by['fp8_e5m2']['max_finite'] == 57344 and by['fp8_e5m2']['bias'] == 15 and by['fp8_e5m2']['emin'] == -14"
check "fp16 min subnormal is exactly 2^-24, min normal 2^-14" py json "$T/all.json" \
    "by['fp16']['min_subnormal'] == 2**-24 and by['fp16']['min_normal'] == 2**-14"
check "fp64 extremes round-trip through the JSON" py json "$T/all.json" \
    "by['fp64']['max_finite'] == sys.float_info.max and by['fp64']['min_subnormal'] == 5e-324"
check "mxfp4_e2m1: block 32, element max 6, elem_emax 2" py json "$T/all.json" \
    "by['mxfp4_e2m1@32']['kind'] == 'mx' and by['mxfp4_e2m1@32']['block'] == 32 and by['mxfp4_e2m1@32']['max_finite'] == 6 and by['mxfp4_e2m1@32']['elem_emax'] == 2"
check "aliases carry their description" py json "$T/all.json" \
    "all(isinstance(o['doc'], str) and o['doc'] for o in d)"
q formats
expect_success "formats prints a table"
check "formats table: header, one aligned row per format" py table "$T/out" "$T/all.json"
check "formats table: fp8_e4m3 row shows 448" grep -Eq '^fp8_e4m3 .* 448 ' "$T/out"
q formats 'e4m7:bias=10:nosub' q8.13 mxfp4_e2m1@16 int8 --json
expect_success "formats FMT... --json runs"
cp "$T/out" "$T/some.json"
check "formats FMT...: one object per argument, in order" py json "$T/some.json" \
    "[o['name'] for o in d] == ['e4m7:bias=10:nosub', 'q8.13', 'mxfp4_e2m1@16', 'int8']"
check "e4m7:bias=10:nosub: bias 10, emin -9, modifiers bias=10,nosub" py json "$T/some.json" \
    "d[0]['bias'] == 10 and d[0]['emin'] == -9 and d[0]['modifiers'] == ['bias=10', 'nosub'] and d[0]['doc'] is None"
check "q8.13: fixed, I 8 F 13, max 128-2^-13, no exponent fields" py json "$T/some.json" \
    "d[1]['kind'] == 'fixed' and d[1]['ibits'] == 8 and d[1]['fbits'] == 13 and d[1]['max_finite'] == 128 - 2**-13 and d[1]['bias'] is None and d[1]['block'] is None"
check "mxfp4_e2m1@16: block 16" py json "$T/some.json" "d[2]['block'] == 16"
check "int8: max 127" py json "$T/some.json" "d[3]['kind'] == 'int' and d[3]['max_finite'] == 127"
# Every canonical name parses back to itself.
names=$(python3 -c 'import json,sys; print(" ".join(o["name"] for o in json.load(open(sys.argv[1]))))' \
    "$T/all.json" 2>/dev/null || true)
roundtrip_bad=${names:-"(no names)"}
if [[ -n $names ]]; then
    roundtrip_bad=""
    for name in $names; do
        q formats "$name" --json
        py json "$T/out" "d[0]['name'] == '$name'" >/dev/null 2>&1 || roundtrip_bad="$roundtrip_bad $name"
    done
fi
if [[ -z $roundtrip_bad ]]; then ok "formats: every canonical name parses back to itself"; else not_ok "formats: every canonical name parses back to itself" "$roundtrip_bad"; fi
q formats e4m3
check "formats FMT: table with one row" test "$(wc -l <"$T/out")" -eq 2

# ---- quantize: scalar formats, f32 --------------------------------------------
# fp8_e4m3 (OCP, no inf): grid 1/8 in [1,2), 32 in [256,448]; 464 is the tie
# 448|480 -> even 448; 465 rounds to 480 > max -> NaN under rne; 0.3f is
# 9.6 x 1/32 -> 10/32; 2^-10 is half the smallest subnormal 2^-9 -> 0 (even).
py pack f32 "$T/q1.f32" 1 1.0625 1.1875 -1.1875 448 464 465 0.3 '2**-9' '2**-10' '-2**-10' \
    '3*2**-11' -0.0 inf nan
qin "$T/q1.f32" quantize --format fp8_e4m3
expect_success "quantize fp8_e4m3 rne runs"
check "quantize fp8_e4m3 rne: ties to even, overflow to NaN, signed zeros" \
    py expect f32 "$T/out" 1 1 1.25 -1.25 448 448 nan 0.3125 '2**-9' 0.0 -0.0 '2**-9' -0.0 nan nan
qin "$T/q1.f32" quantize --format fp8_e4m3 --rounding rtz
check "quantize fp8_e4m3 rtz: truncates, saturates at 448, inf -> 448" \
    py expect f32 "$T/out" 1 1 1.125 -1.125 448 448 448 0.28125 '2**-9' 0.0 -0.0 '2**-10*0' -0.0 448 nan
# IEEE-style e4m3 has inf: max 240; 248 is the tie 240|256 -> even 256 -> inf.
py pack f32 "$T/q2.f32" 240 247 248 -250 1e-9
qin "$T/q2.f32" quantize --format e4m3
check "quantize e4m3 (IEEE-style): max 240, tie above it overflows to inf" \
    py expect f32 "$T/out" 240 240 inf -inf 0.0
# --stats: 1000 overflows, 1e-6 underflows (below 2^-10), 1 is exact.
py pack f32 "$T/q3.f32" 1000 1e-6 1
qin "$T/q3.f32" quantize --format fp8_e4m3 --stats
check "quantize --stats: one JSON line with the counters" py jsonline "$T/err" \
    "d['overflow'] == 1 and d['underflow'] == 1 and d['ops'] == 3 and d['format'] == 'fp8_e4m3' and d['rounding'] == 'rne'"
check "quantize --stats: values still on stdout" py expect f32 "$T/out" nan 0.0 1
# Byte counts that are not whole elements, from a file and from a pipe.
printf 'abcde' >"$T/five"
qin "$T/five" quantize --format e4m3
expect_error 1 "quantize: 5 bytes of f32 (file)" "5 bytes" "4-byte"
qpipe "$T/five" quantize --format e4m3
expect_error 1 "quantize: 5 bytes of f32 (pipe)" "5 bytes" "4-byte"
printf '0123456789ab' >"$T/twelve"
qin "$T/twelve" quantize --format e4m3 --in f64
expect_error 1 "quantize: 12 bytes of f64" "12 bytes" "8-byte"
: >"$T/empty"
qin "$T/empty" quantize --format e4m3
if [[ $RC -eq 0 && ! -s $T/out && ! -s $T/err ]]; then ok "quantize: empty input, empty output"; else not_ok "quantize: empty input, empty output"; fi

# ---- quantize: f64 paths --------------------------------------------------------
# 1+2^-11+2^-40 is just above the fp16 tie 1|1+2^-10: correct rounding gives
# 1+2^-10; rounding through fp32 first (1+2^-11, a tie -> 1) would give 1.
# 65520 is the tie 65504|65536 -> even 65536 -> inf.
py pack f64 "$T/d1.f64" '1+2**-11+2**-40' '1+2**-11' 65520 '-2**-25' 0.1
qin "$T/d1.f64" quantize --format fp16 --in f64
expect_success "quantize --in f64 runs"
check "quantize f64 -> f64 fp16: rounds once from the exact f64 value" \
    py expect f64 "$T/out" '1+2**-10' 1 inf -0.0 0.0999755859375
qin "$T/d1.f64" quantize --format fp16 --in f64 --out f32
check "quantize f64 -> f32 fp16: same values as f32" \
    py expect f32 "$T/out" '1+2**-10' 1 inf -0.0 0.0999755859375
py pack f64 "$T/d2.f64" 0.1 1e-310 -0.0 '2**1000'
qin "$T/d2.f64" quantize --format fp64 --in f64
check "quantize fp64 on f64 is the identity (subnormals included)" \
    py expect f64 "$T/out" 0.1 1e-310 -0.0 '2**1000'
qin "$T/d2.f64" quantize --format fp64 --in f64 --out f32
expect_error 2 "quantize: fp64 values do not fit --out f32" "f32"
# mxfp8_e5m2 block [2^140, 1, 3]: scale 2^(140-15), so 2^140 stays and the
# small values underflow; 2^140 is no fp32 value, so --out f32 is refused.
py pack f64 "$T/d4.f64" '2**140' 1 3
qin "$T/d4.f64" quantize --format mxfp8_e5m2 --in f64
check "quantize mxfp8_e5m2 f64: block scale 2^125" py expect f64 "$T/out" '2**140' 0 0
qin "$T/d4.f64" quantize --format mxfp8_e5m2 --in f64 --out f32
expect_error 1 "quantize: a block value beyond fp32 with --out f32" "not an fp32 value" "--out f64"
# 0.3f = 0.300000011920929: e5m2 grid 1/16 in [0.25,0.5) -> 5/16.
py pack f32 "$T/d3.f32" 0.3 -3 100000
qin "$T/d3.f32" quantize --format e5m2 --out f64
check "quantize f32 -> f64 e5m2" py expect f64 "$T/out" 0.3125 -3 inf

# ---- quantize: block formats ----------------------------------------------------
# mxfp4_e2m1 (elements 0,.5,1,1.5,2,3,4,6; elem_emax 2), floor rule:
# row [1,2,3,5]: amax 5 -> scale 2^0; 5 is the tie 4|6 -> even 4.
# row [.1,100,-7,40]: amax 100 -> scale 2^(6-2)=16; .1/16 -> 0, 6.25 -> 6,
# -7/16=-.4375 -> -.5, 2.5 is the tie 2|3 -> 2: [0, 96, -8, 32].
# As one row of 8 the scale is 16 throughout: 1/16, 2/16, 3/16 -> 0, 5/16 -> .5.
py pack f32 "$T/b1.f32" 1 2 3 5 0.1 100 -7 40
qin "$T/b1.f32" quantize --format mxfp4_e2m1 --cols 4
expect_success "quantize mxfp4_e2m1 --cols 4 runs"
check "quantize mxfp4_e2m1 --cols 4: one block per row" py expect f32 "$T/out" 1 2 3 4 0 96 -8 32
qin "$T/b1.f32" quantize --format mxfp4_e2m1
check "quantize mxfp4_e2m1 without --cols: one block over all 8" \
    py expect f32 "$T/out" 0 0 0 8 0 96 -8 32
qpipe "$T/b1.f32" quantize --format mxfp4_e2m1@4
check "quantize mxfp4_e2m1@4: blocks of 4 along the row" py expect f32 "$T/out" 1 2 3 4 0 96 -8 32
qin "$T/b1.f32" quantize --format mxfp4_e2m1 --cols 3
expect_error 1 "quantize: 8 values are not rows of --cols 3" "8 values" "3"
# Scale rules on [1,2,3,7]: floor keeps scale 1 and 7 saturates to 6; ceil
# and round move to scale 2: 0.5,1,1.5,3.5 -> 3.5 is the tie 3|4 -> 4 -> x2.
py pack f32 "$T/b2.f32" 1 2 3 7
qin "$T/b2.f32" quantize --format mxfp4_e2m1 --scale-rule floor
check "quantize --scale-rule floor clips the block maximum" py expect f32 "$T/out" 1 2 3 6
qin "$T/b2.f32" quantize --format mxfp4_e2m1 --scale-rule ceil
check "quantize --scale-rule ceil never clips" py expect f32 "$T/out" 1 2 3 8
qin "$T/b2.f32" quantize --format mxfp4_e2m1 --scale-rule round
check "quantize --scale-rule round" py expect f32 "$T/out" 1 2 3 8

# ---- quantize: stochastic rounding ------------------------------------------------
py rand f32 "$T/r1.f32" 1000 1 4
qin "$T/r1.f32" quantize --format e4m3 --rounding sr --seed 42
cp "$T/out" "$T/sr42a"
qpipe "$T/r1.f32" quantize --format e4m3 --rounding sr --seed 42
cp "$T/out" "$T/sr42b"
check "quantize sr: the same seed gives the same bits (file and pipe)" cmp -s "$T/sr42a" "$T/sr42b"
qin "$T/r1.f32" quantize --format e4m3 --rounding sr --seed 0x2b
check "quantize sr: seed 0x2b is seed 43, which differs from 42" \
    bash -c "! cmp -s '$T/out' '$T/sr42a'"
qin "$T/r1.f32" quantize --format e4m3 --rounding rdn
cp "$T/out" "$T/rdn"
qin "$T/r1.f32" quantize --format e4m3 --rounding rup
check "quantize sr: every value is one of its two neighbours" py between f32 "$T/sr42a" "$T/rdn" "$T/out"
# 2^17 copies of one value: the stochastic bits come from each value's
# position, so streamed chunks must not restart the index.
py const f32 "$T/c1.f32" 131072 '1+2**-5'
qin "$T/c1.f32" quantize --format e4m3 --rounding sr:8 --seed 7
cp "$T/out" "$T/c1_file"
check "quantize sr over 2^17 values: no repetition between chunks" py halves_differ f32 "$T/out"
qpipe "$T/c1.f32" quantize --format e4m3 --rounding sr:8 --seed 7
check "quantize sr over 2^17 values: streamed file equals whole pipe" cmp -s "$T/out" "$T/c1_file"

# ---- gemm -----------------------------------------------------------------------------
# [[1,2,3],[4,5,6]] x [[7,8],[9,10],[11,12]] = [[58,64],[139,154]].
py pack f32 "$T/a23.f32" 1 2 3 4 5 6
py pack f32 "$T/b32.f32" 7 8 9 10 11 12
q gemm -M 2 -N 2 -K 3 --a "$T/a23.f32" --b "$T/b32.f32"
expect_success "gemm 2x3x2 runs"
check "gemm 2x3x2 with fp32 accumulation" py expect f32 "$T/out" 58 64 139 154
# fp32 accumulator: 2^24 + 1 is the tie 2^24|2^24+2 -> even 2^24, twice
# (two swamped adds); 1 + 1 + 2^24 = 2^24+2 is exact.
py pack f32 "$T/a13.f32" 1 1 1
py pack f32 "$T/b32s.f32" '2**24' 1 1 1 1 '2**24'
q gemm -M 1 -N 2 -K 3 --a "$T/a13.f32" --b "$T/b32s.f32" --stats
check "gemm fp32: order decides, 2^24+1+1 swamps" py expect f32 "$T/out" '2**24' '2**24+2'
check "gemm --stats: macs 6, swamping 2, canonical mac" py jsonline "$T/err" \
    "d['macs'] == 6 and d['swamping'] == 2 and d['overflow'] == 0 and d['underflow'] == 0 and isinstance(d['mac'], str) and 'cfg=' in d['mac']"
# e6m5 accumulator (5 mantissa bits: spacing 1 in [32,64), 2 in [64,128)).
# Row 0, 64+1+1+1: each 65 is the tie 64|66 -> even 64: three swamped adds.
# Row 1, 1+1+1+64 = 67, the tie 66|68 -> even 68. fp32 gives 67 for both.
py pack f32 "$T/a24.f32" 64 1 1 1 1 1 1 64
py pack f32 "$T/b41.f32" 1 1 1 1
q gemm -M 2 -N 1 -K 4 --a "$T/a24.f32" --b "$T/b41.f32"
check "gemm fp32 accumulator: 67, 67" py expect f32 "$T/out" 67 67
q gemm -M 2 -N 1 -K 4 --a "$T/a24.f32" --b "$T/b41.f32" --mac 'acc=e6m5' --stats
check "gemm e6m5 accumulator: 64 (swamped), 68 (tie to even)" py expect f32 "$T/out" 64 68
check "gemm e6m5 accumulator: 3 swamped adds of 8 MACs" py jsonline "$T/err" \
    "d['macs'] == 8 and d['swamping'] == 3"
cp "$T/out" "$T/e6m5"
q gemm -M 2 -N 1 -K 4 --a "$T/a24.f32" --b "$T/b41.f32" \
    --mac 'cfg=5,product=exact,acc=e6m5,acc_rounding=rne,chunk=32' --stats
check "gemm cfg=5 exact products, e6m5, chunk=32 > K: same as one chunk" cmp -s "$T/out" "$T/e6m5"
grep -o '"mac":"[^"]*"' "$T/err" | sed 's/^"mac":"//; s/"$//' >"$T/canon" || true
q gemm -M 2 -N 1 -K 4 --a "$T/a24.f32" --b "$T/b41.f32" --mac "$(cat "$T/canon")" --stats
check "gemm: the canonical mac string parses back to the same result" cmp -s "$T/out" "$T/e6m5"
check "gemm: the canonical mac string is a fixed point" \
    grep -qF "\"mac\":\"$(cat "$T/canon")\"" "$T/err"
# chunk=2: row 0 chunks 64+1 -> 64 (swamped) and 1+1 = 2, total 66;
# row 1 chunks 2 and 1+64 = 65 -> 64, total 66: one swamped add.
q gemm -M 2 -N 1 -K 4 --a "$T/a24.f32" --b "$T/b41.f32" --mac 'acc=e6m5,chunk=2' --stats
check "gemm e6m5 chunk=2: chunking rescues the small addends" py expect f32 "$T/out" 66 66
check "gemm e6m5 chunk=2: one swamped add" py jsonline "$T/err" "d['swamping'] == 1"
q gemm -M 2 -N 1 -K 4 --a "$T/a24.f32" --b "$T/b41.f32" --mac 'acc=e6m5,acc_rounding=rtz'
check "gemm e6m5 rtz: 64, 66" py expect f32 "$T/out" 64 66
# Input formats: 1.125 is exact in e4m3 and the tie 1|1.25 in e5m2 (-> 1).
py pack f32 "$T/a11.f32" 1.125
py pack f32 "$T/b11.f32" 1
q gemm -M 1 -N 1 -K 1 --a "$T/a11.f32" --b "$T/b11.f32" --mac 'a=e5m2'
check "gemm a=e5m2 rounds A's 1.125 to 1" py expect f32 "$T/out" 1
q gemm -M 1 -N 1 -K 1 --a "$T/a11.f32" --b "$T/b11.f32" --mac 'a=e5m2' --a-format fp8_e4m3
check "gemm --a-format overrides the mac's a" py expect f32 "$T/out" 1.125
q gemm -M 1 -N 1 -K 1 --a "$T/b11.f32" --b "$T/a11.f32" --b-format e5m2
check "gemm --b-format rounds B" py expect f32 "$T/out" 1
# A random 33x17x65 case: the threaded kernel equals the MPFR reference.
py rand f32 "$T/ra.f32" $((33 * 65)) 11 3
py rand f32 "$T/rb.f32" $((65 * 17)) 12 3
for mac in 'cfg=1' 'cfg=5,a=e5m2,b=e5m2,acc=e6m5,chunk=16' 'cfg=2,a=fp8_e4m3,b=e5m2,acc=bf16,acc_rounding=rtz,chunk=7' \
    'a=fp16,b=fp16,acc=q8.13' 'acc=e5m10,acc_rounding=sr,seed=3'; do
    q gemm -M 33 -N 17 -K 65 --a "$T/ra.f32" --b "$T/rb.f32" --mac "$mac" --threads 3 --stats
    cp "$T/out" "$T/g_cpu"
    cp "$T/err" "$T/g_cpu_err"
    q gemm -M 33 -N 17 -K 65 --a "$T/ra.f32" --b "$T/rb.f32" --mac "$mac" --ref
    check "gemm 33x17x65 $mac: --ref equals the CPU kernel bit for bit" cmp -s "$T/out" "$T/g_cpu"
    q gemm -M 33 -N 17 -K 65 --a "$T/ra.f32" --b "$T/rb.f32" --mac "$mac" --threads 1
    check "gemm 33x17x65 $mac: 1 thread equals 3" cmp -s "$T/out" "$T/g_cpu"
done
check "gemm 33x17x65 --stats: macs = m*n*k" py jsonline "$T/g_cpu_err" "d['macs'] == 33 * 17 * 65"
# File errors: each names the file, its size and the size expected.
q gemm -M 2 -N 2 -K 2 --a "$T/a23.f32" --b "$T/b32.f32"
expect_error 1 "gemm: A of the wrong size" "a23.f32" "24 bytes" "expected 16"
q gemm -M 2 -N 2 -K 3 --a "$T/a23.f32" --b "$T/a13.f32"
expect_error 1 "gemm: B of the wrong size" "a13.f32" "12 bytes" "expected 24"
q gemm -M 2 -N 2 -K 3 --a "$T/a23.f32" --b "$T/missing.f32"
expect_error 1 "gemm: missing B file" "missing.f32"
q gemm -M 2 -N 2 -K 3 --a "$T" --b "$T/b32.f32"
expect_error 1 "gemm: a directory as A" "directory"

# ---- train and validate -------------------------------------------------------
# A small run on the synthetic dataset: metrics are JSON lines, checkpoints
# let a stopped run resume, and the resumed lines continue the straight run.
cat >"$T/spec.json" <<'JSON'
{"name": "cli-small", "model": {"arch": "mlp", "hidden": [32]},
 "dataset": {"name": "synthetic", "train_limit": 256, "val_limit": 64},
 "train": {"epochs": 2, "batch_size": 32, "log_interval": 4, "seed": 5},
 "arith": {"forward": {"weights": "e5m2", "activations": "e5m2",
                       "mac": {"cfg": 5, "acc": "e6m5", "chunk": 8}},
           "backward": {"errors": "e5m2", "mac": {"cfg": 5, "acc": "e6m5"}}}}
JSON
q validate "$T/spec.json"
if [[ $RC -eq 0 ]] && grep -q valid "$T/err"; then ok "validate: a good spec"; else not_ok "validate: a good spec"; fi
q validate --json "$T/spec.json"
check "validate --json prints the canonical spec" py jsonline "$T/out" "d['train']['optimizer']['momentum'] == 0.9 and d['arith']['forward']['mac']['acc'] == 'e6m5'"
sed 's/"e6m5", "chunk"/"e6m55", "chunk"/' "$T/spec.json" >"$T/bad1.json"
q validate "$T/bad1.json"
expect_error 2 "validate: a bad format names its JSON pointer" "/arith/forward/mac/acc" "e6m55"
sed 's/"hidden": \[32\]}/"hidden": [32], "color": 1}/' "$T/spec.json" >"$T/bad2.json"
q validate "$T/bad2.json"
expect_error 2 "validate: an unknown key" "/model/color"
printf '{"name": ' >"$T/bad3.json"
q validate "$T/bad3.json"
expect_error 2 "validate: a syntax error names the file" "bad3.json"
sed 's/"seed": 5}/"seed": 5}, "scaling": {"blocks": {"type": "delay_update"}}/' "$T/spec.json" >"$T/scaled.json"
cat >"$T/bad4.json" <<'EOF'
{"name": "x", "model": {"arch": "lenet5", "color": 3}, "dataset": {"name": "fashion-mnist"},
 "train": {"epochs": 0}, "arith": {"forward": {"weights": "e9m99"}}}
EOF
q validate "$T/bad4.json"
if [[ $RC -eq 2 && $(wc -l <"$T/err") -eq 3 ]] && grep -q '/model/color' "$T/err" && grep -q '/train/epochs' "$T/err" && grep -q '/arith/forward/weights' "$T/err"; then
    ok "validate: every error at once, one line each"
else
    not_ok "validate: every error at once, one line each"
fi
q validate "$T/scaled.json"
if [[ $RC -eq 0 ]] && grep -q valid "$T/err"; then ok "validate: a scale policy"; else not_ok "validate: a scale policy"; fi
q validate "$(dirname "$0")/../unit/specs/design.json"
if [[ $RC -eq 0 ]] && grep -q valid "$T/err"; then ok "validate: the example spec of docs/design.md (delay_update block scales)"; else not_ok "validate: the example spec of docs/design.md (delay_update block scales)"; fi
# Sweeps: expanded, every run's spec checked; the study presets all validate.
cat >"$T/sweep.json" <<'EOF'
{"name": "s", "base": {"name": "b", "model": {"arch": "lenet5"},
                       "dataset": {"name": "fashion-mnist"}},
 "parameters": {"arith.forward.mac.acc": {"family": "eXmY", "exp": [5, 4], "man": [3, 2]},
                "train.seed": {"values": [1, 2]}}}
EOF
q validate "$T/sweep.json"
if [[ $RC -eq 0 ]] && grep -q 'valid sweep of 8 runs' "$T/err"; then ok "validate: a sweep with a format family"; else not_ok "validate: a sweep with a format family"; fi
q validate --json "$T/sweep.json"
check "validate --json: a sweep's runs, ordered axes and specs" py jsonline "$T/out" "d['runs'] == 8 and d['axes']['arith.forward.mac.acc']['values'] == ['e4m2', 'e4m3', 'e5m2', 'e5m3'] and d['axes']['arith.forward.mac.acc']['bits'] == [7, 8, 8, 9] and len(d['specs']) == 8"
cat >"$T/sweep-bad.json" <<'EOF'
{"name": "s", "base": {"name": "b", "model": {"arch": "lenet5"},
                       "dataset": {"name": "fashion-mnist"},
                       "arith": {"layers": {"nope": {"forward": {"weights": "e5m2"}}}}},
 "parameters": {"train.seed": {"values": [1, 2]}}}
EOF
q validate "$T/sweep-bad.json"
expect_error 2 "validate: a sweep whose model lacks an overridden layer names the run" "run 0 (s seed=1)" "nope"
cat >"$T/sweep-bad2.json" <<'EOF'
{"name": "s", "base": {"name": "b", "model": {"arch": "lenet5"}, "dataset": {"name": "fashion-mnist"}},
 "parameters": {"arith.forward.mac.acc": {"family": "eXmY", "exp": [4, 12], "man": [2]}}}
EOF
q validate "$T/sweep-bad2.json"
expect_error 2 "validate: a bad family entry points into the sweep" "/parameters/arith.forward.mac.acc/exp/1"
for study in "$(dirname "$0")"/../../examples/studies/*.json; do
    q validate "$study"
    if [[ $RC -eq 0 ]] && grep -q 'valid sweep of' "$T/err"; then ok "validate: study preset $(basename "$study")"; else not_ok "validate: study preset $(basename "$study")"; fi
done

q train "$T/spec.json" --threads 2 --quiet
cp "$T/out" "$T/straight.jsonl"
check "train: two epoch lines" test "$(grep -c '"kind":"epoch"' "$T/straight.jsonl")" -eq 2
check "train: every line is JSON with per-group rates" py jsonlines "$T/straight.jsonl" "'fwd' in d and 'swamping_rate' in d['wgrad']"
q train "$T/spec.json" --quiet --threads 1 --checkpoint-dir "$T/ck" --max-steps 6
check "train --max-steps stops with status 0" test "$RC" -eq 0
check "train --max-steps leaves a checkpoint" test -s "$T/ck/checkpoint.qck"
cp "$T/out" "$T/part1.jsonl"
q train "$T/spec.json" --quiet --threads 1 --checkpoint-dir "$T/ck" --resume
cat "$T/part1.jsonl" "$T/out" >"$T/resumed.jsonl"
check "train --resume continues the straight run exactly" py samelines "$T/straight.jsonl" "$T/resumed.jsonl"
q train "$T/spec.json" --resume
expect_error 2 "train --resume without a directory" "--checkpoint-dir"
q train "$T/spec.json" --threads x
expect_error 2 "train: a bad --threads" "--threads"
q train "$T/missing.json"
expect_error 1 "train: a missing spec names the file" "missing.json"

# ---- numbers for people: text, .npy, narrow tables ------------------------------
# fp8_e4m3 by hand: 2.3 -> 2.25 (grid 1/4 in [2,4)); 448.5 -> 448 (below the
# 464 tie); -0.1 -> -13/128 (grid 1/128 in [1/16, 1/8)); 1e9 -> NaN (no inf).
printf '1.5\n2.3, 448.5\n-0.1 1e9\n' >"$T/v.txt"
qin "$T/v.txt" quantize --format fp8_e4m3 --text
expect_success "quantize --text runs"
check "quantize --text: decimals that read back exactly, one per line" \
    test "$(tr '\n' ' ' <"$T/out")" = "1.5 2.25 448 -0.1015625 nan "
qin "$T/v.txt" quantize --format fp8_e4m3 --text --out f32 --cols 5
check "quantize --text --cols: a row per line" test "$(cat "$T/out")" = "1.5 2.25 448 -0.1015625 nan"
qin "$T/v.txt" quantize --format fp8_e4m3
expect_error 2 "quantize: text where raw floats are expected is an error" "decimal text" "--text"
qpipe "$T/v.txt" quantize --format fp8_e4m3
expect_error 2 "quantize: text on a pipe too" "decimal text"
printf '1.5 abc\n' >"$T/bad.txt"
qin "$T/bad.txt" quantize --format e4m3 --text
expect_error 2 "quantize --text: a word that is no number is named" "value 2" "abc"
py npy f32 "$T/x.npy" 2x3 1.5 2.3 448.5 -0.1 1 3
qin "$T/x.npy" quantize --format fp8_e4m3
check "quantize: a .npy in, a .npy of the same shape out" py npyexpect f32 "$T/out" 2x3 1.5 2.25 448 -0.1015625 1 3
qin "$T/x.npy" quantize --format mxfp4_e2m1@2
# Row 2 is [-0.1, 1 | 3]: the block's scale 2^-2 (amax 1, e2m1 emax 2) puts
# -0.1 at -0.4 of a step, which rounds to -0.5 x 2^-2.
check "quantize: a .npy's last dimension is the row (blocks of 2 in rows of 3)" \
    py npyexpect f32 "$T/out" 2x3 1.5 2 384 -0.125 1 3
py npy f64 "$T/x8.npy" 4 1.5 2.3 448.5 -0.1
qpipe "$T/x8.npy" quantize --format e5m2 --out f32
check "quantize: a .npy of f8 from a pipe, --out f32" py npyexpect f32 "$T/out" 4 1.5 2.5 448 -0.09375
qin "$T/x.npy" quantize --format e5m2 --in f64
expect_error 2 "quantize: --in that contradicts the .npy" ".npy of f32" "--in"
py npy f32 "$T/a23.npy" 2x3 1 2 3 4 5 6
py pack f32 "$T/b32id.f32" 1 0 0 1 1 1
q gemm -M 2 -N 2 -K 3 --a "$T/a23.npy" --b "$T/b32id.f32"
check "gemm: A as .npy" py expect f32 "$T/out" 4 5 10 11
q gemm -M 3 -N 2 -K 2 --a "$T/a23.npy" --b "$T/b32id.f32"
expect_error 1 "gemm: a .npy of the wrong shape" "shape (3, 2)"
q gemm -M 1 -N 1 -K 2 --a "$T/v.txt" --b "$T/b32id.f32"
expect_error 2 "gemm: text as A is an error" "decimal text"
q formats
check "formats: the table fits 100 columns" py width "$T/out" 100
check "formats: fp16 max 65504, min normal 6.104e-05 (4 digits)" grep -Eq '^fp16 +float +16 +5 +10 +15 +15 +65504 +6.104e-05 ' "$T/out"
q formats --wide
check "formats --wide: every trait, exact" grep -Eq '^fp16 .* 65504 +6.103515625e-05 +5.9604644775390625e-08 .*IEEE 754 binary16' "$T/out"
q formats --wide --json
expect_error 2 "formats: --wide and --json" "pick one"
# Progress: from the very metric lines, on stderr; a terminal gets one line
# kept current and no metric lines (script(1) gives it a terminal).
q train "$T/spec.json" --threads 2
check "train: progress lines off a terminal carry step/total, epoch, loss, img/s" \
    grep -Eq '^step 8/16 \(50\.0%\), epoch 1/2, loss [0-9.]+, acc [0-9.]+%, [0-9]+ img/s' "$T/err"
check "train: the progress loss is the metric line's" py json_vs_progress "$T/out" "$T/err"
check "train: one line per epoch on stderr" test "$(grep -c '^epoch [12]/2 done' "$T/err")" -eq 2
if command -v script >/dev/null; then
    RC=0
    script -qec "'$QLAB' train '$T/spec.json' --threads 2" /dev/null >"$T/tty" 2>&1 || RC=$?
    check "train on a terminal: status 0" test "$RC" -eq 0
    check "train on a terminal: no metric lines" bash -c "! grep -q '\"kind\"' '$T/tty'"
    check "train on a terminal: the progress line is rewritten in place" grep -q $'\r\e\\[Kstep 12/16' "$T/tty"
    check "train on a terminal: it says where metric lines go" grep -q -- '--metrics FILE' "$T/tty"
else
    echo "ok - SKIP train on a terminal: script(1) is missing"
fi
# ---- cost: hardware cost of a MAC (docs/cost.md) ----
# The configurations of examples/ are in the committed table hw/cost-table.json:
# these need no Yosys run, and an empty cache directory of their own.
export QLAB_COST_CACHE=$T/cost-cache
q cost --mac 'cfg=5,a=e5m2,b=e5m2,acc=e6m5,acc_rounding=sr'
expect_error 2 "cost: stochastic rounding is refused naming acc_rounding" "acc_rounding" "stochastic"
q cost --mac 'a=mxfp8_e4m3,b=mxfp8_e4m3'
expect_error 2 "cost: a block format is refused naming a" "a: block format"
q cost --mac 'cfg=5,a=e5m2,b=e5m2,acc=native'
expect_error 2 "cost: native accumulation has no hardware" "acc: native"
q cost --mac 'cfg=9'
expect_error 2 "cost: a bad MAC string names the key" "cfg"
q cost
expect_error 2 "cost: --mac or --spec is required" "--mac" "--spec"
q cost --mac 'cfg=5,a=e5m2,b=e5m2' --array 4by4
expect_error 2 "cost: a bad --array" "--array"
q cost --mac 'cfg=5,a=e5m2,b=e5m2' --units multiplier,cache
expect_error 2 "cost: a bad --units" "--units"
q cost --mac 'cfg=5,a=e5m2,b=e5m2,acc=e6m5,acc_rounding=rne' --json
expect_success "cost --json of the demo's MAC"
check "cost --json: figures of every unit from the table, with the Yosys version" py json "$T/out" \
    "d['source'] == 'cache' and d['tool'].startswith('Yosys ') and d['mac']['lut'] > d['multiplier']['lut'] > 0 and d['accumulator']['gates'] > 0 and d['converter'] is None and d['array']['lut'] == 64 * d['mac']['lut'] and d['calibrated']['mac']['lut'] > 0"
cp "$T/out" "$T/cost1"
q cost --mac 'cfg=5,a=e5m2,b=e5m2,acc=e6m5,acc_rounding=rne' --json
check "cost --json twice prints the same" cmp -s "$T/out" "$T/cost1"
q cost --mac 'cfg=5,a=e5m2,b=e5m2,acc=e6m5,chunk=32' --array 8x2 --json
check "cost --array 8x2 scales the MAC" py json "$T/out" "d['array']['rows'] == 8 and d['array']['lut'] == 16 * d['mac']['lut']"
q cost --mac 'cfg=5,a=e5m2,b=e5m2,acc=q8.13'
expect_success "cost table of a float-to-fixed MAC"
check "cost table names the converter and the flow" grep -q "converter .*[0-9]" "$T/out"
q cost --spec examples/demo-sweep.json --json
check "cost --spec of the demo sweep prices its six runs" py json "$T/out" \
    "len(d['runs']) == 6 and all(r['cost']['status'] == 'ok' and r['cost']['lut'] > 0 for r in d['runs'])"
check "cost --spec: narrower accumulators cost fewer gates" py json "$T/out" \
    "(lambda c: c['fp32'] > c['e6m5'] > c['e5m2'])({r['cost']['groups']['forward']['mac'].split('acc=')[1].split(',')[0]: r['cost']['groups']['forward']['gates'] for r in d['runs']})"
unset QLAB_COST_CACHE

echo "$PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
