"""The file-system calls vzzfs makes through libc: mount(2) and umount2(2), not
mount(8) and umount(8), and syncfs(2), which Python's os module lacks.

Each of those programs was a process start in every vzctl mount and umount
(75 ms of a hook under TCG, against 35 ms for importing ctypes). The option
string is read the way mount(8) reads it: its generic words become the kernel's
MS_* flags, the words only mount(8) itself acts on are dropped, and the rest go
to the file system as its data (ext4 refuses one it does not know: EINVAL).
"""

import os

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_SILENT = 0x8000
MS_RELATIME = 0x200000
MS_STRICTATIME = 0x1000000
MS_LAZYTIME = 0x2000000

# mount(8)'s generic options: word -> (flag, set or clear)
FLAGS = {
    "ro": (MS_RDONLY, True), "rw": (MS_RDONLY, False),
    "nosuid": (MS_NOSUID, True), "suid": (MS_NOSUID, False),
    "nodev": (MS_NODEV, True), "dev": (MS_NODEV, False),
    "noexec": (MS_NOEXEC, True), "exec": (MS_NOEXEC, False),
    "sync": (MS_SYNCHRONOUS, True), "async": (MS_SYNCHRONOUS, False),
    "mand": (MS_MANDLOCK, True), "nomand": (MS_MANDLOCK, False),
    "dirsync": (MS_DIRSYNC, True),
    "nosymfollow": (MS_NOSYMFOLLOW, True), "symfollow": (MS_NOSYMFOLLOW, False),
    "noatime": (MS_NOATIME, True), "atime": (MS_NOATIME, False),
    "nodiratime": (MS_NODIRATIME, True), "diratime": (MS_NODIRATIME, False),
    "relatime": (MS_RELATIME, True), "norelatime": (MS_RELATIME, False),
    "strictatime": (MS_STRICTATIME, True), "nostrictatime": (MS_STRICTATIME, False),
    "lazytime": (MS_LAZYTIME, True), "nolazytime": (MS_LAZYTIME, False),
    "silent": (MS_SILENT, True), "loud": (MS_SILENT, False),
}

# words mount(8) reads for itself (fstab, user mounts) and never hands the kernel
USERSPACE = frozenset(("defaults", "auto", "noauto", "nofail", "_netdev", "user", "nouser",
                       "users", "owner", "noowner", "group", "nogroup"))


def split_options(options):
    """(flags, data) the kernel gets for mount(8)'s comma-separated ``options``. Pure."""
    flags, data = 0, []
    for word in options.split(","):
        if word in FLAGS:
            bit, on = FLAGS[word]
            flags = flags | bit if on else flags & ~bit
        elif word and word not in USERSPACE and not word.startswith(("x-", "comment=")):
            data.append(word)
    return flags, ",".join(data)


_libc = []


def _loaded():
    """(libc, get_errno), loaded once with the prototypes of the calls made here."""
    if not _libc:
        import ctypes  # here: a hook that mounts nothing does not pay for it
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                               ctypes.c_ulong, ctypes.c_char_p)
        libc.umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)
        _libc.extend((libc, ctypes.get_errno))
    return _libc


def _call(name, *args):
    libc, get_errno = _loaded()
    if getattr(libc, name)(*args) != 0:
        err = get_errno()
        raise OSError(err, os.strerror(err))


def mount(source, target, fstype, options):
    """Mount ``source`` (a block device) on ``target``; OSError with the kernel's errno."""
    flags, data = split_options(options)
    _call("mount", os.fsencode(source), os.fsencode(target), fstype.encode("ascii"), flags,
          data.encode("ascii") if data else None)


def umount(target):
    """Unmount ``target`` (a symlink followed, as mount(2) and umount(8) follow it);
    OSError with the kernel's errno."""
    _call("umount2", os.fsencode(target), 0)


def syncfs(fd):
    """Write out the dirty data of the file system holding open file ``fd``; a sync()
    of every file system where libc has no syncfs (glibc before 2.14). OSError with
    the kernel's errno."""
    if hasattr(_loaded()[0], "syncfs"):
        _call("syncfs", fd)
    else:
        os.sync()
