#!/usr/bin/env python3
"""Reproduction table: LeNet-5 on Fashion-MNIST under the arithmetic of the
studies qlab serves, every number from this project's own `qlab train` runs.

Writes one spec per configuration, runs it, and renders docs/reproduction.md
(or --out) with the final validation accuracy, the per-GEMM-group event rates
of the last epoch, skipped steps, the scale policy's clip rates and wall time.
A configuration this build refuses (qlab validate fails) is listed with
qlab's own message.

    scripts/repro.py [--qlab build/bin/qlab] [--epochs 3] [--train-limit 12000]
    scripts/repro.py --only 15 16 --merge    # rerun two rows, keep the others

--merge keeps every row of the existing table that was not rerun, and the
text after the table (the observations), as they are.

With a qlab-server (--server URL or $QLAB_SERVER, --token or $QLAB_TOKEN):

    scripts/repro.py --upload --tag repro ...   # train here, record each run there
    scripts/repro.py --from-server --tag repro  # the table from the recorded runs

--upload records every row's run (spec, metrics, checkpoint) on the server
with `qlab train --upload`, tagged; --from-server trains nothing and renders
the table from the runs carrying the tag (the latest succeeded run of each
row's spec name), through the Python client (clients/python).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients",
                                "python"))

E5M2_FWD = {"weights": "e5m2", "activations": "e5m2"}
DYNAMIC = {"loss": {"type": "dynamic", "init": 65536, "growth_interval": 500}}


def arith(fwd_fmt, err_fmt, mac):
    """Forward formats, backward errors, the same MAC for every GEMM group."""
    return {"forward": dict(fwd_fmt, mac=dict(mac)),
            "backward": {"errors": err_fmt, "mac": dict(mac)}}


def cfg_mac(cfg, acc="e6m5", **kw):
    return dict({"cfg": cfg, "acc": acc, "chunk": 32}, **kw)


# (label, arith, scaling or None)
ROWS = [("fp32 (every format and accumulator fp32, emulated exactly)", None, None)]
for c in range(1, 7):
    ROWS.append(("e5m2, CFG-%d, e6m5 accumulator, dynamic loss scaling" % c,
                 arith(E5M2_FWD, "e5m2", cfg_mac(c)), DYNAMIC))
ROWS += [
    ("e5m2, CFG-5, e6m5 accumulator, no loss scaling",
     arith(E5M2_FWD, "e5m2", cfg_mac(5)), None),
    ("e4m3 weights and activations (e5m2 errors), CFG-5, e6m5, dynamic loss scaling",
     arith({"weights": "e4m3", "activations": "e4m3"}, "e5m2", cfg_mac(5)), DYNAMIC),
    ("e5m2, CFG-5, q8.8 accumulator, dynamic loss scaling",
     arith(E5M2_FWD, "e5m2", cfg_mac(5, acc="q8.8")), DYNAMIC),
    ("e5m2, CFG-5, q8.13 accumulator, dynamic loss scaling",
     arith(E5M2_FWD, "e5m2", cfg_mac(5, acc="q8.13")), DYNAMIC),
    ("e3m4 (M4E3) inputs, CFG-5, 12-bit e4m7:bias=10 accumulator, rtz, chunk 16, dynamic",
     arith({"weights": "e3m4", "activations": "e3m4"}, "e3m4",
           cfg_mac(5, acc="e4m7:bias=10", acc_rounding="rtz", chunk=16)), DYNAMIC),
    ("MXFP8 (e4m3 weights/activations, e5m2 errors), fp32 accumulator, block max",
     arith({"weights": "mxfp8_e4m3", "activations": "mxfp8_e4m3"}, "mxfp8_e5m2",
           {"cfg": 1, "acc": "fp32"}), None),
    ("MXFP4 (e2m1 weights/activations, MXFP8 e5m2 errors), fp32 accumulator, block max",
     arith({"weights": "mxfp4_e2m1", "activations": "mxfp4_e2m1"}, "mxfp8_e5m2",
           {"cfg": 1, "acc": "fp32"}), None),
    ("MXFP8, fp32 accumulator, delay_update block scales",
     arith({"weights": "mxfp8_e4m3", "activations": "mxfp8_e4m3"}, "mxfp8_e5m2",
           {"cfg": 1, "acc": "fp32"}),
     {"blocks": {"type": "delay_update", "history": 16}}),
    ("MXFP4, fp32 accumulator, delay_update block scales",
     arith({"weights": "mxfp4_e2m1", "activations": "mxfp4_e2m1"}, "mxfp8_e5m2",
           {"cfg": 1, "acc": "fp32"}),
     {"blocks": {"type": "delay_update", "history": 16}}),
]


def spec_for(label, ar, scaling, a):
    s = {"name": label[:120],
         "model": {"arch": "lenet5"},
         "dataset": {"name": "fashion-mnist", "train_limit": a.train_limit,
                     "val_limit": a.val_limit},
         "train": {"epochs": a.epochs, "batch_size": 128, "seed": a.seed, "log_interval": 100,
                   "optimizer": {"type": "sgd", "lr": 0.05, "momentum": 0.9,
                                 "weight_decay": 5e-4},
                   "schedule": {"type": "cosine"}}}
    if ar:
        s["arith"] = ar
    if scaling:
        s["scaling"] = scaling
    return s


def rates(d):
    return " / ".join(num("%.2g", d[g]["swamping_rate"]) for g in ("fwd", "bwd", "wgrad"))


def clip_rates(d):
    """The scale policy's clipped fraction per group; '—' without a policy."""
    if "scaling" not in d["fwd"]:
        return "—"
    return " / ".join(num("%.2g", d[g]["scaling"]["clip_rate"]) for g in ("fwd", "bwd", "wgrad"))


