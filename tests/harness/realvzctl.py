"""The real vzctl 4.11.1 (scripts/build-vzctl) driven by the VM tests, the demo and bench.

It has the stand-in's methods (harness.vzctl.Vzctl), each running the real
program, so a test reads the same whichever vzctl it drives. vzctl reads the
node's configuration from /etc/vz, so one VM is one node for it; scripts/vm-guest
lays that /etc/vz out and links vzctl into /usr/sbin.
"""

import os
import shlex
import shutil
import subprocess
import time

from harness.vzctl import Result
from vzzfs_hooks.conf import config
from vzzfs_hooks.system import mounts
from vzzfs_hooks.system.freezer import cgroup_dir, state

PROGRAM = "/usr/sbin/vzctl"
ETC = "/etc/vz"
STOCK_ETC = os.path.join(os.environ.get("VZZFS_VZCTL_DIR", "/opt/vzzfs-test/vzctl"),
                         "guest-etc/vz")  # what vzctl's make install put in /etc/vz
BUSYBOX = "/bin/busybox"  # Debian's busybox-static: a CT's init and shell
# a shell's tools, enough for vzctl's dist scripts (hostname, hosts, network) to run
BUSYBOX_APPLETS = ("sh", "init", "halt", "poweroff", "reboot", "sleep", "echo", "cat", "ls",
                   "mv", "rm", "touch", "true", "false", "mount", "umount", "sync", "dd", "id",
                   "ps", "cp", "grep", "sed", "awk", "mkdir", "rmdir", "chmod", "chown", "ln",
                   "hostname", "cut", "tr", "head", "tail", "wc", "uname", "test", "[", "expr",
                   "basename", "dirname", "find", "xargs", "sort", "df")


def node_vz_conf(stock, base, extra=None):
    """vzctl's stock vz.conf with the node's directories under ``base`` (and the
    settings ``extra``, a dict).

    vzctl reads the first of duplicate keys, so the lines are replaced in place.
    LOCAL_UID/GID=0: no user namespace (the stock 100000 needs a shifted CT tree).
    """
    paths = {"LOCKDIR": base + "/vz/lock", "DUMPDIR": base + "/vz/dump",
             "TEMPLATE": base + "/vz/template", "VE_ROOT": base + "/vz/root/$VEID",
             "VE_PRIVATE": base + "/vz/private/$VEID", "LOCAL_UID": "0", "LOCAL_GID": "0"}
    paths.update(extra or {})
    out = []
    for line in stock.splitlines():
        key = line.split("=", 1)[0]
        if key in paths:
            line = "%s=%s" % (key, paths.pop(key))
        out.append(line)
    out += ["%s=%s" % kv for kv in paths.items()]
    return "\n".join(out) + "\n"


def lay_etc(base):
    """/etc/vz anew from vzctl's stock files, the node's directories under ``base``."""
    shutil.rmtree(ETC, ignore_errors=True)
    shutil.copytree(STOCK_ETC, ETC, symlinks=True)
    with open(os.path.join(ETC, "vz.conf")) as f:
        stock = f.read()
    with open(os.path.join(ETC, "vz.conf"), "w") as f:
        f.write(node_vz_conf(stock, base))
    return ETC


def with_sample(text, sample="vswap-256m"):
    """A CT conf: ``text``, then the stock sample's lines for the keys it lacks, its
    disk limits left out (its 2.2G would not fit the test pools; tests size disks)."""
    have = {line.split("=", 1)[0] for line in text.splitlines() if "=" in line}
    have.update(("DISKSPACE", "DISKINODES"))
    with open(os.path.join(ETC, "conf", "ve-%s.conf-sample" % sample)) as f:
        extra = [line for line in f.read().splitlines()
                 if "=" in line and not line.startswith("#") and line.split("=", 1)[0] not in have]
    return text + "".join(line + "\n" for line in extra)


def install_busybox(tree):
    """Make ``tree`` a CT root the real vzctl can start: busybox as init and shell,
    an inittab with nothing to run (halt from vzctl stop ends it)."""
    for d in ("bin", "sbin", "etc", "dev", "proc", "sys", "run", "tmp", "var", "root"):
        os.makedirs(os.path.join(tree, d), exist_ok=True)
    shutil.copy(BUSYBOX, os.path.join(tree, "bin/busybox"))
    for applet in BUSYBOX_APPLETS:
        link = os.path.join(tree, "sbin" if applet in ("init", "halt", "poweroff", "reboot")
                            else "bin", applet)
        if not os.path.lexists(link):
            os.symlink("/bin/busybox", link)
    with open(os.path.join(tree, "etc/inittab"), "w") as f:
        f.write("::sysinit:/bin/true\n::shutdown:/bin/sync\n")


