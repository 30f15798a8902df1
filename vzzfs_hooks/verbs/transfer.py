"""vzzfs send, receive and migrate: a CT's snapshots streamed to a command that runs
vzzfs receive on the other node (and the scheduled job's send_scheduled).

`vzzfs send CTID --to 'ssh root@node2 vzzfs receive'` runs that command with
`--status CTID --then-receive`: it answers what the other side has (its snapshots'
guids, a resume token) and then takes the backup stream this side pipes into it
(one connection; a vzzfs there that predates --then-receive is asked with
`--status CTID` and sent the stream by a second run): full the first time,
incremental from the newest snapshot both sides share after that, and
`zfs send -t TOKEN` to finish a stream that was cut off. The receiving side
keeps partial streams (`zfs receive -s`) so nothing is sent twice. As for a
backup, the CT's lock covers the snapshot, not the stream (a zfs hold keeps the
snapshot and its base until it ends), and rules/backupchain.py picks the send snapshots to
prune.

`vzzfs migrate CTID DEST` (DEST: a command prefix such as 'ssh root@node2')
replicates while the CT runs, stops it (or checkpoints it with a dump, with
--online), sends the last increment (and the dump), starts or restores the CT
on DEST, and only then retires the copy here.
"""

import contextlib
import json
import os
import shlex
import subprocess
import threading
import time

from ..base import faults, log, names, runner
from ..base.errors import Interrupted, StateError, UsageError, VzzfsError
from ..base.fileio import create_new
from ..rules import backupchain, conftranslate, peer, streams
from ..system import lock, vzctl, zfs
from ..container.ct import Container
from . import backup, lifecycle, snapshots



def command_argv(text, what):
    """A command line given as one string, split as a shell would but never run by one."""
    try:
        argv = shlex.split(text)
    except ValueError as e:
        raise UsageError("%s %r cannot be parsed: %s" % (what, text, e), "check its quoting")
    if not argv:
        raise UsageError("%s is empty" % what, "e.g. 'ssh root@node2 vzzfs receive'")
    return argv


# ---- the receiving side ----

def status(node, ctid, offers=None):
    """What this node has of CT ``ctid``: its snapshots' guids and a pending resume token.
    One `zfs get -r` answers for the zvol, its snapshots and a partial full stream.
    ``offers``: a dict that gets {pool: the streams it takes}, for receive's check."""
    ct = Container(ctid, node)
    platform = vzctl.node_platform(node.settings())
    incoming = names.incoming_dataset(ct.settings.root, ct.ctid, names.RESTORING)
    found = zfs.get_many([incoming, ct.dataset], "guid", "receive_resume_token",
                         recursive=True)
    if not found:
        zfs.pool_health(ct.pool)  # "does not exist" is what zfs says of a missing pool too
    result = {"ctid": ct.ctid, "exists": ct.dataset in found, "conf": ct.has_conf,
              "snapshots": {}, "resume_token": None, "resume_into": None,
              streams.STATUS_KEY: zfs.stream_offer(ct.pool), "platform": platform,
              "dists": vzctl.known_dists(platform)}
    if offers is not None:
        offers[ct.pool] = result[streams.STATUS_KEY]
    for name, props in found.items():
        ds, _, snap = name.partition("@")
        if ds == ct.dataset and snap:
            result["snapshots"][snap] = props.get("guid")
    # a token on the zvol itself wins over the staging name's, as it always did
    for target, kind in ((incoming, "full"), (ct.dataset, "increment")):
        token = found.get(target, {}).get("receive_resume_token")
        if token:
            result["resume_token"], result["resume_into"] = token, kind
    return result


def abort(node, ctid):
    """vzzfs receive --abort: discard what this node kept of a cut stream for CT ``ctid``
    (zfs receive -A; a partial full stream goes, the CT's own data never does). Names
    what was discarded."""
    ct = Container(ctid, node)
    done = []
    with lock.ct_lock(ct, "vzzfs receive --abort"):
        for target in (names.incoming_dataset(ct.settings.root, ct.ctid, names.RESTORING),
                       ct.dataset):
            if zfs.exists(target) and zfs.get(target, "receive_resume_token").get(
                    "receive_resume_token"):
                zfs.receive_abort(target)
                done.append(target)
    return done


