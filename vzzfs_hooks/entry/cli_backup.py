"""The backup verbs of the vzzfs command: backup, restore, send, receive, migrate, replicate.

backup, restore, send, receive and replicate run inside signals.terminating(): SIGTERM and
SIGHUP clean up as Ctrl-C does (exit 130).
"""

import functools
import os
import sys

from ..base import signals
from ..base.errors import EmptyStream, UsageError, VzzfsError
from ..conf.config import Node
from ..container.ct import Container, lookup, owned, resolve_name
from ..rules import streams
from . import jobrun


def _node(args):
    return Node(args.etc_dir)


def _ct(args):
    return owned(_node(args), args.ctid)


def _mib(n):
    return "%.1f MiB" % (n / 1048576.0)


def _terminating(func):
    @functools.wraps(func)
    def run(args):
        with signals.terminating():
            return func(args)
    return run


@_terminating
def cmd_backup(args):
    from ..verbs import backup
    ct = _ct(args)
    if args.to == "-":
        if sys.stdout.isatty():
            raise UsageError("will not write a backup stream to a terminal",
                             "redirect it (> file, | ssh ...) or use --to FILE")
        done = backup.backup(ct, sys.stdout.buffer, args.incremental, args.retain,
                             plain=args.plain)
        out = sys.stderr
    else:
        done = backup.backup_to_file(ct, args.to, args.incremental, args.retain, args.plain)
        out = sys.stdout
    out.write("CT %s: %s backup of %s%s, %s written (a %s stream); the CT's lock held for "
              "%.2f s\n" % (ct.ctid, streams.sent_how(done), done["snapshot"],
                            " (from %s)" % done["base"].split("@")[1] if done["base"] else "",
                            _mib(done["bytes"]), done["kind"], done.get("locked") or 0))


def _restored(done):
    print("CT %s: %s restored on %s (snapshot %s)%s"
          % (done["ctid"], "increment" if done["incremental"] else "backup", done["dataset"],
             done["snapshot"] or "resumed",
             "" if done["incremental"] else "; start it with: vzctl start %s" % done["ctid"]))


@_terminating
def cmd_restore(args):
    from ..verbs import backup
    if args.file == "-":
        done = backup.restore(_node(args), sys.stdin.buffer, args.ctid, args.force)
    else:
        try:
            f = open(args.file, "rb")
        except OSError as e:
            raise UsageError("cannot read %s: %s" % (args.file, e.strerror), "check the path")
        with f:
            done = backup.restore(_node(args), f, args.ctid, args.force)
    _restored(done)


@_terminating
def cmd_send(args):
    from ..verbs import transfer
    # the claim rule runs when send takes the CT's lock, before anything changes: asking
    # the other side first changes nothing (one zfs get fewer than owned())
    ct = lookup(_node(args), args.ctid)
    ct.require_conf()
    done = transfer.send(ct, transfer.command_argv(args.to, "--to"))
    print("CT %s: %s send done, %s" % (ct.ctid, streams.sent_how(done), _mib(done["bytes"])))


@_terminating
def cmd_replicate(args):
    from ..jobs import replicate
    node = _node(args)
    only = [resolve_name(node, c) for c in args.ctids] or None

    def line(ctid, result):
        if result is None:  # named only when asked for
            return ("CT %s: does not replicate (VZZFS_REPLICATE=no, or a replica)" % ctid
                    if only else None)
        done = result["sent"]
        if done is None:
            return "CT %s: the peer is up to date" % ctid
        return "CT %s: %s send%s done, %s" % (
            ctid, streams.sent_how(done), " of %s" % done["snapshot"].split("@", 1)[1]
            if done["snapshot"] else "", _mib(done["bytes"]))
    jobrun.run(node, "replicate", replicate.run_all, only, line)


