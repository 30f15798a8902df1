"""The CLI path of the ZFS layer against a fake zfs/zpool on PATH (conftest's ``fake``):
argv and error mapping."""
import os

import pytest

from vzzfs_hooks.system import zfs
from vzzfs_hooks.base.errors import (ConfigError, DatasetBusy, DatasetExists, DatasetNotFound, PoolFull,
                                PoolNotImported, StreamError, UsageError, VzzfsError, ZfsError)


@pytest.mark.parametrize("stderr,cls", [
    ("cannot open 'vz/x': dataset does not exist\n", DatasetNotFound),
    ("cannot create 'vz/x': dataset already exists\n", DatasetExists),
    ("cannot create 'vz/x': out of space\n", PoolFull),
    ("cannot destroy 'vz/x': dataset is busy\n", DatasetBusy),
    ("cannot destroy 'vz/x@s': snapshot has dependent clones\n", DatasetBusy),
    ("cannot open 'vz': no such pool\n", PoolNotImported),
    ("The ZFS modules are not loaded.\n", PoolNotImported),
    ("something new and strange\n", ZfsError),
])
def test_cli_errors_map_to_types(fake, stderr, cls):
    fake.fail(stderr)
    with pytest.raises(cls) as e:
        zfs.destroy("vz/x")
    assert type(e.value) is cls
    assert e.value.exit_code == 5
    assert stderr.strip().splitlines()[-1] in e.value.problem


def test_fix_names_the_pool(fake):
    fake.fail("cannot open 'tank/a/b': no such pool\n")
    with pytest.raises(PoolNotImported) as e:
        zfs.get("tank/a/b", "volsize")
    assert e.value.fix == "import it with: zpool import tank"


def test_create_volume_rounds_to_volblocksize(fake):
    size = zfs.create_volume("vz/vzzfs/ct/101", 10000, 4096, sparse=True,
                             props={"compression": "lz4"})
    assert size == 12288
    assert fake.calls() == ["create -V 12288 -o volblocksize=4096 -s -o compression=lz4 "
                            "vz/vzzfs/ct/101"]


def test_get_parses_parsable_output(fake):
    fake.output("volsize\t10737418240\nused\t1234\norigin\t-\n")
    assert zfs.get("vz/a", "volsize", "used", "origin") == {
        "volsize": "10737418240", "used": "1234", "origin": None}
    assert fake.calls() == ["get -Hp -o property,value volsize,used,origin vz/a"]


def test_list_of_missing_root_is_empty(fake):
    fake.fail("cannot open 'vz/none': dataset does not exist\n")
    assert zfs.list_datasets("vz/none", ["name"]) == []


def test_pool_health_missing_pool(fake):
    fake.fail("cannot open 'vz': no such pool\n")
    with pytest.raises(PoolNotImported) as e:
        zfs.require_pool("vz")
    assert "zpool import vz" in e.value.fix


def test_faulted_pool_refused(fake):
    fake.output("FAULTED\n")
    with pytest.raises(PoolNotImported):
        zfs.require_pool("vz")


@pytest.mark.parametrize("bad", ["../x", "vz/../x", "vz/a b", "-o", "vz//x", "vz/x;id", ""])
def test_bad_names_never_reach_zfs(fake, bad):
    with pytest.raises(ConfigError):
        zfs.destroy(bad)
    assert fake.calls() == []


def test_snapshot_names_checked(fake):
    with pytest.raises(UsageError, match="invalid snapshot name"):
        zfs.snapshot(["vz/a@bad name"])
    zfs.snapshot(["vz/a@s1", "vz/b@s1"])
    assert fake.calls() == ["snapshot vz/a@s1 vz/b@s1"]


