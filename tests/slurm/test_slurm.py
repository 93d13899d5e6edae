#!/usr/bin/env python3
"""qlab workers under a real SLURM: Debian's munge, slurmctld and slurmd,
configured in a temporary directory and started without systemd (as root),
one node with 8 CPU slots and 2 boards of the documented "fpga" GRES. The
workers are started by deploy/slurm/qlab-worker.sbatch through sbatch,
exactly as docs/deploy-slurm.md tells a lab admin to.

One scenario, in order (see docs/deploy-slurm.md):

1. drain: a job with a 1-minute limit and QLAB_DRAIN_BEFORE=52 leases a
   run; 8 s in, its worker hands the run back (lease outcome "released")
   and exits, and the job ends COMPLETED before its limit;
2. the worker array (--array=0-1 --gres=fpga:1) and a second time-limited
   job without a drain take the released run and a 4-run sweep: every run
   succeeds on SLURM-launched workers, the released one elsewhere, resumed
   from its checkpoint;
3. scancel of the array while both of its workers train: both runs are
   released at once (long before the 30 s lease TTL) and no lease is left
   with the array; the time-limited job is killed by SLURM at its limit in
   the middle of a run, which is released too (JobState TIMEOUT) and
   finishes on a fresh worker job; USR1 sent the way SLURM's --signal sends
   it drains that last worker, and no lease is left anywhere.

Usage: BIN=build/bin tests/slurm/test_slurm.py. Prints "ok"/"not ok" lines
and "N passed, N failed[, N skipped]"; skips (exit 0) only where SLURM
cannot start here, saying why."""
import os, random, shutil, signal, socket, subprocess, sys, tempfile, time, traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "worker"))
import test_worker as tw  # noqa: E402  (the server and spec helpers of the worker tests)

SBATCH_SCRIPT = os.path.join(REPO, "deploy", "slurm", "qlab-worker.sbatch")
TOOLS = ["munged", "munge", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "scontrol",
         "sinfo"]
NODE = "qlab1"


