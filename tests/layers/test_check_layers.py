#!/usr/bin/env python3
"""Tests of scripts/check_layers.py: the real tree passes, and each kind of
violation, planted in a copy of the tree or in a small tree of its own, makes
the check fail with a message that names the file, the line and the rule."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHECK = os.path.join(ROOT, "scripts", "check_layers.py")


def run_check(root, *objects, obj_root=None):
    args = [sys.executable, CHECK, "--root", root]
    if objects:
        args += ["--obj-root", obj_root] + list(objects)
    p = subprocess.run(args, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write(text)


class RealTree(unittest.TestCase):
    def test_the_tree_keeps_its_layers(self):
        rc, out = run_check(ROOT)
        self.assertEqual(rc, 0, out)
        self.assertIn("base -> simd -> num", out)

    def test_a_wrong_include_in_a_copy_of_the_tree_fails(self):
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(os.path.join(ROOT, "core"), os.path.join(tmp, "core"))
            victim = os.path.join(tmp, "core", "src", "nn", "nn_pass.c")
            with open(victim) as fh:
                lines = fh.read().split("\n")
            lines.insert(1, '#include "qcore/spec.h"')
            with open(victim, "w") as fh:
                fh.write("\n".join(lines))
            rc, out = run_check(tmp)
            self.assertEqual(rc, 1, out)
            self.assertIn("core/src/nn/nn_pass.c:2: layer nn includes qcore/spec.h of layer spec",
                          out)


class Planted(unittest.TestCase):
    """Each violation alone in an otherwise empty tree."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        write(self.tmp, "core/include/qcore/error.h", "/* base */\n")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def expect(self, needle):
        rc, out = run_check(self.tmp)
        self.assertEqual(rc, 1, out)
        self.assertIn(needle, out)

    def test_clean_tree_passes(self):
        write(self.tmp, "core/src/num/ok.c", '#include "qcore/error.h"\n#include <stdio.h>\n')
        rc, out = run_check(self.tmp)
        self.assertEqual(rc, 0, out)

    def test_internal_header_of_a_higher_layer(self):
        write(self.tmp, "core/src/num/bad.c", '#include "nn/nn_impl.h"\n')
        self.expect("core/src/num/bad.c:1: layer num includes nn/nn_impl.h of layer nn")

    def test_public_header_including_a_higher_one(self):
        write(self.tmp, "core/include/qcore/format.h", '#include "qcore/train.h"\n')
        self.expect("core/include/qcore/format.h:1: layer num includes qcore/train.h of layer train")

    def test_jansson_outside_spec(self):
        write(self.tmp, "core/src/train/bad.c", "#include <jansson.h>\n")
        self.expect("core/src/train/bad.c:1: includes <jansson.h>")

    def test_mpfr_outside_ref(self):
        write(self.tmp, "core/src/num/bad.c", "#include <mpfr.h>\n")
        self.expect("core/src/num/bad.c:1: includes <mpfr.h>")

    def test_service_libraries_in_core(self):
        for i, h in enumerate(["microhttpd.h", "sqlite3.h", "uv.h", "curl/curl.h"]):
            write(self.tmp, f"core/src/spec/bad{i}.c", f"#include <{h}>\n")
        rc, out = run_check(self.tmp)
        self.assertEqual(rc, 1, out)
        for i, h in enumerate(["microhttpd.h", "sqlite3.h", "uv.h", "curl/curl.h"]):
            self.assertIn(f"core/src/spec/bad{i}.c:1: includes <{h}>", out)

    def test_libuv_in_the_server(self):
        write(self.tmp, "server/bad.c", "#include <uv.h>\n")
        self.expect("server/bad.c:1: includes <uv.h>: only worker/")

    def test_sqlite_in_the_worker(self):
        write(self.tmp, "worker/bad.c", "#include <sqlite3.h>\n")
        self.expect("worker/bad.c:1: includes <sqlite3.h>")

    def test_file_outside_a_layer(self):
        write(self.tmp, "core/src/stray.c", "int x;\n")
        self.expect("core/src/stray.c: a file directly in core/src/")

    def test_unknown_layer_folder(self):
        write(self.tmp, "core/src/misc/x.c", "int x;\n")
        self.expect("core/src/misc/x.c: core/src/misc/ is no layer")

    def test_public_header_without_a_layer(self):
        write(self.tmp, "core/include/qcore/newthing.h", "/* */\n")
        self.expect("core/include/qcore/newthing.h: public header without a layer")


@unittest.skipUnless(shutil.which("cc") and shutil.which("nm"), "needs cc and nm")
class Objects(unittest.TestCase):
    """The symbol check, on objects compiled from planted files."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.obj = os.path.join(self.tmp, "obj")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def compile(self, rel, text):
        write(self.tmp, rel, text)
        out = os.path.join(self.obj, rel[:-2] + ".o")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        subprocess.run(["cc", "-c", os.path.join(self.tmp, rel), "-o", out], check=True)
        return out

    def test_call_circle_between_two_files(self):
        a = self.compile("core/src/spec/a.c", "int b(void);\nint a(void) { return b(); }\n")
        b = self.compile("core/src/spec/b.c", "int a(void);\nint b(void) { return a(); }\n")
        rc, out = run_check(self.tmp, a, b, obj_root=self.obj)
        self.assertEqual(rc, 1, out)
        self.assertIn("call circle between core/src/spec/a.c, core/src/spec/b.c", out)

    def test_call_into_a_higher_layer(self):
        lo = self.compile("core/src/num/lo.c", "int hi(void);\nint lo(void) { return hi(); }\n")
        hi = self.compile("core/src/nn/hi.c", "int hi(void) { return 1; }\n")
        rc, out = run_check(self.tmp, lo, hi, obj_root=self.obj)
        self.assertEqual(rc, 1, out)
        self.assertIn("core/src/num/lo.c: calls into core/src/nn/hi.c, layer nn above", out)

    def test_calls_downward_pass(self):
        lo = self.compile("core/src/num/lo.c", "int lo(void) { return 1; }\n")
        hi = self.compile("core/src/nn/hi.c", "int lo(void);\nint hi(void) { return lo(); }\n")
        rc, out = run_check(self.tmp, lo, hi, obj_root=self.obj)
        self.assertEqual(rc, 0, out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
