"""The RPM for real: install, reinstall, upgrade and erase in a scratch root.

The scriptlets run (chrooted, as on a node) and must wire /etc/vz/conf/vps.*
without losing an admin's scripts, and erase must leave /etc/vz as it found it.
"""
import glob
import os

from conftest import TOP, run

ACTIONS = ("premount", "mount", "postumount", "create")
DROPIN = "/usr/lib/systemd/system/vz.service.d/vzzfs.conf"
RECONCILE_UNITS = ("/usr/lib/systemd/system/vzzfs-reconcile.path",
                   "/usr/lib/systemd/system/vzzfs-reconcile.service")
# what systemctl enable makes for the path unit (WantedBy=multi-user.target)
RECONCILE_ENABLED = "/etc/systemd/system/multi-user.target.wants/vzzfs-reconcile.path"
ADMIN = {"premount": "#!/bin/sh\n# the admin's own premount\nlogger premount $VEID\n",
         "postumount": "#!/bin/sh\n# the admin's own postumount\nexit 0\n"}


def text(path):
    with open(path) as f:
        return f.read()


def add_admin_scripts(root):
    for action, body in ADMIN.items():
        path = os.path.join(root.conf, "vps." + action)
        with open(path, "w") as f:
            f.write(body)
        os.chmod(path, 0o755)


def assert_wired(root, chained):
    for action in ACTIONS:
        shim = os.path.join(root.conf, "vps." + action)
        assert "vzzfs-managed-hook" in text(shim), action
        assert "/usr/libexec/vzzfs/" + action in text(shim)
        assert os.access(root.p("/usr/libexec/vzzfs/" + action), os.X_OK)
        if action != "mount":  # a Python shim runs the installed hook's python3
            first = text(root.p("/usr/libexec/vzzfs/vzzfs-hook")).splitlines()[0]
            assert text(shim).splitlines()[0] == first, action
        kept = shim + ".vzzfs-chained"
        if action in chained:
            assert text(kept) == ADMIN[action]
        else:
            assert not os.path.exists(kept)
    # vps.umount is the admin's; the hook stays for a shim an older vzzfs wired there
    assert not os.path.lexists(os.path.join(root.conf, "vps.umount"))
    assert os.access(root.p("/usr/libexec/vzzfs/umount"), os.X_OK)



def assert_command_and_hook_run(root):
    """The installed command answers, and the installed premount hook runs (refusing
    a bad CTID with its one-line error)."""
    assert root.chroot("/usr/bin/vzzfs", "--version").stdout.strip() == "vzzfs 0.1.0"
    res = root.chroot("/etc/vz/conf/vps.premount", check=False,
                      env={"PATH": "/usr/sbin:/usr/bin", "VEID": "../x",
                           "VE_CONFFILE": "/etc/vz/conf/101.conf"})
    assert res.returncode == 2 and "invalid CTID" in res.stdout, res.stdout

def test_rpm_lists_what_a_node_needs(rpms):
    files = run("rpm", "-qlp", rpms["1"]).stdout.split()
    for path in ("/usr/bin/vzzfs", "/usr/libexec/vzzfs/premount", "/usr/libexec/vzzfs/vzzfs-hook",
                 "/etc/vz/vzzfs.conf", "/etc/vz/conf/ve-vzzfs.conf-sample",
                 "/usr/share/man/man8/vzzfs.8", "/usr/share/bash-completion/completions/vzzfs",
                 DROPIN, "/usr/lib/systemd/system/vzzfs-autosnap.service",
                 "/usr/lib/systemd/system/vzzfs-autosnap.timer",
                 "/usr/lib/systemd/system/vzzfs-replicate.service",
                 "/usr/lib/systemd/system/vzzfs-replicate.timer", "/var/lib/vzzfs") + RECONCILE_UNITS:
        assert path in files, path
    # every module of every layer package ships (the spec lists them by directory)
    for path in glob.glob(os.path.join(TOP, "vzzfs_hooks", "**", "*.py"), recursive=True):
        rel = os.path.relpath(path, TOP)
        assert any(f.endswith("/" + rel) for f in files), rel
    configs = run("rpm", "-qcp", rpms["1"]).stdout.split()
    assert "/etc/vz/vzzfs.conf" in configs
    assert run("rpm", "-qp", "--qf", "%{ARCH}", rpms["1"]).stdout == "noarch"
    requires = run("rpm", "-qpR", rpms["1"]).stdout
    for dep in ("python3 >= 3.6", "python3-pyzfs", "zfs", "e2fsprogs", "vzctl"):
        assert dep in requires, dep


