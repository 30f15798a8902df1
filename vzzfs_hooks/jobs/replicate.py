"""vzzfs replicate: scheduled snapshots sent to the peer, for every CT with replication on.

VZZFS_REPLICATE_TO (node-wide only: a CT's conf never picks where root sends its
data) is the command that runs `vzzfs receive` on the peer, split as a shell
would (transfer.command_argv) and never run by one. Each vzzfs CT replicates
unless its conf (or vzzfs.conf) says VZZFS_REPLICATE=no; replicas received here
from another node never do. transfer.send_scheduled sends the CT's newest
scheduled snapshot, incremental from the newest one the peer has: the timer
(vzzfs-replicate.timer) runs it after vzzfs autosnap, and a run late or twice
sends nothing new, or what is missing, once.

Each CT's outcome goes to syslog and to the state file replicate.json
(jobs/outcomes.py) that `vzzfs check` reads, as for autosnap.
"""

from ..base import log
from ..base.errors import ConfigError
from ..conf import config
from ..rules import streams
from ..verbs import transfer
from . import autosnap, outcomes

STATE_FILE = "replicate.json"     # in outcomes.STATE_DIR
TO_KEY = "VZZFS_REPLICATE_TO"
ON_KEY = "VZZFS_REPLICATE"


def target(node):
    """The argv of the peer's `vzzfs receive` from vzzfs.conf, or None when unset."""
    text = node.vzzfs_params().get(TO_KEY, "").strip()
    return transfer.command_argv(text, TO_KEY) if text else None


def wanted(ct):
    """Whether CT ``ct`` replicates: VZZFS_REPLICATE (its conf over vzzfs.conf) is yes,
    and it is no replica itself. A bad value is a ConfigError naming the CT."""
    try:
        on = config.parse_bool(ct.settings.raw.get(ON_KEY, "yes"), ON_KEY)
    except ConfigError as e:
        raise ConfigError(e.problem, e.fix, ctid=ct.ctid)
    return on and not autosnap.is_replica(ct)


def run_all(node, only=None):
    """replicate for every vzzfs CT (or the CTIDs in ``only``); returns [(ctid, result,
    error line)]: result None without an error when the CT does not replicate,
    {"sent": transfer.send_scheduled's dict or None when the peer was up to date} otherwise.
    Without VZZFS_REPLICATE_TO, a ConfigError."""
    argv = target(node)
    if argv is None:
        raise ConfigError("%s is not set in vzzfs.conf" % TO_KEY,
                          "set it to the command that runs vzzfs receive on the peer, "
                          "e.g. %s=\"ssh root@node2 vzzfs receive\"" % TO_KEY)
    def work(ct):
        result = {"sent": transfer.send_scheduled(ct, argv)} if wanted(ct) else None
        if result and result["sent"]:
            sent = result["sent"]
            log.info("CT %s: replicated %s (%s, %d bytes)"
                     % (ct.ctid, sent["snapshot"].split("@", 1)[1] if sent["snapshot"]
                        else "the rest of a cut stream",
                        streams.sent_how(sent), sent["bytes"]))
        return result
    return outcomes.run_each(node, only, STATE_FILE, work)


def failures():
    """[(ctid, epoch, error line)] of CTs whose last replicate failed (vzzfs check)."""
    return outcomes.failures(STATE_FILE)