def available():
    return os.access(PROGRAM, os.X_OK)


def version():
    """What `vzctl --version` prints, e.g. 'vzctl version 4.11.1-3-ga3f732ef'."""
    res = subprocess.run([PROGRAM, "--version"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, universal_newlines=True)
    return res.stdout.strip()


class RealVzctl(object):
    """vzctl for the VM's node (/etc/vz), run as a program."""

    real = True

    def __init__(self, etc_dir=ETC):
        self.node = config.Node(etc_dir)

    def run(self, *args, **kw):
        """vzctl ARGS; a Result with its exit code and output (stdout + stderr)."""
        res = subprocess.run([PROGRAM] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True, timeout=kw.get("timeout", 240))
        return Result(res.returncode, res.stdout)

    # ---- where things are ----
    def conffile(self, ctid):
        return os.path.join(self.node.conf_dir, "%s.conf" % ctid)

    def params(self, ctid):
        return config.merge(self.node.global_params(),
                            config.parse_file(self.conffile(ctid), missing_ok=True))

    def private(self, ctid):
        return config.expand_veid("VE_PRIVATE", self.params(ctid)["VE_PRIVATE"], str(ctid))

    def root(self, ctid):
        return config.expand_veid("VE_ROOT", self.params(ctid)["VE_ROOT"], str(ctid))

    def dumpfile(self, ctid):
        return os.path.join(self.params(ctid).get("DUMPDIR", "/vz/dump"), "Dump.%s" % ctid)

    # ---- state ----
    def status(self, ctid):
        return self.run("status", ctid)

    def is_running(self, ctid):
        return "running" in self.status(ctid).output.split()

    def is_mounted(self, ctid):
        return mounts.is_mountpoint(self.root(ctid))

    def is_suspended(self, ctid):
        """Held still: its freezer cgroup FROZEN (upstream kernels have no vzctl suspend)."""
        path = cgroup_dir(ctid)
        return path is not None and state(path) == "FROZEN"

    # ---- verbs ----
    def start(self, ctid):
        res = self.run("start", ctid)
        if res.rc == 0:
            self._wait_init(ctid)
        return res

    def _wait_init(self, ctid, timeout=30):
        """vzctl start returns once the CT's init runs; wait until `vzctl exec` works."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.run("exec", ctid, "true").rc == 0:
                return
            time.sleep(0.2)

    def stop(self, ctid):
        return self.run("stop", ctid)

    def restart(self, ctid):
        res = self.run("restart", ctid)
        if res.rc == 0:
            self._wait_init(ctid)
        return res

    def mount(self, ctid):
        return self.run("mount", ctid)

    def umount(self, ctid):
        return self.run("umount", ctid)

    def exec(self, ctid, *command):
        """Run ``command`` (an argument list, as with the stand-in) in the running CT."""
        return self.run("exec2", ctid, _shell_line(command))

    def exec_bg(self, ctid, argv):
        """Start ``argv`` in the running CT (cwd /); the returned process is the host's
        `vzctl exec2`, which ends when the command or the CT does."""
        return subprocess.Popen([PROGRAM, "exec2", str(ctid), _shell_line(argv)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)

    def set(self, ctid, pairs):
        args = []
        for opt, value in pairs:
            args += [opt, value]
        return self.run("set", ctid, *(args + ["--save"]))

    def destroy(self, ctid):
        return self.run("destroy", ctid)

    def chkpnt(self, ctid, step=None, dumpfile=None):
        args = ["chkpnt", ctid] + (["--" + step] if step else [])
        return self.run(*(args + (["--dumpfile", dumpfile] if dumpfile else [])))

    def restore(self, ctid, dumpfile=None):
        return self.run(*(["restore", ctid] + (["--dumpfile", dumpfile] if dumpfile else [])))


def _shell_line(argv):
    """vzctl exec joins its arguments with spaces and runs them with sh -c: quoted
    one by one they arrive as the argument list they were."""
    return " ".join(shlex.quote(str(a)) for a in argv)
