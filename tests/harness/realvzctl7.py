"""OpenVZ 7's real vzctl (scripts/build-vzctl7: vzctl 7.0.254, libvzctl 7.0.737, libploop
7.0.280) driven by the VM tests, as harness.realvzctl drives vzctl 4.11.1.

RealVzctl7 has RealVzctl's shape (run, status, is_running, is_mounted, mount, umount,
start, stop, restart, set, destroy, conffile, params, private, root), each running the
real vzctl 7 program, so a test can be parametrized over both. vzctl 4.11.1 is the
VM's vzctl (/usr/sbin/vzctl, /etc/vz); vzctl 7 hard-codes the same paths, so each
command runs through tests/harness/vz7ns, in a private mount namespace where a node
directory of the test's own is /etc/vz and vzctl 7's staged install lies over
/usr/sbin, /usr/lib/<multiarch> and /usr/libexec (vz7ns says why each piece).

What only the vz7 kernel has is stood in for, and only that (vz7ns,
vz7_ve_cgroup.c): the `ve` cgroup from which libvzctl reads whether a CT runs.
Its CTID/ve.state files live in the node's ve/ directory; ``set_ve_state`` writes
one (no file, or STOPPED: stopped; anything else: running). A real `vzctl start`
needs the vz7 kernel: on this one it runs the mount side, then fails (the tests
assert how).

A layout-4 ("simfs") CT, as libvzctl makes one (lib/fs_vzfs.c
vzctl2_create_env_private, lib/vz.c vzctl2_env_register): VE_PRIVATE/.ve.layout a
symlink to "4", VE_PRIVATE/fs the CT's root (bind-mounted on VE_ROOT), scripts/ (the
CT's own action scripts), dump/, ve.conf, and /etc/vz/conf/CTID.conf a symlink to
it; vzctl locks the CT with VE_PRIVATE/.lck (flock, waiting up to 60 s) and then
LOCKDIR/CTID.lck (vzctl 4.x's pid file). A CTID may be a number or a UUID.
"""

import os
import shutil
import subprocess

from harness import realvzctl
from harness.vzctl import Result
from vzzfs_hooks.conf import config
from vzzfs_hooks.system import mounts

HERE = os.path.dirname(os.path.abspath(__file__))
VZ7NS = os.path.join(HERE, "vz7ns")
BUILD = os.environ.get("VZZFS_VZCTL7_DIR", "/opt/vzzfs-test/vzctl7")  # scripts/build-vzctl7
STAGE = os.path.join(BUILD, "root")  # its install tree, on its compiled-in paths
STOCK_ETC = os.path.join(STAGE, "etc/vz")  # what vzctl 7's make install puts in /etc/vz
STANDIN = os.path.join(BUILD, "lib/vz7-ve-cgroup.so")
PROGRAM = "/usr/sbin/vzctl"  # where vz7ns's namespace has vzctl 7
LAYOUT_SIMFS = 4
VE_LAYOUT_LINK = ".ve.layout"
VE_CONF = "ve.conf"  # VE_PRIVATE/ve.conf, linked from /etc/vz/conf/CTID.conf
SAMPLE = "basic"  # vz.conf's CONFIGFILE: what `vzctl create` copies by default


def available():
    return os.access(os.path.join(STAGE, "usr/sbin/vzctl"), os.X_OK) and os.path.isfile(STANDIN)


def version():
    """What vzctl 7 says it is, and the libraries it was built with, e.g.
    'vzctl v.7.0.254 (libvzctl 7.0.737, ploop 7.0.280)'."""
    libdirs = [os.path.join(STAGE, "usr/lib", d) for d in os.listdir(os.path.join(STAGE, "usr/lib"))
               if d.endswith("-linux-gnu")]
    env = dict(os.environ, LD_LIBRARY_PATH=":".join(libdirs))
    res = subprocess.run([os.path.join(STAGE, "usr/sbin/vzctl"), "--version"], env=env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, universal_newlines=True)
    try:
        with open(os.path.join(BUILD, "versions")) as f:
            libs = f.read().strip()
    except OSError:
        libs = "?"
    return "%s (%s)" % (res.stdout.strip(), libs)


def node_vz_conf(stock, base):
    """vzctl 7's stock vz.conf with the node's directories under ``base``, as
    realvzctl.node_vz_conf lays vzctl 4's. VEFSTYPE=simfs: `vzctl create` then makes
    layout-4 CTs (vzctl 7's command line takes no --layout but ploop). LOGFILE:
    vzctl 7 logs every command there, which a failing test's reader wants to see."""
    return realvzctl.node_vz_conf(stock, base, {
        "ACTIONLOGDIR": base + "/vz/actionlog", "LOGFILE": base + "/vzctl.log",
        "VEFSTYPE": '"simfs"'})


def lay_node(base):
    """A vzctl 7 node under ``base``, as vz7ns wants it: etc/vz (vzctl 7's stock files),
    var/vz (its conf locks), ve/ (the ve cgroup stand-in), vz/ (private, root, lock,
    dump, template). Returns the node's etc/vz."""
    etc = os.path.join(base, "etc/vz")
    shutil.copytree(STOCK_ETC, etc, symlinks=True)
    with open(os.path.join(etc, "vz.conf")) as f:
        stock = f.read()
    with open(os.path.join(etc, "vz.conf"), "w") as f:
        f.write(node_vz_conf(stock, base))
    for d in ("var/vz", "ve", "vz/private", "vz/root", "vz/lock", "vz/dump", "vz/template/cache"):
        os.makedirs(os.path.join(base, d), exist_ok=True)
    return etc


