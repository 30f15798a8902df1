"""The zfs facts behind a stream's kind: the dry run that describes a cut stream, and
the zfs module and pool facts a --status answer gives. A fake zfs on PATH stands in
(conftest's ``fake``)."""
from vzzfs_hooks.rules import streams
from vzzfs_hooks.system import zfs


# `zfs send -nvP -t TOKEN` of OpenZFS 2.1.11 in the test VM (a `zfs send -c -e` cut part way)
RESUME_DRY_RUN = """resume token contents:
nvlist version: 0
\tobject = 0x1
\toffset = 0xa6bc000
\tbytes = 0x1c99798
\ttoguid = 0xac75956a4720249c
\ttoname = vz/vzzfs/ct/101@vzzfs-send-20261207-101010
\tembedok = 1
\tcompressok = 1
full\tvz/vzzfs/ct/101@vzzfs-send-20261207-101010\t8392704
size\t8392704
"""


def test_resume_info_reads_the_kind_and_the_size_of_a_cut_stream(fake):
    fake.output(RESUME_DRY_RUN)
    assert zfs.resume_info("1-abc") == {
        "snapshot": "vz/vzzfs/ct/101@vzzfs-send-20261207-101010",
        "kind": streams.COMPRESSED, "size": 8392704}
    assert fake.calls() == ["send -nvP -t 1-abc"]
    fake.output(RESUME_DRY_RUN.replace("\tembedok = 1\n\tcompressok = 1\n", ""))
    assert zfs.resume_info("1-abc")["kind"] == streams.PLAIN


def test_what_a_node_takes_comes_from_its_module_and_pool(fake, tmp_path):
    version = tmp_path / "version"
    version.write_text("2.1.11-1\n")
    assert zfs.zfs_version(str(version)) == (2, 1)
    version.write_text("0.6.5.11-1\n")
    assert zfs.zfs_version(str(version)) == (0, 6)
    assert zfs.zfs_version(str(tmp_path / "none")) is None
    fake.output("size\t1000\ncapacity\t1\nfeature@lz4_compress\tactive\n"
                "feature@embedded_data\tactive\nfeature@zstd_compress\tenabled\n"
                "feature@draid\tdisabled\n")
    assert zfs.pool_features("vz") == {"lz4_compress": "active", "embedded_data": "active",
                                       "zstd_compress": "enabled", "draid": "disabled"}
    assert fake.calls() == ["get -H -o property,value all vz"]
