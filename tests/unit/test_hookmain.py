"""Hook dispatch: which side runs first, the admin's chained script, undo on failure."""
import os

import pytest

from vzzfs_hooks.verbs import attach, ctlimits
from vzzfs_hooks.entry import hookmain
from vzzfs_hooks.hook import sequence
from vzzfs_hooks.rules import ownership
from vzzfs_hooks.base import names
from vzzfs_hooks.system import ext4
from vzzfs_hooks.base.errors import FsError
from vzzfs_hooks.container import claim


class FakeSettings(object):
    auto_create = False


class FakeCt(object):
    ctid = "101"
    ve_private = mountpoint = "/vz/private/101"
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
    monkeypatch.setattr(attach, "attach", lambda ct: ev.add("attach") or True)
    monkeypatch.setattr(attach, "detach", lambda ct: ev.add("detach"))
    monkeypatch.setattr(attach, "check_mounted", lambda ct: ev.add("check"))
    monkeypatch.setattr(sequence, "_detach_quietly", lambda ct: ev.add("undo"))
    monkeypatch.setattr(ctlimits, "before_mount", lambda ct, verb: ev.add("limits-check"))
    monkeypatch.setattr(ctlimits, "after_mount", lambda ct, verb: ev.add("limits-set"))
    monkeypatch.setattr(ctlimits, "before_umount", lambda ct: ev.add("limits-clear"))
    return ev


def run(action, tmp_path, events, rc=0):
    script = tmp_path / "vps.x.vzzfs-chained"
    script.write_text("#!/bin/sh\necho chained >> %s\nexit %d\n" % (events.path, rc))
    script.chmod(0o755)
    return sequence.run_hook(action, FakeCt(), str(script))


def test_premount_attaches_before_admin_script_then_sets_io_limits(tmp_path, events):
    # the limits are set here: the mount hook's shim starts no Python (hookwire.CHECK_ONLY)
    assert run("premount", tmp_path, events) == 0
    assert events == ["limits-check", "attach", "chained", "limits-set"]


def test_failing_admin_premount_undoes_attach(tmp_path, events):
    assert run("premount", tmp_path, events, rc=3) == 3
    assert events == ["limits-check", "attach", "chained", "detach"]


def test_postumount_runs_admin_script_first(tmp_path, events):
    assert run("postumount", tmp_path, events) == 0
    assert events == ["chained", "limits-clear", "detach"]


def test_umount_only_chains(tmp_path, events):
    assert run("umount", tmp_path, events) == 0
    assert events == ["chained"]


def test_mount_checks_and_chains(tmp_path, events):
    assert run("mount", tmp_path, events) == 0
    assert events == ["check", "chained"]


def test_failing_admin_mount_undoes_premount(tmp_path, events):
    assert run("mount", tmp_path, events, rc=1) == 1
    assert events == ["check", "chained", "undo"]


def test_failed_check_undoes_and_raises(monkeypatch, tmp_path, events):
    def bad(ct):
        raise FsError("not mounted")
    monkeypatch.setattr(attach, "check_mounted", bad)
    with pytest.raises(FsError):
        run("mount", tmp_path, events)
    assert events == ["undo"]


def test_other_ct_untouched(tmp_path, events):
    script = tmp_path / "vps.x.vzzfs-chained"
    script.write_text("#!/bin/sh\necho chained >> %s\n" % events.path)
    script.chmod(0o755)
    for action in names.HOOK_ACTIONS:
        assert sequence.run_hook(action, None, str(script)) == 0
    assert events == ["chained"] * len(names.HOOK_ACTIONS)


@pytest.mark.parametrize("named, zvol, guarded, zvol_mounted, ours", [
    (True, None, False, False, True),           # VZZFS_DATASET alone decides
    (False, "volume", False, False, True),      # the conventional zvol
    (False, None, True, False, True),           # the guard: a missing pool is reported
    (False, None, False, False, False),         # a ploop or simfs CT
    (False, "converting", False, False, False),  # convert at work, old area still there
    (False, "converting", True, False, True),
    (False, "unknown", False, True, True),      # VZZFS_ROOT broken, a zvol on VE_PRIVATE
    (False, "unknown", False, False, False),
    (False, None, False, True, False),          # a zvol mount counts only without a name
])
def test_owns(named, zvol, guarded, zvol_mounted, ours):
    assert ownership.owns(named, zvol, guarded, zvol_mounted) is ours


