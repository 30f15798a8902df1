"""Disk space: a CT's DISKSPACE becomes its zvol's size; grow online, shrink offline, trim.

Order keeps every step safe to kill: growing enlarges the zvol first and the
ext4 second; shrinking shrinks the ext4 first and the zvol second. So the file
system is never larger than the zvol under it.
"""

import re

from . import config, ctconf, faults, log, runner, volume, vzctlcmd, zfs
from .errors import FsError, OnlineGrowRefused, PoolFull, StateError, UsageError, VzzfsError

BLOCK = 4096
_TRIM_RE = re.compile(r"\(([0-9]+) bytes\) trimmed")


def wanted_size(ct):
    """DISKSPACE's hard limit in bytes, or None when unset or unlimited."""
    text = ct.params.get("DISKSPACE", "")
    if not text:
        return None
    return config.parse_diskspace(text, unlimited_ok=True, ctid=ct.ctid)


def _volsize(ct):
    values = zfs.get(ct.dataset, "volsize", "volblocksize")
    return int(values["volsize"]), int(values["volblocksize"])


def volsize(ct):
    """The CT's zvol size in bytes."""
    return _volsize(ct)[0]


def _check_room(ct, delta):
    """A reserved (non-sparse) zvol needs ``delta`` more bytes free in the pool to grow."""
    props = zfs.get(ct.dataset, "refreservation")
    parent = ct.dataset.rsplit("/", 1)[0]
    avail = int(zfs.get(parent, "available")["available"])
    if props.get("refreservation") not in (None, "0", "none") and avail < delta:
        raise PoolFull("growing zvol %s by %d MiB needs that much free in pool %s, which has %d MiB"
                       % (ct.dataset, delta >> 20, ct.pool, avail >> 20),
                       "free space in the pool or add disks, then retry", ctid=ct.ctid)
    warn_if_pool_filling(ct)


def warn_if_pool_filling(ct, cap=None):
    """Warn when the pool is fuller than VZZFS_POOL_WARN (``cap``: percent, if known)."""
    if cap is None:
        cap = zfs.pool_capacity(ct.pool)
    if cap >= ct.settings.pool_warn:
        log.warn("pool %s is %d%% full: writes in containers on sparse zvols fail when it is "
                 "full (zpool list %s)" % (ct.pool, cap, ct.pool))


def grow(ct, size, device=None):
    """Enlarge the zvol to ``size`` (rounded) and, if it is mounted, its ext4 online.

    Returns True when the zvol grew. Growing the ext4 again is harmless, so a
    grow killed between the two steps is finished by the next one.
    """
    current, vbs = _volsize(ct)
    size = zfs.round_size(size, vbs)
    grew = False
    if size > current:
        _check_room(ct, size - current)
        zfs.set_props(ct.dataset, {"volsize": str(size)})
        faults.point("resize.zvol-grown")
        log.info("CT %s: zvol %s grown from %d to %d MiB" % (ct.ctid, ct.dataset,
                                                            current >> 20, size >> 20))
        grew = True
    if ct.private_mount() is not None:
        device = device or volume.find_device(ct.dataset, ct.settings.dev_timeout)
        volume.grow_fs(device)
    return grew


def shrink(ct, size):
    """Shrink a stopped CT's ext4, then its zvol. Refuses when the data would not fit."""
    if ct.private_mount() is not None or ct.root_mounted():
        raise StateError("is running or mounted; shrinking needs it stopped",
                         "vzctl stop %s, then resize again" % ct.ctid, ctid=ct.ctid)
    current, vbs = _volsize(ct)
    size = zfs.round_size(size, vbs)
    if size >= current:
        return False
    device = volume.find_device(ct.dataset, ct.settings.dev_timeout)
    res = runner.run(["e2fsck", "-f", "-p", device], check=False)
    if res.returncode & ~1:
        raise FsError("e2fsck -f found problems on zvol %s; not shrinking" % ct.dataset,
                      "run e2fsck -f /dev/zvol/%s by hand first" % ct.dataset, ctid=ct.ctid)
    needed = volume.min_blocks(device) * BLOCK
    needed += needed // 20  # room for the journal and metadata to move
    if size < needed:
        raise UsageError("the data on CT %s needs at least %d MiB; %d MiB is too small"
                         % (ct.ctid, (needed >> 20) + 1, size >> 20),
                         "delete data in the CT or pick a larger size", ctid=ct.ctid)
    volume.resize_offline(device, size)
    faults.point("resize.fs-shrunk")
    zfs.set_props(ct.dataset, {"volsize": str(size)})
    log.info("CT %s: zvol %s shrunk from %d to %d MiB" % (ct.ctid, ct.dataset,
                                                         current >> 20, size >> 20))
    return True


def save_diskspace(ct, size):
    """Record the new size as DISKSPACE (vzctl's KiB units) in the CT's conf."""
    kb = size >> 10
    if vzctlcmd.program(ct) is None:
        ctconf.update_file(ct.conffile, {"DISKSPACE": "%d:%d" % (kb, kb)})
        return
    try:
        vzctlcmd.save(ct, diskspace_kb=kb)
    except runner.CommandFailed as e:
        raise VzzfsError("the zvol and its ext4 are %d MiB now, but vzctl did not save "
                         "DISKSPACE: %s" % (size >> 20, e.line()),
                         "record it with: vzctl set %s --diskspace %d:%d --diskquota no --save"
                         % (ct.ctid, kb, kb), ctid=ct.ctid)


def resize(ct, size):
    """Grow (online or offline) or shrink (offline) to ``size``; save DISKSPACE. Returns the verb."""
    if size < volume.MIN_SIZE:
        raise UsageError("%d MiB is too small for a CT" % (size >> 20),
                         "use at least %d MiB" % (volume.MIN_SIZE >> 20), ctid=ct.ctid)
    current, vbs = _volsize(ct)
    size = zfs.round_size(size, vbs)
    if size > current:
        try:
            grow(ct, size)
        except OnlineGrowRefused as e:
            save_diskspace(ct, size)  # the zvol has the new size: the conf says so too
            raise OnlineGrowRefused("zvol %s is %d MiB now and DISKSPACE says so, but %s"
                                    % (ct.dataset, size >> 20, e.problem),
                                    "the ext4 grows at the next start: vzctl restart %s"
                                    % ct.ctid, ctid=ct.ctid)
        what = "grown"
    elif size < current:
        shrink(ct, size)
        what = "shrunk"
    else:
        grow(ct, size)  # finishes an interrupted online grow of the ext4
        what = "unchanged"
    save_diskspace(ct, size)
    return what


def trim(ct):
    """fstrim a mounted CT: blocks its ext4 freed go back to the pool. Bytes trimmed, or None."""
    if ct.private_mount() is None:
        return None
    out = runner.run(["fstrim", "-v", ct.ve_private]).stdout
    m = _TRIM_RE.search(out)
    return int(m.group(1)) if m else 0
