"""Which block device is which zvol, and flushing one.

The /dev/zvol/NAME links come from udev, late after a create or clone and
sometimes stale after a rename; a /dev/zdN answers for itself (BLKZNAME).
Below the zfs layer: zfs.snapshot flushes a zvol's device here first.
"""

import array
import fcntl
import os
import re
import time

from .errors import FsError, ZfsError

# BLKZNAME = _IOR(0x12, 125, char[256]): asks a /dev/zdN which dataset it is
BLKZNAME = 0x8100127D
BLKROGET = 0x125E  # _IO(0x12, 94): is the block device read-only
ZFS_MAX_DATASET_NAME_LEN = 256
ZD_RE = re.compile(r"^zd[0-9]+$")
LINK_DIR = "/dev/zvol"  # udev's POOL/NAME links to the /dev/zdN devices


def has_link(dataset):
    """Does udev's /dev/zvol/``dataset`` link exist? A cheap first look, no zfs call:
    a zvol has one once udev has seen it, and a name that is no zvol never has."""
    return os.path.lexists(os.path.join(LINK_DIR, dataset))


def zvol_name(device):
    """The dataset behind a /dev/zdN, or None if the device does not answer."""
    buf = bytearray(ZFS_MAX_DATASET_NAME_LEN)
    try:
        fd = os.open(device, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        fcntl.ioctl(fd, BLKZNAME, buf, True)
    except OSError:
        return None
    finally:
        os.close(fd)
    return bytes(buf).split(b"\0", 1)[0].decode("utf-8", "replace")


def find_device(dataset, timeout):
    """Path of the block device of zvol ``dataset``, waiting up to ``timeout`` s.

    The /dev/zvol link is made by udev, late after create/clone and sometimes
    stale after a rename, so the device's own answer (BLKZNAME) decides; /dev/zd*
    is scanned when the link is missing.
    """
    deadline = time.monotonic() + timeout
    link = os.path.join(LINK_DIR, dataset)
    while True:
        candidates = []
        if os.path.exists(link):
            candidates.append(os.path.realpath(link))
        try:
            candidates += sorted("/dev/" + n for n in os.listdir("/dev") if ZD_RE.match(n))
        except OSError:
            pass
        for dev in candidates:
            if zvol_name(dev) == dataset:
                return dev
        if time.monotonic() >= deadline:
            raise FsError("the device of zvol %s did not appear within %d s" % (dataset, timeout),
                          "check 'zfs get volmode %s' and that udev runs; raise VZZFS_DEV_TIMEOUT "
                          "if the node is slow" % dataset)
        time.sleep(0.1)


def flush(dataset):
    """fsync zvol ``dataset``'s block device if it has one: writes still in the
    page cache reach the zvol, and the zvol commits them, before a snapshot
    (OpenZFS has reports of snapshots taken right after writes missing them:
    openzfs/zfs issues 11181 and 15875)."""
    try:
        dev = find_device(dataset, 0)
    except FsError:
        return  # no device (volmode=none, not a zvol): nothing cached for it
    fd = os.open(dev, os.O_RDONLY | os.O_CLOEXEC)
    try:
        ro = array.array("i", [0])
        fcntl.ioctl(fd, BLKROGET, ro, True)
        if ro[0]:
            return  # readonly=on (a template's): no writes to flush, and it refuses one
        os.fsync(fd)
    except OSError as e:
        raise ZfsError("could not flush %s (%s) before its snapshot: %s"
                       % (dev, dataset, e.strerror), "check the pool: zpool status -x")
    finally:
        os.close(fd)
