"""An online grow sets the zvol's volsize with the ext4 frozen until the device was opened
once (the kernel drops a mounted fs's dirty inodes at the first open after a volsize
change); a stopped CT's zvol just grows. ZFS, commands and the device faked."""
import pytest

from vzzfs_hooks.verbs import resize
from vzzfs_hooks.base import runner
from vzzfs_hooks.system import ext4, zfs, zvoldev
from vzzfs_hooks.base.errors import PoolFull


class FakeCT(object):
    ctid = "101"
    dataset = "vz/vzzfs/ct/101"
    pool = "vz"
    ve_private = mountpoint = "/vz/private/101"

    class settings(object):
        dev_timeout = 1
        pool_warn = 85

    def __init__(self, mounted):
        self.mounted = mounted

    def private_mount(self):
        return object() if self.mounted else None


@pytest.fixture
def steps(monkeypatch):
    done = []
    monkeypatch.setattr(resize, "_volsize", lambda ct: (128 << 20, 16384))
    monkeypatch.setattr(resize, "_check_room", lambda ct, delta: None)
    monkeypatch.setattr(zfs, "set_props", lambda ds, props: done.append(("set", props)))
    monkeypatch.setattr(zvoldev, "find_device", lambda ds, t: done.append(("find",)) or "/dev/zd0")
    monkeypatch.setattr(ext4, "grow_fs", lambda dev: done.append(("resize2fs", dev)))
    monkeypatch.setattr(resize, "_open_close", lambda dev: done.append(("open", dev)))
    monkeypatch.setattr(ext4, "fs_freeze", lambda d: done.append(("freeze", d)))
    monkeypatch.setattr(ext4, "fs_thaw", lambda d: done.append(("thaw", d)))

    def run(argv, check=True):
        done.append(tuple(argv))
        return runner.Result(argv, 0, "", "")
    monkeypatch.setattr(runner, "run", run)
    return done


def test_online_grow_freezes_around_the_volsize_and_the_first_open(steps):
    assert resize.grow(FakeCT(mounted=True), 256 << 20)
    assert steps == [("find",), ("freeze", "/vz/private/101"),
                     ("set", {"volsize": str(256 << 20)}), ("open", "/dev/zd0"),
                     ("thaw", "/vz/private/101"), ("resize2fs", "/dev/zd0")]


def test_a_failed_volsize_still_thaws(steps, monkeypatch):
    def full(ds, props):
        raise PoolFull("out of space")
    monkeypatch.setattr(zfs, "set_props", full)
    with pytest.raises(PoolFull):
        resize.grow(FakeCT(mounted=True), 256 << 20)
    assert steps[-1] == ("thaw", "/vz/private/101")


def test_a_stopped_ct_is_not_frozen(steps):
    assert resize.grow(FakeCT(mounted=False), 256 << 20)
    assert steps == [("set", {"volsize": str(256 << 20)})]
