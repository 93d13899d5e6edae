"""The qlab-server REST client (docs/api.md), standard library only.

Tables come back as pandas DataFrames when pandas is importable and as
lists of dicts (one per row, keys in column order) otherwise; pass
``frame=False`` for lists of dicts always, ``frame=True`` to require pandas.
"""
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request

DEFAULT_SERVER = "http://127.0.0.1:8080"
FINISHED = ("succeeded", "failed", "canceled")


class Error(Exception):
    """An error answer of the server (or no answer at all).

    ``status`` is the HTTP status (0 when the server could not be reached),
    ``code`` the error code (``invalid_spec``, ``bad_param``, ...), ``field``
    the JSON pointer or ``?param`` it is about, and ``errors`` every error of
    a refused spec or sweep as ``{"code", "field", "message"}`` dicts.
    """

    def __init__(self, status, code, message, field="", errors=None):
        self.status, self.code, self.field = status, code, field
        self.message = message
        self.errors = errors or []
        where = " at %s" % field if field else ""
        super().__init__("%s %s%s: %s" % (status, code, where, message))


def _pandas():
    try:
        import pandas
        return pandas
    except ImportError:
        return None


def _table(rows, columns, frame):
    """rows (dicts) as a DataFrame with these columns, or as the list."""
    pd = _pandas() if frame is not False else None
    if frame is True and pd is None:
        raise ImportError("frame=True needs pandas (Debian: python3-pandas)")
    if pd is None:
        return rows
    return pd.DataFrame(rows, columns=columns)


def _load(doc):
    """A dict, a JSON string or a path to a JSON file, as a dict."""
    if isinstance(doc, dict):
        return doc
    if isinstance(doc, (str, os.PathLike)) and not str(doc).lstrip().startswith("{"):
        with open(doc, encoding="utf-8") as f:
            return json.load(f)
    return json.loads(doc)


def _id(x, kind):
    """An id from an int or from a run or sweep dict."""
    if isinstance(x, dict):
        if "id" not in x and isinstance(x.get(kind), dict):  # {"run": {...}} answers
            x = x[kind]
        return int(x["id"])
    return int(x)


