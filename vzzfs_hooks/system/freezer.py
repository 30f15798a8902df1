"""Holding a running CT still for a snapshot: vzctl's suspend, or the CT's freezer cgroup.

On an OpenVZ kernel (/proc/vz) `vzctl chkpnt --suspend` stops the CT and
`--resume` lets it go on. On an upstream kernel vzctl 4.x has no suspend: its
chkpnt always runs the CRIU dump, which ends the CT. There vzctl puts each CT's
processes in a cgroup named vz-CTID in every cgroup v1 hierarchy, the freezer's
included, and writing FROZEN to its freezer.state holds them all, which is what
a snapshot needs. VZZFS_SUSPEND picks the way: auto (by the kernel), vzctl or
freezer.
"""

import os
import time

from ..base.errors import StateError
from . import mounts, vzctl

FREEZE_TIMEOUT = 10.0


def method(setting):
    """'vzctl' or 'freezer' for VZZFS_SUSPEND ``setting`` (auto picks by the kernel)."""
    if setting != "auto":
        return setting
    return "vzctl" if vzctl.openvz_kernel() else "freezer"


def _hierarchy():
    """Where the cgroup v1 freezer hierarchy is mounted, or None."""
    return mounts.cgroup_v1("freezer")


def cgroup_dir(ctid, platform=vzctl.VZCTL4):
    """The CT's freezer cgroup directory, or None when it has none (not running,
    or no cgroup v1 freezer on this node)."""
    top = _hierarchy()
    if top is None:
        return None
    path = os.path.join(top, vzctl.cgroup_name(ctid, platform))
    return path if os.path.isfile(os.path.join(path, "freezer.state")) else None


def state(path):
    with open(os.path.join(path, "freezer.state")) as f:
        return f.read().strip()


def _write(path, value):
    with open(os.path.join(path, "freezer.state"), "w") as f:
        f.write(value)


def freeze(ctid, path, timeout=FREEZE_TIMEOUT):
    """Freeze every process of the cgroup; raise StateError (after thawing it again)
    if the kernel does not get them all to FROZEN within ``timeout`` seconds."""
    _write(path, "FROZEN")
    deadline = time.monotonic() + timeout
    while state(path) != "FROZEN":
        if time.monotonic() > deadline:
            thaw(path)
            raise StateError("its processes did not freeze within %d s (%s)" % (timeout, path),
                             "retry; a process stuck in the kernel (e.g. on NFS) blocks it",
                             ctid=ctid)
        time.sleep(0.005)


def thaw(path):
    """Let the cgroup's processes run again (harmless when they are not frozen)."""
    _write(path, "THAWED")
