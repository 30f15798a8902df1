"""The CT lock: vzctl's file format, refusal while held, stale locks taken over."""
import os
import subprocess
import threading

import pytest

from vzzfs_hooks.system import lock
from vzzfs_hooks.base.errors import LockedError


def test_lock_file_has_vzctl_format_and_is_released(tmp_path):
    path = lock.acquire(str(tmp_path), "101", "attaching")
    assert open(path).read() == "%d\nattaching\n" % os.getpid()
    lock.release(path)
    assert os.listdir(str(tmp_path)) == []


def test_held_lock_refused_naming_holder(tmp_path):
    holder = subprocess.Popen(["sleep", "30"])
    try:
        (tmp_path / "101.lck").write_text("%d\nmounting\n" % holder.pid)
        with pytest.raises(LockedError) as e:
            lock.acquire(str(tmp_path), "101", "attaching")
        assert "pid %d (mounting)" % holder.pid in e.value.problem
        assert e.value.exit_code == 4
    finally:
        holder.kill()
        holder.wait()
    assert sorted(os.listdir(str(tmp_path))) == ["101.lck"]


def test_stale_lock_is_taken_over(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / "101.lck").write_text("%d\nstarting\n" % dead.pid)
    path = lock.acquire(str(tmp_path), "101", "attaching")
    assert open(path).read().startswith("%d\n" % os.getpid())


def test_fresh_empty_lock_file_is_respected(tmp_path):
    (tmp_path / "101.lck").write_text("")
    with pytest.raises(LockedError):
        lock.acquire(str(tmp_path), "101", "attaching")


def test_release_never_removes_someone_elses_lock(tmp_path):
    path = tmp_path / "101.lck"
    path.write_text("1\nstarting\n")
    lock.release(str(path))
    assert path.exists()


def test_context_manager_releases_on_error(tmp_path):
    class FakeCt(object):
        lockdir = str(tmp_path)
        ctid = "101"
    with pytest.raises(RuntimeError):
        with lock.ct_lock(FakeCt(), "x"):
            assert (tmp_path / "101.lck").exists()
            raise RuntimeError("boom")
    assert not (tmp_path / "101.lck").exists()


def test_ct_lock_is_reentrant_within_a_process_and_released_by_the_outermost(tmp_path):
    from vzzfs_hooks.system import lock

    class CT(object):
        lockdir = str(tmp_path)
        ctid = "101"
    lockfile = tmp_path / "101.lck"
    with lock.ct_lock(CT(), "outer"):
        with lock.ct_lock(CT(), "inner"):
            assert lockfile.read_text().splitlines()[1] == "outer"
        assert lockfile.exists()  # the inner block does not release the outer's lock
    assert not lockfile.exists()


def test_lock_waits_for_its_holder(tmp_path):
    """vzctl set still holds the lock when the path unit starts reconcile."""
    holder = subprocess.Popen(["sleep", "30"])
    held = tmp_path / "101.lck"
    held.write_text("%d\nsetting\n" % holder.pid)
    try:
        with pytest.raises(LockedError):
            lock.acquire_waiting(str(tmp_path), "101", "reconcile", 0)
        threading.Timer(0.5, held.unlink).start()  # vzctl lets it go
        path = lock.acquire_waiting(str(tmp_path), "101", "reconcile", 30)
        assert open(path).read() == "%d\nreconcile\n" % os.getpid()
    finally:
        holder.kill()
        holder.wait()


def test_the_claim_rule_runs_under_the_lock_once_taken(tmp_path):
    """Issue 29, 1: every verb and job that locks a CT checks, under the lock, that
    its zvol is its own; a refusal lets the lock go and runs nothing of the block."""
    from vzzfs_hooks.base.errors import ConfigError
    seen = []

    class CT(object):
        lockdir = str(tmp_path)
        ctid = "103"
        refuse = False

        def require_claim(self):
            seen.append((tmp_path / "103.lck").exists())
            if self.refuse:
                raise ConfigError("refusing to touch vz/vzzfs/ct/104: claimed", "fix")
    with lock.ct_lock(CT(), "outer"):
        with lock.ct_lock(CT(), "inner"):  # re-entered: asked once
            pass
    assert seen == [True]
    ct = CT()
    ct.refuse = True
    ran = []
    with pytest.raises(ConfigError):
        with lock.ct_lock(ct, "vzzfs replicate"):
            ran.append(1)
    assert ran == [] and not (tmp_path / "103.lck").exists()


def test_the_lock_says_how_long_it_was_held(tmp_path):
    """Issue 29, 10: the verbs report how long vzctl found the CT locked."""
    import time

    class CT(object):
        lockdir = str(tmp_path)
        ctid = "101"
    assert not lock.holds(CT())
    with lock.ct_lock(CT(), "outer"):
        assert lock.holds(CT())
        with lock.ct_lock(CT(), "inner"):
            time.sleep(0.2)
    assert not lock.holds(CT())
    assert 0.2 <= lock.held_for["101"] < 5
