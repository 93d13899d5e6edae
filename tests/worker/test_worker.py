#!/usr/bin/env python3
"""End-to-end tests of qlab-worker against the real qlab-server (and, for bad
answers, tests/worker/fake_server.py), all on loopback in a temporary
directory. Each test starts its own processes and kills them afterwards.

Ground truth for every metric check is `qlab train` of the same spec on this
machine: a run is a pure function of its spec, so the server must end up with
exactly the points the local run printed (images_per_s aside), each step once.

Usage: BIN=build/bin tests/worker/test_worker.py [TEST...]
Prints "ok - NAME" / "not ok - NAME" lines and a summary; exit status 1 on
any failure. Standard library only."""
import json, os, re, shutil, signal, socket, subprocess, sys, tempfile, time, traceback
import urllib.error, urllib.request

BIN = os.path.abspath(os.environ.get("BIN", "build/bin"))
HERE = os.path.dirname(os.path.abspath(__file__))
ASAN = "asan" in BIN
# Sanitized binaries train about ten times slower: their runs get a third of
# the samples (20 steps an epoch instead of 63), and deadlines stretch.
SLOW = 3.0 if ASAN else 1.0
TRAIN_LIMIT = 640 if ASAN else 2000
TMP = tempfile.mkdtemp(prefix="qlab-worker-test.")
PROCS = []


def spec(name, epochs, seed=1, train_limit=TRAIN_LIMIT):
    return {"name": name, "model": {"arch": "mlp", "hidden": [32]},
            "dataset": {"name": "synthetic", "train_limit": train_limit, "val_limit": 200},
            "train": {"epochs": epochs, "batch_size": 32, "seed": seed, "log_interval": 5}}


# ---- processes ---------------------------------------------------------------

class Proc:
    def __init__(self, args, log, env=None):
        self.log = log
        self.f = open(log, "ab")
        e = dict(os.environ)
        e.update(env or {})
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.f, env=e)
        PROCS.append(self)

    def alive(self):
        return self.p.poll() is None

    def kill9(self):
        if self.alive():
            self.p.send_signal(signal.SIGKILL)
        self.p.wait()

    def term(self):
        if self.alive():
            self.p.send_signal(signal.SIGTERM)

    def wait(self, timeout):
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def text(self):
        self.f.flush()
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")


class Server:
    def __init__(self, d, ttl=2.0, port=0, fake=None):
        self.d = d
        os.makedirs(d, exist_ok=True)
        if fake:
            args = [sys.executable, os.path.join(HERE, "fake_server.py"), "--mode", fake]
        else:
            args = [os.path.join(BIN, "qlab-server"), "--listen", "127.0.0.1:%d" % port,
                    "--db", os.path.join(d, "qlab.db"), "--data", os.path.join(d, "data"),
                    "--web", os.path.join(HERE, "..", "..", "web"), "--lease-ttl", str(ttl),
                    "--heartbeat", str(ttl / 4)]
        self.proc = Proc(args, os.path.join(d, "server.log"))
        line = self.proc.p.stdout.readline().decode()
        if not line.startswith("listening on "):
            raise RuntimeError("server did not start: %r\n%s" % (line, self.proc.text()[-2000:]))
        self.url = line.split()[2].rstrip("/")
        self.port = int(self.url.rsplit(":", 1)[1])

    def call(self, method, path, body=None, timeout=10):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                raw = r.read()
                js = "json" in (r.headers.get("Content-Type") or "")
                return r.status, (json.loads(raw) if raw and js else raw)
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, (json.loads(raw) if raw else None)

    def api(self, method, path, body=None):
        st, js = self.call(method, "/api/v1" + path, body)
        if st >= 300:
            raise RuntimeError("%s %s: HTTP %d %s" % (method, path, st, js))
        return js

    def run(self, rid):
        return self.api("GET", "/runs/%d" % rid)["run"]

    def submit(self, s):
        return self.api("POST", "/experiments", s)["run"]["id"]

    def sweep(self, base, seeds):
        sw = self.api("POST", "/sweeps", {"name": "sw", "base": base, "method": "grid",
                                          "parameters": {"train.seed": {"values": seeds}}})
        sid = sw["sweep"]["id"]
        return [r["id"] for r in self.api("GET", "/runs?sweep=%d" % sid)["runs"]]

    def series(self, rid, names=()):
        """Every series, plus those named, read in groups of at most 200
        names and 2 KiB of query (a read of every series stops at 256 names
        on servers before that limit went; the request line stays well
        under the server's 8 KiB)."""
        out = self.api("GET", "/runs/%d/metrics" % rid)["series"]
        group = []
        for name in sorted(names) + [None]:
            if group and (name is None or len(group) == 200
                          or len(",".join(group)) + len(name) > 2000):
                out.update(self.api("GET", "/runs/%d/metrics?names=%s"
                                    % (rid, ",".join(group)))["series"])
                group = []
            if name is not None:
                group.append(name)
        return out

    def kill9(self):
        self.proc.kill9()


