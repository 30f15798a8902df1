"""Hook dispatch: which side runs first, the admin's chained script, undo on failure."""
import os

import pytest

from vzzfs_hooks import actions, hookmain
from vzzfs_hooks.errors import FsError


class FakeSettings(object):
    auto_create = False


class FakeCt(object):
    ctid = "101"
    ve_private = "/vz/private/101"
    settings = FakeSettings()
    dataset = "vz/vzzfs/ct/101"

    def private_mount(self):
        return None


class Events(object):
    """What the fake actions and the chained script did, in order (one shared file)."""

    def __init__(self, path):
        self.path = path

    def add(self, what):
        with open(self.path, "a") as f:
            f.write(what + "\n")

    def __eq__(self, other):
        return self.list() == other

    def list(self):
        return open(self.path).read().split() if os.path.exists(self.path) else []

    def __repr__(self):
        return repr(self.list())


@pytest.fixture
def events(monkeypatch, tmp_path):
    ev = Events(str(tmp_path / "log"))
    monkeypatch.setattr(actions, "is_vzzfs", lambda ct: True)
    monkeypatch.setattr(actions, "attach", lambda ct: ev.add("attach") or True)
    monkeypatch.setattr(actions, "detach", lambda ct: ev.add("detach"))
    monkeypatch.setattr(actions, "check_mounted", lambda ct: ev.add("check"))
    monkeypatch.setattr(hookmain, "_detach_quietly", lambda ct: ev.add("undo"))
    return ev


def run(action, tmp_path, events, rc=0):
    script = tmp_path / "vps.x.vzzfs-chained"
    script.write_text("#!/bin/sh\necho chained >> %s\nexit %d\n" % (events.path, rc))
    script.chmod(0o755)
    return hookmain.run_hook(action, FakeCt(), str(script))


def test_premount_attaches_before_admin_script(tmp_path, events):
    assert run("premount", tmp_path, events) == 0
    assert events == ["attach", "chained"]


def test_failing_admin_premount_undoes_attach(tmp_path, events):
    assert run("premount", tmp_path, events, rc=3) == 3
    assert events == ["attach", "chained", "detach"]


def test_postumount_runs_admin_script_first(tmp_path, events):
    assert run("postumount", tmp_path, events) == 0
    assert events == ["chained", "detach"]


def test_umount_only_chains(tmp_path, events):
    assert run("umount", tmp_path, events) == 0
    assert events == ["chained"]


def test_failing_admin_mount_undoes_premount(tmp_path, events):
    assert run("mount", tmp_path, events, rc=1) == 1
    assert events == ["check", "chained", "undo"]


def test_failed_check_undoes_and_raises(monkeypatch, tmp_path, events):
    def bad(ct):
        raise FsError("not mounted")
    monkeypatch.setattr(actions, "check_mounted", bad)
    with pytest.raises(FsError):
        run("mount", tmp_path, events)
    assert events == ["undo"]


def test_other_ct_untouched(monkeypatch, tmp_path, events):
    monkeypatch.setattr(actions, "is_vzzfs", lambda ct: False)
    for action in hookmain.ACTIONS:
        assert run(action, tmp_path, events) == 0
    assert events == ["chained"] * len(hookmain.ACTIONS)


def test_missing_chain_script_is_fine(events):
    assert hookmain.run_hook("premount", FakeCt(), "/nonexistent/vps.premount.x") == 0


def test_main_without_vzctl_environment(monkeypatch, capsys):
    monkeypatch.delenv("VEID", raising=False)
    monkeypatch.delenv("VE_CONFFILE", raising=False)
    assert hookmain.main("premount", []) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "VEID and VE_CONFFILE are not set" in err


def test_main_rejects_unknown_action_and_bad_ctid(monkeypatch, tmp_path, capsys):
    assert hookmain.main("prestart", []) == 2
    (tmp_path / "conf").mkdir()
    (tmp_path / "vz.conf").write_text("")
    monkeypatch.setenv("VEID", "../x")
    monkeypatch.setenv("VE_CONFFILE", str(tmp_path / "conf" / "x.conf"))
    assert hookmain.main("premount", []) == 2
    assert "../x" in capsys.readouterr().err


def test_create_converts_only_when_asked_and_after_the_admin_script(monkeypatch, tmp_path,
                                                                     events):
    from vzzfs_hooks import convert
    monkeypatch.setattr(convert, "convert", lambda ct, **kw: events.add(
        "convert-locked" if kw.get("locked") else "convert-unlocked"))
    assert run("create", tmp_path, events) == 0
    assert events == ["chained"]
    monkeypatch.setattr(FakeCt, "settings", type("S", (), {"auto_create": True})())
    assert run("create", tmp_path, events) == 0
    assert events == ["chained", "chained", "convert-locked"]
    assert run("create", tmp_path, events, rc=3) == 3, "a failing admin script: no convert"
    assert events == ["chained", "chained", "convert-locked", "chained"]
