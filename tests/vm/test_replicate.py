"""vzzfs replicate on real ZFS, between two pools standing for two nodes (the second
node of test_backup.py, reached through a local command): autosnap's snapshot of a
mounted CT goes over full, a rerun sends nothing, the next scheduled snapshot goes
incrementally; the peer marks its copy a replica that its own autosnap never
snapshots; node 1's pruning keeps the snapshot the peer has (the next base); list's
REPLICATED; a failed run reported by check.

The decisions (what to send from where, what pruning keeps) are unit-tested in
tests/unit/test_chain.py, test_retention.py and test_autorepl.py.
"""
import json
import os
import re
import subprocess
import time

from conftest import sh
from test_backup import VZZFS, guid
from vzzfs_hooks.base import names
from vzzfs_hooks.rules import retention
from vzzfs_hooks.system import zfs


def snaps(node, ctid):
    res = node.vzzfs("snapshot-list", str(ctid), "-j")
    assert res.returncode == 0, res.stdout
    return json.loads(res.stdout)


def append(path, text):
    with open(path, "a") as f:
        f.write(text)


def scheduled(node, ctid, name):
    """A consistent snapshot (as autosnap takes) named ``name`` now, of kind auto: autosnap
    itself takes the next only an hour later."""
    assert node.vzzfs("snapshot", str(ctid), "--name", name).returncode == 0
    sh("zfs", "set", "%s=%s" % (names.PROP_KIND, names.KIND_AUTO),
       "%s@%s" % (node.dataset(ctid), name))


def test_replicate_sends_scheduled_snapshots_incrementally_to_a_replica(node, node2, tmp_path,
                                                                       monkeypatch):
    monkeypatch.setenv("VZZFS_STATE_DIR", str(tmp_path / "state"))
    ds = node.make_ct(101, extra_conf='VZZFS_SNAPSHOT_KEEP="hourly=1"\n')
    node2.track(101)
    append(node.etc + "/vzzfs.conf", 'VZZFS_REPLICATE_TO="%s --etc-dir %s receive"\n'
           % (VZZFS, node2.etc))
    append(node2.etc + "/vzzfs.conf", 'VZZFS_SNAPSHOT_KEEP="hourly=1"\n')
    assert node.vzctl.mount(101).rc == 0

    assert node.vzzfs("autosnap").returncode == 0
    first = snaps(node, 101)[0]["name"]
    res = node.vzzfs("replicate")
    assert res.returncode == 0 and "CT 101: full send of %s done" % first in res.stdout, \
        res.stdout
    there = node2.dataset(101)
    assert guid("%s@%s" % (there, first)) == guid("%s@%s" % (ds, first))
    assert zfs.get(there, names.PROP_REPLICA)[names.PROP_REPLICA] == "yes"
    assert [r["replicated"] for r in snaps(node, 101)] == [True]
    res = node.vzzfs("replicate", "101")  # a rerun: nothing new
    assert res.returncode == 0 and "CT 101: the peer is up to date" in res.stdout, res.stdout

    with open(node.private(101) + "/root/a", "w") as f:
        f.write("a" * 10000)
    scheduled(node, 101, "auto-b")
    res = node.vzzfs("replicate")
    assert res.returncode == 0 and "incremental send of auto-b" in res.stdout, res.stdout
    assert guid(there + "@auto-b") == guid(ds + "@auto-b")
    assert zfs.get(there, names.PROP_REPLICA)[names.PROP_REPLICA] == "yes"

    # the peer's autosnap takes no snapshot of its replica (the next increment would be
    # refused), and its pruning keeps the newest, the next base
    res = node2.vzzfs("autosnap", "101")
    assert res.returncode == 0 and "none due" in res.stdout, res.stdout
    assert [r["name"] for r in snaps(node2, 101)][-1] == "auto-b"
    assert "auto-b" in [r["name"] for r in snaps(node2, 101)]

    # node 1's pruning never destroys auto-b, the newest snapshot the peer has
    scheduled(node, 101, "auto-c")
    scheduled(node, 101, "auto-d")
    before = snaps(node, 101)
    policy = retention.parse_policy("hourly=1")
    now = time.time()
    expected = retention.prune(before, policy, now)
    # hourly=1 keeps the hour's first and the newest: at least one of four goes
    assert expected and "auto-b" not in expected, before
    res = node.vzzfs("autosnap", "101")
    assert res.returncode == 0, res.stdout
    after = [r["name"] for r in snaps(node, 101)]
    assert set(after) == set(r["name"] for r in before) - set(expected) and "auto-b" in after
    res = node.vzzfs("replicate")  # and the next increment builds on it
    assert res.returncode == 0 and "incremental send of auto-d" in res.stdout, res.stdout

    res = node.vzzfs("list", "101", "-o", "ctid,autosnap,replicated")
    assert res.returncode == 0, res.stdout
    assert re.match(r"^101 +\d+[smh] +\d+[smh]$", res.stdout.splitlines()[1]), res.stdout

    # a failed run is reported by check until a run succeeds
    with open(node.etc + "/vzzfs.conf") as f:
        conf = f.read()
    with open(node.etc + "/vzzfs.conf", "w") as f:  # a peer that cannot be asked
        f.write(conf.replace('VZZFS_REPLICATE_TO="', 'VZZFS_REPLICATE_TO="false '))
    res = node.vzzfs("replicate")
    assert res.returncode == 1 and "replicate failed for CT 101" in res.stdout, res.stdout
    assert "the last vzzfs replicate of CT 101" in node.vzzfs("check").stdout
    with open(node.etc + "/vzzfs.conf", "w") as f:
        f.write(conf)
    assert node.vzzfs("replicate").returncode == 0
    assert "vzzfs replicate" not in node.vzzfs("check").stdout
    assert node.vzctl.umount(101).rc == 0


