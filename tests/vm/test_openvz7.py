"""vzzfs CTs under OpenVZ 7's real vzctl (vzctl 7.0.254, libvzctl 7.0.737; built by
scripts/build-vzctl7, run in tests/harness/vz7ns) on real zvols: the layout of
README's "OpenVZ 7 nodes" made by create, mounted and unmounted by vzctl 7 through
the hooks, and what a CT's ext4 or vzctl's environment could plant refused.

What the vz7 kernel alone can do (a start past its cgroups) is not reached here:
on the test VM's upstream kernel vzctl 7 runs the whole mount side of a start and
then fails on cgroups only that kernel has (tests/vm/test_vzctl7.py shows it);
the mount and umount chains, status, create, destroy and the locks are the real
vzctl 7's.
"""
import os

import pytest

from conftest import REPO, sh
from harness import realvzctl7
from vzzfs_hooks.base import names
from vzzfs_hooks.system import ext4, mounts, zfs

VZZFS = os.path.join(REPO, "bin", "vzzfs")
UUID = "3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"


class Node7(object):
    """A vzctl 7 node with vzzfs's hooks installed (in its namespace, as an admin would)
    and the vzzfs command pointed at it: VZZFS_PLATFORM=openvz7, VZZFS_VZCTL the node's
    vzctl 7 (through vz7ns)."""

    def __init__(self, base, root):
        self.v = realvzctl7.RealVzctl7(base)
        self.etc = self.v.etc
        self.zroot = root
        wrapper = os.path.join(base, "vzctl7")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec '%s' --node '%s' -- /usr/sbin/vzctl \"$@\"\n"
                    % (realvzctl7.VZ7NS, self.v.base))
        os.chmod(wrapper, 0o755)
        with open(os.path.join(self.etc, "vzzfs.conf"), "w") as f:
            f.write('VZZFS_ROOT="%s"\nVZZFS_PLATFORM="openvz7"\nVZZFS_VZCTL="%s"\n'
                    'VZZFS_DEV_TIMEOUT=5\nVZZFS_BUSY_TIMEOUT=1\n' % (root, wrapper))
        res = self.v.in_node([VZZFS, "install-hooks", "--confdir", "/etc/vz/conf"])
        assert res.rc == 0, res
        sh("cp", os.path.join(REPO, "etc/vz/conf/ve-vzzfs.conf-sample"),
           os.path.join(self.etc, "conf"))
        self.ctids = []

    def vzzfs(self, *args):
        return sh(VZZFS, "--etc-dir", self.etc, *args, check=False, cwd=REPO)

    def platform(self, name):
        """What the vzzfs command takes this node's vzctl for (VZZFS_PLATFORM): a node
        of vzctl 4.x before the move to OpenVZ 7, say."""
        path = os.path.join(self.etc, "vzzfs.conf")
        with open(path) as f:
            lines = [l for l in f.read().splitlines() if not l.startswith("VZZFS_PLATFORM=")]
        with open(path, "w") as f:
            f.write("\n".join(lines + ['VZZFS_PLATFORM="%s"' % name]) + "\n")

    def private(self, ctid):
        return self.v.private(ctid)

    def disk(self, ctid):
        return os.path.join(self.private(ctid), "disk")

    def dataset(self, ctid):
        return "%s/ct/%s" % (self.zroot, ctid)

    def tarball(self, name, files):
        tree = os.path.join(self.v.base, "tree-" + name)
        for path, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(tree, path)), exist_ok=True)
            with open(os.path.join(tree, path), "w") as f:
                f.write(text)
        sh("tar", "--numeric-owner", "-czf",
           os.path.join(self.v.base, "vz/template/cache", name + ".tar.gz"), "-C", tree, ".")

    def create(self, ctid, template="tiny", size="128M"):
        self.ctids.append(ctid)
        res = self.vzzfs("create", ctid, "--ostemplate", template, "--diskspace", size,
                         "--config", "vzzfs")
        assert res.returncode == 0, res.stdout
        return res

    def cleanup(self):
        for ctid in self.ctids:
            if self.v.is_mounted(ctid):
                self.v.umount(ctid)
            if zfs.exists(self.dataset(ctid)) or os.path.lexists(self.v.conffile(ctid)):
                self.vzzfs("destroy", ctid)
        self.v.cleanup()


