"""A scratch vzzfs node on real ZFS inside the test VM: its /etc/vz tree, pool,
vzctl (the real one, or the stand-in) and helpers to make CTs. The VM tests'
fixtures (tests/vm/conftest.py) and the benchmarks (bench/) both build on it.
"""
import glob
import os
import shutil
import subprocess
import sys

from harness import realvzctl
from harness.vzctl import Vzctl
from vzzfs_hooks.verbs import hookwire
from vzzfs_hooks.system import ext4, mounts, zfs, zvoldev
from vzzfs_hooks.conf.config import Node
from vzzfs_hooks.system.freezer import cgroup_dir, thaw

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
POOL = "vz"
ROOT = "vz/vzzfs"


def sh(*argv, **kw):
    """Run a command for a test; raise with its output if it fails."""
    check = kw.pop("check", True)
    res = subprocess.run([str(a) for a in argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, **kw)
    if check and res.returncode:
        raise AssertionError("%s failed (%d): %s" % (" ".join(map(str, argv)), res.returncode,
                                                      res.stdout))
    return res


class TestNode(object):
    """A scratch OpenVZ node: /etc/vz, /vz/{private,root,lock} under one directory.

    ``real`` (the default): the real vzctl 4.11.1 drives it. vzctl reads /etc/vz, so
    the VM's /etc/vz is laid anew from vzctl's stock files for each test and the
    node's directories live under ``base``. Otherwise the stand-in (tests/harness/
    vzctl.py) drives a node whose /etc/vz is under ``base`` too: for a second node
    in the same VM, and for what an upstream kernel cannot do (suspend), each such
    test saying why.
    """

    __test__ = False  # a helper, not a test class

    def __init__(self, base, root=ROOT, real=True):
        self.base = base
        self.zroot = root  # VZZFS_ROOT: another pool's stands for another node
        self.real = real
        for d in ("private", "root", "lock", "template/cache", "dump"):
            os.makedirs(os.path.join(base, "vz", d))
        self.vzctl_log = os.path.join(base, "vzctl.log")  # the command lines vzzfs ran
        self.vzctl_bin = os.path.join(base, "bin", "vzctl")  # vzctl, logging them
        os.makedirs(os.path.dirname(self.vzctl_bin))
        if real:
            if not realvzctl.available():
                raise AssertionError("the real vzctl is not installed in the VM "
                                     "(scripts/build-vzctl, scripts/vm-guest)")
            self.etc = realvzctl.lay_etc(base)
            target = realvzctl.PROGRAM
            self.vzctl = realvzctl.RealVzctl(self.etc)
        else:
            self.etc = os.path.join(base, "etc/vz")
            os.makedirs(os.path.join(self.etc, "conf"))
            with open(os.path.join(self.etc, "vz.conf"), "w") as f:
                f.write("## global OpenVZ configuration (test node)\nVIRTUOZZO=yes\n"
                        "LOCKDIR=%s/vz/lock\nVE_ROOT=%s/vz/root/$VEID\n"
                        "VE_PRIVATE=%s/vz/private/$VEID\nDISK_QUOTA=yes\nTEMPLATE=%s/vz/template\n"
                        "DUMPDIR=%s/vz/dump\n" % (base, base, base, base, base))
            target = "env VZCTL_ETC_DIR='%s' %s '%s'" % (
                self.etc, sys.executable, os.path.join(REPO, "tests/harness/vzctl.py"))
            self.vzctl = Vzctl(self.etc)
        with open(self.vzctl_bin, "w") as f:
            f.write("#!/bin/sh\necho \"$*\" >> '%s'\nexec %s \"$@\"\n" % (self.vzctl_log, target))
        os.chmod(self.vzctl_bin, 0o755)
        with open(os.path.join(self.etc, "vzzfs.conf"), "w") as f:
            f.write('VZZFS_ROOT="%s"\nVZZFS_DEV_TIMEOUT=5\nVZZFS_BUSY_TIMEOUT=1\n'
                    'VZZFS_VZCTL="%s"\n' % (root, self.vzctl_bin))
            if not real:  # the stand-in suspends as vzctl does on an OpenVZ kernel
                f.write('VZZFS_SUSPEND="vzctl"\n')
        hookwire.install(os.path.join(self.etc, "conf"), os.path.join(REPO, "hooks"))
        shutil.copy(os.path.join(REPO, "etc/vz/conf/ve-vzzfs.conf-sample"),
                    os.path.join(self.etc, "conf"))
        self.node = Node(self.etc)
        self.ctids = []

    def private(self, ctid):
        return os.path.join(self.base, "vz/private", str(ctid))

    def root(self, ctid):
        return os.path.join(self.base, "vz/root", str(ctid))

    def conffile(self, ctid):
        return os.path.join(self.etc, "conf", "%s.conf" % ctid)

    def dataset(self, ctid):
        return "%s/ct/%s" % (self.zroot, ctid)

    def make_ct(self, ctid, size=128 << 20, files=None, extra_conf="", dataset=None):
        """A stopped CT on a fresh zvol with a tiny root file system in it."""
        ds = dataset or self.dataset(ctid)
        zfs.create_volume(ds, size, 16384, sparse=True, props={"compression": "lz4"})
        dev = zvoldev.find_device(ds, 10)
        ext4.mkfs(dev, size)
        tmp = os.path.join(self.base, "mkct")
        os.makedirs(tmp, exist_ok=True)
        sh("mount", dev, tmp)
        try:
            for d in ("etc", "bin", "root", "tmp"):
                os.makedirs(os.path.join(tmp, d), exist_ok=True)
            if self.real:
                realvzctl.install_busybox(tmp)
            with open(os.path.join(tmp, "etc/hostname"), "w") as f:
                f.write("ct%s\n" % ctid)
            for name, text in (files or {}).items():
                with open(os.path.join(tmp, name), "w") as f:
                    f.write(text)
        finally:
            sh("umount", tmp)
        os.makedirs(self.private(ctid))
        ext4.set_immutable(self.private(ctid), True)  # as vzzfs leaves an unmounted CT
        text = ('VE_LAYOUT="simfs"\nDISK_QUOTA="no"\nDISKSPACE="%d:%d"\n%s'
                % (size >> 10, size >> 10, extra_conf))
        if self.real:  # vzctl wants resource limits: the stock sample's, as vzctl create
            text = realvzctl.with_sample(text)  # would copy them
        with open(self.conffile(ctid), "w") as f:
            f.write(text)
        self.ctids.append((ctid, ds))
        return ds

    def make_tarball(self, name, extra_mb=0, compress="-z", ext=".tar.gz"):
        """An OS template tarball in the node's template cache (optionally with bulk data)."""
        tree = os.path.join(self.base, "tree-" + name)
        for d in ("etc", "bin", "root", "var/log", "dev"):
            os.makedirs(os.path.join(tree, d), exist_ok=True)
        if self.real:  # a CT made from it can boot
            realvzctl.install_busybox(tree)
        with open(os.path.join(tree, "etc/os-release"), "w") as f:
            f.write("NAME=%s\n" % name)
        with open(os.path.join(tree, "bin/tool"), "w") as f:
            f.write("#!/bin/sh\n")
        os.chmod(os.path.join(tree, "bin/tool"), 0o4755)
        os.link(os.path.join(tree, "bin/tool"), os.path.join(tree, "bin/tool-link"))
        os.symlink("tool", os.path.join(tree, "bin/tool-sym"))
        os.chown(os.path.join(tree, "var/log"), 104, 4)
        sh("mknod", os.path.join(tree, "dev/null"), "c", "1", "3")
        if extra_mb:
            with open(os.path.join(tree, "var/bulk"), "wb") as f:
                f.write(os.urandom(extra_mb << 20))
        path = os.path.join(self.base, "vz/template/cache", name + ext)
        sh("tar", "--numeric-owner", compress, "-cf", path, "-C", tree, ".")
        shutil.rmtree(tree)
        return path

    def make_simfs_ct(self, ctid):
        """An ordinary (non-vzzfs) CT with a private directory."""
        os.makedirs(os.path.join(self.private(ctid), "etc"))
        with open(os.path.join(self.private(ctid), "etc/hostname"), "w") as f:
            f.write("plain%s\n" % ctid)
        text = 'VE_LAYOUT="simfs"\nDISK_QUOTA="no"\n'
        if self.real:
            realvzctl.install_busybox(self.private(ctid))
            text = realvzctl.with_sample(text)
        with open(self.conffile(ctid), "w") as f:
            f.write(text)
        self.ctids.append((ctid, None))

    def vzzfs(self, *args):
        # the command an operator runs (its -S start included), from this tree
        return sh(os.path.join(REPO, "bin", "vzzfs"), "--etc-dir", self.etc, *args,
                  check=False, cwd=REPO)

    def wrap_vzctl(self, path, script):
        """Point VZZFS_VZCTL at a shell ``script`` written to ``path``; "$VZCTL" in it
        is the harness (to pass the calls it does not fake on)."""
        with open(path, "w") as f:
            f.write("#!/bin/sh\nVZCTL='%s'\n%s" % (self.vzctl_bin, script))
        os.chmod(path, 0o755)
        conf = os.path.join(self.etc, "vzzfs.conf")
        with open(conf) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write(text.replace('VZZFS_VZCTL="%s"' % self.vzctl_bin, 'VZZFS_VZCTL="%s"' % path))

    def vzctl_cli(self, *args):
        """The harness run as the vzctl program, so hooks see vzctl's command line."""
        return sh(self.vzctl_bin, *[str(a) for a in args], check=False)

    def dumpfile(self, ctid):
        return os.path.join(self.base, "vz/dump", "Dump.%s" % ctid)

    def track(self, ctid, ds=None):
        """Clean up a CT made by the code under test."""
        self.ctids.append((ctid, ds or self.dataset(ctid)))

    def cleanup(self):
        for ctid, ds in self.ctids:
            has_conf = os.path.exists(self.conffile(ctid))  # gone if the test destroyed it
            if has_conf and self.real:
                frozen = cgroup_dir(ctid)
                if frozen:  # a failed test may leave it frozen: vzctl stop would hang
                    thaw(frozen)
                if self.vzctl.is_running(ctid):
                    self.vzctl.run("stop", ctid, "--fast")
                if self.vzctl.is_mounted(ctid):
                    self.vzctl.umount(ctid)
            elif has_conf and (self.vzctl.is_running(ctid) or self.vzctl.is_mounted(ctid)):
                self.vzctl.stop(ctid)
            for path in (self.root(ctid), self.private(ctid)):
                while os.path.ismount(path):
                    sh("umount", path, check=False)
                    if os.path.ismount(path):
                        sh("umount", "-l", path, check=False)
                if os.path.isdir(path):
                    ext4.set_immutable(path, False)
            if ds and zfs.exists(ds):
                unmount_everywhere(ds)  # e.g. a staging mount of a killed convert
                sh("zfs", "destroy", "-R", ds, check=False)
        if zfs.exists(self.zroot + "/tmpl"):
            sh("zfs", "destroy", "-R", self.zroot + "/tmpl", check=False)
        shutil.rmtree(self.base, ignore_errors=True)


def unmount_everywhere(ds):
    """Unmount every mount of zvol ``ds`` (and its snapshots' devices) in this namespace,
    so that a test that failed half-way does not leave the next one a busy dataset."""
    devs = set()
    for link in glob.glob("/dev/zvol/%s" % ds) + glob.glob("/dev/zvol/%s@*" % ds):
        devs.add(os.path.realpath(link))
    for m in reversed(mounts.table()):
        if os.path.realpath(m.source) in devs or m.source in devs:
            sh("umount", "-l", m.mountpoint, check=False)
