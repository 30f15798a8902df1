"""The figures the operators' monitoring reads: `vzzfs check --nagios` (a Nagios/Icinga
plugin's verdict, with thresholds for snapshot age and replication lag) and a
node_exporter textfile (`vzzfs metrics`, and written by autosnap and replicate at
the end of each run to VZZFS_METRICS_FILE, atomically). What they say is
rules/monitor.py's; this gathers it: vzzfs list's rows, each CT's policy and
replication, the jobs' last outcomes, the pool's fill.
"""

import os
import time

from ..base import log
from ..base.errors import VzzfsError
from ..base.fileio import write_atomic
from ..conf import config
from ..container.ct import Container
from ..rules import monitor
from ..system import zfs
from ..verbs import listing
from . import autosnap, check, outcomes, replicate

METRICS_KEY = "VZZFS_METRICS_FILE"


def cts(node):
    """Each vzzfs CT's figures, as rules/monitor.py takes them."""
    try:
        target = replicate.target(node)
    except VzzfsError:
        target = None  # vzzfs check says what is wrong with it
    jobs = {"autosnap": outcomes.last(autosnap.STATE_FILE),
            "replicate": outcomes.last(replicate.STATE_FILE)}
    found = []
    for row in listing.rows(node):
        if row["status"] in ("orphan", "zvol missing"):
            continue
        try:
            ct = Container(row["ctid"], node)
            policy = bool(autosnap.policy_of(ct))
            replicates = target is not None and replicate.wanted(ct)
        except VzzfsError:
            policy = replicates = False  # a bad value: vzzfs check reports it
        found.append({"ctid": row["ctid"], "used": row["used"], "volsize": row["volsize"],
                      "snapshot": row["autosnap"], "policy": policy,
                      "replicated": row["replicated"], "replicates": replicates,
                      "jobs": {job: last[row["ctid"]] for job, last in jobs.items()
                               if row["ctid"] in last}})
    return found


def nagios(node, private_top, snapshot_age, replication_lag):
    """(exit code, line) of the Nagios plugin; UNKNOWN when vzzfs cannot look."""
    try:
        settings = node.settings()
        findings = check.run(node, private_top)
        fill = zfs.pool_capacity(settings.pool)
        return monitor.nagios(time.time(), cts(node), fill, settings.pool_warn, findings,
                              snapshot_age, replication_lag)
    except VzzfsError as e:
        return monitor.UNKNOWN, "VZZFS UNKNOWN - %s" % e.line().replace("|", " ")


def text(node):
    settings = node.settings()
    return monitor.prometheus(time.time(), cts(node), settings.pool,
                              zfs.pool_capacity(settings.pool))


def textfile(node):
    """VZZFS_METRICS_FILE (node-wide), checked; None when it is empty (off)."""
    value = node.vzzfs_params().get(METRICS_KEY, "").strip()
    return config.check_abs_path(value, METRICS_KEY) if value else None


def refresh(node):
    """After a job's run: the textfile written anew, a failure only logged (the job's
    own outcome stands)."""
    try:
        write_textfile(node)
    except (VzzfsError, OSError) as e:
        log.warn("%s not written: %s" % (METRICS_KEY, e))


def write_textfile(node, path=None):
    """Write the textfile to ``path`` (default VZZFS_METRICS_FILE) atomically: node_exporter
    never reads half of it. Returns the path, or None when it is off."""
    path = path or textfile(node)
    if path:
        os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
        write_atomic(path, text(node), 0o644)
    return path
