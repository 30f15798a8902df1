"""Backups as ZFS send streams, and restoring them: the CT's conf travels in the stream.

A backup is one header line, then the output of `zfs send`:

    VZZFS-BACKUP 1 <base64 of a JSON header>\\n<zfs send stream>

The header names the CT, the snapshot, the base snapshot of an incremental (with
its guid), the zvol's properties and the CT's conf, so a restore needs nothing
else, and which kind of stream follows (rules/streams.py: "compressed", the
blocks as they are on disk, with what the receiving pool needs for it, or
"plain"; a header that says none is from before issue 28: plain). ZFS checksums
every record of its stream: a truncated or damaged one makes `zfs receive` fail,
and a restore then leaves nothing behind.

No byte of the stream passes through Python: the header is read from the file
descriptor byte by byte where it cannot be read ahead and sought back (a pipe),
and the descriptor, at the stream's first byte, is zfs receive's input.

The CT's lock is held only while the snapshot is taken and the header read
(the conf must match the snapshot); the stream runs without it, so vzctl can
stop, restart or set the CT meanwhile, and a zfs hold keeps the snapshot and
its base from being destroyed until the stream ends. The snapshot is marked
complete (names.PROP_BACKUP) only once the stream is whole where it went;
which snapshot is a base and which are pruned, and what an incremental restore
may overwrite, are rules/backupchain.py's decisions.
"""

import base64
import contextlib
import json
import os
import time

from ..base import faults, log, names, runner
from ..base.errors import (DatasetBusy, EmptyStream, LockedError, StateError, StreamError,
                            UsageError, VzzfsError)
from ..base.fileio import create_new, fsync_dir, read_text
from ..base.names import PROP_CTID, check_ctid, check_new_ctid
from ..base.revert import Reverter
from ..conf import config, ctconf
from ..rules import backupchain, confimport, conftranslate, received, streams
from ..system import lock, vzctl, zfs
from ..container import claim
from ..container.ct import Container
from . import lifecycle, relayout, snapshots

MAGIC = b"VZZFS-BACKUP 1 "
MAX_HEADER = 1 << 20


def hold_tag():
    """The zfs hold this process puts on the snapshots it streams."""
    return "vzzfs-stream-%d" % os.getpid()


# ---- the stream's header ----

def _header_conf(ct):
    """The CT's conf for the header's JSON: its bytes as UTF-8, any others escaped
    (surrogateescape), so that every node reads back the same bytes whatever its locale."""
    with open(ct.conffile, "rb") as f:
        return f.read().decode("utf-8", "surrogateescape")


def _stream_fields(header, kind, needs):
    header["stream"] = kind
    if kind == streams.COMPRESSED:
        header["stream_needs"] = list(needs)


def make_header(ct, snap, base=None, replica=False, kind=streams.PLAIN, needs=(),
                keep_layout=False):
    """``replica``: the receiver marks the zvol a replica (vzzfs replicate's streams);
    ``kind``: the stream that follows (streams.*), ``needs``: what a compressed one
    needs of the receiving node (zfs.stream_needs); ``keep_layout``: the receiver keeps
    the files in the sender's layout (send and migrate: the next increment builds on
    them; migrate, or the operator with vzzfs relayout, lays them out there)."""
    conf = _header_conf(ct)
    # one zfs get for the snapshot and its base
    props = zfs.get_many([n for n in (snap, base) if n], "guid", names.PROP_LAYOUT)
    header = {"ctid": ct.ctid, "dataset": ct.dataset, "snapshot": snap.split("@", 1)[1],
              "guid": props[snap]["guid"], "created": int(time.time()),
              "conf": conf, "base": None, "base_guid": None,
              "layout": props[snap].get(names.PROP_LAYOUT) or names.LAYOUT_LEGACY,
              "platform": ct.platform}
    if replica:
        header["replica"] = True
    if keep_layout:
        header["keep_layout"] = True
    if base:
        header["base"] = base.split("@", 1)[1]
        header["base_guid"] = props[base]["guid"]
    _stream_fields(header, kind, needs)
    return MAGIC + base64.b64encode(json.dumps(header).encode()) + b"\n"