@pytest.fixture
def node7(pool, tmp_path):
    assert realvzctl7.available(), "vzctl 7 is not built (scripts/build-vzctl7, scripts/vm-setup)"
    n = Node7(str(tmp_path / "node7"), pool + "/vzzfs")
    n.tarball("tiny", {"etc/hostname": "tiny\n", "root/note": "the CT's own /root\n",
                       "etc/os-release": "NAME=tiny\n"})
    yield n
    n.cleanup()


def assert_laid_out(node, ctid):
    """VE_PRIVATE as README's OpenVZ 7 nodes draws it, the zvol not mounted."""
    p = node.private(ctid)
    assert os.readlink(os.path.join(p, ".ve.layout")) == "4"
    assert os.readlink(os.path.join(p, "fs")) == "disk/fs"
    for d in ("scripts", "dump", "disk"):
        assert os.path.isdir(os.path.join(p, d)) and not os.path.islink(os.path.join(p, d))
    assert not ext4.is_immutable(p)  # vzctl 7 locks VE_PRIVATE/.lck
    assert ext4.is_guarded(node.disk(ctid))
    assert not os.path.ismount(p)


def test_a_vzzfs_ct_mounts_and_unmounts_under_the_real_vzctl_7(node7):
    """create lays the CT out for vzctl 7 (the conf in VE_PRIVATE/ve.conf, linked);
    vzctl 7's mount runs premount, which attaches the zvol on VE_PRIVATE/disk, and
    vzctl 7 binds fs -> disk/fs on VE_ROOT and sees it mounted; umount detaches it.
    Twice, as vzctl 7 answers a second mount or umount by itself."""
    node7.create("101")
    assert_laid_out(node7, "101")
    conf = node7.v.conffile("101")
    assert os.readlink(conf) == os.path.join(node7.private("101"), "ve.conf")
    assert zfs.get(node7.dataset("101"), names.PROP_LAYOUT)[names.PROP_LAYOUT] == "vz7"
    for _ in range(2):
        res = node7.v.mount("101")
        assert res.rc == 0 and "Container is mounted" in res.output, res
        m = mounts.mount_at(node7.disk("101"))
        assert m is not None and m.source.startswith("/dev/zd"), m
        with open(os.path.join(node7.v.root("101"), "etc/hostname")) as f:
            assert f.read() == "tiny\n"
        assert "mounted" in node7.v.status("101").output.split()
        again = node7.v.mount("101")  # vzctl 7 sees it mounted: no script, rc 0
        assert again.rc == 0 and "already mounted" in again.output, again
        res = node7.v.umount("101")
        assert res.rc == 0 and "Container is unmounted" in res.output, res
        assert node7.v.umount("101").rc == 40  # "not mounted"
        assert mounts.mount_at(node7.disk("101")) is None
        assert_laid_out(node7, "101")
    res = node7.vzzfs("list", "-o", "ctid,status,mounted")
    assert res.returncode == 0 and "101" in res.stdout, res.stdout


