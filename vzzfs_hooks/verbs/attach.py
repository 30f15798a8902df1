"""A CT's zvol attached at its mount point and detached again: premount's and
postumount's work (hook/sequence.py calls it), and `vzzfs attach`/`detach`.

premount attaches the zvol's ext4 at the CT's mount point (VE_PRIVATE under vzctl
4.x, VE_PRIVATE/disk under OpenVZ 7: container/layout.py), postumount detaches it;
the mount hook checks the result. Every step leaves the node as it found it when it
fails: a mount made here is undone before an error leaves this module.
"""

import os

from ..base import log, names
from ..base.errors import ConfigError, DatasetNotFound, FsError, StateError, UsageError, VzzfsError
from ..system import ext4, mounts, zfs, zvoldev
from ..container import claim, layout


def pool_shadow_warning(pool, private_top):
    """A warning if the pool's root file system is mounted over OpenVZ's tree.

    ``zpool create vz`` mounts the pool at /vz by default, hiding /vz/private
    and /vz/template of the disk underneath. None when all is well.
    """
    props = zfs.get_with_source(pool, "mounted", "mountpoint")
    mounted = props.get("mounted", ("no", ""))[0] == "yes"
    mountpoint, source = props.get("mountpoint", ("none", ""))
    if (mounted and source == "default" and mountpoint.startswith("/")
            and (private_top + "/").startswith(mountpoint.rstrip("/") + "/")):
        return ("pool %s is mounted at %s, over %s: files there are hidden under it "
                "(zfs set canmount=off %s; or mountpoint=none if nothing of yours lives in it)"
                % (pool, mountpoint, private_top, pool))
    return None


def _check_volume(ct):
    """(volsize, pool percent full) once the pool is usable and the dataset a zvol:
    one `zfs get` for the zvol and the pool's root, the pool's state from its kstat."""
    zfs.require_pool(ct.pool)
    found = zfs.get_many([ct.dataset, ct.pool], "type", "volsize", names.PROP_CTID,
                         names.PROP_LAYOUT, *zfs.POOL_SPACE_PROPS)
    if ct.dataset not in found:
        raise zfs.typed_error(DatasetNotFound, "zvol %s does not exist" % ct.dataset,
                              ct.dataset)
    props = found[ct.dataset]
    capacity = zfs.percent_full(found.get(ct.pool, {}))
    kind = props.get("type")
    if kind != "volume":
        raise ConfigError("dataset %s is a %s, not a zvol" % (ct.dataset, kind),
                          "point VZZFS_DATASET in %s at a zvol" % ct.conffile)
    claim.check(ct, props.get(names.PROP_CTID))
    require_layout(ct, props.get(names.PROP_LAYOUT))
    return int(props["volsize"]), capacity


def require_layout(ct, recorded):
    """The zvol's ext4 must be laid out for the vzctl that mounts it (PROP_LAYOUT,
    ``recorded``: LAYOUT_VZ7 once vzzfs moved the files into fs/, else the top)."""
    vz7 = recorded == names.LAYOUT_VZ7
    if recorded not in (None, "", "-", names.LAYOUT_LEGACY, names.LAYOUT_VZ7):
        raise StateError("zvol %s is halfway through a move between layouts (%s=%s)"
                         % (ct.dataset, names.PROP_LAYOUT, recorded),
                         "finish it with the CT stopped: vzzfs relayout %s" % ct.ctid,
                         ctid=ct.ctid)
    if vz7 != ct.vz7:
        raise StateError("zvol %s is laid out for %s, and this node runs %s"
                         % (ct.dataset, "OpenVZ 7" if vz7 else "vzctl 4.x",
                            "OpenVZ 7's vzctl" if ct.vz7 else "vzctl 4.x"),
                         "lay it out for this node with the CT stopped: vzzfs relayout %s"
                         % ct.ctid, ctid=ct.ctid)