def resume_header(ct, token, resume_into, replica=False, kind=streams.PLAIN, needs=(),
                  keep_layout=False):
    """The header for a stream that finishes an interrupted one (zfs send -t): of the
    kind the cut one was (zfs.resume_info)."""
    conf = _header_conf(ct)
    header = {"ctid": ct.ctid, "dataset": ct.dataset, "resume": True,
              "resume_into": resume_into, "created": int(time.time()), "conf": conf,
              "snapshot": None, "base": None, "base_guid": None,
              "layout": zfs.get(ct.dataset, names.PROP_LAYOUT).get(names.PROP_LAYOUT)
              or names.LAYOUT_LEGACY, "platform": ct.platform}
    if replica:
        header["replica"] = True
    if keep_layout:
        header["keep_layout"] = True
    _stream_fields(header, kind, needs)
    return MAGIC + base64.b64encode(json.dumps(header).encode()) + b"\n"


def _header_line(stream):
    """The header's bytes up to and with its newline (or what came before the end, a
    wrong start or MAX_HEADER), leaving ``stream``'s file descriptor at the byte
    after: a regular file is read ahead and sought back, anything else (a pipe)
    read a byte at a time, since zfs receive reads the rest from the descriptor
    itself. A stream without one (tests) is read through Python."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        fd = None
    if fd is None:
        read = stream.read
    elif runner.is_file(fd):
        start = os.lseek(fd, 0, os.SEEK_CUR)
        data = b""
        while b"\n" not in data and len(data) <= MAX_HEADER:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            data += chunk
        line = data[:data.index(b"\n") + 1] if b"\n" in data else data[:MAX_HEADER + 1]
        os.lseek(fd, start + len(line), os.SEEK_SET)
        return line
    else:
        def read(n):
            return os.read(fd, n)
    line = read(len(MAGIC))
    while line.startswith(MAGIC) and not line.endswith(b"\n") and len(line) <= MAX_HEADER:
        byte = read(1)
        if not byte:
            break
        line += byte
    return line


def read_header(stream):
    """The header of a backup on ``stream`` (binary), leaving it at the zfs stream."""
    line = _header_line(stream)
    if not line:
        raise EmptyStream("this is not a vzzfs backup (it is empty)",
                          "give a file written by vzzfs backup or vzzfs send")
    if not line.startswith(MAGIC) or not line.endswith(b"\n"):
        raise StreamError("this is not a vzzfs backup (no VZZFS-BACKUP header)",
                          "give a file written by vzzfs backup or vzzfs send")
    try:
        header = json.loads(base64.b64decode(line[len(MAGIC):].strip()).decode())
        if header.get("snapshot") is not None:
            names.check_snapshot_name(header["snapshot"])
        if header.get("base") is not None:
            names.check_snapshot_name(header["base"])
        if not isinstance(header["conf"], str) or header.get("resume_into") not in (
                None, "full", "increment"):
            raise ValueError("bad header")
        # to this node's text for a conf (a surrogate no byte gives: UnicodeError, damaged)
        header["conf"] = os.fsdecode(header["conf"].encode("utf-8", "surrogateescape"))
        check_ctid(header["ctid"])
        stream_layout(header)
        if not isinstance(header.get("stream", ""), str):
            raise ValueError("bad stream kind")
    except (ValueError, KeyError, TypeError, AttributeError, VzzfsError):
        raise StreamError("the backup's header is damaged", "use another copy of the backup")
    return header


# ---- backup ----

def backup(ct, out, incremental=False, retain=None, complete=None, plain=False):
    """Snapshot ``ct`` consistently and write a backup of it to ``out`` (binary).

    ``complete`` (backup_to_file) makes the written stream durable where it
    went; only then is the snapshot marked complete, so it can be a base.
    ``plain``: a plain stream (streams.PLAIN), for a node whose zfs cannot take
    the compressed one written otherwise.
    """
    backupchain.check_retain(retain)
    kind = streams.PLAIN if plain else streams.COMPRESSED
    needs = () if plain else zfs.stream_needs(ct.pool)
    hold = zfs.Hold(hold_tag())
    try:
        with Reverter() as undo:
            snapshots.preflush(ct)  # before the lock: vzctl finds the CT locked briefly
            with lock.ct_lock(ct, "vzzfs backup"):
                base = rows = None
                if incremental:
                    rows = snapshots.rows(ct)
                    name = backupchain.backup_base(rows)
                    if name is None:
                        raise UsageError("has no complete earlier backup to be incremental "
                                         "from", "run a full backup first (without "
                                         "--incremental)", ctid=ct.ctid)
                    base = snapshots.full_name(ct, name)
                done = snapshots.take(ct, prefix=names.BACKUP_PREFIX, kind=names.KIND_BACKUP,
                                      rows=rows)
                snap = done["snapshot"]
                undo.add("destroy %s" % snap, zfs.destroy, snap)
                undo.add("release the hold on %s" % snap, hold.release)  # before the destroy
                hold.add([snap, base])
                # the conf as it was at the snapshot
                header = make_header(ct, snap, base, kind=kind, needs=needs)
            # the lock is free: vzctl may stop, restart or set the CT while this runs
            out.write(header)
            faults.point("backup.streaming")
            sent = zfs.send(snap, out, base, "CT %s: backup" % ct.ctid, kind=kind)
            out.flush()
            if complete:
                complete()
            zfs.zfs("set", "%s=complete" % names.PROP_BACKUP,
                    "%s=%d" % (names.PROP_STREAM_BYTES, len(header) + sent), snap, name=snap)
            undo.commit()
    finally:
        hold.release()
    if retain:
        prune(ct, "vzzfs backup", lambda rows: backupchain.backups_to_prune(rows, retain))
    return {"snapshot": snap, "base": base, "bytes": len(header) + sent, "kind": kind,
            "window": done["window"], "locked": lock.held_for.get(ct.ctid)}


def prune(ct, status, choose, rows=None):
    """Destroy the snapshots ``choose(rows)`` names, under the CT's lock (``status``:
    the lock's; None when the caller holds it, and ``rows``, if given, are the
    snapshots it listed under it). A CT locked meanwhile, or a snapshot that will
    not go, is kept for the next run."""
    try:
        with lock.ct_lock(ct, status) if status else contextlib.ExitStack():
            for name in choose(snapshots.rows(ct) if rows is None else rows):
                zfs.destroy(snapshots.full_name(ct, name))
    except (LockedError, DatasetBusy) as e:
        log.warn("CT %s: old snapshots not pruned: %s; the next run prunes them"
                 % (ct.ctid, e.problem))


def backup_to_file(ct, path, incremental=False, retain=None, plain=False):
    """A backup into ``path``, written as path.partial and renamed when complete."""
    partial = path + ".partial"
    try:
        out = create_new(partial)
    except FileExistsError:
        raise UsageError("%s already exists" % partial,
                         "remove it (left by an interrupted backup?) and retry", ctid=ct.ctid)
    except OSError as e:
        raise UsageError("cannot write %s: %s" % (partial, e.strerror),
                         "check the directory and its free space", ctid=ct.ctid)

    def complete():  # on disk and under its name before the snapshot counts as a base
        os.fsync(out.fileno())
        os.rename(partial, path)
        fsync_dir(os.path.dirname(os.path.abspath(path)))

    try:
        with out:
            result = backup(ct, out, incremental, retain, complete, plain)
    finally:
        if os.path.exists(partial):  # ours: created above, exclusively
            os.unlink(partial)
    return result


# ---- restore ----

def restore(node, stream, ctid=None, force=False, resumable=False, limits=None, offers=None):
    """Restore a backup read from ``stream`` (binary) as CT ``ctid`` (default: its own).

    ``limits`` (forced.Limits): what a sender may do, for vzzfs receive behind an
    ssh forced command. ``offers``: {pool: zfs.stream_offer} this process asked already.
    """
    header = read_header(stream)
    # a number, never a name: `--ctid web` must not become a CT that `destroy web`
    # would resolve to another one; the stream's own CTID is checked alike
    ct = Container(check_new_ctid(node.names_dir, ctid or header["ctid"],
                                  uuid_ok=lifecycle.vz7_node(node)), node)
    if limits is not None:
        found = zfs.get_many([ct.dataset], names.PROP_REPLICA)  # one zfs get: is it there
        if ct.dataset not in found:
            zfs.pool_health(ct.pool)  # zfs says "does not exist" of a missing pool too
        increment = bool(header["base"]) or header.get("resume_into") == "increment"
        onto_replica = (increment and header.get("replica") is True and found.get(
            ct.dataset, {}).get(names.PROP_REPLICA) == "yes")
        limits.check(ct.ctid, ct.has_conf or ct.dataset in found, onto_replica)
        force = limits.force(force)
    _check_stream_kind(ct, header, offers or {})
    resuming = bool(header.get("resume"))
    into_increment = header["resume_into"] == "increment" if resuming else bool(header["base"])
    # the one expression picks the path and the claim check: an increment's is its own
    # `zfs get -r`, under the lock (_restore_increment); a full restore's, the lock's
    with lock.ct_lock(ct, "vzzfs restore", check_claim=not into_increment):
        if into_increment:
            return _restore_increment(ct, header, stream, force, resumable, resuming)
        return _restore_full(ct, header, stream, force, resumable or resuming, resuming)


def _check_stream_kind(ct, header, offers):
    """Refuse, before zfs reads a byte, a stream this node cannot take (streams.refusal):
    zfs would call it damaged. ``offers``: restore's."""
    kind = streams.header_kind(header)
    if kind == streams.PLAIN:
        return
    offered = []
    if kind is not None:
        offered = offers[ct.pool] if ct.pool in offers else zfs.stream_offer(ct.pool)
    refused = streams.refusal(header, offered, ct.pool)
    if refused:
        raise StreamError(refused[0], refused[1])


