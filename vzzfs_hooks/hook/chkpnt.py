"""The hooks' part in plain `vzctl chkpnt` and `vzctl restore`.

vzctl has no checkpoint hook, but a full `vzctl chkpnt CTID` dumps the CT, kills
it and then runs the umount chain, and `vzctl restore` (or a start that finds
the dump) runs the mount chain. The process that runs a hook is vzctl itself,
so its command line tells which of these is happening. At that postumount the
zvol is snapshotted as vzzfs-chkpnt-TIME with the dump file recorded; at the
restore's premount the zvol must not have been written since (ZFS 'written'),
or the restored processes would find files that changed under them.

The command line is read from /proc/PPID/cmdline: the same thing psutil reads,
without needing psutil on the node.
"""

import os

from ..base import log, names
from ..system import vzctl, zfs

# snapshots (and the lock and file code behind it) is imported where a chkpnt or a
# restore needs it: every premount and postumount imports this module.
from ..base.errors import StateError, VzzfsError

def _dumpfile(ct, opts):
    if "--dumpfile" in opts:
        i = opts.index("--dumpfile")
        if i + 1 < len(opts):
            return opts[i + 1]
    return vzctl.default_dumpfile(ct)


def is_full_chkpnt(verb, opts):
    """A `vzctl chkpnt` that dumps and kills (the step-wise ones run no script)."""
    steps = ("--suspend", "--dump", "--resume", "--kill")
    return verb in vzctl.CHKPNT_VERBS and not any(o in steps for o in opts)


def after_chkpnt(ct, opts):
    """postumount of a full chkpnt: snapshot the detached zvol, recording the dump.

    A failure here is a warning: the dump and the CT's data are fine, only the
    restore check will not be possible.
    """
    from ..verbs import snapshots
    dumpfile = _dumpfile(ct, opts)
    name = snapshots.unique_name(ct, names.CHKPNT_PREFIX)
    props = {names.PROP_KIND: names.KIND_CHKPNT, names.PROP_SNAP_STATE: "stopped",
             names.PROP_DUMP: dumpfile}
    conf = snapshots.encode_conf(ct.conffile)
    if conf:
        props[names.PROP_CONF] = conf
    try:
        _prune(ct, dumpfile)
        zfs.snapshot([snapshots.full_name(ct, name)], props)
        log.info("CT %s: checkpointed; zvol snapshot %s@%s goes with dump %s"
                 % (ct.ctid, ct.dataset, name, dumpfile))
    except VzzfsError as e:
        log.warn("CT %s: no snapshot taken at chkpnt, vzctl restore cannot be checked: %s"
                 % (ct.ctid, e.line()))


def _prune(ct, new_dumpfile):
    """Drop earlier chkpnt snapshots whose dump is gone (restored, or removed) or has
    just been overwritten by this chkpnt's."""
    from ..verbs import snapshots
    for row in snapshots.rows(ct):
        if (row["kind"] == names.KIND_CHKPNT and not row["clones"]
                and (row["dumpfile"] == new_dumpfile or not os.path.exists(row["dumpfile"]))):
            zfs.destroy(snapshots.full_name(ct, row["name"]))


def is_restore(ct, verb, opts):
    if verb in vzctl.RESTORE_VERBS:
        return True
    return verb == "start" and os.path.exists(vzctl.default_dumpfile(ct))


def dump_snapshot(rows, dumpfile, rolled_back=None):
    """The snapshot a restore from ``dumpfile`` must find the disk unchanged since: the
    newest one taken with that dump (vzctl chkpnt's, or vzzfs snapshot --dump's), or
    the one snapshot-switch just rolled back to (``rolled_back``: its guid, the
    zvol's PROP_ROLLED_BACK; the dump is then a copy). None when no snapshot goes with
    it. Pure: ``rows`` as snapshots.rows gives them, oldest first. Never merely the
    newest snapshot: a scheduled one taken while the CT was stopped (autosnap) would
    then pass a disk written after the dump."""
    if rolled_back:
        for row in reversed(rows):
            if row.get("guid") == rolled_back:
                return row
    for row in reversed(rows):
        if row.get("dumpfile") and row["dumpfile"] == dumpfile:
            return row
    return None


def before_restore(ct, opts=()):
    """premount of a restore: refuse when the zvol changed after the snapshot taken
    with the dump (at vzctl chkpnt, or vzzfs snapshot --dump then snapshot-switch)."""
    from ..verbs import snapshots
    props = zfs.get(ct.dataset, names.PROP_ROLLED_BACK)
    row = dump_snapshot(snapshots.rows(ct), _dumpfile(ct, list(opts)),
                        props.get(names.PROP_ROLLED_BACK))
    if row is None:
        log.warn("CT %s: no snapshot of the zvol was taken with this dump; cannot check "
                 "that its files are as the dump expects" % ct.ctid)
        return
    last = row["name"]
    if props.get(names.PROP_ROLLED_BACK) == row["guid"]:
        return  # vzzfs snapshot-switch rolled the zvol back to it a moment ago
    key = "written@" + last
    written = int(zfs.get(ct.dataset, key).get(key) or 0)
    if written and ct.settings.restore_check:
        raise StateError("its disk changed after vzctl chkpnt (%d bytes written since snapshot "
                         "%s); the restored processes would not match their files"
                         % (written, last),
                         "roll back with vzzfs snapshot-switch %s %s, or set "
                         "VZZFS_RESTORE_CHECK=no to restore anyway" % (ct.ctid, last),
                         ctid=ct.ctid)
    if written:
        log.warn("CT %s: restoring although %d bytes changed since %s (VZZFS_RESTORE_CHECK=no)"
                 % (ct.ctid, written, last))
