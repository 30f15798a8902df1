"""The four hooks driven through vzctl's sequence, on real zvols, ext4 and mounts."""
import hashlib
import json
import os
import subprocess
import threading
import time

from conftest import POOL, REPO, sh
from harness.vzctl import wait_unshared
from vzzfs_hooks.system import ext4, mounts, zfs


def read(path):
    with open(path) as f:
        return f.read()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def private_source(node, ctid):
    m = mounts.mount_at(node.private(ctid))
    return m and m.source


def assert_detached(node, ctid):
    assert not os.path.ismount(node.private(ctid))
    assert not os.path.ismount(node.root(ctid))
    assert os.listdir(node.private(ctid)) == []
    assert ext4.is_immutable(node.private(ctid)), "the empty mount point must stay guarded"


def test_start_stop_restart_keep_data(node):
    ds = node.make_ct(101)
    vz = node.vzctl
    for cycle in range(2):  # 0: start, stop; 1: start, restart, stop
        res = vz.start(101)
        assert res.rc == 0, res
        assert private_source(node, 101) == os.path.realpath("/dev/zvol/" + ds)
        assert read(os.path.join(node.root(101), "etc/hostname")) == "ct101\n"
        write(os.path.join(node.root(101), "root/cycle%d" % cycle), "data %d" % cycle)
        res = vz.stop(101) if cycle != 1 else vz.restart(101)
        assert res.rc == 0, res
        if cycle == 1:
            assert vz.is_running(101)
            assert vz.stop(101).rc == 0
        assert_detached(node, 101)
    assert vz.start(101).rc == 0
    for cycle in range(2):
        assert read(os.path.join(node.root(101), "root/cycle%d" % cycle)) == "data %d" % cycle
    assert vz.stop(101).rc == 0


def test_stop_kills_what_the_cts_processes_started(node):
    """A CT's shell has a child with its cwd in VE_ROOT: stop must not leave it
    behind holding the mounts busy (the harness kills whole process groups)."""
    node.make_ct(101)
    assert node.vzctl.start(101).rc == 0
    shell = node.vzctl.exec_bg(101, ["sh", "-c", "sleep 60; :"])
    time.sleep(0.3)  # let sh start its sleep
    res = node.vzctl.stop(101)
    shell.wait(timeout=10)
    assert res.rc == 0, res
    assert_detached(node, 101)


def test_guard_stops_writes_into_unmounted_private(node):
    node.make_ct(101)
    assert node.vzctl.start(101).rc == 0
    assert node.vzctl.stop(101).rc == 0
    try:
        write(os.path.join(node.private(101), "stray"), "x")
        raise AssertionError("writing into the unmounted mount point must fail")
    except PermissionError:
        pass


def test_mount_then_start_and_repeated_mount_are_idempotent(node):
    node.make_ct(101)
    vz = node.vzctl
    assert vz.mount(101).rc == 0
    assert vz.mount(101).rc == 0
    assert vz.start(101).rc == 0
    assert read(os.path.join(node.root(101), "etc/hostname")) == "ct101\n"
    assert vz.stop(101).rc == 0
    assert_detached(node, 101)
    # vzzfs attach first, then vzctl start: premount finds it mounted and goes on
    res = node.vzzfs("attach", "101")
    assert res.returncode == 0, res.stdout
    assert vz.start(101).rc == 0
    assert vz.stop(101).rc == 0
    assert_detached(node, 101)


def test_failing_admin_mount_script_leaves_nothing_mounted(node):
    node.make_ct(101)
    chained = os.path.join(node.etc, "conf", "vps.mount.vzzfs-chained")
    write(chained, "#!/bin/sh\necho admin mount check failed >&2\nexit 3\n")
    os.chmod(chained, 0o755)
    res = node.vzctl.start(101)
    assert res.rc == 79 and "admin mount check failed" in res.output, res
    assert_detached(node, 101)
    os.unlink(chained)
    assert node.vzctl.start(101).rc == 0
    assert node.vzctl.stop(101).rc == 0