def _restore_full(ct, header, stream, force, resumable, resuming=False):
    incoming = staging(ct, names.RESTORING)
    parents = [ct.dataset.rsplit("/", 1)[0], incoming.rsplit("/", 1)[0]]
    # one zfs list for the zvol, the staging name and the parents of both
    there = zfs.existing(set([ct.dataset, incoming] + parents
                             + zfs.ancestors(parents[0])[1:] + zfs.ancestors(parents[1])[1:]))
    replacing = ct.has_conf or ct.dataset in there
    if replacing and not force:
        raise StateError("already exists", "restore it as another CT (--ctid NEW), or pass "
                         "--force to replace it", ctid=ct.ctid)
    if replacing:  # the zvol is this CT's: the lock's claim check said so
        ct.require_stopped("restore")
    else:
        lifecycle.check_new_ct(ct, ct.dataset in there)
    zfs.require_pool(ct.pool)
    zfs.ensure_filesystem(parents[0], there)
    zfs.ensure_filesystem(parents[1], there)
    if incoming in there and not resuming:
        _destroy_if_there(incoming)  # left by an interrupted restore or send
    with Reverter() as undo:
        if not resumable:
            undo.add("destroy %s" % incoming, _destroy_if_there, incoming)
        zfs.receive(stream, incoming, resumable=resumable,
                    **_receive_options(ct, header, new=True))
        undo.add("destroy %s" % incoming, _destroy_if_there, incoming)
        props = _forget_received_state(incoming, header)
        if props.get("type", (None,))[0] != "volume":
            raise StreamError("the stream holds no zvol", "give a backup written by vzzfs "
                              "backup or vzzfs send", ctid=ct.ctid)
        old = None
        if ct.dataset in there:  # under the CT's lock since it was asked
            old = staging(ct, names.REPLACED)
            zfs.rename(ct.dataset, old)
            undo.add("rename %s back" % old, zfs.rename, old, ct.dataset)
        zfs.rename(incoming, ct.dataset)
        undo.add("rename %s back" % ct.dataset, zfs.rename, ct.dataset, incoming)
        _mark(ct, header, props)
        _lay_out_on_arrival(ct, header)
        lifecycle.make_dirs(ct, undo)
        _write_conf(ct, header, undo)
        undo.commit()
    if old:
        _destroy_if_there(old)
    return {"ctid": ct.ctid, "dataset": ct.dataset, "snapshot": header["snapshot"],
            "incremental": False}


