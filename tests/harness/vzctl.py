"""A stand-in for vzctl 4.x's sequence around its action scripts, used only where the
real vzctl 4.11.1 (tests/harness/realvzctl.py) cannot go, each such test saying why:
a second node in the same VM (the real vzctl reads the VM's one /etc/vz), and what
only the OpenVZ kernel does (chkpnt --suspend/--dump/--resume around a live snapshot;
the test VM runs an upstream kernel). OpenVZ 7's real vzctl is
tests/harness/realvzctl7.py.

It performs what vzctl 4.11.1 does around its action scripts (README: How it fits
into vzctl), in the same order and with the same rules:
mount: vps.premount, CTID.premount (non-zero aborts, error 79) -> VE_PRIVATE
must exist (43) -> bind-mount VE_PRIVATE on VE_ROOT (upstream-kernel mode) ->
vps.mount, CTID.mount (non-zero: unmount VE_ROOT, no postumount, 79).
umount: CTID.umount, vps.umount (non-zero aborts) -> unmount VE_ROOT ->
CTID.postumount, vps.postumount (run even if VE_ROOT could not be unmounted; the
CT's own first, as 4.11.1's fs.c and the real binary do). start checks VE_PRIVATE
before premount (43); an already mounted CT makes mount return 0 without running
any script. Scripts get exactly HOME, TERM, PATH, VEID and VE_CONFFILE, no
arguments and stdin from /dev/null.

A running CT is a process in its own mount namespace with its cwd in VE_ROOT,
as a real CT holds its root file system. Checkpointing follows vzctl too:
chkpnt --suspend stops the CT's processes (SIGSTOP), --dump writes a dump file
(and touches the CT's file system, as a real dump does, so dumping a frozen CT
hangs here as it would there), --resume continues them, --kill kills; a full
chkpnt does all of that and then the umount chain. restore (or a start that
finds DUMPDIR/Dump.CTID) runs the mount chain, restarts the CT and deletes the
dump. set --save writes the conf (refusing a running CT's new DISKSPACE without
--diskquota no, as vzctl 4.11.1 does); destroy removes VE_PRIVATE and keeps the
conf as CTID.conf.destroyed. Run as a program it takes vzctl's command lines for
these verbs (VZCTL_ETC_DIR names the node's /etc/vz) and refuses options vzctl 4.x
would.

Confs are read and written here with this file's own small reader and writer, the
rules vzctl 4.x follows (README: Configuration), not vzzfs's parser: a conf vzzfs
misreads or miswrites is then not hidden by the same mistake on both sides.
"""

import json

import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, REPO)

from vzzfs_hooks.system import mounts  # noqa: E402

VZ_ACTIONSCRIPT_ERROR = 79
VZ_FS_NOPRVT = 43
VZ_FS_CANTUMOUNT = 50
VZ_VE_RUNNING = 32
VZ_VE_NOT_RUNNING = 31
VZ_FS_MOUNTED = 41
VZ_DQ_SET = 62
VZ_FS_DEL_PRVT = 51
VZ_INVALID_PARAMETER_SYNTAX = 2
VZ_CHKPNT_ERROR = 16
VZ_RESTORE_ERROR = 17
# vzctl 4.x's getopt tables (src/vzctl-actions.c) for the verbs implemented here
CHKPNT_OPTS = {"--dump": 0, "--suspend": 0, "--resume": 0, "--kill": 0, "--skip_arpdetect": 0,
               "--flags": 1, "--context": 1, "--dumpfile": 1}
RESTORE_OPTS = {"--undump": 0, "--kill": 0, "--resume": 0, "--skip_arpdetect": 0,
                "--dumpfile": 1, "--flags": 1, "--context": 1}
SET_OPTS = ("--diskspace", "--diskquota", "--hostname", "--ipadd")  # each takes a value
GLOBAL_OPTS = ("--skiplock", "--quiet", "--verbose")
SCRIPT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # vzctl 4.11.1's


