"""install-hooks / uninstall-hooks: admin scripts kept and chained, both idempotent."""
import os
import shlex
import subprocess

import pytest

from vzzfs_hooks.verbs import hookwire
from vzzfs_hooks.base.errors import ConfigError, StateError
from vzzfs_hooks.base.names import HOOK_ACTIONS as ACTIONS


@pytest.fixture
def dirs(tmp_path):
    conf = tmp_path / "conf"
    hooks = tmp_path / "hooks"
    conf.mkdir()
    hooks.mkdir()
    for action in ACTIONS:
        p = hooks / action
        p.write_text(PYTHON_HOOK)
        p.chmod(0o755)
    return str(conf), str(hooks)


PYTHON_HOOK = "#!/usr/bin/python3 -S\n"


def snapshot_dir(path):
    return {n: open(os.path.join(path, n)).read() for n in sorted(os.listdir(path))}


def test_install_writes_four_executable_shims(dirs):
    conf, hooks = dirs
    changed = hookwire.install(conf, hooks)
    assert len(changed) == len(ACTIONS)
    for action in ACTIONS:
        path = os.path.join(conf, "vps." + action)
        assert os.access(path, os.X_OK)
        text = open(path).read()
        if action in hookwire.CHECK_ONLY:
            assert text.startswith("#!/bin/sh\n")
            assert "exec %s --chain %s" % (shlex.quote("%s/%s" % (hooks, action)),
                                           shlex.quote(path + ".vzzfs-chained")) in text
        else:  # the hook's own interpreter, the hook run in the shim's process
            assert text.startswith(PYTHON_HOOK)
            assert "sys.argv = [%s, '--chain', %s]" % (ascii("%s/%s" % (hooks, action)),
                                                        ascii(path + ".vzzfs-chained")) in text
    assert hookwire.status(conf) == dict((a, "vzzfs") for a in ACTIONS)


def test_an_older_umount_shim_goes_and_the_admin_script_is_vzctls_again(dirs):
    """vzzfs has nothing to do at umount: vps.umount is the admin's, run by vzctl itself."""
    conf, hooks = dirs
    shim = os.path.join(conf, "vps.umount")
    older = ("#!/bin/sh\n%s: umount\nexec %s/umount --chain %s.vzzfs-chained\n"
             % (hookwire.MARKER, hooks, shim))  # what older vzzfs wired there
    for admin in (None, "#!/bin/sh\necho admin\n"):
        with open(shim, "w") as f:
            f.write(older)
        if admin:
            with open(shim + ".vzzfs-chained", "w") as f:
                f.write(admin)
        changed = hookwire.install(conf, hooks)
        assert ("restored your %s" if admin else "removed %s") % shim in changed
        if admin:
            assert open(shim).read() == admin
        else:
            assert not os.path.lexists(shim)
        assert not os.path.lexists(shim + ".vzzfs-chained")
        assert "umount" not in hookwire.status(conf)
        assert hookwire.install(conf, hooks) == []  # the admin's script stays as it is
        hookwire.uninstall(conf)
        if admin:
            os.unlink(shim)


def test_a_quote_in_the_paths_runs_no_shell_code(tmp_path):
    """A --confdir or --hookdir holding ' or $ stays one word when vzctl runs the shim."""
    evil = "x';touch${IFS}PWNED;'$(touch${IFS}PWNED2)"
    conf, hooks = tmp_path / ("conf" + evil), tmp_path / ("hooks" + evil)
    conf.mkdir()
    hooks.mkdir()
    seen = tmp_path / "seen"
    for action in ACTIONS:
        p = hooks / action
        p.write_text(PYTHON_HOOK + "import sys\nwith open(%r, 'w') as f:\n"
                     "    f.write(''.join(a + '\\n' for a in sys.argv[1:]))\n" % str(seen))
        p.chmod(0o755)
    hookwire.install(str(conf), str(hooks))
    for action in ("premount", "mount"):
        shim = str(conf / ("vps." + action))
        open(shim + ".vzzfs-chained", "w").close()
        assert subprocess.call([shim], cwd=str(tmp_path), env={}) == 0
        assert seen.read_text() == "--chain\n%s.vzzfs-chained\n" % shim
    assert not [n for n in os.listdir(str(tmp_path)) if n.startswith("PWNED")]


def test_the_shim_runs_the_hook_in_its_own_process(dirs, tmp_path):
    """One interpreter per action: the hook's code runs in the shim's process, with its
    own name and path, its exit code is the shim's, and nothing imports from the conf dir."""
    conf, hooks = dirs
    seen = tmp_path / "seen"
    with open(os.path.join(hooks, "premount"), "w") as f:
        f.write(PYTHON_HOOK + "import os, sys\nwith open(%r, 'w') as f:\n"
                "    f.write(repr((os.getpid(), __file__, sys.argv, sys.path[0])))\n"
                "sys.exit(7)\n" % str(seen))
    hookwire.install(conf, hooks)
    shim = os.path.join(conf, "vps.premount")
    with open(os.path.join(conf, "os.py"), "w") as f:  # never imported from here
        f.write("raise SystemExit(99)\n")
    proc = subprocess.Popen([shim], env={})
    assert proc.wait() == 7
    pid, file, argv, first = eval(seen.read_text())
    hook = os.path.join(hooks, "premount")
    assert pid == proc.pid and file == hook
    assert argv == [hook, "--chain", shim + ".vzzfs-chained"]
    assert os.path.realpath(first) != os.path.realpath(conf)


