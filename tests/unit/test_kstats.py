"""kstats: OpenZFS's kstat files read as dictionaries (fixtures in the kernel's format)."""

from vzzfs_hooks.base import kstats

OBJSET = """36 1 0x01 7 2160 5214144140 1238474857842
name                            type data
dataset_name                    7    %s
writes                          4    12
nwritten                        4    49152
reads                           4    3
nread                           4    12288
nunlinks                        4    0
nunlinked                       4    0
"""


def _pool(tmp_path, pool, files):
    d = tmp_path / pool
    d.mkdir()
    for name, text in files.items():
        (d / name).write_text(text)
    return str(tmp_path)


def test_objset_counters_by_dataset_name(tmp_path):
    root = _pool(tmp_path, "vz", {"objset-0x36": OBJSET % "vz/vzzfs/ct/101",
                                 "objset-0x52": OBJSET % "vz/vzzfs/ct/102",
                                 "txgs": "1 2 3\nname type data\n", "state": "ONLINE\n"})
    got = kstats.objset_counters("vz", root)
    assert set(got) == {"vz/vzzfs/ct/101", "vz/vzzfs/ct/102"}
    assert got["vz/vzzfs/ct/101"]["nread"] == 12288
    assert got["vz/vzzfs/ct/101"]["nwritten"] == 49152
    assert got["vz/vzzfs/ct/101"]["writes"] == 12


def test_no_counters_for_a_pool_without_kstats(tmp_path):
    assert kstats.objset_counters("vz", str(tmp_path)) == {}
    assert kstats.objset_counters("vz", str(tmp_path / "nonexistent")) == {}


def test_pool_name_is_not_a_pattern(tmp_path):
    _pool(tmp_path, "vz", {"objset-0x36": OBJSET % "vz/vzzfs/ct/101"})
    assert kstats.objset_counters("v?", str(tmp_path)) == {}
    assert kstats.objset_counters("*", str(tmp_path)) == {}


def test_read_kstat_skips_the_header(tmp_path):
    path = tmp_path / "arcstats"
    path.write_text("13 1 0x01 123 33456 1 2\nname type data\nhits 4 10\nsize 4 2048\n")
    assert kstats.read_kstat(str(path)) == {"hits": "10", "size": "2048"}