def worker(srv_url, d, name, extra=(), env=None):
    args = [os.path.join(BIN, "qlab-worker"), "--server", srv_url, "--name", name,
            "--state-dir", os.path.join(d, name), "--threads", "1", "--checkpoint-every", "20",
            "--flush-interval", "0.2", "--backoff-max", "1", "--http-timeout", "5",
            "--log-level", "debug"] + list(extra)
    return Proc(args, os.path.join(d, name + ".log"), env)


def wait_for(cond, timeout, what, step=0.05):
    end = time.time() + timeout * SLOW
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out after %.0f s waiting for %s" % (timeout * SLOW, what))


def states(srv, ids):
    return [srv.run(i)["state"] for i in ids]


# ---- the reference: qlab train of the same spec, mapped as the worker maps it ----

REF = {}


def points_of_line(line):
    """docs/worker.md's mapping of a metric line to (step, name) -> value."""
    d = json.loads(line)
    kind, step, out = d.get("kind", "step"), d["step"], {}

    def walk(obj, prefix, depth):
        for k, v in obj.items():
            if depth == 0 and k in ("kind", "step"):
                continue
            if depth == 0 and k == "skipped":
                k = "skipped_steps"
            n = prefix + k
            if isinstance(v, bool):
                continue
            if isinstance(v, (int, float)):
                out[(step, n)] = float(v)
            elif isinstance(v, dict):
                walk(v, n + "_", depth + 1)

    if kind == "step":
        walk(d, "", 0)
    elif kind == "epoch":
        walk({k: v for k, v in d.items() if k.startswith("val_")}, "", 0)
        walk({k: v for k, v in d.items() if not k.startswith("val_") and k != "epoch"}, "epoch_", 0)
    else:
        walk(d, kind + "_", 0)
    return out


def reference(s):
    key = json.dumps(s, sort_keys=True)
    if key not in REF:
        path = os.path.join(TMP, "ref.json")
        with open(path, "w") as f:
            json.dump(s, f)
        out = subprocess.run([os.path.join(BIN, "qlab"), "train", path, "--quiet", "--threads", "1"],
                             check=True, capture_output=True, text=True).stdout
        pts = {}
        for line in out.splitlines():
            pts.update(points_of_line(line))
        REF[key] = pts
    return REF[key]


def check_metrics(srv, rid, s):
    """The server holds exactly the reference points, each step once, in order."""
    ref = reference(s)
    got = {}
    for name, ser in srv.series(rid, {n for (_, n) in ref}).items():
        steps = ser["step"]
        assert steps == sorted(set(steps)), "%s: steps not strictly increasing: %s" % (name, steps)
        for st, v in zip(steps, ser["value"]):
            got[(st, name)] = v
    missing = sorted(set(ref) - set(got))
    extra = sorted(set(got) - set(ref))
    assert not missing, "run %d: %d points missing, e.g. %s" % (rid, len(missing), missing[:5])
    assert not extra, "run %d: %d unexpected points, e.g. %s" % (rid, len(extra), extra[:5])
    bad = [k for k in ref if not k[1].endswith("images_per_s") and ref[k] != got[k]]
    assert not bad, "run %d: values differ from qlab train at %s (%r vs %r)" % (
        rid, bad[:3], [ref[k] for k in bad[:3]], [got[k] for k in bad[:3]])