def test_replicate_sends_only_a_zvol_its_ct_owns(node, node2, tmp_path, monkeypatch):
    """Issue 29, 1: a conf naming another CT's zvol (VZZFS_DATASET) made replicate send
    CT 104's data under CT 103's id and mark 104's snapshot replicated."""
    monkeypatch.setenv("VZZFS_STATE_DIR", str(tmp_path / "state"))
    keep = 'VZZFS_SNAPSHOT_KEEP="hourly=1"\n'
    ds104 = node.make_ct(104, extra_conf=keep)
    scheduled(node, 104, "auto-a")
    for ctid in (103, 105):  # 105 has its own zvol at ROOT/ct/105 too
        node.make_ct(ctid, extra_conf=keep + 'VZZFS_DATASET="%s"\n' % ds104)
    for ctid in (103, 104, 105):
        node2.track(ctid)
    append(node.etc + "/vzzfs.conf", 'VZZFS_REPLICATE_TO="%s --etc-dir %s receive"\n'
           % (VZZFS, node2.etc))
    res = node.vzzfs("replicate")
    assert res.returncode == 1 and "replicate failed for CT 103, 104, 105" in res.stdout, \
        res.stdout
    assert "claimed by the conf of CT" in res.stdout, res.stdout
    for ctid in (103, 104, 105):
        assert not zfs.exists(node2.dataset(ctid))
    # (snapshot-list refuses CT 104 too while two confs claim its zvol)
    assert zfs.get(ds104 + "@auto-a", names.PROP_REPLICATED)[names.PROP_REPLICATED] is None

    # two confs naming one zvol outside ROOT/ct: vzzfs list shows it once
    zfs.ensure_filesystem("vz/elsewhere")
    try:
        other = node.make_ct(106, dataset="vz/elsewhere/106")
        append(node.conffile(106), 'VZZFS_DATASET="%s"\n' % other)
        append(node.conffile(107), 'VZZFS_DATASET="%s"\n' % other)
        res = node.vzzfs("list", "-o", "ctid,dataset")
        assert res.returncode == 0, res.stdout
        assert [line.split()[1] for line in res.stdout.splitlines()[1:]].count(other) == 1, \
            res.stdout
    finally:
        sh("zfs", "destroy", "-r", "vz/elsewhere", check=False)

    for ctid in (103, 105):  # each CT back on its own zvol: 104 goes over
        with open(node.conffile(ctid)) as f:
            text = f.read()
        with open(node.conffile(ctid), "w") as f:
            f.write(text.replace('VZZFS_DATASET="%s"\n' % ds104, ""))
    os.unlink(node.conffile(106))
    os.unlink(node.conffile(107))
    res = node.vzzfs("replicate", "104")
    assert res.returncode == 0 and "CT 104: full send of auto-a done" in res.stdout, res.stdout
    assert zfs.exists(node2.dataset(104)) and not zfs.exists(node2.dataset(103))


