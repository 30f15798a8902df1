"""volume.fs_size reads the ext4 superblock itself (no dumpe2fs in the premount hook)."""
import struct
import subprocess

import pytest

from vzzfs_hooks import volume
from vzzfs_hooks.errors import FsError


def superblock(blocks, log_block=2, incompat=0):
    sb = bytearray(1024)
    struct.pack_into("<I", sb, 0x4, blocks & 0xFFFFFFFF)
    struct.pack_into("<I", sb, 0x18, log_block)
    struct.pack_into("<H", sb, 0x38, 0xEF53)
    struct.pack_into("<I", sb, 0x60, incompat)
    struct.pack_into("<I", sb, 0x150, blocks >> 32)
    return bytes(sb)


def test_size_is_blocks_times_block_size():
    assert volume.superblock_size(superblock(32768), "d") == 128 << 20
    assert volume.superblock_size(superblock(1000, log_block=0), "d") == 1024000


def test_high_blocks_count_only_with_64bit():
    big = (1 << 32) + 5
    assert volume.superblock_size(superblock(big, incompat=0x80), "d") == big * 4096
    assert volume.superblock_size(superblock(big), "d") == 5 * 4096


def test_not_ext4_is_refused():
    with pytest.raises(FsError):
        volume.superblock_size(bytes(1024), "/dev/zd0")
    with pytest.raises(FsError):
        volume.superblock_size(b"", "/dev/zd0")


def test_matches_what_mkfs_made(tmp_path):
    img = str(tmp_path / "img")
    with open(img, "wb") as f:
        f.truncate(300 << 20)
    subprocess.check_call(["mkfs.ext4", "-q", "-F", "-b", "4096", img, "200M"])
    assert volume.fs_size(img) == 200 << 20