HEADER = ("| # | configuration | val acc | val loss | swamping rate fwd / bwd / wgrad "
          "| overflow fwd | underflow fwd | skipped steps | scale clip rate fwd / bwd / wgrad "
          "| wall s |\n|---|---|---|---|---|---|---|---|---|---|\n")
NCOLS = 10


def existing_rows(path):
    """Row number -> table line of an earlier table (rows from before the clip
    column get '—' there), and the text after the table."""
    rows, tail = {}, ""
    try:
        lines = open(path).read().split("\n")
    except FileNotFoundError:
        return rows, tail
    in_table = False
    for n, line in enumerate(lines):
        if line.startswith("| # |"):
            in_table = True
            continue
        if in_table and line.startswith("|---"):
            continue
        if in_table and line.startswith("|"):
            cells = line.split("|")[1:-1]
            if len(cells) == NCOLS - 1:  # before the clip column: insert it
                cells.insert(NCOLS - 2, " — ")
            rows[int(cells[0])] = "|" + "|".join(cells) + "|"
            continue
        if in_table:
            tail = "\n".join(lines[n:])
            break
    return rows, tail


def validate_row(a, path):
    """None when qlab validate accepts the spec, else its message."""
    v = subprocess.run([a.qlab, "validate", path], capture_output=True, text=True)
    if v.returncode == 0:
        return None
    # "qlab: validate: PATH: /pointer: message" -> "/pointer: message"
    return v.stderr.strip().split(": ", 3)[-1]


def run_local(a, wanted, work):
    """Trains each row here (and records it on the server with --upload)."""
    results = []
    for i in wanted:
        label, ar, scaling = ROWS[i - 1]
        path = os.path.join(work, "row%02d.json" % i)
        with open(path, "w") as f:
            json.dump(spec_for(label, ar, scaling, a), f)
        why = validate_row(a, path)
        if why:
            results.append((i, label, None, why))
            print("row %d: refused: %s" % (i, why), file=sys.stderr)
            continue
        cmd = [a.qlab, "train", path, "--quiet", "--threads", str(a.threads)]
        if a.upload:
            cmd += ["--upload", "--tag", a.tag, "--checkpoint-dir",
                    os.path.join(work, "row%02d" % i)]
            if a.server:
                cmd += ["--server", a.server]
            if a.token:
                cmd += ["--token", a.token]
        t0 = time.time()
        r = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.time() - t0
        if r.returncode != 0:
            results.append((i, label, None, "run failed: " + r.stderr.strip()))
            continue
        lines = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
        epochs = [d for d in lines if d["kind"] == "epoch"]
        results.append((i, label, (epochs[-1], sum(d["skipped"] for d in epochs), wall), None))
        print("row %d: val_acc %.4f (%.0f s)%s" % (i, epochs[-1]["val_acc"], wall,
                                                   " " + r.stderr.strip() if a.upload else ""),
              file=sys.stderr)
    return results


def epoch_line(summary):
    """The last epoch line's fields, from a run's summary of last values
    (the worker's point names: docs/worker.md)."""
    d = {"val_acc": summary.get("val_acc"), "val_loss": summary.get("val_loss")}
    for g in ("fwd", "bwd", "wgrad"):
        d[g] = {k: summary.get("epoch_%s_%s" % (g, k))
                for k in ("swamping_rate", "overflow_rate", "underflow_rate")}
        clip = summary.get("epoch_%s_scaling_clip_rate" % g)
        if clip is not None:
            d[g]["scaling"] = {"clip_rate": clip}
    return d