def test_install_wires_hooks_and_erase_leaves_etc_as_it_was(root, rpms):
    before = root.snapshot()
    res = root.rpm("-i", "--nodeps", rpms["1"])
    assert "installed" in res.stdout, res.stdout
    assert_wired(root, chained=())
    with open(os.path.join(TOP, "systemd/vz.service.d/vzzfs.conf")) as f:
        assert text(root.p(DROPIN)) == f.read()  # vz.service starts CTs after ZFS
    for unit in RECONCILE_UNITS:
        with open(os.path.join(TOP, "systemd", os.path.basename(unit))) as f:
            assert text(root.p(unit)) == f.read()
    # enabled: a running CT grows when vzctl set --diskspace rewrites its conf
    # (to the unit where systemctl found it: /lib is /usr/lib on a merged-/usr host)
    assert os.path.basename(os.readlink(root.p(RECONCILE_ENABLED))) == "vzzfs-reconcile.path"
    # the installed command and hooks run from the installed package
    assert_command_and_hook_run(root)
    root.rpm("-e", "vzzfs")
    assert root.snapshot() == before
    assert not os.path.exists(root.p("/usr/bin/vzzfs"))
    assert not os.path.exists(root.p(DROPIN))
    assert not os.path.lexists(root.p(RECONCILE_ENABLED))


def test_admin_scripts_are_chained_and_given_back(root, rpms):
    add_admin_scripts(root)
    before = root.snapshot()
    res = root.rpm("-i", "--nodeps", rpms["1"])
    assert res.stdout.count("(chained)") == 2, res.stdout
    assert_wired(root, chained=ADMIN)
    root.rpm("-e", "vzzfs")
    assert root.snapshot() == before


def test_reinstall_changes_nothing(root, rpms):
    add_admin_scripts(root)
    root.rpm("-i", "--nodeps", rpms["1"])
    wired = root.snapshot()
    res = root.rpm("-i", "--nodeps", "--replacepkgs", rpms["1"])
    assert "hooks already installed" in res.stdout, res.stdout
    assert root.snapshot() == wired


def test_upgrade_keeps_hooks_and_the_admins_config(root, rpms):
    add_admin_scripts(root)
    before = root.snapshot()
    root.rpm("-i", "--nodeps", rpms["1"])
    conf = root.p("/etc/vz/vzzfs.conf")
    with open(conf, "a") as f:
        f.write('VZZFS_COMPRESSION="zstd"\n')
    edited = text(conf)
    os.unlink(root.p(RECONCILE_ENABLED))  # the admin's systemctl disable vzzfs-reconcile.path
    root.rpm("-U", "--nodeps", rpms["2"])
    assert not os.path.lexists(root.p(RECONCILE_ENABLED)), "an upgrade does not enable it again"
    assert root.rpm("-q", "vzzfs").stdout.strip() == "vzzfs-0.1.0-2.noarch"
    assert_wired(root, chained=ADMIN)  # the old package's %preun did not unwire
    assert text(conf) == edited
    assert not os.path.exists(conf + ".rpmnew")
    root.rpm("-e", "vzzfs")
    after = root.snapshot()
    assert after.pop("vzzfs.conf.rpmsave")[1].decode() == edited  # rpm keeps an edited config
    assert after == before


def test_shebangs_name_the_python_the_package_was_built_for(root, rpms, tmp_path):
    """On EL8 /usr/bin/python3 is an alternative: switching it must not break the hooks."""
    built_for = os.path.realpath("/usr/bin/python3")  # e.g. /usr/bin/python3.11
    assert built_for != "/usr/bin/python3"
    rpm = run(os.path.join(TOP, "scripts", "build-rpm"), "--release", "3", "--outdir",
              str(tmp_path), "--python", built_for).stdout.strip().splitlines()[-1]
    assert "/usr/bin/python3" in run("rpm", "-qpR", rpms["1"]).stdout
    assert built_for in run("rpm", "-qpR", rpm).stdout
    root.rpm("-i", "--nodeps", rpm)
    for path in ("/usr/bin/vzzfs", "/usr/libexec/vzzfs/vzzfs-hook"):
        assert text(root.p(path)).splitlines()[0] == "#!%s -S" % built_for, path
    os.unlink(root.p("/usr/bin/python3"))  # the python3 alternative switched away
    os.symlink("/nonexistent/python", root.p("/usr/bin/python3"))
    assert_command_and_hook_run(root)
    root.rpm("-e", "vzzfs")
