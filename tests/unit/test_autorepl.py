"""vzzfs replicate's plumbing with fakes: who replicates, what send_scheduled sends and
marks, with the lock only around the choice, and failures in replicate.json for check.
The choice itself is chain.replication_step's (test_chain.py); the real thing runs in
tests/vm/test_replicate.py."""
import contextlib

import pytest

from vzzfs_hooks.jobs import outcomes, replicate
from vzzfs_hooks.rules import received
from vzzfs_hooks.verbs import backup, transfer
from vzzfs_hooks.conf import config
from vzzfs_hooks.base import names
from vzzfs_hooks.base.errors import ConfigError, StateError, StreamError


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
    legacy = {names.PROP_LAYOUT: names.LAYOUT_LEGACY}  # what an older header means
    assert backup._received_props(ct, {"replica": True}) == dict(
        legacy, **{names.PROP_CTID: "101", names.PROP_REPLICA: "yes"})
    for header in ({}, {"replica": False}, {"replica": "yes"}):
        assert backup._received_props(ct, header) == dict(legacy, **{names.PROP_CTID: "101"})
    assert backup._received_props(ct, {"layout": "vz7"})[names.PROP_LAYOUT] == "vz7"
    # the sender's marks never ride in on a stream as this node's
    assert names.PROP_REPLICA in received.SENDER_DATASET_PROPS
    assert names.PROP_REPLICATED in received.SENDER_SNAPSHOT_PROPS


@pytest.fixture
def wire(monkeypatch):
    """A CT's snapshots and the peer's, with the lock and the stream recorded."""
    state = {"rows": [], "theirs": {}, "token": None, "events": [], "locked": False,
             "marked": [], "bytes": [], "asked": 0}

    @contextlib.contextmanager
    def ct_lock(ct, status):
        state["events"].append("lock")
        state["locked"] = True
        yield
        state["locked"] = False
        state["events"].append("unlock")

    def remote_status(argv, ctid):
        state["asked"] += 1
        return {"exists": bool(state["theirs"]), "conf": bool(state["theirs"]),
                "snapshots": dict(state["theirs"]), "resume_token": state["token"],
                "resume_into": "increment" if state["token"] else None}

    def pipe(ct, argv, snap, base, token=None, header=None, replica=False, **kw):
        state["events"].append(("stream", snap, base, token, state["locked"]))
        if token:  # the rest of the cut stream: the peer has its snapshot now
            snap, state["token"] = state.get("token_for", "vz/vzzfs/ct/101@auto-2"), None
        for n in (snap, base):
            if n:
                name = n.split("@")[1]
                state["theirs"][name] = [r for r in state["rows"] if r["name"] == name][0]["guid"]
        return {"snapshot": snap, "base": base, "resumed": bool(token), "bytes": 1}

    def zfs_cmd(*args, **kw):  # zfs set P=V [P=V ...] SNAP, zfs inherit P SNAP
        verb, name = args[0], args[-1].split("@")[1]
        for arg in args[1:-1]:
            prop, _, value = arg.partition("=")
            if prop == names.PROP_STREAM_BYTES:
                state["bytes"].append((name, value))
                continue
            key = {names.PROP_REPLICATED: "replicated", names.PROP_INFLIGHT: "inflight"}[prop]
            if verb == "set" and key == "replicated":
                state["marked"].append(name)
            for r in state["rows"]:
                if r["name"] == name:
                    r[key] = verb == "set"

    monkeypatch.setattr(transfer.lock, "ct_lock", ct_lock)
    monkeypatch.setattr(transfer, "_remote_status", remote_status)
    # a peer asked in two steps: its status, then _pipe runs it (test_send's receiver)
    monkeypatch.setattr(transfer, "_ask", lambda argv, ctid: (remote_status(argv, ctid), None))
    monkeypatch.setattr(transfer, "_pipe", pipe)
    monkeypatch.setattr(transfer.snapshots, "rows", lambda ct: [dict(r) for r in state["rows"]])
    monkeypatch.setattr(transfer.zfs, "zfs", zfs_cmd)
    monkeypatch.setattr(transfer.zfs, "exists", lambda name: name.split("@")[-1] in [
        r["name"] for r in state["rows"]])
    monkeypatch.setattr(transfer.zfs.Hold, "add", lambda self, snaps: state["events"].append(
        ("hold", tuple(snaps), state["locked"])))
    monkeypatch.setattr(transfer.zfs.Hold, "release",
                        lambda self: state["events"].append("release"))
    monkeypatch.setattr(transfer.backup, "make_header",
                        lambda ct, snap, base, replica=False, **kw: ("header", replica))
    monkeypatch.setattr(transfer.backup, "resume_header",
                        lambda ct, token, into, replica=False, *a, **kw: ("resume", replica))
    monkeypatch.setattr(transfer, "_stream_kind", lambda ct, remote: ("compressed", ["x"]))
    monkeypatch.setattr(transfer.zfs, "resume_info", lambda token: {
        "snapshot": state.get("token_for", "vz/vzzfs/ct/101@auto-2"), "kind": "compressed",
        "size": 5})
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
    assert not [r for r in wire["rows"] if r.get("inflight")]  # the peer has it
    assert wire["bytes"] == [("auto-1", "1")], "what the stream took, for vzzfs list"
    assert wire["asked"] == 1, "a receive that ended well says the peer has it"

    wire["events"][:] = []
    assert transfer.send_scheduled(FakeCt(), ["peer"]) is None  # a rerun sends nothing
    assert [e for e in wire["events"] if isinstance(e, tuple)] == []
    assert wire["marked"] == ["auto-1"]  # already marked: not set again

    wire["rows"] += [srow("auto-2", 3), srow("auto-3", 4)]
    done = transfer.send_scheduled(FakeCt(), ["peer"])
    assert (done["snapshot"], done["base"]) == (ds + "auto-3", ds + "auto-1")
    assert wire["marked"] == ["auto-1", "auto-3"]


