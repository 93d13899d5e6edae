#!/usr/bin/env python3
"""End-to-end tests of the service over HTTPS and with tokens: qlab-server
with --tls-cert/--tls-key and a token file on a non-loopback address, a
qlab-worker that registers with a join token and verifies the server with
--cacert (QLAB_CACERT), and the qlab CLI doing the same, all with a
certificate the openssl command makes here. Reuses test_worker.py's process
helpers and runner.

Usage: BIN=build/bin tests/worker/test_tls.py [TEST...]"""
import json, os, shutil, ssl, subprocess, sys, urllib.error, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_worker as tw  # noqa: E402

ADMIN = "admin-" + "a" * 24
JOIN = "join-" + "j" * 24


class Skip(Exception):
    pass


def make_cert(d):
    """A self-signed certificate for 127.0.0.1 and localhost (the test CA)."""
    if not shutil.which("openssl"):
        raise Skip("the openssl command is not installed (Debian: openssl)")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


class TlsServer(tw.Server):
    """qlab-server on 0.0.0.0 (so tokens and TLS are required), reached at
    https://127.0.0.1:PORT with the test CA and the admin token."""

    def __init__(self, d, cert, key, ttl=2.0):
        self.d = d
        tokens = os.path.join(d, "tokens")
        with open(tokens, "w") as f:
            f.write("admin %s\njoin %s\n" % (ADMIN, JOIN))
        args = [os.path.join(tw.BIN, "qlab-server"), "--listen", "0.0.0.0:0",
                "--db", os.path.join(d, "qlab.db"), "--web", "", "--lease-ttl", str(ttl),
                "--heartbeat", str(ttl / 4), "--token-file", tokens,
                "--tls-cert", cert, "--tls-key", key]
        self.proc = tw.Proc(args, os.path.join(d, "server.log"))
        line = self.proc.p.stdout.readline().decode()
        if not line.startswith("listening on https://"):
            raise RuntimeError("server did not start with TLS: %r\n%s" % (line, self.proc.text()[-2000:]))
        self.port = int(line.split()[2].rsplit(":", 1)[1])
        self.url = "https://127.0.0.1:%d" % self.port
        self.ctx = ssl.create_default_context(cafile=cert)

    def call(self, method, path, body=None, timeout=10):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              "Authorization": "Bearer " + ADMIN})
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.ctx) as r:
                raw = r.read()
                js = "json" in (r.headers.get("Content-Type") or "")
                return r.status, (json.loads(raw) if raw and js else raw)
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, (json.loads(raw) if raw else None)


def test_tls_end_to_end(d):
    """Server, worker and CLI over https with a certificate made here."""
    cert, key = make_cert(d)
    srv = TlsServer(d, cert, key)
    w = tw.worker(srv.url, d, "w", ["--token", JOIN], env={"QLAB_CACERT": cert})
    s = tw.spec("tls", epochs=1)
    rid = srv.submit(s)
    tw.wait_for(lambda: srv.run(rid)["state"] == "succeeded", 60, "the run to succeed over TLS")
    tw.check_metrics(srv, rid, s)
    assert w.alive(), w.text()[-2000:]

    qlab = os.path.join(tw.BIN, "qlab")
    out = subprocess.run([qlab, "runs", "--server", srv.url, "--token", ADMIN, "--cacert", cert,
                          "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert [r["id"] for r in json.loads(out.stdout)["runs"]] == [rid], out.stdout
    # QLAB_CACERT works as well as the flag.
    env = dict(os.environ, QLAB_CACERT=cert, QLAB_TOKEN=ADMIN, QLAB_SERVER=srv.url)
    out = subprocess.run([qlab, "runs", "--json"], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    # Without the CA the CLI refuses the server (no silent fallback to trust).
    env.pop("QLAB_CACERT")
    out = subprocess.run([qlab, "runs", "--json"], capture_output=True, text=True, env=env)
    assert out.returncode != 0, "the CLI trusted an unknown CA: %s" % out.stdout
    assert "certificate" in out.stderr.lower() or "ssl" in out.stderr.lower(), out.stderr


def test_worker_refuses_an_unknown_ca(d):
    """A worker without --cacert does not register with a server whose
    certificate it cannot verify; it keeps retrying and says why."""
    cert, key = make_cert(d)
    srv = TlsServer(d, cert, key)
    w = tw.worker(srv.url, d, "w", ["--token", JOIN])
    tw.wait_for(lambda: "certificate" in w.text().lower() or "ssl" in w.text().lower(), 20,
                "the worker to report the TLS failure")
    assert srv.api("GET", "/workers")["workers"] == [], "registered over an unverified TLS link"
    assert w.alive()


TESTS = [test_tls_end_to_end, test_worker_refuses_an_unknown_ca]


def run_one(t):
    def wrapped(d):
        try:
            t(d)
        except Skip as e:
            print("# SKIPPED %s: %s" % (t.__name__[5:], e))
    wrapped.__name__ = t.__name__
    return wrapped


if __name__ == "__main__":
    tw.TESTS = [run_one(t) for t in TESTS]
    sys.exit(tw.main())
