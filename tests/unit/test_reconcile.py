"""vzzfs reconcile: what DISKSPACE asks of a CT's zvol (pure), and the pass over a node's
CTs with ZFS, the mount table and the grow faked (the real grow: tests/vm/test_reconcile.py)."""
import os
import subprocess

import pytest

from vzzfs_hooks.verbs import reconcile, resize
from vzzfs_hooks.jobs import check
from vzzfs_hooks.system import lock, mounts, zfs
from vzzfs_hooks.container import claim
from vzzfs_hooks.conf.config import Node
from vzzfs_hooks.container.ct import Container
from vzzfs_hooks.base.errors import LockedError, OnlineGrowRefused
from vzzfs_hooks.verbs.reconcile import GROW, NOTHING, SHRINK_PENDING, decide

MIB = 1 << 20
VBS = 16384


@pytest.mark.parametrize("current,wanted,mounted,action,size", [
    (128 * MIB, 256 * MIB, True, GROW, 256 * MIB),           # running, asks more: grow online
    (128 * MIB, 256 * MIB, False, NOTHING, 256 * MIB),       # stopped: premount grows it
    (256 * MIB, 256 * MIB, True, NOTHING, 256 * MIB),
    (256 * MIB, None, True, NOTHING, 256 * MIB),             # unset or unlimited
    (256 * MIB, 128 * MIB, True, SHRINK_PENDING, 128 * MIB),  # never shrunk while running
    (256 * MIB, 128 * MIB, False, SHRINK_PENDING, 128 * MIB),  # nor automatically at all
    # 2.2G is 2306867 KiB, not a multiple of 16K: the zvol made from it was rounded up
    (zfs.round_size(2306867 << 10, VBS), 2306867 << 10, True, NOTHING,
     zfs.round_size(2306867 << 10, VBS)),
    (zfs.round_size(2306867 << 10, VBS), (2306867 << 10) + 1024, True, NOTHING,
     zfs.round_size(2306867 << 10, VBS)),
    (256 * MIB + 512 * 1024, 256 * MIB, True, NOTHING, 256 * MIB),  # made by hand, a bit big
    (257 * MIB, 256 * MIB, True, SHRINK_PENDING, 256 * MIB),
    (256 * MIB, 256 * MIB + 1, True, GROW, 256 * MIB + VBS),  # a byte more: one block more
])
def test_decide(current, wanted, mounted, action, size):
    d = decide("101", current, VBS, wanted, mounted)
    assert (d.action, d.size) == (action, size), d


def test_a_pending_shrink_says_why_and_how():
    d = decide("101", 256 * MIB, VBS, 128 * MIB, True)
    assert "below the zvol's 256 MiB" in d.reason and "never shrunk" in d.reason
    assert "vzzfs resize 101 128M" in d.reason
    d = decide("101", 256 * MIB, VBS, 128 * MIB, False)
    assert "never automatic" in d.reason and "vzzfs resize 101 128M" in d.reason


def test_decide_never_grows_a_stopped_ct_nor_shrinks_any():
    for current in (128 * MIB, 256 * MIB, 1 << 30):
        for wanted in (128 * MIB, 200 * MIB, 256 * MIB, 1 << 30, 2 << 30):
            for mounted in (True, False):
                d = decide("101", current, VBS, wanted, mounted)
                assert d.action in (GROW, NOTHING, SHRINK_PENDING)
                if d.action == GROW:
                    assert mounted and d.size > current
                if wanted < current - MIB:
                    assert d.action == SHRINK_PENDING


# ---- the pass over a node, ZFS and mounts faked ----

