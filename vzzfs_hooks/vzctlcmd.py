"""The vzctl command lines vzzfs runs: suspend, dump, resume, restore, set --save, destroy.

Exactly what vzctl 4.x accepts (as vzmigrate runs them): vzzfs already holds the
CT's lock, so every locking command gets the global --skiplock before the verb.
The program is VZZFS_VZCTL (default: vzctl on PATH); the tests point it at a
stand-in that implements the same command lines.
"""

import os

from . import names, runner
from .config import check_abs_path
from .errors import ConfigError, VzzfsError

DEFAULT_DUMPDIR = "/vz/dump"


def program(ct):
    """The vzctl to run, or None when there is none (no running CTs on such a node)."""
    name = ct.settings.vzctl
    if os.path.isabs(name):
        return name if os.access(name, os.X_OK) else None
    import shutil  # here: the hooks import this module and never look vzctl up
    return shutil.which(name)


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
    return res.returncode == 0 and "running" in res.stdout.split()


def dumpdir(ct):
    """DUMPDIR from vz.conf or the CT's conf, as vzctl reads it."""
    return check_abs_path(ct.params.get("DUMPDIR", DEFAULT_DUMPDIR), "DUMPDIR")


def default_dumpfile(ct):
    """Where a plain 'vzctl chkpnt CTID' writes its dump."""
    return names.default_dump(dumpdir(ct), ct.ctid)
