"""Putting a CT's I/O limits on its zvol's device in the kernel's cgroups.

vzctl 4.x on an upstream kernel puts a running CT's processes in a cgroup named
vz-CTID in every cgroup v1 hierarchy, blkio's included (see freezer.py). There a
rule "MAJ:MIN LIMIT" on the zvol's /dev/zdN holds what the CT's processes issue
themselves: O_DIRECT I/O and reads. Buffered writes reach the disk later from the
kernel's writeback threads, which cgroup v1 counts in the root cgroup (v1 has no
cgroup writeback), and v1's throttling is flat: a rule in the root holds only
what the root's own tasks issue. So on v1 the same rule goes on the root as
well: nothing but this CT writes to its zvol, and its writeback is held there.
(The CT's own I/O and its writeback each get the limit.) On cgroup v2 io.max in
the CT's cgroup holds both, writeback included.

The CT's cgroup does not exist yet when vzctl runs the mount hooks: `vzctl start`
creates it afterwards (ct_env_create, after destroying any stale one) and runs no
host script after that. So the mount hook leaves a small process behind that
waits for the new cgroup, writes the rule and exits (start_waiter). The root's
rule is written at once, and removed at postumount: a device number goes to
another zvol once this one is gone.
"""

import os
import time

from ..base import log
from ..base.errors import VzzfsError
from ..rules import iolimits
from . import mounts
from .vzctl import VZCTL4, cgroup_name

WAIT_TIMEOUT = 120.0  # seconds the waiter looks for the CT's new cgroup
WAIT_STEP = 0.02


def hierarchy():
    """("v1", top of the blkio hierarchy), ("v2", top of the unified one) or (None, None)."""
    top = mounts.cgroup_v1("blkio")
    if top is not None:
        return "v1", top
    top = mounts.cgroup_v2()
    if top is not None:
        return "v2", top
    return None, None


def ct_cgroup(top, ctid, platform=VZCTL4):
    """The CT's cgroup directory under ``top``, or None (not running)."""
    path = os.path.join(top, cgroup_name(ctid, platform))
    return path if os.path.isdir(path) else None


def write(path, version, devno, limits):
    """Set ``limits`` on device ``devno`` in cgroup ``path`` (0 or none removes them)."""
    if version == "v1":
        lines = sorted(iolimits.v1_lines(devno, limits).items())
    else:
        lines = [(iolimits.V2_FILE, iolimits.v2_line(devno, limits))]
    for name, line in lines:
        try:
            with open(os.path.join(path, name), "w") as f:
                f.write(line + "\n")
        except OSError as e:
            raise VzzfsError("could not write %r to %s: %s"
                             % (line, os.path.join(path, name), e.strerror),
                             "check that the blkio cgroup controller is mounted and %s is "
                             "a block device" % devno)


def read(path, version, devno):
    """The Limits set on device ``devno`` in cgroup ``path``."""
    if version == "v1":
        texts = {}
        for _, _, name in iolimits.V1_FILES:
            texts[name] = _read(os.path.join(path, name))
        return iolimits.parse_v1(texts, devno)
    return iolimits.parse_v2(_read(os.path.join(path, iolimits.V2_FILE)), devno)


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def apply(ctid, devno, limits, platform=VZCTL4):
    """Set ``limits`` on ``devno`` wherever they act now: the CT's cgroup if it runs,
    and on v1 the root (writeback). Returns the cgroup directories written."""
    version, top = hierarchy()
    if version is None:
        return []
    done = []
    if version == "v1" and (not limits.none or _has_rule(top, version, devno)):
        write(top, version, devno, limits)
        done.append(top)
    ct_dir = ct_cgroup(top, ctid, platform)
    if ct_dir is not None:
        write(ct_dir, version, devno, limits)
        done.append(ct_dir)
    return done


def _has_rule(path, version, devno):
    return not read(path, version, devno).none


def clear_root(devno):
    """Remove the root's rule for ``devno`` (v1), if there is one; True if it was there."""
    version, top = hierarchy()
    if version != "v1" or not _has_rule(top, version, devno):
        return False
    write(top, version, devno, iolimits.Limits())
    return True


def current(ctid, devno, platform=VZCTL4):
    """The Limits in force on ``devno`` for the running CT (its cgroup), or None when it
    has no cgroup (stopped, or no blkio controller)."""
    version, top = hierarchy()
    ct_dir = ct_cgroup(top, ctid, platform) if top else None
    return read(ct_dir, version, devno) if ct_dir else None


def start_waiter(ctid, devno, limits, timeout=WAIT_TIMEOUT, platform=VZCTL4):
    """Leave a process that writes ``limits`` into the CT's cgroup once `vzctl start`
    has made it (a cgroup there now is a stale one vzctl replaces). Returns its pid,
    or None when there is no blkio hierarchy. The process is detached from vzctl:
    its own session, stdio on /dev/null, no other file open, so nothing waits for it."""
    version, top = hierarchy()
    if version is None:
        return None
    stale = _ino(os.path.join(top, cgroup_name(ctid, platform)))
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)  # the first child exits at once; its child goes on
        return pid
    code = 0
    try:
        os.setsid()
        if os.fork():
            os._exit(0)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        log.reset()
        _close_other_fds()  # nothing of vzctl's (a pipe its caller reads) held open
        code = 0 if wait_and_write(ctid, top, version, devno, limits, stale, timeout,
                                   platform=platform) else 1
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def wait_and_write(ctid, top, version, devno, limits, stale, timeout, step=WAIT_STEP,
                   platform=VZCTL4):
    """Wait until the CT's cgroup is there and is not the stale one (inode ``stale``),
    write the limits into it; False (logged) if it did not come within ``timeout``."""
    path = os.path.join(top, cgroup_name(ctid, platform))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ino = _ino(path)
        if ino is not None and ino != stale:
            try:
                write(path, version, devno, limits)
            except VzzfsError as e:
                if _ino(path) is None:  # removed under us (the start failed): wait on
                    continue
                log.warn("CT %s: I/O limits not applied: %s" % (ctid, e.line()))
                return False
            log.info("CT %s: I/O limits on %s set in %s" % (ctid, devno, path))
            return True
        time.sleep(step)
    log.info("CT %s: no new cgroup %s within %d s (the start failed, or it was a mount): "
             "I/O limits not set there" % (ctid, path, timeout))
    return False


def _close_other_fds():
    for name in os.listdir("/proc/self/fd"):
        if int(name) > 2:
            try:
                os.close(int(name))
            except OSError:
                pass  # the listing's own descriptor, closed already


def _ino(path):
    try:
        return os.stat(path).st_ino
    except OSError:
        return None
