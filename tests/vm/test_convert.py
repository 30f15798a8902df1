"""vzzfs convert on real ZFS: every kind of file survives, and a kill -9 at any step
leaves the old CT intact or the new one complete, with a re-run finishing the job."""
import os
import socket
import stat
import subprocess
import sys

import pytest

from conftest import REPO, sh
from vzzfs_hooks.system import zfs


def fill(private):
    """Files of every kind a CT holds."""
    root = os.path.join(private, "root")
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "data"), "wb") as f:
        f.write(os.urandom(3 << 20))
    os.link(os.path.join(root, "data"), os.path.join(root, "hardlink"))
    os.symlink("data", os.path.join(root, "symlink"))
    with open(os.path.join(root, "sparse"), "wb") as f:
        f.seek(12 << 20)
        f.write(b"end")
    os.chown(os.path.join(root, "data"), 1234, 5678)
    os.chmod(os.path.join(root, "data"), 0o4751)
    os.mknod(os.path.join(root, "null"), 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(os.path.join(root, "socket"))
    sock.close()
    sh("setfattr", "-n", "trusted.color", "-v", "blue", os.path.join(root, "data"))
    sh("setfacl", "-m", "u:4321:r", os.path.join(root, "data"))


def check(private):
    root = os.path.join(private, "root")
    data = os.path.join(root, "data")
    st = os.stat(data)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1234, 5678, 0o4751)
    assert st.st_nlink == 2 and os.stat(os.path.join(root, "hardlink")).st_ino == st.st_ino
    assert os.readlink(os.path.join(root, "symlink")) == "data"
    sparse = os.stat(os.path.join(root, "sparse"))
    assert sparse.st_size == (12 << 20) + 3 and sparse.st_blocks * 512 < (1 << 20)
    assert stat.S_ISCHR(os.stat(os.path.join(root, "null")).st_mode)
    assert stat.S_ISSOCK(os.lstat(os.path.join(root, "socket")).st_mode)
    assert "blue" in sh("getfattr", "-n", "trusted.color", data).stdout
    assert "user:4321:r--" in sh("getfacl", "-p", data).stdout


def digest(path):
    """Hashes of the files fill() made: under root/, since vzctl start itself writes
    into a CT (/fastboot, device nodes)."""
    return sh("sh", "-c", "cd '%s/root' && find . -type f ! -name socket -print0 | sort -z | "
                          "xargs -0 sha256sum" % path).stdout


def test_convert_keeps_every_kind_of_file_and_runs(node):
    node.make_simfs_ct(101)
    node.track(101, node.dataset(101))
    fill(node.private(101))
    before = digest(node.private(101))
    res = node.vzzfs("convert", "101", "--diskspace", "256M")
    assert res.returncode == 0 and "converted" in res.stdout, res.stdout
    assert int(zfs.get(node.dataset(101), "volsize")["volsize"]) == 256 << 20
    assert os.path.isdir(node.private(101) + ".vzzfs-old")
    conf = open(node.conffile(101)).read()
    assert 'DISK_QUOTA="no"' in conf
    assert node.vzctl.start(101).rc == 0
    check(node.root(101))
    assert digest(node.root(101)) == before
    assert node.vzctl.stop(101).rc == 0
    res = node.vzzfs("convert", "101")
    assert res.returncode == 2 and "already on zvol" in res.stdout
    res = node.vzzfs("convert", "101", "--purge")
    assert res.returncode == 0 and not os.path.exists(node.private(101) + ".vzzfs-old")


def test_convert_refuses_bad_cases_and_changes_nothing(node):
    node.make_simfs_ct(101)
    node.track(101, node.dataset(101))
    assert node.vzctl.start(101).rc == 0
    res = node.vzzfs("convert", "101")
    assert res.returncode == 7 and "vzctl stop 101" in res.stdout, res.stdout
    assert node.vzctl.stop(101).rc == 0
    with open(os.path.join(node.private(101), "big"), "wb") as f:
        f.write(os.urandom(100 << 20))
    res = node.vzzfs("convert", "101", "--diskspace", "128M")
    assert res.returncode == 2 and "too small" in res.stdout, res.stdout
    res = node.vzzfs("convert", "../x")
    assert res.returncode == 2 and "invalid CTID" in res.stdout
    assert not zfs.exists(node.dataset(101))
    assert os.path.getsize(os.path.join(node.private(101), "big")) == 100 << 20


@pytest.mark.parametrize("point", ["convert.copying", "convert.swapping", "convert.renamed",
                                   "convert.conf"])
def test_kill_9_at_any_step_then_rerun(node, point):
    node.make_simfs_ct(101)
    node.track(101, node.dataset(101))
    fill(node.private(101))
    before = digest(node.private(101))
    env = dict(os.environ, VZZFS_FAULT=point + ":kill")
    res = sh(sys.executable, "-m", "vzzfs_hooks", "--etc-dir", node.etc, "convert", "101",
             "--diskspace", "256M", env=env, cwd=REPO, check=False)
    assert res.returncode == -9, res.stdout
    sh("rm", "-f", os.path.join(node.base, "vz/lock/101.lck"))  # a dead holder's lock
    if point in ("convert.copying", "convert.swapping"):
        # the old CT is intact and starts as before: the hooks leave it alone
        assert node.vzctl.start(101).rc == 0
        assert digest(node.root(101)) == before
        assert not os.path.ismount(node.private(101))
        with open(os.path.join(node.root(101), "root/written-meanwhile"), "w") as f:
            f.write("the CT ran between the kill and the re-run")  # must reach the zvol
        before = digest(node.root(101))
        assert node.vzctl.stop(101).rc == 0
    res = node.vzzfs("convert", "101")
    assert res.returncode == 0, res.stdout
    assert node.vzctl.start(101).rc == 0
    assert os.path.ismount(node.private(101)), "now on the zvol"
    check(node.root(101))
    assert digest(node.root(101)) == before
    assert node.vzctl.stop(101).rc == 0


def _vps_create(node, ctid):
    """Run vps.create as vzctl create does, last, with vzctl's environment."""
    env = {"HOME": "/", "TERM": "linux", "PATH": "/bin:/sbin:/usr/bin:/usr/sbin",
           "VEID": str(ctid), "VE_CONFFILE": node.conffile(ctid)}
    return subprocess.run([os.path.join(node.etc, "conf", "vps.create")], env=env,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True)


def test_vzctl_create_lands_on_a_zvol_with_auto_create(node):
    for ctid in (101, 102):
        node.make_simfs_ct(ctid)
        node.track(ctid, node.dataset(ctid))
        with open(node.conffile(ctid), "a") as f:
            f.write('DISKSPACE="262144:262144"\n')
    res = _vps_create(node, 101)
    assert res.returncode == 0 and not zfs.exists(node.dataset(101)), res.stdout
    with open(os.path.join(node.etc, "vzzfs.conf"), "a") as f:
        f.write('VZZFS_AUTO_CREATE="yes"\n')
    res = _vps_create(node, 102)
    assert res.returncode == 0, res.stdout
    assert int(zfs.get(node.dataset(102), "volsize")["volsize"]) == 256 << 20
    assert os.listdir(node.private(102)) == []
    assert not os.path.exists(node.private(102) + ".vzzfs-old")
    assert node.vzctl.start(102).rc == 0
    assert open(os.path.join(node.root(102), "etc/hostname")).read() == "plain102\n"
    assert node.vzctl.stop(102).rc == 0
