"""A stand-in for vzctl 4.x's mount/umount/start/stop sequence, for tests and the demo.

vzctl is not packaged for Debian, so this performs what DESIGN.md's vzctl
contract says vzctl does, in the same order and with the same rules:
mount: vps.premount, CTID.premount (non-zero aborts, error 79) -> VE_PRIVATE
must exist (43) -> bind-mount VE_PRIVATE on VE_ROOT (upstream-kernel mode) ->
vps.mount, CTID.mount (non-zero: unmount VE_ROOT, no postumount, 79).
umount: CTID.umount, vps.umount (non-zero aborts) -> unmount VE_ROOT ->
vps.postumount, CTID.postumount (run even if VE_ROOT could not be unmounted).
start checks VE_PRIVATE before premount (43); an already mounted CT makes
mount return 0 without running any script. Scripts get exactly HOME, TERM,
PATH, VEID and VE_CONFFILE, no arguments and stdin from /dev/null.

A running CT is a process in its own mount namespace with its cwd in VE_ROOT,
as a real CT holds its root file system.
"""

import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, REPO)

from vzzfs_hooks import config, mounts  # noqa: E402

VZ_ACTIONSCRIPT_ERROR = 79
VZ_FS_NOPRVT = 43
VZ_FS_CANTUMOUNT = 50
VZ_VE_RUNNING = 32
SCRIPT_PATH = "/bin:/sbin:/usr/bin:/usr/sbin:/usr/local/bin:/usr/local/sbin"


class Result(object):
    def __init__(self, rc, output):
        self.rc = rc
        self.output = output

    def __repr__(self):
        return "Result(rc=%d, output=%r)" % (self.rc, self.output)


class Vzctl(object):
    """vzctl for a node whose /etc/vz is ``etc_dir`` (VE_PRIVATE etc. come from vz.conf)."""

    def __init__(self, etc_dir):
        self.node = config.Node(etc_dir)
        self.run_dir = os.path.join(etc_dir, "run")
        os.makedirs(self.run_dir, exist_ok=True)

    # ---- helpers ----
    def conffile(self, ctid):
        return os.path.join(self.node.conf_dir, "%s.conf" % ctid)

    def params(self, ctid):
        return config.merge(self.node.global_params(), config.parse_file(self.conffile(ctid)))

    def private(self, ctid):
        return config.expand_veid("VE_PRIVATE", self.params(ctid)["VE_PRIVATE"], ctid)

    def root(self, ctid):
        return config.expand_veid("VE_ROOT", self.params(ctid)["VE_ROOT"], ctid)

    def _pidfile(self, ctid):
        return os.path.join(self.run_dir, "%s.pid" % ctid)

    def _script(self, name, ctid, out):
        path = os.path.join(self.node.conf_dir, name)
        if not os.path.exists(path):
            return 0
        env = {"HOME": "/", "TERM": "linux", "PATH": SCRIPT_PATH, "VEID": str(ctid),
               "VE_CONFFILE": self.conffile(ctid)}
        proc = subprocess.run([path], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, universal_newlines=True)
        out.append(proc.stdout)
        if proc.returncode:
            out.append("Error executing %s script %s\n" % (name.split(".")[-1], path))
        return proc.returncode

    # ---- vzctl verbs ----
    def is_mounted(self, ctid):
        return mounts.is_mountpoint(self.root(ctid))

    def is_running(self, ctid):
        pid = self._pid(ctid)
        return pid is not None and os.path.exists("/proc/%d" % pid)

    def _pid(self, ctid):
        try:
            with open(self._pidfile(ctid)) as f:
                return int(f.read())
        except (OSError, ValueError):
            return None

    def mount(self, ctid):
        out = []
        if self.is_mounted(ctid):
            return Result(0, "Container is already mounted\n")
        for name in ("vps.premount", "%s.premount" % ctid):
            if self._script(name, ctid, out):
                return Result(VZ_ACTIONSCRIPT_ERROR, "".join(out))
        private, root = self.private(ctid), self.root(ctid)
        if not os.path.isdir(private):
            out.append("Container private area %s does not exist\n" % private)
            return Result(VZ_FS_NOPRVT, "".join(out))
        os.makedirs(root, exist_ok=True)
        subprocess.check_call(["mount", "--bind", private, root])
        for name in ("vps.mount", "%s.mount" % ctid):
            if self._script(name, ctid, out):
                subprocess.call(["umount", root])
                return Result(VZ_ACTIONSCRIPT_ERROR, "".join(out))
        out.append("Container is mounted\n")
        return Result(0, "".join(out))

    def umount(self, ctid):
        out = []
        if self.is_running(ctid):
            return Result(VZ_VE_RUNNING, "Container is running -- stop it first\n")
        if not self.is_mounted(ctid):
            return Result(0, "Container is not mounted\n")
        for name in ("%s.umount" % ctid, "vps.umount"):
            if self._script(name, ctid, out):
                return Result(VZ_ACTIONSCRIPT_ERROR, "".join(out))
        rc = 0
        res = subprocess.run(["umount", self.root(ctid)], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, universal_newlines=True)
        if res.returncode:
            out.append("Can't umount %s: %s" % (self.root(ctid), res.stdout))
            rc = VZ_FS_CANTUMOUNT
        for name in ("vps.postumount", "%s.postumount" % ctid):
            if self._script(name, ctid, out) and not rc:
                rc = VZ_ACTIONSCRIPT_ERROR
        if not rc:
            out.append("Container is unmounted\n")
        return Result(rc, "".join(out))

    def start(self, ctid):
        if self.is_running(ctid):
            return Result(VZ_VE_RUNNING, "Container is already running\n")
        if not os.path.isdir(self.private(ctid)):
            return Result(VZ_FS_NOPRVT, "Container private area %s does not exist\n"
                          % self.private(ctid))
        res = self.mount(ctid)
        if res.rc:
            return res
        root = self.root(ctid)
        proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private",
                                 "sleep", "infinity"], cwd=root, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        with open(self._pidfile(ctid), "w") as f:
            f.write(str(proc.pid))
        time.sleep(0.2)  # let unshare enter its namespace, as a CT's init would
        return Result(0, res.output + "Container start in progress...\n")

    def stop(self, ctid):
        pid = self._pid(ctid)
        if pid is not None:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                while os.path.exists("/proc/%d" % pid):
                    time.sleep(0.05)
            os.unlink(self._pidfile(ctid))
        res = self.umount(ctid)
        return Result(res.rc, "Stopping container ...\n" + res.output)

    def restart(self, ctid):
        res = self.stop(ctid)
        if res.rc:
            return res
        return self.start(ctid)