# ---- tests ----------------------------------------------------------------------

def test_sweep_two_workers(d):
    srv = Server(d)
    ws = [worker(srv.url, d, "w%d" % i) for i in range(2)]
    base = spec("sweep", epochs=2)
    ids = srv.sweep(base, [1, 2, 3, 4])
    assert len(ids) == 4, ids
    wait_for(lambda: all(s == "succeeded" for s in states(srv, ids)), 60, "4 runs to succeed")
    used = {srv.run(i)["worker"] for i in ids}
    assert len(used) == 2, "both workers should have run something: %s" % used
    for i in ids:
        s = dict(base)
        s["train"] = dict(base["train"], seed=srv.run(i)["spec"]["train"]["seed"])
        check_metrics(srv, i, srv.run(i)["spec"])
    for w in ws:
        assert w.alive(), "a worker died:\n" + w.text()[-2000:]


def has_checkpoint(srv, rid, min_step=1):
    st, _ = srv.call("GET", "/api/v1/runs/%d/checkpoint" % rid)
    if st != 200:
        return False
    return (srv.series(rid).get("train_loss", {}).get("step") or [0])[-1] >= min_step


def test_kill9_worker_resumes_elsewhere(d):
    srv = Server(d, ttl=2.0)
    a = worker(srv.url, d, "a")
    s = spec("resume", epochs=12)
    rid = srv.submit(s)
    wait_for(lambda: srv.run(rid)["state"] == "running" and has_checkpoint(srv, rid, 60), 30,
             "a checkpoint mid-run")
    a.kill9()
    killed_at = srv.series(rid)["train_loss"]["step"][-1]
    b = worker(srv.url, d, "b")
    wait_for(lambda: srv.run(rid)["state"] == "succeeded", 90, "the run to finish on b")
    r = srv.run(rid)
    assert r["attempt"] == 2, "attempt %s, expected 2 (lost lease counted)" % r["attempt"]
    assert "resuming from the checkpoint" in b.text(), "b did not resume:\n" + b.text()[-2000:]
    total = srv.series(rid)["train_loss"]["step"][-1]
    assert killed_at < total, (killed_at, total)
    check_metrics(srv, rid, s)


def test_stale_lease_abandoned(d):
    """A worker frozen past its lease TTL (a partition) comes back to find
    its run leased elsewhere: it gets 409 stale_lease, drops the run and
    carries on; the new holder finishes it with an exact history."""
    srv = Server(d, ttl=2.0)
    a = worker(srv.url, d, "a")
    s = spec("stale", epochs=12)
    rid = srv.submit(s)
    wait_for(lambda: srv.run(rid)["state"] == "running" and has_checkpoint(srv, rid, 40), 30,
             "a checkpoint mid-run")
    a.p.send_signal(signal.SIGSTOP)
    b = worker(srv.url, d, "b")
    wait_for(lambda: srv.run(rid)["worker"] != 1 and srv.run(rid)["state"] == "running", 30,
             "the run to move to b")
    a.p.send_signal(signal.SIGCONT)
    wait_for(lambda: "abandoned" in a.text(), 15, "a to abandon the run")
    wait_for(lambda: srv.run(rid)["state"] == "succeeded", 90, "the run to finish on b")
    check_metrics(srv, rid, s)
    assert a.alive() and b.alive()
    jdir = os.path.join(d, "a", "journal")
    wait_for(lambda: not os.listdir(jdir), 5, "a's journal of the run to be dropped")


