"""fscalls: mount(2) options read as mount(8) reads them, flags for the kernel and data
for ext4; syncfs(2) on a real file system."""

import errno
import os

import pytest

from vzzfs_hooks.system import fscalls as mc


@pytest.mark.parametrize("options, flags, data", [
    ("noatime,errors=remount-ro", mc.MS_NOATIME, "errors=remount-ro"),  # the default
    ("ro,noload,nosuid,nodev,noexec", mc.MS_RDONLY | mc.MS_NOSUID | mc.MS_NODEV | mc.MS_NOEXEC,
     "noload"),  # a snapshot's
    ("ro,noload", mc.MS_RDONLY, "noload"),
    ("ro,rw", 0, ""),  # the last word wins, as in mount(8)
    ("noatime,atime,relatime", mc.MS_RELATIME, ""),
    ("defaults,nofail,_netdev,x-systemd.automount,comment=x,auto", 0, ""),  # mount(8)'s own
    ("discard,barrier=1,commit=30,lazytime", mc.MS_LAZYTIME, "discard,barrier=1,commit=30"),
    ("bogus", 0, "bogus"),  # the kernel refuses it: EINVAL, as mount(8) got
    ("", 0, ""),
])
def test_split_options(options, flags, data):
    assert mc.split_options(options) == (flags, data)


def test_flags_are_the_kernels():
    """The values of <linux/mount.h>, which the kernel will not change."""
    assert (mc.MS_RDONLY, mc.MS_NOSUID, mc.MS_NODEV, mc.MS_NOEXEC) == (1, 2, 4, 8)
    assert (mc.MS_NOATIME, mc.MS_NODIRATIME, mc.MS_RELATIME) == (1024, 2048, 1 << 21)
    assert (mc.MS_STRICTATIME, mc.MS_LAZYTIME) == (1 << 24, 1 << 25)


def test_an_unprivileged_or_bad_call_raises_oserror_with_the_errno(tmp_path):
    with pytest.raises(OSError) as e:
        mc.umount(str(tmp_path))  # not a mount point
    assert e.value.errno in (22, 1)  # EINVAL, or EPERM without CAP_SYS_ADMIN
    with pytest.raises(OSError) as e:
        mc.mount(str(tmp_path / "no-such-device"), str(tmp_path), "ext4", "noatime")
    assert e.value.errno in (2, 1)  # ENOENT, or EPERM


def test_syncfs_of_an_open_directory(tmp_path):
    fd = os.open(str(tmp_path), os.O_RDONLY | os.O_DIRECTORY)
    try:
        mc.syncfs(fd)  # no error: the file system under the test's own directory
    finally:
        os.close(fd)


def test_syncfs_error_carries_the_kernels_errno():
    with pytest.raises(OSError) as err:
        mc.syncfs(-1)  # no such descriptor
    assert err.value.errno == errno.EBADF


def test_syncfs_without_libc_syncfs_syncs_everything(monkeypatch):
    class OldLibc(object):
        """A libc before glibc 2.14: no syncfs."""
    synced = []
    monkeypatch.setattr(mc, "_libc", [OldLibc(), lambda: 0])
    monkeypatch.setattr(mc.os, "sync", lambda: synced.append(True))
    mc.syncfs(0)
    assert synced == [True]
