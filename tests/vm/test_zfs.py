"""The ZFS layer on a real pool, through libzfs_core and through the CLI alone."""
import pytest

from vzzfs_hooks.system import zfs, zvoldev
from vzzfs_hooks.base.errors import DatasetExists, DatasetNotFound, PoolNotImported


@pytest.fixture(params=["lzc", "cli"])
def backend(request, monkeypatch, pool):
    if request.param == "lzc":
        assert zfs._pyzfs() is not None, "python3-pyzfs must be importable in the VM"
    else:
        monkeypatch.setattr(zfs, "lzc", None)
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