def test_kill9_server_mid_sweep(d):
    srv = Server(d, ttl=3.0)
    ws = [worker(srv.url, d, "w%d" % i) for i in range(2)]
    base = spec("outage", epochs=6)
    ids = srv.sweep(base, [1, 2, 3, 4])
    wait_for(lambda: "running" in states(srv, ids), 30, "a running run")
    time.sleep(0.5 * SLOW)
    srv.kill9()
    time.sleep(1.5)  # the workers keep training and journaling meanwhile
    srv2 = Server(d, ttl=3.0, port=srv.port)
    wait_for(lambda: all(s == "succeeded" for s in states(srv2, ids)), 120, "every run to succeed")
    for i in ids:
        check_metrics(srv2, i, srv2.run(i)["spec"])
    logs = "".join(w.text() for w in ws)
    # A metric post, lease or checkpoint retries ("retrying in"); a heartbeat
    # that finds the server gone says "heartbeat failed". Which one comes
    # first depends on timing.
    assert "retrying" in logs or "heartbeat failed" in logs, "no worker noticed the outage"
    for w in ws:
        assert w.alive(), "a worker died:\n" + w.text()[-2000:]


def test_cancel_running_run(d):
    srv = Server(d)
    w = worker(srv.url, d, "w")
    rid = srv.submit(spec("cancel-me", epochs=200))
    wait_for(lambda: srv.run(rid)["state"] == "running" and srv.series(rid), 30, "the run to run")
    t0 = time.time()
    srv.api("POST", "/runs/%d/cancel" % rid)
    wait_for(lambda: srv.run(rid)["state"] == "canceled", 5, "the cancel to land")
    took = time.time() - t0
    assert took < 5.0, "cancel took %.1f s" % took
    wait_for(lambda: "training thread ended" in w.text(), 5, "the training to stop")
    assert w.alive()


def test_sigterm_releases_run(d):
    srv = Server(d)
    w = worker(srv.url, d, "w")
    s = spec("sigterm", epochs=10)
    rid = srv.submit(s)
    wait_for(lambda: srv.run(rid)["state"] == "running" and has_checkpoint(srv, rid, 30), 30,
             "the run to run")
    t0 = time.time()
    w.term()
    rc = w.wait(10 * SLOW)
    took = time.time() - t0
    assert rc == 0, "worker exit status %s after SIGTERM:\n%s" % (rc, w.text()[-2000:])
    r = srv.run(rid)
    assert r["state"] == "queued", "run is %s after the worker left" % r["state"]
    assert took < 10, "shutdown took %.1f s" % took
    assert r["attempt"] == 0, "a release must not count as an attempt: %s" % r["attempt"]
    w2 = worker(srv.url, d, "w2")
    wait_for(lambda: srv.run(rid)["state"] == "succeeded", 60, "the run to finish on w2")
    assert "resuming from the checkpoint" in w2.text()
    check_metrics(srv, rid, s)


def test_bad_server_answers(d):
    fake = Server(d, fake="garbage")
    w = worker(fake.url, d, "w", ["--lease-wait", "1", "--http-timeout", "1"])
    for mode, secs in (("garbage", 2.0), ("500", 2.0), ("slow", 3.0)):
        fake.call("POST", "/_mode", {"mode": mode, "delay": 3.0})
        time.sleep(secs)
        assert w.alive(), "worker died under %s answers:\n%s" % (mode, w.text()[-2000:])
    log = w.text()
    for what in ("not a JSON object", "HTTP 500", "timed out"):
        assert what.lower() in log.lower(), "no log of %r:\n%s" % (what, log[-3000:])
    # Back to normal: the worker registers and runs what is queued.
    fake.call("POST", "/_mode", {"mode": "ok"})
    rid = fake.submit(spec("after-faults", epochs=1))
    wait_for(lambda: fake.run(rid)["state"] == "succeeded", 30, "a run after the faults")
    calls = fake.call("GET", "/_state")[1]["calls"]
    regs = calls.get("POST /api/v1/workers/register", 0)
    assert regs < 40, "%d registrations in ~7 s: no back-off" % regs
    assert w.alive()