@pytest.fixture
def node_dir(monkeypatch, tmp_path):
    """A node under tmp_path: vz.conf, conf/, a typo in vzzfs.conf; no zvols, no guards."""
    (tmp_path / "conf").mkdir()
    (tmp_path / "vz.conf").write_text('VE_PRIVATE=/vz/private/$VEID\n')
    (tmp_path / "vzzfs.conf").write_text('VZZFS_DEV_TIMEOUT="abc"\n')
    monkeypatch.setattr(claim, "zvol_state", lambda dataset: None)
    monkeypatch.setattr(ext4, "is_guarded", lambda path: False)
    monkeypatch.setattr(claim, "zvol_mounted_on", lambda path, dataset=None: False)
    monkeypatch.setattr(sequence, "run_chained", lambda script: 0)
    return tmp_path


def hook(node_dir, monkeypatch, action, ctid, conf):
    path = node_dir / "conf" / ("%s.conf" % ctid)
    path.write_bytes(conf)
    monkeypatch.setenv("VEID", str(ctid))
    monkeypatch.setenv("VE_CONFFILE", str(path))
    return hookmain.main(action, [])


def test_broken_vzzfs_conf_lets_other_cts_pass_with_one_warning(node_dir, monkeypatch, capsys):
    conf = b'VE_LAYOUT=simfs\nVE_PRIVATE="/vz/private/$VEID/"\nVE_ROOT=/vz/root/$VEID\n'
    for action in ("premount", "mount", "postumount", "create"):
        assert hook(node_dir, monkeypatch, action, 102, conf) == 0, action
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "warning" in err and "VZZFS_DEV_TIMEOUT" in err, err
    assert hook(node_dir, monkeypatch, "umount", 102, conf) == 0
    assert capsys.readouterr().err == ""


def test_values_vzzfs_would_refuse_do_not_stop_other_cts(node_dir, monkeypatch, capsys):
    (node_dir / "vzzfs.conf").write_text("")
    for conf in (b'VE_PRIVATE="/vz/private/$VEID/"\n', b'VE_PRIVATE="vz/private/$VEID"\n',
                 b'VE_ROOT="/vz/root/../$VEID"\nVZZFS_MOUNT_OPTS=ro\n',
                 b'LOCKDIR="/vz/lock/"\nVZZFS_DEV_TIMEOUT=x\n', b'DESCRIPTION="Caf\xe9"\n'):
        assert hook(node_dir, monkeypatch, "premount", 102, conf) == 0, conf
    assert capsys.readouterr().err == ""


def test_vzzfs_ct_with_a_bad_config_is_still_refused(node_dir, monkeypatch, capsys):
    assert hook(node_dir, monkeypatch, "premount", 101, b'VZZFS_DATASET=vz/vzzfs/ct/101\n') == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "CT 101: VZZFS_DEV_TIMEOUT='abc'" in err, err
    monkeypatch.setattr(claim, "zvol_state", lambda dataset: "volume")
    assert hook(node_dir, monkeypatch, "postumount", 101, b"") == 3
    (node_dir / "vzzfs.conf").write_text("")
    monkeypatch.setattr(claim, "zvol_state", lambda dataset: None)
    monkeypatch.setattr(ext4, "is_guarded", lambda path: path == "/vz/private/101")
    assert hook(node_dir, monkeypatch, "premount", 101, b'VE_PRIVATE=/vz/private/$VEID/\n') == 3
    assert "VE_PRIVATE '/vz/private/101/'" in capsys.readouterr().err


def test_vzzfs_root_typo_still_stops_an_attached_ct(node_dir, monkeypatch, capsys):
    """With no name to look the zvol up by, a zvol mounted on VE_PRIVATE says it is ours:
    postumount fails loudly rather than leave it mounted without a word."""
    (node_dir / "vzzfs.conf").write_text("VZZFS_ROOT=vz//vzzfs\n")
    assert hook(node_dir, monkeypatch, "postumount", 101, b"") == 0
    assert "VZZFS_ROOT" in capsys.readouterr().err
    monkeypatch.setattr(claim, "zvol_mounted_on", lambda path, dataset=None: dataset is None)
    assert hook(node_dir, monkeypatch, "postumount", 101, b"") == 3


def test_create_is_ours_only_with_auto_create(node_dir, monkeypatch, capsys):
    monkeypatch.setattr(claim, "zvol_state", lambda dataset: "volume")
    assert hook(node_dir, monkeypatch, "create", 103, b"") == 0
    assert hook(node_dir, monkeypatch, "create", 103, b"VZZFS_AUTO_CREATE=yes\n") == 3
    assert "VZZFS_DEV_TIMEOUT" in capsys.readouterr().err.splitlines()[-1]
    (node_dir / "vzzfs.conf").write_text("")
    assert hook(node_dir, monkeypatch, "create", 103, b"VZZFS_AUTO_CREATE=maybe\n") == 3
    assert "VZZFS_AUTO_CREATE='maybe'" in capsys.readouterr().err


