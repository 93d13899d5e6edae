#!/usr/bin/env python3
"""Worker benchmarks, one JSON line per figure in the shape `make bench` prints:
  worker_dispatch_latency  submit -> run start (the server's `started` minus
                           `created`) with one idle worker long-polling;
                           target p50 <= 50 ms on loopback;
  worker_overhead          training throughput of a run under the worker vs
                           `qlab train` of the same spec on the same thread
                           count, per CPU second (and, as `wall_ratio`, per
                           wall-clock second, which other jobs skew);
                           target >= 0.97.
Real qlab-server, qlab-worker and qlab processes on loopback in a temporary
directory. Usage: BIN=build/bin tests/worker/bench.py [--runs N] [--epochs E]"""
import argparse, json, os, resource, shutil, statistics, subprocess, sys, tempfile, time

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


def proc_cpu(pid):
    """User + system CPU seconds of a process, every thread included."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def overhead(d, epochs, rounds):
    """Alternates qlab train and the worker on the same spec. Two ratios:
    CPU seconds (qlab train's over the whole worker process's, loop thread
    included), which other jobs on the machine do not skew, and wall-clock
    throughput (best mean images_per_s of each), which they do."""
    s = tw.spec("overhead", epochs=epochs, train_limit=6000)
    s["model"]["hidden"] = [256, 128]
    s["train"]["log_interval"] = 20
    path = os.path.join(d, "spec.json")
    with open(path, "w") as f:
        json.dump(s, f)
    srv = tw.Server(d, ttl=10.0)
    w = tw.worker(srv.url, d, "w", ["--log-level", "info", "--checkpoint-every", "100",
                                    "--flush-interval", "1"])
    cli, wrk, cpu_cli, cpu_wrk = [], [], [], []
    for _ in range(rounds):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run([os.path.join(tw.BIN, "qlab"), "train", path, "--quiet", "--threads",
                              "1"], check=True, capture_output=True, text=True).stdout
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_cli.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        cli.append(statistics.mean([json.loads(l)["images_per_s"] for l in out.splitlines()
                                    if '"kind":"step"' in l][1:]))
        c0 = proc_cpu(w.p.pid)
        rid = srv.submit(s)
        tw.wait_for(lambda: srv.run(rid)["state"] == "succeeded", 600, "the run", step=0.1)
        cpu_wrk.append(proc_cpu(w.p.pid) - c0)
        wrk.append(mean_ips(srv.series(rid)))
    ratio = min(cpu_cli) / min(cpu_wrk)
    emit("worker_overhead", min(cpu_wrk), "cpu s", "qlab train", min(cpu_cli), ratio, 0.97, True,
         "CPU seconds of one run under the worker (whole process) vs qlab train of the same spec, "
         "1 thread, best of %d alternating rounds (ratio = qlab / worker, i.e. relative "
         "throughput per CPU second)" % rounds,
         {"wall_ratio": round(max(wrk) / max(cli), 4), "wall_ips_worker": round(max(wrk), 1),
          "wall_ips_cli": round(max(cli), 1),
          "config": "mlp 256-128, synthetic 6000, %d epochs, checkpoint every 100 steps" % epochs})


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
