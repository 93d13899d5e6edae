#!/usr/bin/env python3
"""`make install` and the systemd units, checked for real:

- install_layout: `make install PREFIX=/usr/local DESTDIR=tmp` lays out the
  binaries, web files, schemas, docs, recipes and units as a Debian package
  does, with every @PATH@ of the units filled in;
- installed_server_serves_its_web_files: the installed qlab-server, started
  from a directory without web/, finds PREFIX/share/qlab/web by itself and
  serves every installed file byte for byte; a wrong --web is a clear error;
  its runs carry hardware costs from PREFIX/share/qlab/hw (the committed
  cost table, no synthesis);
- source_tree_server: build/bin/qlab-server from the repository root still
  serves ./web (make demo), and elsewhere warns that it serves no dashboard;
- systemd_units_verify: `systemd-analyze verify` prints nothing for the
  installed units (a server and a worker instance), while a broken copy
  makes it speak; `systemd-analyze security` rates both below 2.5; the
  sysusers.d file creates the qlab user (systemd-sysusers --root);
- sbatch_script: deploy/slurm/qlab-worker.sbatch parses and refuses to run
  without QLAB_SERVER or outside SLURM, saying why.

Usage: BIN=build/bin tests/deploy/test_install.py [TEST...]. Prints
"ok"/"not ok"/"skip" lines and "N passed, N failed[, N skipped]"."""
import json, os, re, shutil, subprocess, sys, tempfile, time, traceback, urllib.error, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
BIN = os.path.abspath(os.environ.get("BIN", os.path.join(REPO, "build", "bin")))
BUILD = os.path.dirname(BIN)
TMP = tempfile.mkdtemp(prefix="qlab-deploy-test.")
PREFIX = "/usr/local"
DEST = os.path.join(TMP, "dest")
PROCS = []


class Skip(Exception):
    pass


