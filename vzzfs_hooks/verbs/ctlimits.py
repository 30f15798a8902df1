"""A CT's I/O limits through its life: checked before the mount, set at start, removed
at stop, changed at once by `vzzfs set-limits`.

The limits live in the CT's conf as VZZFS_IOLIMIT / VZZFS_IOPSLIMIT (iolimits.py
says why not vzctl's IOLIMIT / IOPSLIMIT) and go on the zvol's device in the
cgroups (blkio.py). On an OpenVZ kernel (/proc/vz) vzctl applies its own IOLIMIT
and IOPSLIMIT, so vzzfs leaves limits to it there.
"""


from ..base import log
from ..base.errors import ConfigError, StateError, UsageError, VzzfsError
from ..rules import iolimits
from ..system import blkio, mounts, vzctl, zfs, zvoldev

# vzctl verbs whose mount is followed by vzctl applying the conf's resources
START_VERBS = ("start", "restart", "restore", "set")


def openvz_kernel():
    return vzctl.openvz_kernel()


def limits_of(ct):
    """The CT's Limits from its own conf; a bad value is a ConfigError naming it."""
    try:
        return iolimits.from_conf(ct.own)
    except ConfigError as e:
        e.ctid = ct.ctid
        e.fix = "%s in %s" % (e.fix, ct.conffile)
        raise


def before_mount(ct, verb):
    """premount: refuse a start that cannot work, before the zvol is mounted: a bad
    VZZFS_IOLIMIT/IOPSLIMIT, or vzctl's own IOLIMIT/IOPSLIMIT on an upstream kernel
    (vzctl 4.11.1 would fail the start after the mount: 'Unable to set iolimit')."""
    limits_of(ct)
    keys = iolimits.vzctl_keys(ct.own)
    if keys and not openvz_kernel() and verb in START_VERBS:
        raise ConfigError("%s in %s: vzctl 4.x cannot apply %s on an upstream kernel and "
                          "fails the start ('Unable to set iolimit')"
                          % (" and ".join(keys), ct.conffile, "it" if len(keys) == 1 else "them"),
                          "let vzzfs apply the limits to the zvol instead: vzzfs set-limits %s"
                          % ct.ctid, ctid=ct.ctid)


def after_mount(ct, verb):
    """premount, once the zvol is mounted: set the limits on the zvol's device: the
    root's rule now, the CT's cgroup once `vzctl start` has made it after the hooks (a
    waiting process, which skips a stale cgroup vzctl is about to replace). Never
    fails the start: a limit the kernel refuses is a warning, as vzctl does with its own."""
    limits = limits_of(ct)
    if limits.none:
        return
    if openvz_kernel():
        log.warn("CT %s: %s/%s are for upstream kernels; here vzctl applies its own: "
                 "vzctl set %s --iolimit ... --iopslimit ... --save"
                 % (ct.ctid, iolimits.KEY_IOLIMIT, iolimits.KEY_IOPSLIMIT, ct.ctid))
        return
    try:
        devno = mounts.devno_of(zvoldev.find_device(ct.dataset, 0))
        blkio.apply(ct.ctid, devno, limits, ct.platform)
        if verb != "mount":
            if blkio.start_waiter(ct.ctid, devno, limits, platform=ct.platform) is None:
                log.warn("CT %s: no blkio cgroup controller mounted: I/O limits not applied"
                         % ct.ctid)
    except (VzzfsError, OSError) as e:
        log.warn("CT %s: I/O limits not applied: %s"
                 % (ct.ctid, e.line() if isinstance(e, VzzfsError) else e))


def before_umount(ct):
    """postumount: remove the root's rule for the zvol's device (the CT has stopped;
    its final writeback should not wait on it, nor another zvol that later gets the
    device number). Never fails the stop."""
    try:
        devno = mounts.devno_of(zvoldev.find_device(ct.dataset, 0))
        if blkio.clear_root(devno):
            log.info("CT %s: I/O limits on %s removed" % (ct.ctid, devno))
    except (VzzfsError, OSError):
        pass  # no device (volmode, pool gone) or no blkio: no rule of ours to remove