class FakeNode(object):
    """A node under tmp_path: confs, a fake ROOT/ct listing, a fake mount table, and
    resize.grow recorded (with whether the CT's lock was held meanwhile)."""

    def __init__(self, tmp_path, monkeypatch):
        self.etc = tmp_path / "etc"
        (self.etc / "conf").mkdir(parents=True)
        self.lockdir = tmp_path / "lock"
        (self.etc / "vz.conf").write_text(
            'VE_ROOT=%s/root/$VEID\nVE_PRIVATE=%s/private/$VEID\nLOCKDIR=%s\n'
            % (tmp_path, tmp_path, self.lockdir))
        self.private = tmp_path / "private"
        self.node = Node(str(self.etc))
        self.zvols = {}        # dataset -> volsize
        self.mounted = set()   # ctids whose VE_PRIVATE is mounted
        self.grown = []        # (ctid, size, lock held)
        self.zfs_calls = []
        monkeypatch.setattr(zfs, "list_datasets", self._list)
        monkeypatch.setattr(zfs, "get", self._get)
        monkeypatch.setattr(mounts, "table", self._table)
        monkeypatch.setattr(resize, "grow", self._grow)
        monkeypatch.setattr(claim, "require", lambda ct: None)
        monkeypatch.setattr(claim, "zvol_state",
                            lambda ds: "volume" if ds in self.zvols else None)

    def ct(self, ctid, diskspace, volsize=None, mounted=False, extra=""):
        (self.etc / "conf" / ("%s.conf" % ctid)).write_text(
            'DISK_QUOTA="no"\nDISKSPACE="%s"\n%s' % (diskspace, extra))
        if volsize is not None:
            self.zvols["vz/vzzfs/ct/%s" % ctid] = volsize
        if mounted:
            self.mounted.add(str(ctid))

    def _list(self, root, props, types="volume"):
        self.zfs_calls.append(("list", root))
        return [{"name": ds, "volsize": str(size), "volblocksize": str(VBS)}
                for ds, size in sorted(self.zvols.items()) if ds.startswith(root + "/")]

    def _get(self, name, *props):
        self.zfs_calls.append(("get", name))
        if name not in self.zvols:
            from vzzfs_hooks.base.errors import DatasetNotFound
            raise DatasetNotFound("dataset %s does not exist" % name)
        return {"type": "volume", "volsize": str(self.zvols[name]), "volblocksize": str(VBS)}

    def _table(self, pid="self"):
        return [mounts.Mount("1 1 230:%s / %s/%s rw - ext4 /dev/zd%s rw"
                             % (c, self.private, c, c)) for c in sorted(self.mounted)]

    def _grow(self, ct, size, device=None):
        held = os.path.exists(str(self.lockdir / ("%s.lck" % ct.ctid)))
        self.grown.append((ct.ctid, size, held))
        self.zvols[ct.dataset] = size
        return True


@pytest.fixture
def fake(tmp_path, monkeypatch):
    return FakeNode(tmp_path, monkeypatch)


def test_grows_a_running_ct_under_its_lock_and_only_it(fake):
    fake.ct(101, "256M:256M", volsize=128 * MIB, mounted=True)   # running, asks more
    fake.ct(102, "256M:256M", volsize=128 * MIB)                 # stopped: premount's job
    fake.ct(103, "1G:1G")                                        # no zvol: not vzzfs's
    fake.ct(104, "2G:2.2G", volsize=zfs.round_size(2306867 << 10, VBS), mounted=True)
    done, failed = reconcile.run(fake.node)
    assert failed == []
    assert fake.grown == [("101", 256 * MIB, True)]
    assert [(c, d.action, d.size) for c, d in done] == [("101", GROW, 256 * MIB)]
    assert not os.listdir(str(fake.lockdir)), "the lock is let go"


def test_nothing_to_do_is_quiet_and_one_zfs_list(fake, capsys):
    fake.ct(101, "256M:256M", volsize=256 * MIB, mounted=True)
    fake.ct(102, "128M", volsize=128 * MIB)
    fake.ct(103, "1G:1G")
    before = reconcile.fingerprint(fake.node)
    done, failed = reconcile.run(fake.node)
    assert (done, failed, fake.grown) == ([], [], [])
    assert fake.zfs_calls == [("list", "vz/vzzfs/ct")], "no per-CT zfs call when all agree"
    assert capsys.readouterr() == ("", "")
    assert reconcile.fingerprint(fake.node) == before, "reconcile writes no conf"


def test_twice_grows_once(fake):
    fake.ct(101, "512M", volsize=128 * MIB, mounted=True)
    reconcile.run(fake.node)
    done, failed = reconcile.run(fake.node)
    assert (done, failed) == ([], [])
    assert fake.grown == [("101", 512 * MIB, True)]