def read_conf(path, missing_ok=True):
    """KEY -> value of a vzctl conf as vzctl 4.x reads it: KEY=value or KEY="value",
    the first of duplicate keys wins, only lines starting with # are comments."""
    found = {}
    try:
        with open(path, "rb") as f:
            lines = os.fsdecode(f.read()).splitlines()
    except FileNotFoundError:
        if missing_ok:
            return found
        raise
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        key = key.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        found.setdefault(key, value)
    return found


def expand(value, ctid):
    return value.replace("${VEID}", str(ctid)).replace("$VEID", str(ctid))


def update_conf(path, changes):
    """vzctl set --save: each key changed where it first appears, new ones appended,
    every other line kept; the file replaced atomically."""
    try:
        with open(path, "rb") as f:
            lines = os.fsdecode(f.read()).splitlines()
    except FileNotFoundError:
        lines = []
    out, done = [], set()
    for line in lines:
        key = line.split("=", 1)[0].strip() if "=" in line and not line.startswith("#") else None
        if key in changes:
            if key not in done:
                out.append('%s="%s"' % (key, changes[key]))
            done.add(key)
            continue
        out.append(line)
    out += ['%s="%s"' % (k, changes[k]) for k in sorted(changes) if k not in done]
    with open(path + ".tmp", "wb") as f:
        f.write(os.fsencode("\n".join(out) + "\n"))
    os.rename(path + ".tmp", path)


class Result(object):
    def __init__(self, rc, output):
        self.rc = rc
        self.output = output

    def __repr__(self):
        return "Result(rc=%d, output=%r)" % (self.rc, self.output)


