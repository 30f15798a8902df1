"""The one module that speaks vzctl: which vzctl runs a hook, the vzctl facts vzzfs
relies on, the command lines it runs, and reading what vzctl answers.

Command lines: exactly what vzctl 4.x accepts (as vzmigrate runs them). vzzfs
already holds the CT's lock, so every locking command gets the global --skiplock
before the verb. The program is VZZFS_VZCTL (default: vzctl on PATH); the tests
point it at a stand-in that implements the same command lines.

Which vzctl: legacy vzctl 4.x and OpenVZ 7's libvzctl run the same four action
scripts but differ in where they find a CT's own scripts: libvzctl looks in
VE_PRIVATE/scripts/ when VE_PRIVATE/.ve.layout is absent (lib/util.c
get_action_script_path), and on a zvol CT VE_PRIVATE is the container's own file
system, so its root could plant scripts the host runs as root. vzzfs therefore
refuses to attach a zvol CT under libvzctl until it lays the zvol out for it. The
environment does not tell them apart (OpenVZ 7's plain vzctl gives no SHELL, and
cron or ssh may leave one in vzctl 4.x's): the process that runs a hook has
libvzctl2 mapped under OpenVZ 7, never under vzctl 4.x.
"""

import os

from ..base import names, runner
from ..base.errors import ConfigError, VzzfsError
from ..conf.config import check_abs_path

DEFAULT_DUMPDIR = "/vz/dump"
PROC_VZ = "/proc/vz"           # present on an OpenVZ kernel only
CGROUP_PREFIX = "vz-"          # vzctl 4.x: veid_to_name() in include/cgroup.h
LIBVZCTL = "libvzctl2"         # what OpenVZ 7's vzctl maps

# vzctl 4.x's global options that come before the verb (none take a value)
_GLOBAL_OPTS = ("--skiplock", "--quiet", "--verbose", "--skipowner")
CHKPNT_VERBS = ("chkpnt", "suspend")
RESTORE_VERBS = ("restore", "resume")


VZCTL4 = "vzctl4"              # legacy vzctl 4.x: the zvol mounted on VE_PRIVATE
OPENVZ7 = "openvz7"            # OpenVZ 7's vzctl: VE_PRIVATE a host directory (container/layout)


def hook_platform(ppid=None):
    """The platform of the vzctl that runs this hook: told by the process itself."""
    return OPENVZ7 if is_libvzctl(ppid) else VZCTL4


def node_platform(settings):
    """The platform of this node's vzctl, for the vzzfs command: VZZFS_PLATFORM, or with
    auto, whether the vzctl binary (VZZFS_VZCTL) is linked with OpenVZ 7's libvzctl2.
    Read from the binary, no process started; a node without vzctl counts as vzctl 4."""
    if settings.platform in (VZCTL4, OPENVZ7):
        return settings.platform
    if settings.vzctl not in _detected:
        _detected[settings.vzctl] = _binary_platform(program_path(settings.vzctl))
    return _detected[settings.vzctl]


_detected = {}  # VZZFS_VZCTL -> platform, once per process (vzzfs list makes many CTs)


def _binary_platform(prog):
    if prog is None:
        return VZCTL4
    try:
        with open(prog, "rb") as f:
            data = f.read(1 << 20)  # its dynamic string table (DT_NEEDED names) is near the start
    except OSError:
        return VZCTL4
    return OPENVZ7 if (LIBVZCTL + ".so").encode() in data else VZCTL4


# where each vzctl reads its distributions' scripts: vzctl 4.x's /etc/vz/dists, libvzctl
# 7's $(pkglibexecdir)/dists (paths.am distconfdir; lib/dist.c get_dist_conf_name)
DISTS_DIRS = {VZCTL4: "/etc/vz/dists", OPENVZ7: "/usr/libexec/libvzctl/dists"}