def test_a_shrink_waits_and_is_said(fake, capsys):
    fake.ct(101, "128M:128M", volsize=256 * MIB, mounted=True)
    done, failed = reconcile.run(fake.node)
    assert fake.grown == [] and failed == [] and fake.zvols["vz/vzzfs/ct/101"] == 256 * MIB
    assert [(c, d.action) for c, d in done] == [("101", SHRINK_PENDING)]
    err = capsys.readouterr().err
    assert "CT 101: DISKSPACE asks 128 MiB, below the zvol's 256 MiB" in err, err
    assert "vzzfs resize 101 128M" in err


def test_vzzfs_check_reports_a_pending_shrink_and_a_missed_grow(fake):
    fake.ct(101, "128M:128M", volsize=256 * MIB, mounted=True)
    fake.ct(102, "512M", volsize=256 * MIB, mounted=True)
    fake.ct(103, "256M", volsize=256 * MIB, mounted=True)
    found = []
    for ctid in ("101", "102", "103"):
        found += check._diskspace(Container(ctid, fake.node))
    assert len(found) == 2, found
    assert found[0][0] == "warn" and "CT 101: DISKSPACE asks 128 MiB" in found[0][1]
    assert "shrink pending" in found[0][1]
    assert found[1][0] == "warn" and "vzzfs reconcile 102" in found[1][1]


def test_named_cts_only(fake):
    fake.ct(101, "256M", volsize=128 * MIB, mounted=True)
    fake.ct(102, "256M", volsize=128 * MIB, mounted=True)
    reconcile.run(fake.node, ["102"])
    assert [g[0] for g in fake.grown] == ["102"]


def test_an_explicit_zvol_is_asked_for_by_name(fake):
    fake.ct(101, "256M", mounted=True, extra='VZZFS_DATASET="tank/other/101"\n')
    fake.zvols["tank/other/101"] = 128 * MIB
    reconcile.run(fake.node)
    assert fake.grown == [("101", 256 * MIB, True)]


def test_a_bad_diskspace_is_reported_and_others_go_on(fake):
    fake.ct(101, "lots", volsize=128 * MIB, mounted=True)
    fake.ct(102, "256M", volsize=128 * MIB, mounted=True)
    done, failed = reconcile.run(fake.node)
    assert [g[0] for g in fake.grown] == ["102"]
    assert len(failed) == 1 and failed[0].line().startswith("CT 101: "), failed


def test_an_unreadable_conf_of_a_ct_without_zvol_is_not_ours(fake):
    fake.ct(101, "256M", extra='VE_PRIVATE="relative/path"\n')  # refused by Container
    assert reconcile.run(fake.node) == ([], [])
    fake.zvols["vz/vzzfs/ct/101"] = 128 * MIB  # with a zvol it is: say so
    done, failed = reconcile.run(fake.node)
    assert len(failed) == 1 and "CT 101" in failed[0].line()


def test_the_decision_is_taken_again_under_the_lock(fake, monkeypatch):
    """The conf as it is once vzctl let the lock go: here already grown meanwhile."""
    fake.ct(101, "256M", volsize=128 * MIB, mounted=True)
    real = lock.ct_lock

    def grown_meanwhile(ct, status, wait=0):
        fake.zvols[ct.dataset] = 256 * MIB
        return real(ct, status, wait)
    monkeypatch.setattr(lock, "ct_lock", grown_meanwhile)
    assert reconcile.run(fake.node) == ([], [])
    assert fake.grown == []


def test_an_online_grow_the_kernel_refuses_names_the_restart(fake, monkeypatch):
    fake.ct(101, "256M", volsize=128 * MIB, mounted=True)

    def refused(ct, size, device=None):
        raise OnlineGrowRefused("the kernel will not grow the ext4 on /dev/zd0", "x")
    monkeypatch.setattr(resize, "grow", refused)
    done, failed = reconcile.run(fake.node)
    assert len(failed) == 1 and "vzctl restart 101" in failed[0].line(), failed


