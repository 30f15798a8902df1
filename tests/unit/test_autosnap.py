"""autosnap.py's plumbing with fakes: what it takes and destroys under the lock, how
failures reach the state file, and vzzfs check's reading of it. The decisions
themselves are test_retention.py's; the real thing runs in tests/vm/test_autosnap.py."""
import contextlib
import json
import os
import time

import pytest

from vzzfs_hooks.jobs import autosnap, outcomes
from vzzfs_hooks.rules import retention
from vzzfs_hooks.base.errors import ConfigError, DatasetBusy, LockedError

H = 3600


class FakeCt(object):
    def __init__(self, ctid="101", keep="hourly=1"):
        self.ctid = ctid
        self.dataset = "vz/vzzfs/ct/%s" % ctid

        class S(object):
            raw = {"VZZFS_SNAPSHOT_KEEP": keep}
        self.settings = S()

    def require_conf(self):
        pass


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """A CT with snapshots in a list; take/delete act on it; the lock is recorded."""
    monkeypatch.setenv("VZZFS_STATE_DIR", str(tmp_path / "state"))
    state = {"rows": [], "locked": [], "taken": [], "deleted": [], "refuse": {},
             "replica": False}

    @contextlib.contextmanager
    def ct_lock(ct, status):
        state["locked"].append(status)
        yield
        state["locked"].append("released")

    def take(ct, name, kind, rows=None):
        assert state["locked"][-1] == "vzzfs autosnap"
        assert [r["name"] for r in rows] == [r["name"] for r in state["rows"]]  # under the lock
        state["taken"].append((name, kind))
        state["rows"].append({"name": name, "created": int(time.time()), "kind": kind,
                              "clones": [], "holds": 0, "txg": 99})

    def delete(ct, name):
        assert state["locked"][-1] == "vzzfs autosnap"
        if name in state["refuse"]:
            raise state["refuse"][name]
        state["deleted"].append(name)
        state["rows"] = [r for r in state["rows"] if r["name"] != name]

    monkeypatch.setattr(autosnap.lock, "ct_lock", ct_lock)
    monkeypatch.setattr(autosnap.snapshots, "rows", lambda ct: list(state["rows"]))
    monkeypatch.setattr(autosnap.snapshots, "take", take)
    monkeypatch.setattr(autosnap.snapshots, "preflush",
                        lambda ct: state["locked"].append("preflush"))
    monkeypatch.setattr(autosnap.snapshots, "delete", delete)
    def existing(names_):  # the rows listed under the lock name what is taken
        raise AssertionError("zfs list asked again for %s" % names_)
    monkeypatch.setattr(autosnap.zfs, "existing", existing)
    monkeypatch.setattr(autosnap, "is_replica", lambda ct: state["replica"])
    return state


def row(name, age, kind="auto", holds=0):
    return {"name": name, "created": int(time.time()) - age, "kind": kind, "clones": [],
            "holds": holds, "txg": 1}


def test_takes_an_auto_snapshot_when_due_and_prunes_by_the_policy(fake):
    fake["rows"] = [row("auto-old", 3 * H), row("mine", 4 * H, kind=""),
                    row("auto-held", 2 * H, holds=1)]
    done = autosnap.run_ct(FakeCt(), retention.parse_policy("hourly=1"))
    assert fake["taken"] == [(done["taken"], "auto")]
    assert done["taken"].startswith("auto-") and done["taken"].endswith("Z")
    assert done["pruned"] == fake["deleted"] == ["auto-old"]  # held and manual stay
    # the CT's writes go out before its lock is taken (issue 29, 10), the rest under it
    assert fake["locked"] == ["preflush", "vzzfs autosnap", "released"]


def test_a_replica_is_pruned_by_the_policy_but_never_snapshotted(fake):
    fake["replica"] = True
    fake["rows"] = [row("auto-1", 5 * H), row("auto-2", 4 * H), row("auto-3", 3 * H)]
    done = autosnap.run_ct(FakeCt(), retention.parse_policy("hourly=1"))
    assert done["taken"] is None and fake["taken"] == []
    assert done["pruned"] == ["auto-1", "auto-2"]  # the newest, the next base, stays


def test_the_newest_snapshot_the_peer_has_is_never_pruned(fake):
    fake["rows"] = [row("auto-1", 5 * H), row("auto-2", 4 * H), row("auto-3", 60)]
    fake["rows"][1]["replicated"] = True
    done = autosnap.run_ct(FakeCt(), retention.parse_policy("hourly=1"))
    assert done["pruned"] == ["auto-1"]


def test_a_second_run_takes_nothing(fake):
    fake["rows"] = [row("auto-1", 30)]
    done = autosnap.run_ct(FakeCt(), retention.parse_policy("hourly=24"))
    assert done == {"taken": None, "pruned": [], "skipped": [], "locked": None}
    assert fake["taken"] == []