def known_dists(platform):
    """The distributions this node's vzctl has a conf for (file names without .conf,
    sorted; default, which cannot set a CT's IPs, left out)."""
    try:
        found = os.listdir(DISTS_DIRS[platform])
    except OSError:
        return []
    return sorted(n[:-5] for n in found if n.endswith(".conf") and n != "default.conf")


def cgroup_name(ctid, platform=VZCTL4):
    """The CT's cgroup, relative to a hierarchy's top: vz-CTID (vzctl 4.x: veid_to_name()
    in include/cgroup.h), machine.slice/CTID (OpenVZ 7's libvzctl)."""
    if platform == OPENVZ7:
        return "machine.slice/%s" % ctid
    return CGROUP_PREFIX + str(ctid)


def openvz_kernel():
    """Whether this is an OpenVZ kernel (vzctl applies IOLIMIT, chkpnt --suspend works)."""
    return os.path.isdir(PROC_VZ)


def _parent_maps(ppid):
    from ..base.fileio import read_text
    try:
        return read_text("/proc/%d/maps" % ppid)
    except OSError:
        return ""


def is_libvzctl(ppid=None):
    """Whether OpenVZ 7's libvzctl (not vzctl 4.x) runs this hook: by what the parent
    process has mapped, never by the environment (see the module's docstring)."""
    return LIBVZCTL in _parent_maps(os.getppid() if ppid is None else ppid)


def parent_argv(pid=None):
    """The command line of the process that ran this hook ([] if it cannot be read)."""
    pid = os.getppid() if pid is None else pid
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            raw = f.read()
    except OSError:
        return []
    return [a.decode("utf-8", "replace") for a in raw.split(b"\0") if a]


def vzctl_call(argv):
    """(verb, options after the CTID) when ``argv`` is a vzctl command line, else (None, [])."""
    for i, arg in enumerate(argv[:3]):
        if os.path.basename(arg) in ("vzctl", "vzctl.py"):
            rest = [a for a in argv[i + 1:] if a not in _GLOBAL_OPTS]
            if rest and not rest[0].startswith("-"):
                return rest[0], rest[2:]
            return None, []
    return None, []


def program(ct):
    """The vzctl to run, or None when there is none (no running CTs on such a node)."""
    return program_path(ct.settings.vzctl)


def program_path(name):
    """VZZFS_VZCTL ``name`` (an absolute path or a bare name: config.is_program) as a
    path, or None: runner.which, on a PATH whose relative entries vzzfs drops at its
    start."""
    return runner.which(name)


def _require(ct):
    prog = program(ct)
    if prog is None:
        raise ConfigError("%s (VZZFS_VZCTL) not found, so the CT cannot be suspended"
                          % ct.settings.vzctl,
                          "install vzctl, or snapshot with --skip-suspend (freeze only)",
                          ctid=ct.ctid)
    return prog


def chkpnt_argv(prog, ctid, step, dumpfile=None):
    """vzctl --skiplock chkpnt CTID --suspend|--dump|--resume|--kill [--dumpfile F]."""
    if step not in ("suspend", "dump", "resume", "kill"):
        raise ValueError(step)
    argv = [prog, "--skiplock", "chkpnt", ctid, "--" + step]
    if dumpfile is not None:
        argv += ["--dumpfile", dumpfile]
    return argv


def restore_argv(prog, ctid, dumpfile):
    return [prog, "--skiplock", "restore", ctid, "--dumpfile", dumpfile]


def suspend(ct):
    try:
        runner.run(chkpnt_argv(_require(ct), ct.ctid, "suspend"))
    except runner.CommandFailed as e:
        raise VzzfsError("could not suspend it (%s); it keeps running" % e.line(),
                         "check that 'vzctl chkpnt %s --suspend' works on this node (upstream "
                         "kernels need CRIU), or snapshot with --skip-suspend (ext4 frozen only)"
                         % ct.ctid, ctid=ct.ctid)


