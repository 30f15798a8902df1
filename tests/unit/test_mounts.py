"""mountinfo parsing, including escaped mount points."""
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
