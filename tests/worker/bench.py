#!/usr/bin/env python3
"""Worker benchmarks, one JSON line per figure in the shape `make bench` prints:
  worker_dispatch_latency  submit -> run start (the server's `started` minus
                           `created`) with one idle worker long-polling;
                           target p50 <= 50 ms on loopback;
  worker_overhead          training throughput of a run under the worker vs
                           `qlab train` of the same spec on the same thread
                           count; target >= 0.97.
Real qlab-server, qlab-worker and qlab processes on loopback in a temporary
directory. Usage: BIN=build/bin tests/worker/bench.py [--runs N] [--epochs E]"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_worker as tw  # noqa: E402  (the same process helpers as the tests)


def load1():
    return os.getloadavg()[0]


def emit(bench, value, unit, baseline, baseline_value, ratio, target, at_least, note, extra=None):
    fig = {"bench": bench, "value": round(value, 4), "unit": unit, "baseline": baseline,
           "baseline_value": round(baseline_value, 4), "ratio": round(ratio, 4),
           "target": "%s%g" % (">=" if at_least else "<=", target),
           "met": ratio >= target if at_least else ratio <= target, "threads": 1, "note": note}
    fig.update(extra or {})
    fig["load1"] = round(load1(), 2)
    print(json.dumps(fig), flush=True)


def dispatch(d, runs):
    srv = tw.Server(d, ttl=10.0)
    tw.worker(srv.url, d, "w", ["--log-level", "info"])
    s = tw.spec("dispatch", epochs=1, train_limit=64)
    lat = []
    for i in range(runs + 1):
        time.sleep(0.2)  # let the worker go back to its long-poll
        rid = srv.submit(s)
        tw.wait_for(lambda: srv.run(rid)["state"] == "succeeded", 30, "run %d" % rid, step=0.01)
        r = srv.run(rid)
        if i > 0:  # the first one pays for connection set-up
            lat.append((r["started"] - r["created"]) * 1000.0)
    p50 = statistics.median(lat)
    p90 = sorted(lat)[int(0.9 * (len(lat) - 1))]
    emit("worker_dispatch_latency", p50, "ms", "target", 50.0, p50 / 50.0, 1.0, False,
         "submit to run start, p50 of %d runs (ratio = p50 / 50 ms)" % len(lat),
         {"p90_ms": round(p90, 2), "max_ms": round(max(lat), 2)})


def mean_ips(series):
    v = series.get("images_per_s", {}).get("value") or []
    return statistics.mean(v[1:]) if len(v) > 1 else float("nan")


def overhead(d, epochs, rounds):
    """Alternates qlab train and the worker on the same spec and keeps the
    best of each, so load from other jobs on the machine hurts both alike."""
    s = tw.spec("overhead", epochs=epochs, train_limit=6000)
    s["model"]["hidden"] = [256, 128]
    s["train"]["log_interval"] = 20
    path = os.path.join(d, "spec.json")
    with open(path, "w") as f:
        json.dump(s, f)
    srv = tw.Server(d, ttl=10.0)
    tw.worker(srv.url, d, "w", ["--log-level", "info", "--checkpoint-every", "100",
                                "--flush-interval", "1"])
    cli, wrk, t_cli, t_wrk = [], [], [], []
    for _ in range(rounds):
        t0 = time.time()
        out = subprocess.run([os.path.join(tw.BIN, "qlab"), "train", path, "--quiet", "--threads",
                              "1"], check=True, capture_output=True, text=True).stdout
        t_cli.append(time.time() - t0)
        cli.append(statistics.mean([json.loads(l)["images_per_s"] for l in out.splitlines()
                                    if '"kind":"step"' in l][1:]))
        rid = srv.submit(s)
        tw.wait_for(lambda: srv.run(rid)["state"] == "succeeded", 600, "the run", step=0.1)
        r = srv.run(rid)
        t_wrk.append(r["finished"] - r["started"])
        wrk.append(mean_ips(srv.series(rid)))
    emit("worker_overhead", max(wrk), "images/s", "qlab train", max(cli), max(wrk) / max(cli), 0.97,
         True, "best mean images_per_s of %d alternating runs under the worker vs qlab train, "
         "same spec, 1 thread" % rounds,
         {"wall_ratio": round(min(t_cli) / min(t_wrk), 4), "wall_worker_s": round(min(t_wrk), 2),
          "wall_cli_s": round(min(t_cli), 2),
          "config": "mlp 256-128, synthetic 6000, %d epochs" % epochs})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    try:
        d = os.path.join(tw.TMP, "dispatch")
        os.makedirs(d)
        dispatch(d, a.runs)
        for p in tw.PROCS:
            p.kill9()
        tw.PROCS.clear()
        d = os.path.join(tw.TMP, "overhead")
        os.makedirs(d)
        overhead(d, a.epochs, a.rounds)
    finally:
        for p in tw.PROCS:
            p.kill9()
        shutil.rmtree(tw.TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