def test_zvol_left_mounted_by_failing_ct_mount_script_is_picked_up(node):
    ds = node.make_ct(101)
    script = os.path.join(node.etc, "conf", "101.mount")
    write(script, "#!/bin/sh\nexit 1\n")
    os.chmod(script, 0o755)
    res = node.vzctl.start(101)
    assert res.rc == 79, res
    # vzctl skipped postumount: the zvol is still on VE_PRIVATE, VE_ROOT is not
    assert private_source(node, 101) == os.path.realpath("/dev/zvol/" + ds)
    assert not os.path.ismount(node.root(101))
    os.unlink(script)
    res = node.vzctl.start(101)
    assert res.rc == 0, res
    assert node.vzctl.stop(101).rc == 0
    assert_detached(node, 101)
    # the other way out: vzzfs detach
    write(script, "#!/bin/sh\nexit 1\n")
    os.chmod(script, 0o755)
    assert node.vzctl.start(101).rc == 79
    res = node.vzzfs("detach", "101")
    assert res.returncode == 0 and "unmounted" in res.stdout, res.stdout
    assert_detached(node, 101)


def test_non_vzzfs_ct_is_untouched(node):
    node.make_simfs_ct(102)
    node.make_ct(101)
    vz = node.vzctl
    files = set(os.listdir(node.private(102)))
    assert vz.start(102).rc == 0
    assert vz.start(101).rc == 0
    assert read(os.path.join(node.root(102), "etc/hostname")) == "plain102\n"
    assert not os.path.ismount(node.private(102))
    assert vz.stop(102).rc == 0
    assert vz.stop(101).rc == 0
    after = set(os.listdir(node.private(102)))
    # nothing gone; new only what vzctl's own stop writes into a simfs CT
    assert files <= after and after - files <= {"fastboot", "var"}, after - files
    assert not ext4.is_immutable(node.private(102))
    assert "102" not in node.vzzfs("list").stdout.split()


def test_vzzfs_conf_typo_and_odd_conf_never_stop_other_cts(node):
    """Ownership is decided first (issue 16, case 6): a simfs CT whose VE_PRIVATE ends in a
    slash (vzctl takes it, vzzfs's path check would not) starts and stops through the real
    vzctl beside a typo in vzzfs.conf, which refuses only the vzzfs CT, in one line."""
    node.make_simfs_ct(102)
    text = read(node.conffile(102))
    assert "VE_PRIVATE" not in text  # the only one, whichever occurrence vzctl would take
    write(node.conffile(102), text + 'VE_PRIVATE="%s/"\n' % node.private(102))
    node.make_ct(101)
    conf = os.path.join(node.etc, "vzzfs.conf")
    good = read(conf)
    write(conf, good + 'VZZFS_POOL_WARN="abc"\n')  # a key the node's file does not set yet
    vz = node.vzctl
    res = vz.start(102)
    assert res.rc == 0, res
    assert "warning" in res.output and "VZZFS_POOL_WARN='abc'" in res.output, res
    assert read(os.path.join(node.root(102), "etc/hostname")) == "plain102\n"
    res = vz.start(101)
    assert res.rc == 79, res
    ours = [l for l in res.output.splitlines() if l.startswith("vzzfs:")]
    assert len(ours) == 1 and "CT 101: VZZFS_POOL_WARN='abc' is not a number" in ours[0], res
    assert_detached(node, 101)
    assert vz.stop(102).rc == 0
    assert not os.path.ismount(node.root(102))
    write(conf, good)
    assert vz.start(101).rc == 0
    assert vz.stop(101).rc == 0


def test_pool_not_imported_refuses_cleanly(node):
    node.make_ct(101)
    assert node.vzctl.start(101).rc == 0
    assert node.vzctl.stop(101).rc == 0
    sh("zpool", "export", POOL)
    try:
        res = node.vzctl.start(101)
        assert res.rc == 79, res
        assert "CT 101: pool vz is not imported (import it with: zpool import vz)" in res.output
        assert not os.path.ismount(node.private(101)) and not os.path.ismount(node.root(101))
        res = node.vzzfs("list")
        assert res.returncode == 5 and "zpool import vz" in res.stdout
    finally:
        sh("zpool", "import", POOL)
    assert node.vzctl.start(101).rc == 0
    assert node.vzctl.stop(101).rc == 0


