"""Whether a clone of a template has DISKINODES' inodes: ext4's inodes grow with its size."""
import shutil
import subprocess


from vzzfs_hooks.verbs import lifecycle, template
from vzzfs_hooks.system import ext4, ext4geometry

# what `mkfs.ext4 -b 4096` makes of vzzfs's default 2 GiB template: 16 groups of 128 MiB
DEFAULT = ext4geometry.Geometry(inode_count=131072, block_count=524288, inodes_per_group=8192,
                          blocks_per_group=32768, block_size=4096)
GIB = 1 << 30
# the stock samples' DISKSPACE="2G:2.2G": the zvol follows the limit, 2306867 KiB,
# rounded up to the 16K volblocksize
STOCK_CLONE = 2362232832


def test_inodes_count_whole_groups_and_never_shrink():
    assert ext4geometry.inodes_at_size(DEFAULT, 2 * GIB) == 131072
    assert ext4geometry.inodes_at_size(DEFAULT, STOCK_CLONE) == 17 * 8192  # 17.6 groups: 17 count
    assert ext4geometry.inodes_at_size(DEFAULT, 10 * GIB) == 80 * 8192
    assert ext4geometry.inodes_at_size(DEFAULT, GIB) == 131072  # a clone keeps the template's


def test_stock_diskinodes_clone_the_default_template():
    enough, have, need = template.clone_inodes(DEFAULT, 2 * GIB, STOCK_CLONE, 131072)
    assert enough and have == 139264


def test_too_many_inodes_say_what_template_would_do():
    enough, have, need = template.clone_inodes(DEFAULT, 2 * GIB, STOCK_CLONE, 200000)
    assert not enough and have == 139264
    assert need == 11765 * 16  # ceil(200000 / 17 groups) per group, in the template's 16
    # more than one inode per block in a group: no template can do it
    assert template.clone_inodes(DEFAULT, 2 * GIB, STOCK_CLONE, 17 * 32768 + 1)[2] is None


def test_geometry_property_round_trip():
    assert template.parse_geometry(template.format_geometry(DEFAULT)) == DEFAULT
    for bad in (None, "", "inode_count=1", "garbage", "inode_count=x,block_count=1"):
        assert template.parse_geometry(bad) is None


def test_unpack_message_names_what_was_asked_what_a_clone_has_and_the_fix(monkeypatch):
    monkeypatch.setattr(template, "geometry", lambda settings, name, recorded=None: DEFAULT)
    assert lifecycle._inodes_refuse_clone(None, "deb", 2 * GIB, STOCK_CLONE, 131072, None) is None
    why, fix = lifecycle._inodes_refuse_clone(None, "deb", 2 * GIB, STOCK_CLONE, 200000, None)
    assert why == "DISKINODES asks for 200000 inodes, a clone of 2252 MiB would have 139264"
    assert "lower DISKINODES" in fix
    assert "vzzfs template import deb --size 2048M --diskinodes 188240" in fix


def test_prediction_holds_for_a_real_ext4(tmp_path):
    assert shutil.which("mkfs.ext4") and shutil.which("resize2fs"), \
        "needs e2fsprogs: run scripts/vm-setup"
    img = str(tmp_path / "fs.img")
    with open(img, "wb") as f:
        f.truncate(2 * GIB)
    ext4.mkfs(img, 2 * GIB)
    geo = ext4geometry.geometry(img)
    assert geo == DEFAULT
    for size in (STOCK_CLONE, 3 * GIB + 12345 * 4096):
        with open(img, "r+b") as f:
            f.truncate(size)
        subprocess.run(["resize2fs", img], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True)
        assert ext4geometry.geometry(img).inode_count >= ext4geometry.inodes_at_size(geo, size)


def test_inodes_per_gib_of_the_default_template():
    assert template.inodes_per_gib(DEFAULT) == 65536