def dump(ct, dumpfile):
    runner.run(chkpnt_argv(_require(ct), ct.ctid, "dump", dumpfile))


def checkpoint(ct, dumpfile):
    """A full chkpnt: suspend, dump to ``dumpfile``, kill, then vzctl's umount chain."""
    runner.run([_require(ct), "--skiplock", "chkpnt", ct.ctid, "--dumpfile", dumpfile])


def resume(ct):
    runner.run(chkpnt_argv(_require(ct), ct.ctid, "resume"))


def restore(ct, dumpfile):
    """Start the CT from a dump (vzctl deletes the dump file when this succeeds)."""
    runner.run(restore_argv(_require(ct), ct.ctid, dumpfile))


def set_argv(prog, ctid, diskspace_kb=None, hostname=None, ipadd=()):
    """vzctl --skiplock set CTID ... --save. A new DISKSPACE comes with --diskquota no:
    vzctl 4.x otherwise asks vzquota about a running CT, even one whose conf says
    DISK_QUOTA=no, and refuses to save ("quota not running")."""
    argv = [prog, "--skiplock", "set", ctid]
    if diskspace_kb is not None:
        argv += ["--diskspace", "%d:%d" % (diskspace_kb, diskspace_kb), "--diskquota", "no"]
    if hostname is not None:
        argv += ["--hostname", hostname]
    for ip in ipadd:
        argv += ["--ipadd", ip]
    return argv + ["--save"]


def save(ct, **settings):
    """Save settings in the CT's conf through vzctl set (``set_argv``'s keywords)."""
    runner.run(set_argv(_require(ct), ct.ctid, **settings))


def destroy(ct):
    """vzctl destroy: what it does with the conf, the CT's scripts and VE_ROOT."""
    runner.run([_require(ct), "--skiplock", "destroy", ct.ctid])


def start(ct):
    runner.run([_require(ct), "--skiplock", "start", ct.ctid])


def stop(ct):
    runner.run([_require(ct), "--skiplock", "stop", ct.ctid])


def is_running(ct):
    """vzctl status says 'running' (VE_ROOT mounted alone is only 'mounted')."""
    prog = program(ct)
    if prog is None or not ct.root_mounted():
        return False
    res = runner.run([prog, "status", ct.ctid], check=False)
    return parse_status(res.returncode, res.stdout) == "running"


def parse_status(returncode, output):
    """'running', 'down' or None (unknown) from `vzctl status CTID`'s exit and output. Pure."""
    if returncode != 0:
        return None
    for line in output.splitlines():
        words = line.split()  # CTID 101 exist mounted running
        if len(words) >= 3 and words[0] in ("CTID", "VEID"):
            if "running" in words[2:]:
                return "running"
            if "down" in words[2:]:
                return "down"
    return None


def remote_argv(verb, ctid):
    """The vzctl command line run on another node (after its ssh command): status,
    start or restore of CT ``ctid``; that node's own vzctl takes its own lock."""
    if verb not in ("status", "start", "restore"):
        raise ValueError(verb)
    return ["vzctl", verb, str(ctid)]


def dumpdir(ct):
    """Where vzctl keeps the CT's dumps: DUMPDIR from vz.conf or the CT's conf (vzctl
    4.x), VE_PRIVATE/dump for OpenVZ 7's layout 4 (lib/util.c vzctl2_get_dump_file)."""
    if getattr(ct, "vz7", False):
        return os.path.join(ct.ve_private, names.VZ7_DUMP_DIR)
    return check_abs_path(ct.params.get("DUMPDIR", DEFAULT_DUMPDIR), "DUMPDIR")


def default_dumpfile(ct):
    """Where a plain 'vzctl chkpnt CTID' (or vzctl 7's suspend) writes its dump."""
    if getattr(ct, "vz7", False):
        return os.path.join(dumpdir(ct), "Dump")
    return names.default_dump(dumpdir(ct), ct.ctid)
