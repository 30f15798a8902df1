"""`vzzfs receive --forced-command`: the receiving side behind an ssh forced command.

In ~root/.ssh/authorized_keys of the receiving node (one line):

    command="/usr/bin/vzzfs receive --forced-command",restrict ssh-ed25519 AAAA... node1

The sender's own command line (SSH_ORIGINAL_COMMAND) may only be `vzzfs receive`
with --status CTID (and --then-receive: the stream follows the answer), --ctid
CTID, --force or --abort CTID (a cut stream discarded, never a CT's data);
anything else is refused. This node
decides the rest in vzzfs.conf: VZZFS_RECEIVE_OVERWRITE (no: new CTs only, so a
sender can neither replace a CT nor apply increments to one; replica: also vzzfs
replicate's increments onto the replicas it made, never a --force; yes: any) and
VZZFS_RECEIVE_CTIDS (the CTIDs a sender may create or update, e.g. 1000-1999).
Which dataset a CT lands in, and its conf's node keys, are this node's as for
any restore (ownership.py, confimport.py).
"""

import argparse
import collections
import os
import shlex

from ..base.errors import ConfigError, StateError, UsageError
from ..base.names import check_ctid, is_ctid
from ..conf.config import parse_bool

RANGE_HINT = "use CTID ranges such as 1000-1999,2500"

# what a `vzzfs receive` is asked to do: print what this node has of ``status``
# (and with ``then_receive`` take the stream that follows), discard the cut stream
# kept for ``abort``, or receive a stream (as ``ctid``, with ``force``) within
# ``limits`` (None: no forced command, root's own request)
Request = collections.namedtuple("Request", "status ctid force abort limits then_receive")
USAGE = ("a forced command runs only: vzzfs receive [--status CTID [--then-receive]] "
         "[--ctid CTID] [--force] [--abort CTID]")


def parse_ranges(text):
    """[(low, high)] from '1000-1999,2500'; [] (any CTID) for an empty value."""
    ranges = []
    for part in (text or "").replace(" ", "").split(","):
        if not part:
            continue
        low, _, high = part.partition("-")
        high = high or low
        if not (is_ctid(low) and is_ctid(high)) or int(low) > int(high):
            raise ConfigError("VZZFS_RECEIVE_CTIDS=%r is not a list of CTID ranges" % text,
                              RANGE_HINT)
        ranges.append((int(low), int(high)))
    return ranges


REPLICA = "replica"   # VZZFS_RECEIVE_OVERWRITE: new CTs, and vzzfs replicate's increments


class Limits(object):
    """What this node lets a sender do (from vzzfs.conf). ``overwrite``: increments and
    --force onto any CT; ``replicas``: only vzzfs replicate's increments onto the
    zvols it made replicas here, never a --force (VZZFS_RECEIVE_OVERWRITE=replica)."""

    def __init__(self, overwrite=False, ranges=(), replicas=False):
        self.overwrite = overwrite
        self.replicas = replicas
        self.ranges = list(ranges)

    @classmethod
    def from_node(cls, node):
        params = node.vzzfs_params()
        value = params["VZZFS_RECEIVE_OVERWRITE"]
        ranges = parse_ranges(params["VZZFS_RECEIVE_CTIDS"])
        if value.strip().lower() == REPLICA:
            return cls(False, ranges, replicas=True)
        try:
            return cls(parse_bool(value, "VZZFS_RECEIVE_OVERWRITE"), ranges)
        except ConfigError:
            raise ConfigError("VZZFS_RECEIVE_OVERWRITE=%r is not no, replica or yes" % value,
                              "set it to no, replica (a replication peer) or yes")

    def check_ctid(self, ctid):
        if self.ranges and not (ctid.isdigit() and any(lo <= int(ctid) <= hi
                                                       for lo, hi in self.ranges)):
            raise UsageError("this node does not receive CT %s from a sender" % ctid,
                             "VZZFS_RECEIVE_CTIDS there lists the CTIDs it takes", ctid=ctid)

    def check(self, ctid, exists, replica_onto_replica=False):
        """Raise unless a sender may write CT ``ctid`` (``exists``: it is there already;
        ``replica_onto_replica``: the stream is a vzzfs replicate increment and the zvol
        here is a replica)."""
        self.check_ctid(ctid)
        if not exists or self.overwrite:
            return
        if self.replicas and replica_onto_replica:
            return
        if self.replicas:
            raise StateError("already exists and is no replica of vzzfs replicate's, and "
                             "this node takes only new CTs and replicate's increments onto "
                             "its replicas", "VZZFS_RECEIVE_OVERWRITE=yes there lets a "
                             "sender update or replace any CT", ctid=ctid)
        raise StateError("already exists, and this node receives new CTs only",
                         "VZZFS_RECEIVE_OVERWRITE=replica there takes vzzfs replicate's "
                         "increments; yes lets a sender update or replace any CT", ctid=ctid)

    def force(self, asked):
        """Whether a sender's --force holds: only where any CT may be replaced."""
        return bool(asked) and self.overwrite


def order_refusal(status, then_receive):
    """Why the options are out of order (--then-receive takes the stream that follows
    --status's answer), or None; a command line and a forced command alike."""
    return "--then-receive follows --status CTID" if then_receive and not status else None


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError("the sender's command is refused: %s" % message, USAGE)


def parse_original_command(text):
    """The sender's `vzzfs receive ...` as (status CTID, ctid, force, abort CTID); refuse
    the rest."""
    try:
        argv = shlex.split(text or "")
    except ValueError:
        argv = []
    if len(argv) < 2 or os.path.basename(argv[0]) != "vzzfs" or argv[1] != "receive":
        raise UsageError("the sender's command %r is refused" % (text or ""), USAGE)
    p = _Parser(prog="vzzfs receive", add_help=False)
    p.add_argument("--status")
    p.add_argument("--ctid")
    p.add_argument("--force", action="store_true")
    p.add_argument("--abort")
    p.add_argument("--then-receive", action="store_true")
    args = p.parse_args(argv[2:])
    refusal = order_refusal(args.status, args.then_receive)
    if refusal:
        p.error(refusal)
    return args.status, args.ctid, args.force, args.abort, args.then_receive


def request(original_command, limits):
    """The sender's SSH_ORIGINAL_COMMAND as a Request bounded by this node's ``limits``:
    a command other than `vzzfs receive` with its own options, or a CTID out of
    range, is refused here, before a byte of the stream is read."""
    status, ctid, force, abort, then_receive = parse_original_command(original_command)
    if status or ctid or abort:
        limits.check_ctid(check_ctid(status or ctid or abort))
    return Request(status, ctid, force, abort, limits, then_receive)
