"""ext4.fs_size reads the ext4 superblock itself (no dumpe2fs in the premount hook)."""
import struct
import subprocess

import pytest

from vzzfs_hooks.system import ext4
from vzzfs_hooks.base.errors import FsError


def superblock(blocks, log_block=2, incompat=0):
    sb = bytearray(1024)
    struct.pack_into("<I", sb, 0x4, blocks & 0xFFFFFFFF)
    struct.pack_into("<I", sb, 0x18, log_block)
    struct.pack_into("<H", sb, 0x38, 0xEF53)
    struct.pack_into("<I", sb, 0x60, incompat)
    struct.pack_into("<I", sb, 0x150, blocks >> 32)
    return bytes(sb)


def test_size_is_blocks_times_block_size():
    assert ext4.superblock_size(superblock(32768), "d") == 128 << 20
    assert ext4.superblock_size(superblock(1000, log_block=0), "d") == 1024000


def test_high_blocks_count_only_with_64bit():
    big = (1 << 32) + 5
    assert ext4.superblock_size(superblock(big, incompat=0x80), "d") == big * 4096
    assert ext4.superblock_size(superblock(big), "d") == 5 * 4096


def test_not_ext4_is_refused():
    with pytest.raises(FsError):
        ext4.superblock_size(bytes(1024), "/dev/zd0")
    with pytest.raises(FsError):
        ext4.superblock_size(b"", "/dev/zd0")


def test_matches_what_mkfs_made(tmp_path):
    img = str(tmp_path / "img")
    with open(img, "wb") as f:
        f.truncate(300 << 20)
    subprocess.check_call(["mkfs.ext4", "-q", "-F", "-b", "4096", img, "200M"])
    assert ext4.fs_size(img) == 200 << 20


def clean(fields=None):
    """A superblock e2fsck -p calls clean, with ``fields`` (offset: (fmt, value)) set."""
    sb = bytearray(superblock(32768))
    struct.pack_into("<H", sb, 0x3A, 1)  # cleanly unmounted
    struct.pack_into("<h", sb, 0x36, -1)  # no maximal mount count
    for offset, (fmt, value) in (fields or {}).items():
        struct.pack_into(fmt, sb, offset, value)
    return bytes(sb)


NOW = 1800000000


def test_a_clean_ext4_needs_no_e2fsck():
    assert ext4.preen_reason(clean(), NOW) is None
    assert ext4.preen_reason(clean({0x34: ("<H", 500)}), NOW) is None  # no limit set
    assert ext4.preen_reason(clean({0x40: ("<I", NOW - 10), 0x44: ("<I", 3600)}),
                               NOW) is None


@pytest.mark.parametrize("fields,why", [
    ({0x3A: ("<H", 0)}, "not cleanly unmounted"),
    ({0x3A: ("<H", 3)}, "errors recorded"),
    ({0x194: ("<I", 1)}, "errors recorded"),
    ({0x60: ("<I", 0x4)}, "journal to replay"),
    ({0xE8: ("<I", 12)}, "orphan inodes"),
    ({0x34: ("<H", 20), 0x36: ("<h", 20)}, "maximal mount count reached"),
    ({0x40: ("<I", NOW - 3600), 0x44: ("<I", 3600)}, "check interval reached"),
    ({0x40: ("<I", NOW + 60), 0x44: ("<I", 3600)}, "check interval reached"),  # clock set back
    ({0x38: ("<H", 0)}, "no ext4 superblock"),
])
def test_e2fsck_runs_for_each_reason_it_would_check(fields, why):
    assert ext4.preen_reason(clean(fields), NOW) == why


def test_preen_reason_of_real_ext4(tmp_path):
    """mkfs's ext4 is clean; one whose superblock records errors is not (debugfs sets it)."""
    img = str(tmp_path / "img")
    with open(img, "wb") as f:
        f.truncate(64 << 20)
    subprocess.check_call(["mkfs.ext4", "-q", "-F", img])
    assert ext4.preen_reason(ext4.read_superblock(img), NOW) is None
    subprocess.check_call(["debugfs", "-w", "-R", "ssv state 3", img],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert ext4.preen_reason(ext4.read_superblock(img), NOW) == "errors recorded"
    assert ext4.read_superblock(str(tmp_path / "missing")) == b""
