"""Entry point of the four vzctl action scripts (premount, mount, umount, postumount).

vzctl runs /etc/vz/conf/vps.<action> with only HOME, TERM, PATH, VEID and
VE_CONFFILE set, holding the CT's lock (so nothing here may call a locking
vzctl command). An admin's earlier vps.<action> script is chained: it runs
after ours on the way up and before ours on the way down. Exit 0 lets vzctl go
on; anything else makes it abort with "Error executing ... script".

Whether a CT is vzzfs's is decided first, from the least that tells
(container/claim.py hook_owns): a CT that is not passes through with exit 0
whatever vzzfs.conf or its own conf holds, so a typo in vzzfs.conf never stops a
ploop or simfs CT. What a hook then does, in order, is hook/sequence.py's; this
module reads vzctl's environment and turns errors into one line and an exit code.
"""

import os
import sys

from ..base import log, names, runner
from ..base.errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE, ConfigError, VzzfsError
from ..base.names import HOOK_ACTIONS, HOOK_RETIRED
from ..conf.config import Node
from ..container import claim
from ..hook import sequence

# A CT that is not vzzfs's passes with what is imported above and no zfs/zpool
# command (claim.zvol_state); Container is imported for a vzzfs CT only.


def _warn_if_broken(node, ctid):
    """For a CT vzzfs passes by: one warning line if vzzfs.conf would stop its own CTs."""
    try:
        node.settings()
    except ConfigError as e:
        log.warn("CT %s is not vzzfs's and goes on, but %s stops vzzfs's CTs: %s"
                 % (ctid, node.vzzfs_conf, e.line()))


def main(action, argv=None):
    argv = sys.argv[1:] if argv is None else argv
    runner.use_absolute_path()  # OpenVZ 7's vzctl gives a PATH ending in '.'
    if action not in HOOK_ACTIONS + HOOK_RETIRED:
        log.error("hook called as %r; link it as one of %s" % (action, ", ".join(HOOK_ACTIONS)))
        return EXIT_USAGE
    chained = None
    if len(argv) == 2 and argv[0] == "--chain":
        chained = argv[1]
    elif argv:
        log.error("usage: %s [--chain SCRIPT] (run by vzctl with VEID and VE_CONFFILE set)" % action)
        return EXIT_USAGE
    veid = os.environ.get("VEID", "")
    conffile = os.environ.get("VE_CONFFILE", "")
    if not veid or not conffile:
        log.error("%s hook: VEID and VE_CONFFILE are not set (vzctl runs this script; "
                  "for manual use see 'vzzfs attach')" % action)
        return EXIT_USAGE
    try:
        ctid = names.check_ctid(veid)
        node = Node.from_conffile(conffile)
        if action in HOOK_RETIRED:
            return sequence.run_chained(chained)
        if not claim.hook_owns(action, node, ctid, conffile):
            _warn_if_broken(node, ctid)
            return sequence.run_hook(action, None, chained)
        from ..container.ct import Container
        from ..system import vzctl
        ct = Container(ctid, node, conffile, platform=vzctl.hook_platform())
        return sequence.run_hook(action, ct, chained)
    except VzzfsError as e:
        if e.ctid is None:
            e.ctid = veid
        log.error(e.line())
        return e.exit_code
    except KeyboardInterrupt:  # vzctl run from a terminal, Ctrl-C: one line, no traceback
        log.error("CT %s: %s hook interrupted" % (veid, action))
        return EXIT_INTERRUPTED
    except Exception as e:  # a bug must still fail the hook with one clear line
        log.error("CT %s: %s hook failed unexpectedly: %s: %s (report this as a vzzfs bug)"
                  % (veid, action, type(e).__name__, e))
        return EXIT_ERROR
