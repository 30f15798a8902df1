"""Which block device is which zvol, holding one open, and flushing one.

The /dev/zvol/NAME links come from udev, late after a create or clone and
sometimes stale after a rename; a /dev/zdN answers for itself (BLKZNAME).
Below the zfs layer: zfs.snapshot flushes a zvol's device here first.
"""

import errno
import fcntl
import os
import time

from ..base.errors import FsError, ZfsError
from ..base.names import DIGITS, only

# BLKZNAME = _IOR(0x12, 125, char[256]): asks a /dev/zdN which dataset it is
BLKZNAME = 0x8100127D
BLKROGET = 0x125E  # _IO(0x12, 94): is the block device read-only
ZFS_MAX_DATASET_NAME_LEN = 256
LINK_DIR = "/dev/zvol"  # udev's POOL/NAME links to the /dev/zdN devices


def is_zd(name):
    """Whether a device's name is a zvol's (zdN)."""
    return name.startswith("zd") and only(name[2:], DIGITS)

# OpenZFS before 2.2 fails a zvol's first open while another process holds the pool
# namespace lock (a zfs command, another CT's start) with the kernel's internal
# ERESTARTSYS, which reaches user space as errno 512 (seen starting 10 CTs at once)
ERESTARTSYS = 512
# how long such a refused open is retried: the device is there, the pool busy. 20 CTs
# started at once on one emulated CPU kept the lock busy for more than 5 s
BUSY_WAIT = 60


def _open(device, flags, timeout):
    """os.open, retrying for ``timeout`` s a zvol's first open refused with ERESTARTSYS
    (at 20-120 ms, different per process, so starts waiting together do not retry in
    step)."""
    deadline = time.monotonic() + timeout
    pause = 0.02 * (1 + os.getpid() % 6)
    while True:
        try:
            return os.open(device, flags)
        except OSError as e:
            if e.errno not in (ERESTARTSYS, errno.EINTR) or time.monotonic() >= deadline:
                raise
            time.sleep(pause)


class HeldOpen(object):
    """``with HeldOpen(device, timeout):`` keeps the zvol's device open for the block.

    Only a zvol's first open takes the pool's namespace lock, so while this holds
    it, e2fsck, resize2fs and mount open it without the spurious failure above.
    The first open itself is retried for ``timeout`` seconds.
    """

    def __init__(self, device, timeout=BUSY_WAIT, fd=None):
        self.device, self.timeout, self.fd = device, timeout, fd

    def __enter__(self):
        if self.fd is not None:  # held already (hold): the open that asked which zvol it is
            return self
        try:
            self.fd = _open(self.device, os.O_RDONLY | os.O_CLOEXEC, self.timeout)
        except OSError as e:
            if e.errno == ERESTARTSYS:
                raise FsError("the pool refused to open %s for %d s (OpenZFS answers a "
                              "zvol's first open so while its namespace lock is busy)"
                              % (self.device, self.timeout),
                              "retry; if it lasts, see what keeps the pool busy "
                              "(running zfs commands, zpool status -x)")
            raise FsError("cannot open %s: %s" % (self.device, e.strerror or e),
                          "check the pool (zpool status -x) and retry")
        return self

    def __exit__(self, *exc):
        os.close(self.fd)


def has_link(dataset):
    """Does udev's /dev/zvol/``dataset`` link exist? A cheap first look, no zfs call:
    a zvol has one once udev has seen it, and a name that is no zvol never has."""
    return os.path.lexists(os.path.join(LINK_DIR, dataset))


def _ask(device, timeout):
    """(dataset, fd): the zvol behind a /dev/zdN and the descriptor still open on it,
    or (None, None) if it does not answer (within ``timeout`` s while its first open
    is refused with ERESTARTSYS)."""
    buf = bytearray(ZFS_MAX_DATASET_NAME_LEN)
    try:
        fd = _open(device, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC, timeout)
    except OSError:
        return None, None
    try:
        fcntl.ioctl(fd, BLKZNAME, buf, True)
    except OSError:
        os.close(fd)
        return None, None
    return bytes(buf).split(b"\0", 1)[0].decode("utf-8", "replace"), fd


def zvol_name(device, timeout=0):
    """The dataset behind a /dev/zdN, or None if the device does not answer (within
    ``timeout`` s while its first open is refused with ERESTARTSYS)."""
    name, fd = _ask(device, timeout)
    if fd is not None:
        os.close(fd)
    return name


def _held_if(device, dataset, timeout):
    """(what ``device`` answered it is, as _ask; a HeldOpen on it if that is ``dataset``,
    else None with its descriptor closed)."""
    name, fd = _ask(device, timeout)
    if name == dataset:
        return name, HeldOpen(device, fd=fd)
    if fd is not None:
        os.close(fd)
    return name, None


def find_device(dataset, timeout):
    """Path of the block device of zvol ``dataset``, waiting up to ``timeout`` s."""
    held = hold(dataset, timeout)
    os.close(held.fd)
    return held.device


def hold(dataset, timeout):
    """A HeldOpen on zvol ``dataset``'s block device, found within ``timeout`` s and
    held from the open that asked it which zvol it is (a zvol's first open is the
    costly one: 11 ms under TCG; premount asked, closed and opened it again).

    The /dev/zvol link is made by udev, late after create/clone and sometimes
    stale after a rename, so the device's own answer (BLKZNAME) decides. The
    link's device is asked first, and waited for while its first open is refused
    (CTs starting at once); every /dev/zd* is asked only when there is no link or
    a stale one: each of those opens would contend for the pool's lock too (20
    CTs started at once lost one to that).
    """
    deadline = time.monotonic() + timeout
    link = os.path.join(LINK_DIR, dataset)
    while True:
        linked = os.path.realpath(link) if os.path.exists(link) else None
        name = None
        if linked is not None:  # there: a refused open means a busy pool, worth waiting for
            name, held = _held_if(linked, dataset,
                                  max(deadline - time.monotonic(), float(BUSY_WAIT)))
            if held is not None:
                return held
        if linked is None or name is not None:  # no link, or a stale one: ask every device
            try:
                scan = sorted("/dev/" + n for n in os.listdir("/dev") if is_zd(n))
            except OSError:
                scan = []
            for dev in scan:
                held = None if dev == linked else _held_if(dev, dataset, 0)[1]
                if held is not None:
                    return held
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
        ro = bytearray(4)  # an int; not array, which imports collections
        fcntl.ioctl(fd, BLKROGET, ro, True)
        if any(ro):
            return  # readonly=on (a template's): no writes to flush, and it refuses one
        os.fsync(fd)
    except OSError as e:
        raise ZfsError("could not flush %s (%s) before its snapshot: %s"
                       % (dev, dataset, e.strerror), "check the pool: zpool status -x")
    finally:
        os.close(fd)
