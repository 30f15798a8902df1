"""The unit tests' shared fixtures."""
import os
import stat

import pytest

from vzzfs_hooks.system import lzc, zfs

FAKE = """#!/bin/sh
echo "$0 $*" >> "%(log)s"
if [ -f "%(dir)s/stdout" ]; then cat "%(dir)s/stdout"; fi
if [ -f "%(dir)s/stderr" ]; then cat "%(dir)s/stderr" >&2; exit 1; fi
exit 0
"""


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A fake zfs and zpool; write fake.stderr to make them fail with that text."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "calls"
    for prog in ("zfs", "zpool"):
        p = bindir / prog
        p.write_text(FAKE % {"log": log, "dir": tmp_path})
        p.chmod(p.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", "%s:%s" % (bindir, os.environ["PATH"]))
    monkeypatch.setattr(zfs, "pyzfs", None)
    monkeypatch.setattr(lzc, "load", lambda: None)

    class Fake(object):
        def calls(self):
            return [l.split(" ", 1)[1] if " " in l else ""
                    for l in log.read_text().splitlines()] if log.exists() else []

        def fail(self, text):
            (tmp_path / "stderr").write_text(text)

        def output(self, text):
            (tmp_path / "stdout").write_text(text)
    return Fake()