def test_late_zvol_device_is_waited_for(node):
    ds = node.make_ct(101)
    sh("zfs", "set", "volmode=none", ds)
    deadline = time.time() + 10
    while os.path.exists("/dev/zvol/" + ds) and time.time() < deadline:
        time.sleep(0.1)
    assert not os.path.exists("/dev/zvol/" + ds), "volmode=none should remove the device"
    timer = threading.Timer(1.5, sh, ("zfs", "set", "volmode=dev", ds))
    timer.start()
    try:
        res = node.vzctl.start(101)
    finally:
        timer.join()
    assert res.rc == 0, res
    assert read(os.path.join(node.root(101), "etc/hostname")) == "ct101\n"
    assert node.vzctl.stop(101).rc == 0


def test_missing_zvol_device_times_out_with_a_message(node):
    ds = node.make_ct(101)
    sh("zfs", "set", "volmode=none", ds)
    res = node.vzctl.start(101)
    assert res.rc == 79 and "did not appear within 5 s" in res.output, res
    assert_detached(node, 101)


def _digest(device):
    h = hashlib.sha256()
    with open(device, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def test_corrupt_superblock_is_refused_and_not_touched(node):
    ds = node.make_ct(101)
    dev = os.path.realpath("/dev/zvol/" + ds)
    with open(dev, "r+b") as f:
        f.seek(1024)
        f.write(b"\0" * 1024)
        os.fsync(f.fileno())
    before = _digest(dev)
    res = node.vzctl.start(101)
    assert res.rc == 79, res
    assert "needs a manual repair" in res.output and "e2fsck -f /dev/zvol/" + ds in res.output
    assert _digest(dev) == before, "a refused mount must not change the zvol"
    assert_detached(node, 101)


def test_a_mount_option_the_kernel_refuses_is_not_called_damage(node):
    """mount(8) says "wrong fs type, bad option, bad superblock" for both."""
    node.make_ct(101, extra_conf='VZZFS_MOUNT_OPTS="noatime,no_such_option"\n')
    res = node.vzctl.start(101)
    assert res.rc == 79 and "refuses the ext4 mount options" in res.output, res
    assert "manual repair" not in res.output and "fix VZZFS_MOUNT_OPTS" in res.output, res
    assert_detached(node, 101)


def test_corrupt_root_inode_is_refused(node):
    ds = node.make_ct(101)
    dev = os.path.realpath("/dev/zvol/" + ds)
    sh("debugfs", "-w", "-R", "clri <2>", dev)
    res = node.vzctl.start(101)
    assert res.rc == 79 and "needs a manual repair" in res.output, res
    assert "e2fsck -f /dev/zvol/%s)\n" % ds in res.output, "one line, naming the fix"
    assert_detached(node, 101)
    sh("e2fsck", "-fy", dev, check=False)  # the operator's repair, as the message says
    # the repair moved the CT's files to lost+found, so it cannot boot; it mounts again
    assert node.vzctl.mount(101).rc == 0
    assert os.path.isdir(os.path.join(node.private(101), "lost+found"))
    assert node.vzctl.umount(101).rc == 0
    assert_detached(node, 101)


def test_busy_private_at_postumount_names_the_process(node):
    node.make_ct(101)
    assert node.vzctl.start(101).rc == 0
    holder = subprocess.Popen(["sleep", "600"], cwd=os.path.join(node.private(101), "etc"))
    try:
        res = node.vzctl.stop(101)
        assert res.rc == 79, res
        assert "is busy: pid %d (sleep) cwd" % holder.pid in res.output, res
        assert os.path.ismount(node.private(101)), "never a silent lazy unmount"
    finally:
        holder.kill()
        holder.wait()
    res = node.vzzfs("detach", "101")
    assert res.returncode == 0, res.stdout
    assert_detached(node, 101)


def test_zvol_still_mounted_in_another_namespace_is_not_fscked(node):
    node.make_ct(101)
    assert node.vzctl.mount(101).rc == 0
    # a process in its own mount namespace keeps a copy of the mount (like a CT that survived)
    stray = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sleep", "600"])
    try:
        wait_unshared(stray.pid)
        assert node.vzctl.umount(101).rc == 0
        res = node.vzctl.mount(101)
        assert res.rc == 79 and "mount namespace of pid %d" % stray.pid in res.output, res
        assert_detached(node, 101)
    finally:
        stray.kill()
        stray.wait()
    assert node.vzctl.mount(101).rc == 0
    assert node.vzctl.umount(101).rc == 0


def test_files_in_unmounted_private_are_never_hidden(node):
    node.make_ct(101)
    ext4.set_immutable(node.private(101), False)
    write(os.path.join(node.private(101), "stray"), "x")
    res = node.vzctl.start(101)
    assert res.rc == 79 and "holds files while the zvol is not mounted" in res.output, res
    assert read(os.path.join(node.private(101), "stray")) == "x"
    assert not os.path.ismount(node.private(101))


def test_disk_quota_yes_warns(node):
    node.make_ct(101)
    conf = node.conffile(101)
    write(conf, read(conf).replace('DISK_QUOTA="no"', 'DISK_QUOTA="yes"'))
    res = node.vzctl.start(101)
    assert res.rc == 0 and "DISK_QUOTA=yes" in res.output, res
    assert node.vzctl.stop(101).rc == 0


def test_explicit_dataset_outside_root(node):
    node.make_ct(103, dataset="vz/ct103", extra_conf='VZZFS_DATASET="vz/ct103"\n')
    # outside VZZFS_ROOT/ct a zvol is a CT's only when its property says so
    res = node.vzctl.start(103)
    assert res.rc == 79 and "zfs set org.openvz.vzzfs:ctid=103 vz/ct103" in res.output, res
    assert_detached(node, 103)
    res = node.vzzfs("check")  # the operator hears of it before starting the CT
    assert any(l.startswith("WARN") and "CT 103:" in l and "zfs set org.openvz.vzzfs:ctid=103"
               in l for l in res.stdout.splitlines()), res.stdout
    zfs.set_props("vz/ct103", {"org.openvz.vzzfs:ctid": "103"})
    assert "CT 103:" not in node.vzzfs("check").stdout
    assert any(l.split()[:3] == ["103", "stopped", "vz/ct103"]
               for l in node.vzzfs("list").stdout.splitlines())
    assert node.vzctl.start(103).rc == 0
    assert private_source(node, 103) == os.path.realpath("/dev/zvol/vz/ct103")
    assert node.vzctl.stop(103).rc == 0


def test_hostile_config_and_bad_ctid_are_refused(node):
    node.make_ct(101, extra_conf='VZZFS_DATASET="vz/vzzfs/ct/101 -o mountpoint=/"\n')
    res = node.vzctl.start(101)
    assert res.rc == 79 and "not a valid ZFS dataset name" in res.output, res
    assert_detached(node, 101)
    hook = os.path.join(node.etc, "conf", "vps.premount")
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "VEID": "../x",
           "VE_CONFFILE": node.conffile(101)}
    res = subprocess.run([hook], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True)
    assert res.returncode == 2 and "invalid CTID '../x'" in res.stdout
    res = node.vzzfs("attach", "../x")
    assert res.returncode == 2 and "invalid CTID" in res.stdout