def test_a_replication_peer_in_replica_mode_takes_only_replicates_increments(
        node, node2, tmp_path, monkeypatch):
    """Issue 29, 3: replication needed VZZFS_RECEIVE_OVERWRITE=yes, which also honoured a
    sender's --force. With =replica the peer takes new CTs and vzzfs replicate's
    increments onto its replicas, and refuses a --force and any other CT."""
    from test_trust import forced_command
    monkeypatch.setenv("VZZFS_STATE_DIR", str(tmp_path / "state"))
    ssh = forced_command(tmp_path, node2.etc)
    node.make_ct(101, extra_conf='VZZFS_SNAPSHOT_KEEP="hourly=1"\n')
    node.make_ct(102)
    node2.make_ct(102, files={"root/keep": "theirs"})
    node2.track(101)
    append(node2.etc + "/vzzfs.conf", 'VZZFS_RECEIVE_OVERWRITE="replica"\n')
    append(node.etc + "/vzzfs.conf", 'VZZFS_REPLICATE_TO="%s vzzfs receive"\n' % ssh)
    scheduled(node, 101, "auto-a")
    res = node.vzzfs("replicate", "101")
    assert res.returncode == 0 and "full send of auto-a" in res.stdout, res.stdout
    scheduled(node, 101, "auto-b")
    res = node.vzzfs("replicate", "101")
    assert res.returncode == 0 and "incremental send of auto-b" in res.stdout, res.stdout
    before = [r["name"] for r in snaps(node2, 101)]
    # vzzfs send's increment (no replicate stream), and a full backup piped with --force
    # onto the replica or onto CT 102, which is no replica: the receiver refuses each
    res = node.vzzfs("send", "101", "--to", "%s vzzfs receive" % ssh)
    assert res.returncode != 0 and "no replica" in res.stdout, res.stdout
    full = str(tmp_path / "full")
    assert node.vzzfs("backup", "101", "--to", full).returncode == 0
    for words in (["--force"], ["--ctid", "102", "--force"], ["--ctid", "102"]):
        with open(full, "rb") as f:
            res = subprocess.run([ssh, "vzzfs", "receive"] + words, stdin=f,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 universal_newlines=True)
        assert res.returncode != 0, (words, res.stdout)
    assert [r["name"] for r in snaps(node2, 101)] == before
    assert zfs.get(node2.dataset(101), names.PROP_REPLICA)[names.PROP_REPLICA] == "yes"
    assert not [r for r in zfs.list_datasets(node2.dataset(102), ["name"], "snapshot")]