def _prepare_mountpoint(ct):
    """The mount point must be an empty directory; keep it guarded while unmounted.
    Under OpenVZ 7 VE_PRIVATE's host side is made or checked first."""
    if ct.vz7:
        if mounts.mount_at(ct.ve_private) is not None or ext4.is_immutable(ct.ve_private):
            raise StateError("VE_PRIVATE %s is laid out for vzctl 4.x (a mount or the guard "
                             "on it), and this node runs OpenVZ 7's vzctl" % ct.ve_private,
                             "with the CT stopped: vzzfs relayout %s" % ct.ctid, ctid=ct.ctid)
        layout.prepare(ct)
    path = ct.mountpoint
    if not os.path.isdir(path):
        if os.path.lexists(path):
            raise FsError("%s exists but is not a directory" % path,
                          "move it away; vzzfs mounts the zvol there")
        os.makedirs(path, 0o700)
    leftovers = os.listdir(path)
    if leftovers:
        raise FsError("%s holds files while the zvol is not mounted (%s); "
                      "they would be hidden under the mount" % (path, ", ".join(sorted(leftovers)[:3])),
                      "move them away: mv %s %s.stray && mkdir %s" % (path, path, path))
    if not ext4.guard(path):
        log.info("CT %s: cannot guard %s with chattr +i on this file system" % (ct.ctid, path))


def _same_device(mount, device):
    return mount is not None and mount.devno == mounts.devno_of(device)


def attach(ct):
    """Mount the CT's zvol on its mount point. Returns True if it mounted now,
    False if it was mounted already (by an earlier mount, or left by a failed step)."""
    if ct.disk_quota != "no":
        log.warn("CT %s: DISK_QUOTA=%s: vzquota is useless on a zvol and slows start "
                 "(set DISK_QUOTA=no in %s)" % (ct.ctid, ct.disk_quota, ct.conffile))
    current = ct.private_mount()
    if current is not None:
        _require_ours(ct, current)
        log.info("CT %s: %s already mounted on %s" % (ct.ctid, ct.dataset, ct.mountpoint))
        return False
    from . import resize  # only attaching needs it: a hook for another CT starts without
    volsize, pool_full = _check_volume(ct)
    _prepare_mountpoint(ct)
    with zvoldev.hold(ct.dataset, ct.settings.dev_timeout) as held:  # CTs starting at once
        device = held.device
        _refuse_if_mounted_elsewhere(ct, device)
        if ct.settings.fsck == "preen" and ext4.fsck_preen(device, ct.dataset):
            log.warn("CT %s: e2fsck repaired the ext4 on %s" % (ct.ctid, ct.dataset))
        _follow_diskspace(ct, device, volsize)  # before the mount: unmounted, any ext4 grows
        ext4.mount(device, ct.mountpoint, ct.settings.mount_opts, ct.dataset)
        if ct.vz7:
            try:
                layout.check_mounted(ct, os.stat(device).st_rdev)
            except VzzfsError:
                ext4.umount(ct.mountpoint, ct.settings.busy_timeout)
                ext4.guard(ct.mountpoint)
                raise
    log.info("CT %s: mounted %s (%s) on %s" % (ct.ctid, ct.dataset, device, ct.mountpoint))
    resize.warn_if_pool_filling(ct, pool_full)
    return True


def _follow_diskspace(ct, device, current):
    """`vzctl set --diskspace` saved a new size: grow zvol and ext4 before the CT runs.

    Done before the mount: an unmounted ext4 always grows, where the kernel may
    refuse an online grow (a small journal). A grow that cannot happen (pool
    full) is a warning, not a failed start: the CT runs at its old size.
    Shrinking needs the CT stopped, so it is only named.
    """
    from . import resize
    try:
        wanted = resize.wanted_size(ct)
        if wanted is not None and wanted > current:
            resize.grow(ct, wanted, device)
            current = resize.volsize(ct)
            log.info("CT %s: grew zvol %s to DISKSPACE (%d MiB)" % (ct.ctid, ct.dataset,
                                                                  wanted >> 20))
        if ext4.fs_size(device) < current - (4 << 20):
            # a new size, or a grow cut (or refused online) between the zvol and the ext4
            ext4.grow_fs_offline(device)
            log.info("CT %s: grew the ext4 on %s to its zvol's %d MiB"
                     % (ct.ctid, ct.dataset, current >> 20))
        if wanted is not None and wanted < current - (1 << 20):
            log.warn("CT %s: DISKSPACE (%d MiB) is below the zvol's %d MiB; shrink it with "
                     "the CT stopped: vzzfs resize %s %dM" % (ct.ctid, wanted >> 20,
                                                              current >> 20, ct.ctid,
                                                              wanted >> 20))
    except VzzfsError as e:
        log.warn("CT %s: could not follow DISKSPACE: %s" % (ct.ctid, e.line()))