def _receive_options(ct, header, new, current=None):
    """zfs.receive's exclude and override: no property of the stream's lands
    (rules/received.py); a new zvol gets this node's settings; the zvol is marked
    with its CT and layout (and as a replica) in the same command. ``current``: an
    increment's zvol's values of received.NOT_INHERITED."""
    exclude, override = received.receive_options(
        ct.ctid, new, {"compression": ct.settings.compression,
                       "primarycache": ct.settings.primarycache, "dedup": ct.settings.dedup},
        header.get("replica") is True, None if new else current,
        layout=stream_layout(header))
    return {"exclude": exclude, "override": override}


def stream_layout(header):
    """How the stream's ext4 lays out the CT's files (files written before the header
    said so: vzctl 4.x's); anything else is refused as a damaged header."""
    value = header.get("layout") or names.LAYOUT_LEGACY
    if value not in (names.LAYOUT_LEGACY, names.LAYOUT_VZ7):
        raise StreamError("the backup's header names an unknown layout %r" % value,
                          "use a backup written by vzzfs")
    return value


def _lay_out_on_arrival(ct, header):
    """A restored backup is laid out for this node's vzctl, by renames on the zvol. A
    stream from a peer (send, migrate, replicate) keeps the sender's layout: its next
    increment builds on it, and migrate (or the operator: vzzfs relayout) lays it
    out when it is to run here."""
    if header.get("replica") is not True and header.get("keep_layout") is not True:
        relayout.relayout_files(ct, ct.settings, ct.vz7)


