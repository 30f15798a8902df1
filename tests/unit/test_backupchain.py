"""chain: the pure decisions over a snapshot list (incremental base, pruning, what an
incremental receive may overwrite), for every edge, without ZFS."""
import pytest

from vzzfs_hooks.rules import backupchain
from vzzfs_hooks.base.errors import UsageError


def row(name, kind="backup", complete=True, clones=(), holds=0):
    return {"name": name, "kind": kind, "complete": complete and kind == "backup",
            "clones": list(clones), "holds": holds}


B1, B2, B3 = row("b1"), row("b2"), row("b3")
KILLED = row("killed", complete=False)
USER = row("mine", kind="")
CHKPNT = row("vzzfs-chkpnt-1", kind="chkpnt")
SNAP = row("s1", kind="snapshot")
SEND = row("vzzfs-send-1", kind="send")


def test_the_base_is_the_newest_complete_backup():
    assert backupchain.backup_base([]) is None
    assert backupchain.backup_base([KILLED]) is None, "only incomplete ones: no base"
    assert backupchain.backup_base([USER, CHKPNT, SNAP, SEND]) is None, "other kinds are no base"
    assert backupchain.backup_base([B1, B2, KILLED, SNAP]) == "b2", "a killed backup is no base"
    assert backupchain.backup_base([B1, KILLED, B2]) == "b2"


def test_retain_below_one_is_refused_and_none_prunes_nothing():
    for bad in (0, -1):
        with pytest.raises(UsageError):
            backupchain.backups_to_prune([B1, B2], bad)
        with pytest.raises(UsageError):
            backupchain.check_retain(bad)
    assert backupchain.backups_to_prune([B1, KILLED, B2], None) == []
    backupchain.check_retain(None)
    backupchain.check_retain(1)


def test_retain_keeps_the_newest_complete_ones():
    assert backupchain.backups_to_prune([], 1) == []
    assert backupchain.backups_to_prune([B1], 1) == []
    assert backupchain.backups_to_prune([B1, B2, B3], 1) == ["b1", "b2"]
    assert backupchain.backups_to_prune([B1, B2, B3], 2) == ["b1"]
    assert backupchain.backups_to_prune([B1, B2, B3], 3) == []
    assert backupchain.backups_to_prune([B1, B2, B3], 10) == []


def test_incomplete_backups_do_not_count_and_are_pruned():
    assert backupchain.backups_to_prune([KILLED], 1) == ["killed"]
    assert backupchain.backups_to_prune([B1, B2, KILLED], 2) == ["killed"]
    assert backupchain.backups_to_prune([B1, KILLED, B2], 1) == ["b1", "killed"]


def test_other_snapshots_clone_origins_and_held_ones_are_never_pruned():
    rows = [USER, CHKPNT, SNAP, SEND, B1, row("origin", clones=["vz/ct/9"]),
            row("streaming", complete=False, holds=1), row("held", holds=2), B2]
    assert backupchain.backups_to_prune(rows, 1) == ["b1"]


def test_sends_to_prune_keeps_the_sent_one_and_its_base():
    rows = [B1, USER, row("s1", kind="send"), row("s2", kind="send"),
            row("s3", kind="send", clones=["x"]), row("s4", kind="send", holds=1),
            row("s5", kind="send")]
    assert backupchain.sends_to_prune(rows, ("s2", "s5")) == ["s1"]
    assert backupchain.sends_to_prune([], ("a",)) == []


def test_an_incremental_goes_onto_an_unchanged_target():
    assert backupchain.incremental_refusal(["a", "b"], "b", 0, False) is None
    assert backupchain.incremental_refusal(["b"], "b", 0, True) is None


def test_a_missing_base_is_refused_even_with_force():
    for force in (False, True):
        problem, fix = backupchain.incremental_refusal(["a"], "b", 0, force)
        assert "lacks snapshot b" in problem and "in order" in fix
        assert backupchain.incremental_refusal([], "b", 0, force)


def test_writes_or_newer_snapshots_need_force():
    problem, fix = backupchain.incremental_refusal(["a", "b"], "b", 3 << 20, False)
    assert "3.0 MiB written since b" in problem and "--force" in fix
    problem, fix = backupchain.incremental_refusal(["a", "b", "c"], "b", 0, False)
    assert "snapshot c, newer than b" in problem and "--force" in fix
    assert "written" not in problem
    problem, fix = backupchain.incremental_refusal(["a", "b", "c", "d"], "a", 12, False)
    assert "12 bytes written since a" in problem and "snapshots b, c, d" in problem
    assert "discard them" in fix
    assert len((problem + fix).splitlines()) == 1
    for names, base, written in ((["a", "b"], "b", 1), (["a", "b"], "a", 0),
                                 (["a", "b", "c"], "a", 99)):
        assert backupchain.incremental_refusal(names, base, written, True) is None


def rrow(name, txg, kind="auto", guid=None):
    return {"name": name, "kind": kind, "txg": txg, "guid": guid or "g%d" % txg,
            "clones": [], "holds": 0}


def test_replication_sends_the_newest_auto_snapshot_full_the_first_time():
    rows = [rrow("auto-1", 1), rrow("mine", 2, kind=""), rrow("auto-2", 3),
            rrow("vzzfs-x", 4, kind="snapshot")]
    assert backupchain.replication_step(rows, {}) == ("auto-2", None)