def test_a_cut_stream_is_finished_outside_the_lock_then_marked(wire):
    """Issue 29, 5: a resumed stream ran entirely under the CT's lock, so vzctl start,
    stop and set of that CT failed for as long as the peer took."""
    wire["rows"] = [srow("auto-1", 1), srow("auto-2", 2)]
    wire["theirs"] = {"auto-1": "g1"}
    wire["token"] = "1-abc"
    done = transfer.send_scheduled(FakeCt(), ["peer"])
    assert done["resumed"]
    assert ("stream", None, None, "1-abc", False) in wire["events"]
    assert ("hold", ("vz/vzzfs/ct/101@auto-2",), True) in wire["events"]
    assert wire["marked"] == ["auto-2"]
    assert wire["bytes"] == [("auto-2", "1")], "the snapshot the token names"


def test_the_snapshot_in_flight_is_kept_by_pruning_until_the_peer_has_it(wire):
    """Issue 29, 6: retention kept only the newest marked snapshot and the hold went
    with a cut stream, so pruning destroyed the resume target."""
    from vzzfs_hooks.rules import retention

    def cut(*args, **kw):
        wire["events"].append(("stream", args[2], args[3], None, wire["locked"]))
        raise transfer.VzzfsError("sending CT 101 failed: the receiver went away")
    wire["rows"] = [srow("auto-1", 1)]
    assert transfer.send_scheduled(FakeCt(), ["peer"])
    wire["rows"] += [srow("auto-2", 2), srow("auto-3", 3)]
    transfer._pipe, real = cut, transfer._pipe
    try:
        with pytest.raises(transfer.VzzfsError):
            transfer.send_scheduled(FakeCt(), ["peer"])
    finally:
        transfer._pipe = real
    assert [r["name"] for r in wire["rows"] if r.get("inflight")] == ["auto-3"]
    rows = [dict(r, created=1000 + r["txg"]) for r in wire["rows"]]
    rows.append(dict(srow("auto-4", 4), created=1004))
    # hourly=1 in one hour keeps the hour's first and the newest: auto-3 stays anyway
    assert retention.prune(rows, retention.parse_policy("hourly=1"), 2000) == ["auto-2"]


