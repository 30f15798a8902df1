"""The claim rule's decisions, pure: which zvol belongs to which CT (``problem``), and
whether a CT is vzzfs's at all (``owns``). container/claim.py gathers the facts and
every verb that changes or destroys a CT's zvol goes through it (destroy,
snapshot-switch's rollback, restore --force, resize, the snapshot verbs, backup,
convert, the jobs and the hooks). The names it rests on are names.py's.

The layout under VZZFS_ROOT (a node-wide setting, never taken from a CT's conf):
ROOT/ct/CTID is CT CTID's zvol, ROOT/tmpl/NAME a template, ROOT/incoming/ holds
streams being received (no CTID can name a dataset there). A zvol anywhere else is
a CT's only when its org.openvz.vzzfs:ctid property names that CT. Never a pool's
root, never VZZFS_ROOT or a dataset above it, never one that another CT's conf
(VZZFS_DATASET) or the property claims.
"""

from ..base.names import CT_DIR, PROP_CTID, ct_dataset


def problem(ctid, dataset, root, prop_ctid=None, claimed_by=()):
    """None if ``dataset`` is CT ``ctid``'s zvol, else (problem, fix) saying why not.

    ``root``: the node's VZZFS_ROOT; ``prop_ctid``: the dataset's
    org.openvz.vzzfs:ctid (None when unset); ``claimed_by``: the CTIDs whose conf
    names ``dataset`` in VZZFS_DATASET. Pure: asks nothing of ZFS or the disk.
    """
    ctid = str(ctid)
    mine = ct_dataset(root, ctid)
    where = "point VZZFS_DATASET at this CT's own zvol (%s) or remove it" % mine
    if "@" in dataset:
        return "%s is a snapshot, not a CT's zvol" % dataset, where
    if "/" not in dataset:
        return "%s is the root of a pool, not a CT's zvol" % dataset, where
    if dataset == root or (root + "/").startswith(dataset + "/"):
        return "%s is VZZFS_ROOT or a dataset above it, not a CT's zvol" % dataset, where
    if prop_ctid and prop_ctid != ctid:
        return ("zvol %s belongs to CT %s (%s=%s)" % (dataset, prop_ctid, PROP_CTID, prop_ctid),
                where)
    others = sorted(set(str(c) for c in claimed_by) - {ctid})
    if others:
        return ("zvol %s is claimed by the conf of CT %s too" % (dataset, ", ".join(others)),
                "make each CT's VZZFS_DATASET name its own zvol")
    if dataset == mine:
        return None
    if dataset.startswith(root + "/"):
        return ("%s is under VZZFS_ROOT but is not this CT's %s" % (dataset, mine), where)
    if prop_ctid == ctid:
        return None
    return ("zvol %s is outside %s/%s and not marked as this CT's" % (dataset, root, CT_DIR),
            "if it is, mark it: zfs set %s=%s %s" % (PROP_CTID, ctid, dataset))


def owns(named, zvol, guarded, zvol_mounted=False):
    """Is a CT vzzfs's? Pure: decided from the least that tells, so that nothing else
    of the CT's or vzzfs's config is needed (or checked) for a CT that is not.

    ``named``: the CT's own conf sets VZZFS_DATASET. ``zvol``: what is at the
    conventional ROOT/ct/CTID: "volume", "converting" (vzzfs convert is filling it:
    the CT is ours once its old area is aside, i.e. guarded), None (nothing there,
    or no pool to ask), or "unknown" (VZZFS_ROOT unreadable: no name to ask for).
    ``guarded``: VE_PRIVATE is our guarded empty mount point (so a missing pool is
    reported instead of starting an empty CT). ``zvol_mounted``: a zvol is mounted
    on VE_PRIVATE; it counts only when the conventional name is unknown.
    """
    if named or zvol == "volume":
        return True
    if zvol == "unknown" and zvol_mounted:
        return True
    return guarded