def test_a_snapshot_that_refuses_to_go_is_skipped_not_fatal(fake):
    fake["rows"] = [row("auto-1", 5 * H), row("auto-2", 4 * H), row("auto-3", 60)]
    fake["refuse"]["auto-1"] = DatasetBusy("snapshot auto-1 is the origin of x")
    done = autosnap.run_ct(FakeCt(), retention.parse_policy("hourly=1"))
    assert done["pruned"] == ["auto-2"]
    assert done["skipped"] == [("auto-1", "snapshot auto-1 is the origin of x")]


def test_a_bad_policy_names_the_ct():
    with pytest.raises(ConfigError) as e:
        autosnap.policy_of(FakeCt(keep="hourly=x"))
    assert e.value.line().startswith("CT 101: VZZFS_SNAPSHOT_KEEP=")
    assert autosnap.policy_of(FakeCt(keep="")) == []


def test_failures_are_recorded_and_cleared(fake, monkeypatch):
    cts = {"101": FakeCt("101"), "102": FakeCt("102", keep="bad"), "103": FakeCt("103", keep="")}
    listed = [{"ctid": c, "status": "stopped"} for c in sorted(cts)]
    listed.append({"ctid": "104", "status": "orphan"})
    monkeypatch.setattr(outcomes.listing, "rows", lambda node, only=None: [
        r for r in listed if not only or r["ctid"] in only])
    monkeypatch.setattr(outcomes, "Container", lambda ctid, node: cts[ctid])
    results = autosnap.run_all(object())
    assert [(c, e is not None) for c, _, e in results] == [("101", False), ("102", True),
                                                          ("103", False)]
    assert [c for c, _, _ in autosnap.failures()] == ["102"]
    assert "VZZFS_SNAPSHOT_KEEP" in autosnap.failures()[0][2]
    with open(autosnap.state_path()) as f:
        assert set(json.load(f)["cts"]) == {"101", "102"}  # 103 has no policy

    # a run of 101 only keeps 102's failure; 102 fixed and run: cleared
    autosnap.run_all(object(), ["101"])
    assert [c for c, _, _ in autosnap.failures()] == ["102"]
    cts["102"] = FakeCt("102")
    autosnap.run_all(object(), ["102"])
    assert autosnap.failures() == []


def test_a_locked_ct_is_a_failure_the_next_run_clears(fake, monkeypatch):
    monkeypatch.setattr(outcomes.listing, "rows",
                        lambda node, only=None: [{"ctid": "101", "status": "running"}])
    monkeypatch.setattr(outcomes, "Container", lambda ctid, node: FakeCt())

    @contextlib.contextmanager
    def busy(ct, status):
        raise LockedError("is locked by pid 1 (starting)", "wait", ctid=ct.ctid)
        yield

    real = autosnap.lock.ct_lock
    monkeypatch.setattr(autosnap.lock, "ct_lock", busy)
    autosnap.run_all(object())
    assert [c for c, _, _ in autosnap.failures()] == ["101"]
    monkeypatch.setattr(autosnap.lock, "ct_lock", real)
    autosnap.run_all(object())
    assert autosnap.failures() == []


def test_an_unreadable_state_file_reads_as_no_failures(fake):
    os.makedirs(os.path.dirname(autosnap.state_path()))
    with open(autosnap.state_path(), "w") as f:
        f.write("{not json")
    assert autosnap.failures() == []
    with open(autosnap.state_path(), "w") as f:
        f.write('{"cts": {"101": "x", "102": {"time": 5, "error": "CT 102: boom"}}}')
    assert autosnap.failures() == [("102", 5, "CT 102: boom")]


def test_a_free_name_is_one_question_a_try_which_also_finds_the_zvol_gone(monkeypatch):
    """snapshots.free_name asks for the zvol and the name in one `zfs list`: a send or
    backup names its snapshot without a second question about the zvol."""
    from vzzfs_hooks.base.errors import UsageError
    from vzzfs_hooks.verbs import snapshots
    ct, asked = FakeCt(), []
    taken = {ct.dataset, ct.dataset + "@auto-x", ct.dataset + "@auto-x-2"}

    def existing(names_):
        asked.append(list(names_))
        return set(names_) & taken
    monkeypatch.setattr(snapshots.zfs, "existing", existing)
    assert snapshots.free_name(ct, "auto-x") == "auto-x-3"
    assert asked == [[ct.dataset, ct.dataset + "@" + n] for n in ("auto-x", "auto-x-2", "auto-x-3")]
    taken.clear()
    with pytest.raises(UsageError) as e:
        snapshots.free_name(ct, "auto-x")
    assert "is not on a zvol" in e.value.problem
    # the names listed under the caller's lock: picked among them, zfs not asked
    del asked[:]
    assert snapshots.free_name(ct, "auto-x", {"auto-x", "auto-x-2", "auto-x-4"}) == "auto-x-3"
    assert snapshots.free_name(ct, "auto-y", {"auto-x"}) == "auto-y" and asked == []
