"""Entry point of the four vzctl action scripts (premount, mount, umount, postumount).

vzctl runs /etc/vz/conf/vps.<action> with only HOME, TERM, PATH, VEID and
VE_CONFFILE set, holding the CT's lock (so nothing here may call a locking
vzctl command). An admin's earlier vps.<action> script is chained: it runs
after ours on the way up and before ours on the way down. Exit 0 lets vzctl go
on; anything else makes it abort with "Error executing ... script".

Whether a CT is vzzfs's is decided first, from the least that tells (see
_is_ours): a CT that is not passes through with exit 0 whatever vzzfs.conf or
its own conf holds, so a typo in vzzfs.conf never stops a ploop or simfs CT.
"""

import os
import sys

from . import actions, config, log, names, volume
from .config import Node
from .errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE, ConfigError, VzzfsError

# A CT that is not vzzfs's passes with what is imported above and no zfs/zpool
# command (actions.zvol_state); what only vzzfs's CTs need (chkpnt and the
# snapshot code behind it, ctlimits, Container, subprocess) is imported on use.

ACTIONS = ("premount", "mount", "umount", "postumount", "create")
CHAIN_ONLY = ("umount",)  # actions where vzzfs only runs the admin's chained script


def run_chained(script):
    """Run the admin's own script the way vzctl would; its exit code, 0 if none."""
    if not script or not os.path.exists(script):
        return 0
    import subprocess
    argv = [script] if os.access(script, os.X_OK) else ["/bin/sh", script]
    return subprocess.call(argv, stdin=subprocess.DEVNULL)


def run_hook(action, ct, chained=None):
    """Do ``action`` for ``ct``, a vzzfs CT (None: a CT that is not vzzfs's), and
    its chained script; return the exit code."""
    if ct is None or action in CHAIN_ONLY:
        return run_chained(chained)
    if action == "create":
        return _create(ct, chained)
    from . import chkpnt, ctlimits, vzctlcmd
    verb, opts = vzctlcmd.vzctl_call(vzctlcmd.parent_argv())
    if action == "premount":
        if vzctlcmd.is_libvzctl():
            raise VzzfsError("OpenVZ 7's vzctl is not supported for zvol CTs yet: it would run "
                             "the CT's own scripts from %s/scripts, inside the container's file "
                             "system, as root on the host" % ct.ve_private,
                             "run zvol CTs on a vzctl 4.x node (README: Supported OpenVZ "
                             "versions)")
        ctlimits.before_mount(ct, verb)
        if chkpnt.is_restore(ct, verb, opts):
            chkpnt.before_restore(ct)
        mounted_now = actions.attach(ct)
        rc = run_chained(chained)
        if rc and mounted_now:
            actions.detach(ct)  # vzctl aborts the mount: leave nothing behind
        elif not rc:
            # here, not in the mount hook: its shim starts no Python (hookwire.CHECK_ONLY)
            ctlimits.after_mount(ct, verb)
        return rc
    if action == "mount":
        try:
            actions.check_mounted(ct)
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


def _is_ours(action, node, ctid, conffile):
    """Is CT ``ctid`` vzzfs's for this hook? Reads only what decides it (the CT's
    conf, vzzfs.conf's VZZFS_ROOT, the zvol's name, VE_PRIVATE's state), so the
    checks that would refuse a bad value run only for a CT vzzfs owns (in
    Container). vzctl create's hook owns the new CT only with VZZFS_AUTO_CREATE."""
    own = config.parse_file(conffile, missing_ok=True)
    try:
        vzzfs = config.parse_file(node.vzzfs_conf, missing_ok=True)
    except ConfigError:
        return True  # unreadable: whether it claims this CT is unknown; Container says why
    if action == "create":
        value = own.get("VZZFS_AUTO_CREATE", vzzfs.get("VZZFS_AUTO_CREATE", "no"))
        try:
            return config.parse_bool(value, "VZZFS_AUTO_CREATE")
        except ConfigError:
            return True  # a typo in the one setting that decides: refuse, naming it
    if own.get("VZZFS_DATASET"):
        return True  # decides alone (actions.owns): nothing more to read
    private = config.expand_veid(
        "VE_PRIVATE", config.merge(node.global_params(), own).get("VE_PRIVATE",
                                                                  "/vz/private/$VEID"), ctid)
    private = os.path.normpath(private) if private.startswith("/") else None
    guarded = private is not None and volume.is_guarded(private)
    if guarded:
        return True  # decides alone: no zfs command to ask about the zvol
    try:
        root = names.check_dataset_name(vzzfs.get("VZZFS_ROOT", config.DEFAULTS["VZZFS_ROOT"]),
                                         "VZZFS_ROOT")
    except ConfigError:
        zvol, mounted = "unknown", private is not None and actions.zvol_mounted_on(private)
    else:
        dataset = names.ct_dataset(root, ctid)
        if private is not None and actions.zvol_mounted_on(private, dataset):
            return True  # that zvol is mounted on VE_PRIVATE (postumount): no zfs to ask
        zvol, mounted = actions.zvol_state(dataset), False
    return actions.owns(False, zvol, False, mounted)


def _warn_if_broken(node, ctid):
    """For a CT vzzfs passes by: one warning line if vzzfs.conf would stop its own CTs."""
    try:
        node.settings()
    except ConfigError as e:
        log.warn("CT %s is not vzzfs's and goes on, but %s stops vzzfs's CTs: %s"
                 % (ctid, node.vzzfs_conf, e.line()))


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
        ctid = names.check_ctid(veid)
        node = Node.from_conffile(conffile)
        if action in CHAIN_ONLY:
            return run_chained(chained)
        if not _is_ours(action, node, ctid, conffile):
            _warn_if_broken(node, ctid)
            return run_hook(action, None, chained)
        from .ct import Container
        return run_hook(action, Container(ctid, node, conffile), chained)
    except VzzfsError as e:
        if e.ctid is None:
            e.ctid = veid
        log.error(e.line())
        return e.exit_code
    except KeyboardInterrupt:  # vzctl run from a terminal, Ctrl-C: one line, no traceback
        log.error("CT %s: %s hook interrupted" % (veid, action))
        return EXIT_INTERRUPTED
    except Exception as e:  # a bug must still fail the hook with one clear line
        log.error("CT %s: %s hook failed unexpectedly: %s: %s (report this as a vzzfs bug)"
                  % (veid, action, type(e).__name__, e))
        return EXIT_ERROR