def test_journal_replayed_after_restart(d):
    """Server down, worker killed with unsent points in its journal: the
    restarted worker replays them and releases the run."""
    srv = Server(d, ttl=30.0)
    w = worker(srv.url, d, "w", ["--checkpoint-every", "0"])
    s = spec("journal", epochs=8)
    rid = srv.submit(s)
    wait_for(lambda: srv.run(rid)["state"] == "running" and srv.series(rid), 30, "the run to run")
    srv.kill9()
    time.sleep(1.0 * SLOW)  # points pile up in the journal
    w.kill9()
    jdir = os.path.join(d, "w", "journal")
    journaled = sum(max(0, len(open(os.path.join(jdir, f)).read().splitlines()) - 1)
                    for f in os.listdir(jdir))
    assert journaled > 0, "nothing journaled"
    srv2 = Server(d, ttl=30.0, port=srv.port)
    before = sum(len(v["step"]) for v in srv2.series(rid).values())
    w2 = worker(srv2.url, d, "w")  # same state directory
    wait_for(lambda: "released" in w2.text(), 20, "the replayed run to be released")
    after = sum(len(v["step"]) for v in srv2.series(rid).values())
    assert after > before, "replay added nothing (%d points before, %d after)" % (before, after)
    wait_for(lambda: srv2.run(rid)["state"] == "succeeded", 60, "the run to finish")
    check_metrics(srv2, rid, s)


def test_many_metric_names(d):
    """A deep MLP under a scale policy reports each layer's rates: more
    distinct names than the server takes in one batch (256). Points piled up
    while the server is down go back in batches the server accepts, all of
    them."""
    s = spec("deep", epochs=3)
    s["model"]["hidden"] = [16] * 16
    s["train"]["log_interval"] = 2
    s["arith"] = {"forward": {"weights": "e4m3", "activations": "e4m3", "mac": {"acc": "fp32"}},
                  "backward": {"errors": "e5m2", "mac": {"acc": "fp32"}}}
    s["scaling"] = {"blocks": {"type": "max"}}
    names = {n for (_, n) in reference(s)}
    assert len(names) > 256, "only %d names: the test needs more than a batch takes" % len(names)
    assert any(n.startswith("layers_fc17_") for n in names), sorted(names)[:20]
    srv = Server(d, ttl=30.0)
    worker(srv.url, d, "w")
    rid = srv.submit(s)
    wait_for(lambda: srv.run(rid)["state"] == "running" and srv.series(rid), 30, "the run to run")
    srv.kill9()
    time.sleep(1.5 * SLOW)  # step and epoch lines pile up: one batch would hold every name
    srv2 = Server(d, ttl=30.0, port=srv.port)
    wait_for(lambda: srv2.run(rid)["state"] == "succeeded", 60 * SLOW, "the run to finish")
    check_metrics(srv2, rid, s)


def test_drain_before_end_time(d):
    """--end-time/--drain-before (a batch job's time limit, docs/deploy-slurm.md):
    before the end the worker stops leasing, hands its run back with a
    checkpoint and exits 0; the run finishes elsewhere with an exact history."""
    srv = Server(d, ttl=30.0)
    # Long enough that the run cannot finish before the drain on a fast,
    # idle machine (5 epochs took under 1.5 s once the kernels got faster).
    s = spec("drain", epochs=40 if ASAN else 60)
    rid = srv.submit(s)
    drain_in = 1.5 * SLOW
    w = worker(srv.url, d, "w", ["--end-time", "%.3f" % (time.time() + drain_in + 600),
                                 "--drain-before", "600"])
    wait_for(lambda: srv.run(rid)["state"] == "running", 30, "the run to run")
    rc = w.wait(drain_in + 15 * SLOW)
    assert rc == 0, "worker exit status %s after the drain:\n%s" % (rc, w.text()[-2000:])
    assert "--drain-before" in w.text(), "no drain in the log:\n" + w.text()[-2000:]
    r = srv.run(rid)
    assert r["state"] == "queued", "run is %s after the drain" % r["state"]
    assert r["attempt"] == 0, "a drain must not count as an attempt: %s" % r["attempt"]
    assert [l["outcome"] for l in r["leases"]] == ["released"], r["leases"]
    w2 = worker(srv.url, d, "w2")
    wait_for(lambda: srv.run(rid)["state"] == "succeeded", 60, "the run to finish on w2")
    assert "resuming from the checkpoint" in w2.text(), w2.text()[-2000:]
    check_metrics(srv, rid, s)


