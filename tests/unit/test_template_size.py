"""A template zvol is sized to what it holds plus ext4's headroom (template.fitted_size)."""
from vzzfs_hooks.verbs import template
from vzzfs_hooks.system import ext4

MIB = 1 << 20
GIB = 1 << 30
VBS = 16384


def blocks(mib):
    return mib * MIB // 4096


def fit(mib, staged=2 * GIB, vbs=VBS):
    return template.fitted_size(blocks(mib), 4096, vbs, staged)


def test_small_templates_get_the_smallest_ct_size():
    assert fit(20) == ext4.MIN_SIZE


def test_slack_is_at_least_the_minimum_then_rounds_up_to_16_mib():
    # an empty ext4 unpacked in 2G: resize2fs -P says 30819 blocks (its 64M journal,
    # metadata), 120.4 MiB; + 32 MiB = 152.4 MiB
    assert template.fitted_size(30819, 4096, VBS, 2 * GIB) == 160 * MIB
    # a minimal distribution: 400 MiB + 40 MiB, so a stock 1G CT is a clone
    assert fit(400) == 448 * MIB


def test_large_templates_get_ten_percent():
    assert fit(1000, 4 * GIB) == 1104 * MIB  # 1100 MiB, rounded up to 16 MiB


def test_never_larger_than_what_it_was_unpacked_in():
    assert fit(1990) == 2 * GIB


def test_a_size_is_a_multiple_of_the_volblocksize():
    size = fit(300, vbs=128 << 10)
    assert size % (128 << 10) == 0 and size >= 330 * MIB


def test_staging_leaves_room_for_a_compressed_tarball():
    assert template.staging_size(100 * MIB) == 2 * GIB  # never below the old default
    assert template.staging_size(300 * MIB) == 3 * GIB  # 8x, rounded up to GiB
    assert template.staging_size(GIB) == 8 * GIB
