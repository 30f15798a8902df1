"""vzctlcmd.parse_status: what the destination's `vzctl status` says decides
whether a migrate whose remote start reported failure may start the CT here."""
import pytest

from vzzfs_hooks.system.vzctl import parse_status


@pytest.mark.parametrize("rc,out,state", [
    (0, "CTID 101 exist mounted running\n", "running"),
    (0, "CTID 101 exist mounted running suspended\n", "running"),
    (0, "Directory /proc/vz not found, assuming non-OpenVZ kernel\n"
        "CTID 101 exist unmounted down\n", "down"),
    (0, "CTID 101 deleted unmounted down\n", "down"),
    (255, "ssh: connect to host node2 port 22: Connection refused\n", None),
    (0, "", None),
    (0, "something else entirely\n", None),
])
def test_status_or_unknown(rc, out, state):
    assert parse_status(rc, out) == state


# ---- the migrate's order of steps, and its faults, with every outside call faked ----

import contextlib

from vzzfs_hooks.base.errors import StateError, VzzfsError
from vzzfs_hooks.verbs import lifecycle, transfer
from vzzfs_hooks.system import lock, vzctl

LEGACY_CONF = {"OSTEMPLATE": "debian-7.0-x86_64", "HOSTNAME": "web", "DISKSPACE": "1G"}


class FakeCt(object):
    ctid = "101"
    platform = "vzctl4"
    own = LEGACY_CONF


def _wire(monkeypatch, remote, fail=None, there="down"):
    """Fake the peer and vzctl; ``fail``: the step (a name in the events) that fails."""
    events = []

    def step(name):
        events.append(name)
        if name == fail:
            raise VzzfsError("link lost at %s" % name)

    monkeypatch.setattr(lock, "ct_lock", lambda ct, status: contextlib.ExitStack())
    monkeypatch.setattr(vzctl, "is_running", lambda ct: True)
    monkeypatch.setattr(vzctl, "stop", lambda ct: step("stop"))
    monkeypatch.setattr(vzctl, "start", lambda ct: step("start here"))
    monkeypatch.setattr(transfer, "_remote_status", lambda argv, ctid: (step("status"),
                                                                       remote)[1])
    sends = []

    def send(ct, argv, status=None):
        sends.append(1)
        step("send%d" % len(sends))
        return {"bytes": 1 << 20}
    monkeypatch.setattr(transfer, "_send", send)
    monkeypatch.setattr(transfer, "_run", lambda argv, stdin_path=None: step(
        " ".join(argv[argv.index("dest") + 1:])))
    monkeypatch.setattr(transfer, "remote_state", lambda argv, ctid: there)
    monkeypatch.setattr(lifecycle, "destroy_locked", lambda ct, promote: step("destroy here"))
    return events


VZ7 = {"platform": "openvz7", "dists": ["debian"], "exists": False, "conf": False}


def test_to_openvz_7_the_ct_is_laid_out_there_before_it_starts(monkeypatch):
    events = _wire(monkeypatch, VZ7)
    done = transfer.migrate(FakeCt(), ["dest"])
    assert events == ["status", "send1", "stop", "send2", "vzzfs relayout 101",
                      "vzctl start 101", "destroy here"]
    assert done["relaid"] is True


def test_between_legacy_nodes_nothing_is_relaid_out(monkeypatch):
    events = _wire(monkeypatch, dict(VZ7, platform="vzctl4"))
    transfer.migrate(FakeCt(), ["dest"])
    assert "vzzfs relayout 101" not in events


def test_a_fatal_finding_refuses_before_a_byte_moves(monkeypatch, capsys):
    events = _wire(monkeypatch, dict(VZ7, dists=["centos"]))
    with pytest.raises(StateError) as e:
        transfer.migrate(FakeCt(), ["dest"])
    assert "knows no distribution debian-7.0" in e.value.problem
    assert events == ["status"], "not stopped, nothing sent"
    assert "fatal: the target's vzctl knows no distribution" in capsys.readouterr().err


def test_findings_are_told_before_the_ct_is_stopped(monkeypatch, capsys):
    monkeypatch.setattr(FakeCt, "own", dict(LEGACY_CONF, NETIF="ifname=eth0,bridge=vmbr0"))
    _wire(monkeypatch, VZ7, fail="stop")
    with pytest.raises(VzzfsError):
        transfer.migrate(FakeCt(), ["dest"])
    assert "bridge=vmbr0" in capsys.readouterr().err


@pytest.mark.parametrize("lost", ["send2", "vzzfs relayout 101"])
def test_a_link_lost_before_the_start_brings_it_back_here(monkeypatch, lost):
    events = _wire(monkeypatch, VZ7, fail=lost)
    with pytest.raises(VzzfsError):
        transfer.migrate(FakeCt(), ["dest"])
    assert events[-1] == "start here" and "destroy here" not in events
    assert "vzctl start 101" not in events


def test_a_fault_point_before_the_start_brings_it_back_here(monkeypatch):
    monkeypatch.setenv("VZZFS_FAULT", "migrate.before-start:fail")
    events = _wire(monkeypatch, VZ7)
    with pytest.raises(VzzfsError):
        transfer.migrate(FakeCt(), ["dest"])
    assert events[-2:] == ["vzzfs relayout 101", "start here"]


@pytest.mark.parametrize("there,back", [("down", True), ("running", False), (None, False)])
def test_a_start_there_reported_failed_runs_it_on_one_node_only(monkeypatch, there, back):
    events = _wire(monkeypatch, VZ7, fail="vzctl start 101", there=there)
    with pytest.raises(VzzfsError) as e:
        transfer.migrate(FakeCt(), ["dest"])
    assert ("start here" in events) is back and "destroy here" not in events
    if there == "running":
        assert "it runs on the destination" in e.value.problem


def test_check_moves_nothing(monkeypatch):
    from vzzfs_hooks.system import zfs
    monkeypatch.setattr(zfs, "stream_needs", lambda pool: ())
    monkeypatch.setattr(FakeCt, "pool", "vz", raising=False)
    events = _wire(monkeypatch, dict(VZ7, dists=["centos"]))
    relay, findings = transfer.check(FakeCt(), ["dest"])
    assert events == ["status"] and relay is True
    assert findings[0][0] == "fatal"
    assert findings[-1][1].startswith("streams: plain (the vzzfs there predates")


def test_only_a_restored_backup_is_laid_out_on_arrival(monkeypatch):
    """A peer's stream (send, migrate, replicate) keeps the sender's layout, so its next
    increment still builds on what arrived; a backup file is laid out for this node."""
    from vzzfs_hooks.verbs import backup
    moved = []
    monkeypatch.setattr(backup.relayout, "relayout_files",
                        lambda ct, settings, to_vz7: moved.append(to_vz7))
    ct = FakeCt()
    ct.vz7, ct.settings = True, None
    for header, lays_out in (({}, True), ({"keep_layout": True}, False),
                             ({"replica": True}, False), ({"keep_layout": False}, True)):
        del moved[:]
        backup._lay_out_on_arrival(ct, header)
        assert moved == ([True] if lays_out else []), header
