"""The ZFS layer on a real pool, through libzfs_core and through the CLI alone."""
import pytest

from vzzfs_hooks.system import lzc, zfs, zvoldev
from vzzfs_hooks.base.errors import DatasetExists, DatasetNotFound, PoolNotImported


@pytest.fixture(params=["lzc", "cli"])
def backend(request, monkeypatch, pool):
    if request.param == "lzc":
        assert zfs._pyzfs() is not None, "python3-pyzfs must be importable in the VM"
        assert lzc.load() is not None, "libzfs_core.so.3 must load in the VM"
    else:
        monkeypatch.setattr(zfs, "pyzfs", None)
        monkeypatch.setattr(lzc, "load", lambda: None)
    yield request.param
    zfs.zfs("destroy", "-r", "vz/zt", check=False)


def test_volume_lifecycle_and_typed_errors(backend):
    zfs.ensure_filesystem("vz/zt")
    assert zfs.get("vz/zt", "canmount")["canmount"] == "off"
    size = zfs.create_volume("vz/zt/v", 10 << 20 | 1, 16384, props={"compression": "lz4"})
    assert size == (10 << 20) + 16384  # rounded up to volblocksize
    assert zfs.exists("vz/zt/v") and not zfs.exists("vz/zt/nope")
    props = zfs.get("vz/zt/v", "volsize", "volblocksize", "compression", "refreservation")
    assert props["volsize"] == str(size) and props["volblocksize"] == "16384"
    assert props["compression"] == "lz4" and int(props["refreservation"]) >= size
    with pytest.raises(DatasetExists):
        zfs.create_volume("vz/zt/v", 1 << 20, 16384)
    zfs.snapshot(["vz/zt/v@a"], {"org.openvz.vzzfs:test": "1"})
    assert zfs.get("vz/zt/v@a", "org.openvz.vzzfs:test")["org.openvz.vzzfs:test"] == "1"
    rows = zfs.list_datasets("vz/zt", ["name", "volsize"])
    assert [r["name"] for r in rows] == ["vz/zt/v"]
    with pytest.raises(DatasetNotFound):
        zfs.destroy("vz/zt/missing")
    zfs.destroy("vz/zt/v@a")
    zfs.destroy("vz/zt/v")
    assert not zfs.exists("vz/zt/v")


def test_pool_checks(backend):
    assert zfs.pool_health("vz") == "ONLINE"
    assert zfs.require_pool("vz") is None
    assert 0 <= zfs.pool_capacity("vz") < 50, "a scratch pool is nearly empty"
    with pytest.raises(PoolNotImported) as e:
        zfs.require_pool("nopool")
    assert "zpool import nopool" in e.value.line()
    assert zfs.list_datasets("vz/nothing-here", ["name"]) == []
    with pytest.raises(PoolNotImported):  # zfs says "does not exist" here too
        zfs.exists("nopool/vzzfs/ct/101")


def test_a_snapshot_right_after_buffered_writes_holds_them(backend):
    """Writes still in the zvol's page cache (no fsync) are in a snapshot taken at
    once: zfs.snapshot flushes the block device first. Read back through a clone."""
    import hashlib
    import os
    zfs.ensure_filesystem("vz/zt")
    zfs.create_volume("vz/zt/src", 16 << 20, 16384)
    dev = zvoldev.find_device("vz/zt/src", 10)
    data = os.urandom(8 << 20)
    fd = os.open(dev, os.O_WRONLY)
    try:
        os.write(fd, data)  # buffered: no fsync, no O_DIRECT
        zfs.snapshot(["vz/zt/src@now"])
    finally:
        os.close(fd)
    zfs.clone("vz/zt/src@now", "vz/zt/copy")
    with open(zvoldev.find_device("vz/zt/copy", 10), "rb") as f:
        copy = f.read(len(data))
    assert hashlib.sha256(copy).hexdigest() == hashlib.sha256(data).hexdigest()


