"""What is mounted where: /proc/<pid>/mountinfo, parsed.

psutil only sees the current mount namespace; a running container keeps its own,
so questions like "who still holds this zvol" also read other processes' tables.
"""

import os

from ..base.fileio import read_text

_ESCAPE_RE = r"\\([0-7]{3})"


def _unescape(field):
    if "\\" not in field:
        return field  # the common case: no `re` imported (a sixth of a hook's imports)
    import re
    return re.sub(_ESCAPE_RE, lambda m: chr(int(m.group(1), 8)), field)


class Mount(object):
    __slots__ = ("mount_id", "parent_id", "devno", "root", "mountpoint", "options",
                 "fstype", "source", "super_options")

    def __init__(self, line):
        fields = line.split()
        sep = fields.index("-")
        self.mount_id = int(fields[0])
        self.parent_id = int(fields[1])
        self.devno = fields[2]
        self.root = _unescape(fields[3])
        self.mountpoint = _unescape(fields[4])
        self.options = fields[5]
        self.fstype = fields[sep + 1]
        self.source = _unescape(fields[sep + 2]) if len(fields) > sep + 2 else ""
        self.super_options = fields[sep + 3] if len(fields) > sep + 3 else ""


def table(pid="self"):
    """The mounts seen by process ``pid``, in mount order ([] if it is gone)."""
    try:
        # a mount point may hold any bytes, and the hooks run with no locale (ASCII)
        text = read_text("/proc/%s/mountinfo" % pid)
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return []
    return [Mount(line) for line in text.splitlines() if line.strip()]


def mount_at(path, pid="self"):
    """The top-most mount whose mount point is ``path``, or None."""
    path = os.path.realpath(path)
    found = None
    for m in table(pid):
        if m.mountpoint == path:
            found = m
    return found


def is_mountpoint(path):
    return mount_at(path) is not None


def devno_of(device):
    """'major:minor' of a block device path, as mountinfo writes it."""
    rdev = os.stat(device).st_rdev
    return "%d:%d" % (os.major(rdev), os.minor(rdev))


def cgroup_v1(controller):
    """Where the cgroup v1 hierarchy holding ``controller`` (freezer, blkio ...) is
    mounted, or None."""
    for m in table():
        if m.fstype == "cgroup" and controller in m.super_options.split(","):
            return m.mountpoint
    return None


def cgroup_v2():
    """Where the cgroup v2 (unified) hierarchy is mounted, or None."""
    for m in table():
        if m.fstype == "cgroup2":
            return m.mountpoint
    return None


def ext4_mounted_anywhere(devno, sys_dir="/sys"):
    """Whether an ext4 on device ``devno`` is mounted in any mount namespace: True or
    False from sysfs (the kernel keeps /sys/fs/ext4/NAME while the file system is
    mounted anywhere, or still busy after a lazy unmount), None when sysfs cannot tell.
    A file test, however many namespaces and processes the node has."""
    if not os.path.isdir(os.path.join(sys_dir, "fs", "ext4")):
        return None
    try:
        name = os.path.basename(os.readlink(os.path.join(sys_dir, "dev", "block", devno)))
    except OSError:
        return None
    return os.path.exists(os.path.join(sys_dir, "fs", "ext4", name))


def namespaces_using(devno, fstype=None):
    """PIDs (one per foreign mount namespace) whose namespace mounts device ``devno``.

    Reading every namespace's table grows with the node (hundreds of CTs, each with
    its namespaces and thousands of processes); for an ext4 (``fstype``) sysfs says
    first whether it is mounted anywhere at all, and the tables are read only when
    it is (to name the processes)."""
    if fstype == "ext4" and ext4_mounted_anywhere(devno) is False:
        return []
    own_ns = _mntns("self")
    seen = {own_ns}
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        ns = _mntns(name)
        if ns is None or ns in seen:
            continue
        seen.add(ns)
        if any(m.devno == devno for m in table(name)):
            pids.append(int(name))
    return pids


def _mntns(pid):
    try:
        return os.readlink("/proc/%s/ns/mnt" % pid)
    except OSError:
        return None
