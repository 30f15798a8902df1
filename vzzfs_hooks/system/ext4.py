"""A zvol holding ext4: make, check, grow, shrink, freeze, mount and unmount the file
system (its device: zvoldev). The only module that runs the file system tools
(mkfs.ext4, e2fsck, resize2fs, fsfreeze, fstrim; dumpe2fs: ext4geometry), mounting
through fscalls.

Also the guard on the empty mount point: while nothing is mounted on
/vz/private/CTID the directory is immutable, so nothing can write files there
that the next mount would hide.
"""

import errno
import fcntl
import os
import struct
import time

from ..base import runner
from ..base.errors import ConfigError, FsError, MountBusy, OnlineGrowRefused
from ..base.fileio import read_text
from . import fscalls, mounts

FS_IOC_GETFLAGS = 0x80086601
FS_IOC_SETFLAGS = 0x40086602
FS_IMMUTABLE_FL = 0x00000010


BLOCK = 4096  # mkfs's block size

# The smallest CT disk: an ext4 that can still grow online (see mkfs)
MIN_SIZE = 128 << 20


def mkfs(device, size_bytes, inodes=None):
    """ext4 the way ploop makes it: 4K blocks, room to grow online to 16T.

    That room is 1024 reserved GDT blocks, and an online grow journals them all in
    one transaction: about 1030 credits, more than the 16M journal mkfs gives a
    small file system holds (the kernel refuses and resize2fs says ENOSPC). So the
    journal is never under 32M.
    """
    args = ["mkfs.ext4", "-q", "-F", "-b", "4096",
            "-E", "lazy_itable_init=1,resize=4294967295"]
    if size_bytes >= 8 << 30:
        args += ["-J", "size=128"]
    elif size_bytes < 2 << 30:
        args += ["-J", "size=32"]
    if inodes:
        args += ["-N", str(int(inodes))]
    runner.run(args + [device])


