"""vzzfs replicate's plumbing with fakes: who replicates, what send_scheduled sends and
marks, with the lock only around the choice, and failures in replicate.json for check.
The choice itself is chain.replication_step's (test_chain.py); the real thing runs in
tests/vm/test_replicate.py."""
import contextlib

import pytest

from vzzfs_hooks.jobs import outcomes, replicate
from vzzfs_hooks.verbs import backup, transfer
from vzzfs_hooks.conf import config
from vzzfs_hooks.base import names
from vzzfs_hooks.base.errors import ConfigError, StateError


class FakeNode(object):
    def __init__(self, to=""):
        self.to = to

    def vzzfs_params(self):
        return config.merge(config.DEFAULTS, {"VZZFS_REPLICATE_TO": self.to})


class FakeCt(object):
    def __init__(self, ctid="101", on="yes"):
        self.ctid = ctid
        self.dataset = "vz/vzzfs/ct/%s" % ctid
        self.pool = "vz"

        class S(object):
            raw = {"VZZFS_REPLICATE": on}
        self.settings = S()


def test_the_peer_is_node_wide_only_and_split_as_a_shell_would():
    assert "VZZFS_REPLICATE_TO" in config.NODE_ONLY
    assert "VZZFS_REPLICATE" not in config.NODE_ONLY  # a CT may opt out
    assert replicate.target(FakeNode()) is None
    assert replicate.target(FakeNode("ssh -p 2222 'root@node 2' vzzfs receive")) == \
        ["ssh", "-p", "2222", "root@node 2", "vzzfs", "receive"]


def test_replication_is_on_by_default_off_by_conf_and_never_for_a_replica(monkeypatch):
    replica = {"101": False, "102": True}
    monkeypatch.setattr(replicate.autosnap, "is_replica", lambda ct: replica[ct.ctid])
    assert replicate.wanted(FakeCt("101"))
    assert not replicate.wanted(FakeCt("101", on="no"))
    assert not replicate.wanted(FakeCt("102"))
    with pytest.raises(ConfigError) as e:
        replicate.wanted(FakeCt("101", on="maybe"))
    assert e.value.line().startswith("CT 101: VZZFS_REPLICATE=")


def test_only_a_stream_of_vzzfs_replicate_marks_a_replica():
    ct = FakeCt()
    assert backup._received_props(ct, {"replica": True}) == {
        names.PROP_CTID: "101", names.PROP_REPLICA: "yes"}
    for header in ({}, {"replica": False}, {"replica": "yes"}):
        assert backup._received_props(ct, header) == {names.PROP_CTID: "101"}
    # the sender's marks never ride in on a stream as this node's
    assert names.PROP_REPLICA in backup.SENDER_DATASET_PROPS
    assert names.PROP_REPLICATED in backup.SENDER_SNAPSHOT_PROPS


