"""A minimal PEP 517 build backend for the qlab client, standard library
only: a pure-Python wheel is a zip of the package plus three metadata
files, and an sdist a tarball of the source. It reads the name and version
from pyproject.toml's [project] table (the two lines it needs), so the
client installs offline with plain `pip install ./clients/python`."""
import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "qlab"
TAG = "py3-none-any"


def _project():
    text = open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8").read()
    section = text.split("[project]", 1)[1].split("\n[", 1)[0]

    def field(key):
        m = re.search(r'^%s\s*=\s*"([^"]*)"' % key, section, re.M)
        return m.group(1) if m else ""
    return field("name"), field("version"), field("description"), field("requires-python")


def _metadata():
    name, version, summary, requires = _project()
    lines = ["Metadata-Version: 2.1", "Name: " + name, "Version: " + version,
             "Summary: " + summary]
    if requires:
        lines.append("Requires-Python: " + requires)
    lines += ["Provides-Extra: pandas", "Requires-Dist: pandas; extra == \"pandas\""]
    return "\n".join(lines) + "\n"


def _sources():
    for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, PACKAGE)):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for f in sorted(filenames):
            if f.endswith(".py"):
                full = os.path.join(dirpath, f)
                yield full, os.path.relpath(full, ROOT).replace(os.sep, "/")


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (arcname, digest, len(data))


def _wheel(wheel_directory, files):
    name, version = _project()[:2]
    dist = "%s-%s" % (name, version)
    path = os.path.join(wheel_directory, "%s-%s.whl" % (dist, TAG))
    info = dist + ".dist-info"
    meta = {
        info + "/METADATA": _metadata().encode(),
        info + "/WHEEL": ("Wheel-Version: 1.0\nGenerator: qlab_build\nRoot-Is-Purelib: true\n"
                          "Tag: %s\n" % TAG).encode(),
    }
    record = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for arcname, data in list(files) + list(meta.items()):
            z.writestr(arcname, data)
            record.append(_record_line(arcname, data))
        record.append(info + "/RECORD,,")
        z.writestr(info + "/RECORD", "\n".join(record) + "\n")
    return os.path.basename(path)


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, ((arc, open(full, "rb").read()) for full, arc in _sources()))


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    """A wheel whose .pth file puts this source tree on sys.path."""
    return _wheel(wheel_directory, [("qlab_editable.pth", (ROOT + "\n").encode())])


def build_sdist(sdist_directory, config_settings=None):
    name, version = _project()[:2]
    base = "%s-%s" % (name, version)
    path = os.path.join(sdist_directory, base + ".tar.gz")
    with tarfile.open(path, "w:gz") as t:
        for rel in ["pyproject.toml", "_build/qlab_build.py"] + [a for _, a in _sources()]:
            t.add(os.path.join(ROOT, rel), arcname=base + "/" + rel)
        pkg = _metadata().encode()
        ti = tarfile.TarInfo(base + "/PKG-INFO")
        ti.size = len(pkg)
        t.addfile(ti, io.BytesIO(pkg))
    return os.path.basename(path)