def test_replication_is_incremental_from_the_newest_snapshot_the_peer_has():
    rows = [rrow("auto-1", 1), rrow("auto-2", 2), rrow("auto-3", 3), rrow("auto-4", 4)]
    theirs = {"auto-1": "g1", "auto-2": "g2"}
    assert backupchain.replication_step(rows, theirs) == ("auto-4", "auto-2")
    # a base of another kind (an earlier vzzfs send) serves as well
    rows[2] = rrow("vzzfs-send-1", 3, kind="send")
    assert backupchain.replication_step(rows, dict(theirs, **{"vzzfs-send-1": "g3"})) == \
        ("auto-4", "vzzfs-send-1")


def test_a_snapshot_of_the_same_name_but_another_guid_is_no_base():
    rows = [rrow("auto-1", 1), rrow("auto-2", 2)]
    assert backupchain.replication_step(rows, {"auto-1": "other"}) == ("auto-2", None)
    assert backupchain.replication_step(rows, {"auto-1": "g1", "auto-2": "other"}) == \
        ("auto-2", "auto-1")


def test_nothing_to_send_when_up_to_date_or_no_scheduled_snapshot_yet():
    rows = [rrow("auto-1", 1), rrow("auto-2", 2)]
    assert backupchain.replication_step(rows, {"auto-1": "g1", "auto-2": "g2"}) is None  # a rerun
    assert backupchain.replication_step([rrow("mine", 1, kind="")], {}) is None
    assert backupchain.replication_step([], {}) is None
    # the peer has something newer than the newest auto one (a vzzfs send since)
    rows.append(rrow("vzzfs-send-1", 3, kind="send"))
    assert backupchain.replication_step(rows, {"vzzfs-send-1": "g3"}) is None


def test_a_replica_is_taken_over_only_while_its_source_does_not_run_it():
    newest = {"name": "auto-9", "txg": 9}
    assert backupchain.takeover_refusal(True, newest, None) is None       # not asked
    assert backupchain.takeover_refusal(True, newest, "down") is None
    assert "still runs" in backupchain.takeover_refusal(True, newest, "running")[0]
    assert "no replica" in backupchain.takeover_refusal(False, newest, None)[0]
    assert "no snapshot" in backupchain.takeover_refusal(True, None, None)[0]


def _row(name, txg):
    return {"name": name, "txg": txg, "guid": "g%d" % txg, "kind": "auto"}


def test_the_old_source_goes_back_to_the_newest_common_snapshot_never_a_full_resend():
    rows = [_row("auto-1", 1), _row("auto-2", 2), _row("auto-3", 3)]
    theirs = {"auto-1": "g1", "auto-2": "g2", "auto-7": "g7"}  # taken over after auto-2
    plan, refusal = backupchain.demote_plan(rows, theirs, 0, False)
    assert plan is None and "auto-3" in refusal[0] and "--destroy-newer" in refusal[1]
    assert backupchain.demote_plan(rows, theirs, 0, True) == (("auto-2", ["auto-3"]), None)
    assert backupchain.demote_plan(rows[:2], theirs, 0, False) == (("auto-2", []), None)
    plan, refusal = backupchain.demote_plan(rows[:2], theirs, 5 << 20, False)
    assert plan is None and "5.0 MiB written" in refusal[0]
    # same name, another guid: not the same snapshot
    plan, refusal = backupchain.demote_plan(rows, {"auto-1": "x"}, 0, True)
    assert plan is None and "no snapshot" in refusal[0] and "vzzfs destroy" in refusal[1]


def test_only_demotes_rollback_to_the_very_base_counts_as_unwritten():
    assert backupchain.rolled_back_to_base(True, True, "77", "77")
    assert not backupchain.rolled_back_to_base(False, True, "77", "77")  # not replicate's
    assert not backupchain.rolled_back_to_base(True, False, "77", "77")  # no replica
    assert not backupchain.rolled_back_to_base(True, True, "76", "77")   # another snapshot
    assert not backupchain.rolled_back_to_base(True, True, None, "77")


def test_snapshot_order_is_by_createtxg_and_only_the_zvols():
    found = {"p/ct/101": {"createtxg": "5", "written": "0"},
             "p/ct/101@b": {"createtxg": "30"}, "p/ct/101@a": {"createtxg": "12"},
             "p/ct/1010@z": {"createtxg": "1"}, "p/ct/101@c": {"createtxg": "31"}}
    assert backupchain.snapshot_order(found, "p/ct/101") == ["a", "b", "c"]
    assert backupchain.snapshot_order({}, "p/ct/101") == []


def test_written_since_the_base_is_the_zvols_written_only_when_it_is_the_newest():
    assert backupchain.written_since_newest(["a", "b"], "b", "4096") == 4096
    assert backupchain.written_since_newest(["a", "b"], "b", None) == 0
    # a newer snapshot: `written` counts from it, not from the base; zfs is asked
    assert backupchain.written_since_newest(["a", "b"], "a", "4096") is None
    assert backupchain.written_since_newest([], "a", "0") is None