@_terminating
def cmd_receive(args):
    from ..rules import forced
    from ..verbs import transfer
    node = _node(args)
    if args.forced_command:
        if args.status or args.ctid or args.force or args.abort or args.then_receive:
            raise UsageError("--forced-command takes the sender's options from "
                             "SSH_ORIGINAL_COMMAND, not its own",
                             "in authorized_keys: command=\"vzzfs receive --forced-command\"")
        req = forced.request(os.environ.get("SSH_ORIGINAL_COMMAND"),
                             forced.Limits.from_node(node))
    else:
        refusal = forced.order_refusal(args.status, args.then_receive)
        if refusal:
            raise UsageError(refusal, "vzzfs receive --status CTID --then-receive")
        req = forced.Request(args.status, args.ctid, args.force, args.abort, None,
                             args.then_receive)
    if req.status:
        offers = {}  # the pool's streams, asked once for the answer and the stream
        import json  # here: most commands print no JSON
        print(json.dumps(transfer.status(node, req.status, offers)))
        sys.stdout.flush()  # the sender decides what to send from this line
        if req.then_receive:
            try:
                done = transfer.receive(node, sys.stdin.buffer, req.ctid, req.force,
                                        req.limits, offers)
            except EmptyStream:
                return  # the sender had nothing to send, or refused to
            _restored(done)
    elif req.abort:  # a cut stream's partial state only: never a CT's data
        done = transfer.abort(node, req.abort)
        print("CT %s: %s" % (req.abort, "cut stream discarded: %s" % ", ".join(done) if done
                             else "no cut stream to discard"))
    else:
        _restored(transfer.receive(node, sys.stdin.buffer, req.ctid, req.force, req.limits))


def cmd_receive_dump(args):
    from ..verbs import transfer
    ct = Container(args.ctid, _node(args))
    print("CT %s: dump stored as %s" % (ct.ctid, transfer.receive_dump(ct, sys.stdin.buffer)))


def cmd_takeover(args):
    from ..rules import retention
    from ..verbs import takeover, transfer
    ct = _ct(args)
    done = takeover.takeover(ct, transfer.command_argv(args.peer, "--peer") if args.peer
                             else None)
    print("CT %s: taken over at snapshot %s (%s old)%s; it is no replica any more: start it "
          "with vzctl start %s" % (ct.ctid, done["snapshot"], retention.age_text(done["age"]),
                                  "" if done["peer"] != "down" else
                                  ", the node it came from says it is down", ct.ctid))


def cmd_demote(args):
    from ..jobs import replicate
    from ..verbs import takeover
    node = _node(args)
    ct = owned(node, args.ctid)
    done = takeover.demote(ct, replicate.target(node), args.destroy_newer)
    print("CT %s: now a replica from snapshot %s%s; the node that took it over sends the "
          "rest with vzzfs replicate" % (ct.ctid, done["base"], " (destroyed %s)"
                                         % ", ".join(done["destroyed"]) if done["destroyed"]
                                         else ""))


def cmd_migrate(args):
    from ..verbs import transfer
    ct = _ct(args)
    dest = transfer.command_argv(args.dest, "DEST")
    if args.check:
        return _migrate_check(ct, dest, args.online)
    done = transfer.migrate(ct, dest, args.online)
    print("CT %s: migrated%s; sent %s, then %s with the CT down%s; the copy here is destroyed"
          % (ct.ctid, " live (checkpoint and restore)" if done["online"] else "",
             _mib(done["first"]["bytes"]), _mib(done["last"]["bytes"]),
             ", laid out for the vzctl there" if done["relaid"] else ""))


def _migrate_check(ct, dest, online):
    """--check: every finding, one line each, nothing moved; non-zero if one is fatal."""
    from ..rules import conftranslate
    from ..verbs import transfer
    relay, findings = transfer.check(ct, dest, online)
    for line in conftranslate.lines(findings):
        print("CT %s: %s" % (ct.ctid, line))
    fatal = conftranslate.fatal(findings)
    if fatal:
        raise VzzfsError("CT %s cannot move there: %s" % (ct.ctid, fatal[0]),
                         "fix what the fatal lines above name, then check again")
    print("CT %s: can move%s (nothing was sent)" % (
        ct.ctid, "; the other side lays it out for its vzctl after the last increment"
        if relay else ""))