class Vzctl(object):
    """vzctl for a node whose /etc/vz is ``etc_dir`` (VE_PRIVATE etc. come from vz.conf)."""

    def __init__(self, etc_dir):
        self.etc_dir = etc_dir
        self.conf_dir = os.path.join(etc_dir, "conf")
        self.run_dir = os.path.join(etc_dir, "run")
        os.makedirs(self.run_dir, exist_ok=True)

    # ---- helpers ----
    def conffile(self, ctid):
        return os.path.join(self.conf_dir, "%s.conf" % ctid)

    def params(self, ctid):
        params = read_conf(os.path.join(self.etc_dir, "vz.conf"))
        params.update(read_conf(self.conffile(ctid), missing_ok=False))
        return params

    def private(self, ctid):
        return expand(self.params(ctid)["VE_PRIVATE"], ctid)

    def root(self, ctid):
        return expand(self.params(ctid)["VE_ROOT"], ctid)

    def _pidfile(self, ctid):
        return os.path.join(self.run_dir, "%s.pid" % ctid)

    def _scripts(self, action, ctid):
        """The scripts vzctl runs for ``action``, in its order, as (name, path): the
        global one first on the way up, the CT's own first on the way down."""
        own = "%s.%s" % (ctid, action)
        glob = ("vps.%s" % action, os.path.join(self.conf_dir, "vps.%s" % action))
        mine = (own, os.path.join(self.conf_dir, own))
        return [glob, mine] if action in ("premount", "mount") else [mine, glob]

    def _script(self, name, ctid, out, path=None):
        path = path or os.path.join(self.conf_dir, name)
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
        return _state(self._pid(ctid)) not in (None, "Z")

    def _pids(self, ctid):
        """The CT's processes: its init, and what exec_bg started in it."""
        pids = [self._pid(ctid)]
        try:
            with open(self._pidfile(ctid) + "s") as f:
                pids += [int(p) for p in f.read().split()]
        except (OSError, ValueError):
            pass
        return [p for p in pids if _state(p) not in (None, "Z")]

    def _signal(self, ctid, signum):
        # each of the CT's processes leads its own process group: signalling the
        # group reaches its children too (a shell's sleep), as vzctl reaches every
        # process in a CT
        for pid in self._pids(ctid):
            try:
                os.killpg(pid, signum)
            except ProcessLookupError:
                pass

    def exec_bg(self, ctid, argv):
        """Start a process in a running CT (cwd VE_ROOT): suspend, dump and kill see it too."""
        proc = subprocess.Popen(argv, cwd=self.root(ctid), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        with open(self._pidfile(ctid) + "s", "a") as f:
            f.write("%d\n" % proc.pid)
        return proc

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
        for name, path in self._scripts("premount", ctid):
            if self._script(name, ctid, out, path):
                return Result(VZ_ACTIONSCRIPT_ERROR, "".join(out))
        private, root = self.private(ctid), self.root(ctid)
        if not os.path.isdir(private):
            out.append("Container private area %s does not exist\n" % private)
            return Result(VZ_FS_NOPRVT, "".join(out))
        os.makedirs(root, exist_ok=True)
        subprocess.check_call(["mount", "--bind", private, root])
        for name, path in self._scripts("mount", ctid):
            if self._script(name, ctid, out, path):
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
        for name, path in self._scripts("umount", ctid):
            if self._script(name, ctid, out, path):
                return Result(VZ_ACTIONSCRIPT_ERROR, "".join(out))
        rc = 0
        res = subprocess.run(["umount", self.root(ctid)], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, universal_newlines=True)
        if res.returncode:
            out.append("Can't umount %s: %s" % (self.root(ctid), res.stdout))
            rc = VZ_FS_CANTUMOUNT
        for name, path in self._scripts("postumount", ctid):
            if self._script(name, ctid, out, path) and not rc:
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
        if os.path.exists(self.dumpfile(ctid)):
            return self.restore(ctid)  # as vzctl start does when it finds a dump
        res = self.mount(ctid)
        if res.rc:
            return res
        self._spawn(ctid)
        return Result(0, res.output + "Container start in progress...\n")

    def _spawn(self, ctid):
        # no inherited stdout: whoever reads this vzctl's output must see it end
        proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private",
                                 "sleep", "infinity"], cwd=self.root(ctid),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        with open(self._pidfile(ctid), "w") as f:
            f.write(str(proc.pid))
        wait_unshared(proc.pid)  # a CT's init is in its own namespace when start returns

    def stop(self, ctid):
        self._kill(ctid)
        res = self.umount(ctid)
        return Result(res.rc, "Stopping container ...\n" + res.output)

    def _kill(self, ctid):
        pids = self._pids(ctid)
        self._signal(ctid, signal.SIGKILL)
        for pid in pids:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:  # not ours: wait until it is gone or a zombie
                while _state(pid) not in (None, "Z"):
                    time.sleep(0.05)
        while _live_in_groups(pids):  # children left behind hold VE_ROOT busy
            time.sleep(0.05)
        for path in (self._pidfile(ctid), self._pidfile(ctid) + "s"):
            if os.path.exists(path):
                os.unlink(path)

    def restart(self, ctid):
        res = self.stop(ctid)
        if res.rc:
            return res
        return self.start(ctid)

    # ---- set, destroy ----
    def set(self, ctid, pairs):
        """set --save with (option, value) ``pairs``. As vzctl 4.11.1 does: a new
        DISKSPACE for a running CT is handed to vzquota unless --diskquota no is
        given, whatever the conf says; with quota off that fails and nothing is saved."""
        opts = dict(pairs)
        if self.is_running(ctid) and "--diskspace" in opts and opts.get("--diskquota") != "no":
            return Result(VZ_DQ_SET, "Error: Unable to apply new quota values: quota not "
                                     "running\nError: failed to apply some parameters, not "
                                     "saving configuration file!\n")
        changes = {}
        names = {"--diskspace": "DISKSPACE", "--diskquota": "DISK_QUOTA",
                 "--hostname": "HOSTNAME"}
        for opt, value in pairs:
            if opt == "--ipadd":
                ips = changes.get("IP_ADDRESS", self.params(ctid).get("IP_ADDRESS", "")).split()
                changes["IP_ADDRESS"] = " ".join(ips + [value])
            else:
                changes[names[opt]] = value
        update_conf(self.conffile(ctid), changes)
        return Result(0, "CT configuration saved to %s\n" % self.conffile(ctid))

    def destroy(self, ctid):
        """Remove VE_PRIVATE (renamed away first), keep the conf and the CT's scripts
        as *.destroyed (even when the removal failed), remove VE_ROOT's directory."""
        if self.is_running(ctid):
            return Result(VZ_VE_RUNNING, "Container is currently running. Stop it first.\n")
        if self.is_mounted(ctid):
            return Result(VZ_FS_MOUNTED, "Container is currently mounted (umount first)\n")
        private, root, out, rc = self.private(ctid), self.root(ctid), [], 0
        if os.path.lexists(private):
            gone = os.path.join(os.path.dirname(private), "vzctl-rm-me.%s" % ctid)
            try:
                os.rename(private, gone)
                subprocess.check_call(["rm", "-rf", gone])
            except (OSError, subprocess.CalledProcessError) as e:
                out.append("Unable to move %s: %s\n" % (private, e))
                rc = VZ_FS_DEL_PRVT
        conf_dir = os.path.dirname(self.conffile(ctid))
        for suffix in ("conf", "mount", "umount", "premount", "postumount", "start", "stop"):
            path = os.path.join(conf_dir, "%s.%s" % (ctid, suffix))
            if os.path.exists(path):
                os.rename(path, path + ".destroyed")
        try:
            os.rmdir(root)
        except OSError:
            pass
        if not rc:
            out.append("Container private area was destroyed\n")
        return Result(rc, "".join(out))

    # ---- checkpointing ----
    def dumpfile(self, ctid):
        return os.path.join(self.params(ctid).get("DUMPDIR", "/vz/dump"), "Dump.%s" % ctid)

    def is_suspended(self, ctid):
        pids = self._pids(ctid)
        return bool(pids) and all(_state(p) == "T" for p in pids)

    def status(self, ctid):
        words = ["CTID", str(ctid), "exist" if os.path.exists(self.conffile(ctid)) else "deleted",
                 "mounted" if self.is_mounted(ctid) else "unmounted",
                 "running" if self.is_running(ctid) else "down"]
        if self.is_running(ctid) and self.is_suspended(ctid):
            words.append("suspended")
        return Result(0, " ".join(words) + "\n")

    def chkpnt(self, ctid, step=None, dumpfile=None):
        """step None is a full chkpnt: suspend, dump, kill, umount chain."""
        if not self.is_running(ctid):
            return Result(VZ_VE_NOT_RUNNING, "Unable to setup checkpointing: "
                                             "container is not running\n")
        pid = self._pid(ctid)
        if step in (None, "suspend"):
            self._signal(ctid, signal.SIGSTOP)
            while not self.is_suspended(ctid):
                time.sleep(0.01)
            if step == "suspend":
                return Result(0, "Setting up checkpoint...\n\tsuspend...\nCheckpointing completed "
                                 "successfully\n")
        if step == "resume":
            self._signal(ctid, signal.SIGCONT)
            return Result(0, "Resuming...\n")
        if step in (None, "dump"):
            if not self.is_suspended(ctid):
                return Result(VZ_CHKPNT_ERROR, "Unable to dump: container is not suspended\n")
            # a real dump writes into the CT's file system: this hangs on a frozen one
            probe = os.path.join(self.root(ctid), ".vzctl-dump-probe")
            with open(probe, "w") as f:
                f.write("x")
            os.unlink(probe)
            path = dumpfile or self.dumpfile(ctid)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                json.dump({"ctid": str(ctid), "cwd": os.readlink("/proc/%d/cwd" % pid)}, f)
            if step == "dump":
                return Result(0, "\tdump...\nCheckpointing completed successfully\n")
        self._kill(ctid)
        res = self.umount(ctid)
        return Result(res.rc, "Checkpointing completed successfully\n" + res.output)

    def restore(self, ctid, dumpfile=None):
        path = dumpfile or self.dumpfile(ctid)
        if not os.path.exists(path):
            return Result(VZ_RESTORE_ERROR, "Error: dump file %s does not exist\n" % path)
        if self.is_running(ctid):
            return Result(VZ_VE_RUNNING, "Container is already running\n")
        with open(path) as f:
            json.load(f)
        res = self.mount(ctid)
        if res.rc:
            return Result(res.rc, "Restoring container ...\n" + res.output)
        self._spawn(ctid)
        os.unlink(path)  # vzctl deletes the dump after a successful restore
        return Result(0, "Restoring container ...\n" + res.output +
                      "Restoring completed successfully\n")