class Skip(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalSlurm:
    """munged + slurmctld + slurmd in `root`, no systemd, ports of its own."""

    def __init__(self, root):
        self.root = root
        self.procs = []
        self.ctld = None
        self.env = dict(os.environ, SLURM_CONF=os.path.join(root, "slurm.conf"))

    def path(self, *p):
        return os.path.join(self.root, *p)

    def start(self):
        missing = [t for t in TOOLS if not shutil.which(t)]
        if missing:
            raise Skip("no %s here (make deps installs slurmctld slurmd slurm-client munge)"
                       % ", ".join(missing))
        if os.geteuid() != 0:
            raise Skip("slurmd must run as root to start jobs, and this is uid %d" % os.geteuid())
        # munged wants every directory above its socket searchable by all.
        os.chmod(os.path.dirname(self.root), 0o755)
        for d, mode in (("", 0o755), ("munge", 0o700), ("run", 0o755), ("state", 0o700), ("log", 0o755),
                        ("spool", 0o755), ("spool/" + NODE, 0o755), ("out", 0o755)):
            os.makedirs(self.path(d), exist_ok=True)
            os.chmod(self.path(d), mode)
        key = self.path("munge", "munge.key")
        with open(key, "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(key, 0o400)
        sock = self.path("run", "munge.sock")
        self.spawn(["munged", "--foreground", "--key-file=" + key, "--socket=" + sock,
                    "--pid-file=" + self.path("run", "munged.pid"),
                    "--log-file=" + self.path("log", "munged.log"),
                    "--seed-file=" + self.path("munge", "seed")], "munged.out")
        self.wait(lambda: os.path.exists(sock), 10, "munged's socket", "munged.out")
        host = socket.gethostname()
        conf = {
            "ClusterName": "qlabtest",
            "SlurmctldHost": "%s(127.0.0.1)" % host,
            "SlurmctldPort": free_port(),
            "SlurmdPort": free_port(),
            "AuthType": "auth/munge",
            "CredType": "cred/munge",
            "AuthInfo": "socket=" + sock,
            "SlurmUser": "root",
            "SlurmdUser": "root",
            "StateSaveLocation": self.path("state"),
            "SlurmdSpoolDir": self.path("spool", "%n"),
            "SlurmctldPidFile": self.path("run", "slurmctld.pid"),
            "SlurmdPidFile": self.path("run", "slurmd.pid"),
            "SlurmctldLogFile": self.path("log", "slurmctld.log"),
            "SlurmdLogFile": self.path("log", "slurmd.log"),
            "ProctrackType": "proctrack/linuxproc",
            "TaskPlugin": "task/none",
            "JobAcctGatherType": "jobacct_gather/none",
            "AccountingStorageType": "accounting_storage/none",
            "JobCompType": "jobcomp/none",
            "MpiDefault": "none",
            "SchedulerType": "sched/backfill",
            "SelectType": "select/cons_tres",
            "SelectTypeParameters": "CR_CPU",
            # The node is declared with 8 CPUs whatever this machine has.
            "SlurmdParameters": "config_overrides",
            "ReturnToService": 2,
            "KillWait": 30,
            "MinJobAge": 600,
            "GresTypes": "gpu,fpga",
        }
        with open(self.path("slurm.conf"), "w") as f:
            for k, v in conf.items():
                f.write("%s=%s\n" % (k, v))
            f.write("NodeName=%s NodeHostname=%s NodeAddr=127.0.0.1 CPUs=8 RealMemory=2000 "
                    "Gres=fpga:2 State=UNKNOWN\n" % (NODE, host))
            f.write("PartitionName=qlab Nodes=%s Default=YES MaxTime=INFINITE State=UP\n" % NODE)
        # The board GRES as docs/deploy-slurm.md documents it, without device
        # files here (a real node names /dev/... with File=).
        with open(self.path("gres.conf"), "w") as f:
            f.write("NodeName=%s Name=fpga Count=2\n" % NODE)
        self.ctld = self.spawn(["slurmctld", "-D", "-i"], "slurmctld.out")
        self.spawn(["slurmd", "-D", "-N", NODE], "slurmd.out")
        self.wait(lambda: self.out(["sinfo", "-h", "-n", NODE, "-o", "%T"]).strip() == "idle",
                  30, "the node to be idle", "slurmctld.out", "slurmd.out")

    def spawn(self, args, log):
        f = open(self.path("log", log), "ab")
        p = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT, env=self.env,
                             cwd=self.root)
        self.procs.append(p)
        return p

    def wait(self, cond, timeout, what, *logs):
        end = time.time() + timeout
        while time.time() < end:
            try:
                if cond():
                    return
            except (subprocess.CalledProcessError, OSError):
                pass
            for p in self.procs:
                if p.poll() is not None:
                    break
            time.sleep(0.2)
        tails = "".join("\n--- %s\n%s" % (l, self.tail(l)) for l in logs)
        raise Skip("SLURM did not start here (waited %d s for %s):%s" % (timeout, what, tails))

    def tail(self, log, n=1500):
        try:
            with open(self.path("log", log), errors="replace") as f:
                return f.read()[-n:]
        except OSError as e:
            return str(e)

    def out(self, args):
        return subprocess.run(args, env=self.env, check=True, capture_output=True, text=True,
                              timeout=30).stdout

    def sbatch(self, args, env=None):
        e = dict(self.env)
        e.update(env or {})
        r = subprocess.run(["sbatch", "--parsable", "-D", self.root] + args, env=e,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, "sbatch %s: %s" % (args, r.stderr)
        return r.stdout.strip().split(";")[0]

    def job(self, jobid):
        """scontrol's fields of one job (one array task when jobid is A_i)."""
        txt = self.out(["scontrol", "-o", "show", "job", jobid])
        fields = {}
        for tok in txt.split():
            if "=" in tok:
                k, v = tok.split("=", 1)
                fields[k] = v
        return fields

    def squeue(self):
        return self.out(["squeue", "-h", "-o", "%i %T"]).split("\n")

    def stop(self):
        try:
            if not self.ctld or self.ctld.poll() is not None:
                raise OSError("no slurmctld to ask")
            subprocess.run(["scancel", "--full", "-u", "root"], env=self.env, timeout=20,
                           capture_output=True)
            end = time.time() + 40
            while time.time() < end and any(l.strip() for l in self.squeue()):
                time.sleep(0.5)
        except Exception:
            pass
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()



def heavy(spec):
    """A spec whose steps are slow enough to outlast a drain or a job limit
    (a 1024-unit hidden layer: about 0.7 s an epoch on two idle cores; the
    32-unit one ends 12 epochs in about a second with today's kernels)."""
    spec["model"]["hidden"] = [1024]
    return spec

def unix_time(scontrol_time):
    return time.mktime(time.strptime(scontrol_time, "%Y-%m-%dT%H:%M:%S"))


# ---- the scenario ----------------------------------------------------------------

class Scenario:
    def __init__(self, d):
        self.d = d
        self.slurm = LocalSlurm(os.path.join(d, "slurm"))
        self.srv = None

    def submit_workers(self, args, drain_before, name):
        env = {"QLAB_SERVER": self.srv.url,
               "QLAB_WORKER": os.path.join(tw.BIN, "qlab-worker"),
               "QLAB_STATE_ROOT": os.path.join(self.d, "state"),
               "QLAB_DRAIN_BEFORE": str(drain_before)}
        out = os.path.join(self.d, "slurm", "out", name + "-%A_%a.out")
        extra = ["--checkpoint-every", "20", "--flush-interval", "0.2", "--backoff-max", "1",
                 "--http-timeout", "5", "--lease-wait", "5", "--log-level", "debug"]
        return self.slurm.sbatch(["-J", name, "-o", out] + args + [SBATCH_SCRIPT] + extra, env)

    def log(self, name):
        out = os.path.join(self.d, "slurm", "out")
        return "".join(open(os.path.join(out, f), errors="replace").read()
                       for f in sorted(os.listdir(out)) if f.startswith(name + "-"))

    def workers(self):
        return {w["name"]: w for w in self.srv.api("GET", "/workers")["workers"]}

    def worker_of(self, prefix):
        """The id of the live worker whose name starts with `prefix`."""
        for n, w in self.workers().items():
            if n.startswith(prefix) and w["live"]:
                return w["id"]
        return None

    def names(self):
        return {w["id"]: n for n, w in self.workers().items()}

    def check_steps(self, rid, s):
        """Every step of the run once, up to the last one (the history
        survived the hand-back; tests/worker checks values point for point)."""
        ser = self.srv.series(rid)
        steps = ser["train_loss"]["step"]
        per_epoch = -(-s["dataset"]["train_limit"] // s["train"]["batch_size"])
        total = per_epoch * s["train"]["epochs"]
        want = [st for st in range(s["train"]["log_interval"], total + 1, s["train"]["log_interval"])]
        assert set(want) <= set(steps) and steps[-1] == total, \
            "run %d: train_loss steps %s..%s, expected %d..%d" % (rid, steps[:3], steps[-3:],
                                                                  want[0], total)
        assert len(ser["val_acc"]["step"]) == s["train"]["epochs"], ser["val_acc"]["step"]

    def run(self):
        srv = self.srv = tw.Server(os.path.join(self.d, "server"), ttl=30.0)
        sl = self.slurm

        # 1. A job whose worker drains 8 s into its 60 s.
        job_a = self.submit_workers(["--time=1"], 52, "drain")
        tw.wait_for(lambda: self.worker_of("slurm-%s_" % job_a), 30, "the drain job's worker")
        wa = self.worker_of("slurm-%s_" % job_a)
        spec_a = heavy(tw.spec("handed-back", epochs=40))
        run_a = srv.submit(spec_a)
        tw.wait_for(lambda: srv.run(run_a)["worker"] == wa and srv.run(run_a)["state"] == "running",
                    20, "the drain job to run it")
        # 2. The array on the two boards, and a job that will hit its limit.
        job_b = self.submit_workers(["--time=1"], 0, "limit")
        job_arr = self.submit_workers(["--array=0-1", "--gres=fpga:1"], 0, "array")
        tw.wait_for(lambda: self.worker_of("slurm-%s_0" % job_arr) and
                    self.worker_of("slurm-%s_1" % job_arr) and
                    self.worker_of("slurm-%s_" % job_b), 30, "three more workers")
        sweep_spec = tw.spec("sweep", epochs=1)
        sweep = srv.sweep(sweep_spec, [1, 2, 3, 4])
        # Generous: on a loaded machine training slows down (a timeout only).
        tw.wait_for(lambda: all(srv.run(i)["state"] == "succeeded" for i in sweep + [run_a]), 300,
                    "the sweep and the handed-back run to succeed")
        names = self.names()
        for i in sweep + [run_a]:
            r = srv.run(i)
            assert names[r["worker"]].startswith("slurm-"), (i, names[r["worker"]])
            assert all(l["outcome"] in ("released", "succeeded") for l in r["leases"]), r["leases"]
        leases_a = srv.run(run_a)["leases"]
        assert leases_a[0]["worker"] == wa and leases_a[0]["outcome"] == "released", leases_a
        assert leases_a[-1]["worker"] != wa and leases_a[-1]["outcome"] == "succeeded", leases_a
        assert srv.run(run_a)["attempt"] == 1, "a hand-back must not count as an attempt"
        self.check_steps(run_a, spec_a)
        tw.wait_for(lambda: sl.job(job_a).get("JobState") == "COMPLETED", 20,
                    "the drain job to complete")
        ja = sl.job(job_a)
        assert unix_time(ja["EndTime"]) < unix_time(ja["StartTime"]) + 50, \
            "the drain job ended at %s, started %s" % (ja["EndTime"], ja["StartTime"])
        assert "--drain-before" in self.log("drain"), self.log("drain")[-3000:]
        print("# drain job %s handed run %d back; array %s, limit job %s ran the sweep"
              % (job_a, run_a, job_arr, job_b), flush=True)

        # 3. Long runs on the array and the limit job, just before its end.
        # slurmctld enforces time limits every 30 s, so the kill comes 0-30 s
        # after EndTime: a heavy run of 150 epochs (100 s or more here) is still
        # training then.
        end_b = unix_time(sl.job(job_b)["EndTime"])
        time.sleep(max(0.0, end_b - 5 - time.time()))
        spec_r = heavy(tw.spec("long", epochs=150))
        runs = [srv.submit(dict(spec_r, name="long-%d" % i)) for i in range(3)]
        holders = lambda: {srv.run(i)["worker"] for i in runs if srv.run(i)["state"] == "running"}
        tw.wait_for(lambda: len(holders()) == 3, 30, "three runs on three workers")
        names = self.names()
        wb = self.worker_of("slurm-%s_" % job_b)
        run_b = next(i for i in runs if srv.run(i)["worker"] == wb)
        on_array = [i for i in runs if i != run_b]
        array_ids = {w for w, n in names.items() if n.startswith("slurm-%s_" % job_arr)}
        assert {srv.run(i)["worker"] for i in on_array} == array_ids, (on_array, names)

        t0 = time.time()
        subprocess.run(["scancel", job_arr], env=sl.env, check=True, timeout=20)
        tw.wait_for(lambda: all(srv.run(i)["state"] == "queued" for i in on_array), 12,
                    "scancel to release the array's runs")
        took = time.time() - t0
        for i in on_array:
            r = srv.run(i)
            assert r["lease_deadline"] is None and r["worker"] is None, r
            assert r["leases"][-1]["outcome"] == "released", r["leases"]
        for w in self.workers().values():
            if w["id"] in array_ids:
                assert not w["runs"], "worker %s still holds %s" % (w["name"], w["runs"])
        tw.wait_for(lambda: not any(l.startswith(job_arr + "_") for l in sl.squeue()), 40,
                    "the array to leave the queue")
        assert self.log("array").count("exited with status 0") == 2, self.log("array")[-3000:]
        print("# scancel of array %s: runs %s released in %.1f s (lease TTL 30 s)"
              % (job_arr, on_array, took), flush=True)
        for i in on_array:
            srv.api("POST", "/runs/%d/cancel" % i)

        # The limit job is killed by SLURM mid-run: its run is released too.
        tw.wait_for(lambda: srv.run(run_b)["state"] == "queued", end_b + 40 - time.time(),
                    "the time limit to release the last run")
        rb = srv.run(run_b)
        assert rb["state"] == "queued" and rb["leases"][-1]["outcome"] == "released", rb["leases"]
        per_epoch = -(-spec_r["dataset"]["train_limit"] // spec_r["train"]["batch_size"])
        total = per_epoch * spec_r["train"]["epochs"]
        stopped_at = srv.series(run_b)["train_loss"]["step"][-1]
        assert 0 < stopped_at < total, stopped_at
        # The rest takes as long as this machine's load makes it: allow three
        # times what the limit job's pace predicts.
        lease_b = rb["leases"][-1]
        pace = stopped_at / max(1.0, lease_b["ended"] - lease_b["started"])
        rest = 60 + 3 * (total - stopped_at) / max(pace, 1.0)
        tw.wait_for(lambda: sl.job(job_b).get("JobState") == "TIMEOUT", 40, "JobState TIMEOUT")
        assert "SIGTERM" in self.log("limit"), self.log("limit")[-3000:]

        job_c = self.submit_workers([], 0, "last")
        tw.wait_for(lambda: srv.run(run_b)["state"] == "succeeded", rest,
                    "the run to finish on job C (%d of %d steps left at %.0f steps/s)"
                    % (total - stopped_at, total, pace))
        wc = self.worker_of("slurm-%s_" % job_c)
        assert srv.run(run_b)["leases"][-1]["worker"] == wc, srv.run(run_b)["leases"]
        assert "resuming from the checkpoint" in self.log("last"), self.log("last")[-3000:]
        self.check_steps(run_b, spec_r)
        # SLURM's --signal=B:USR1 delivers to the batch shell; scancel sends it the same way.
        subprocess.run(["scancel", "--batch", "--signal=USR1", job_c], env=sl.env, check=True,
                       timeout=20)
        tw.wait_for(lambda: sl.job(job_c).get("JobState") == "COMPLETED", 20,
                    "USR1 to drain the last worker")
        assert "drain signal" in self.log("last"), self.log("last")[-3000:]
        live = [r for r in srv.api("GET", "/runs?limit=100")["runs"]
                if r["state"] in ("leased", "running") or r["lease_deadline"] is not None]
        assert not live, "leases left: %s" % live
        assert all(not w["runs"] for w in self.workers().values()), self.workers()


def main():
    tmp = tempfile.mkdtemp(prefix="qlab-slurm-test.")
    shutil.rmtree(tw.TMP, ignore_errors=True)
    tw.TMP = tmp  # the worker helpers write their scratch files here
    sc = Scenario(tmp)
    t0 = time.time()
    passed = failed = skipped = 0
    try:
        sc.slurm.start()
        print("# SLURM up in %.1f s (%s)" % (time.time() - t0, sc.slurm.root), flush=True)
        sc.run()
        print("ok - slurm_workers (%.1f s)" % (time.time() - t0), flush=True)
        passed = 1
    except Skip as e:
        print("test-slurm: SKIPPED: %s" % e, flush=True)
        skipped = 1
    except Exception as e:
        print("not ok - slurm_workers (%.1f s)" % (time.time() - t0), flush=True)
        for line in (str(e) or traceback.format_exc()).splitlines()[:30]:
            print("#   " + line)
        if not isinstance(e, AssertionError):
            for line in traceback.format_exc().splitlines()[-8:]:
                print("#   " + line)
        failed = 1
    finally:
        sc.slurm.stop()
        for p in tw.PROCS:
            p.kill9()
    print("slurm: %d passed, %d failed%s" % (passed, failed,
                                              ", %d skipped" % skipped if skipped else ""))
    if failed or os.environ.get("KEEP"):
        print("# logs kept in " + tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