class Client:
    """A connection to one qlab-server.

    ``server`` defaults to $QLAB_SERVER (else http://127.0.0.1:8080) and
    ``token`` to $QLAB_TOKEN; ``timeout`` is per request, in seconds.
    """

    def __init__(self, server=None, token=None, timeout=60.0):
        self.server = (server or os.environ.get("QLAB_SERVER") or DEFAULT_SERVER).rstrip("/")
        self.token = token if token is not None else os.environ.get("QLAB_TOKEN", "")
        self.timeout = timeout

    def __repr__(self):
        return "qlab.Client(%r)" % self.server

    # ---- transport ---------------------------------------------------------

    def request(self, method, path, body=None, params=None, accept="application/json",
                raw=False):
        """One request; the parsed JSON answer (the text with raw=True, the
        bytes with raw="bytes"). Error answers raise qlab.Error."""
        url = self.server + path
        if params:
            q = [(k, str(v)) for k, v in params.items() if v is not None]
            if q:
                url += "?" + urllib.parse.urlencode(q)
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Accept", accept)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                data = r.read()
            if raw == "bytes":
                return data
            text = data.decode("utf-8")
        except urllib.error.HTTPError as e:
            text = e.read().decode("utf-8", "replace")
            try:
                err = json.loads(text)["error"]
            except (ValueError, KeyError, TypeError):
                raise Error(e.code, "http_error", text[:200] or e.reason) from None
            raise Error(e.code, err.get("code", ""), err.get("message", ""), err.get("field", ""),
                        err.get("errors")) from None
        except (urllib.error.URLError, OSError) as e:
            raise Error(0, "unreachable", "cannot reach %s: %s" % (self.server, e)) from None
        if raw:
            return text
        return json.loads(text) if text else None

    def _pages(self, path, key, params, limit):
        """Every item of a cursor-paged list (at most `limit`)."""
        out, cursor = [], None
        while True:
            page = dict(params, limit=min(1000, limit - len(out)) if limit else 1000,
                        cursor=cursor)
            d = self.request("GET", path, params=page)
            out += d[key]
            cursor = d.get("next_cursor")
            if not cursor or (limit and len(out) >= limit):
                return out

    # ---- listing -----------------------------------------------------------

    def runs(self, filter=None, order_by=None, sweep=None, state=None, limit=None, spec=False):
        """Runs matching `filter` (docs/api.md, "Filters": 'metric.val_acc > 0.8
        and tag = good'), ordered by `order_by` ("-metric.val_acc"), as a list
        of dicts; spec=True includes each run's spec."""
        params = {"filter": filter, "order_by": order_by, "sweep": sweep,
                  "state": ",".join(state) if isinstance(state, (list, tuple)) else state,
                  "spec": 1 if spec else None}
        return self._pages("/api/v1/runs", "runs", params, limit)

    def run(self, run):
        """One run with its spec and lease history."""
        return self.request("GET", "/api/v1/runs/%d" % _id(run, "run"))["run"]

    def sweeps(self, filter=None, order_by=None, limit=None):
        """Sweeps, newest first unless order_by says otherwise."""
        return self._pages("/api/v1/sweeps", "sweeps", {"filter": filter, "order_by": order_by},
                           limit)

    def sweep(self, sweep):
        """One sweep with its counts by state, its document and its axes."""
        return self.request("GET", "/api/v1/sweeps/%d" % _id(sweep, "sweep"))["sweep"]

    def workers(self):
        return self.request("GET", "/api/v1/workers")["workers"]

    # ---- tables ------------------------------------------------------------

    def sweep_results(self, sweep, frame=None):
        """The sweep's results, one row per run: id, name, state, worker,
        timings, the swept parameters, metric.NAME (final) and best.NAME,
        cost.* and every spec field by its dotted path."""
        d = self.request("GET", "/api/v1/sweeps/%d/results" % _id(sweep, "sweep"))
        return _table(d["rows"], d["columns"], frame)

    def export_csv(self, sweep):
        """The same table as CSV text (what `qlab export` writes)."""
        return self.request("GET", "/api/v1/sweeps/%d/results" % _id(sweep, "sweep"),
                            params={"format": "csv"}, accept="text/csv", raw=True)

    def run_history(self, run, names=None, frame=None):
        """A run's metrics, one row per step: "step", then one column per
        metric (None, or NaN in a DataFrame, where a metric has no point)."""
        params = {"names": ",".join(names) if names else None}
        d = self.request("GET", "/api/v1/runs/%d/metrics" % _id(run, "run"), params=params)
        series = d["series"]
        rows = {}
        for name, s in series.items():
            for step, value in zip(s["step"], s["value"]):
                rows.setdefault(step, {"step": step})[name] = value
        columns = ["step"] + list(series)
        table = [{c: rows[s].get(c) for c in columns} for s in sorted(rows)]
        return _table(table, columns, frame)

    def metrics(self, runs=None, sweep=None, names=None, frame=None):
        """Every point of several runs or of a sweep, long form: run, name,
        step, value, time."""
        params = {"runs": ",".join(str(_id(r, "run")) for r in runs) if runs else None,
                  "sweep": _id(sweep, "sweep") if sweep is not None else None,
                  "names": ",".join(names) if names else None}
        pts = self.request("GET", "/api/v1/metrics", params=params)["points"]
        return _table(pts, ["run", "name", "step", "value", "time"], frame)

    # ---- submitting --------------------------------------------------------

    def validate(self, doc):
        """Every error of an experiment or sweep (dict, JSON text or file
        path) at once, and warnings about the workers registered now:
        {"valid", "errors", "warnings", ...}."""
        doc = _load(doc)
        kind = "sweeps" if "base" in doc else "experiments"
        return self.request("POST", "/api/v1/%s/validate" % kind, body=doc)

    def submit(self, doc, priority=None):
        """Submits an experiment or a sweep (a document with "base"); returns
        the new run or sweep (with "warnings" about the workers)."""
        doc = _load(doc)
        if "base" in doc:
            d = self.request("POST", "/api/v1/sweeps", body=doc)
            return dict(d["sweep"], warnings=d.get("warnings", []))
        d = self.request("POST", "/api/v1/experiments", body=doc,
                         params={"priority": priority})
        return dict(d["run"], warnings=d.get("warnings", []))

    def wait(self, obj=None, run=None, sweep=None, timeout=None, poll=2.0):
        """Waits until a run, or every run of a sweep, has finished; returns
        the final run or sweep. `obj` may be what submit returned."""
        if obj is not None:
            if isinstance(obj, dict) and "counts" in obj:
                sweep = obj
            elif isinstance(obj, dict):
                run = obj
            else:
                raise TypeError("wait(obj): pass submit()'s result, or run= or sweep=")
        if (run is None) == (sweep is None):
            raise TypeError("wait needs one of run= and sweep=")
        deadline = time.monotonic() + timeout if timeout else None
        while True:
            if sweep is not None:
                s = self.sweep(sweep)
                if sum(s["counts"][k] for k in FINISHED) >= s["runs"]:
                    return s
            else:
                r = self.run(run)
                if r["state"] in FINISHED:
                    return r
            if deadline and time.monotonic() >= deadline:
                raise TimeoutError("still running after %s s" % timeout)
            time.sleep(poll)

    def cancel(self, run=None, sweep=None):
        if sweep is not None:
            return self.request("POST", "/api/v1/sweeps/%d/cancel" % _id(sweep, "sweep"))
        return self.request("POST", "/api/v1/runs/%d/cancel" % _id(run, "run"))["run"]

    # ---- organising --------------------------------------------------------

    def _patch(self, run, sweep, body):
        if (run is None) == (sweep is None):
            raise TypeError("name one of run= and sweep=")
        if sweep is not None:
            return self.request("PATCH", "/api/v1/sweeps/%d" % _id(sweep, "sweep"),
                                body=body)["sweep"]
        return self.request("PATCH", "/api/v1/runs/%d" % _id(run, "run"), body=body)["run"]

    def tag(self, run=None, sweep=None, add=(), remove=(), set=None):
        """Adds and removes tags (or replaces the list with set=[...])."""
        body = {}
        if set is not None:
            body["tags"] = list(set)
        if add:
            body["add_tags"] = list(add)
        if remove:
            body["remove_tags"] = list(remove)
        return self._patch(run, sweep, body)

    def note(self, text, run=None, sweep=None):
        """Sets the markdown note."""
        return self._patch(run, sweep, {"note": text})

    def rename(self, name, run=None, sweep=None):
        return self._patch(run, sweep, {"name": name})

    def delete(self, run=None, sweep=None):
        """Deletes a run, or a sweep with its runs (metrics, events and
        checkpoints reclaimed)."""
        if (run is None) == (sweep is None):
            raise TypeError("name one of run= and sweep=")
        if sweep is not None:
            return self.request("DELETE", "/api/v1/sweeps/%d" % _id(sweep, "sweep"))
        return self.request("DELETE", "/api/v1/runs/%d" % _id(run, "run"))