def set_limits(ct, iolimit=None, iopslimit=None):
    """`vzzfs set-limits`: save the limits given (vzctl's command-line syntax: a bare
    IOLIMIT is MiB/s), take over vzctl's IOLIMIT/IOPSLIMIT keys, and apply the result
    at once to a mounted CT, under the CT's lock. Returns lines to print."""
    if not zfs.exists(ct.dataset):
        raise UsageError("is not on a zvol (no %s)" % ct.dataset, "check the CTID", ctid=ct.ctid)
    from ..system import lock  # only the command locks: the hooks run under vzctl's lock
    with lock.ct_lock(ct, "vzzfs set-limits"):
        return _set_limits(ct, iolimit, iopslimit)


def _set_limits(ct, iolimit=None, iopslimit=None):
    if openvz_kernel():
        raise UsageError("on an OpenVZ kernel vzctl applies I/O limits itself",
                         "vzctl set %s --iolimit ... --iopslimit ... --save" % ct.ctid,
                         ctid=ct.ctid)
    out = []
    changes = {}
    try:
        if iolimit is not None:
            changes[iolimits.KEY_IOLIMIT] = iolimits.conf_value(
                iolimits.parse_iolimit(iolimit, "--iolimit", default_unit=1 << 20))
        if iopslimit is not None:
            changes[iolimits.KEY_IOPSLIMIT] = iolimits.conf_value(
                iolimits.parse_iopslimit(iopslimit, "--iopslimit"))
    except ConfigError as e:
        raise UsageError(e.problem, e.fix, ctid=ct.ctid)
    taken = iolimits.vzctl_keys(ct.own)
    if taken:
        bps, iops = iolimits.from_vzctl_keys(ct.own)
        if bps is not None and iolimits.KEY_IOLIMIT not in changes:
            changes[iolimits.KEY_IOLIMIT] = iolimits.conf_value(bps)
        if iops is not None and iolimits.KEY_IOPSLIMIT not in changes:
            changes[iolimits.KEY_IOPSLIMIT] = iolimits.conf_value(iops)
        for key in taken:
            changes[key] = None
        out.append("CT %s: took over %s from %s as %s (vzctl 4.x cannot apply them on an "
                   "upstream kernel)" % (ct.ctid, " and ".join(taken), ct.conffile,
                                         " and ".join("VZZFS_" + k for k in taken)))
    if changes:
        from ..conf import ctconf
        ctconf.update_file(ct.conffile, changes)
        own = dict(ct.own)
        for key, value in changes.items():
            if value is None:
                own.pop(key, None)
            else:
                own[key] = value
        ct.own = own
    limits = limits_of(ct)
    what = describe(limits)
    mount = ct.private_mount()
    if mount is None:
        out.append("CT %s: I/O limits %s saved; set at the next start" % (ct.ctid, what))
        return out
    try:
        device = zvoldev.find_device(ct.dataset, 0)
        devno = mounts.devno_of(device)
        where = blkio.apply(ct.ctid, devno, limits, ct.platform)
    except OSError as e:
        raise StateError("could not find the zvol's device: %s" % e,
                         "check 'zfs get volmode %s'" % ct.dataset, ctid=ct.ctid)
    if not where and limits.none:
        out.append("CT %s: I/O limits none saved; no rule was set" % ct.ctid)
        return out
    if not where:
        raise StateError("I/O limits %s saved, but no blkio cgroup controller is mounted to "
                         "apply them" % what, "mount cgroup v1's blkio (vzctl needs it) or "
                         "cgroup v2", ctid=ct.ctid)
    out.append("CT %s: I/O limits %s saved and set on %s (%s) in %s"
               % (ct.ctid, what, device, devno, ", ".join(where)))
    return out


def describe(limits):
    """'10M/s, 100 IOPS' or 'none'."""
    if limits.none:
        return "none"
    parts = []
    if limits.bps:
        parts.append("%sB/s" % iolimits.human(limits.bps, "B"))
    if limits.iops:
        parts.append("%d IOPS" % limits.iops)
    return ", ".join(parts)
