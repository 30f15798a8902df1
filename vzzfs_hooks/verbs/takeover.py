"""vzzfs takeover and vzzfs demote: a replica of vzzfs replicate becomes the CT, and the
node it came from becomes its replica again.

`vzzfs takeover CTID [--peer 'ssh root@node1']`, on the replica's node after losing
the source: names the last replicated snapshot and how old it is, discards a cut
stream left there, clears the replica mark (autosnap snapshots the CT again and
replicate sends it), and refuses while the source still runs the CT, when --peer
can ask it (`vzctl status`).

`vzzfs demote CTID [--destroy-newer]`, on the old source once it is back (the CT
stopped there): asks the node that took it over (VZZFS_REPLICATE_TO, its vzzfs
receive --status) for its snapshots, rolls this zvol back to the newest snapshot
both have and marks it a replica, so that node's `vzzfs replicate` sends only what
came after, incrementally: never a full resend while one common snapshot exists.
What the rollback would lose (snapshots or writes after that snapshot) is refused
unless --destroy-newer. The decisions are rules/backupchain.py's.
"""

import time

from ..base import log, names
from ..base.errors import ConfigError, StateError
from ..rules import backupchain
from ..system import lock, zfs
from . import snapshots, transfer


def _is_replica(ct):
    return zfs.get(ct.dataset, names.PROP_REPLICA).get(names.PROP_REPLICA) == "yes"


def takeover(ct, peer_argv=None):
    """Make the replica ``ct`` the CT; returns what was taken over."""
    ct.require_conf()
    with lock.ct_lock(ct, "vzzfs takeover"):
        ct.require_stopped("takeover")
        rows = snapshots.rows(ct)
        newest = rows[-1] if rows else None
        state = transfer.remote_state(peer_argv, ct.ctid) if peer_argv else None
        refusal = backupchain.takeover_refusal(_is_replica(ct), newest, state)
        if refusal:
            raise StateError(refusal[0], refusal[1], ctid=ct.ctid)
        if peer_argv and state is None:
            log.warn("CT %s: the node it came from could not be asked whether it still "
                     "runs it; taking over anyway" % ct.ctid)
        aborted = transfer.abort(ct.node, ct.ctid)
        if aborted:
            log.warn("CT %s: discarded the cut stream of a later snapshot: %s"
                     % (ct.ctid, ", ".join(aborted)))
        zfs.zfs("inherit", names.PROP_REPLICA, ct.dataset, name=ct.dataset)
    return {"snapshot": newest["name"], "age": time.time() - newest["created"],
            "peer": state, "aborted": aborted}


def demote(ct, to_argv, destroy_newer=False):
    """Make this node's ``ct`` the replica of the node ``to_argv`` reaches (vzzfs
    receive there), rolled back to the newest snapshot both have."""
    ct.require_conf()
    if to_argv is None:
        raise ConfigError("VZZFS_REPLICATE_TO is not set in vzzfs.conf",
                          "set it to the command that runs vzzfs receive on the node that "
                          "took the CT over")
    remote = transfer.peer_status(to_argv, ct.ctid)
    with lock.ct_lock(ct, "vzzfs demote"):
        ct.require_stopped("demote")
        if _is_replica(ct):
            raise StateError("is a replica already", "nothing to do", ctid=ct.ctid)
        rows = snapshots.rows(ct)
        shared = [r for r in rows if r["name"] in remote["snapshots"]]
        written = 0
        if shared:
            key = "written@" + shared[-1]["name"]
            written = int(zfs.get(ct.dataset, key).get(key) or 0)
        plan, refusal = backupchain.demote_plan(rows, remote["snapshots"], written,
                                                destroy_newer)
        if refusal:
            raise StateError(refusal[0], refusal[1], ctid=ct.ctid)
        base, newer = plan
        # the base's dump, if any, goes with nothing: only newer snapshots are destroyed
        snap = snapshots.full_name(ct, base)
        marks = {names.PROP_REPLICA: "yes"}
        if newer or written:
            zfs.rollback(snap, destroy_newer=bool(newer))
            # a rollback leaves a few KiB 'written' behind, which the next increment
            # would count as a change since its base: the guid says it is none
            marks[names.PROP_ROLLED_BACK] = zfs.get(snap, "guid")["guid"]
        zfs.set_props(ct.dataset, marks)
    return {"base": base, "destroyed": newer}
