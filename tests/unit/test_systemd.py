"""The systemd drop-in that orders vzctl's service after ZFS's pools and zvol links, and the
path unit that grows running CTs when their conf changes (vzzfs-reconcile)."""
import os
import shutil
import subprocess

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DROPIN = os.path.join(TOP, "systemd", "vz.service.d", "vzzfs.conf")
RECONCILE_PATH = os.path.join(TOP, "systemd", "vzzfs-reconcile.path")
RECONCILE_SERVICE = os.path.join(TOP, "systemd", "vzzfs-reconcile.service")
# OpenZFS's units: pools imported, then zvol_wait saw every /dev/zvol link
ZFS_TARGETS = {"zfs-import.target", "zfs-volumes.target"}


def unit_settings(path):
    """{(section, key): [values]} of a systemd unit file (space-separated lists split)."""
    found, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
                continue
            key, sep, value = line.partition("=")
            assert sep and section, "%s: not a unit file line: %r" % (path, line)
            found.setdefault((section, key.strip()), []).extend(value.split())
    return found


def test_dropin_orders_vz_after_pools_and_zvol_links():
    settings = unit_settings(DROPIN)
    assert set(settings) == {("Unit", "After"), ("Unit", "Wants")}
    assert set(settings["Unit", "After"]) == ZFS_TARGETS
    assert set(settings["Unit", "Wants"]) == ZFS_TARGETS


def test_openzfs_units_have_these_names():
    """Where OpenZFS is installed (Debian: /lib/systemd/system), its targets are these."""
    units = [d for d in ("/lib/systemd/system", "/usr/lib/systemd/system")
             if os.path.exists(os.path.join(d, "zfs-import.target"))]
    assert units, "OpenZFS's systemd units are missing: run scripts/vm-setup (zfsutils-linux)"
    for target in ZFS_TARGETS:
        assert os.path.exists(os.path.join(units[0], target)), target


def test_systemd_analyze_verify_accepts_it(tmp_path):
    """verify loads the drop-in beside a stand-in vz.service and must warn about nothing."""
    assert shutil.which("systemd-analyze"), "no systemd-analyze: run scripts/vm-setup (systemd)"
    unit = tmp_path / "vz.service"
    unit.write_text("[Unit]\nDescription=stand-in for vzctl's service\n"
                    "[Service]\nType=oneshot\nExecStart=/bin/true\n")
    (tmp_path / "vz.service.d").mkdir()
    shutil.copy(DROPIN, str(tmp_path / "vz.service.d" / "vzzfs.conf"))
    res = subprocess.run(["systemd-analyze", "verify", str(unit)], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, universal_newlines=True, cwd=str(tmp_path))
    assert res.returncode == 0 and "vzzfs.conf" not in res.stdout, res.stdout


AUTOSNAP = os.path.join(TOP, "systemd", "vzzfs-autosnap.service")
AUTOSNAP_TIMER = os.path.join(TOP, "systemd", "vzzfs-autosnap.timer")


def test_autosnap_service_runs_vzzfs_autosnap_once_the_pools_are_there():
    settings = unit_settings(AUTOSNAP)
    assert settings["Service", "Type"] == ["oneshot"]
    assert settings["Service", "ExecStart"] == ["/usr/bin/vzzfs", "autosnap"]
    assert set(settings["Unit", "After"]) == ZFS_TARGETS | {"vz.service"}
    assert ("Install", "WantedBy") not in settings  # the timer starts it, nothing else


def test_autosnap_timer_is_hourly_and_catches_up_a_missed_run_once():
    settings = unit_settings(AUTOSNAP_TIMER)
    assert settings["Timer", "OnCalendar"] == ["hourly"]
    assert settings["Timer", "Persistent"] == ["true"]
    assert settings["Install", "WantedBy"] == ["timers.target"]
    assert ("Timer", "Unit") not in settings  # the service of the same name


def test_systemd_analyze_verify_accepts_the_autosnap_units(tmp_path):
    """verify wants ExecStart's program to exist (the tree's bin/vzzfs stands in) and
    the man page installed (not here: --man=no)."""
    assert shutil.which("systemd-analyze"), "no systemd-analyze: run scripts/vm-setup (systemd)"
    for path in (AUTOSNAP, AUTOSNAP_TIMER):
        with open(path) as f:
            text = f.read().replace("/usr/bin/vzzfs", os.path.join(TOP, "bin", "vzzfs"))
        (tmp_path / os.path.basename(path)).write_text(text)
    res = subprocess.run(["systemd-analyze", "verify", "--man=no",
                          str(tmp_path / "vzzfs-autosnap.timer"),
                          str(tmp_path / "vzzfs-autosnap.service")], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, universal_newlines=True, cwd=str(tmp_path))
    assert res.returncode == 0 and "vzzfs-autosnap" not in res.stdout, res.stdout


def test_reconcile_path_unit_watches_the_ct_confs():
    settings = unit_settings(RECONCILE_PATH)
    assert settings["Path", "PathChanged"] == ["/etc/vz/conf"]  # where vzctl set --save writes
    assert settings["Path", "Unit"] == ["vzzfs-reconcile.service"]
    assert settings["Install", "WantedBy"] == ["multi-user.target"]  # enabled: watching at boot


def test_reconcile_service_runs_the_installed_command_once():
    settings = unit_settings(RECONCILE_SERVICE)
    assert settings["Service", "Type"] == ["oneshot"]
    assert settings["Service", "ExecStart"] == ["/usr/bin/vzzfs", "reconcile"]
    assert ("Install", "WantedBy") not in settings, "started by the path unit only"
    with open(os.path.join(TOP, "rpm", "vzzfs.spec")) as f:
        spec = f.read()
    # the command the spec installs is the one the unit runs (%{_bindir} is /usr/bin)
    assert "bin/vzzfs %{buildroot}%{_bindir}/vzzfs" in spec