def test_a_ct_locked_too_long_is_an_error_others_go_on(fake, monkeypatch):
    fake.ct(101, "256M", volsize=128 * MIB, mounted=True)
    fake.ct(102, "256M", volsize=128 * MIB, mounted=True)
    monkeypatch.setattr(reconcile, "LOCK_WAIT", 0.3)
    holder = subprocess.Popen(["sleep", "30"])
    try:
        fake.lockdir.mkdir()
        (fake.lockdir / "101.lck").write_text("%d\nstarting\n" % holder.pid)
        done, failed = reconcile.run(fake.node)
    finally:
        holder.kill()
        holder.wait()
    assert len(failed) == 1 and isinstance(failed[0], LockedError), failed
    assert [g[0] for g in fake.grown] == ["102"]


def test_a_conf_changed_during_a_pass_gets_another(fake, monkeypatch):
    """The path unit does not watch while its service runs: a `vzctl set` then is
    caught by the next pass."""
    fake.ct(101, "256M", volsize=128 * MIB, mounted=True)
    real = reconcile.one_pass
    passes = []

    def one_pass(node, only=None):
        passes.append(1)
        result = real(node, only)
        if len(passes) == 1:
            fake.ct(102, "512M", volsize=128 * MIB, mounted=True)  # written meanwhile
        return result
    monkeypatch.setattr(reconcile, "one_pass", one_pass)
    reconcile.run(fake.node)
    assert len(passes) == 2
    assert [g[:2] for g in fake.grown] == [("101", 256 * MIB), ("102", 512 * MIB)]


def test_a_diskspace_of_thousands_of_digits_fails_that_ct_only(fake):
    """Issue 29, 7: DISKSPACE (on confimport's allow-list, so a received conf can carry
    it) of 4,300+ digits raised ValueError on every pass and in vzzfs check."""
    fake.ct(101, "1" * 5000, volsize=128 * MIB, mounted=True)
    fake.ct(102, "256M", volsize=128 * MIB, mounted=True)
    done, failed = reconcile.run(fake.node)
    assert len(failed) == 1 and failed[0].ctid == "101", failed
    assert "DISKSPACE" in failed[0].line()
    assert [g[0] for g in fake.grown] == ["102"]


def test_an_unexpected_error_for_one_ct_is_that_cts_failure(fake, monkeypatch):
    fake.ct(101, "256M", volsize=128 * MIB, mounted=True)
    fake.ct(102, "256M", volsize=128 * MIB, mounted=True)
    real = reconcile.plan

    def plan(ct, sizes, mounted):
        if ct.ctid == "101":
            raise TypeError("a bug")
        return real(ct, sizes, mounted)
    monkeypatch.setattr(reconcile, "plan", plan)
    done, failed = reconcile.run(fake.node)
    assert [e.line() for e in failed] == [
        "CT 101: unexpected TypeError: a bug (report this as a vzzfs bug)"]
    assert [g[0] for g in fake.grown] == ["102"]


def test_check_reports_a_diskspace_of_thousands_of_digits_as_that_cts_finding(fake,
                                                                              monkeypatch):
    """Issue 29, 7: on real ZFS `vzzfs check` ended in 'unexpected ValueError ... report
    this as a vzzfs bug'."""
    fake.ct(101, "1" * 5000, volsize=128 * MIB, mounted=True)
    found = check._diskspace(Container("101", fake.node))
    assert len(found) == 1 and found[0][0] == "warn" and "DISKSPACE" in found[0][1], found
    monkeypatch.setattr(check, "_ct_findings", lambda node, row: 1 / 0)
    monkeypatch.setattr(check.listing, "rows", lambda node: [{"ctid": "101"}])
    monkeypatch.setattr(check.zfs, "require_pool", lambda pool: None)
    monkeypatch.setattr(check.zfs, "pool_capacity", lambda pool: 10)
    monkeypatch.setattr(check.zfs, "pool_health", lambda pool: "ONLINE")
    monkeypatch.setattr(check.attach, "pool_shadow_warning", lambda pool, top: None)
    monkeypatch.setattr(check.units, "state", lambda unit: None)
    findings = check.run(fake.node, str(fake.private))
    assert ("fail", "CT 101: unexpected ZeroDivisionError: division by zero (report this "
                    "as a vzzfs bug)") in findings
