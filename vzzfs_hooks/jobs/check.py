"""vzzfs check: the node's health as vzzfs sees it, one line per finding.

Each check gives ('ok'|'warn'|'fail', message). A failed check (e.g. the pool
not imported) means containers will not start; a warning means something to
look at (an orphan zvol, a pool filling up, vzquota left on).
"""

import os
import time

from ..base.errors import ConfigError, VzzfsError
from ..rules import iolimits, retention
from ..system import units, zfs
from ..container import claim
from ..container.ct import Container
from ..verbs import attach, convert, ctlimits, hookwire, listing, reconcile, snapshots
from . import autosnap, replicate


def run(node, private_top):
    """A list of (level, message)."""
    settings = node.settings()
    found = []
    try:
        zfs.require_pool(settings.pool)
        found.append(("ok", "pool %s is imported" % settings.pool))
        used = zfs.pool_capacity(settings.pool)
    except VzzfsError as e:
        return [("fail", e.line())]
    health = zfs.pool_health(settings.pool)
    found.append(("ok" if health == "ONLINE" else "fail", "pool %s is %s" % (settings.pool, health)))
    found.append(("warn" if used >= settings.pool_warn else "ok",
                  "pool %s is %d%% full (VZZFS_POOL_WARN=%d)" % (settings.pool, used,
                                                                settings.pool_warn)))
    shadow = attach.pool_shadow_warning(settings.pool, private_top)
    found.append(("fail", shadow) if shadow else ("ok", "pool %s does not hide %s"
                                                  % (settings.pool, private_top)))
    wiring = hookwire.status(node.conf_dir)
    unwired = sorted(a for a, s in wiring.items() if s != "vzzfs")
    found.append(("fail", "hooks not wired: %s (run vzzfs install-hooks)" % ", ".join(
        "vps." + a for a in unwired)) if unwired else ("ok", "hooks wired in %s" % node.conf_dir))
    reconcile_unit = units.state(units.RECONCILE_PATH)
    if reconcile_unit and units.not_watching(*reconcile_unit):
        found.append(("warn", "%s is enabled but %s: a new DISKSPACE is not followed until "
                              "it watches again (systemctl reset-failed %s; systemctl start %s)"
                      % (units.RECONCILE_PATH, reconcile_unit[1] or "not active",
                         units.RECONCILE_PATH, units.RECONCILE_PATH)))
    for row in listing.rows(node):
        try:
            found.extend(_ct_findings(node, row))
        except Exception as e:  # a bug, or input nothing checked: this CT's line only
            found.append(("fail", "CT %s: unexpected %s: %s (report this as a vzzfs bug)"
                                  % (row["ctid"], type(e).__name__, e)))
    for ct in listing.explicit_cts(node):  # VZZFS_DATASET: is the zvol it names the CT's?
        try:
            claim.require(ct)
        except ConfigError as e:
            found.append(("warn", e.line()))
    for verb, failures in (("autosnap", autosnap.failures), ("replicate", replicate.failures)):
        for ctid, when, line in failures():
            stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(when)) if isinstance(
                when, int) else "?"
            found.append(("fail", "the last vzzfs %s of CT %s (%s) failed: %s (fixed, the "
                                  "next run clears this: vzzfs %s %s)"
                          % (verb, ctid, stamp, line, verb, ctid)))
    return found


def _ct_findings(node, row):
    """The findings about one CT of ``listing.rows``."""
    found = []
    ctid = row["ctid"]
    if row["status"] == "orphan":
        found.append(("warn", "zvol %s has no CT conf (vzzfs destroy %s, or restore its "
                              "conf)" % (row["dataset"], ctid)))
        return found
    if row["status"] == "zvol missing":
        found.append(("fail", "CT %s: its zvol %s is missing" % (ctid, row["dataset"])))
        return found
    try:
        ct = Container(ctid, node)
    except VzzfsError as e:
        found.append(("warn", e.line()))
        return found
    if ct.disk_quota != "no":
        found.append(("warn", "CT %s: DISK_QUOTA=%s makes vzquota run for nothing "
                              "(vzctl set %s --diskquota no --save)"
                              % (ctid, ct.disk_quota, ctid)))
    try:
        policy = autosnap.policy_of(ct)
    except ConfigError as e:
        found.append(("fail", e.line()))
        policy = []
    stalled = _autosnap_stalled(ct, policy) if policy else None
    if stalled:
        found.append(("warn", stalled))
    found.extend(_diskspace(ct))
    found.extend(_limit_findings(ct))
    step = convert.state(ct)
    if step in ("copying", "swapping"):
        found.append(("warn", "CT %s: an interrupted convert (%s); run vzzfs convert %s"
                              % (ctid, step, ctid)))
    if os.path.lexists(convert.old_private(ct)):
        found.append(("ok", "CT %s: the pre-convert copy %s can go (vzzfs convert %s "
                            "--purge)" % (ctid, convert.old_private(ct), ctid)))
    return found


def _autosnap_stalled(ct, policy):
    """None, or the warning that a CT with a policy has no recent scheduled snapshot
    (the timer is off, or its runs keep failing)."""
    try:
        last = retention.newest(snapshots.rows(ct))
    except VzzfsError as e:
        return e.line()
    now = time.time()
    if not retention.overdue([last["created"]] if last else [], policy, now):
        return None
    if autosnap.is_replica(ct):  # its scheduled snapshots come from the other node
        return ("CT %s: a replica whose newest scheduled snapshot is %s (is vzzfs replicate "
                "running on the node it comes from?)"
                % (ct.ctid, "%s old" % retention.age_text(now - last["created"])
                   if last else "missing"))
    return ("CT %s: VZZFS_SNAPSHOT_KEEP is set but its newest scheduled snapshot is %s "
            "(is the timer on? systemctl enable --now vzzfs-autosnap.timer; or run vzzfs "
            "autosnap %s)" % (ct.ctid, "%s old" % retention.age_text(now - last["created"])
                             if last else "missing", ct.ctid))


def _diskspace(ct):
    """A pending shrink, or a running CT whose zvol is smaller than its DISKSPACE."""
    try:
        decision = reconcile.pending(ct)
    except VzzfsError as e:
        return [("warn", e.line())]
    if decision is None or decision.action == reconcile.NOTHING:
        return []
    if decision.action == reconcile.SHRINK_PENDING:
        return [("warn", "CT %s: %s" % (ct.ctid, decision.reason))]
    return [("warn", "CT %s: DISKSPACE asks %d MiB, more than the running CT's zvol has "
                     "(vzzfs reconcile %s; systemctl enable --now vzzfs-reconcile.path does it "
                     "at every conf change)" % (ct.ctid, decision.size >> 20, ct.ctid))]


def _limit_findings(ct):
    """What would stop the CT's next start over its I/O limits: a value vzzfs refuses,
    or vzctl's IOLIMIT/IOPSLIMIT on an upstream kernel."""
    found = []
    try:
        ctlimits.limits_of(ct)
    except ConfigError as e:
        found.append(("fail", e.line()))
    keys = iolimits.vzctl_keys(ct.own)
    if keys and not ctlimits.openvz_kernel():
        found.append(("fail", "CT %s: %s in its conf stops vzctl 4.x's start on this kernel "
                              "(vzzfs set-limits %s moves it to vzzfs's keys)"
                      % (ct.ctid, " and ".join(keys), ct.ctid)))
    return found