def test_a_conf_dir_reached_through_a_symlink_is_off_the_module_path(dirs, tmp_path):
    conf, hooks = dirs
    link = str(tmp_path / "conf-link")
    os.symlink(conf, link)
    seen = tmp_path / "seen"
    with open(os.path.join(hooks, "premount"), "w") as f:
        f.write(PYTHON_HOOK + "import sys\nopen(%r, 'w').write(repr(sys.path))\n" % str(seen))
    hookwire.install(link, hooks)
    assert subprocess.call([os.path.join(link, "vps.premount")], env={}) == 0
    path = eval(seen.read_text())
    assert not [p for p in path if os.path.realpath(p) == os.path.realpath(conf)], path


def test_a_hook_that_is_not_python_is_refused_and_nothing_changes(dirs):
    conf, hooks = dirs
    with open(os.path.join(hooks, "postumount"), "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    with pytest.raises(ConfigError) as e:
        hookwire.install(conf, hooks)
    assert "is not vzzfs's Python hook" in str(e.value)
    assert os.listdir(conf) == []


def test_an_older_shell_shim_is_updated(dirs):
    """Shims an older vzzfs wrote exec'd the hook from sh; install-hooks rewrites them."""
    conf, hooks = dirs
    path = os.path.join(conf, "vps.premount")
    with open(path, "w") as f:
        f.write("#!/bin/sh\n%s: premount\nexec %s/premount --chain %s.vzzfs-chained\n"
                % (hookwire.MARKER, hooks, path))
    changed = hookwire.install(conf, hooks)
    assert "updated %s" % path in changed
    assert open(path).read() == hookwire.shim_text("premount", hooks, conf)
    assert not os.path.exists(path + ".vzzfs-chained")


def test_install_twice_changes_nothing(dirs):
    conf, hooks = dirs
    hookwire.install(conf, hooks)
    before = snapshot_dir(conf)
    assert hookwire.install(conf, hooks) == []
    assert snapshot_dir(conf) == before


def test_admin_script_is_chained_and_restored(dirs):
    conf, hooks = dirs
    own = os.path.join(conf, "vps.mount")
    with open(own, "w") as f:
        f.write("#!/bin/sh\necho admin\n")
    changed = hookwire.install(conf, hooks)
    assert any("kept your" in c for c in changed)
    assert open(own + ".vzzfs-chained").read() == "#!/bin/sh\necho admin\n"
    assert hookwire.is_vzzfs_shim(own)
    hookwire.uninstall(conf)
    assert open(own).read() == "#!/bin/sh\necho admin\n"
    assert sorted(os.listdir(conf)) == ["vps.mount"]


def test_uninstall_twice_changes_nothing(dirs):
    conf, hooks = dirs
    hookwire.install(conf, hooks)
    assert len(hookwire.uninstall(conf)) == len(ACTIONS)
    assert os.listdir(conf) == []
    assert hookwire.uninstall(conf) == []


def test_uninstall_leaves_foreign_scripts(dirs):
    conf, _ = dirs
    other = os.path.join(conf, "vps.premount")
    with open(other, "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    assert hookwire.uninstall(conf) == []
    assert open(other).read() == "#!/bin/sh\nexit 0\n"


def test_conflict_refused_before_any_change(dirs):
    conf, hooks = dirs
    for name in ("vps.mount", "vps.mount.vzzfs-chained"):
        with open(os.path.join(conf, name), "w") as f:
            f.write("#!/bin/sh\n# %s\n" % name)
    before = snapshot_dir(conf)
    with pytest.raises(StateError) as e:
        hookwire.install(conf, hooks)
    assert "merge them" in e.value.fix
    assert snapshot_dir(conf) == before


def test_symlinked_script_is_not_taken_for_ours(dirs, tmp_path):
    conf, hooks = dirs
    target = tmp_path / "elsewhere"
    target.write_text("#!/bin/sh\n%s\n" % hookwire.MARKER)
    os.symlink(str(target), os.path.join(conf, "vps.premount"))
    hookwire.install(conf, hooks)
    assert os.path.islink(os.path.join(conf, "vps.premount.vzzfs-chained"))
    assert target.read_text().endswith("%s\n" % hookwire.MARKER)


def test_missing_hook_programs_refused(dirs):
    conf, hooks = dirs
    os.unlink(os.path.join(hooks, "postumount"))
    with pytest.raises(ConfigError):
        hookwire.install(conf, hooks)
    assert os.listdir(conf) == []


@pytest.mark.parametrize("bad", ["relative/conf", "/etc/vz/../x"])
def test_bad_confdir_refused(bad, dirs):
    with pytest.raises(ConfigError):
        hookwire.install(bad, dirs[1])


def test_missing_confdir_refused(tmp_path, dirs):
    with pytest.raises(ConfigError) as e:
        hookwire.install(str(tmp_path / "nope"), dirs[1])
    assert "vzctl" in e.value.fix


def test_missing_hook_names_hookdir(dirs):
    conf, hooks = dirs
    os.unlink(os.path.join(hooks, "premount"))
    with pytest.raises(ConfigError) as e:
        hookwire.install(conf, hooks)
    assert "--hookdir" in e.value.line() and "premount" in e.value.line()


def test_default_hookdir_is_the_checkouts_hooks():
    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert hookwire.default_hook_dir() == os.path.join(os.path.realpath(top), "hooks")


def test_default_hookdir_installed_is_libexec(tmp_path, monkeypatch):
    pkg = tmp_path / "site-packages" / "vzzfs_hooks"
    pkg.mkdir(parents=True)
    monkeypatch.setattr(hookwire, "__file__", str(pkg / "hookwire.py"))
    assert hookwire.default_hook_dir() == "/usr/libexec/vzzfs"


def test_install_hooks_from_a_checkout_wires_its_hooks(tmp_path):
    """bin/vzzfs install-hooks in a source tree, without --hookdir (it used to fail)."""
    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    conf = tmp_path / "conf"
    conf.mkdir()
    res = subprocess.run([os.path.join(top, "bin", "vzzfs"), "--etc-dir", str(tmp_path),
                          "install-hooks", "--confdir", str(conf)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True)
    assert res.returncode == 0, res.stdout
    shim = (conf / "vps.premount").read_text()
    assert "sys.argv = [%s, " % ascii(os.path.join(os.path.realpath(top), "hooks", "premount")) in shim
    res = subprocess.run([os.path.join(top, "bin", "vzzfs"), "--etc-dir", str(tmp_path),
                          "install-hooks", "--confdir", str(conf), "--hookdir",
                          str(tmp_path / "nohooks")],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True)
    assert res.returncode == 3 and "--hookdir" in res.stdout, res.stdout


def test_mount_shim_starts_the_hook_only_without_vzzfs_premount(dirs, tmp_path):
    """vzzfs's premount mounted the zvol: the mount check needs no Python then."""
    conf, hooks = dirs
    log = tmp_path / "ran"
    with open(os.path.join(hooks, "mount"), "w") as f:
        f.write("#!/bin/sh\necho \"$@\" > %s\n" % log)
    hookwire.install(conf, hooks)
    shim = os.path.join(conf, "vps.mount")
    assert subprocess.call([shim], env={}) == 0 and not log.exists()
    with open(shim + ".vzzfs-chained", "w") as f:
        f.write("#!/bin/sh\n")
    assert subprocess.call([shim], env={}) == 0
    assert log.read_text() == "--chain %s.vzzfs-chained\n" % shim
    log.unlink()
    os.unlink(shim + ".vzzfs-chained")
    with open(os.path.join(conf, "vps.premount"), "w") as f:
        f.write("#!/bin/sh\nexit 0\n")  # someone else's premount: check what it did
    assert subprocess.call([shim], env={}) == 0 and log.exists()
    os.unlink(os.path.join(conf, "vps.premount"))
    log.unlink()
    res = subprocess.run([shim], env={}, stderr=subprocess.PIPE)
    assert res.returncode == 0 and log.exists() and res.stderr == b""


def test_uninstall_is_refused_while_zvols_are_attached(dirs, monkeypatch):
    from vzzfs_hooks.container import claim
    conf, hooks = dirs
    hookwire.install(conf, hooks)
    monkeypatch.setattr(claim, "zvols_mounted_under",
                        lambda top: [top + "/101"] if top == "/vz/private" else [])
    with pytest.raises(StateError) as e:
        hookwire.uninstall(conf, "/vz/private")
    assert "/vz/private/101" in str(e.value) and "--force" in str(e.value)
    assert sorted(os.listdir(conf)) == sorted("vps." + a for a in ACTIONS)  # nothing changed
    assert len(hookwire.uninstall(conf, "/vz/private", force=True)) == len(ACTIONS)


@pytest.mark.parametrize("platform,warned", [("openvz7", True), ("vzctl4", False)])
def test_install_hooks_says_auto_create_does_nothing_under_openvz_7(tmp_path, platform, warned):
    """vzctl 7's create runs no vps.create: VZZFS_AUTO_CREATE=yes would leave new CTs on
    plain directories without a word (issue 26)."""
    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    conf = tmp_path / "conf"
    conf.mkdir()
    (tmp_path / "vzzfs.conf").write_text('VZZFS_PLATFORM="%s"\nVZZFS_AUTO_CREATE="yes"\n'
                                         % platform)
    res = subprocess.run([os.path.join(top, "bin", "vzzfs"), "--etc-dir", str(tmp_path),
                          "install-hooks", "--confdir", str(conf)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True)
    assert res.returncode == 0, res.stderr
    assert ("VZZFS_AUTO_CREATE=yes does nothing on this OpenVZ 7 node" in res.stderr) == warned
    assert ("vzzfs create" in res.stderr) == warned
