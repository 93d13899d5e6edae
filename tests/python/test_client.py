#!/usr/bin/env python3
"""The Python client (clients/python) against a real qlab-server and a real
qlab-worker on loopback: installed with pip (offline, into a temporary
directory), a sweep submitted, waited for and loaded as a table that must
equal `qlab export --csv`, run histories against `qlab metrics`, filters,
tags, notes, renames, token names, validation, deletion, and
scripts/repro.py producing a 2-row, 1-epoch table from runs recorded in the
service.

    BIN=build/bin python3 tests/python/test_client.py
"""
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BIN = os.path.abspath(os.environ.get("BIN", os.path.join(ROOT, "build", "bin")))
ADMIN = "admin-token-0123456789abcdef"
READ = "read-token-0123456789abcdef"
JOIN = "join-token-0123456789abcdef"

SWEEP = {
    "name": "py-sweep",
    "base": {"name": "b", "model": {"arch": "mlp", "hidden": [16]},
             "dataset": {"name": "synthetic", "train_limit": 256, "val_limit": 128},
             "train": {"epochs": 2, "batch_size": 64, "log_interval": 2}},
    "parameters": {"arith.forward.mac.acc": {"values": ["e6m5", "fp32"]},
                   "train.seed": {"values": [1, 2]}},
}

qlab = None  # imported from the pip-installed copy in setUpModule
TMP = SRV = WRK = URL = None


def start(args, log):
    with open(log, "wb") as f:  # the child keeps its own descriptor
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=f)
    p.log = log
    return p


def setUpModule():
    global qlab, TMP, SRV, WRK, URL
    TMP = tempfile.mkdtemp(prefix="qlab-py.")
    # pip install, offline, into a directory of its own: the in-tree build
    # backend needs nothing from an index.
    site = os.path.join(TMP, "site")
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "--quiet",
                        "--disable-pip-version-check", "--target", site,
                        os.path.join(ROOT, "clients", "python")],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("pip install ./clients/python failed:\n" + r.stdout + r.stderr)
    sys.path.insert(0, site)
    import qlab as q
    qlab = q
    assert qlab.__file__.startswith(site), qlab.__file__

    with open(os.path.join(TMP, "tokens"), "w") as f:
        f.write("admin %s alice\nread %s\njoin %s\n" % (ADMIN, READ, JOIN))
    SRV = start([os.path.join(BIN, "qlab-server"), "--listen", "127.0.0.1:0", "--db",
                 os.path.join(TMP, "q.db"), "--data", os.path.join(TMP, "data"), "--web", "",
                 "--token-file", os.path.join(TMP, "tokens")], os.path.join(TMP, "server.log"))
    line = SRV.stdout.readline().decode()
    if not line.startswith("listening on "):
        raise RuntimeError("qlab-server did not start: %r" % line)
    URL = line.split()[2].rstrip("/")
    WRK = start([os.path.join(BIN, "qlab-worker"), "--server", URL, "--token", JOIN, "--name",
                 "w1", "--state-dir", os.path.join(TMP, "w1"), "--threads", "1",
                 "--log-level", "warn"], os.path.join(TMP, "worker.log"))


def tearDownModule():
    for p in (WRK, SRV):
        if p and p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p:
            p.stdout.close()
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


def cli(*args, ok=True):
    env = dict(os.environ, QLAB_SERVER=URL, QLAB_TOKEN=ADMIN)
    r = subprocess.run([os.path.join(BIN, "qlab")] + list(args), capture_output=True, env=env)
    if ok and r.returncode != 0:
        raise AssertionError("qlab %s: exit %d: %s" % (" ".join(args), r.returncode,
                                                        r.stderr.decode()))
    return r


def same(json_value, cell):
    """A JSON value of the results table and its CSV cell say the same."""
    if json_value is None:
        return cell == ""
    if isinstance(json_value, bool):
        return cell == ("true" if json_value else "false")
    if isinstance(json_value, (int, float)):
        return float(cell) == float(json_value)
    if isinstance(json_value, str):
        return cell == json_value
    return json.loads(cell) == json_value


