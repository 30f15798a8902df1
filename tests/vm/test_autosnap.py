"""vzzfs autosnap on real ZFS: a scheduled snapshot of a mounted CT (its ext4 frozen
for it), none on a second run right after, pruning that destroys only scheduled
snapshots the policy drops (never a manual, hand-made or held one), vzzfs list's
AUTOSNAP column, and vzzfs check's warnings: no scheduled snapshot yet, and a
failed run until a run succeeds.

The decisions themselves (due, which to keep: DST, clock set back, gaps) are
tested in tests/unit/test_retention.py; here the real thing carries them out.
"""
import json
import re
import time

from conftest import sh
from vzzfs_hooks.rules import retention

KIND = "org.openvz.vzzfs:kind"


def snaps(node, ctid):
    res = node.vzzfs("snapshot-list", str(ctid), "-j")
    assert res.returncode == 0, res.stdout
    return json.loads(res.stdout)


def test_autosnap_takes_when_due_and_prunes_only_its_own(node, tmp_path, monkeypatch):
    monkeypatch.setenv("VZZFS_STATE_DIR", str(tmp_path / "state"))
    ds = node.make_ct(101, extra_conf='VZZFS_SNAPSHOT_KEEP="hourly=1"\n')
    assert node.vzctl.mount(101).rc == 0  # attached: the snapshot freezes its ext4

    res = node.vzzfs("check")  # a policy, and no scheduled snapshot: is the timer on?
    assert "CT 101: VZZFS_SNAPSHOT_KEEP is set but its newest scheduled snapshot is " \
        "missing" in res.stdout, res.stdout

    res = node.vzzfs("autosnap")
    assert res.returncode == 0, res.stdout
    first = snaps(node, 101)
    assert len(first) == 1 and first[0]["kind"] == "auto" and first[0]["state"] == "frozen"
    assert re.match(r"^auto-\d{8}T\d{6}Z$", first[0]["name"]), first[0]["name"]
    assert "CT 101: took %s" % first[0]["name"] in res.stdout, res.stdout

    res = node.vzzfs("autosnap", "101")  # right after: nothing due, nothing to prune
    assert res.returncode == 0 and "none due" in res.stdout, res.stdout
    assert [r["name"] for r in snaps(node, 101)] == [first[0]["name"]]

    # more scheduled snapshots (one held), a manual one and one made by hand
    for name in ("auto-b", "auto-held", "vzzfs-manual", "byhand", "auto-newest"):
        kind = {"vzzfs-manual": ["-o", KIND + "=snapshot"], "byhand": []}.get(
            name, ["-o", KIND + "=auto"])
        sh("zfs", "snapshot", *(kind + ["%s@%s" % (ds, name)]))
    sh("zfs", "hold", "keep", ds + "@auto-held")
    try:
        before = snaps(node, 101)
        # the decision depends only on the creation times, so it is known now
        expected = retention.prune(before, retention.parse_policy("hourly=1"), time.time())
        assert expected, before  # hourly=1 drops at least one of four in an hour or two
        res = node.vzzfs("autosnap", "101")
        assert res.returncode == 0, res.stdout
        after = set(r["name"] for r in snaps(node, 101))
        assert after == set(r["name"] for r in before) - set(expected)
        assert {"auto-held", "vzzfs-manual", "byhand", "auto-newest"} <= after
    finally:
        sh("zfs", "release", "keep", ds + "@auto-held")

    res = node.vzzfs("list", "101", "-o", "ctid,autosnap")
    assert res.returncode == 0, res.stdout
    assert re.match(r"^101 +\d+[smh]$", res.stdout.splitlines()[1]), res.stdout

    # a failed run (a typo in the CT's policy) is reported by check until one succeeds
    conf = node.conffile(101)
    with open(conf) as f:
        text = f.read()
    with open(conf, "w") as f:
        f.write(text.replace('"hourly=1"', '"hourly=one"'))
    res = node.vzzfs("autosnap")
    assert res.returncode == 1 and "autosnap failed for CT 101" in res.stdout, res.stdout
    assert "VZZFS_SNAPSHOT_KEEP" in res.stdout
    res = node.vzzfs("check")
    assert "the last vzzfs autosnap of CT 101" in res.stdout, res.stdout
    with open(conf, "w") as f:
        f.write(text)
    assert node.vzzfs("autosnap", "101").returncode == 0
    res = node.vzzfs("check")
    assert "vzzfs autosnap" not in res.stdout and "scheduled snapshot" not in res.stdout, \
        res.stdout
    node.vzctl.umount(101)


def test_monitoring_reads_what_the_jobs_did(node, tmp_path, monkeypatch):
    """Issue 29: vzzfs check as a Nagios/Icinga plugin, and the node_exporter textfile
    autosnap writes after its run."""
    monkeypatch.setenv("VZZFS_STATE_DIR", str(tmp_path / "state"))
    prom = str(tmp_path / "textfile" / "vzzfs.prom")
    with open(node.etc + "/vzzfs.conf", "a") as f:
        f.write('VZZFS_METRICS_FILE="%s"\n' % prom)
    node.make_ct(101, extra_conf='VZZFS_SNAPSHOT_KEEP="hourly=1"\n')
    res = node.vzzfs("check", "--nagios")  # a policy and no snapshot yet
    assert res.returncode == 2 and res.stdout.startswith("VZZFS CRITICAL - "), res.stdout
    assert "CT 101: newest scheduled snapshot missing" in res.stdout, res.stdout
    assert node.vzzfs("autosnap").returncode == 0
    with open(prom) as f:
        text = f.read()
    assert re.search(r'^vzzfs_ct_last_snapshot_age_seconds\{ctid="101"\} \d+$', text, re.M)
    assert 'vzzfs_ct_job_success{ctid="101",job="autosnap"} 1' in text, text
    assert re.search(r'^vzzfs_pool_fill_ratio\{pool="vz"\} [0-9.]+$', text, re.M), text
    res = node.vzzfs("check", "--nagios")
    assert res.returncode in (0, 1) and "ct101_snapshot_age=" in res.stdout, res.stdout
    assert "newest scheduled snapshot" not in res.stdout.split("|")[0], res.stdout
    res = node.vzzfs("metrics")
    assert res.returncode == 0 and 'vzzfs_ct_volsize_bytes{ctid="101"}' in res.stdout