def test_a_stale_token_is_aborted_and_the_newest_common_snapshot_is_the_base(wire,
                                                                             monkeypatch):
    """Issue 29, 6: every later run retried zfs send -t for a snapshot that was gone, and
    nothing ran zfs receive -A."""
    wire["rows"] = [srow("auto-1", 1), srow("auto-5", 5)]
    wire["theirs"] = {"auto-1": "g1"}
    wire["token"] = "1-abc"
    wire["token_for"] = "vz/vzzfs/ct/101@auto-3"  # pruned here by hand meanwhile
    aborted = []

    def abort(argv, ctid):
        aborted.append(ctid)
        wire["token"] = None
        return {"exists": True, "conf": True, "snapshots": dict(wire["theirs"]),
                "resume_token": None, "resume_into": None}
    monkeypatch.setattr(transfer, "_remote_abort", abort)
    done = transfer.send_scheduled(FakeCt(), ["peer"])
    assert aborted == ["101"]
    assert (done["snapshot"], done["base"]) == ("vz/vzzfs/ct/101@auto-5",
                                                "vz/vzzfs/ct/101@auto-1")
    assert not [e for e in wire["events"] if isinstance(e, tuple) and e[0] == "stream"
                and e[3]]


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


def test_send_scheduled_refuses_a_zvol_its_ct_does_not_own_before_asking_the_peer(
        monkeypatch, tmp_path):
    """Issue 29, 1: CT 103 whose conf names CT 104's zvol sent 104's data as 103's."""
    monkeypatch.setattr(transfer, "_ask", lambda argv, ctid: ({
        "exists": False, "conf": False, "snapshots": {}, "resume_token": None,
        "resume_into": None}, None))
    ct = FakeCt("103")
    ct.lockdir = str(tmp_path)
    ct.dataset = "vz/vzzfs/ct/104"

    def require_claim():
        raise ConfigError("refusing to touch vz/vzzfs/ct/104: it is not this CT's", "fix")
    ct.require_claim = require_claim
    streamed = []
    monkeypatch.setattr(transfer, "_pipe", lambda *a, **kw: streamed.append(a))
    monkeypatch.setattr(transfer.snapshots, "preflush", lambda ct: None)
    with pytest.raises(ConfigError):
        transfer.send_scheduled(ct, ["peer"])
    with pytest.raises(ConfigError):
        transfer.send(ct, ["peer"])
    assert streamed == [] and not (tmp_path / "103.lck").exists()


def test_a_resume_token_for_another_dataset_is_never_sent(wire):
    """Issue 29, 3: zfs send -t sends whatever dataset the peer's token names."""
    wire["rows"] = [srow("auto-1", 1), srow("auto-2", 2)]
    wire["theirs"] = {"auto-1": "g1"}
    wire["token"] = "1-abc-10-789c"
    for target in ("vz/vzzfs/ct/104@auto-9", None):
        wire["token_for"] = target
        for send in (transfer.send_scheduled, transfer.send):
            with pytest.raises(StateError) as e:
                send(FakeCt(), ["peer"])
            assert "resume token" in e.value.problem and "zfs receive -A" in e.value.fix
    assert not [e for e in wire["events"] if isinstance(e, tuple) and e[0] == "stream"]


@pytest.mark.parametrize("answer", [
    [], "x", {"snapshots": []}, {"snapshots": {"a": 5}}, {"snapshots": {"a/b": "1"}},
    {"exists": "yes"}, {"resume_token": 7, "resume_into": "full"},
    {"resume_token": "1-ab-c-d; rm -rf /", "resume_into": "full"},
    {"resume_token": "1-ab-cd-ef", "resume_into": "elsewhere"},
    {"resume_token": None, "resume_into": "full"}])