@pytest.fixture
def wire(monkeypatch):
    """A CT's snapshots and the peer's, with the lock and the stream recorded."""
    state = {"rows": [], "theirs": {}, "token": None, "events": [], "locked": False,
             "marked": [], "bytes": []}

    @contextlib.contextmanager
    def ct_lock(ct, status):
        state["events"].append("lock")
        state["locked"] = True
        yield
        state["locked"] = False
        state["events"].append("unlock")

    def remote_status(argv, ctid):
        return {"exists": bool(state["theirs"]), "conf": bool(state["theirs"]),
                "snapshots": dict(state["theirs"]), "resume_token": state["token"],
                "resume_into": "increment" if state["token"] else None}

    def pipe(ct, argv, snap, base, token=None, header=None, replica=False, **kw):
        state["events"].append(("stream", snap, base, token, state["locked"]))
        for n in (snap, base):
            if n:
                name = n.split("@")[1]
                state["theirs"][name] = [r for r in state["rows"] if r["name"] == name][0]["guid"]
        return {"snapshot": snap, "base": base, "resumed": bool(token), "bytes": 1}

    def zfs_cmd(*args, **kw):
        if args[1].startswith(names.PROP_STREAM_BYTES + "="):
            state["bytes"].append((args[-1].split("@")[1], args[1].split("=")[1]))
            return
        assert args[1] == names.PROP_REPLICATED + "=yes", args
        state["marked"].append(args[-1].split("@")[1])
        for r in state["rows"]:
            if r["name"] == args[-1].split("@")[1]:
                r["replicated"] = True

    monkeypatch.setattr(transfer.lock, "ct_lock", ct_lock)
    monkeypatch.setattr(transfer, "_remote_status", remote_status)
    monkeypatch.setattr(transfer, "_pipe", pipe)
    monkeypatch.setattr(transfer.snapshots, "rows", lambda ct: [dict(r) for r in state["rows"]])
    monkeypatch.setattr(transfer.zfs, "zfs", zfs_cmd)
    monkeypatch.setattr(transfer.zfs.Hold, "add", lambda self, snaps: state["events"].append(
        ("hold", tuple(snaps), state["locked"])))
    monkeypatch.setattr(transfer.zfs.Hold, "release",
                        lambda self: state["events"].append("release"))
    monkeypatch.setattr(transfer.backup, "make_header",
                        lambda ct, snap, base, replica=False, **kw: ("header", replica))
    monkeypatch.setattr(transfer.backup, "resume_header",
                        lambda ct, token, into, replica=False, *a: ("resume", replica))
    monkeypatch.setattr(transfer, "_stream_kind", lambda ct, remote: ("compressed", ["x"]))
    monkeypatch.setattr(transfer.zfs, "resume_info", lambda token: {
        "snapshot": "vz/vzzfs/ct/101@auto-1", "kind": "compressed", "size": 5})
    monkeypatch.setattr(transfer.zfs, "stream_needs", lambda pool: ["x"])
    return state


def srow(name, txg, kind="auto"):
    return {"name": name, "txg": txg, "kind": kind, "guid": "g%d" % txg, "replicated": False,
            "clones": [], "holds": 0}


def test_send_scheduled_streams_outside_the_lock_and_marks_the_peers_newest(wire):
    ds = "vz/vzzfs/ct/101@"
    wire["rows"] = [srow("auto-1", 1), srow("mine", 2, kind="")]
    done = transfer.send_scheduled(FakeCt(), ["peer"])
    assert done["snapshot"] == ds + "auto-1" and done["base"] is None
    # marked before the holds go: no autosnap prunes it in between
    assert wire["events"] == ["lock", ("hold", (ds + "auto-1", None), True), "unlock",
                              ("stream", ds + "auto-1", None, None, False), "lock", "unlock",
                              "release"]
    assert wire["marked"] == ["auto-1"]
    assert wire["bytes"] == [("auto-1", "1")], "what the stream took, for vzzfs list"

    wire["events"][:] = []
    assert transfer.send_scheduled(FakeCt(), ["peer"]) is None  # a rerun sends nothing
    assert [e for e in wire["events"] if isinstance(e, tuple)] == []
    assert wire["marked"] == ["auto-1"]  # already marked: not set again

    wire["rows"] += [srow("auto-2", 3), srow("auto-3", 4)]
    done = transfer.send_scheduled(FakeCt(), ["peer"])
    assert (done["snapshot"], done["base"]) == (ds + "auto-3", ds + "auto-1")
    assert wire["marked"] == ["auto-1", "auto-3"]


def test_a_cut_stream_is_finished_under_the_lock_then_marked(wire):
    wire["rows"] = [srow("auto-1", 1), srow("auto-2", 2)]
    wire["theirs"] = {"auto-1": "g1"}
    wire["token"] = "1-abc"
    done = transfer.send_scheduled(FakeCt(), ["peer"])
    assert done["resumed"]
    assert ("stream", None, None, "1-abc", True) in wire["events"]
    assert wire["marked"] == ["auto-1"]
    assert wire["bytes"] == [("auto-1", "1")], "the snapshot the token names"


