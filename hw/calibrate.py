#!/usr/bin/env python3
"""Synthesizes the reference MAC configurations and the configurations of
examples/ and the demo sweep with `qlab cost`, fits the calibration of
docs/cost.md, and writes

  hw/calibration.json  per-class LUT scales with their residual error, the
                       gate-count scale, and the array model (overhead + scale)
  hw/cost-table.json   the figures of every configuration above, so that a
                       fresh checkout (make demo) shows costs without Yosys runs
  docs/cost.md         the tables between the "calibration" markers

Usage: hw/calibrate.py [--qlab build/bin/qlab] [--cache build/cost-cache]
The cache keeps figures between runs; only what the RTL, the flow scripts or
the Yosys version changed is synthesized again.

The published figures below are those of docs/cost.md: an FPGA study of
custom-precision MAC units for training (Xilinx ZCU104, Vitis HLS 2020.2)
and the gate counts of a low bit-width accumulator study.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))

# (label, MAC, published LUTs, published DSPs). The multiplier rows are
# I/O-precision multipliers (CFG-1, product rounded to the input format);
# fixed-point rows convert the product to the same Q format.
MULTIPLIERS = [
    ("FP32, no DSP", "cfg=1,a=fp32,b=fp32", 987, 0, "lut_nodsp"),
    ("FP32", "cfg=1,a=fp32,b=fp32", 374, 2, "lut"),
    ("FP16", "cfg=1,a=fp16,b=fp16", 195, 1, "lut"),
    ("BF16", "cfg=1,a=bf16,b=bf16", 180, 1, "lut"),
    ("E6M3 (CFG-1)", "cfg=1,a=e6m3,b=e6m3", 115, 0, "lut"),
    ("E5M3 (CFG-1)", "cfg=1,a=e5m3,b=e5m3", 86, 0, "lut"),
    ("E4M3 (CFG-1)", "cfg=1,a=e4m3,b=e4m3", 78, 0, "lut"),
    ("Q16.16", "a=q16.16,b=q16.16,acc=q16.16", 279, 4, "lut"),
    ("Q8.8", "a=q8.8,b=q8.8,acc=q8.8", 106, 1, "lut"),
    ("Q7.7", "a=q7.7,b=q7.7,acc=q7.7", 93, 1, "lut"),
    ("Q6.6", "a=q6.6,b=q6.6,acc=q6.6", 81, 1, "lut"),
]
# Accumulators fed by a CFG-5 multiplier: the accumulator format is the
# exact product format of the inputs (e5m2 -> e6m5).
FLOAT_ACCS = [
    ("FP32 (FP32 products)", "cfg=1,a=fp32,b=fp32,acc=fp32", 189, 2),
    ("E7M7 (E6M3 inputs)", "cfg=5,a=e6m3,b=e6m3,acc=e7m7", 255, 0),
    ("E7M5 (E6M2 inputs)", "cfg=5,a=e6m2,b=e6m2,acc=e7m5", 185, 0),
    ("E7M3 (E6M1 inputs)", "cfg=5,a=e6m1,b=e6m1,acc=e7m3", 187, 0),
    ("E6M7 (E5M3 inputs)", "cfg=5,a=e5m3,b=e5m3,acc=e6m7", 242, 0),
    ("E6M5 (E5M2 inputs)", "cfg=5,a=e5m2,b=e5m2,acc=e6m5", 187, 0),
    ("E6M3 (E5M1 inputs)", "cfg=5,a=e5m1,b=e5m1,acc=e6m3", 165, 0),
]
FIXED_ACCS = [
    ("Q16.16", "a=q16.16,b=q16.16,acc=q16.16", 89, 0),
    ("Q8.13", "cfg=5,a=e5m2,b=e5m2,acc=q8.13", 55, 0),
    ("Q8.8", "a=q8.8,b=q8.8,acc=q8.8", 43, 0),
    ("Q7.7", "a=q7.7,b=q7.7,acc=q7.7", 35, 0),
    ("Q6.6", "a=q6.6,b=q6.6,acc=q6.6", 32, 0),
]
CONVERTERS = [("E7M7 product -> Q8.13 (E6M3 inputs)", "cfg=5,a=e6m3,b=e6m3,acc=q8.13", 116, 0)]
# Gates of one FMA with M4E3 (e3m4) inputs, truncation (rtz), subnormals
# ignored (CFG-6 reads them as zero).
GATES = [
    ("fp32 accumulator", "cfg=6,a=e3m4,b=e3m4,acc=fp32,acc_rounding=rtz", 2208),
    ("fp16 accumulator", "cfg=6,a=e3m4,b=e3m4,acc=fp16,acc_rounding=rtz", 1082),
    ("M7E4 accumulator", "cfg=6,a=e3m4,b=e3m4,acc=e4m7,acc_rounding=rtz", 808),
]
# The whole 16 x 4 system: the array plus the rest of the accelerator.
SYSTEMS = [
    ("FP32", "cfg=1,a=fp32,b=fp32,acc=fp32", 58420, 320),
    ("E5M2 (CFG-5) + E6M5", "cfg=5,a=e5m2,b=e5m2,acc=e6m5", 42640, 0),
    ("E5M2 (CFG-5) + Q8.13", "cfg=5,a=e5m2,b=e5m2,acc=q8.13", 43471, 0),
    ("E5M2 (CFG-5) + Q11.13", "cfg=5,a=e5m2,b=e5m2,acc=q11.13", 44876, 0),
]
# Configurations the dashboard's tests seed (tests/web/lib/seed.mjs), so
# that their Pareto view has figures without Yosys runs.
EXTRA = ["cfg=5,a=e5m2,b=e5m2,acc=fp32", "cfg=5,a=e5m2,b=e5m2,acc=e4m7:bias=10"]
# The units of the server test's MAC (tests/server/test_cost.c, TINY)
# except the MAC itself, so that its background synthesis is two small
# Yosys runs: the MAC's Xilinx and gate flows.
TEST_UNITS = [("a=q2.2,b=q2.2,acc=q6.2", "multiplier"), ("a=q2.2,b=q2.2,acc=q6.2", "accumulator")]
SPECS = ["examples/lenet.json", "examples/mlp.json", "examples/lenet-e5m2-cfg5-e6m5.json",
         "examples/mlp-q8.13.json", "examples/demo-sweep.json"]

BEGIN, END = "<!-- calibration:begin -->", "<!-- calibration:end -->"


def qlab(args, opts, export):
    cmd = [opts.qlab, "cost", "--json", "--export", export] + args
    env = dict(os.environ, QLAB_COST_CACHE=opts.cache)
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if r.returncode:
        sys.exit("calibrate: %s: %s" % (" ".join(cmd), r.stderr.strip()))
    return json.loads(r.stdout)


def fit_scale(raw, pub):
    """The scale s minimizing the relative errors (s*raw - pub)/pub."""
    x = [r / p for r, p in zip(raw, pub)]
    s = sum(x) / sum(v * v for v in x)
    res = [(s * r - p) / p for r, p in zip(raw, pub)]
    return s, 1.0, res


def fit_power(raw, pub):
    """pub = a * raw**b, least squares on the logarithms (relative errors);
    a plain scale (b = 1) below three points."""
    if len(raw) < 3:
        return fit_scale(raw, pub)
    xs, ys = [math.log(r) for r in raw], [math.log(p) for p in pub]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    a = math.exp(my - b * mx)
    res = [(a * r ** b - p) / p for r, p in zip(raw, pub)]
    return a, b, res


def rms(v):
    return math.sqrt(sum(x * x for x in v) / len(v))


def pct(x):
    return "%+.0f%%" % (100 * x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qlab", default=os.path.join(ROOT, "build/bin/qlab"))
    ap.add_argument("--cache", default=os.path.join(ROOT, "build/cost-cache"))
    opts = ap.parse_args()
    fd, export = tempfile.mkstemp(prefix="cost-table-", suffix=".json")
    os.close(fd)
    os.unlink(export)
    cost = {}

    def get(mac, units=None, synth_array=False, gates=True):
        args = ["--mac", mac] + (["--units", units] if units else []) + \
            (["--synth-array"] if synth_array else []) + ([] if gates else ["--no-gates"])
        key = " ".join(args)
        if key not in cost:
            print("calibrate: %s" % key, file=sys.stderr, flush=True)
            cost[key] = qlab(args, opts, export)
        return cost[key]

    rows = {}
    for name, table in (("multiplier", MULTIPLIERS), ("float_accumulator", FLOAT_ACCS),
                        ("fixed_accumulator", FIXED_ACCS), ("converter", CONVERTERS)):
        unit = {"multiplier": "multiplier", "converter": "converter"}.get(name, "accumulator")
        rows[name] = []
        for row in table:
            label, mac, lut, dsp = row[:4]
            field = row[4] if len(row) > 4 else "lut"
            u = get(mac, unit, gates=False)[unit]
            rows[name].append({"label": label, "mac": mac, "pub_lut": lut, "pub_dsp": dsp,
                               "lut": u[field], "dsp": u["dsp"] if field == "lut" else 0,
                               "all_lut": dsp == 0})
    gates = [{"label": l, "mac": m, "pub": g, "gates": get(m, "mac")["mac"]["gates"]}
             for l, m, g in GATES]
    systems = [{"label": l, "mac": m, "pub_lut": p, "pub_dsp": d, "lut": get(m)["array"]["lut"],
                "dsp": get(m)["array"]["dsp"], "mac_lut": get(m)["mac"]["lut"],
                "synth_lut": get(m, "array", True, gates=False)["array"]["lut"]}
               for l, m, p, d in SYSTEMS]
    for mac in EXTRA:
        get(mac)
    for mac, unit in TEST_UNITS:
        get(mac, unit)
    for spec in SPECS:
        print("calibrate: %s" % spec, file=sys.stderr, flush=True)
        qlab(["--spec", spec], opts, export)

    calib = {"rtl": None, "tool": None, "lut": {}, "gates": {}, "array": {}}
    any_cost = next(iter(cost.values()))
    calib["rtl"], calib["tool"] = any_cost["rtl"], any_cost["tool"]
    for name, rs in rows.items():
        fit = [r for r in rs if r["all_lut"]]  # LUT-only rows: DSP use differs by tool
        a, b, res = fit_power([r["lut"] for r in fit], [r["pub_lut"] for r in fit])
        a, b = round(a, 4), round(b, 4)
        _, _, lin = fit_scale([r["lut"] for r in fit], [r["pub_lut"] for r in fit])
        for r in rs:
            r["cal"] = a * r["lut"] ** b
            r["err"] = (r["cal"] - r["pub_lut"]) / r["pub_lut"]
        calib["lut"][name] = {"scale": a, "exponent": b, "error": round(rms(res), 4),
                              "max_error": round(max(abs(x) for x in res), 4), "points": len(fit),
                              "error_linear": round(rms(lin), 4)}
    # One scale for the gate counts, as the published comparison is made;
    # three points would make a two-parameter fit mostly an interpolation.
    a, b, res = fit_scale([g["gates"] for g in gates], [g["pub"] for g in gates])
    a, b = round(a, 4), round(b, 4)
    _, _, power = fit_power([g["gates"] for g in gates], [g["pub"] for g in gates])
    for g in gates:
        g["cal"] = a * g["gates"] ** b
        g["err"] = (g["cal"] - g["pub"]) / g["pub"]
    calib["gates"] = {"scale": a, "exponent": b, "error": round(rms(res), 4),
                      "max_error": round(max(abs(x) for x in res), 4), "points": len(gates),
                      "error_power": round(rms(power), 4)}
    # The system: published = overhead + scale * array, least squares.
    xs, ys = [r["lut"] for r in systems], [r["pub_lut"] for r in systems]
    n, mx, my = len(xs), sum(xs) / len(xs), sum(ys) / len(ys)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    a = my - b * mx
    res = [(a + b * x - y) / y for x, y in zip(xs, ys)]
    for r, e in zip(systems, res):
        r["cal"], r["err"] = a + b * r["lut"], e
    calib["array"] = {"overhead": round(a, 1), "scale": round(b, 4), "error": round(rms(res), 4),
                      "max_error": round(max(abs(x) for x in res), 4), "points": n}

    with open(os.path.join(ROOT, "hw/calibration.json"), "w") as f:
        json.dump(calib, f, indent=1, sort_keys=True)
        f.write("\n")
    with open(export) as f:
        table = json.load(f)
    os.unlink(export)
    with open(os.path.join(ROOT, "hw/cost-table.json"), "w") as f:
        json.dump(table, f, indent=1, sort_keys=True)
        f.write("\n")
    write_docs(rows, gates, systems, calib, len(table["entries"]))


def model(k):
    if k["exponent"] == 1.0:
        return "calibrated = %.3f x Yosys" % k["scale"]
    return "calibrated = %.3f x Yosys^%.3f" % (k["scale"], k["exponent"])


def write_docs(rows, gates, systems, calib, nentries):
    out = ["", "Generated by `hw/calibrate.py` (%s, RTL %s); %d cached figures in "
           "`hw/cost-table.json`." % (calib["tool"], calib["rtl"][:12], nentries), ""]
    titles = {"multiplier": "Multipliers", "float_accumulator": "Floating-point accumulators",
              "fixed_accumulator": "Fixed-point accumulators", "converter": "Float-to-fixed converter"}
    for name, rs in rows.items():
        k = calib["lut"][name]
        out += ["**%s**: %s over %d LUT-only rows, residual %.0f%% RMS (%.0f%% max; a plain "
                "scale would leave %.0f%%)."
                % (titles[name], model(k), k["points"], 100 * k["error"], 100 * k["max_error"],
                   100 * k["error_linear"]),
                "", "| unit | MAC | published LUT / DSP | Yosys LUT / DSP | calibrated LUT | error |",
                "| --- | --- | --- | --- | --- | --- |"]
        for r in rs:
            note = "" if r["all_lut"] else " (not fitted: DSP)"
            out.append("| %s | `%s` | %d / %d | %d / %d | %.0f | %s%s |" % (
                r["label"], r["mac"], r["pub_lut"], r["pub_dsp"], r["lut"], r["dsp"], r["cal"],
                pct(r["err"]), note))
        out.append("")
    k = calib["gates"]
    out += ["**Gates per FMA** (MAC unit, M4E3 = e3m4 inputs): %s, residual %.0f%% RMS "
            "(%.0f%% max; a power law would leave %.0f%% over these three points)."
            % (model(k), 100 * k["error"], 100 * k["max_error"], 100 * k["error_power"]), "",
            "| accumulator | MAC | published gates (ratio) | Yosys gates (ratio) | calibrated | error |",
            "| --- | --- | --- | --- | --- | --- |"]
    for g in gates:
        out.append("| %s | `%s` | %d (%.0f%%) | %d (%.0f%%) | %.0f | %s |" % (
            g["label"], g["mac"], g["pub"], 100 * g["pub"] / gates[0]["pub"], g["gates"],
            100 * g["gates"] / gates[0]["gates"], g["cal"], pct(g["err"])))
    k = calib["array"]
    out += ["", "**16 x 4 system**: published LUTs = %.0f + %.3f x Yosys array LUTs (64 x the "
            "MAC), residual %.0f%% RMS (%.0f%% max)." % (k["overhead"], k["scale"],
                                                        100 * k["error"], 100 * k["max_error"]),
            "", "| system | published LUT / DSP (ratio) | Yosys array LUT / DSP (ratio) | "
            "array top synthesized (ratio) | calibrated | error |",
            "| --- | --- | --- | --- | --- | --- |"]
    for r in systems:
        out.append("| %s | %d / %d (%.3f) | %d / %d (%.3f) | %d (%.3f) | %.0f | %s |" % (
            r["label"], r["pub_lut"], r["pub_dsp"], r["pub_lut"] / systems[0]["pub_lut"], r["lut"],
            r["dsp"], r["lut"] / systems[0]["lut"], r["synth_lut"],
            r["synth_lut"] / systems[0]["synth_lut"], r["cal"], pct(r["err"])))
    out.append("")
    path = os.path.join(ROOT, "docs/cost.md")
    with open(path) as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        sys.exit("calibrate: %s has no %s ... %s markers" % (path, BEGIN, END))
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    with open(path, "w") as f:
        f.write(head + BEGIN + "\n".join(out) + END + tail)


if __name__ == "__main__":
    main()
