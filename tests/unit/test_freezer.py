"""freezer: which way a snapshot holds a running CT, and the freezer.state protocol
(on a fake cgroup directory; the VM tests freeze real CTs)."""
import pytest

from vzzfs_hooks.system import freezer, vzctl
from vzzfs_hooks.base.errors import StateError


def test_method_follows_the_setting_or_the_kernel(monkeypatch, tmp_path):
    assert freezer.method("vzctl") == "vzctl"
    assert freezer.method("freezer") == "freezer"
    monkeypatch.setattr(vzctl, "PROC_VZ", str(tmp_path / "vz"))
    assert freezer.method("auto") == "freezer"  # upstream kernel: vzctl chkpnt ends the CT
    (tmp_path / "vz").mkdir()
    assert freezer.method("auto") == "vzctl"    # OpenVZ kernel: chkpnt --suspend works


def test_freeze_waits_for_frozen_and_thaw_releases(tmp_path):
    state = tmp_path / "freezer.state"
    state.write_text("THAWED\n")
    freezer.freeze("101", str(tmp_path))
    assert freezer.state(str(tmp_path)) == "FROZEN"
    freezer.thaw(str(tmp_path))
    assert freezer.state(str(tmp_path)) == "THAWED"


def test_a_freeze_that_never_completes_is_undone(tmp_path):
    state = tmp_path / "freezer.state"
    state.write_text("THAWED\n")
    orig = freezer.state
    try:
        freezer.state = lambda path: "FREEZING"
        with pytest.raises(StateError) as e:
            freezer.freeze("101", str(tmp_path), timeout=0.05)
    finally:
        freezer.state = orig
    assert "did not freeze" in e.value.line()
    assert state.read_text() == "THAWED", "a failed freeze thaws what it froze"


def test_no_freezer_hierarchy_means_no_cgroup(monkeypatch):
    monkeypatch.setattr(freezer.mounts, "table", lambda pid="self": [])
    assert freezer.cgroup_dir("101") is None