def from_server(a, wanted, work):
    """Each row from the latest succeeded run of its spec name carrying the
    tag; returns the rows and the training settings the runs used."""
    import qlab
    c = qlab.Client(a.server, a.token)
    runs = c.runs(filter='tag = "%s" and state = succeeded' % a.tag, spec=True)
    by_name = {}
    for r in sorted(runs, key=lambda r: r["id"]):
        by_name[r["spec"]["name"]] = r
    results, settings = [], None
    for i in wanted:
        label, ar, scaling = ROWS[i - 1]
        path = os.path.join(work, "row%02d.json" % i)
        with open(path, "w") as f:
            json.dump(spec_for(label, ar, scaling, a), f)
        r = by_name.get(label[:120])
        if r is None:
            why = validate_row(a, path) or "no succeeded run tagged %s on %s" % (a.tag, c.server)
            results.append((i, label, None, why))
            continue
        spec = r["spec"]
        settings = settings or (spec["train"]["seed"], spec["train"]["epochs"],
                                spec["dataset"]["train_limit"], spec["dataset"]["val_limit"])
        hist = c.metrics(runs=[r["id"]], names=["epoch_skipped_steps"], frame=False)
        skipped = sum(p["value"] or 0 for p in hist)
        wall = (r["finished"] or 0) - (r["started"] or r["finished"] or 0)
        results.append((i, label, (epoch_line(r["summary"]), int(skipped), wall), None))
        print("row %d: run %d, val_acc %s" % (i, r["id"], r["summary"].get("val_acc")),
              file=sys.stderr)
    return results, settings


def num(fmt, v):
    return "—" if v is None else fmt % v


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--qlab", default="build/bin/qlab")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--train-limit", type=int, default=12000)
    p.add_argument("--val-limit", type=int, default=10000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--out", default="docs/reproduction.md")
    p.add_argument("--only", type=int, nargs="*", help="row numbers to run (1-based)")
    p.add_argument("--merge", action="store_true",
                   help="keep the rows of the existing --out table that are not run, and "
                        "its text after the table")
    p.add_argument("--server", default=os.environ.get("QLAB_SERVER"),
                   help="qlab-server URL (default $QLAB_SERVER)")
    p.add_argument("--token", default=os.environ.get("QLAB_TOKEN"))
    p.add_argument("--tag", default="repro", help="the tag of the recorded runs")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--upload", action="store_true",
                      help="record every run on the server (qlab train --upload)")
    mode.add_argument("--from-server", action="store_true",
                      help="train nothing: the table from the runs recorded on the server")
    a = p.parse_args()
    old_rows, tail = existing_rows(a.out) if a.merge else ({}, "")
    wanted = [i for i in range(1, len(ROWS) + 1) if not a.only or i in a.only]

    work = tempfile.mkdtemp(prefix="qlab-repro-")
    if a.from_server:
        results, settings = from_server(a, wanted, work)
        seed, epochs, train_limit, val_limit = settings or (a.seed, a.epochs, a.train_limit,
                                                           a.val_limit)
        source = ("Produced by `scripts/repro.py --from-server --tag %s` from the runs recorded "
                  "in qlab-server (each trained by this repository's `qlab train` and recorded "
                  "with `--upload`)" % a.tag)
    else:
        results = run_local(a, wanted, work)
        seed, epochs, train_limit, val_limit = a.seed, a.epochs, a.train_limit, a.val_limit
        source = ("Produced by `scripts/repro.py --epochs %d --train-limit %d` with this "
                  "repository's `qlab train`" % (epochs, train_limit))

    with open(a.out, "w") as f:
        f.write("# Reproduction table\n\n")
        f.write("LeNet-5 on Fashion-MNIST, seed %d, SGD (lr 0.05, momentum 0.9, weight decay "
                "5e-4, cosine), batch 128, %d epochs on the first %d training images, "
                "validated on %d test images. %s; every forward, grad-input and grad-weight "
                "product is emulated as configured.\n\n"
                % (seed, epochs, train_limit, val_limit, source))
        f.write(HEADER)
        fresh = {}
        for i, label, res, why in results:
            if res is None:
                fresh[i] = "| %d | %s | not run: %s | | | | | | | |" % (i, label, why)
                continue
            d, skipped, wall = res
            fresh[i] = "| %d | %s | %s | %s | %s | %s | %s | %d | %s | %.0f |" % (
                i, label, num("%.4f", d["val_acc"]), num("%.4f", d["val_loss"]), rates(d),
                num("%.2g", d["fwd"]["overflow_rate"]), num("%.2g", d["fwd"]["underflow_rate"]),
                skipped, clip_rates(d), wall)
        for i in range(1, len(ROWS) + 1):
            line = fresh.get(i, old_rows.get(i))
            if line:
                f.write(line + "\n")
        if tail:
            f.write(tail if tail.startswith("\n") else "\n" + tail)
    print("wrote %s" % a.out, file=sys.stderr)


if __name__ == "__main__":
    main()
