"""The container lock, compatible with vzctl's own (LOCKDIR/CTID.lck).

vzctl 4.x writes "PID\\nstatus\\n" to a temp file and link()s it to CTID.lck,
so taking the lock is atomic; a lock whose PID is gone is stale and removed.
vzzfs commands that change a CT take the same lock, so they never run beside
a vzctl command on that CT. Hooks never take it: vzctl holds it for them.
"""

import contextlib
import errno
import os
import time

from ..base.errors import LockedError
from ..base.fileio import new_file


def _owner(lockfile):
    """PID written in the lock file, or None if unreadable or empty."""
    try:
        with open(lockfile) as f:
            first = f.readline().strip()
    except OSError:
        return None
    return int(first) if first.isdigit() else None


def _alive(pid):
    return pid is not None and os.path.exists("/proc/%d" % pid)


def acquire(lockdir, ctid, status):
    """Take LOCKDIR/CTID.lck; raise LockedError naming the holder if taken."""
    os.makedirs(lockdir, 0o755, exist_ok=True)
    lockfile = os.path.join(lockdir, "%s.lck" % ctid)
    fd, tmp = new_file(lockdir, "%s.lck." % ctid)
    try:
        with os.fdopen(fd, "w") as f:
            f.write("%d\n%s\n" % (os.getpid(), status))
        for _ in range(3):
            try:
                os.link(tmp, lockfile)
                return lockfile
            except OSError as e:
                if e.errno != errno.EEXIST:
                    raise
            pid = _owner(lockfile)
            if _alive(pid):
                raise LockedError("is locked by pid %d (%s)" % (pid, _status(lockfile)),
                                  "wait for it to finish, or check that process", ctid=ctid)
            if pid is None and _young(lockfile):
                raise LockedError("is being locked by another process",
                                  "retry in a moment", ctid=ctid)
            os.unlink(lockfile)  # stale: its owner is gone
        raise LockedError("could not take the lock %s" % lockfile, "retry", ctid=ctid)
    finally:
        os.unlink(tmp)


def _status(lockfile):
    try:
        with open(lockfile) as f:
            lines = f.read().splitlines()
        return lines[1] if len(lines) > 1 and lines[1] else "no status"
    except OSError:
        return "no status"


def _young(lockfile):
    try:
        return time.time() - os.stat(lockfile).st_mtime < 5
    except OSError:
        return False


def release(lockfile):
    if _owner(lockfile) == os.getpid():
        os.unlink(lockfile)


def acquire_waiting(lockdir, ctid, status, wait):
    """acquire(), retried for up to ``wait`` seconds while another process holds it."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return acquire(lockdir, ctid, status)
        except LockedError:
            if time.monotonic() >= deadline:
                raise
        time.sleep(0.2)


_held = {}  # lockfile -> how many ct_lock blocks of this process hold it
held_for = {}  # CTID -> seconds this process last held its lock (outermost block)


def holds(ct):
    """Whether this process holds CT ``ct``'s lock now."""
    return bool(_held.get(os.path.join(ct.lockdir, "%s.lck" % ct.ctid)))


@contextlib.contextmanager
def ct_lock(ct, status, wait=0, check_claim=True):
    """Hold the CT's lock for the block; wait up to ``wait`` seconds for another holder
    to let it go. Re-entrant within a process: the domain functions take it
    themselves, and one may call another under it.

    Once taken, ``ct.require_claim()`` (a Container's: the claim rule) runs under
    it, so every verb and job that locks a CT acts only on a zvol that is that CT's,
    decided with the confs as they are while nothing else may change the CT.
    ``check_claim=False``: the caller runs the rule itself under the lock (create, from
    the one `zfs get` it needs anyway)."""
    lockfile = os.path.join(ct.lockdir, "%s.lck" % ct.ctid)
    if _held.get(lockfile):
        _held[lockfile] += 1
        try:
            yield
        finally:
            _held[lockfile] -= 1
        return
    lockfile = acquire_waiting(ct.lockdir, ct.ctid, status, wait)
    _held[lockfile] = 1
    taken = time.monotonic()
    try:
        check = getattr(ct, "require_claim", None) if check_claim else None
        if check is not None:
            check()
        yield
    finally:
        del _held[lockfile]
        release(lockfile)
        held_for[ct.ctid] = time.monotonic() - taken
