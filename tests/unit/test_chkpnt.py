"""vzctl's command lines: the ones vzzfs runs, and reading the one that runs a hook."""
import os
import sys

import pytest

from vzzfs_hooks.hook import chkpnt
from vzzfs_hooks.base import faults
from vzzfs_hooks.verbs import snapshots
from vzzfs_hooks.system import vzctl
from vzzfs_hooks.base.errors import VzzfsError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from harness import vzctl as harness  # noqa: E402

# vzctl 4.x, src/vzctl-actions.c: parse_chkpnt_opt's and parse_restore_opt's getopt tables
VZCTL_CHKPNT_OPTS = {"dump", "suspend", "resume", "kill", "skip_arpdetect", "flags", "context",
                     "dumpfile"}
VZCTL_RESTORE_OPTS = {"undump", "kill", "resume", "dumpfile", "flags", "context",
                      "skip_arpdetect"}


def options_of(argv):
    return {a[2:] for a in argv if a.startswith("--") and a != "--skiplock"}


@pytest.mark.parametrize("step", ["suspend", "dump", "resume", "kill"])
def test_chkpnt_lines_are_what_vzctl_4_accepts(step):
    dumpfile = "/vz/dump/Dump.101.s1" if step == "dump" else None
    argv = vzctl.chkpnt_argv("vzctl", "101", step, dumpfile)
    assert argv[:4] == ["vzctl", "--skiplock", "chkpnt", "101"]  # global option before the verb
    assert options_of(argv) <= VZCTL_CHKPNT_OPTS
    assert argv[4:] == (["--dump", "--dumpfile", dumpfile] if dumpfile else ["--" + step])
    assert harness._parse(argv[4:], harness.CHKPNT_OPTS) is not None


def test_restore_line_is_what_vzctl_4_accepts():
    argv = vzctl.restore_argv("vzctl", "101", "/vz/dump/Dump.101.switch")
    assert argv == ["vzctl", "--skiplock", "restore", "101", "--dumpfile",
                    "/vz/dump/Dump.101.switch"]
    assert options_of(argv) <= VZCTL_RESTORE_OPTS


def test_the_harness_keeps_vzctls_tables():
    assert {o[2:] for o in harness.CHKPNT_OPTS} == VZCTL_CHKPNT_OPTS
    assert {o[2:] for o in harness.RESTORE_OPTS} == VZCTL_RESTORE_OPTS
    assert harness._parse(["--suspend", "--bogus"], harness.CHKPNT_OPTS) is None
    assert harness._parse(["--dumpfile"], harness.CHKPNT_OPTS) is None


def test_unknown_step_is_a_bug():
    with pytest.raises(ValueError):
        vzctl.chkpnt_argv("vzctl", "101", "freeze")


@pytest.mark.parametrize("argv,verb,opts", [
    (["vzctl", "chkpnt", "101"], "chkpnt", []),
    (["/usr/sbin/vzctl", "--skiplock", "chkpnt", "101", "--dumpfile", "/d/x"], "chkpnt",
     ["--dumpfile", "/d/x"]),
    (["vzctl", "--verbose", "restore", "101"], "restore", []),
    (["/usr/bin/python3", "/src/tests/harness/vzctl.py", "suspend", "101"], "suspend", []),
    (["vzctl", "--skiplock"], None, []),
    (["/usr/bin/python3", "-m", "pytest", "chkpnt"], None, []),
    (["bash", "-c", "vzctl chkpnt 101"], None, []),
    ([], None, []),
])
def test_vzctl_call_reads_the_verb(argv, verb, opts):
    assert vzctl.vzctl_call(argv) == (verb, opts)


def test_only_a_full_chkpnt_snapshots():
    assert chkpnt.is_full_chkpnt("chkpnt", [])
    assert chkpnt.is_full_chkpnt("suspend", ["--dumpfile", "/x"])
    for step in ("--suspend", "--dump", "--resume", "--kill"):
        assert not chkpnt.is_full_chkpnt("chkpnt", [step])
    assert not chkpnt.is_full_chkpnt("stop", [])
    assert not chkpnt.is_full_chkpnt(None, [])


def test_parent_argv_reads_our_own_parent():
    argv = vzctl.parent_argv(os.getpid())
    assert argv and "python" in os.path.basename(argv[0])
    assert vzctl.parent_argv(2 ** 22 + 12345) == []


def test_conf_round_trips_through_a_user_property(tmp_path):
    conf = tmp_path / "101.conf"
    conf.write_text('HOSTNAME="ct101"\nIP_ADDRESS="10.0.0.1"\n' * 20)
    packed = snapshots.encode_conf(str(conf))
    assert packed and "\n" not in packed and len(packed) < 8000
    assert snapshots.decode_conf(packed) == conf.read_text()
    conf.write_bytes(os.urandom(20000))  # would not fit: not stored rather than cut
    assert snapshots.encode_conf(str(conf)) is None


def test_faults_fire_only_where_named(monkeypatch):
    faults.point("snapshot.frozen")  # unset: nothing
    monkeypatch.setenv("VZZFS_FAULT", "snapshot.frozen:fail")
    faults.point("snapshot.before-freeze")
    with pytest.raises(VzzfsError):
        faults.point("snapshot.frozen")


def test_vzctl_set_saves_diskspace_with_quota_off():
    # vzctl 4.11.1 hands a running CT's new DISKSPACE to vzquota unless told --diskquota no
    assert vzctl.set_argv("/usr/sbin/vzctl", "101", diskspace_kb=1024) == [
        "/usr/sbin/vzctl", "--skiplock", "set", "101", "--diskspace", "1024:1024",
        "--diskquota", "no", "--save"]
    assert vzctl.set_argv("vzctl", "7", hostname="h", ipadd=["10.0.0.1", "10.0.0.2"]) == [
        "vzctl", "--skiplock", "set", "7", "--hostname", "h", "--ipadd", "10.0.0.1",
        "--ipadd", "10.0.0.2", "--save"]


def test_restore_checks_against_the_snapshot_taken_with_its_dump_not_the_newest():
    """Issue 29, 4: autosnap's snapshot of the stopped CT after vzctl chkpnt became
    'the newest', and a disk written before it passed the check."""
    rows = [{"name": "vzzfs-chkpnt-1", "dumpfile": "/vz/dump/Dump.101", "guid": "1"},
            {"name": "vzzfs-s", "dumpfile": "/vz/dump/Dump.101.vzzfs-s", "guid": "2"},
            {"name": "auto-x", "dumpfile": "", "guid": "3"}]
    assert chkpnt.dump_snapshot(rows, "/vz/dump/Dump.101")["name"] == "vzzfs-chkpnt-1"
    assert chkpnt.dump_snapshot(rows, "/vz/dump/Dump.101.vzzfs-s")["name"] == "vzzfs-s"
    # snapshot-switch restores from a copy, having rolled the zvol back to its snapshot
    assert chkpnt.dump_snapshot(rows, "/vz/dump/Dump.101.switch", "2")["name"] == "vzzfs-s"
    assert chkpnt.dump_snapshot(rows, "/vz/dump/Dump.101.other") is None
    assert chkpnt.dump_snapshot(rows[2:], "/vz/dump/Dump.101") is None
    # a later chkpnt with the same dump file: its own snapshot, the newest of them
    rows.append({"name": "vzzfs-chkpnt-2", "dumpfile": "/vz/dump/Dump.101", "guid": "4"})
    assert chkpnt.dump_snapshot(rows, "/vz/dump/Dump.101")["name"] == "vzzfs-chkpnt-2"