def test_snapshot_names_are_checked_in_both_halves(fake):
    assert zfs.exists("vz/a@golden")
    assert fake.calls() == ["list -H -o name -t all vz/a@golden"]
    for bad in ("vz/a@", "vz/a@b c", "vz/a@-x"):
        with pytest.raises(UsageError, match="invalid snapshot name"):
            zfs.exists(bad)
    with pytest.raises(ConfigError, match="not a valid ZFS dataset name"):
        zfs.exists("../a@s")


@pytest.mark.parametrize("pool_imported", [True, False])
def test_exists_tells_a_missing_dataset_from_a_missing_pool(tmp_path, monkeypatch,
                                                            pool_imported):
    """zfs says "dataset does not exist" for both; only zpool can tell them apart."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "zfs").write_text("#!/bin/sh\necho \"cannot open '$7': dataset does not exist\""
                                " >&2\nexit 1\n")
    (bindir / "zpool").write_text("#!/bin/sh\n" + ("printf 'ONLINE\\t5\\n'\n" if pool_imported
                                  else "echo \"cannot open 'vz': no such pool\" >&2\nexit 1\n"))
    for prog in ("zfs", "zpool"):
        (bindir / prog).chmod(0o755)
    monkeypatch.setenv("PATH", "%s:%s" % (bindir, os.environ["PATH"]))
    if pool_imported:
        assert zfs.exists("vz/vzzfs/ct/101") is False
    else:
        with pytest.raises(PoolNotImported) as exc:
            zfs.exists("vz/vzzfs/ct/101")
        assert exc.value.exit_code == 5 and "zpool import vz" in exc.value.line()


@pytest.mark.parametrize("stderr,cls", [
    ("cannot receive new filesystem stream: out of space\n", PoolFull),
    ("cannot receive incremental stream: disk quota exceeded\n", PoolFull),
    ("cannot receive: invalid backup stream\n", None),
    ("cannot receive: checksum mismatch\n", None),
])
def test_a_full_pool_is_told_from_a_damaged_stream(stderr, cls):
    assert zfs.error_class(stderr) is cls


def test_send_writes_the_stream_and_types_its_failure(fake, tmp_path):
    fake.output("STREAM")
    out = tmp_path / "out"
    with open(str(out), "wb") as f:
        assert zfs.send("vz/a@s2", f, base="vz/a@s1") == 6
    assert out.read_bytes() == b"STREAM"
    assert "send -p -i vz/a@s1 vz/a@s2" in fake.calls()
    fake.fail("cannot open 'vz': no such pool\n")
    with pytest.raises(PoolNotImported, match="zfs send vz/a@s2 failed"):
        with open(str(out), "wb") as f:
            zfs.send("vz/a@s2", f)


@pytest.mark.parametrize("stderr,cls", [
    ("cannot receive new filesystem stream: out of space\n", PoolFull),
    ("cannot open 'vz': no such pool\n", PoolNotImported),
    ("cannot receive: invalid stream (bad magic number)\n", StreamError),
])
def test_receive_tells_the_nodes_trouble_from_the_streams(fake, tmp_path, stderr, cls):
    src = tmp_path / "in"
    src.write_bytes(b"x" * 100)
    fake.fail(stderr)
    with open(str(src), "rb") as f, pytest.raises(cls) as e:
        zfs.receive(f, "vz/vzzfs/incoming/101-restoring", resumable=True)
    assert type(e.value) is cls
    assert "receive -u -s vz/vzzfs/incoming/101-restoring" in fake.calls()


def test_a_missing_zfs_is_reported_as_such_for_streams_too(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no zfs anywhere
    with open(str(tmp_path / "out"), "wb") as f, pytest.raises(VzzfsError) as e:
        zfs.send("vz/a@s1", f, resume_token="1-abc")
    assert e.value.line().startswith("command zfs not found")
    with open(str(tmp_path / "out"), "rb") as f, pytest.raises(VzzfsError) as e:
        zfs.receive(f, "vz/a")
    assert "command zfs not found" in e.value.line()


def test_get_many_asks_once_and_leaves_out_what_is_missing(fake):
    fake.output("vz/a\tvolsize\t4096\nvz/a\tused\t-\nvz\tvolsize\t-\nvz\tused\t100\n")
    fake.fail("cannot open 'vz/b': dataset does not exist\n")
    assert zfs.get_many(["vz/a", "vz/b", "vz"], "volsize", "used") == {
        "vz/a": {"volsize": "4096", "used": None}, "vz": {"volsize": None, "used": "100"}}
    assert fake.calls() == ["get -Hp -o name,property,value volsize,used vz/a vz/b vz"]


def test_get_many_raises_what_is_not_a_missing_name(fake):
    fake.fail("cannot open 'vz/b': dataset does not exist\ncannot open 'vz': no such pool\n")
    with pytest.raises(PoolNotImported):
        zfs.get_many(["vz/b", "vz"], "volsize")


@pytest.mark.parametrize("used,avail,percent", [("85", "15", 85), ("0", "100", 0),
                                                ("100", "0", 100), (None, None, 100)])
def test_percent_full_counts_what_writes_can_still_take(used, avail, percent):
    assert zfs.percent_full({"used": used, "available": avail}) == percent


def test_pool_health_comes_from_the_kstat_file_without_zpool(fake, tmp_path, monkeypatch):
    from vzzfs_hooks.base import kstats
    (tmp_path / "kstat" / "vz").mkdir(parents=True)
    (tmp_path / "kstat" / "vz" / "state").write_text("SUSPENDED\n")
    monkeypatch.setattr(kstats, "KSTAT_DIR", str(tmp_path / "kstat"))
    with pytest.raises(PoolNotImported, match="pool vz is SUSPENDED"):
        zfs.require_pool("vz")
    assert zfs.pool_health("vz") == "SUSPENDED" and fake.calls() == []
    fake.output("ONLINE\n")  # no kstat file (another pool, or OpenZFS before 0.8): zpool says
    assert zfs.pool_health("other") == "ONLINE"
    assert fake.calls() == ["list -H -o health other"]


def test_existing_asks_once_for_many_names(fake):
    fake.output("vz/vzzfs\nvz/vzzfs/ct\n")
    fake.fail("cannot open 'vz/vzzfs/ct/101': dataset does not exist\n")
    assert zfs.existing(["vz/vzzfs", "vz/vzzfs/ct", "vz/vzzfs/ct/101"]) == {
        "vz/vzzfs", "vz/vzzfs/ct"}
    assert fake.calls() == ["list -H -o name -t all vz/vzzfs vz/vzzfs/ct vz/vzzfs/ct/101"]
    fake.fail("cannot open 'vz': no such pool\n")
    with pytest.raises(PoolNotImported):
        zfs.existing(["vz/vzzfs"])
    assert zfs.existing([]) == set()


def test_get_many_recursive_answers_for_the_snapshots_in_the_same_command(fake):
    fake.output("vz/a\tguid\t1\nvz/a@s\tguid\t2\nvz/a\treceive_resume_token\t-\n")
    fake.fail("cannot open 'vz/i': dataset does not exist\n")
    assert zfs.get_many(["vz/i", "vz/a"], "guid", "receive_resume_token", recursive=True) == {
        "vz/a": {"guid": "1", "receive_resume_token": None}, "vz/a@s": {"guid": "2"}}
    assert fake.calls() == ["get -Hp -r -o name,property,value guid,receive_resume_token vz/i vz/a"]


def test_all_props_gives_value_and_source_per_name(fake):
    fake.output("vz/a\ttype\tvolume\t-\nvz/a@s\torg.openvz.vzzfs:dumpfile\t/x\treceived\n")
    assert zfs.all_props(["vz/a"], recursive=True) == {
        "vz/a": {"type": ("volume", "-")},
        "vz/a@s": {"org.openvz.vzzfs:dumpfile": ("/x", "received")}}
    assert fake.calls() == ["get -Hp -r -o name,property,value,source all vz/a"]
