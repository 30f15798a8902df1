"""mountinfo parsing, including escaped mount points; whether an ext4 is mounted anywhere."""
import os

from vzzfs_hooks.system import mounts
from vzzfs_hooks.system.mounts import Mount

LINE = ("36 35 230:16 / /vz/private/my\\040ct rw,noatime shared:1 - ext4 /dev/zd16 "
        "rw,errors=remount-ro")


def test_parses_fields_and_unescapes():
    m = Mount(LINE)
    assert (m.mount_id, m.parent_id, m.devno) == (36, 35, "230:16")
    assert m.mountpoint == "/vz/private/my ct"
    assert (m.fstype, m.source) == ("ext4", "/dev/zd16")
    assert m.super_options == "rw,errors=remount-ro"
    assert m.options == "rw,noatime"


def test_optional_fields_are_skipped():
    m = Mount("40 1 0:50 /sub /mnt ro,relatime master:3 shared:9 - tmpfs none ro")
    assert m.root == "/sub"
    assert m.options == "ro,relatime"
    assert m.fstype == "tmpfs"


def test_sysfs_says_whether_an_ext4_is_mounted_in_any_namespace(tmp_path, monkeypatch):
    """premount and postumount read every mount namespace's table only when the kernel
    keeps the ext4 of that device alive somewhere (issue 28: flat with the node's size)."""
    sys_dir = tmp_path / "sys"
    (sys_dir / "dev" / "block").mkdir(parents=True)
    (sys_dir / "fs" / "ext4" / "zd16").mkdir(parents=True)
    os.symlink("../../devices/virtual/block/zd16", str(sys_dir / "dev/block/230:16"))
    os.symlink("../../devices/virtual/block/zd32", str(sys_dir / "dev/block/230:32"))
    assert mounts.ext4_mounted_anywhere("230:16", str(sys_dir)) is True
    assert mounts.ext4_mounted_anywhere("230:32", str(sys_dir)) is False
    assert mounts.ext4_mounted_anywhere("9:9", str(sys_dir)) is None, "no such device"
    assert mounts.ext4_mounted_anywhere("230:16", str(tmp_path)) is None, "no ext4 in sysfs"
    scanned = []
    monkeypatch.setattr(mounts, "_mntns", lambda pid: scanned.append(pid))
    monkeypatch.setattr(mounts, "ext4_mounted_anywhere", lambda devno: False)
    assert mounts.namespaces_using("230:32", "ext4") == [] and scanned == []
    mounts.namespaces_using("230:32")  # another file system: the tables are read
    assert scanned