def read_superblock(device):
    """The raw superblock of the ext4 on ``device`` (b"" when it cannot be read)."""
    try:
        fd = os.open(device, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return b""
    try:
        return os.pread(fd, SB_SIZE, SB_OFFSET)
    except OSError:
        return b""
    finally:
        os.close(fd)


def fs_size(device):
    """Bytes the ext4 on ``device`` spans, read from its superblock directly (the
    premount hook asks at every start: no dumpe2fs process for two numbers)."""
    return superblock_size(read_superblock(device), device)


# the ext4 superblock: 1024 bytes at offset 1024 (fields little-endian)
SB_OFFSET = 1024
SB_SIZE = 1024
EXT4_MAGIC = 0xEF53
INCOMPAT_64BIT = 0x80


# what e2fsck -p reads before it decides to check at all (e2fsck/unix.c check_if_skip)
STATE_CLEAN = 0x1      # s_state: cleanly unmounted
STATE_ERRORS = 0x2     # s_state: the kernel found errors
INCOMPAT_RECOVER = 0x4  # the journal holds transactions to replay


def preen_reason(sb, now):
    """Why ``e2fsck -p`` would check the ext4 with superblock ``sb`` at time ``now``,
    or None when it would only call it clean. Pure.

    The premount hook starts e2fsck only for a reason, a process less per start:
    not cleanly unmounted, errors recorded, a journal to replay, orphan inodes,
    the maximal mount count or the check interval reached (or an unreadable
    superblock, which e2fsck then reports).
    """
    if len(sb) < SB_SIZE or struct.unpack_from("<H", sb, 0x38)[0] != EXT4_MAGIC:
        return "no ext4 superblock"
    state = struct.unpack_from("<H", sb, 0x3A)[0]
    if state & STATE_ERRORS or struct.unpack_from("<I", sb, 0x194)[0]:
        return "errors recorded"
    if not state & STATE_CLEAN:
        return "not cleanly unmounted"
    if struct.unpack_from("<I", sb, 0x60)[0] & INCOMPAT_RECOVER:
        return "journal to replay"
    if struct.unpack_from("<I", sb, 0xE8)[0]:
        return "orphan inodes"
    count, most = struct.unpack_from("<Hh", sb, 0x34)
    if most > 0 and count >= most:
        return "maximal mount count reached"
    last, interval = struct.unpack_from("<II", sb, 0x40)
    if interval and not last <= now < last + interval:
        return "check interval reached"
    return None


def superblock_size(sb, device):
    """Bytes an ext4 spans, from its superblock's bytes. Pure."""
    if len(sb) < SB_SIZE or struct.unpack_from("<H", sb, 0x38)[0] != EXT4_MAGIC:
        raise FsError("%s holds no ext4 file system" % device,
                      "check the device (blkid %s)" % device)
    blocks = struct.unpack_from("<I", sb, 0x4)[0]
    if struct.unpack_from("<I", sb, 0x60)[0] & INCOMPAT_64BIT:
        blocks |= struct.unpack_from("<I", sb, 0x150)[0] << 32
    return blocks * (1024 << struct.unpack_from("<I", sb, 0x18)[0])


def grow_fs(device):
    """Grow a mounted ext4 online to fill its (just enlarged) zvol."""
    try:
        runner.run(["resize2fs", device])
    except runner.CommandFailed as e:
        if "on-line resizing" in e.stderr or "No space left" in e.stderr:
            raise OnlineGrowRefused("the kernel will not grow the ext4 on %s while it is "
                                    "mounted: %s" % (device, e.line()),
                                    "it grows when the CT is next started or mounted")
        raise


def forced_check(device, before, dataset=None):
    """``e2fsck -f -p``, which resize2fs wants before it changes an unmounted ext4;
    FsError (saying it is not ``before``: growing, shrinking) unless it came out clean."""
    res = runner.run(["e2fsck", "-f", "-p", device], check=False)
    if res.returncode & ~(FSCK_CORRECTED | FSCK_REBOOT):
        what = "zvol %s" % dataset if dataset else device
        raise FsError("e2fsck -f found problems on %s; not %s its ext4" % (what, before),
                      "run e2fsck -f %s by hand first" % device)


def grow_fs_offline(device):
    """Grow an unmounted ext4 to fill its zvol (resize2fs wants a forced check first)."""
    forced_check(device, "growing")
    runner.run(["resize2fs", device])


_MIN_RE = r"minimum size of the filesystem:\s*([0-9]+)"


def min_fs_size(device, dataset):
    """Bytes the unmounted, checked ext4 on ``device`` can shrink to (resize2fs -P)."""
    import re  # here, as in trim: no hook asks resize2fs or fstrim
    m = re.search(_MIN_RE, runner.run(["resize2fs", "-P", device]).stdout)
    if not m:
        raise FsError("resize2fs -P gave no minimum size for %s" % dataset, "report this")
    return int(m.group(1)) * BLOCK


def shrink_fs(device, size_bytes):
    """Shrink an unmounted, checked ext4 to ``size_bytes`` (whole KiB)."""
    runner.run(["resize2fs", device, "%dK" % (size_bytes >> 10)])


_TRIM_RE = r"\(([0-9]+) bytes\) trimmed"


def trim(directory):
    """fstrim the mounted file system: blocks it freed go back to the pool. Bytes trimmed."""
    import re
    m = re.search(_TRIM_RE, runner.run(["fstrim", "-v", directory]).stdout)
    return int(m.group(1)) if m else 0


def freeze(directory):
    """Freeze the file system mounted at ``directory``: its writes flushed, new ones
    wait until thaw. An ioctl, so no process starts inside a snapshot's window."""
    try:
        fs_freeze(directory)
    except OSError as e:
        raise FsError("cannot freeze the ext4 at %s: %s" % (directory, e.strerror), "see dmesg")


def thaw(directory):
    """Thaw it (not frozen is fine too); a few tries. None, or why it is still frozen."""
    why = None
    for attempt in range(3):
        try:
            fs_thaw(directory)
            return None
        except OSError as e:
            why = e.strerror
        time.sleep(0.2)
    return why


# e2fsck's exit code bits that still mean success; any other bit is a failure
FSCK_CORRECTED = 1
FSCK_REBOOT = 2


def fsck_preen(device, dataset):
    """Run ``e2fsck -p`` when its superblock gives a reason (preen_reason): safe
    fixes only. Raise FsError when it cannot finish.

    Returns True when e2fsck changed something.
    """
    if preen_reason(read_superblock(device), time.time()) is None:
        return False  # e2fsck -p would say "clean" and do nothing
    res = runner.run(["e2fsck", "-p", device], check=False)
    if res.returncode & ~(FSCK_CORRECTED | FSCK_REBOOT):
        last = (res.stdout + res.stderr).strip().splitlines()
        why = last[-1].strip() if last else "exit code %d" % res.returncode
        raise FsError("ext4 on zvol %s needs a manual repair: %s" % (dataset, why),
                      _repair_fix(dataset))
    return res.returncode != 0


def _repair_fix(dataset):
    return ("the CT stays down; snapshot it (zfs snapshot %s@before-fsck), then run "
            "e2fsck -f /dev/zvol/%s" % (dataset, dataset))


def mount(device, directory, options, dataset):
    try:
        fscalls.mount(device, directory, "ext4", options)
    except OSError as e:
        why = e.strerror
        if e.errno == errno.EINVAL and _options_refused(device, directory, options):
            raise ConfigError("the kernel refuses the ext4 mount options %r (VZZFS_MOUNT_OPTS): "
                              "%s" % (options, why),
                              "fix VZZFS_MOUNT_OPTS (vzzfs.conf, or the CT's conf); dmesg "
                              "names the option")
        if e.errno in _DAMAGED:
            raise FsError("ext4 on zvol %s needs a manual repair: the kernel refused to mount "
                          "it: %s" % (dataset, why), _repair_fix(dataset))
        raise FsError("cannot mount %s (zvol %s) on %s: %s" % (device, dataset, directory, why),
                      "see dmesg for the reason")


# what the kernel answers a damaged ext4: EUCLEAN ("Structure needs cleaning") when it
# found the damage, EINVAL when it found no ext4 (a bad option gets EINVAL too)
_DAMAGED = (errno.EUCLEAN, errno.EINVAL)


def _options_refused(device, directory, options):
    """Tell a bad option from a bad ext4 (both are EINVAL): read-only without the
    journal the ext4 mounts, with ``options`` added it does not."""
    def probe(opts):
        try:
            fscalls.mount(device, directory, "ext4", opts)
        except OSError:
            return False
        try:
            fscalls.umount(directory)
        except OSError:
            pass
        return True
    return probe("ro,noload") and not probe("ro,noload," + options)


def mount_snapshot(device, directory, options):
    """Mount a snapshot's ext4 read-only with ``options``; None, or why it failed."""
    try:
        fscalls.mount(device, directory, "ext4", options)
    except OSError as e:
        return e.strerror
    return None


def clear_protection_flags(tree):
    """chattr -R -i -a: lift immutable and append-only flags in ``tree`` so it can be
    removed (a CT's files may carry them); best effort, what stays fails the removal."""
    runner.run(["chattr", "-R", "-i", "-a", tree], check=False)


def umount(directory, busy_timeout):
    """Unmount ``directory``; retry while busy, then name the processes holding it."""
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            fscalls.umount(directory)
            return
        except OSError as e:
            err = e
        if not mounts.is_mountpoint(directory):
            return
        if err.errno != errno.EBUSY or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    if err.errno == errno.EBUSY:
        who = holders(directory)
        raise MountBusy("%s is busy%s" % (directory, ": " + ", ".join(who) if who else ""),
                        "stop those processes, then unmount it again")
    raise FsError("cannot unmount %s: %s" % (directory, err.strerror), "check dmesg")


def _under(path, top):
    return path == top or path.startswith(top + "/")


def holders(directory):
    """'PID (comm) what' for each process using files under ``directory``.

    Reads /proc directly rather than psutil: psutil's open_files skips open
    directories and it has no view of a process's root.
    """
    top = os.path.realpath(directory)
    found = []
    for pid in sorted((p for p in os.listdir("/proc") if p.isdigit()), key=int):
        if int(pid) == os.getpid():
            continue
        base = "/proc/%s" % pid
        uses = []
        for what in ("cwd", "root", "exe"):
            try:
                if _under(os.readlink("%s/%s" % (base, what)), top):
                    uses.append(what)
            except OSError:
                pass
        try:
            for fd in os.listdir(base + "/fd"):
                try:
                    if _under(os.readlink("%s/fd/%s" % (base, fd)), top):
                        uses.append("open file")
                        break
                except OSError:
                    pass
        except OSError:
            pass
        if uses:
            try:
                comm = read_text(base + "/comm").strip()
            except OSError:
                comm = "?"
            found.append("pid %s (%s) %s" % (pid, comm, "/".join(sorted(set(uses)))))
    return found


# ---- freezing a mounted ext4 for a snapshot (what fsfreeze does, without its process) ----

FIFREEZE = 0xC0045877  # _IOWR('X', 119, int)
FITHAW = 0xC0045878  # _IOWR('X', 120, int)


def _fs_ioctl(directory, request):
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(fd, request, 0)
    finally:
        os.close(fd)


def fs_freeze(directory):
    """Freeze the file system mounted at ``directory`` (its writes flushed, new ones
    wait); OSError as the kernel gives it."""
    _fs_ioctl(directory, FIFREEZE)


def syncfs(directory):
    """Write out the dirty data of the file system mounted at ``directory`` (syncfs(2);
    a plain sync() of every file system where libc has no syncfs). Nothing waits on it:
    run before a CT is locked and frozen for a snapshot, so that the freeze has little
    left to write (a freeze writes all of it, CT and lock held meanwhile)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fscalls.syncfs(fd)
    finally:
        os.close(fd)


def fs_thaw(directory):
    """Thaw it again. True if it was frozen, False if not (the kernel's EINVAL)."""
    try:
        _fs_ioctl(directory, FITHAW)
    except OSError as e:
        if e.errno == errno.EINVAL:
            return False
        raise
    return True


# ---- the guard on the empty mount point ----

def _flags(fd):
    buf = bytearray(4)  # not array: it imports collections (20 ms of a hook under TCG)
    fcntl.ioctl(fd, FS_IOC_GETFLAGS, buf, True)
    return struct.unpack("i", buf)[0]


def set_immutable(directory, on):
    """Set or clear the immutable flag; False if the file system cannot do it."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        flags = _flags(fd)
        new = flags | FS_IMMUTABLE_FL if on else flags & ~FS_IMMUTABLE_FL
        if new != flags:
            fcntl.ioctl(fd, FS_IOC_SETFLAGS, struct.pack("i", new))
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def is_immutable(directory):
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return False
    try:
        return bool(_flags(fd) & FS_IMMUTABLE_FL)
    except OSError:
        return False
    finally:
        os.close(fd)


def guard(directory):
    """Make the empty, unmounted mount point ``directory`` immutable, so nothing writes
    files there that the next mount would hide. True once guarded; False where it is
    not empty, is mounted on, or its file system has no immutable flag."""
    try:
        if mounts.is_mountpoint(directory) or os.listdir(directory):
            return False
    except OSError:
        return False
    return set_immutable(directory, True)


def unguard(directory):
    """Clear the guard before mounting on ``directory`` or removing it."""
    set_immutable(directory, False)


def is_guarded(directory):
    """Is ``directory`` an empty, unmounted, guarded mount point? (The mount table,
    the dearest to read, is asked last: most directories asked are not guarded.)"""
    try:
        return (os.path.isdir(directory) and is_immutable(directory)
                and not os.listdir(directory) and not mounts.is_mountpoint(directory))
    except OSError:
        return False


def remove_guarded(directory):
    """Remove a mount point vzzfs made (unguarding it first); not one mounted on."""
    if os.path.isdir(directory) and not mounts.is_mountpoint(directory):
        unguard(directory)
        os.rmdir(directory)
