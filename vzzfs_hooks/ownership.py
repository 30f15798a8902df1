"""Which zvol belongs to which CT: the one rule every verb that changes or destroys a
CT's zvol goes through (destroy, snapshot-switch's rollback, restore --force,
resize, the snapshot verbs, backup, convert and the hooks). The names it rests on
are names.py's.

The layout under VZZFS_ROOT (a node-wide setting, never taken from a CT's conf):
ROOT/ct/CTID is CT CTID's zvol, ROOT/tmpl/NAME a template, ROOT/incoming/ holds
streams being received (no CTID can name a dataset there). A zvol anywhere else is
a CT's only when its org.openvz.vzzfs:ctid property names that CT. Never a pool's
root, never VZZFS_ROOT or a dataset above it, never one that another CT's conf
(VZZFS_DATASET) or the property claims.
"""

import os

from . import zfs
from .config import parse_text
from .names import CT_DIR, PROP_CTID, ct_dataset
from .errors import ConfigError, DatasetNotFound

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


def claims(node, dataset):
    """CTIDs whose conf on ``node`` names ``dataset`` as VZZFS_DATASET.

    Cheap enough for a hook: a file is parsed only if its bytes hold the name.
    """
    found = []
    needle = dataset.encode()
    for ctid, path in node.ct_confs():
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            continue
        if needle in data and parse_text(os.fsdecode(data)).get("VZZFS_DATASET") == dataset:
            found.append(ctid)
    return found


def check(ct, prop_ctid):
    """Raise ConfigError unless ``ct.dataset`` is ``ct``'s (``prop_ctid`` already read)."""
    found = problem(ct.ctid, ct.dataset, ct.settings.root, prop_ctid,
                    claims(ct.node, ct.dataset))
    if found:
        raise ConfigError("refusing to touch %s: %s" % (ct.dataset, found[0]), found[1],
                          ctid=ct.ctid)


def require(ct):
    """Raise ConfigError unless ``ct.dataset`` is ``ct``'s. A missing dataset passes:
    there is nothing to harm, and callers report it their way."""
    try:
        prop = zfs.get(ct.dataset, PROP_CTID).get(PROP_CTID)
    except DatasetNotFound:
        return
    check(ct, prop)
