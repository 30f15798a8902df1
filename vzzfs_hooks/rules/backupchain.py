"""Pure decisions over a CT's snapshot list that lose data if they are wrong.

Which snapshot an incremental backup builds on, which backup and send snapshots
pruning destroys, and whether an incremental stream may go onto a CT that
changed since its base: each is a function of the snapshot rows
(snapshots.rows: oldest first, with kind, clones, holds and the backup's
completeness) and a few numbers, with no I/O, so every edge is unit-tested
without ZFS (tests/unit/test_backupchain.py). backup.py and transfer.py only carry
the answers out.

A backup snapshot is complete once its stream is whole where it went: its file
fsynced and renamed from FILE.partial, or the stream written to stdout to its
end. Only complete ones are a base or count toward --retain; one never
completed (its backup was killed) is pruned by the next --retain.
"""

from ..base.errors import UsageError
from ..base.names import KIND_AUTO, KIND_BACKUP, KIND_SEND, PROP_INFLIGHT, PROP_REPLICATED


def _backups(rows):
    return [r for r in rows if r["kind"] == KIND_BACKUP]


def _may_destroy(row):
    # a clone's origin cannot go; a held one is being streamed (or held by the admin)
    return not row["clones"] and not row.get("holds")


def backup_base(rows):
    """The name of the snapshot ``backup --incremental`` builds on: the newest
    complete backup snapshot, or None when there is none."""
    done = [r for r in _backups(rows) if r.get("complete")]
    return done[-1]["name"] if done else None


def check_retain(retain):
    """None (keep all) or a count of at least 1: the newest backup is a base."""
    if retain is not None and retain < 1:
        raise UsageError("--retain must be at least 1", "keep at least the latest backup")


def backups_to_prune(rows, retain):
    """Names ``--retain N`` destroys: complete backup snapshots older than the newest
    N, and backup snapshots never completed. Other kinds (snapshot, chkpnt, send,
    clone, ones made by hand) are never touched, nor clones' origins or held ones."""
    check_retain(retain)
    if retain is None:
        return []
    backups = _backups(rows)
    done = [r for r in backups if r.get("complete")]
    keep = set(r["name"] for r in done[len(done) - retain:]) if done else set()
    return [r["name"] for r in backups if r["name"] not in keep and _may_destroy(r)]


def sends_to_prune(rows, keep):
    """Names of send snapshots a finished `vzzfs send` destroys: all but ``keep``
    (the one just sent and its base), never clones' origins or held ones."""
    return [r["name"] for r in rows
            if r["kind"] == KIND_SEND and r["name"] not in keep and _may_destroy(r)]


def replication_step(rows, theirs):
    """What `vzzfs replicate` sends: (snapshot, base) names, base None for a full
    stream; or None when there is nothing to send. ``theirs`` is the peer's
    {snapshot name: guid} (vzzfs receive --status). The snapshot is the newest
    scheduled (kind auto) one; the base the newest snapshot of any kind the peer
    has with the same guid. Nothing to send when there is no scheduled snapshot
    yet, or the peer already has one as new (the run is a repeat)."""
    auto = [r for r in rows if r["kind"] == KIND_AUTO]
    if not auto:
        return None
    newest = max(auto, key=lambda r: r["txg"])
    shared = [r for r in rows if r["name"] in theirs and r.get("guid") == theirs[r["name"]]]
    base = max(shared, key=lambda r: r["txg"]) if shared else None
    if base is not None and base["txg"] >= newest["txg"]:
        return None
    return newest["name"], base["name"] if base else None


def inflight_changes(rows, name):
    """{(property, snapshot name): value, None to clear} that mark snapshot ``name`` in
    flight to the replication peer, and no other: one cut stream at a time has a
    resume target (a mark left by a stream since aborted goes)."""
    changes = {(PROP_INFLIGHT, r["name"]): None for r in rows
               if r.get("inflight") and r["name"] != name}
    if not any(r["name"] == name and r.get("inflight") for r in rows):
        changes[(PROP_INFLIGHT, name)] = "yes"
    return changes


def replicated_changes(rows, theirs):
    """{(property, snapshot name): value, None to clear} once the peer answered with
    ``theirs`` ({name: guid}): the newest snapshot it has is marked replicated (the
    next increment's base, which pruning keeps), and those it has are no longer in
    flight."""
    shared = [r for r in rows if r["name"] in theirs and r.get("guid") == theirs[r["name"]]]
    changes = {(PROP_INFLIGHT, r["name"]): None for r in shared if r.get("inflight")}
    if shared and not shared[-1].get("replicated"):  # rows: oldest first
        changes[(PROP_REPLICATED, shared[-1]["name"])] = "yes"
    return changes