class RealVzctl7(realvzctl.RealVzctl):
    """vzctl 7 for the node under ``base`` (lay_node's), run as a program in vz7ns.
    Where things are, status and the verbs vzctl 7 spells as vzctl 4.11.1 does come
    from RealVzctl; each runs vzctl 7 here (``run``)."""

    real = True
    flavour = "vz7"

    def __init__(self, base):
        self.base = os.path.abspath(base)
        self.etc = os.path.join(self.base, "etc/vz")
        if not os.path.isdir(self.etc):
            lay_node(self.base)
        self.node = config.Node(self.etc)

    def in_node(self, argv, timeout=240):
        """Any command in the node's namespace, where vzctl is vzctl 7; a Result."""
        res = subprocess.run([VZ7NS, "--node", self.base, "--"] + [str(a) for a in argv],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, universal_newlines=True, timeout=timeout)
        return Result(res.returncode, res.stdout)

    def run(self, *args, **kw):
        """vzctl ARGS; a Result with its exit code and output (stdout + stderr)."""
        return self.in_node([PROGRAM] + list(args), timeout=kw.get("timeout", 240))

    def scripts_dir(self, ctid):
        """Where vzctl 7 finds a layout-4 CT's own action scripts."""
        return os.path.join(self.private(ctid), "scripts")

    def set_ve_state(self, ctid, state):
        """What the ve cgroup stand-in says of CT ``ctid``: e.g. "RUNNING", "STOPPED", or
        None (no ve.state: stopped too)."""
        path = os.path.join(self.base, "ve", str(ctid), "ve.state")
        if state is None:
            if os.path.exists(path):
                os.unlink(path)
            return
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(state + "\n")

    # ---- verbs ----
    def start(self, ctid):
        """vzctl start: on this kernel it fails past the mount side (no CT init to
        wait for, as RealVzctl.start does)."""
        return self.run("start", ctid)

    def restart(self, ctid):
        return self.run("restart", ctid)

    def register(self, private, ctid):
        """vzctl register VE_PRIVATE CTID: ve.conf gets VEID and UUID, VE_PRIVATE/.owner
        this host, /etc/vz/conf/CTID.conf the link to ve.conf."""
        return self.run("register", private, ctid)

    def unregister(self, ctid):
        return self.run("unregister", ctid)

    def create(self, ctid, tarball, *args):
        """The real `vzctl create CTID --ostemplate TARBALL` (an absolute path: libvzctl
        unpacks it into the new VE_PRIVATE as it is, no vzpkg asked), layout 4 by
        vz.conf's VEFSTYPE. libvzctl mounts the new CT (premount, mount scripts),
        runs the distribution's postcreate, unmounts it (umount, postumount), then
        registers it. OSTEMPLATE is left in ve.conf, which makes start ask vzpkg."""
        return self.run("create", ctid, "--ostemplate", tarball, *args)

    def make_simfs_ct(self, ctid, files=None, conf_extra=""):
        """A stopped layout-4 CT laid out as vzctl create would (without the template
        cache a real create needs), registered by the real `vzctl register`. ``files``:
        {path in the CT: text}. No OSTEMPLATE: start would ask vzpkg for it."""
        private = config.expand_veid("VE_PRIVATE", self.node.global_params()["VE_PRIVATE"],
                                     str(ctid))
        for d in ("fs/etc", "fs/root", "fs/tmp", "scripts", "dump"):
            os.makedirs(os.path.join(private, d))
        os.symlink(str(LAYOUT_SIMFS), os.path.join(private, VE_LAYOUT_LINK))
        with open(os.path.join(private, "fs/etc/hostname"), "w") as f:
            f.write("ct7-%s\n" % ctid)
        for name, text in (files or {}).items():
            with open(os.path.join(private, "fs", name), "w") as f:
                f.write(text)
        with open(os.path.join(self.etc, "conf", "ve-%s.conf-sample" % SAMPLE)) as f:
            sample = f.read()
        with open(os.path.join(private, VE_CONF), "w") as f:
            f.write(sample + 'ORIGIN_SAMPLE="%s"\n%s' % (SAMPLE, conf_extra))
        res = self.register(private, ctid)
        if res.rc != 0:
            raise AssertionError("vzctl register %s %s failed: %r" % (private, ctid, res))
        return private

    def cleanup(self):
        """Leave nothing mounted: every CT stopped by the stand-in and unmounted (by vzctl
        7, then by hand), then vz7ns's shared bind of the node's vz/ released."""
        for ctid in os.listdir(os.path.join(self.base, "ve")):
            self.set_ve_state(ctid, None)
        for entry in sorted(os.listdir(self.node.conf_dir)):
            if entry.endswith(".conf") and not entry.startswith("ve-"):
                ctid = entry[:-len(".conf")]
                if self.is_mounted(ctid):
                    self.umount(ctid)
        below = os.path.join(self.base, "vz") + "/"
        for m in reversed(mounts.table()):
            if m.mountpoint.startswith(below):
                subprocess.run(["umount", "-l", m.mountpoint], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        subprocess.run([VZ7NS, "--release", self.base], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