def test_a_peer_answer_of_the_wrong_shape_is_a_stream_error(answer):
    """Issue 29, 3 and 7: a wrong JSON type raised TypeError and ended the whole run."""
    from vzzfs_hooks.base.errors import StreamError
    from vzzfs_hooks.rules import peer
    with pytest.raises(StreamError):
        peer.status(answer)


def test_a_peers_words_are_shown_as_one_printable_line():
    from vzzfs_hooks.rules import peer
    assert peer.printable("bad\x1b[2J\x07 thing\r\nrest") == "bad [2J thing rest"
    assert peer.printable(b"\xff\x00x") == "\ufffd x"
    assert len(peer.printable("y" * 5000)) == peer.MAX_SHOWN + 3
    assert peer.status({"exists": True, "conf": True, "snapshots": {"auto-1": "123"},
                        "resume_token": "1-ab-cd-ef", "resume_into": "increment",
                        "ctid": "101"})["snapshots"] == {"auto-1": "123"}


def test_one_ct_failing_unexpectedly_never_stops_the_run(monkeypatch, tmp_path):
    """Issue 29, 7: a TypeError for one CT left later CTs untried and no replicate.json."""
    monkeypatch.setenv("VZZFS_STATE_DIR", str(tmp_path))
    listed = [{"ctid": c, "status": "stopped"} for c in ("101", "102", "103")]
    monkeypatch.setattr(outcomes.listing, "rows", lambda node, only=None: listed)
    monkeypatch.setattr(outcomes, "Container", lambda ctid, node: FakeCt(ctid))
    monkeypatch.setattr(replicate.autosnap, "is_replica", lambda ct: False)
    sent = []

    def send(ct, argv):
        if ct.ctid == "101":
            raise TypeError("string indices must be integers")
        if ct.ctid == "102":
            raise ValueError("Exceeds the limit (4300 digits) for integer string conversion")
        sent.append(ct.ctid)
    monkeypatch.setattr(replicate.transfer, "send_scheduled", send)
    results = replicate.run_all(FakeNode("ssh node2 vzzfs receive"))
    assert sent == ["103"]
    assert [(c, line.split(":")[0:2]) for c, _, line in results if line] == [
        ("101", ["CT 101", " unexpected TypeError"]), ("102", ["CT 102", " unexpected ValueError"])]
    assert [c for c, _, _ in replicate.failures()] == ["101", "102"]


def test_two_runs_at_once_keep_both_outcomes(monkeypatch, tmp_path):
    """Issue 29, 9: record() read, changed and wrote the JSON without a lock."""
    import threading
    import time as time_
    monkeypatch.setenv("VZZFS_STATE_DIR", str(tmp_path))
    real = outcomes._read

    def slow(filename):
        state = real(filename)
        time_.sleep(0.3)  # the other run reads meanwhile, without the lock
        return state
    monkeypatch.setattr(outcomes, "_read", slow)
    runs = [threading.Thread(target=outcomes.record, args=(
        "replicate.json", [(ctid, None, "CT %s: failed" % ctid)], [ctid]))
        for ctid in ("101", "102")]
    for t in runs:
        t.start()
    for t in runs:
        t.join()
    monkeypatch.setattr(outcomes, "_read", real)
    assert [c for c, _, _ in outcomes.failures("replicate.json")] == ["101", "102"]


def test_a_receiver_that_stops_reading_is_ended_not_waited_for(monkeypatch):
    """Issue 29, 5: bound every network wait; a stream into a peer that takes nothing
    blocked the run for ever."""
    import time as time_
    monkeypatch.setattr(transfer, "STREAM_STALL", 1)

    def send(snap, out, base=None, what="", resume_token=None, **kw):
        for _ in range(64):  # 64 MiB: far more than a pipe holds
            out.write(b"x" * (1 << 20))
        out.flush()
        return 64 << 20
    monkeypatch.setattr(transfer.zfs, "send", send)
    started = time_.monotonic()
    with pytest.raises(transfer.VzzfsError) as e:
        transfer._pipe(FakeCt(), ["sleep", "60"], "vz/vzzfs/ct/101@a", None, header=b"h\n",
                       replica=True)
    assert "took nothing for 1 s" in e.value.problem
    assert time_.monotonic() - started < 20


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
    assert names.PROP_STREAM_BYTES in received.SENDER_SNAPSHOT_PROPS, "never the sender's"