def rolled_back_to_base(replica_stream, replica, rolled_back, base_guid):
    """Whether the bytes 'written' since an increment's base are only those a rollback
    leaves (a few KiB of metadata): vzzfs demote rolled this replica back to that very
    base (its PROP_ROLLED_BACK is the base's guid) and the stream is replicate's."""
    return bool(replica_stream and replica and rolled_back and rolled_back == base_guid)


def takeover_refusal(replica, newest, peer_state):
    """None if a replica may be taken over, else (problem, fix). ``replica``: the zvol is
    marked one; ``newest``: its newest snapshot row (the last replicated), or None;
    ``peer_state``: 'running', 'down' or None (the peer was not or could not be asked)."""
    if not replica:
        return ("is no replica (its zvol has no org.openvz.vzzfs:replica mark)",
                "nothing to take over: start it as it is")
    if newest is None:
        return ("its replica has no snapshot yet: the first stream never finished",
                "replicate it again from the node it comes from")
    if peer_state == "running":
        return ("still runs on the node it is replicated from",
                "stop it there first (vzctl stop), or take over without --peer if that "
                "node cannot be reached")
    return None


def demote_plan(rows, theirs, written, destroy_newer):
    """How the old source of a CT taken over becomes the replica of its new source:
    (base name, [names of newer snapshots to destroy]) or a refusal (None, (problem,
    fix)). ``rows``: this zvol's snapshots, oldest first; ``theirs``: the new source's
    {name: guid}; ``written``: bytes written here since the base. The base is the
    newest snapshot both have: rolled back to it, this zvol takes the new source's
    increments from there, never a full resend. What would be lost (newer snapshots,
    writes since) only with ``destroy_newer``."""
    shared = [r for r in rows if r["name"] in theirs and r.get("guid") == theirs[r["name"]]]
    if not shared:
        return None, ("shares no snapshot with the node that took it over, so only a full "
                      "resend could make it a replica",
                      "vzzfs destroy it here; the other node's vzzfs replicate then sends "
                      "it whole")
    base = max(shared, key=lambda r: r["txg"])
    newer = [r["name"] for r in rows if r["txg"] > base["txg"]]
    if (newer or written) and not destroy_newer:
        lost = ([("snapshots %s" % ", ".join(newer))] if newer else []) + (
            ["%s written" % _mib(written)] if written else [])
        return None, ("has %s since %s, the newest snapshot both nodes have"
                      % (" and ".join(lost), base["name"]),
                      "pass --destroy-newer to roll it back to %s (they are lost), or "
                      "vzzfs clone it first" % base["name"])
    return (base["name"], newer), None


def _mib(n):
    return "%.1f MiB" % (n / 1048576.0) if n >= 1 << 20 else "%d bytes" % n


def snapshot_order(found, dataset):
    """The names of ``dataset``'s snapshots, oldest first, from zfs.get_many's values
    of it asked recursively with createtxg."""
    prefix = dataset + "@"
    taken = sorted((int(props.get("createtxg") or 0), name[len(prefix):])
                   for name, props in found.items() if name.startswith(prefix))
    return [name for _, name in taken]


def written_since_newest(order, base, written):
    """Bytes written to the zvol since snapshot ``base``: its ``written`` property when
    ``base`` is the newest of ``order`` (what written@base would say), else None (ask
    zfs for written@base)."""
    if order and order[-1] == base:
        return int(written or 0)
    return None


def incremental_refusal(names, base, written, force):
    """None if an incremental stream from ``base`` may be received onto a zvol whose
    snapshots are ``names`` (oldest first) and that has ``written`` bytes written
    since ``base``; else (problem, fix). Receiving rolls the zvol back to ``base``
    first, so writes and snapshots newer than it are lost: only with ``force``."""
    if base not in names:
        return ("lacks snapshot %s that this incremental builds on" % base,
                "restore the backups in order, starting from a full one")
    if force:
        return None
    newer = names[names.index(base) + 1:]
    lost = []
    if written:
        lost.append("%s written since %s" % (_mib(written), base))
    if newer:
        lost.append("snapshot%s %s, newer than %s" % ("s" if len(newer) > 1 else "",
                                                       ", ".join(newer), base))
    if not lost:
        return None
    return ("has %s; receiving this incremental would discard %s"
            % (" and ".join(lost), "them" if len(lost) > 1 or len(newer) > 1 else "it"),
            "pass --force to discard %s, or restore the chain as another CT with --ctid NEW"
            % ("them" if len(lost) > 1 or len(newer) > 1 else "it"))
