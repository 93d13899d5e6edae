#!/usr/bin/env python3
"""A small in-memory stand-in for qlab-server's worker-facing API (docs/api.md),
with fault modes, for the worker's bad-answer test: `--mode garbage` answers
every worker call with 200 and a body that is not JSON, `--mode 500` with
internal errors, `--mode slow` sleeps --delay seconds before answering,
`--mode ok` behaves. POST /_mode {"mode": ...} switches at run time, so a test
can check that the worker recovers. Prints `listening on http://127.0.0.1:PORT`.
Standard library only."""
import argparse, json, re, sys, threading, time, zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Condition()
state = {"mode": "ok", "delay": 5.0, "workers": 0, "runs": {}, "next_run": 1,
         "calls": {}, "lease_ttl": 10.0}


def new_run(spec):
    rid = state["next_run"]
    state["next_run"] += 1
    state["runs"][rid] = {"id": rid, "name": spec.get("name", ""), "state": "queued",
                          "spec": spec, "lease": None, "points": {}, "ckpt": None,
                          "error": None, "cancel": False, "created": time.time(),
                          "started": None}
    lock.notify_all()
    return rid


def run_view(r):
    return {k: r[k] for k in ("id", "name", "state", "error", "created", "started")}


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, obj=None, raw=None, ctype="application/json"):
        body = raw if raw is not None else (b"" if obj is None else json.dumps(obj).encode())
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def err(self, status, code, msg=""):
        self.reply(status, {"error": {"code": code, "message": msg, "field": ""}})

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def handle_any(self, method):
        raw = self.body()
        path = self.path.split("?")[0]
        with lock:
            key = method + " " + re.sub(r"/\d+", "/N", path)
            state["calls"][key] = state["calls"].get(key, 0) + 1
            mode = state["mode"]
        worker_call = "/workers/" in path or re.search(r"/runs/\d+/(start|metrics|checkpoint|complete|release)$", path)
        if path == "/_mode":
            with lock:
                state.update(json.loads(raw))
            return self.reply(200, {"ok": True})
        if path == "/_state":
            with lock:
                return self.reply(200, {"calls": state["calls"], "mode": state["mode"],
                                        "runs": {str(k): run_view(r) for k, r in state["runs"].items()}})
        if worker_call and mode == "garbage":
            return self.reply(200, raw=b"<html>not json{{", ctype="text/html")
        if worker_call and mode == "500":
            return self.err(500, "internal", "fault injected")
        if worker_call and mode == "slow":
            time.sleep(state["delay"])
        try:
            self.route(method, path, raw)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def route(self, method, path, raw):
        m = re.fullmatch(r"/api/v1(/.*)", path)
        if not m:
            return self.err(404, "not_found")
        p = m.group(1)
        if p == "/experiments" and method == "POST":
            with lock:
                rid = new_run(json.loads(raw))
            return self.reply(201, {"run": {"id": rid}})
        if p == "/workers/register":
            with lock:
                state["workers"] += 1
                wid = state["workers"]
            return self.reply(201, {"worker": {"id": wid}, "token": "tok%d" % wid,
                                    "heartbeat_interval": 1.0, "lease_ttl": state["lease_ttl"]})
        m = re.fullmatch(r"/workers/(\d+)/heartbeat", p)
        if m:
            req = json.loads(raw)
            out = []
            with lock:
                for e in req.get("runs", []):
                    r = state["runs"].get(e["run"])
                    act = "continue"
                    if not r or r["lease"] != e["lease"]:
                        act = "abandon"
                    elif r["cancel"]:
                        act = "cancel"
                    out.append({"run": e["run"], "action": act})
            return self.reply(200, {"runs": out})
        m = re.fullmatch(r"/workers/(\d+)/lease", p)
        if m:
            req = json.loads(raw)
            deadline = time.time() + min(req.get("wait", 0), 30)
            with lock:
                while True:
                    for r in sorted(state["runs"].values(), key=lambda r: r["id"]):
                        if r["state"] == "queued":
                            r["state"] = "leased"
                            r["lease"] = "L%d-%f" % (r["id"], time.time())
                            ck = r["ckpt"]
                            return self.reply(200, {
                                "run": {"id": r["id"], "name": r["name"], "spec": r["spec"]},
                                "lease": r["lease"], "device": req["devices"][0],
                                "deadline": time.time() + 10,
                                "checkpoint": None if ck is None else
                                {"size": len(ck[1]), "crc32": "%08x" % zlib.crc32(ck[1]), "step": ck[0]}})
                    left = deadline - time.time()
                    if left <= 0:
                        break
                    lock.wait(left)
            return self.reply(204)
        m = re.fullmatch(r"/runs/(\d+)(/[a-z]+)?", p)
        if not m:
            return self.err(404, "not_found")
        with lock:
            r = state["runs"].get(int(m.group(1)))
            if not r:
                return self.err(404, "not_found")
            sub = m.group(2) or ""
            if sub == "" and method == "GET":
                return self.reply(200, {"run": run_view(r)})
            if sub == "/cancel":
                r["cancel"] = True
                return self.reply(200, {"run": run_view(r)})
            if sub == "/metrics" and method == "GET":
                series = {}
                for (step, name), v in sorted(r["points"].items()):
                    s = series.setdefault(name, {"step": [], "value": []})
                    s["step"].append(step)
                    s["value"].append(v)
                return self.reply(200, {"run": r["id"], "series": series})
            if sub == "/checkpoint" and method == "GET":
                if not r["ckpt"]:
                    return self.err(404, "not_found")
                return self.reply(200, raw=r["ckpt"][1], ctype="application/octet-stream")
            if self.headers.get("X-Qlab-Lease") != r["lease"]:
                return self.err(409, "stale_lease")
            if sub == "/start":
                r["state"] = "running"
                r["started"] = time.time()
                return self.reply(200, {"run": run_view(r)})
            if sub == "/metrics":
                acc = dup = 0
                for pt in json.loads(raw)["points"]:
                    k = (pt["step"], pt["name"])
                    if k in r["points"]:
                        dup += 1
                    else:
                        r["points"][k] = pt["value"]
                        acc += 1
                return self.reply(200, {"accepted": acc, "duplicates": dup,
                                        "action": "cancel" if r["cancel"] else "continue"})
            if sub == "/checkpoint" and method == "PUT":
                if "%08x" % zlib.crc32(raw) != self.headers.get("X-Qlab-Crc32", "").lower():
                    return self.err(400, "invalid_request", "crc mismatch")
                r["ckpt"] = (int(self.headers["X-Qlab-Step"]), raw)
                return self.reply(200, {"ok": True})
            if sub == "/complete":
                b = json.loads(raw)
                r["state"], r["error"], r["lease"] = b["state"], b.get("error"), None
                lock.notify_all()
                return self.reply(200, {"run": run_view(r)})
            if sub == "/release":
                r["state"], r["lease"] = "queued", None
                lock.notify_all()
                return self.reply(200, {"run": run_view(r)})
        return self.err(404, "not_found")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", default="ok", choices=["ok", "garbage", "500", "slow"])
    ap.add_argument("--delay", type=float, default=5.0)
    a = ap.parse_args()
    state["mode"], state["delay"] = a.mode, a.delay
    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    print("listening on http://127.0.0.1:%d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
