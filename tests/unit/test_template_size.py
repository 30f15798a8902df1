"""A template zvol is sized to what it holds plus ext4's headroom (template.fitted_size)."""
from vzzfs_hooks import template, volume

MIB = 1 << 20
GIB = 1 << 30
# mkfs.ext4 -b 4096's groups: 32768 blocks of 4 KiB, 128 MiB each
GEO = volume.Geometry(inode_count=131072, block_count=524288, inodes_per_group=8192,
                      blocks_per_group=32768, block_size=4096)
VBS = 16384


def blocks(mib):
    return mib * MIB // 4096


def test_small_templates_get_the_smallest_ct_size():
    assert template.fitted_size(blocks(20), GEO, VBS, 2 * GIB) == volume.MIN_SIZE


def test_slack_is_at_least_the_minimum_then_rounds_to_whole_groups():
    # 100 MiB + 64 MiB of slack: two groups
    assert template.fitted_size(blocks(100), GEO, VBS, 2 * GIB) == 256 * MIB
    # 400 MiB + 64 MiB: four groups (512 MiB), so a stock 1G CT is a clone
    assert template.fitted_size(blocks(400), GEO, VBS, 2 * GIB) == 512 * MIB


def test_large_templates_get_ten_percent():
    # 1000 MiB + 100 MiB = 1100 MiB: nine groups
    assert template.fitted_size(blocks(1000), GEO, VBS, 4 * GIB) == 9 * 128 * MIB


def test_never_larger_than_what_it_was_unpacked_in():
    assert template.fitted_size(blocks(1990), GEO, VBS, 2 * GIB) == 2 * GIB


def test_a_size_is_a_multiple_of_the_volblocksize():
    odd = volume.Geometry(inode_count=1, block_count=1, inodes_per_group=1,
                          blocks_per_group=1000, block_size=4096)
    size = template.fitted_size(blocks(300), odd, 128 << 10, 2 * GIB)
    assert size % (128 << 10) == 0 and size >= 300 * MIB + 64 * MIB


def test_staging_leaves_room_for_a_compressed_tarball():
    assert template.staging_size(100 * MIB) == 2 * GIB  # never below the old default
    assert template.staging_size(300 * MIB) == 3 * GIB  # 8x, rounded up to GiB
    assert template.staging_size(GIB) == 8 * GIB