def test_drain_signal(d):
    """--drain-signal USR1 (what SLURM's --signal sends) drains an idle worker:
    it exits 0 at once."""
    srv = Server(d)
    w = worker(srv.url, d, "w", ["--drain-signal", "USR1"])
    wait_for(lambda: "registered as worker" in w.text(), 10, "registration")
    w.p.send_signal(signal.SIGUSR1)
    rc = w.wait(5 * SLOW)
    assert rc == 0, "exit status %s after USR1:\n%s" % (rc, w.text()[-2000:])
    assert "drain signal" in w.text(), w.text()[-2000:]


def test_fpga_emulated_board(d):
    """--fpga-emulate zcu104 registers an emulated board (kind fpga, board,
    emulated); a spec asking for that board is leased to it and to nothing
    else, one asking for another board stays queued, and the board's run has
    the metrics of the same spec on the CPU bit for bit, plus the board's
    timing (board_* series; docs/fpga.md)."""
    srv = Server(d)
    base = spec("fpga", epochs=2)
    on_cpu = dict(base, device={"kind": "cpu"})
    on_zcu = dict(base, device={"kind": "fpga", "board": "zcu104"})
    on_u250 = dict(base, device={"kind": "fpga", "board": "u250"})
    rid_u250 = srv.submit(on_u250)
    rid = srv.submit(on_zcu)
    w = worker(srv.url, d, "w", ["--fpga-emulate", "zcu104"])
    wait_for(lambda: srv.run(rid)["state"] == "succeeded", 60, "the board's run to succeed")
    devs = [dv for wk in srv.api("GET", "/workers")["workers"] for dv in wk["devices"]]
    fpga = [dv for dv in devs if dv["kind"] == "fpga"]
    assert len(fpga) == 1 and fpga[0]["board"] == "zcu104" and fpga[0]["emulated"] is True, devs
    assert fpga[0]["info"]["rows"] == 16 and fpga[0]["info"]["cols"] == 4, fpga[0]
    r = srv.run(rid)
    assert [l["device"] for l in r["leases"]] == [fpga[0]["id"]], r["leases"]
    assert "emulated FPGA board zcu104" in w.text(), w.text()[-2000:]
    # The u250 run matches no device: still queued while the worker idles.
    assert srv.run(rid_u250)["state"] == "queued", srv.run(rid_u250)
    ref = reference(on_cpu)
    got = {}
    series = srv.series(rid, {n for (_, n) in ref})
    for name, ser in series.items():
        for st, v in zip(ser["step"], ser["value"]):
            got[(st, name)] = v
    board = {k: v for k, v in got.items() if "board_" in k[1]}
    rest = {k: v for k, v in got.items() if "board_" not in k[1]}
    assert set(rest) == set(ref), "points differ: missing %s, extra %s" % (
        sorted(set(ref) - set(rest))[:5], sorted(set(rest) - set(ref))[:5])
    bad = [k for k in ref if not k[1].endswith("images_per_s") and ref[k] != rest[k]]
    assert not bad, "values differ from the CPU run at %s" % bad[:3]
    for name in ("board_cycles", "board_time_s", "board_utilisation", "epoch_board_time_s"):
        assert name in series and series[name]["value"], "no %s series: %s" % (name,
                                                                                sorted(series))
    ep = series["epoch_board_time_s"]["value"]
    assert len(ep) == 2 and all(v > 0 for v in ep) and ep[0] == ep[1], ep
    util = series["board_utilisation"]["value"]
    assert all(0 < u <= 1 for u in util), util
    # qlab show: the board and the estimated time on it.
    out = subprocess.run([os.path.join(BIN, "qlab"), "show", str(rid)], capture_output=True,
                         text=True, env=dict(os.environ, QLAB_SERVER=srv.url)).stdout
    assert re.search(r"^board +zcu104 \(emulated\)$", out, re.M), out
    per = float(re.search(r"^on-board time +([0-9.e+-]+) s per epoch", out, re.M).group(1))
    assert abs(per - ep[-1]) <= 1e-5 * ep[-1], (per, ep)
    # The same spec on the CPU: no board timing at all.
    rid_cpu = srv.submit(on_cpu)
    wait_for(lambda: srv.run(rid_cpu)["state"] == "succeeded", 60, "the CPU run")
    assert srv.run(rid_cpu)["leases"][0]["device"].startswith("cpu")
    assert not [n for n in srv.series(rid_cpu) if "board" in n]
    assert srv.run(rid_u250)["state"] == "queued"
    assert w.alive(), w.text()[-2000:]