def test_nothing_the_cts_ext4_holds_is_run_or_bound_by_vzctl_7(node7, tmp_path):
    """The ext4's top and its fs/ get a .ve.layout of another layout, scripts/ with a
    premount and an fs symlink to /: vzctl 7 reads and runs only VE_PRIVATE's, the
    host's. Then fs/ itself is replaced by a symlink to /: premount refuses (exit 79
    from vzctl), unmounts, and VE_ROOT never shows the host's root."""
    node7.create("101")
    marker = str(tmp_path / "planted-ran")
    planted = "#!/bin/sh\ntouch %s\n" % marker
    top = str(tmp_path / "top")
    os.makedirs(top)
    dev = "/dev/zvol/" + node7.dataset("101")
    sh("mount", dev, top)
    try:
        for base in (top, os.path.join(top, "fs")):
            os.symlink("0", os.path.join(base, ".ve.layout"))
            os.makedirs(os.path.join(base, "scripts"))
            for action in ("premount", "mount", "umount", "postumount"):
                path = os.path.join(base, "scripts", action)
                with open(path, "w") as f:
                    f.write(planted)
                os.chmod(path, 0o755)
        os.symlink("/", os.path.join(top, "fs", "fs"))
    finally:
        sh("umount", top)
    res = node7.v.mount("101")
    assert res.rc == 0, res
    assert not os.path.exists(os.path.join(node7.v.root("101"), "proc", "self"))  # not /
    assert node7.v.umount("101").rc == 0
    assert not os.path.exists(marker), "a script from the CT's ext4 ran on the host"

    sh("mount", dev, top)
    try:
        os.rename(os.path.join(top, "fs"), os.path.join(top, "fs.real"))
        os.symlink("/", os.path.join(top, "fs"))
    finally:
        sh("umount", top)
    res = node7.v.mount("101")
    assert res.rc != 0 and "not a directory of its own" in res.output, res
    assert not node7.v.is_mounted("101")
    assert mounts.mount_at(node7.disk("101")) is None and ext4.is_guarded(node7.disk("101"))
    assert not os.path.exists(marker)


def test_a_zfs_planted_in_vzctls_working_directory_never_runs(node7, tmp_path):
    """vzctl 7 runs the hooks with a PATH ending in '.', its working directory: a `zfs`,
    `mount` or `e2fsck` lying there is never what vzzfs runs, and what the hooks run
    (an admin's chained script here, recording it) gets a PATH without it."""
    node7.create("101")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    marker = tmp_path / "planted-ran"
    seen = tmp_path / "chained-path"
    chained = os.path.join(node7.etc, "conf", "vps.premount.vzzfs-chained")
    with open(chained, "w") as f:
        f.write('#!/bin/sh\necho "$PATH" > %s\n' % seen)
    os.chmod(chained, 0o755)
    for prog in ("zfs", "zpool", "mount", "umount", "e2fsck", "chattr", "blkid"):
        (cwd / prog).write_text("#!/bin/sh\ntouch %s\nexit 1\n" % marker)
        (cwd / prog).chmod(0o755)
    for verb in ("mount", "umount"):
        res = node7.v.in_node(["sh", "-c", "cd %s && exec /usr/sbin/vzctl %s 101" % (cwd, verb)])
        assert res.rc == 0, res
    assert not marker.exists(), "a program from vzctl's working directory ran"
    assert seen.read_text().strip() == "/usr/local/sbin:/usr/local/bin:/bin:/sbin:/usr/bin:/usr/sbin"


def test_a_uuid_ct_cloned_from_a_template_imported_for_vzctl_4(node7):
    """A template imported as on a vzctl 4.x node (its files at the ext4's top): a CT
    cloned from it, with a UUID as CTID as vzctl 7 names CTs, gets its files moved
    into fs/ by renames once, and mounts under vzctl 7."""
    res = node7.vzzfs("template", "import", "tiny")
    assert res.returncode == 0, res.stdout
    node7.ctids.append(UUID)
    res = node7.vzzfs("create", UUID, "--ostemplate", "tiny", "--diskspace", "256M",
                       "--config", "vzzfs")
    assert res.returncode == 0 and "clone" in res.stdout, res.stdout
    assert_laid_out(node7, UUID)
    assert zfs.get(node7.dataset(UUID), "origin")["origin"].endswith("@golden")
    res = node7.v.mount(UUID)
    assert res.rc == 0, res
    with open(os.path.join(node7.v.root(UUID), "root/note")) as f:
        assert f.read() == "the CT's own /root\n"
    assert node7.v.umount(UUID).rc == 0
    node7.vzzfs("destroy", UUID)
    node7.vzzfs("template", "remove", "tiny")