def proc_stat(pid):
    """/proc/PID/stat's fields after the command name (state, ppid, pgrp ...), or None."""
    try:
        with open("/proc/%s/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _state(pid):
    """A process's state letter (R, S, T, Z ...), or None if there is none."""
    fields = proc_stat(pid) if pid is not None else None
    return fields[0] if fields else None


def wait_unshared(pid, timeout=60):
    """Wait until ``pid``, started as ``unshare --mount ... PROGRAM``, runs PROGRAM
    in its own mount namespace (unshare execs it once the namespace is made)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            own = os.readlink("/proc/%d/ns/mnt" % pid) != os.readlink("/proc/self/ns/mnt")
            with open("/proc/%d/comm" % pid) as f:
                if own and f.read().strip() != "unshare":
                    return
        except OSError:
            return  # gone: whoever waits on it sees that
        time.sleep(0.02)
    raise RuntimeError("pid %d did not enter its own mount namespace" % pid)


def _live_in_groups(pgids):
    """Whether any process that is not a zombie belongs to one of ``pgids``."""
    for name in os.listdir("/proc"):
        fields = proc_stat(name) if name.isdigit() else None
        if fields and fields[0] != "Z" and int(fields[2]) in pgids:
            return True
    return False


def _parse(opts, table):
    """vzctl's getopt_long over ``table``; None on a syntax error."""
    found, i = {}, 0
    while i < len(opts):
        name = opts[i]
        if name not in table:
            return None
        if table[name]:
            if i + 1 >= len(opts):
                return None
            found[name] = opts[i + 1]
            i += 2
        else:
            found[name] = True
            i += 1
    return found


def main(argv):
    """vzctl [--skiplock] VERB CTID [options], for the verbs above."""
    while argv and argv[0] in GLOBAL_OPTS:
        argv = argv[1:]
    if len(argv) < 2:
        sys.stderr.write("Usage: vzctl [options] <command> <ctid> [parameters]\n")
        return VZ_INVALID_PARAMETER_SYNTAX
    verb, ctid, opts = argv[0], argv[1], argv[2:]
    v = Vzctl(os.environ.get("VZCTL_ETC_DIR", "/etc/vz"))
    if verb in ("chkpnt", "suspend"):
        parsed = _parse(opts, CHKPNT_OPTS)
        steps = [s for s in ("--suspend", "--dump", "--resume", "--kill") if parsed and s in parsed]
        if parsed is None or len(steps) > 1:
            sys.stderr.write("Invalid syntax: %s\n" % " ".join(opts))
            return VZ_INVALID_PARAMETER_SYNTAX
        res = v.chkpnt(ctid, steps[0][2:] if steps else None, parsed.get("--dumpfile"))
    elif verb in ("restore", "resume"):
        parsed = _parse(opts, RESTORE_OPTS)
        if parsed is None:
            sys.stderr.write("Invalid syntax: %s\n" % " ".join(opts))
            return VZ_INVALID_PARAMETER_SYNTAX
        res = v.restore(ctid, parsed.get("--dumpfile"))
    elif verb == "set":
        rest = [o for o in opts if o != "--save"]
        pairs = list(zip(rest[0::2], rest[1::2]))
        if "--save" not in opts or len(rest) % 2 or any(o not in SET_OPTS for o, _ in pairs):
            sys.stderr.write("Invalid syntax (this stand-in takes %s and --save): %s\n"
                             % (", ".join(SET_OPTS), " ".join(opts)))
            return VZ_INVALID_PARAMETER_SYNTAX
        res = v.set(ctid, pairs)
    elif verb in ("start", "stop", "mount", "umount", "status", "destroy") and not opts:
        res = getattr(v, verb)(ctid)
    else:
        sys.stderr.write("Invalid action or syntax: %s\n" % " ".join(argv))
        return VZ_INVALID_PARAMETER_SYNTAX
    (sys.stderr if res.rc else sys.stdout).write(res.output)
    return res.rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
