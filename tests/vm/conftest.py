"""Fixtures for tests on real ZFS inside the test VM (scripts/vm-run sets VZZFS_IN_VM).

Outside the VM these tests do not skip: collecting them is an error, so a
missing VM can never pass for a green run. Run them with scripts/test.
"""
import faulthandler
import os
import signal

import pytest

from harness import realvzctl, realvzctl7
from harness.vzctl import proc_stat
# the scratch node lives in tests/harness (bench/ uses it too); tests import it from here
from harness.node import POOL, REPO, ROOT, TestNode, sh

__all__ = ["POOL", "REPO", "ROOT", "TestNode", "sh"]  # what the test files import from here
from vzzfs_hooks.system import zfs

if not os.environ.get("VZZFS_IN_VM"):
    raise pytest.UsageError("tests/vm need the test VM with real ZFS: run scripts/test "
                            "(or scripts/vm-run -- /usr/bin/python3 -m pytest tests/vm)")


def pytest_report_header(config):
    """Which vzctl of each platform drives these tests, for a reader of CI's log."""
    if realvzctl.available():
        lines = ["vzctl: real, %s (%s); the stand-in only where a test says why"
                 % (realvzctl.version(), realvzctl.PROGRAM)]
    else:
        lines = ["vzctl: the real one is MISSING (scripts/build-vzctl); tests that need it fail"]
    if realvzctl7.available():
        lines.append("vzctl7: real, %s (%s, run in tests/harness/vz7ns; its ve cgroup stood in "
                     "for)" % (realvzctl7.version(), realvzctl7.STAGE))
    else:
        lines.append("vzctl7: the real one is MISSING (scripts/build-vzctl7); "
                     "tests/vm/test_vzctl7.py fails")
    return lines


TEST_TIMEOUT = int(os.environ.get("VZZFS_TEST_TIMEOUT", "900"))


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def processes_report():
    """Every user-space process: pid, parent, state, where it waits in the kernel,
    its command line and kernel stack. What a hung test's own Python stack cannot
    show: which command below it waits, and on what."""
    lines = []
    for pid in sorted((int(p) for p in os.listdir("/proc") if p.isdigit())):
        cmdline = _read("/proc/%d/cmdline" % pid).replace("\0", " ").strip()
        if not cmdline:
            continue  # a kernel thread, or gone
        fields = proc_stat(pid) or ["?", "?"]
        state, ppid = fields[0], fields[1]
        lines.append("%d ppid %s %s wchan %s: %s" % (pid, ppid, state,
                                                     _read("/proc/%d/wchan" % pid) or "-",
                                                     cmdline[:300]))
        if state in ("D", "S", "T"):
            stack = _read("/proc/%d/stack" % pid).splitlines()[:8]
            lines.extend("    " + frame for frame in stack)
    return "\n".join(lines)


@pytest.fixture(autouse=True)
def _per_test_timeout():
    """Fail a hung test (with every thread's stack and every process's state on
    stderr) instead of hanging CI."""
    def expired(signum, frame):
        faulthandler.dump_traceback(all_threads=True)
        os.write(2, ("\n== processes when the test timed out\n%s\n"
                     % processes_report()).encode("utf-8", "replace"))
        raise AssertionError("test did not finish within %d s" % TEST_TIMEOUT)
    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(TEST_TIMEOUT)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="session")
def pool():
    disk = os.environ["VZZFS_TEST_DISKS"].split()[0]
    sh("zpool", "create", "-f", "-O", "canmount=off", "-O", "mountpoint=none", POOL, disk)
    zfs.ensure_filesystem(ROOT + "/ct")
    yield POOL
    sh("zpool", "destroy", "-f", POOL, check=False)


@pytest.fixture
def node(pool, tmp_path):
    """A node driven by the real vzctl 4.11.1."""
    n = TestNode(str(tmp_path / "node"))
    yield n
    n.cleanup()


@pytest.fixture
def standin_node(pool, tmp_path):
    """A node driven by the stand-in vzctl: only where the real one cannot go, and
    the test using it says why."""
    n = TestNode(str(tmp_path / "node"), real=False)
    yield n
    n.cleanup()


@pytest.fixture
def node2(pool, tmp_path):
    disk = os.environ["VZZFS_TEST_DISKS"].split()[1]
    sh("zpool", "create", "-f", "-O", "canmount=off", "-O", "mountpoint=none", "vz2", disk)
    zfs.ensure_filesystem("vz2/vzzfs/ct")
    # the second node of a pair: the real vzctl reads the one /etc/vz a VM has, so
    # the node it replicates or migrates to runs the stand-in
    n = TestNode(str(tmp_path / "node2"), root="vz2/vzzfs", real=False)
    yield n
    try:
        n.cleanup()
    finally:  # a cleanup cut short must not leave the next test's disk in use
        sh("zpool", "destroy", "-f", "vz2", check=False)