def _mark(ct, header, props):
    """Set what the receive's -o did not (received.to_mark: a resumed receive's);
    ``props``: the zvol's after the receive."""
    missing = received.to_mark(props, _received_props(ct, header))
    if missing:
        zfs.set_props(ct.dataset, missing)


def _received_props(ct, header):
    """What this node marks on a zvol it received: its CT, and whether it is a replica
    (a stream of vzzfs replicate says so; only ever a restriction on autosnap)."""
    props = {names.PROP_CTID: ct.ctid, names.PROP_LAYOUT: stream_layout(header)}
    if header.get("replica") is True:
        props[names.PROP_REPLICA] = "yes"
    return props


def _forget_received_state(dataset, header, snapshot=None):
    """Clear the sender's state that rode in on the stream, where zfs receive could
    not be told to leave it out (received.to_clear): its snapshots' vzzfs keys (their
    conf stays: snapshot-switch imports it through the allow-list) and user
    properties of other names; and this node's own state about the zvol that the
    stream makes untrue (a replica mark, unless it is vzzfs replicate's). One `zfs
    get` of the properties, then a `zfs inherit` only for what is set; returns the
    zvol's properties as they were before it ({property: (value, source)})."""
    if snapshot:
        listed = zfs.all_props([dataset, "%s@%s" % (dataset, snapshot)])
    else:
        listed = zfs.all_props([dataset], recursive=True)
    keep = (names.PROP_REPLICA,) if header.get("replica") is True else ()
    for prop, where in received.to_clear(listed, dataset, keep):
        zfs.zfs("inherit", prop, *where, name=dataset)
    return listed.get(dataset, {})


def staging(ct, what):
    """Where a stream for ``ct`` is received (``what``: restoring) or its old zvol waits
    (replaced): VZZFS_ROOT/incoming/, where no CTID names a dataset."""
    name = names.incoming_dataset(ct.settings.root, ct.ctid, what)
    if name.split("/", 1)[0] != ct.pool:
        raise UsageError("zvol %s is not in pool %s of VZZFS_ROOT, so a restore cannot "
                         "swap it" % (ct.dataset, ct.settings.pool),
                         "restore as a new CT (--ctid NEW)", ctid=ct.ctid)
    return name


def _destroy_if_there(name):
    # udev probes a freshly received zvol's device for a moment: busy, so retry
    for attempt in range(20):
        if not zfs.exists(name):
            return
        try:
            zfs.destroy(name, recursive=True)
            return
        except DatasetBusy:
            if attempt == 19:
                raise
            time.sleep(0.5)