def receive(node, stream, ctid=None, force=False, limits=None, offers=None):
    """vzzfs receive: a stream from vzzfs send (or a backup) into this node, resumably;
    ``limits`` (forced.Limits) bound what the sender may do; ``offers``: status's."""
    return backup.restore(node, stream, ctid, force=force, resumable=True, limits=limits,
                          offers=offers)


# ---- the sending side ----

STATUS_TIMEOUT = 120  # seconds the other side has to answer --status


def _remote_status(argv, ctid):
    """The other side's vzzfs receive --status, checked (rules/peer.py); a peer that
    does not answer within STATUS_TIMEOUT, or writes more than MAX_ANSWER before its
    answer, is a failure, not a wait (read as _ask reads it)."""
    proc = runner.popen(argv + ["--status", ctid], stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT)
    try:
        said, line = _first_json_line(proc.stdout.fileno(), STATUS_TIMEOUT)
        proc.stdout.close()  # what it writes after the answer is not read
        try:
            proc.wait(timeout=STATUS_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise VzzfsError("the other side did not end within %d s of its answer"
                             % STATUS_TIMEOUT, "check the --to command: it must end in "
                             "'vzzfs receive'")
    except BaseException:  # no answer or no end in time, or Ctrl-C: ended, not waited for
        runner.stop(proc)
        raise
    if proc.returncode != 0:
        raise _asking_failed(argv, ctid, said, proc.returncode)
    return _checked_status(line or "")


def _asking_failed(argv, ctid, said, returncode):
    """The error for a --status that failed: the last line it said, or its exit code."""
    lines = [l for l in said.splitlines() if l.strip()]
    return VzzfsError("asking the other side failed: %s"
                      % peer.printable(lines[-1] if lines else "exit %s" % returncode),
                      "check the --to command: %s --status %s" % (" ".join(argv), ctid))


def _checked_status(text):
    """A --status answer (JSON text), checked by rules/peer.py."""
    try:
        answer = json.loads(text)
    except ValueError:
        raise VzzfsError("the other side did not answer with vzzfs receive's status",
                         "the --to command must end in 'vzzfs receive'")
    return peer.status(answer)


peer_status = _remote_status  # for takeover's demote: the same checked question

THEN_RECEIVE = "--then-receive"
MAX_ANSWER = 16 << 20  # bytes read for a --status answer (a thousand snapshots: ~100 KiB)
_two_step = set()  # the --to commands of this run whose vzzfs predates --then-receive


class _Receiver(object):
    """The other side's `vzzfs receive --status CTID --then-receive`, its answer read:
    it waits for the stream on its stdin (_pipe writes it), or for that to close
    (``dismiss``: nothing sent, it exits 0). ``said``: what it wrote before the answer."""

    def __init__(self, proc, said):
        self.proc, self.said = proc, said

    def dismiss(self):
        """End it without a stream, unless _pipe has (idempotent)."""
        if self.proc.returncode is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=STATUS_TIMEOUT)
            except (OSError, subprocess.TimeoutExpired):
                runner.stop(self.proc)
            self.proc.stdout.close()