def test_lzc_clone_sets_each_native_value_as_the_kernel_names_it(pool):
    """lzc.py's index numbers are the values zfs get reads back: every value of
    its table, set through lzc_clone, with user properties beside them."""
    bound = lzc.load()
    assert bound is not None
    zfs.ensure_filesystem("vz/zt")
    try:
        zfs.create_volume("vz/zt/src", 8 << 20, 16384)
        zfs.snapshot(["vz/zt/src@s"])
        table = {p: sorted(v) for p, v in lzc._INDEX.items()}
        rounds = max(len(v) for v in table.values())
        for i in range(rounds):
            want = {p: values[i % len(values)] for p, values in table.items()}
            props = {p: lzc.prop_index(p, v) for p, v in want.items()}
            props["org.openvz.vzzfs:ctid"] = lzc.prop_index("org.openvz.vzzfs:ctid", "10%d" % i)
            assert bound.clone("vz/zt/c%d" % i, "vz/zt/src@s", props) == 0
            got = zfs.get("vz/zt/c%d" % i, *(sorted(want) + ["org.openvz.vzzfs:ctid"]))
            assert got.pop("org.openvz.vzzfs:ctid") == "10%d" % i
            # gzip-6 is what "gzip" means: zfs names it by the first of its names
            assert got == {p: "gzip" if v == "gzip-6" else v for p, v in want.items()}
    finally:
        zfs.zfs("destroy", "-r", "vz/zt", check=False)


def test_the_channel_program_reads_what_zfs_get_reads(pool, monkeypatch):
    zfs.ensure_filesystem("vz/zt")
    try:
        zfs.create_volume("vz/zt/v", 8 << 20, 16384, props={"org.openvz.vzzfs:ctid": "7"})
        zfs.snapshot(["vz/zt/v@s"])
        props = ("volsize", "org.openvz.vzzfs:ctid", "org.openvz.vzzfs:unset", "used",
                 "available", "compression")
        wanted = [("vz/zt/v@s", ("volsize",)), ("vz/zt/v", props), ("vz/zt/missing", props),
                  ("vz", ("used", "available")), ("vz/zt", ())]
        through_lzc = zfs.read_many(wanted)
        by_cli = zfs.get_many([name for name, _ in wanted], *props)

        def steady(found):
            """used and available move while the pool settles: numbers, not values"""
            return {name: {p: (v.isdigit() if p in ("used", "available") else v)
                           for p, v in values.items()} for name, values in found.items()}
        assert steady(through_lzc) == steady(
            {name: {p: v for p, v in by_cli[name].items() if p in asked}
             for name, asked in wanted if name in by_cli})
        assert steady(through_lzc)["vz"] == {"used": True, "available": True}
        assert through_lzc["vz/zt"] == {} and "vz/zt/missing" not in through_lzc
        assert through_lzc["vz/zt/v"]["org.openvz.vzzfs:ctid"] == "7"
        assert through_lzc["vz/zt/v"]["org.openvz.vzzfs:unset"] is None
        assert through_lzc["vz/zt/v@s"] == {"volsize": str(8 << 20)}
        # the same through zfs get where the library is off
        monkeypatch.setattr(lzc, "load", lambda: None)
        assert steady(zfs.read_many(wanted)) == steady(through_lzc)
        monkeypatch.undo()
        # a name in another pool: the channel program cannot, zfs get answers
        assert zfs.read_many([("vz/zt/v", ("volsize",)), ("nopool/x", ("volsize",))]) == {
            "vz/zt/v": {"volsize": str(8 << 20)}}
    finally:
        zfs.zfs("destroy", "-r", "vz/zt", check=False)


def test_clone_with_properties_raises_typed_errors(backend):
    zfs.ensure_filesystem("vz/zt")
    zfs.create_volume("vz/zt/src", 8 << 20, 16384)
    zfs.snapshot(["vz/zt/src@s"])
    props = {"compression": "lz4", "org.openvz.vzzfs:ctid": "5"}
    zfs.clone("vz/zt/src@s", "vz/zt/c", props)
    assert zfs.get("vz/zt/c", "compression", "origin") == {"compression": "lz4",
                                                            "origin": "vz/zt/src@s"}
    with pytest.raises(DatasetExists):
        zfs.clone("vz/zt/src@s", "vz/zt/c", props)
    with pytest.raises(DatasetNotFound):
        zfs.clone("vz/zt/src@gone", "vz/zt/d", props)
    assert not zfs.exists("vz/zt/d")