def test_a_peers_stream_offer_survives_the_shape_check():
    """The --status answer's list of the streams it takes (rules/streams.py) is kept by
    peer.status, checked like the rest: dropped, every peer looked old (plain streams)."""
    from vzzfs_hooks.base.errors import StreamError
    from vzzfs_hooks.rules import peer, streams
    offered = streams.offer((2, 1), {f: "active" for f in streams.STREAM_FEATURES})
    answer = {"exists": False, "conf": False, "snapshots": {}, "resume_token": None,
              "resume_into": None, streams.STATUS_KEY: offered}
    assert peer.status(answer)[streams.STATUS_KEY] == offered
    assert streams.choose(peer.status(answer), offered)[0] == streams.COMPRESSED
    assert streams.STATUS_KEY not in peer.status(dict(answer, streams=None))
    for bad in ("all", [1], ["x; rm -rf /"], ["y"] * 100):
        with pytest.raises(StreamError):
            peer.status(dict(answer, streams=bad))


ANSWER = ('{"ctid": "101", "exists": false, "conf": false, "snapshots": {}, '
          '"resume_token": null, "resume_into": null}')
# a receiving command's stand-in: a line of its own, the status answer, then what it
# was sent (its byte count) written to the file named by its first argument
PEER = """import sys
print("a warning first", flush=True)
print(%r, flush=True)
data = sys.stdin.buffer.read()
open(sys.argv[1], "w").write("%%d" %% len(data))
print("received %%d bytes" %% len(data))
""" % ANSWER
OLD_PEER = """import sys
if "--then-receive" in sys.argv:
    sys.stderr.write("vzzfs receive: error: unrecognized arguments: --then-receive\\n")
    sys.exit(2)
print(%r)
""" % ANSWER


def _peer(tmp_path, text, *args):
    script = tmp_path / "peer.py"
    script.write_text(text)
    return [__import__("sys").executable, str(script)] + [str(a) for a in args]


def test_one_receiving_command_answers_then_takes_the_stream(tmp_path):
    """Issue 28: one connection and one vzzfs start on the other side, not two."""
    got = tmp_path / "got"
    remote, receiver = transfer._ask(_peer(tmp_path, PEER, got), "101")
    assert remote["exists"] is False and receiver.said == "a warning first"
    receiver.proc.stdin.write(b"x" * 100000)
    out = transfer._output(receiver, receiver.proc)
    assert receiver.proc.returncode == 0 and got.read_text() == "100000"
    assert out.splitlines() == ["a warning first", "received 100000 bytes"]
    receiver.dismiss()  # after the stream: nothing more to do


def test_a_receiver_sent_nothing_is_let_go_with_no_stream(tmp_path):
    got = tmp_path / "got"
    remote, receiver = transfer._ask(_peer(tmp_path, PEER, got), "101")
    receiver.dismiss()
    assert receiver.proc.returncode == 0 and got.read_text() == "0"


def test_an_older_receiver_is_asked_first_then_run_again(tmp_path, monkeypatch):
    asked = []

    def remote_status(argv, ctid):
        asked.append((argv, ctid))
        return {"exists": True}
    monkeypatch.setattr(transfer, "_remote_status", remote_status)
    monkeypatch.setattr(transfer, "_two_step", set())
    argv = _peer(tmp_path, OLD_PEER)
    for _ in range(2):  # the second CT of the run is not tried with --then-receive again
        assert transfer._ask(argv, "101") == ({"exists": True}, None)
    assert asked == [(argv, "101")] * 2 and transfer._two_step == {tuple(argv)}