def _ask(to_argv, ctid):
    """The other side's status answer, checked, and the _Receiver waiting for the stream
    (None when the vzzfs there predates --then-receive: _pipe then runs ``to_argv``
    again, as before). The caller dismisses the receiver if it sends nothing."""
    if tuple(to_argv) in _two_step:
        return _remote_status(to_argv, ctid), None
    proc = runner.popen(to_argv + ["--status", ctid, THEN_RECEIVE], stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        said, line = _first_json_line(proc.stdout.fileno(), STATUS_TIMEOUT)
    except BaseException:  # no answer in time, or Ctrl-C: it is ended, not waited for
        runner.stop(proc)
        raise
    receiver = _Receiver(proc, said)
    if line is None:
        receiver.dismiss()
        if THEN_RECEIVE in said and proc.returncode != 0:
            _two_step.add(tuple(to_argv))
            log.info("the other side's vzzfs receive predates %s: asking it first, then "
                     "sending through a second connection" % THEN_RECEIVE)
            return _remote_status(to_argv, ctid), None
        raise _asking_failed(to_argv, ctid, said, proc.returncode)
    try:
        return _checked_status(line), receiver
    except BaseException:
        receiver.dismiss()
        raise


def _first_json_line(fd, timeout):
    """(text before it, the first line read from ``fd`` that starts with '{'), or (all
    that was read, None) when the writer ends first; VzzfsError when it has not
    answered within ``timeout`` seconds. Read with os.read, so nothing is left in a
    Python buffer: the writer waits for the stream before it writes more."""
    import select
    said, buf, held = [], b"", 0
    deadline = time.monotonic() + timeout
    while True:
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.startswith(b"{"):
                return "\n".join(said), line.decode("utf-8", "replace")
            said.append(line.decode("utf-8", "replace"))
        left = deadline - time.monotonic()
        if left <= 0:
            raise VzzfsError("the other side did not answer within %d s" % timeout,
                             "check the --to command and the link to that node")
        if not select.select([fd], [], [], left)[0]:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            return "\n".join(said + [buf.decode("utf-8", "replace")]), None
        buf += chunk
        held += len(chunk)
        if held > MAX_ANSWER:  # a peer is not trusted to end its line
            raise VzzfsError("the other side wrote more than %d MiB without answering"
                             % (MAX_ANSWER >> 20), "check the --to command: it must "
                             "end in 'vzzfs receive'")


def _resumable(ct, target):
    """Raise unless the other side's resume token resumes a stream of this CT's zvol
    (``target``: the snapshot it names; zfs send -t sends whatever that is)."""
    refusal = peer.token_refusal(target, ct.dataset)
    if refusal:
        raise StateError(refusal[0], refusal[1], ctid=ct.ctid)


_said = set()  # the reasons for a plain stream already told in this run


def _stream_kind(ct, remote):
    """(kind, needs) of the stream for the peer whose --status answer is ``remote``
    (streams.choose); why a plain one is told once per run, not once per CT."""
    needs = zfs.stream_needs(ct.pool)
    kind, why = streams.choose(remote, needs)
    if why and why not in _said:
        _said.add(why)
        log.warn("sending plain streams (every block decompressed, several times the "
                 "bytes): %s" % why)
    return kind, needs


def _common_base(ct, remote, rows):
    """The newest of ``rows`` (the CT's snapshots) the other side also has (same
    guid), or None."""
    theirs = remote.get("snapshots") or {}
    for row in reversed(rows):
        if theirs.get(row["name"]) == row["guid"]:
            return snapshots.full_name(ct, row["name"])
    return None


def send(ct, to_argv):
    """One replication run of ``ct`` to the `vzzfs receive` that ``to_argv`` runs.

    The CT's lock is held while the snapshot is taken, not while it streams (a
    zfs hold keeps it and its base meanwhile); finishing a cut stream holds it
    throughout."""
    return _send(ct, to_argv, "vzzfs send")


def _send(ct, to_argv, status=None):
    """``status``: the lock to take around the snapshot and the pruning; None when
    the caller (migrate) holds the CT's lock already. The other side is asked, and a
    cut stream finished, without the lock (a zfs hold keeps its snapshot). The
    receiver keeps the sender's layout (backup.make_header's keep_layout)."""
    hold = zfs.Hold(backup.hold_tag())
    remote, receiver = _ask(to_argv, ct.ctid)
    try:
        remote, resumed = _finish_cut_stream(ct, to_argv, hold, status, remote, receiver)
        if resumed:
            return resumed
        if status:
            snapshots.preflush(ct)  # before the lock: vzctl finds the CT locked briefly
        with lock.ct_lock(ct, status) if status else contextlib.ExitStack():
            rows = snapshots.rows(ct)
            base = _common_base(ct, remote, rows)
            if base is None and remote.get("exists"):
                raise StateError("the other side has a zvol for this CT that shares no "
                                 "snapshot with this one", "remove it there (vzzfs destroy "
                                 "%s) or send to another CTID" % ct.ctid, ctid=ct.ctid)
            if base is None and remote.get("conf"):
                raise StateError("the other side already has a CT %s" % ct.ctid,
                                 "remove it there, or pick another node", ctid=ct.ctid)
            kind, needs = _stream_kind(ct, remote)
            snap = snapshots.take(ct, prefix=names.SEND_PREFIX, kind=names.KIND_SEND,
                                  rows=rows)["snapshot"]
            hold.add([snap, base])
            # the conf as at the snapshot
            header = backup.make_header(ct, snap, base, kind=kind, needs=needs,
                                        keep_layout=True)
            # older send snapshots are no longer a base for anything: the other side
            # has ``base``, and a cut stream resumes from it. Pruned under this lock,
            # from the rows it listed: no second lock and list after the stream.
            keep = [n.split("@", 1)[1] for n in (snap, base) if n]
            backup.prune(ct, None, lambda rows: backupchain.sends_to_prune(rows, keep), rows)
        # on failure the snapshot stays: the other side may hold part of it, to resume
        result = _pipe(ct, to_argv, snap, base, header=header, kind=kind, receiver=receiver)
        _note_bytes(snap, result["bytes"])
    finally:
        hold.release()
        if receiver:
            receiver.dismiss()  # nothing was sent to it
    return result


REPLICATE = "vzzfs replicate"  # the lock's status while replicate chooses or marks


def send_scheduled(ct, to_argv):
    """One run of vzzfs replicate for ``ct``: its newest scheduled (kind auto) snapshot
    to the `vzzfs receive` that ``to_argv`` runs, incremental from the newest snapshot
    the peer has, marked there as a replica. Takes no snapshot (autosnap does) and
    destroys none (each side's autosnap prunes by its own policy). Afterwards the
    newest snapshot the peer has is marked replicated here, so autosnap's pruning
    keeps that base. Returns _pipe's dict, or None when the peer is up to date.

    The CT's lock is held only to choose, hold and mark snapshots here: never while
    the other side is asked or a stream runs, so vzctl can start, stop or set the CT
    meanwhile (a zfs hold keeps the snapshots). The snapshot being sent is marked in
    flight (names.PROP_INFLIGHT) until the peer has it, so autosnap's pruning keeps a
    cut stream's resume target. A cut stream whose snapshot is gone here anyway is
    aborted there, and the run sends from the newest snapshot both have, saying so."""
    hold = zfs.Hold(backup.hold_tag())
    remote, receiver = _ask(to_argv, ct.ctid)
    try:
        remote, result = _finish_cut_stream(ct, to_argv, hold, REPLICATE, remote, receiver,
                                            replica=True)
        if result is None:
            with lock.ct_lock(ct, REPLICATE):
                rows = snapshots.rows(ct)
                step = backupchain.replication_step(rows, remote["snapshots"])
                if step is None:
                    _mark_replicated(ct, remote)  # a run cut after its stream
                    return None  # the receiver is dismissed below: nothing sent
                snap, base = (snapshots.full_name(ct, n) if n else None for n in step)
                if base is None and (remote.get("exists") or remote.get("conf")):
                    raise StateError("the other side has a CT %s that shares no snapshot "
                                     "with this one" % ct.ctid, "remove it there (vzzfs "
                                     "destroy %s), or set VZZFS_REPLICATE=no in this CT's "
                                     "conf" % ct.ctid, ctid=ct.ctid)
                kind, needs = _stream_kind(ct, remote)
                hold.add([snap, base])
                _mark_inflight(ct, rows, step[0])
                header = backup.make_header(ct, snap, base, replica=True, kind=kind,
                                            needs=needs)
                sent_guid = [r["guid"] for r in rows if r["name"] == step[0]][0]
            result = _pipe(ct, to_argv, snap, base, header=header, replica=True, kind=kind,
                           receiver=receiver)
            # its receive ended well: the peer has the snapshot, as its --status would
            # say (its word either way), without asking it again
            theirs = dict(remote["snapshots"])
            theirs[step[0]] = sent_guid
            remote = dict(remote, snapshots=theirs)
            moved = {(names.PROP_STREAM_BYTES, step[0]): result["bytes"]}
        else:
            remote = _remote_status(to_argv, ct.ctid)  # what the finished stream left there
            moved = {}  # _finish_cut_stream noted its bytes
        # still held: autosnap cannot prune the snapshot just sent before it is marked
        with lock.ct_lock(ct, REPLICATE):
            _mark_replicated(ct, remote, moved)
    finally:
        hold.release()
        if receiver:
            receiver.dismiss()
    return result


def _finish_cut_stream(ct, to_argv, hold, status, remote, receiver, replica=False):
    """If the other side (its status ``remote``; ``receiver``: _ask's) keeps a cut
    stream of this CT's, finish it: (its status, _pipe's dict). The snapshot it resumes
    is held under the lock (``status``; None: the caller holds it), the stream runs
    without. If that snapshot is gone here, the other side discards the cut stream
    and (its new status, None) lets the caller send from the newest snapshot both
    have (the receiver still waits: it reads what the stream's header says); so does
    (status, None) without a cut stream."""
    token = remote["resume_token"]
    if not token:
        return remote, None
    info = zfs.resume_info(token)
    target = info["snapshot"]
    _resumable(ct, target)
    with lock.ct_lock(ct, status) if status else contextlib.ExitStack():
        there = zfs.exists(target)
        if there:
            hold.add([target])
    if there:
        # the rest of the stream is of the kind the cut one was
        needs = zfs.stream_needs(ct.pool) if info["kind"] == streams.COMPRESSED else ()
        header = backup.resume_header(ct, token, remote["resume_into"], replica,
                                      info["kind"], needs, keep_layout=True)
        result = _pipe(ct, to_argv, None, None, token, header=header, replica=replica,
                       size=info["size"], receiver=receiver)
        _note_bytes(target, result["bytes"])
        return remote, result
    log.warn("CT %s: the other side holds a cut stream of %s, which is gone here; aborting "
             "it there and sending from the newest snapshot both have" % (ct.ctid, target))
    return _remote_abort(to_argv, ct.ctid), None


def _remote_abort(to_argv, ctid):
    """Have the other side abort its cut stream of CT ``ctid`` (zfs receive -A); its
    status afterwards."""
    res = runner.run(to_argv + ["--abort", ctid], check=False, timeout=STATUS_TIMEOUT)
    if res.returncode != 0:
        said = [l for l in (res.stdout + "\n" + res.stderr).splitlines() if l.strip()]
        raise VzzfsError("the other side could not abort its cut stream: %s"
                         % peer.printable(said[-1] if said else "exit %d" % res.returncode),
                         "abort it there: zfs receive -A on its partial receive of CT %s"
                         % ctid)
    remote = _remote_status(to_argv, ctid)
    if remote["resume_token"]:
        raise VzzfsError("the other side still holds a cut stream after aborting it",
                         "abort it there: zfs receive -A on its partial receive of CT %s"
                         % ctid)
    return remote


def _set(ct, names_values):
    """zfs set/inherit of user properties on this CT's snapshots: {(prop, name): value or
    None (inherit)}; what a snapshot is set to goes in one `zfs set`."""
    values = {}
    for (prop, name), value in sorted(names_values.items()):
        snap = snapshots.full_name(ct, name)
        if value is None:
            zfs.zfs("inherit", prop, snap, name=snap)
        else:
            values.setdefault(snap, []).append("%s=%s" % (prop, value))
    for snap, pairs in sorted(values.items()):
        zfs.zfs("set", *(pairs + [snap]), name=snap)


def _mark_inflight(ct, rows, name):
    """Mark snapshot ``name`` as in flight to the peer, and only it."""
    _set(ct, backupchain.inflight_changes(rows, name))


def _mark_replicated(ct, remote, also=None):
    """Mark the newest snapshot the peer has (same name and guid) as replicated here;
    snapshots the peer has are no longer in flight. ``also``: more of _set's changes,
    made with these."""
    changes = backupchain.replicated_changes(snapshots.rows(ct),
                                             remote.get("snapshots") or {})
    changes.update(also or {})
    _set(ct, changes)


STREAM_STALL = 600  # seconds the other side may take no byte (or not exit) before it is cut


class _Watched(object):
    """The pipe into the other side, with the time of its last write: a watchdog thread
    ends a receiver that stops reading (or never exits) after STREAM_STALL seconds,
    instead of a run waiting on it forever."""

    def __init__(self, proc, limit):
        self.proc, self.limit = proc, limit
        self.last = time.monotonic()
        self.stalled = False
        self.thread = threading.Thread(target=self._watch, name="stream-watchdog")
        self.thread.daemon = True
        self.thread.start()

    def write(self, data):
        n = self.proc.stdin.write(data)
        self.last = time.monotonic()
        return n

    def flush(self):
        self.proc.stdin.flush()
        self.last = time.monotonic()

    def fileno(self):
        """The pipe's descriptor: zfs send's stream is spliced into it (zfs.send), so
        the watchdog also counts the receiver's reading (``_unread``) as progress."""
        return self.proc.stdin.fileno()

    def _unread(self):
        """Bytes in the pipe the receiver has not read yet (FIONREAD), or None."""
        import array
        import fcntl
        import termios
        buf = array.array("i", [0])
        try:
            fcntl.ioctl(self.proc.stdin.fileno(), termios.FIONREAD, buf, True)
        except (OSError, ValueError):
            return None
        return buf[0]

    def _watch(self):
        seen = self._unread()
        while self.proc.poll() is None:
            unread = self._unread()
            if unread != seen:  # bytes moved through the pipe: spliced in, or read out
                self.last = time.monotonic()
                seen = unread
            if time.monotonic() - self.last > self.limit:
                self.stalled = True
                self.proc.kill()  # a blocked write then fails: EPIPE
                return
            time.sleep(min(5.0, self.limit / 4.0))


def _note_bytes(snap, sent):
    """Record on ``snap`` the bytes its stream took (what `vzzfs list` shows as MOVED)."""
    if snap:
        zfs.zfs("set", "%s=%d" % (names.PROP_STREAM_BYTES, sent), snap, name=snap)


def _output(receiver, proc):
    """What the receiving command said, once it has ended (runner.finish)."""
    said = receiver.said if receiver is not None else ""
    return "\n".join(t for t in (said, runner.finish(proc)) if t)


def _pipe(ct, to_argv, snap, base, token=None, header=None, replica=False, kind=None,
          size=None, receiver=None):
    """Stream ``header`` and zfs send into the peer's receiving command: ``receiver``
    (_ask's, waiting), or ``to_argv`` run now. zfs send's output goes into the
    command's input by splice, never through Python."""
    verb = "vzzfs replicate" if replica else "vzzfs send"
    if receiver is not None:
        proc = receiver.proc
    else:
        proc = runner.popen(to_argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    watched = _Watched(proc, STREAM_STALL)
    try:
        watched.write(header)
        sent = len(header) + zfs.send(snap, watched, base, "CT %s: send" % ct.ctid,
                                      resume_token=token, kind=kind, size=size)
    except BaseException as e:
        if not isinstance(e, (OSError, VzzfsError)) or isinstance(e, Interrupted):
            runner.stop(proc)  # Ctrl-C, SIGTERM, SIGHUP: the receiver keeps what it got
            raise
        out = _output(receiver, proc)
        if watched.stalled:
            out = "the receiver took nothing for %d s and was ended" % STREAM_STALL
        raise VzzfsError("sending CT %s failed: %s" % (ct.ctid, peer.printable(
            out.splitlines()[-1]) if out else "the receiver went away"),
                         "run %s again: it resumes where it stopped" % verb)
    out = _output(receiver, proc)
    if watched.stalled:
        out = "it did not finish within %d s of the stream's end and was ended" % STREAM_STALL
    if proc.returncode != 0:
        raise VzzfsError("the receiving side failed: %s" % (peer.printable(out.splitlines()[-1])
                                                           if out else
                                                           "exit %d" % proc.returncode),
                         "fix that there, then run %s again" % verb)
    return {"snapshot": snap, "base": base, "resumed": bool(token), "bytes": sent}


# ---- migrate ----

def check(ct, dest_argv, online=False):
    """vzzfs migrate --check: what a migrate of ``ct`` to ``dest_argv``'s node finds,
    asking the other side only (its --status): (relayout there?, findings). Moves
    nothing and takes no lock."""
    remote, relay, findings = _plan(ct, dest_argv + ["vzzfs", "receive"], online)
    kind, why = streams.choose(remote, zfs.stream_needs(ct.pool))
    findings.append((conftranslate.INFO, "streams: %s%s" % (kind, " (%s)" % why if why
                                                            else "")))
    if online and not vzctl.is_running(ct):
        findings.insert(0, (conftranslate.FATAL, "--online: it is not running"))
    return relay, findings


def _plan(ct, receive_argv, online):
    """The other side's --status and what a migrate of ``ct`` there finds:
    (status, relayout there?, findings) (conftranslate.migration)."""
    remote = _remote_status(receive_argv, ct.ctid)
    relay, findings = conftranslate.migration(ct.platform, remote, ct.own, ct.ctid, online)
    return remote, relay, findings


def _tell(ct, findings):
    """The findings, one line each, before anything moves; refuse on a fatal one."""
    for level, text in findings:
        (log.info if level == conftranslate.INFO else log.warn)("CT %s: %s: %s"
                                                                % (ct.ctid, level, text))
    fatal = conftranslate.fatal(findings)
    if fatal:
        raise StateError("cannot move: %s" % fatal[0], "see the lines above (vzzfs migrate "
                         "%s DEST --check lists them all); it keeps running here" % ct.ctid,
                         ctid=ct.ctid)


def migrate(ct, dest_argv, online=False):
    """Move ``ct`` to the node ``dest_argv`` runs commands on; retire it here last.
    To a node of the other platform (OpenVZ 7) the passes arrive in this node's layout
    and the other side lays the CT out for its vzctl (vzzfs relayout: renames on the
    zvol) after the last increment, before it starts the CT."""
    receive_argv = dest_argv + ["vzzfs", "receive"]
    with lock.ct_lock(ct, "vzzfs migrate"):
        running = vzctl.is_running(ct)
        if online and not running:
            raise StateError("is not running", "migrate it without --online", ctid=ct.ctid)
        _, relay, findings = _plan(ct, receive_argv, online)
        _tell(ct, findings)  # before a byte moves and before the CT is stopped
        first = _send(ct, receive_argv)  # the bulk, while it runs
        log.info("CT %s: first pass sent %d MiB" % (ct.ctid, first["bytes"] >> 20))
        dumpfile = None
        if running and online:
            dumpfile = names.migrate_dump(vzctl.dumpdir(ct), ct.ctid)
            vzctl.checkpoint(ct, dumpfile)  # suspend, dump, kill, umount chain
        elif running:
            vzctl.stop(ct)
        try:
            faults.point("migrate.stopped")
            last = _send(ct, receive_argv)
            if dumpfile:
                _run(dest_argv + ["vzzfs", "receive-dump", ct.ctid], stdin_path=dumpfile)
            if relay:  # laid out for the vzctl there; it never starts the CT
                _run(dest_argv + ["vzzfs", "relayout", ct.ctid])
            faults.point("migrate.before-start")
        except BaseException:
            _bring_back(ct, dumpfile, running)  # nothing runs there: the CT stays here
            raise
        try:
            if dumpfile:
                _run(dest_argv + vzctl.remote_argv("restore", ct.ctid))
            elif running:
                _run(dest_argv + vzctl.remote_argv("start", ct.ctid))
        except BaseException as e:
            # a failure reported is not a failure had: ssh can lose the link after the
            # CT came up there. Never run it on both nodes.
            there = remote_state(dest_argv, ct.ctid)
            if there == "down":
                _bring_back(ct, dumpfile, running)
                raise
            raise StateError("%s; %s, so it stays stopped here (never on both nodes)"
                             % (e.line() if isinstance(e, VzzfsError) else "interrupted",
                                "it runs on the destination" if there == "running" else
                                "whether it runs on the destination is unknown"),
                             "check there with: %s vzctl status %s; if it runs there, vzzfs "
                             "destroy %s here; if not, vzctl start %s here"
                             % (" ".join(dest_argv), ct.ctid, ct.ctid, ct.ctid), ctid=ct.ctid)
        if dumpfile and os.path.exists(dumpfile):
            os.unlink(dumpfile)
        lifecycle.destroy_locked(ct, promote=True)  # still locked: nothing starts it meanwhile
    return {"first": first, "last": last, "online": bool(dumpfile), "relaid": relay}


def _bring_back(ct, dumpfile, running):
    """The CT stays here: restore it from its dump, or start it, as it was."""
    if dumpfile and os.path.exists(dumpfile):
        vzctl.restore(ct, dumpfile)
    elif running:
        vzctl.start(ct)


def remote_state(dest_argv, ctid):
    """'running' or 'down' as the destination's vzctl says, or None when it cannot be asked."""
    try:
        res = runner.run(dest_argv + vzctl.remote_argv("status", ctid), check=False, timeout=120)
    except VzzfsError:  # no ssh here, or the link hung
        return None
    return vzctl.parse_status(res.returncode, res.stdout + "\n" + res.stderr)


def _run(argv, stdin_path=None):
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    try:
        res = runner.run(argv, check=False, stdin=stdin)
    finally:
        if stdin_path:
            stdin.close()
    if res.returncode != 0:
        said = (res.stdout + "\n" + res.stderr).strip().splitlines()
        raise VzzfsError("%s failed on the destination: %s" % (" ".join(argv), peer.printable(
            (said or ["?"])[-1])),
                         "fix that there; the CT keeps running here")
    return res


def receive_dump(ct, stream):
    """Store a dump file sent by migrate --online where vzctl restore looks for it."""
    path = vzctl.default_dumpfile(ct)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = path + ".partial"
    if os.path.lexists(partial):
        os.unlink(partial)  # left by a cut transfer (unlink never follows a symlink)
    with create_new(partial) as out:
        runner.pump(stream, out)
    os.rename(partial, path)
    return path