def test_a_peer_with_an_unrelated_ct_is_refused(wire):
    wire["rows"] = [srow("auto-1", 1)]
    wire["theirs"] = {"other": "x"}
    with pytest.raises(StateError) as e:
        transfer.send_scheduled(FakeCt(), ["peer"])
    assert "shares no snapshot" in e.value.problem and "VZZFS_REPLICATE=no" in e.value.fix
    assert not any(e[0] == "stream" for e in wire["events"] if isinstance(e, tuple))


def test_run_all_records_failures_until_a_run_succeeds(monkeypatch, tmp_path):
    monkeypatch.setenv("VZZFS_STATE_DIR", str(tmp_path))
    listed = [{"ctid": c, "status": "stopped"} for c in ("101", "102", "103")]
    listed.append({"ctid": "104", "status": "orphan"})
    monkeypatch.setattr(outcomes.listing, "rows", lambda node, only=None: [
        r for r in listed if not only or r["ctid"] in only])
    cts = {"101": FakeCt("101"), "102": FakeCt("102"), "103": FakeCt("103", on="no")}
    monkeypatch.setattr(outcomes, "Container", lambda ctid, node: cts[ctid])
    monkeypatch.setattr(replicate.autosnap, "is_replica", lambda ct: False)
    fail = {"102"}
    sent = []

    def send(ct, argv):
        assert argv == ["ssh", "node2", "vzzfs", "receive"]
        if ct.ctid in fail:
            raise StateError("boom", "fix", ctid=ct.ctid)
        sent.append(ct.ctid)
        return None

    monkeypatch.setattr(replicate.transfer, "send_scheduled", send)
    node = FakeNode("ssh node2 vzzfs receive")
    results = replicate.run_all(node)
    assert [(c, r, e) for c, r, e in results] == [
        ("101", {"sent": None}, None), ("102", None, "CT 102: boom (fix)"), ("103", None, None)]
    assert sent == ["101"]
    assert [(c, line) for c, _, line in replicate.failures()] == [("102", "CT 102: boom (fix)")]
    fail.clear()
    replicate.run_all(node, ["102"])
    assert replicate.failures() == []

    with pytest.raises(ConfigError) as e:
        replicate.run_all(FakeNode(""))
    assert "VZZFS_REPLICATE_TO" in e.value.problem


def test_check_says_a_stalled_replica_waits_for_the_other_node(monkeypatch):
    from vzzfs_hooks.jobs import check
    from vzzfs_hooks.rules import retention
    old = {"name": "auto-1", "kind": "auto", "created": 1000, "txg": 1}
    monkeypatch.setattr(check.snapshots, "rows", lambda ct: [old])
    policy = retention.parse_policy("hourly=1")
    monkeypatch.setattr(check.autosnap, "is_replica", lambda ct: True)
    line = check._autosnap_stalled(FakeCt(), policy)
    assert line.startswith("CT 101: a replica whose newest scheduled snapshot is ")
    assert "vzzfs replicate" in line
    monkeypatch.setattr(check.autosnap, "is_replica", lambda ct: False)
    assert "is the timer on?" in check._autosnap_stalled(FakeCt(), policy)


def test_list_shows_the_size_of_the_newest_stream_written():
    """MOVED: the bytes on the newest snapshot a backup, send or replicate streamed."""
    from vzzfs_hooks.verbs import listing

    def snap(name, created, moved="-"):
        return {"name": "vz/vzzfs/ct/101@" + name, "creation": str(created),
                names.PROP_KIND: "-", names.PROP_REPLICATED: "-",
                names.PROP_STREAM_BYTES: moved}
    volumes, snaps = [], listing._Snapshots()
    snaps.split([{"name": "vz/vzzfs/ct/101"}, snap("b1", 10, "500"), snap("s2", 20),
                 snap("auto-3", 30, "42"), snap("mine", 40)], volumes)
    assert [v["name"] for v in volumes] == ["vz/vzzfs/ct/101"]
    assert snaps.moved == {"vz/vzzfs/ct/101": (30, 42)} and snaps.count["vz/vzzfs/ct/101"] == 4
    assert names.PROP_STREAM_BYTES in listing.ZFS_PROPS, "read in the same zfs list"