def test_a_receiver_that_fails_or_answers_nonsense_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(transfer, "_two_step", set())
    fails = 'import sys\nsys.stderr.write("CT 101: pool vz is not imported\\n")\nsys.exit(1)\n'
    with pytest.raises(transfer.VzzfsError) as e:
        transfer._ask(_peer(tmp_path, fails), "101")
    assert e.value.problem == "asking the other side failed: CT 101: pool vz is not imported"
    with pytest.raises(transfer.VzzfsError) as e:
        transfer._ask(_peer(tmp_path, 'print("{not json", flush=True)\n'
                                     'import sys; sys.stdin.read()\n'), "101")
    assert "did not answer with vzzfs receive's status" in e.value.problem
    with pytest.raises(StreamError):  # the answer's shape is checked (rules/peer)
        transfer._ask(_peer(tmp_path, 'print(\'{"exists": "maybe"}\')\n'), "101")
    assert transfer._two_step == set()


def test_a_silent_receiver_is_ended_after_the_status_timeout(tmp_path, monkeypatch):
    monkeypatch.setattr(transfer, "STATUS_TIMEOUT", 1)
    with pytest.raises(transfer.VzzfsError) as e:
        transfer._ask(_peer(tmp_path, "import time\ntime.sleep(60)\n"), "101")
    assert e.value.problem == "the other side did not answer within 1 s"


def test_a_receiver_that_never_ends_its_line_is_cut_off(tmp_path, monkeypatch):
    """A peer is not trusted: it cannot make the sender hold more than MAX_ANSWER."""
    monkeypatch.setattr(transfer, "MAX_ANSWER", 1 << 20)
    endless = 'import sys\nwhile True:\n    sys.stdout.write("x" * 65536)\n'
    with pytest.raises(transfer.VzzfsError) as e:
        transfer._ask(_peer(tmp_path, endless), "101")
    assert e.value.problem == "the other side wrote more than 1 MiB without answering"


def test_an_older_receivers_status_is_read_as_bounded_as_the_answer(tmp_path, monkeypatch):
    """The two-step question (a peer whose vzzfs predates --then-receive) is no less
    guarded: its answer is found among its warnings, a failure names its last line, and
    it can hold the sender no longer than STATUS_TIMEOUT nor make it read past MAX_ANSWER."""
    warned = 'import sys\nsys.stderr.write("a warning\\n"); sys.stderr.flush()\n' + OLD_PEER
    assert transfer._remote_status(_peer(tmp_path, warned), "101")["exists"] is False
    fails = 'import sys\nsys.stderr.write("CT 101: pool vz is not imported\\n")\nsys.exit(1)\n'
    with pytest.raises(transfer.VzzfsError) as e:
        transfer._remote_status(_peer(tmp_path, fails), "101")
    assert e.value.problem == "asking the other side failed: CT 101: pool vz is not imported"
    with pytest.raises(transfer.VzzfsError) as e:
        transfer._remote_status(_peer(tmp_path, 'print("no answer")\n'), "101")
    assert "did not answer with vzzfs receive's status" in e.value.problem
    monkeypatch.setattr(transfer, "MAX_ANSWER", 1 << 20)
    endless = 'import sys\nwhile True:\n    sys.stdout.write("x" * 65536)\n'
    with pytest.raises(transfer.VzzfsError) as e:
        transfer._remote_status(_peer(tmp_path, endless), "101")
    assert e.value.problem == "the other side wrote more than 1 MiB without answering"
    monkeypatch.setattr(transfer, "STATUS_TIMEOUT", 1)
    lingers = "print(%r, flush=True)\nimport time\ntime.sleep(60)\n" % ANSWER
    with pytest.raises(transfer.VzzfsError) as e:
        transfer._remote_status(_peer(tmp_path, lingers), "101")
    assert e.value.problem == "the other side did not end within 1 s of its answer"
