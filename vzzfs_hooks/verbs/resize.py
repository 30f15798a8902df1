"""Disk space: a CT's DISKSPACE becomes its zvol's size; grow online, shrink offline, trim.

Order keeps every step safe to kill: growing enlarges the zvol first and the
ext4 second; shrinking shrinks the ext4 first and the zvol second. So the file
system is never larger than the zvol under it.
"""

import os

from ..base import faults, log, runner
from ..base.errors import OnlineGrowRefused, PoolFull, StateError, UsageError, VzzfsError
from ..conf import config, ctconf
from ..system import ext4, vzctl, zfs, zvoldev



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
                 "full (zfs list -o used,avail %s)" % (ct.pool, cap, ct.pool))


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
        if ct.private_mount() is not None:
            # found before the new volsize: finding it opens every /dev/zdN
            device = device or zvoldev.find_device(ct.dataset, ct.settings.dev_timeout)
            _set_volsize_frozen(ct, size, device)
        else:
            zfs.set_props(ct.dataset, {"volsize": str(size)})
        faults.point("resize.zvol-grown")
        log.info("CT %s: zvol %s grown from %d to %d MiB" % (ct.ctid, ct.dataset,
                                                            current >> 20, size >> 20))
        grew = True
    if ct.private_mount() is not None:
        device = device or zvoldev.find_device(ct.dataset, ct.settings.dev_timeout)
        ext4.grow_fs(device)
    return grew


# how long opening a zvol's device may take while its ext4 is frozen before thawing anyway
OPEN_FROZEN_TIMEOUT = 10


def _set_volsize_frozen(ct, size, device):
    """Give a zvol with a mounted ext4 a new volsize, with the ext4 frozen until its
    device was opened once since.

    A zvol whose volsize changed tells the next opener of its device that its
    medium changed, and the kernel then drops the mounted file system's inodes
    that no one holds, dirty ones included (__invalidate_device with kill_dirty):
    a file written and closed just before loses what was not written out yet
    (seen in the test VM: a 1 MiB file read back empty after an online grow).
    Frozen, the ext4 has written everything out and holds writers back, and
    opening the device here takes the change before anyone else can.
    """
    import threading  # here with signals: premount grows offline and imports neither
    from ..base import signals
    with signals.Deferred():
        ext4.freeze(ct.mountpoint)
        try:
            zfs.set_props(ct.dataset, {"volsize": str(size)})
            opener = threading.Thread(target=_open_close, args=(device,))
            opener.daemon = True
            opener.start()
            opener.join(OPEN_FROZEN_TIMEOUT)  # should it block on the frozen fs: thaw anyway
        finally:
            still = ext4.thaw(ct.mountpoint)
            if still is not None:
                raise StateError("the ext4 at %s is still frozen: %s" % (ct.mountpoint, still),
                                 "fsfreeze --unfreeze %s" % ct.mountpoint, ctid=ct.ctid)


def _open_close(device):
    try:
        os.close(os.open(device, os.O_RDONLY | os.O_CLOEXEC))
    except OSError:
        pass  # then the next opener takes the change; the ext4 was written out at the freeze


def shrink(ct, size):
    """Shrink a stopped CT's ext4, then its zvol. Refuses when the data would not fit."""
    ct.require_stopped("shrinking")
    current, vbs = _volsize(ct)
    size = zfs.round_size(size, vbs)
    if size >= current:
        return False
    device = zvoldev.find_device(ct.dataset, ct.settings.dev_timeout)
    ext4.forced_check(device, "shrinking", ct.dataset)
    needed = ext4.min_fs_size(device, ct.dataset)
    needed += needed // 20  # room for the journal and metadata to move
    if size < needed:
        raise UsageError("the data on CT %s needs at least %d MiB; %d MiB is too small"
                         % (ct.ctid, (needed >> 20) + 1, size >> 20),
                         "delete data in the CT or pick a larger size", ctid=ct.ctid)
    ext4.shrink_fs(device, size)
    faults.point("resize.fs-shrunk")
    zfs.set_props(ct.dataset, {"volsize": str(size)})
    log.info("CT %s: zvol %s shrunk from %d to %d MiB" % (ct.ctid, ct.dataset,
                                                         current >> 20, size >> 20))
    return True


def save_diskspace(ct, size):
    """Record the new size as DISKSPACE (vzctl's KiB units) in the CT's conf."""
    kb = size >> 10
    # OpenVZ 7's vzctl refuses --diskspace for a layout-4 CT ("no such disk") and
    # knows no --diskquota: there vzzfs writes the key itself, as with no vzctl at all
    if ct.vz7 or vzctl.program(ct) is None:
        ctconf.update_file(ct.conffile, {"DISKSPACE": "%d:%d" % (kb, kb)})
        return
    try:
        vzctl.save(ct, diskspace_kb=kb)
    except runner.CommandFailed as e:
        raise VzzfsError("the zvol and its ext4 are %d MiB now, but vzctl did not save "
                         "DISKSPACE: %s" % (size >> 20, e.line()),
                         "record it with: vzctl set %s --diskspace %d:%d --diskquota no --save"
                         % (ct.ctid, kb, kb), ctid=ct.ctid)


def resize(ct, size):
    """Grow (online or offline) or shrink (offline) to ``size``; save DISKSPACE. Returns the
    verb. Takes the CT's lock."""
    if not zfs.exists(ct.dataset):
        raise UsageError("is not on a zvol (no %s)" % ct.dataset, "check the CTID", ctid=ct.ctid)
    from ..system import lock  # the verb locks; premount (which grows through here) runs under vzctl's
    with lock.ct_lock(ct, "vzzfs resize"):
        return _resize(ct, size)


def _resize(ct, size):
    if size < ext4.MIN_SIZE:
        raise UsageError("%d MiB is too small for a CT" % (size >> 20),
                         "use at least %d MiB" % (ext4.MIN_SIZE >> 20), ctid=ct.ctid)
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


def trim_all(node, ctids=None):
    """(CTID, bytes trimmed or None when not mounted) for CTs ``ctids``, or with None
    every vzzfs CT whose zvol is mounted now."""
    from ..container.ct import Container
    from . import listing
    if ctids is None:
        ctids = [r["ctid"] for r in listing.rows(node) if r["mounted"]]
    return [(ctid, trim(Container(ctid, node))) for ctid in ctids]


def trim(ct):
    """fstrim a mounted CT: blocks its ext4 freed go back to the pool. Bytes trimmed, or None."""
    if ct.private_mount() is None:
        return None
    return ext4.trim(ct.mountpoint)