def test_admin_scripts_are_chained(node):
    conf = os.path.join(node.etc, "conf")
    node.vzzfs("uninstall-hooks", "--confdir", conf)
    log = os.path.join(node.base, "admin.log")
    for action in ("premount", "postumount"):
        write(os.path.join(conf, "vps." + action),
              "#!/bin/sh\necho %s $VEID $(ls %s | head -1) >> %s\n"
              % (action, node.private(101), log))
        os.chmod(os.path.join(conf, "vps." + action), 0o755)
    res = node.vzzfs("install-hooks", "--confdir", conf,
                     "--hookdir", os.path.join(os.path.dirname(conf), "..", "..", "hooks"))
    assert res.returncode != 0  # that hook dir does not exist: refused, nothing changed
    assert "vzzfs-managed" not in read(os.path.join(conf, "vps.premount"))
    from conftest import REPO
    res = node.vzzfs("install-hooks", "--confdir", conf, "--hookdir", os.path.join(REPO, "hooks"))
    assert res.returncode == 0 and "chained" in res.stdout, res.stdout
    node.make_ct(101)
    assert node.vzctl.start(101).rc == 0
    assert node.vzctl.stop(101).rc == 0
    # the admin's premount ran after ours (saw the CT's files), postumount before ours
    assert read(log).split("\n")[:2] == ["premount 101 bin", "postumount 101 bin"]
    res = node.vzzfs("uninstall-hooks", "--confdir", conf)
    assert res.returncode == 0
    assert read(os.path.join(conf, "vps.premount")).startswith("#!/bin/sh\necho premount")
    assert not os.path.exists(os.path.join(conf, "vps.mount"))


