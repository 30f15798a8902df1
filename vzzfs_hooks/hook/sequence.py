"""The hook sequence: what premount, mount, umount, postumount and create do for a
vzzfs CT, in order, around the admin's chained script.

vzctl runs each hook holding the CT's lock (so nothing here may call a locking
vzctl command). The admin's own vps.<action> script, kept as
vps.<action>.vzzfs-chained, runs after vzzfs on the way up and before it on the
way down; a CT that is not vzzfs's (ct None) runs only that script.

premount: the CT's I/O limits checked, the restore check after a checkpoint, then
the zvol attached at its mount point (VE_PRIVATE under vzctl 4.x, VE_PRIVATE/disk
under OpenVZ 7, whose host side is checked: container/layout.py), the admin's
script, and the I/O limits set. mount: the mount checked (undone if it or the
admin's script fails: vzctl runs no postumount then). postumount: limits removed,
the zvol detached, and after a full `vzctl chkpnt` (or vzctl 7's suspend) the
snapshot for the dump. create: with VZZFS_AUTO_CREATE, the new private area moved
onto a zvol.
"""

import os

from ..base import log, names
from ..base.errors import VzzfsError

# What only vzzfs's CTs need (attach, chkpnt and the snapshot code behind it,
# ctlimits, vzctl's command lines, subprocess) is imported on use: a hook for
# another CT starts without it.


def run_chained(script):
    """Run the admin's own script the way vzctl would; its exit code, 0 if none."""
    if not script or not os.path.exists(script):
        return 0
    from ..base import runner
    argv = [script] if os.access(script, os.X_OK) else ["/bin/sh", script]
    return runner.call(argv)


def run_hook(action, ct, chained=None):
    """Do ``action`` for ``ct``, a vzzfs CT (None: a CT that is not vzzfs's), and
    its chained script; return the exit code."""
    if ct is None or action in names.HOOK_RETIRED:
        return run_chained(chained)
    if action == "create":
        return _create(ct, chained)
    from ..system import vzctl
    from ..verbs import attach, ctlimits
    from . import chkpnt
    verb, opts = vzctl.vzctl_call(vzctl.parent_argv())
    if action == "premount":
        ctlimits.before_mount(ct, verb)
        if chkpnt.is_restore(ct, verb, opts):
            chkpnt.before_restore(ct, opts)
        mounted_now = attach.attach(ct)
        rc = run_chained(chained)
        if rc and mounted_now:
            attach.detach(ct)  # vzctl aborts the mount: leave nothing behind
        elif not rc:
            # here, not in the mount hook: its shim starts no Python (hookwire.CHECK_ONLY)
            ctlimits.after_mount(ct, verb)
        return rc
    if action == "mount":
        try:
            attach.check_mounted(ct)
        except VzzfsError:
            _detach_quietly(ct)
            raise
        rc = run_chained(chained)
        if rc:
            _detach_quietly(ct)  # vzctl will not run postumount after a failed mount script
        return rc
    rc = run_chained(chained)
    if action == "postumount":
        ctlimits.before_umount(ct)
        attach.detach(ct)
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
    from ..verbs import convert  # only vps.create needs it; the other hooks start faster without
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
            from ..system import ext4
            ext4.umount(ct.mountpoint, ct.settings.busy_timeout)
    except VzzfsError as e:
        log.warn("CT %s: could not unmount %s after the failed mount: %s"
                 % (ct.ctid, ct.mountpoint, e.line()))
