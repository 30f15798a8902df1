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


def test_only_what_a_receive_left_set_is_cleared_and_each_in_one_command():
    """After a receive, one `zfs get all` says what is set; `zfs inherit` runs for those
    and for nothing else (a receive that brought none runs no command)."""
    ds = "vz/vzzfs/ct/101"
    listed = {
        ds: {names.PROP_CONVERT: ("copying", "received"), names.PROP_REPLICA: ("yes", "local"),
             names.PROP_ROLLED_BACK: ("123", "inherited from vz"),
             "syncoid:sync": ("x", "received"), "foo:bar": ("y", "local"),
             names.PROP_CTID: ("101", "local")},
        ds + "@a": {names.PROP_DUMP: ("/etc/passwd", "received"),
                    names.PROP_STREAM_BYTES: ("5", "local")},
        ds + "@b": {names.PROP_DUMP: ("/x", "received"), names.PROP_REPLICATED: ("-", "-")},
        "vz/vzzfs/ct/1010@a": {names.PROP_DUMP: ("/y", "received")},  # another zvol
    }
    assert received.to_clear(listed, ds) == [
        (names.PROP_CONVERT, [ds]), (names.PROP_REPLICA, [ds]), ("syncoid:sync", [ds]),
        (names.PROP_DUMP, [ds + "@a", ds + "@b"]), (names.PROP_STREAM_BYTES, [ds + "@a"])]
    # vzzfs replicate's stream keeps the replica mark the receive set
    assert (names.PROP_REPLICA, [ds]) not in received.to_clear(listed, ds,
                                                                keep=(names.PROP_REPLICA,))
    assert received.to_clear({ds: {names.PROP_CTID: ("101", "local")},
                              ds + "@a": {"guid": ("1", "-")}}, ds) == []


def test_the_marks_the_receive_set_are_not_set_again():
    wanted = {names.PROP_CTID: "101", names.PROP_LAYOUT: "vz7"}
    assert received.to_mark({names.PROP_CTID: ("101", "local"),
                             names.PROP_LAYOUT: ("vz7", "local")}, wanted) == {}
    # a resumed receive that did not apply -o, or the sender's value received
    assert received.to_mark({names.PROP_CTID: ("101", "local"),
                             names.PROP_LAYOUT: ("legacy", "received")}, wanted) == {
        names.PROP_LAYOUT: "vz7"}
    assert received.to_mark({}, wanted) == wanted


def test_the_layout_is_marked_in_the_receive_itself():
    exclude, override = received.receive_options("101", True, NODE, False,
                                                 layout=names.LAYOUT_VZ7)
    assert override[names.PROP_LAYOUT] == names.LAYOUT_VZ7
    assert names.PROP_LAYOUT not in exclude
