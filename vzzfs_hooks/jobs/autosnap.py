"""vzzfs autosnap: scheduled snapshots and their pruning, for every CT with a policy.

For each vzzfs CT whose VZZFS_SNAPSHOT_KEEP (node-wide or its own conf) is set,
under the CT's lock: take a consistent snapshot (as `vzzfs snapshot` does) of
kind 'auto' when one is due, then destroy the kind=auto snapshots the policy no
longer keeps. Both decisions are retention.py's; other kinds (snapshot, chkpnt,
backup, send, clone, ones made by hand), clones' origins, held and mounted
snapshots are never destroyed, nor the newest snapshot the replication peer
has (vzzfs replicate marks it: the base of its next increment). A replica
received from vzzfs replicate is pruned but never snapshotted. Running late or
twice is harmless: a run takes at most one snapshot per CT, and only when the
newest is about an interval old.

The systemd timer (vzzfs-autosnap.timer) runs it. Each CT's outcome goes to
syslog and to a small state file (jobs/outcomes.py: autosnap.json) that `vzzfs check`
reads: a CT whose last run failed is reported until a run succeeds.
"""

import time

from ..base import log, names
from ..base.errors import ConfigError, DatasetBusy, StateError
from ..rules import retention
from ..system import lock, zfs
from ..verbs import snapshots
from . import outcomes

STATE_FILE = "autosnap.json"      # in outcomes.STATE_DIR
POLICY_KEY = "VZZFS_SNAPSHOT_KEEP"


def state_path():
    return outcomes.path(STATE_FILE)


def policy_of(ct):
    """The CT's parsed policy ([] when off); a bad one is a ConfigError naming the CT."""
    try:
        return retention.parse_policy(ct.settings.raw.get(POLICY_KEY, ""), POLICY_KEY)
    except ConfigError as e:
        raise ConfigError(e.problem, e.fix, ctid=ct.ctid)


def is_replica(ct):
    """Whether CT ``ct``'s zvol was received from vzzfs replicate (names.PROP_REPLICA):
    autosnap prunes its scheduled snapshots by the policy but takes none."""
    return zfs.get(ct.dataset, names.PROP_REPLICA).get(names.PROP_REPLICA) == "yes"


def run_ct(ct, policy):
    """Snapshot CT ``ct`` if due and prune its scheduled snapshots; returns
    {"taken": name or None, "pruned": [names], "skipped": [(name, why)]}."""
    ct.require_conf()
    done = {"taken": None, "pruned": [], "skipped": []}
    snapshots.preflush(ct)  # before the lock: vzctl finds the CT locked briefly
    with lock.ct_lock(ct, "vzzfs autosnap"):  # the claim rule runs under it
        now = time.time()
        rows = snapshots.rows(ct)
        auto = [r["created"] for r in rows if r["kind"] == names.KIND_AUTO]
        # a replica's next increment is refused if it has a snapshot of its own
        if not is_replica(ct) and retention.is_due(auto, policy, now):
            # the rows listed under this lock name what is taken: no zfs list again
            name = snapshots.free_name(ct, retention.snapshot_name(now),
                                       set(r["name"] for r in rows))
            snapshots.take(ct, name, kind=names.KIND_AUTO, rows=rows)
            done["taken"] = name
            rows = snapshots.rows(ct)
            now = max(now, time.time())
        for name in retention.prune(rows, policy, now):
            try:
                snapshots.delete(ct, name)
            except (StateError, DatasetBusy) as e:  # mounted, or cloned meanwhile: it stays
                done["skipped"].append((name, e.problem))
                continue
            done["pruned"].append(name)
    done["locked"] = lock.held_for.get(ct.ctid)
    return done


def run_all(node, only=None):
    """autosnap for every vzzfs CT (or the CTIDs in ``only``); returns
    [(ctid, result dict or None when it has no policy, error line or None)]."""
    def work(ct):
        policy = policy_of(ct)
        result = run_ct(ct, policy) if policy else None
        if result:
            for name, why in result["skipped"]:
                log.warn("CT %s: scheduled snapshot %s stays: %s" % (ct.ctid, name, why))
            if result["taken"] or result["pruned"]:
                log.info("CT %s: autosnap took %s, pruned %s; its lock held for %.2f s"
                         % (ct.ctid, result["taken"] or "none",
                            ", ".join(result["pruned"]) or "none", result["locked"] or 0))
        return result
    return outcomes.run_each(node, only, STATE_FILE, work)


def failures():
    """[(ctid, epoch, error line)] of CTs whose last autosnap failed (vzzfs check)."""
    return outcomes.failures(STATE_FILE)