def make_install(*args):
    r = subprocess.run(["make", "-s", "-C", REPO, "BUILD=" + os.path.relpath(BUILD, REPO),
                        "install"] + list(args), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, "make install %s failed:\n%s%s" % (args, r.stdout, r.stderr)


def installed(*p):
    return os.path.join(DEST, PREFIX.lstrip("/"), *p)


def start_server(exe, cwd, *extra):
    d = tempfile.mkdtemp(dir=TMP)
    err = open(os.path.join(d, "server.err"), "w+b")
    p = subprocess.Popen([exe, "--listen", "127.0.0.1:0", "--db", os.path.join(d, "q.db")] +
                         list(extra), stdout=subprocess.PIPE, stderr=err, cwd=cwd)
    PROCS.append(p)
    line = p.stdout.readline().decode()
    err.seek(0)
    if not line.startswith("listening on "):
        raise AssertionError("server did not start: %r\n%s" % (line, err.read().decode()))
    # The line after "listening on" names the web directory (main.c).
    for _ in range(100):
        err.seek(0)
        text = err.read().decode()
        if "database " in text:
            break
        time.sleep(0.05)
    return line.split()[2].rstrip("/"), text, p


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers.get("Content-Type", "")


# ---- tests ----------------------------------------------------------------------

def test_install_layout():
    make_install("PREFIX=" + PREFIX, "DESTDIR=" + DEST)
    for b in ("qlab", "qlab-server", "qlab-worker"):
        assert os.access(installed("bin", b), os.X_OK), b
    want = [("share", "qlab", "web", "index.html"), ("share", "qlab", "web", "vendor", "uPlot.esm.js"),
            ("share", "qlab", "schema", "experiment.schema.json"),
            ("share", "qlab", "schema", "openapi.yaml"), ("share", "qlab", "slurm", "qlab-worker.sbatch"),
            ("share", "qlab", "hw", "rtl", "qarray.sv"), ("share", "qlab", "hw", "syn", "xilinx.ys"),
            ("share", "qlab", "hw", "cost-table.json"), ("share", "qlab", "hw", "calibration.json"),
            ("share", "qlab", "k8s", "server.yaml"), ("share", "doc", "qlab", "README.md"),
            ("share", "doc", "qlab", "deploy-slurm.md"), ("share", "doc", "qlab", "examples", "mlp.json"),
            ("share", "doc", "qlab", "examples", "studies", "cfg-ladder.json"),
            ("share", "doc", "qlab", "examples", "systemd", "worker.env"),
            ("lib", "systemd", "system", "qlab-server.service"),
            ("lib", "systemd", "system", "qlab-worker@.service"), ("lib", "sysusers.d", "qlab.conf")]
    for p in want:
        assert os.path.isfile(installed(*p)), "not installed: %s" % os.path.join(PREFIX, *p)
    # Nothing outside PREFIX (the units of a /usr/local install stay under it).
    outside = [os.path.join(r, f) for r, _, fs in os.walk(DEST) for f in fs
               if not os.path.join(r, f).startswith(installed())]
    assert not outside, outside
    # The dashboard's files, and only those (no npm build files).
    src = sorted(os.path.relpath(os.path.join(r, f), os.path.join(REPO, "web"))
                 for r, ds, fs in os.walk(os.path.join(REPO, "web"))
                 for f in fs if "node_modules" not in r and "/scripts" not in r + "/"
                 and not f.startswith(".") and not f.startswith("package"))
    web = installed("share", "qlab", "web")
    got = sorted(os.path.relpath(os.path.join(r, f), web) for r, _, fs in os.walk(web) for f in fs)
    assert got == src, "installed web files differ: %s" % sorted(set(got) ^ set(src))
    for u in ("qlab-server.service", "qlab-worker@.service"):
        text = open(installed("lib", "systemd", "system", u)).read()
        assert not re.search(r"@[A-Z]+@", text), "unfilled in %s: %s" % (u, re.findall(r"@[A-Z]+@", text))
        assert "ExecStart=/usr/local/bin/" in text, u
        assert "EnvironmentFile=" in text and "/etc/qlab/" in text, u


def test_installed_server_serves_its_web_files():
    if not os.path.exists(installed("bin", "qlab-server")):
        make_install("PREFIX=" + PREFIX, "DESTDIR=" + DEST)
    elsewhere = tempfile.mkdtemp(dir=TMP)  # no web/ here
    url, log, p = start_server(installed("bin", "qlab-server"), elsewhere, "--cost-jobs", "0")
    web = installed("share", "qlab", "web")
    assert "web " + os.path.realpath(web) in log, log
    st, body, _ = get(url + "/")
    assert st == 200 and body == open(os.path.join(web, "index.html"), "rb").read(), st
    n = 0
    for r, _, fs in os.walk(web):
        for f in fs:
            rel = os.path.relpath(os.path.join(r, f), web)
            st, body, ctype = get(url + "/" + rel)
            assert st == 200, "%s: HTTP %d" % (rel, st)
            assert body == open(os.path.join(r, f), "rb").read(), rel
            if rel.endswith(".js"):
                assert "javascript" in ctype, (rel, ctype)
            n += 1
    assert n > 20, n
    st, body, _ = get(url + "/healthz")
    assert st == 200 and b"true" in body, (st, body)
    # A run's hardware cost, from the installed hw/ (its committed table).
    req = urllib.request.Request(url + "/api/v1/experiments", method="POST",
                                 data=open(os.path.join(REPO, "examples", "mlp.json"), "rb").read(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        cost = json.loads(r.read())["run"]["cost"]
    assert cost and cost["status"] == "ok" and cost["lut"] > 0, cost
    p.terminate()
    assert p.wait(10) == 0
    # An explicit --web that does not exist: exit 2 naming it, not a silent 404.
    r = subprocess.run([installed("bin", "qlab-server"), "--listen", "127.0.0.1:0", "--db",
                        os.path.join(elsewhere, "x.db"), "--web", os.path.join(elsewhere, "nope")],
                       capture_output=True, text=True, timeout=10, cwd=elsewhere)
    assert r.returncode == 2 and "nope" in r.stderr and "No such file" in r.stderr, r.stderr


def test_source_tree_server():
    url, log, p = start_server(os.path.join(BIN, "qlab-server"), REPO)
    assert "web " + os.path.join(os.path.realpath(REPO), "web") in log, log
    st, body, _ = get(url + "/")
    assert st == 200 and body == open(os.path.join(REPO, "web", "index.html"), "rb").read()
    p.terminate()
    p.wait(10)
    # Outside the tree, with no installed copy beside build/bin: a warning, the API only.
    elsewhere = tempfile.mkdtemp(dir=TMP)
    url, log, p = start_server(os.path.join(BIN, "qlab-server"), elsewhere)
    assert "warning: no dashboard files" in log and "web (none)" in log, log
    assert get(url + "/")[0] == 404
    assert get(url + "/healthz")[0] == 200
    p.terminate()
    p.wait(10)


def test_systemd_units_verify():
    sa = shutil.which("systemd-analyze")
    if not sa:
        raise Skip("systemd-analyze is not installed (Debian package systemd)")
    # Installed under a real prefix (no DESTDIR), so that ExecStart exists.
    root = os.path.join(TMP, "sys")
    make_install("PREFIX=" + os.path.join(root, "usr"), "SYSCONFDIR=" + os.path.join(root, "etc"))
    units = os.path.join(root, "usr", "lib", "systemd", "system")
    os.symlink("qlab-worker@.service", os.path.join(units, "qlab-worker@gpu0.service"))
    probe = subprocess.run([sa, "verify", os.path.join(units, "qlab-server.service")],
                           capture_output=True, text=True, timeout=60)
    if "Failed to" in probe.stderr and "sysinit.target" in probe.stderr:
        raise Skip("systemd-analyze verify cannot load the system's units here: " + probe.stderr)
    for u in ("qlab-server.service", "qlab-worker@.service", "qlab-worker@gpu0.service"):
        r = subprocess.run([sa, "verify", os.path.join(units, u)], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0 and not r.stderr.strip() and not r.stdout.strip(), \
            "systemd-analyze verify %s:\n%s%s" % (u, r.stdout, r.stderr)
    # verify only warns (exit 0) about a bad value: its silence is the check,
    # and a broken copy must break it.
    bad = os.path.join(TMP, "bad")
    os.makedirs(bad)
    text = open(os.path.join(units, "qlab-server.service")).read()
    with open(os.path.join(bad, "qlab-server.service"), "w") as f:
        f.write(text.replace("ProtectSystem=strict", "ProtectSystem=strictt"))
    r = subprocess.run([sa, "verify", os.path.join(bad, "qlab-server.service")], capture_output=True,
                       text=True, timeout=60)
    assert "strictt" in r.stderr, "verify did not notice a bad value: %r" % r.stderr
    for u in ("qlab-server.service", "qlab-worker@gpu0.service"):
        r = subprocess.run([sa, "security", "--offline=true", "--threshold=25", u],
                           capture_output=True, text=True, timeout=60, cwd=units)
        level = [l for l in r.stdout.splitlines() if "Overall exposure level" in l]
        assert r.returncode == 0, "%s is exposed above 2.5: %s" % (u, level or r.stderr)
        print("# %s" % (level[0].strip("→ ") if level else u), flush=True)
    sysusers = shutil.which("systemd-sysusers")
    if sysusers:
        fake = os.path.join(TMP, "fakeroot")
        os.makedirs(os.path.join(fake, "etc"))
        r = subprocess.run([sysusers, "--root=" + fake,
                            os.path.join(root, "usr", "lib", "sysusers.d", "qlab.conf")],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        passwd = open(os.path.join(fake, "etc", "passwd")).read()
        assert any(l.startswith("qlab:") and l.endswith(":/var/lib/qlab:/usr/sbin/nologin")
                   for l in passwd.splitlines()), passwd


def test_sbatch_script():
    script = os.path.join(REPO, "deploy", "slurm", "qlab-worker.sbatch")
    r = subprocess.run(["bash", "-n", script], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "QLAB_"))}
    r = subprocess.run(["bash", script], capture_output=True, text=True, env=env, timeout=10)
    assert r.returncode == 2 and "QLAB_SERVER" in r.stderr, r.stderr
    env["QLAB_SERVER"] = "http://127.0.0.1:9"
    r = subprocess.run(["bash", script], capture_output=True, text=True, env=env, timeout=10)
    assert r.returncode != 0 and "SLURM_JOB_ID" in r.stderr, r.stderr


def test_container_recipe():
    """deploy/container: runtime-packages.txt names the package of every
    library the binaries link directly (a new dependency must join it), and
    the Containerfile copies every source folder the build reads."""
    here = os.path.join(REPO, "deploy", "container")
    listed = {l.strip() for l in open(os.path.join(here, "runtime-packages.txt"))
              if l.strip() and not l.startswith("#")}
    if not shutil.which("readelf") or not shutil.which("dpkg"):
        raise Skip("readelf or dpkg is missing")
    users = {}  # library path -> "soname (binary)" lines
    for b in ("qlab", "qlab-server", "qlab-worker"):
        exe = os.path.join(BIN, b)
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]",
                            subprocess.run(["readelf", "-d", exe], capture_output=True,
                                           text=True, check=True).stdout)
        out = subprocess.run(["ldd", exe], capture_output=True, text=True, check=True).stdout
        paths = dict(re.findall(r"^\s*(\S+) => (\S+)", out, re.M))
        # The dynamic loader has no "=>": ldd prints its path alone.
        paths.update({os.path.basename(p): p for p in re.findall(r"^\s*(/\S+) \(", out, re.M)})
        for lib in needed:
            path = os.path.realpath(paths.get(lib, lib))
            users.setdefault(path, []).append("%s (%s)" % (lib, b))
    # One dpkg -S for all (it reads every package's file list each time);
    # with merged /usr, dpkg may know a library by its /lib path.
    asked = sorted(users) + [p.replace("/usr/lib/", "/lib/", 1) for p in sorted(users)]
    r = subprocess.run(["dpkg", "-S"] + asked, capture_output=True, text=True)
    owner = {}
    for line in r.stdout.splitlines():
        pkg, path = line.split(": ", 1)
        owner[path.replace("/lib/", "/usr/lib/", 1) if path.startswith("/lib/") else path] = \
            pkg.split(":")[0]
    missing = {}
    for path, who in users.items():
        assert path in owner, "no Debian package owns %s, needed by %s" % (path, who)
        if owner[path] not in listed and owner[path] not in ("libc6", "libgcc-s1"):  # in every Debian
            missing[owner[path]] = who
    assert not missing, "runtime-packages.txt lacks %s" % missing
    cf = open(os.path.join(here, "Containerfile")).read()
    copied = set(re.findall(r"^COPY (?!--from)(\S+)", cf, re.M)) | \
        set(re.findall(r"^COPY Makefile (.*) \./$", cf, re.M)[0].split())
    if shutil.which("git") and os.path.isdir(os.path.join(REPO, ".git")) or \
            os.path.isfile(os.path.join(REPO, ".git")):
        top = set(subprocess.run(["git", "-C", REPO, "ls-files"], capture_output=True, text=True,
                                 check=True).stdout.split())
        # Not read by the build: tests, benchmarks, CI, the Python client
        # (pip-installed on researchers' machines, not in the image).
        top = {t.split("/")[0] for t in top} - {"tests", "bench", ".ci", ".clang-format",
                                                ".editorconfig", ".gitignore", "clients"}
        assert top <= copied | {"Makefile"}, "the Containerfile does not copy %s" % (top - copied)
    assert "runtime-packages.txt" in cf and "make install PREFIX=/usr" in cf


TESTS = [test_install_layout, test_installed_server_serves_its_web_files, test_source_tree_server,
         test_systemd_units_verify, test_sbatch_script, test_container_recipe]


def main():
    want = sys.argv[1:]
    passed = failed = skipped = 0
    for t in TESTS:
        name = t.__name__[5:]
        if want and name not in want:
            continue
        t0 = time.time()
        try:
            t()
            print("ok - %s (%.1f s)" % (name, time.time() - t0), flush=True)
            passed += 1
        except Skip as e:
            print("skip - %s: SKIPPED: %s" % (name, e), flush=True)
            skipped += 1
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
                if p.poll() is None:
                    p.kill()
                    p.wait()
            PROCS.clear()
    print("deploy: %d passed, %d failed%s" % (passed, failed,
                                               ", %d skipped" % skipped if skipped else ""))
    if failed == 0 and not os.environ.get("KEEP"):
        shutil.rmtree(TMP, ignore_errors=True)
    else:
        print("# files kept in " + TMP)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