def test_fpga_emulate_unknown_board(d):
    """An unknown board name stops the worker at start with a message naming
    it and the known presets, before it registers anything."""
    srv = Server(d)
    w = worker(srv.url, d, "w", ["--fpga-emulate", "zcu104,zcu999"])
    rc = w.wait(10 * SLOW)
    assert rc not in (0, None), "exit status %s" % rc
    assert "zcu999" in w.text() and "zcu104" in w.text(), w.text()[-2000:]
    assert srv.api("GET", "/workers")["workers"] == []


TESTS = [test_sweep_two_workers, test_kill9_worker_resumes_elsewhere, test_stale_lease_abandoned,
         test_kill9_server_mid_sweep,
         test_cancel_running_run, test_sigterm_releases_run, test_bad_server_answers,
         test_journal_replayed_after_restart, test_many_metric_names, test_drain_before_end_time,
         test_drain_signal, test_fpga_emulated_board, test_fpga_emulate_unknown_board]


def main():
    want = sys.argv[1:]
    passed = failed = 0
    for t in TESTS:
        name = t.__name__[5:]
        if want and name not in want:
            continue
        d = os.path.join(TMP, name)
        os.makedirs(d)
        t0 = time.time()
        try:
            t(d)
            print("ok - %s (%.1f s)" % (name, time.time() - t0), flush=True)
            passed += 1
        except Exception as e:
            print("not ok - %s (%.1f s)" % (name, time.time() - t0), flush=True)
            for line in (str(e) or traceback.format_exc()).splitlines()[:20]:
                print("#   " + line)
            if not isinstance(e, AssertionError):
                for line in traceback.format_exc().splitlines()[-6:]:
                    print("#   " + line)
            failed += 1
        finally:
            for p in PROCS:
                p.kill9()
            # A sanitizer report in any log is a failure even when the test passed.
            for f in os.listdir(d):
                if f.endswith(".log"):
                    txt = open(os.path.join(d, f), errors="replace").read()
                    if "ERROR: AddressSanitizer" in txt or "runtime error:" in txt or \
                       "ERROR: LeakSanitizer" in txt:
                        print("not ok - %s: sanitizer report in %s" % (name, f))
                        print("\n".join("#   " + l for l in txt[txt.find("=="):][:3000].splitlines()))
                        failed += 1
            PROCS.clear()
    print("%d passed, %d failed" % (passed, failed))
    if failed == 0 and not os.environ.get("KEEP"):
        shutil.rmtree(TMP, ignore_errors=True)
    else:
        print("# logs kept in " + TMP)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
