"""Issue 29, 2: what a received stream may set (rules/received.py), and the zfs receive
command line that carries it out, against a fake zfs. On real ZFS:
tests/vm/test_trust.py (a backup of a zvol with checksum=off, sync=disabled,
copies=2 and a refreservation restores with none of them)."""
import os
import stat

from vzzfs_hooks.base import names
from vzzfs_hooks.rules import received
from vzzfs_hooks.system import zfs

NODE = {"compression": "lz4", "primarycache": "all", "dedup": "off"}
HOSTILE = ("checksum", "sync", "copies", "refreservation", "reservation", "dedup", "volmode",
           "readonly", "compression", "primarycache", "snapdev", "logbias")


def test_a_new_zvol_gets_this_nodes_settings_and_none_of_the_senders():
    exclude, override = received.receive_options("101", True, NODE, False)
    assert override == {names.PROP_CTID: "101", "compression": "lz4", "primarycache": "all",
                        "dedup": "off"}
    for prop in HOSTILE:
        assert prop in exclude or prop in override, prop
    for prop in received.VZZFS_PROPS:  # vzzfs's own word is never the sender's
        assert prop in exclude or override.get(prop) in ("101", "yes"), prop
    assert not set(exclude) & set(override)  # zfs refuses a property named twice
    assert "volsize" not in exclude and "volblocksize" not in exclude  # zfs refuses these


def test_an_increment_leaves_the_zvols_own_properties_as_they_are():
    """-x does not keep a stream's refreservation off a zvol that exists (OpenZFS 2.1.11
    received refreservation=32M onto one): the zvol's own value is set in the receive."""
    exclude, override = received.receive_options(
        "101", False, NODE, True, {"refreservation": "0", "reservation": None})
    assert override == {names.PROP_CTID: "101", names.PROP_REPLICA: "yes",
                        "refreservation": "0", "reservation": "none"}
    for prop in HOSTILE:
        assert prop in exclude or prop in received.NOT_INHERITED, prop
    assert not set(exclude) & set(override)


def test_only_received_user_properties_are_cleared_after_a_receive():
    listed = {"checksum": "default", "com.sun:auto-snapshot": "received", "foo:bar": "local",
              names.PROP_CTID: "local", "syncoid:sync": "received", "copies": "received"}
    assert received.received_user_props(listed) == ["com.sun:auto-snapshot", "syncoid:sync"]


def test_zfs_receive_names_them_in_the_same_command(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "argv"
    fake = bindir / "zfs"
    fake.write_text("#!/bin/sh\necho \"$*\" > '%s'\ncat >/dev/null\n" % log)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", "%s:%s" % (bindir, os.environ["PATH"]))
    exclude, override = received.receive_options("101", True, NODE, False)
    stream = tmp_path / "stream"
    stream.write_bytes(b"stream")
    with open(str(stream), "rb") as src:  # zfs receive reads the file's descriptor
        zfs.receive(src, "vz/vzzfs/incoming/101-restoring", resumable=True,
                    exclude=exclude, override=override)
    argv = log.read_text().split()
    assert argv[:3] == ["receive", "-u", "-s"] and argv[-1] == "vz/vzzfs/incoming/101-restoring"
    assert ["-x", "checksum"] == argv[argv.index("checksum") - 1:argv.index("checksum") + 1]
    assert "-o" in argv and "compression=lz4" in argv and names.PROP_CTID + "=101" in argv


def test_only_the_dump_path_this_node_gives_a_snapshot_is_deleted_with_it():
    """A received snapshot's dumpfile property (left by a restore killed before it was
    cleared) named /etc/Dump.101.x, which snapshot-delete then unlinked."""
    from vzzfs_hooks.verbs import snapshots

    class CT(object):
        ctid = "101"
        params = {"DUMPDIR": "/vz/dump"}
    ct = CT()
    assert snapshots._dump_named_by_vzzfs(ct, "/vz/dump/Dump.101.s1", "s1")
    for path in ("/etc/Dump.101.s1", "/vz/dump/Dump.101.s2", "/vz/dump/Dump.101", "", None):
        assert not snapshots._dump_named_by_vzzfs(ct, path, "s1"), path