class Client(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = qlab.Client(URL, ADMIN, timeout=30)
        cls.sweep = cls.c.submit(SWEEP)
        cls.done = cls.c.wait(cls.sweep, timeout=300, poll=0.5)

    def test_environment_defaults(self):
        os.environ["QLAB_SERVER"], os.environ["QLAB_TOKEN"] = URL + "/", READ
        try:
            c = qlab.Client()
        finally:
            del os.environ["QLAB_SERVER"], os.environ["QLAB_TOKEN"]
        self.assertEqual(c.server, URL)
        self.assertEqual(c.sweep(self.sweep)["id"], self.sweep["id"])
        with self.assertRaises(qlab.Error) as e:
            c.tag(run=1, add=["x"])
        self.assertEqual(e.exception.status, 403)

    def test_three_lines(self):
        """The documented idiom: what wait() returns feeds sweep_results()."""
        c = qlab.Client(URL, READ)
        rows = c.sweep_results(c.wait(self.c.sweep(self.sweep)), frame=False)
        self.assertEqual(len(rows), 4)

    def test_sweep_finished_and_submitter_recorded(self):
        self.assertEqual(self.done["runs"], 4)
        self.assertEqual(self.done["counts"]["succeeded"], 4, self.done)
        self.assertEqual(self.done["submitted_by"], "alice")
        self.assertEqual(list(self.done["axes"]), ["arith.forward.mac.acc", "train.seed"])
        self.assertEqual(self.done["axes"]["train.seed"]["values"], [1, 2])

    def test_results_table_equals_qlab_export_csv(self):
        rows = self.c.sweep_results(self.sweep, frame=False)
        self.assertEqual(len(rows), 4)
        cols = list(rows[0])
        for want in ("id", "name", "state", "worker", "started", "finished", "duration",
                     "arith.forward.mac.acc", "train.seed", "metric.val_acc", "best.val_acc",
                     "metric.train_loss", "model.arch", "dataset.train_limit"):
            self.assertIn(want, cols)
        self.assertLess(cols.index("train.seed"), cols.index("metric.val_acc"),
                        "the swept parameters come before the metrics")
        self.assertEqual(sorted((r["arith.forward.mac.acc"], r["train.seed"]) for r in rows),
                         [("e6m5", 1), ("e6m5", 2), ("fp32", 1), ("fp32", 2)])
        for r in rows:
            self.assertEqual(r["state"], "succeeded")
            self.assertEqual(r["submitted_by"], "alice")
            self.assertGreaterEqual(r["best.val_acc"], r["metric.val_acc"])
            self.assertAlmostEqual(r["duration"], r["finished"] - r["started"], places=6)
            hist = self.c.run_history(r["id"], names=["val_acc"], frame=False)
            vals = [h["val_acc"] for h in hist if h["val_acc"] is not None]
            self.assertEqual(r["metric.val_acc"], vals[-1])
            self.assertEqual(r["best.val_acc"], max(vals))
        out = cli("export", str(self.sweep["id"]), "--csv").stdout.decode()
        self.assertEqual(out, self.c.export_csv(self.sweep))
        table = list(csv.reader(io.StringIO(out)))
        self.assertEqual(table[0], cols)
        self.assertEqual(len(table), 5)
        for r, line in zip(rows, table[1:]):
            for k, cell in zip(cols, line):
                self.assertTrue(same(r[k], cell), "%s: %r vs %r" % (k, r[k], cell))
        path = os.path.join(TMP, "export.json")
        cli("export", str(self.sweep["id"]), "--json", "-o", path)
        with open(path) as f:
            self.assertEqual(json.load(f)["rows"], rows)

    def test_pandas_dataframe(self):
        try:
            import pandas  # noqa: F401
        except ImportError:
            self.skipTest("pandas is not installed (Debian: python3-pandas); the list-of-dicts "
                          "path is what the other tests check")
        df = self.c.sweep_results(self.sweep)
        self.assertEqual(df.shape[0], 4)
        self.assertEqual(list(df.columns), list(self.c.sweep_results(self.sweep, frame=False)[0]))
        h = self.c.run_history(df["id"][0])
        self.assertIn("val_acc", h.columns)

    def test_run_history_equals_qlab_metrics(self):
        rid = self.c.runs(sweep=self.sweep["id"])[0]["id"]
        hist = self.c.run_history(rid, names=["train_loss", "val_acc"], frame=False)
        out = cli("metrics", str(rid), "--names", "train_loss,val_acc", "--csv").stdout.decode()
        table = list(csv.reader(io.StringIO(out)))
        self.assertEqual(table[0][0], "step")
        self.assertEqual(len(table) - 1, len(hist))
        for h, line in zip(hist, table[1:]):
            row = dict(zip(table[0], line))
            self.assertEqual(int(row["step"]), h["step"])
            for k in ("train_loss", "val_acc"):
                self.assertTrue(same(h[k], row[k]), (k, h[k], row[k]))
        # The long form of the whole sweep holds the same points.
        pts = self.c.metrics(sweep=self.sweep, names=["val_acc"], frame=False)
        mine = [p["value"] for p in pts if p["run"] == rid]
        self.assertEqual(mine, [h["val_acc"] for h in hist if h["val_acc"] is not None])
        long_csv = cli("metrics", "--sweep", str(self.sweep["id"]), "--names", "val_acc")
        lines = long_csv.stdout.decode().splitlines()
        self.assertEqual(lines[0], "run,name,step,value,time")
        self.assertEqual(len(lines) - 1, len(pts))

    def test_filters_and_order(self):
        sid = self.sweep["id"]
        fp32 = self.c.runs(filter='sweep = %d and arith.forward.mac.acc = "fp32"' % sid)
        self.assertEqual(len(fp32), 2)
        self.assertTrue(all(r["name"].find("fp32") >= 0 for r in fp32))
        ordered = self.c.runs(filter="sweep = %d" % sid, order_by="-metric.val_acc")
        accs = [r["summary"]["val_acc"] for r in ordered]
        self.assertEqual(accs, sorted(accs, reverse=True))
        # Pages of one under the same order give the same sequence.
        paged, cursor = [], None
        while True:
            d = self.c.request("GET", "/api/v1/runs", params={
                "filter": "sweep = %d" % sid, "order_by": "-metric.val_acc", "limit": 1,
                "cursor": cursor})
            paged += [r["id"] for r in d["runs"]]
            cursor = d["next_cursor"]
            if not cursor:
                break
        self.assertEqual(paged, [r["id"] for r in ordered])
        self.assertEqual(len(self.c.runs(filter="train.seed in (2) and sweep = %d" % sid)), 2)
        out = cli("runs", "--filter", "sweep = %d and metric.val_acc >= 0" % sid, "--order-by",
                  "-metric.val_acc", "--json").stdout
        d = json.loads(out)
        self.assertEqual([r["id"] for r in d["runs"]], [r["id"] for r in ordered])
        self.assertEqual(d["runs"][0]["spec"]["model"]["arch"], "mlp", "--json has the specs")

    def test_bad_filters_are_400(self):
        for bad, field in (("nope = 1", "?filter"), ("metric.val_acc >", "?filter"),
                           ("tag < 3", "?filter")):
            with self.assertRaises(qlab.Error) as e:
                self.c.runs(filter=bad)
            self.assertEqual((e.exception.status, e.exception.code, e.exception.field),
                             (400, "bad_param", field), bad)
        with self.assertRaises(qlab.Error) as e:
            self.c.runs(order_by="-no.such.field")
        self.assertEqual((e.exception.status, e.exception.field), (400, "?order_by"))
        with self.assertRaises(qlab.Error) as e:
            self.c.request("GET", "/api/v1/runs", params={"bogus.param": "1"})
        self.assertEqual(e.exception.status, 400)
        r = cli("runs", "--filter", "nope = 1", ok=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"unknown field 'nope'", r.stderr)

    def test_tags_notes_rename(self):
        rid = self.c.runs(sweep=self.sweep["id"])[1]["id"]
        cli("tag", str(rid), "good", "study")
        self.assertEqual(self.c.run(rid)["tags"], ["good", "study"])
        cli("tag", str(rid), "--remove", "study")
        cli("note", str(rid), "**best** so far")
        self.assertEqual(cli("note", str(rid)).stdout.decode(), "**best** so far\n")
        cli("rename", str(rid), "the-good-one")
        r = self.c.run(rid)
        self.assertEqual((r["name"], r["tags"], r["note"]),
                         ("the-good-one", ["good"], "**best** so far"))
        self.assertEqual([x["id"] for x in self.c.runs(filter="tag = good")], [rid])
        s = self.c.tag(sweep=self.sweep, add=["pysweep"])
        self.assertEqual(s["tags"], ["pysweep"])
        self.c.note("sweep note", sweep=self.sweep)
        listed = self.c.sweeps(filter="tag = pysweep")
        self.assertEqual([x["id"] for x in listed], [self.sweep["id"]])
        self.assertEqual(listed[0]["note"], "sweep note")
        with self.assertRaises(qlab.Error) as e:
            self.c.tag(run=rid, add=["bad tag"])
        self.assertEqual((e.exception.status, e.exception.field), (400, "/add_tags/0"))

    def test_validate_reports_everything_and_warns(self):
        bad = {"name": "x", "model": {"arch": "lenet5"}, "dataset": {"name": "fashion-mnist"},
               "arith": {"forward": {"mac": {"acc": "e6m55", "cfg": 9}}}}
        v = self.c.validate(bad)
        self.assertFalse(v["valid"])
        fields = [e["field"] for e in v["errors"]]
        self.assertIn("/arith/forward/mac/acc", fields)
        self.assertIn("/arith/forward/mac/cfg", fields)
        with self.assertRaises(qlab.Error) as e:
            self.c.submit(bad)
        self.assertEqual(e.exception.code, "invalid_spec")
        self.assertEqual([x["field"] for x in e.exception.errors], fields)
        gpu = {"name": "g", "model": {"arch": "mlp", "hidden": [8]},
               "dataset": {"name": "synthetic"}, "device": {"kind": "gpu"}}
        v = self.c.validate(gpu)
        self.assertTrue(v["valid"], v)
        self.assertEqual([w["code"] for w in v["warnings"]], ["no_device"])
        w1 = [w for w in self.c.workers() if w["name"] == "w1"][0]
        mnist = {"name": "m", "model": {"arch": "mlp", "hidden": [8]},
                 "dataset": {"name": "mnist"}}
        if "mnist" in w1["datasets"]:
            self.skipTest("this machine has MNIST installed: no dataset warning to see")
        v = self.c.validate(mnist)
        self.assertEqual([w["code"] for w in v["warnings"]], ["no_dataset"], v)
        self.assertIn("w1", v["warnings"][0]["message"])
        sv = self.c.validate(dict(SWEEP, base=dict(SWEEP["base"], device={"kind": "fpga"})))
        self.assertTrue(sv["valid"])
        self.assertEqual(sv["runs"], 4)
        self.assertEqual([w["code"] for w in sv["warnings"]], ["no_device"], "one per problem")

    def test_upload_is_idempotent_and_keeps_the_checkpoint(self):
        d = os.path.join(TMP, "rundir")
        os.makedirs(d, exist_ok=True)
        spec = dict(SWEEP["base"], name="local-run")
        with open(os.path.join(d, "spec.json"), "w") as f:
            json.dump(spec, f)
        env = dict(os.environ, QLAB_SERVER=URL, QLAB_TOKEN=ADMIN)
        t = subprocess.run([os.path.join(BIN, "qlab"), "train", os.path.join(d, "spec.json"),
                            "--quiet", "--threads", "1", "--metrics",
                            os.path.join(d, "metrics.jsonl"), "--checkpoint-dir", d],
                           capture_output=True, env=env)
        self.assertEqual(t.returncode, 0, t.stderr)
        first = int(cli("upload", d, "--tag", "laptop").stdout)
        again = int(cli("upload", d).stdout)
        self.assertEqual(first, again, "the same files are the same run")
        r = self.c.run(first)
        self.assertEqual((r["state"], r["imported"], r["tags"], r["submitted_by"]),
                         ("succeeded", True, ["laptop"], "alice"))
        with open(os.path.join(d, "metrics.jsonl")) as f:
            epochs = [json.loads(x) for x in f if '"epoch"' in x.split(",")[0]]
        self.assertEqual(r["summary"]["val_acc"], epochs[-1]["val_acc"])
        self.assertEqual(r["spec"]["name"], "local-run")
        ck = self.c.request("GET", "/api/v1/runs/%d/checkpoint" % first, raw="bytes",
                            accept="application/octet-stream")
        with open(os.path.join(d, "checkpoint.qck"), "rb") as f:
            self.assertEqual(ck, f.read())
        # A queued run's checkpoint still needs its lease.
        with self.assertRaises(qlab.Error) as e:
            self.c.request("PUT", "/api/v1/runs/%d/checkpoint" % self.sweep_run_id(), body={})
        self.assertEqual(e.exception.status, 400)

    def sweep_run_id(self):
        return self.c.runs(sweep=self.sweep["id"], limit=1)[0]["id"]

    def test_delete_from_cli(self):
        victim = self.c.submit(dict(SWEEP["base"], name="to-delete", device={"kind": "fpga"}))
        r = cli("rm", str(victim["id"]), ok=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        with self.assertRaises(qlab.Error) as e:
            self.c.run(victim)
        self.assertEqual(e.exception.status, 404)


class Repro(unittest.TestCase):
    """scripts/repro.py: two rows, one epoch on 256 images, recorded with
    --upload, then the table rendered from the service alone."""

    def test_table_from_the_service(self):
        if not os.path.exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"):
            self.skipTest("Fashion-MNIST is not installed (Debian: dataset-fashion-mnist)")
        env = dict(os.environ, QLAB_SERVER=URL, QLAB_TOKEN=ADMIN)
        common = [sys.executable, os.path.join(ROOT, "scripts", "repro.py"), "--qlab",
                  os.path.join(BIN, "qlab"), "--only", "8", "9", "--tag", "repro-test"]
        local, served = os.path.join(TMP, "local.md"), os.path.join(TMP, "served.md")
        r = subprocess.run(common + ["--upload", "--epochs", "1", "--train-limit", "256",
                                     "--val-limit", "256", "--threads", "1", "--out", local],
                           capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run(common + ["--from-server", "--out", served], capture_output=True,
                           text=True, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)

        def rows(path):
            with open(path) as f:
                text = f.read()
            return text, {int(line.split("|")[1]): line.split("|")[2:-2]  # all but wall s
                          for line in text.splitlines() if line.startswith("| ") and
                          line.split("|")[1].strip().isdigit()}
        text, got = rows(served)
        _, want = rows(local)
        self.assertEqual(sorted(got), [8, 9])
        self.assertEqual(got, want, "the service's table equals the one trained here")
        self.assertIn("1 epochs on the first 256 training images", text)
        self.assertIn("--from-server", text)
        acc = {r["spec"]["name"]: r["summary"]["val_acc"]
               for r in qlab.Client(URL, READ).runs(filter='tag = "repro-test"', spec=True)}
        self.assertEqual(len(acc), 2)
        for v in acc.values():
            self.assertIn(" %.4f " % v, text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