def test_systemd_analyze_verify_accepts_the_reconcile_units(tmp_path):
    """Both units verified together; ExecStart pointed at this tree's bin/vzzfs (verify
    wants the program to exist), man pages not looked up (none installed here)."""
    assert shutil.which("systemd-analyze"), "no systemd-analyze: run scripts/vm-setup (systemd)"
    shutil.copy(RECONCILE_PATH, str(tmp_path))
    with open(RECONCILE_SERVICE) as f:
        text = f.read()
    assert "ExecStart=/usr/bin/vzzfs " in text
    (tmp_path / "vzzfs-reconcile.service").write_text(
        text.replace("ExecStart=/usr/bin/vzzfs ", "ExecStart=%s " % os.path.join(TOP, "bin/vzzfs")))
    res = subprocess.run(["systemd-analyze", "verify", "--man=no", "./vzzfs-reconcile.path",
                          "./vzzfs-reconcile.service"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, universal_newlines=True, cwd=str(tmp_path))
    assert res.returncode == 0 and "vzzfs-reconcile" not in res.stdout, res.stdout


REPLICATE = os.path.join(TOP, "systemd", "vzzfs-replicate.service")
REPLICATE_TIMER = os.path.join(TOP, "systemd", "vzzfs-replicate.timer")


def test_replicate_service_runs_vzzfs_replicate_after_the_pools_and_autosnap():
    settings = unit_settings(REPLICATE)
    assert settings["Service", "Type"] == ["oneshot"]
    assert settings["Service", "ExecStart"] == ["/usr/bin/vzzfs", "replicate"]
    assert ZFS_TARGETS <= set(settings["Unit", "After"])
    assert "vzzfs-autosnap.service" in settings["Unit", "After"]
    assert ("Install", "WantedBy") not in settings  # the timer starts it, nothing else


def test_replicate_timer_is_hourly_after_autosnap_and_catches_up_once():
    settings = unit_settings(REPLICATE_TIMER)
    # hourly, but not on the hour: autosnap's snapshot of this hour is there by then
    assert settings["Timer", "OnCalendar"] == ["*-*-*", "*:10:00"]
    assert settings["Timer", "Persistent"] == ["true"]
    assert settings["Install", "WantedBy"] == ["timers.target"]
    assert ("Timer", "Unit") not in settings


def test_systemd_analyze_verify_accepts_the_replicate_units(tmp_path):
    assert shutil.which("systemd-analyze"), "no systemd-analyze: run scripts/vm-setup (systemd)"
    for path in (REPLICATE, REPLICATE_TIMER):
        with open(path) as f:
            text = f.read().replace("/usr/bin/vzzfs", os.path.join(TOP, "bin", "vzzfs"))
        (tmp_path / os.path.basename(path)).write_text(text)
    res = subprocess.run(["systemd-analyze", "verify", "--man=no",
                          str(tmp_path / "vzzfs-replicate.timer"),
                          str(tmp_path / "vzzfs-replicate.service")], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, universal_newlines=True, cwd=str(tmp_path))
    assert res.returncode == 0 and "vzzfs-replicate" not in res.stdout, res.stdout


def test_jobs_start_only_after_vz_has_started_the_onboot_cts():
    """Issue 29, 5: both timers are Persistent, so a run missed while the node was down
    happens at boot; unordered against vz.service it could hold a CT's lock while the
    init script starts the ONBOOT CTs, and vzctl start does not retry 'Container
    already locked': the CT stayed down after a reboot."""
    for path in (AUTOSNAP, REPLICATE, RECONCILE_SERVICE):
        assert "vz.service" in unit_settings(path)["Unit", "After"], path
    for timer in (AUTOSNAP_TIMER, REPLICATE_TIMER):
        assert unit_settings(timer)["Timer", "Persistent"] == ["true"]


def test_the_reconcile_path_unit_never_stops_watching_for_a_burst():
    """Issue 29, 8: a burst of conf writes tripped systemd's start limit (5 in 10 s by
    default) and the path unit stopped watching, silently."""
    service = unit_settings(RECONCILE_SERVICE)
    assert service["Unit", "StartLimitIntervalSec"] == ["0"]
    assert service["Service", "StartLimitInterval"] == ["0"]  # systemd before 230 (EL7)
    assert unit_settings(RECONCILE_PATH)["Path", "TriggerLimitIntervalSec"] == ["0"]


def test_check_says_when_the_path_unit_is_not_watching(tmp_path, monkeypatch):
    from vzzfs_hooks.system import units
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "systemctl"
    fake.write_text('#!/bin/sh\n[ "$1" = is-enabled ] && echo enabled && exit 0\n'
                    'echo "$(cat %s)"; exit 3\n' % (tmp_path / "active"))
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", "%s:%s" % (bindir, os.environ["PATH"]))
    monkeypatch.setattr(units, "BOOTED", str(tmp_path))
    (tmp_path / "active").write_text("failed")
    assert units.state(units.RECONCILE_PATH) == ("enabled", "failed")
    assert units.not_watching("enabled", "failed")
    assert units.not_watching("enabled", "inactive")
    assert not units.not_watching("enabled", "active")
    assert not units.not_watching("disabled", "inactive")  # the admin turned it off
    monkeypatch.setattr(units, "BOOTED", str(tmp_path / "nosystemd"))
    assert units.state(units.RECONCILE_PATH) is None