def test_uninstall_hooks_refuses_while_a_ct_is_attached(node):
    """rpm -e runs uninstall-hooks: unwired, vzctl stop would leave the zvol mounted."""
    conf = os.path.join(node.etc, "conf")
    node.make_ct(101)
    assert node.vzctl.start(101).rc == 0
    res = node.vzzfs("uninstall-hooks", "--confdir", conf)
    assert res.returncode == 7 and node.private(101) in res.stdout, res.stdout
    assert "vzctl stop" in res.stdout and len(res.stdout.splitlines()) == 1
    assert "vzzfs-managed" in read(os.path.join(conf, "vps.postumount"))
    assert node.vzctl.stop(101).rc == 0
    res = node.vzzfs("uninstall-hooks", "--confdir", conf)
    assert res.returncode == 0 and "removed" in res.stdout, res.stdout


def test_list_shows_cts_and_mount_state(node):
    node.make_ct(101)
    node.make_ct(104)
    assert node.vzctl.start(101).rc == 0
    res = node.vzzfs("list")
    assert res.returncode == 0, res.stdout
    head, *body = [line.split() for line in res.stdout.splitlines()]
    lines = {cells[0]: dict(zip(head, cells)) for cells in body}
    assert lines["101"]["DATASET"] == "vz/vzzfs/ct/101" and lines["101"]["MOUNTED"] == "yes"
    assert lines["101"]["STATUS"] == "running"
    assert lines["104"]["MOUNTED"] == "no" and lines["104"]["STATUS"] == "stopped"
    assert lines["101"]["WRITTEN"] != "-"
    before = {r["ctid"]: r for r in json.loads(node.vzzfs("list", "-j").stdout)}
    assert before["101"]["volsize"] == 128 << 20
    with open(os.path.join(node.private(101), "payload"), "wb") as f:
        f.write(os.urandom(4 << 20))
        os.fsync(f.fileno())
    after = {r["ctid"]: r for r in json.loads(node.vzzfs("list", "-j").stdout)}
    # the zvol's own counters: 101 wrote the 4 MiB (plus ext4's journal), 104 nothing
    assert after["101"]["written"] - before["101"]["written"] >= 4 << 20
    assert after["104"]["written"] == before["104"]["written"]
    assert node.vzctl.stop(101).rc == 0


def test_attach_refuses_when_locked(node):
    node.make_ct(101)
    lockdir = os.path.join(node.base, "vz/lock")
    sleeper = subprocess.Popen(["sleep", "600"])
    try:
        write(os.path.join(lockdir, "101.lck"), "%d\nstarting\n" % sleeper.pid)
        res = node.vzzfs("attach", "101")
        assert res.returncode == 4 and "locked by pid %d (starting)" % sleeper.pid in res.stdout
        assert not os.path.ismount(node.private(101))
    finally:
        sleeper.kill()
        sleeper.wait()
    res = node.vzzfs("attach", "101")  # the lock's owner is gone: stale, taken over
    assert res.returncode == 0, res.stdout
    assert not os.path.exists(os.path.join(lockdir, "101.lck"))
    assert node.vzzfs("detach", "101").returncode == 0


def test_pool_mounted_over_vz_is_pointed_out(node, tmp_path):
    altroot = str(tmp_path / "alt")
    disk = os.environ["VZZFS_TEST_DISKS"].split()[1]
    sh("zpool", "create", "-f", "-R", altroot, "shadow", disk)  # mounts itself at ALT/shadow
    try:
        conf = os.path.join(node.etc, "vz.conf")
        write(conf, read(conf).replace("%s/vz/private/" % node.base, "%s/shadow/private/" % altroot))
        conf = os.path.join(node.etc, "vzzfs.conf")
        write(conf, read(conf).replace('VZZFS_ROOT="vz/vzzfs"', 'VZZFS_ROOT="shadow/vzzfs"'))
        res = node.vzzfs("install-hooks", "--hookdir", os.path.join(REPO, "hooks"))
        assert res.returncode == 0, res.stdout
        assert "pool shadow is mounted at %s/shadow" % altroot in res.stdout, res.stdout
        assert "zfs set canmount=off shadow" in res.stdout
        sh("zfs", "set", "canmount=off", "shadow")
        res = node.vzzfs("list")
        assert res.returncode == 0 and "warning" not in res.stdout, res.stdout
    finally:
        sh("zpool", "destroy", "-f", "shadow", check=False)