def test_missing_chain_script_is_fine(events):
    assert sequence.run_hook("premount", FakeCt(), "/nonexistent/vps.premount.x") == 0


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
    from vzzfs_hooks.verbs import convert
    monkeypatch.setattr(convert, "convert", lambda ct, **kw: events.add(
        "convert-locked" if kw.get("locked") else "convert-unlocked"))
    assert run("create", tmp_path, events) == 0
    assert events == ["chained"]
    monkeypatch.setattr(FakeCt, "settings", type("S", (), {"auto_create": True})())
    assert run("create", tmp_path, events) == 0
    assert events == ["chained", "chained", "convert-locked"]
    assert run("create", tmp_path, events, rc=3) == 3, "a failing admin script: no convert"
    assert events == ["chained", "chained", "convert-locked", "chained"]


def test_ctrl_c_in_a_hook_is_one_line_and_exit_130(node_dir, monkeypatch, capsys):
    (node_dir / "vzzfs.conf").write_text("")

    def interrupted(action, ct, chained):
        raise KeyboardInterrupt
    monkeypatch.setattr(sequence, "run_hook", interrupted)
    assert hook(node_dir, monkeypatch, "premount", 102, b"") == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "CT 102: premount hook interrupted" in err, err


def test_zvol_state_asks_zfs_only_when_udev_has_the_link(monkeypatch, tmp_path):
    from vzzfs_hooks.system import zfs, zvoldev
    asked = []
    monkeypatch.setattr(zfs, "get", lambda ds, *props: asked.append(ds) or {"type": "volume"})
    monkeypatch.setattr(zvoldev, "LINK_DIR", str(tmp_path))
    assert claim.zvol_state("vz/vzzfs/ct/101") is None and asked == []
    (tmp_path / "vz/vzzfs/ct").mkdir(parents=True)
    (tmp_path / "vz/vzzfs/ct/101").symlink_to("../../../zd0")  # dangling, as udev's may be
    assert claim.zvol_state("vz/vzzfs/ct/101") == "volume" and asked == ["vz/vzzfs/ct/101"]


def test_a_named_or_guarded_ct_is_ours_without_asking_zfs(node_dir, monkeypatch):
    def no_zfs(dataset):
        raise AssertionError("zfs asked about %s" % dataset)
    monkeypatch.setattr(claim, "zvol_state", no_zfs)
    node = hookmain.Node(str(node_dir))
    conf = node_dir / "conf" / "101.conf"
    conf.write_text("VZZFS_DATASET=vz/vzzfs/ct/101\n")
    assert claim.hook_owns("premount", node, "101", str(conf))
    conf.write_text("")
    monkeypatch.setattr(ext4, "is_guarded", lambda path: True)
    assert claim.hook_owns("premount", node, "101", str(conf))


def test_its_zvol_mounted_on_private_is_ours_without_asking_zfs(node_dir, monkeypatch):
    def no_zfs(dataset):
        raise AssertionError("zfs asked about %s" % dataset)
    monkeypatch.setattr(claim, "zvol_state", no_zfs)
    monkeypatch.setattr(claim, "zvol_mounted_on",
                        lambda path, dataset=None: dataset == "vz/vzzfs/ct/101")
    (node_dir / "vzzfs.conf").write_text("")
    conf = node_dir / "conf" / "101.conf"
    conf.write_text("")
    assert claim.hook_owns("postumount", hookmain.Node(str(node_dir)), "101", str(conf))


def test_a_hook_imports_neither_re_nor_subprocess():
    """Under emulation `re` and subprocess (with enum, signal, threading behind them) were a
    third of a hook's time (docs/performance.md): what a vzzfs premount loads, and a
    command run, import none of them, nor collections (array, namedtuple, OrderedDict
    pulled it in: 20 ms a hook)."""
    import subprocess
    import sys
    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = ("import sys\n"
            "from vzzfs_hooks.entry import hookmain\n"
            "from vzzfs_hooks.container import ct\n"
            "from vzzfs_hooks.system import vzctl\n"
            "from vzzfs_hooks.verbs import attach, ctlimits, resize\n"
            "from vzzfs_hooks.hook import chkpnt\n"
            "from vzzfs_hooks.base import runner\n"
            "if runner._spawn is not None:\n"  # 3.8+: no subprocess for a command either
            "    assert runner.run(['true']).returncode == 0\n"
            "print(' '.join(sorted(sys.modules)))\n")
    out = subprocess.run([sys.executable, "-S", "-c", code], cwd=top, check=True,
                         stdout=subprocess.PIPE, universal_newlines=True).stdout.split()
    assert "vzzfs_hooks.verbs.attach" in out
    assert not {"re", "enum", "subprocess", "signal", "threading", "collections",
                "array"} & set(out)
