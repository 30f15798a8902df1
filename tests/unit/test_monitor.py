"""Issue 29: monitoring in the operators' tools. The Nagios/Icinga verdict and the
node_exporter textfile (rules/monitor.py, pure), and vzzfs check --nagios's exit code."""
import re

import pytest

from vzzfs_hooks.base.errors import UsageError
from vzzfs_hooks.rules import monitor

NOW = 1000000
SNAP = monitor.parse_thresholds("2h:6h", "--snapshot-age")
LAG = monitor.parse_thresholds("3h:12h", "--replication-lag")


def ct(ctid, snapshot=None, replicated=None, policy=True, replicates=True, jobs=None):
    return {"ctid": ctid, "used": 1 << 30, "volsize": 2 << 30, "snapshot": snapshot,
            "policy": policy, "replicated": replicated, "replicates": replicates,
            "jobs": jobs or {}}


def test_thresholds_and_ages():
    assert SNAP == (7200, 21600)
    assert monitor.parse_age("90m", "x") == 5400 and monitor.parse_age("30", "x") == 30
    for bad in ("2h", "6h:2h", "x:1h", "1h:", "9" * 50 + ":1d"):
        with pytest.raises(UsageError):
            monitor.parse_thresholds(bad, "--snapshot-age")


def test_all_fresh_is_ok_with_perfdata():
    code, line = monitor.nagios(NOW, [ct("101", NOW - 600, NOW - 1200)], 41, 85, [("ok", "x")],
                                SNAP, LAG)
    assert code == monitor.OK
    assert line.startswith("VZZFS OK - 1 CTs, pool 41% full | pool_fill=41%;85;;0;100 ")
    assert "ct101_snapshot_age=600s;7200;21600;0;" in line
    assert "ct101_replication_lag=1200s;10800;43200;0;" in line
    assert line.count("|") == 1 and "\n" not in line


@pytest.mark.parametrize("cts,findings,code,words", [
    ([ct("101", NOW - 3 * 3600, NOW - 600)], [], monitor.WARNING, "snapshot 10800s old"),
    ([ct("101", NOW - 7 * 3600, NOW - 600)], [], monitor.CRITICAL, "snapshot 25200s old"),
    ([ct("101", None, NOW - 600)], [], monitor.CRITICAL, "snapshot missing"),
    ([ct("101", NOW - 60, NOW - 4 * 3600)], [], monitor.WARNING, "replication lag 14400s"),
    ([ct("101", NOW - 60, None)], [], monitor.CRITICAL, "nothing replicated"),
    ([ct("101", None, None, policy=False, replicates=False)], [], monitor.OK, "1 CTs"),
    ([], [("warn", "pool vz is 90% full | x")], monitor.WARNING, "pool vz is 90% full x"),
    ([ct("101", NOW - 3 * 3600, NOW)], [("fail", "hooks not wired")], monitor.CRITICAL,
     "hooks not wired"),
])
def test_the_worst_finding_decides(cts, findings, code, words):
    got, line = monitor.nagios(NOW, cts, 50, 85, findings, SNAP, LAG)
    assert got == code and words in line, line
    assert line.startswith("VZZFS %s - " % monitor.WORDS[code]) and line.count("|") == 1


def test_the_textfile_is_prometheus_text():
    text = monitor.prometheus(NOW, [
        ct("101", NOW - 600, NOW - 1200, jobs={"autosnap": (NOW - 60, None),
                                              "replicate": (NOW - 50, "CT 101: boom")}),
        ct('1"2', None, None, replicates=False)], "vz", 41)
    lines = text.splitlines()
    assert 'vzzfs_pool_fill_ratio{pool="vz"} 0.41' in lines
    assert 'vzzfs_ct_used_bytes{ctid="101"} 1073741824' in lines
    assert 'vzzfs_ct_volsize_bytes{ctid="1\\"2"} 2147483648' in lines
    assert 'vzzfs_ct_last_snapshot_age_seconds{ctid="101"} 600' in lines
    assert 'vzzfs_ct_replication_age_seconds{ctid="101"} 1200' in lines
    assert 'vzzfs_ct_job_success{ctid="101",job="autosnap"} 1' in lines
    assert 'vzzfs_ct_job_success{ctid="101",job="replicate"} 0' in lines
    assert 'vzzfs_ct_job_last_run_timestamp_seconds{ctid="101",job="replicate"} %d' % (
        NOW - 50) in lines
    for line in lines:  # each sample line: name{labels} value
        assert line.startswith("# ") or re.match(r'^vzzfs_[a-z_]+\{.*\} [0-9.]+$', line), line
    assert text.endswith("\n")