def test_takeover_and_the_way_back_without_a_full_resend(node, node2, tmp_path, monkeypatch):
    """What operators expect of replication (issue 29): the replica's node takes the CT
    over (refused while the source still runs it), and the old source becomes its
    replica again, incrementally from the newest snapshot both have."""
    monkeypatch.setenv("VZZFS_STATE_DIR", str(tmp_path / "state"))
    node.make_ct(101, extra_conf='VZZFS_SNAPSHOT_KEEP="hourly=1"\n')
    node2.track(101)
    append(node.etc + "/vzzfs.conf", 'VZZFS_REPLICATE_TO="%s --etc-dir %s receive"\n'
           % (VZZFS, node2.etc))
    scheduled(node, 101, "auto-a")
    assert node.vzzfs("replicate").returncode == 0
    scheduled(node, 101, "auto-b")
    assert node.vzzfs("replicate").returncode == 0

    assert node.vzctl.start(101).rc == 0
    res = node2.vzzfs("takeover", "101", "--peer", "env")  # env: runs node 1's vzctl
    assert res.returncode == 7 and "still runs on the node" in res.stdout, res.stdout
    assert zfs.get(node2.dataset(101), names.PROP_REPLICA)[names.PROP_REPLICA] == "yes"
    assert node.vzctl.stop(101).rc == 0  # written since auto-b by its start
    res = node2.vzzfs("takeover", "101", "--peer", "env")
    assert res.returncode == 0 and "taken over at snapshot auto-b" in res.stdout, res.stdout
    assert zfs.get(node2.dataset(101), names.PROP_REPLICA)[names.PROP_REPLICA] is None
    scheduled(node2, 101, "auto-c")  # the new source goes on

    # the way back: node 1 becomes the replica, from auto-b, the newest common snapshot
    res = node.vzzfs("demote", "101")
    assert res.returncode == 7 and "--destroy-newer" in res.stdout, res.stdout
    res = node.vzzfs("demote", "101", "--destroy-newer")
    assert res.returncode == 0 and "replica from snapshot auto-b" in res.stdout, res.stdout
    append(node2.etc + "/vzzfs.conf", 'VZZFS_REPLICATE_TO="%s --etc-dir %s receive"\n'
           % (VZZFS, node.etc))
    res = node2.vzzfs("replicate", "101")
    assert res.returncode == 0 and "incremental send of auto-c" in res.stdout, res.stdout
    assert guid(node.dataset(101) + "@auto-c") == guid(node2.dataset(101) + "@auto-c")
    assert zfs.get(node.dataset(101), names.PROP_REPLICA)[names.PROP_REPLICA] == "yes"