def _restore_increment(ct, header, stream, force=False, resumable=False, resuming=False):
    # one `zfs get -r` for the zvol and its snapshots: whose it is (the claim rule, under
    # the CT's lock), the base's guid, the snapshots' order, what was written
    base = None if resuming else "%s@%s" % (ct.dataset, header["base"])
    found = zfs.get_many([ct.dataset], PROP_CTID, "guid", "createtxg", "written",
                         names.PROP_ROLLED_BACK, names.PROP_REPLICA, *received.NOT_INHERITED,
                         recursive=True)
    if ct.dataset not in found:
        zfs.pool_health(ct.pool)  # "does not exist" is what zfs says of a missing pool too
        raise StateError("has no zvol %s to apply an incremental backup to" % ct.dataset,
                         "restore the full backup first", ctid=ct.ctid)
    props = found[ct.dataset]
    claim.check(ct, props.get(PROP_CTID))
    if base and found.get(base, {}).get("guid") != header["base_guid"]:
        raise StateError("lacks snapshot %s that this incremental backup builds on" % base,
                         "restore the backups in order, starting from a full one", ctid=ct.ctid)
    ct.require_stopped("restore")
    if not resuming:  # a resumed receive is refused by zfs itself if the zvol changed
        order = backupchain.snapshot_order(found, ct.dataset)
        written = backupchain.written_since_newest(order, header["base"], props.get("written"))
        if written is None:  # snapshots newer than the base: refused unless --force
            key = "written@" + header["base"]
            written = int(zfs.get(ct.dataset, key).get(key) or 0)
        if backupchain.rolled_back_to_base(header.get("replica") is True,
                                           props.get(names.PROP_REPLICA) == "yes",
                                           props.get(names.PROP_ROLLED_BACK),
                                           header["base_guid"]):
            written = 0  # vzzfs demote rolled it back to the base: the rollback's own bytes
        refusal = backupchain.incremental_refusal(order, header["base"], written, force)
        if refusal and relayout.recorded_layout(ct) != stream_layout(header):
            refusal = (refusal[0] + " (its files were moved for this node's vzctl when "
                       "the full backup was restored)", "if it has not run here since, "
                       "pass --force: the increment goes onto the snapshot and the CT is "
                       "laid out again; else restore the chain as another CT with --ctid NEW")
        if refusal:
            raise StateError(refusal[0], refusal[1], ctid=ct.ctid)
    with Reverter() as undo:
        # -F: roll back to the base first, as backupchain.incremental_refusal allowed (nothing
        # newer there, or --force); ZFS keeps it all if the stream turns out broken
        zfs.receive(stream, ct.dataset, force=not resuming, resumable=resumable or resuming,
                    **_receive_options(ct, header, new=False, current=props))
        _mark(ct, header, _forget_received_state(ct.dataset, header, header["snapshot"]))
        _lay_out_on_arrival(ct, header)  # again, if the base was laid out on arrival
        _write_conf(ct, header, undo)
        undo.commit()
    return {"ctid": ct.ctid, "dataset": ct.dataset, "snapshot": header["snapshot"],
            "incremental": True}


def _write_conf(ct, header, undo):
    """The CT's conf: this node's, with the CT settings the stream's conf allows."""
    incoming = config.parse_text(header["conf"])
    if ct.ctid != header["ctid"]:  # another CT's name, MACs and UUID stay behind
        gone = lifecycle.conf_changes_for_new_ctid(incoming, ct.ctid)
        incoming = {k: v for k, v in incoming.items() if gone.get(k, v) is not None}
    fixed = {"VE_LAYOUT": "simfs", "DISK_QUOTA": "no", "VZZFS_DATASET": ct.dataset}
    if ct.vz7:
        fixed["VEID"] = ct.ctid
        if header.get("platform") != vzctl.OPENVZ7:  # a vzctl 4.x conf: as vz7 reads it
            incoming, findings = conftranslate.to_vz7(incoming, ct.ctid)
            for line in conftranslate.lines(f for f in findings
                                            if f[0] != conftranslate.INFO):
                log.warn("CT %s: conf for OpenVZ 7: %s" % (ct.ctid, line))
    current = ct.own if ct.has_conf else {}
    changes, dropped = confimport.merge(incoming, current, ct.node.global_params(), fixed)
    if dropped:
        log.warn("CT %s: %s" % (ct.ctid, confimport.dropped_line(dropped, "the stream")))
    if os.path.exists(ct.conffile):
        before = read_text(ct.conffile)
        undo.add("put back %s" % ct.conffile, ctconf.write_file, ct.conffile, before)
        ctconf.write_file(ct.conffile, ctconf.update_text(before, changes))
    else:
        lifecycle.write_new_conf(ct, "", changes, undo)
    return dropped