def test_a_vzctl_4_ct_is_refused_then_relaid_out_both_ways(node7):
    """A CT laid out for vzctl 4.x (a node that moved to OpenVZ 7): vzctl 7 cannot
    even lock its guarded VE_PRIVATE; `vzzfs relayout` moves its files into fs/ and
    its conf into ve.conf, and vzctl 7 mounts it; relayout on a vzctl 4.x node moves
    them back, byte for byte."""
    node7.platform("vzctl4")
    node7.create("101")
    assert ext4.is_guarded(node7.private("101"))  # vzctl 4.x's mount point
    assert not os.path.islink(node7.v.conffile("101"))
    node7.platform("openvz7")
    res = node7.v.mount("101")
    assert res.rc != 0 and not node7.v.is_mounted("101"), res
    res = node7.vzzfs("attach", "101")
    assert res.returncode != 0 and "vzzfs relayout 101" in res.stdout, res.stdout
    res = node7.vzzfs("relayout", "101")
    assert res.returncode == 0 and "into the ext4's fs/" in res.stdout, res.stdout
    assert_laid_out(node7, "101")
    assert os.path.islink(node7.v.conffile("101"))
    assert node7.vzzfs("relayout", "101").stdout.strip().endswith("already laid out for this node")
    res = node7.v.mount("101")
    assert res.rc == 0, res
    with open(os.path.join(node7.v.root("101"), "etc/hostname")) as f:
        assert f.read() == "tiny\n"
    assert node7.v.umount("101").rc == 0

    node7.platform("vzctl4")
    res = node7.vzzfs("relayout", "101")
    assert res.returncode == 0 and "out of the ext4's fs/" in res.stdout, res.stdout
    assert ext4.is_guarded(node7.private("101"))
    assert not os.path.islink(node7.v.conffile("101"))
    res = node7.vzzfs("attach", "101")
    assert res.returncode == 0, res.stdout
    with open(os.path.join(node7.private("101"), "root/note")) as f:
        assert f.read() == "the CT's own /root\n"
    assert node7.vzzfs("detach", "101").returncode == 0
    node7.platform("openvz7")


def test_a_backup_from_a_vzctl_4_layout_restores_laid_out_for_vzctl_7(node7, tmp_path):
    """A backup says which layout its stream holds; restored on an OpenVZ 7 node it is
    laid out on arrival (renames) and mounts under vzctl 7. destroy then removes the
    zvol and VE_PRIVATE's skeleton, and vzctl 7 forgets the CT."""
    node7.platform("vzctl4")
    node7.create("101")
    backup = str(tmp_path / "101.vzb")
    res = node7.vzzfs("backup", "101", "--to", backup)
    assert res.returncode == 0, res.stdout
    node7.platform("openvz7")
    node7.ctids.append("102")
    res = node7.vzzfs("restore", backup, "--ctid", "102")
    assert res.returncode == 0, res.stdout
    assert_laid_out(node7, "102")
    res = node7.v.mount("102")
    assert res.rc == 0, res
    with open(os.path.join(node7.v.root("102"), "root/note")) as f:
        assert f.read() == "the CT's own /root\n"
    assert node7.v.umount("102").rc == 0
    res = node7.vzzfs("destroy", "102")
    assert res.returncode == 0, res.stdout
    assert not zfs.exists(node7.dataset("102"))
    assert not os.path.lexists(node7.v.conffile("102"))
    assert not os.path.exists(node7.private("102"))
    assert "deleted" in node7.v.status("102").output.split(), node7.v.status("102")


def test_other_cts_are_left_alone_under_vzctl_7(node7):
    """A plain layout-4 CT beside vzzfs's: its files on the host, its own scripts run,
    vzzfs's hooks pass it by (no zfs asked)."""
    private = node7.v.make_simfs_ct("103", files={"etc/marker": "plain\n"})
    res = node7.v.mount("103")
    assert res.rc == 0, res
    with open(os.path.join(node7.v.root("103"), "etc/marker")) as f:
        assert f.read() == "plain\n"
    assert not os.path.ismount(private) and not os.path.lexists(os.path.join(private, "disk"))
    assert node7.v.umount("103").rc == 0