def test_an_onboot_start_works_while_replicate_waits_for_a_silent_peer(node, tmp_path,
                                                                       monkeypatch):
    """Issue 29, 5: replicate held the CT's vzctl lock while it asked the peer, with no
    timeout: a peer that never answers kept vzctl start of that CT failing ('Container
    already locked', which the init script's ONBOOT start does not retry). Here the
    ONBOOT sequence (vzctl start of each ONBOOT=yes CT) runs while replicate waits."""
    monkeypatch.setenv("VZZFS_STATE_DIR", str(tmp_path / "state"))
    node.make_ct(101, extra_conf='ONBOOT="yes"\nVZZFS_SNAPSHOT_KEEP="hourly=1"\n')
    scheduled(node, 101, "auto-a")
    asked = str(tmp_path / "asked")
    peer = str(tmp_path / "silent-peer")
    with open(peer, "w") as f:
        f.write("#!/bin/sh\ntouch '%s'\nexec sleep 600\n" % asked)
    os.chmod(peer, 0o755)
    append(node.etc + "/vzzfs.conf", 'VZZFS_REPLICATE_TO="%s"\n' % peer)
    job = subprocess.Popen([VZZFS, "--etc-dir", node.etc, "replicate"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True)
    try:
        deadline = time.time() + 120
        while not os.path.exists(asked) and time.time() < deadline:
            time.sleep(0.1)
        assert os.path.exists(asked) and job.poll() is None
        res = node.vzctl.start(101)  # what vzctl's init script runs for an ONBOOT CT
        assert res.rc == 0, res
        assert node.vzctl.is_running(101)
        assert job.poll() is None  # still waiting for the peer, holding no lock
    finally:
        job.kill()
        job.wait()
    assert node.vzctl.stop(101).rc == 0


def test_a_cut_replication_keeps_its_resume_target_and_a_stale_one_is_aborted(
        node, node2, tmp_path, monkeypatch):
    """Issue 29, 6: retention kept only the newest *marked* snapshot and the hold went
    with a cut stream, so autosnap's pruning destroyed the resume target; every later
    run retried zfs send -t for a snapshot that was gone, and nothing ran zfs receive -A.
    """
    monkeypatch.setenv("VZZFS_STATE_DIR", str(tmp_path / "state"))
    ds = node.make_ct(101, size=256 << 20, extra_conf='VZZFS_SNAPSHOT_KEEP="hourly=1"\n')
    node2.track(101)
    cut = str(tmp_path / "cut")
    peer = str(tmp_path / "peer")
    with open(peer, "w") as f:  # the link drops after 3 MB while the file "cut" exists
        f.write('#!/bin/sh\nRECEIVE="%s --etc-dir %s receive"\n'
                'if [ -e "%s" ] && [ "$1" != --abort ] && { [ "$1" != --status ] || '
                '[ "$3" = --then-receive ]; }; then\n'
                '    head -c 3000000 | $RECEIVE "$@"; exit 1\nfi\nexec $RECEIVE "$@"\n'
                % (VZZFS, node2.etc, cut))
    os.chmod(peer, 0o755)
    append(node.etc + "/vzzfs.conf", 'VZZFS_REPLICATE_TO="%s"\n' % peer)
    scheduled(node, 101, "auto-a")
    assert node.vzzfs("replicate").returncode == 0

    assert node.vzzfs("attach", "101").returncode == 0
    with open(os.path.join(node.private(101), "root/data"), "wb") as f:
        f.write(os.urandom(8 << 20))
    assert node.vzzfs("detach", "101").returncode == 0
    scheduled(node, 101, "auto-b")
    open(cut, "w").close()
    assert node.vzzfs("replicate").returncode == 1  # cut: the peer keeps a partial receive
    os.unlink(cut)
    assert zfs.get(node2.dataset(101), "receive_resume_token")["receive_resume_token"]
    assert [r["name"] for r in snaps(node, 101) if r.get("inflight")] == ["auto-b"]

    # newer scheduled snapshots: hourly=1 in one hour keeps the first, the newest and
    # the peer's newest (auto-a); auto-b, the cut stream's target, stays too
    for name in ("auto-c", "auto-d"):
        scheduled(node, 101, name)
    assert node.vzzfs("autosnap", "101").returncode == 0
    left = [r["name"] for r in snaps(node, 101)]
    assert "auto-b" in left and "auto-c" not in left, left
    res = node.vzzfs("replicate")
    assert res.returncode == 0 and "resumed send done" in res.stdout, res.stdout
    res = node.vzzfs("replicate")
    assert res.returncode == 0 and "incremental send of auto-d" in res.stdout, res.stdout
    assert not [r for r in snaps(node, 101) if r.get("inflight")]

    # a cut stream whose snapshot is destroyed here by hand: aborted there, and the run
    # goes on from the newest snapshot both have
    assert node.vzzfs("attach", "101").returncode == 0
    with open(os.path.join(node.private(101), "root/data2"), "wb") as f:
        f.write(os.urandom(8 << 20))  # more than the 3 MB the link lets through
    assert node.vzzfs("detach", "101").returncode == 0
    scheduled(node, 101, "auto-e")
    open(cut, "w").close()
    assert node.vzzfs("replicate").returncode == 1
    os.unlink(cut)
    sh("zfs", "destroy", ds + "@auto-e")
    scheduled(node, 101, "auto-f")
    res = node.vzzfs("replicate")
    assert res.returncode == 0 and "aborting it there" in res.stdout, res.stdout
    assert "incremental send of auto-f" in res.stdout, res.stdout
    assert zfs.get(node2.dataset(101), "receive_resume_token")["receive_resume_token"] is None
    assert guid(node2.dataset(101) + "@auto-f") == guid(ds + "@auto-f")