def add_parsers(sub):
    s = sub.add_parser("backup", help="a consistent snapshot sent as a backup stream")
    s.add_argument("ctid")
    s.add_argument("--to", required=True, metavar="FILE", help="file to write, or - for stdout")
    s.add_argument("--incremental", action="store_true",
                   help="only what changed since the last backup")
    s.add_argument("--retain", type=int, metavar="N", help="keep the N newest backup snapshots")
    s.add_argument("--plain", action="store_true",
                   help="a plain stream (every block decompressed), for a node whose zfs "
                        "cannot take compressed ones")
    s.set_defaults(func=cmd_backup)

    s = sub.add_parser("restore", help="restore a backup into a new (or --force: the) CT")
    s.add_argument("file", metavar="FILE", help="backup file, or - for stdin")
    s.add_argument("--ctid", help="restore as this CTID (default: the backed-up CT's)")
    s.add_argument("--force", action="store_true", help="replace an existing stopped CT")
    s.set_defaults(func=cmd_restore)

    s = sub.add_parser("send", help="replicate a CT to another node (incremental, resumable)")
    s.add_argument("ctid")
    s.add_argument("--to", required=True, metavar="COMMAND",
                   help="runs vzzfs receive there, e.g. 'ssh root@node2 vzzfs receive'")
    s.set_defaults(func=cmd_send)

    s = sub.add_parser("replicate", help="send each CT's newest scheduled snapshot to "
                                         "VZZFS_REPLICATE_TO (the systemd timer runs it)")
    s.add_argument("ctids", nargs="*", metavar="CTID", help="default: every vzzfs CT")
    s.set_defaults(func=cmd_replicate)

    s = sub.add_parser("takeover", help="make a replica of vzzfs replicate the CT (on the "
                                        "replica's node, after losing the source)")
    s.add_argument("ctid")
    s.add_argument("--peer", metavar="COMMAND",
                   help="runs commands on the source node, e.g. 'ssh root@node1': refused "
                        "while the CT runs there")
    s.set_defaults(func=cmd_takeover)

    s = sub.add_parser("demote", help="make this node's CT the replica of the node that "
                                      "took it over (VZZFS_REPLICATE_TO)")
    s.add_argument("ctid")
    s.add_argument("--destroy-newer", action="store_true",
                   help="roll back past snapshots and writes the other node does not have")
    s.set_defaults(func=cmd_demote)

    s = sub.add_parser("receive", help="the receiving end of vzzfs send (reads stdin)")
    s.add_argument("--ctid", help="receive as this CTID")
    s.add_argument("--force", action="store_true", help="replace an existing stopped CT")
    s.add_argument("--status", metavar="CTID", help="print what this node has of CTID (JSON)")
    s.add_argument("--abort", metavar="CTID",
                   help="discard a cut stream kept for CTID (zfs receive -A)")
    s.add_argument("--then-receive", action="store_true",
                   help="after --status's answer, receive the stream that follows on stdin "
                        "(vzzfs send asks and sends through one connection)")
    s.add_argument("--forced-command", action="store_true",
                   help="run as an ssh forced command: take the sender's options from "
                        "SSH_ORIGINAL_COMMAND, within VZZFS_RECEIVE_* limits")
    s.set_defaults(func=cmd_receive)

    s = sub.add_parser("receive-dump", help="store a CT's dump from stdin (for migrate --online)")
    s.add_argument("ctid")
    s.set_defaults(func=cmd_receive_dump)

    s = sub.add_parser("migrate", help="move a CT to another node with send/receive")
    s.add_argument("ctid")
    s.add_argument("dest", metavar="DEST", help="command prefix that runs commands there, "
                                                "e.g. 'ssh root@node2'")
    s.add_argument("--online", action="store_true",
                   help="checkpoint and restore instead of stop and start")
    s.add_argument("--check", action="store_true",
                   help="a dry run: ask the other side and print every finding (conf, "
                        "distribution, platform) without moving a byte")
    s.set_defaults(func=cmd_migrate)
