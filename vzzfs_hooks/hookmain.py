"""Entry point of the four vzctl action scripts (premount, mount, umount, postumount).

vzctl runs /etc/vz/conf/vps.<action> with only HOME, TERM, PATH, VEID and
VE_CONFFILE set, holding the CT's lock (so nothing here may call a locking
vzctl command). An admin's earlier vps.<action> script is chained: it runs
after ours on the way up and before ours on the way down. Exit 0 lets vzctl go
on; anything else makes it abort with "Error executing ... script".
"""

import os
import subprocess
import sys

from . import actions, chkpnt, log, vzclient
from .config import Node
from .ct import Container
from .errors import EXIT_ERROR, EXIT_USAGE, VzzfsError

ACTIONS = ("premount", "mount", "umount", "postumount", "create")
CHAIN_ONLY = ("umount",)  # actions where vzzfs only runs the admin's chained script


def run_chained(script):
    """Run the admin's own script the way vzctl would; its exit code, 0 if none."""
    if not script or not os.path.exists(script):
        return 0
    argv = [script] if os.access(script, os.X_OK) else ["/bin/sh", script]
    return subprocess.call(argv, stdin=subprocess.DEVNULL)


def run_hook(action, ct, chained=None):
    """Do ``action`` for ``ct`` and its chained script; return the exit code."""
    if action == "create":
        return _create(ct, chained)
    if action in CHAIN_ONLY:
        return run_chained(chained)
    ours = actions.is_vzzfs(ct)
    verb, opts = chkpnt.vzctl_call(chkpnt.parent_argv()) if ours else (None, [])
    if action == "premount":
        if ours and vzclient.is_libvzctl():
            raise VzzfsError("OpenVZ 7's vzctl is not supported for zvol CTs yet: it would run "
                             "the CT's own scripts from %s/scripts, inside the container's file "
                             "system, as root on the host" % ct.ve_private,
                             "run zvol CTs on a vzctl 4.x node (README: Supported OpenVZ "
                             "versions)")
        if ours and chkpnt.is_restore(ct, verb, opts):
            chkpnt.before_restore(ct)
        mounted_now = actions.attach(ct) if ours else False
        rc = run_chained(chained)
        if rc and mounted_now:
            actions.detach(ct)  # vzctl aborts the mount: leave nothing behind
        return rc
    if action == "mount":
        if ours:
            try:
                actions.check_mounted(ct)
            except VzzfsError:
                _detach_quietly(ct)
                raise
        rc = run_chained(chained)
        if rc and ours:
            _detach_quietly(ct)  # vzctl will not run postumount after a failed mount script
        return rc
    rc = run_chained(chained)
    if action == "postumount" and ours:
        actions.detach(ct)
        if chkpnt.is_full_chkpnt(verb, opts):
            chkpnt.after_chkpnt(ct, opts)
    return rc


def _create(ct, chained):
    """vps.create, run last by `vzctl create`: with VZZFS_AUTO_CREATE=yes the freshly
    unpacked private area moves onto a new zvol (a failure makes vzctl delete the CT).
    The admin's script runs first, on the files as vzctl made them."""
    rc = run_chained(chained)
    if rc or not ct.settings.auto_create:
        return rc
    from . import convert  # only vps.create needs it; the other hooks start faster without
    convert.convert(ct, purge=True, locked=True)  # vzctl holds the CT's lock
    log.info("CT %s: created on zvol %s (VZZFS_AUTO_CREATE)" % (ct.ctid, ct.dataset))
    return 0


def _detach_quietly(ct):
    """Undo premount's mount on the failure path once vzctl has let go of VE_ROOT.

    VE_ROOT is still bind-mounted at this point (vzctl unmounts it after the
    script fails); unmounting VE_PRIVATE now is fine, and the ext4 is released
    when vzctl unmounts VE_ROOT.
    """
    try:
        if ct.private_mount() is not None:
            from . import volume
            volume.umount(ct.ve_private, ct.settings.busy_timeout)
    except VzzfsError as e:
        log.warn("CT %s: could not unmount %s after the failed mount: %s"
                 % (ct.ctid, ct.ve_private, e.line()))


def main(action, argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if action not in ACTIONS:
        log.error("hook called as %r; link it as one of %s" % (action, ", ".join(ACTIONS)))
        return EXIT_USAGE
    chained = None
    if len(argv) == 2 and argv[0] == "--chain":
        chained = argv[1]
    elif argv:
        log.error("usage: %s [--chain SCRIPT] (run by vzctl with VEID and VE_CONFFILE set)" % action)
        return EXIT_USAGE
    veid = os.environ.get("VEID", "")
    conffile = os.environ.get("VE_CONFFILE", "")
    if not veid or not conffile:
        log.error("%s hook: VEID and VE_CONFFILE are not set (vzctl runs this script; "
                  "for manual use see 'vzzfs attach')" % action)
        return EXIT_USAGE
    try:
        ct = Container(veid, Node.from_conffile(conffile), conffile)
        return run_hook(action, ct, chained)
    except VzzfsError as e:
        if e.ctid is None:
            e.ctid = veid
        log.error(e.line())
        return e.exit_code
    except Exception as e:  # a bug must still fail the hook with one clear line
        log.error("CT %s: %s hook failed unexpectedly: %s: %s (report this as a vzzfs bug)"
                  % (veid, action, type(e).__name__, e))
        return EXIT_ERROR