def _require_ours(ct, current):
    """The mount on the mount point must be this CT's zvol (a mounted zvol keeps its pool imported)."""
    if current.fstype == "ext4":
        try:
            # no waiting: a zvol that is mounted has its device
            if _same_device(current, zvoldev.find_device(ct.dataset, 0)):
                return
        except FsError:
            pass
    raise FsError("%s has %s mounted on it, not zvol %s"
                  % (ct.mountpoint, current.source or current.fstype, ct.dataset),
                  "unmount it by hand (umount %s) and retry" % ct.mountpoint)


def _refuse_if_mounted_elsewhere(ct, device):
    devno = mounts.devno_of(device)
    here = [m.mountpoint for m in mounts.table() if m.devno == devno]
    if here:
        raise FsError("zvol %s is already mounted at %s" % (ct.dataset, here[0]),
                      "unmount it there first (umount %s)" % here[0])
    others = mounts.namespaces_using(devno, "ext4")  # vzzfs makes an ext4 on every zvol
    if others:
        raise FsError("zvol %s is still mounted in the mount namespace of pid %s"
                      % (ct.dataset, ", ".join(map(str, others))),
                      "stop those processes (a container left running?) and retry")


def check_mounted(ct):
    """The mount hook: the mount point must hold this CT's zvol by now."""
    device = zvoldev.find_device(ct.dataset, ct.settings.dev_timeout)
    if not _same_device(ct.private_mount(), device):
        raise StateError("%s is not the mounted zvol %s (premount did not run?)"
                         % (ct.mountpoint, ct.dataset),
                         "check that /etc/vz/conf/vps.premount is vzzfs's (vzzfs install-hooks)")


def detach(ct):
    """Unmount the zvol and guard the empty directory again.

    Refuses while VE_ROOT is mounted (the CT still uses it). Returns True if it
    unmounted something.
    """
    if ct.root_mounted():
        raise StateError("VE_ROOT %s is still mounted, so %s stays mounted"
                         % (ct.ve_root, ct.mountpoint),
                         "stop what uses it, run 'umount %s', then 'vzzfs detach %s'"
                         % (ct.ve_root, ct.ctid))
    current = ct.private_mount()
    if current is None:
        ext4.guard(ct.mountpoint)
        return False
    _require_ours(ct, current)
    ext4.umount(ct.mountpoint, ct.settings.busy_timeout)
    others = mounts.namespaces_using(current.devno, current.fstype)
    if others:
        log.warn("CT %s: zvol %s is still mounted in the mount namespace of pid %s"
                 % (ct.ctid, ct.dataset, ", ".join(map(str, others))))
    ext4.guard(ct.mountpoint)
    log.info("CT %s: unmounted %s from %s" % (ct.ctid, ct.dataset, ct.mountpoint))
    return True


# ---- the same by hand (vzzfs attach/detach): vzctl holds the lock for the hooks ----

def attach_locked(ct):
    """vzzfs attach: ``attach`` under the CT's lock, for a vzzfs CT only."""
    from ..system import lock  # the hooks never lock (vzctl holds it): they start without it
    ct.require_conf()
    with lock.ct_lock(ct, "vzzfs attach"):
        if not claim.is_vzzfs(ct):
            raise UsageError("is not a vzzfs container (no zvol %s, no VZZFS_DATASET)"
                             % ct.dataset, "check the CTID", ctid=ct.ctid)
        return attach(ct)


def detach_locked(ct):
    """vzzfs detach: ``detach`` under the CT's lock."""
    from ..system import lock
    with lock.ct_lock(ct, "vzzfs detach"):
        return detach(ct)
