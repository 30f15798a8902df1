"""vzzfs relayout: a stopped CT laid out for this node's vzctl, by renames on its zvol.

A zvol CT made on a vzctl 4.x node holds its files at the top of its ext4 and is
mounted on VE_PRIVATE; under OpenVZ 7 the files live in the ext4's fs/ directory
and VE_PRIVATE is a directory of the host (container/layout.py). Moving a CT's
node from one to the other (an upgrade, a migration, a restore of a backup made
there) needs its files moved: renames inside the ext4, never a copy, recorded on
the zvol (org.openvz.vzzfs:layout) so that premount knows which layout it mounts,
and crash-safe: the record says a move began, and a rerun finishes it.

``relayout_files`` is the part on the zvol (create and restore call it for a
zvol that arrives in the other layout); ``relayout`` is the verb: the CT stopped,
its lock held, the claim checked, then the files and the host side (VE_PRIVATE's
skeleton or the guarded mount point, and where the conf lives).
"""

import os

from ..base import log, names
from ..base.errors import StateError
from ..base.fileio import read_text
from ..conf import ctconf
from ..container import claim, layout
from ..system import ext4, lock, zfs, zvoldev

MOVING = {True: "to-" + names.LAYOUT_VZ7, False: "to-" + names.LAYOUT_LEGACY}


def recorded_layout(ct):
    """PROP_LAYOUT of the CT's zvol: LAYOUT_VZ7, LAYOUT_LEGACY (also when unset), or a
    move in progress (MOVING's values)."""
    value = zfs.get(ct.dataset, names.PROP_LAYOUT).get(names.PROP_LAYOUT)
    return value if value not in (None, "", "-") else names.LAYOUT_LEGACY


def relayout_files(ct, settings, to_vz7):
    """Move the files on the CT's unmounted zvol into (``to_vz7``) or out of its ext4's
    fs/ directory, unless they are there already; returns True if anything moved."""
    done = names.LAYOUT_VZ7 if to_vz7 else names.LAYOUT_LEGACY
    now = recorded_layout(ct)
    if now == done:
        return False
    resuming = now == MOVING[to_vz7]
    zfs.set_props(ct.dataset, {names.PROP_LAYOUT: MOVING[to_vz7]})
    import tempfile  # here: the verbs that import this module rarely lay a CT out
    top = tempfile.mkdtemp(prefix="vzzfs-relayout-")
    try:
        with zvoldev.hold(ct.dataset, settings.dev_timeout) as held:
            ext4.mount(held.device, top, settings.mount_opts + ",nosuid,nodev,noexec",
                       ct.dataset)
        try:
            if to_vz7:
                moved = layout.into_fs_dir(top, resuming)
            else:
                moved = layout.out_of_fs_dir(top, resuming)
        finally:
            ext4.umount(top, settings.busy_timeout)
    finally:
        os.rmdir(top)
    zvoldev.flush(ct.dataset)
    zfs.set_props(ct.dataset, {names.PROP_LAYOUT: done})
    log.info("CT %s: moved %d entries %s the ext4's %s/ on %s"
             % (ct.ctid, len(moved), "into" if to_vz7 else "out of", names.VZ7_CT_DIR,
                ct.dataset))
    return True


def relayout(ct):
    """vzzfs relayout CTID: lay a stopped CT out for this node's vzctl. Returns what was
    done, one line each."""
    ct.require_conf()
    done = []
    with lock.ct_lock(ct, "vzzfs relayout"):
        claim.require(ct)
        ct.require_stopped("relayout")
        if not zfs.exists(ct.dataset):
            raise StateError("has no zvol %s" % ct.dataset, "check the CTID", ctid=ct.ctid)
        if not ct.vz7:
            leftovers = layout.host_side_leftovers(ct)
            if leftovers:  # checked before anything moves
                raise StateError("%s holds %s, which vzctl 4.x's layout has no place for"
                                 % (ct.ve_private, ", ".join(leftovers[:5])),
                                 "move them away, then run vzzfs relayout %s again" % ct.ctid,
                                 ctid=ct.ctid)
        if relayout_files(ct, ct.settings, ct.vz7):
            done.append("files moved %s the ext4's %s/" % ("into" if ct.vz7 else "out of",
                                                         names.VZ7_CT_DIR))
        done += _host_side(ct)
    return done or ["already laid out for this node"]


def _host_side(ct):
    """VE_PRIVATE and the conf as this node's vzctl wants them for a stopped CT."""
    done = []
    if ct.vz7:
        if ext4.is_guarded(ct.ve_private):
            ext4.unguard(ct.ve_private)  # vzctl 4.x's guarded mount point becomes the host dir
            done.append("VE_PRIVATE %s made a directory of the host" % ct.ve_private)
        layout.prepare(ct)
        ext4.guard(ct.mountpoint)
        if not os.path.islink(ct.conffile) and os.path.isfile(ct.conffile):
            store = ct.conf_store
            ctconf.create_file(store, read_text(ct.conffile), {})
            tmp = ct.conffile + ".vzzfs-link"
            os.symlink(store, tmp)
            os.rename(tmp, ct.conffile)
            done.append("conf moved to %s, %s links to it" % (store, ct.conffile))
        return done
    if os.path.islink(ct.conffile):
        text = read_text(ct.conffile)
        store = os.path.realpath(ct.conffile)
        ctconf.write_file(ct.conffile + ".vzzfs-new", text)
        os.rename(ct.conffile + ".vzzfs-new", ct.conffile)
        if store == os.path.join(ct.ve_private, names.VZ7_CONF):
            os.unlink(store)
        done.append("conf moved back to %s" % ct.conffile)
    if os.path.lexists(os.path.join(ct.ve_private, names.VZ7_LAYOUT_LINK)):
        vz7_mountpoint = os.path.join(ct.ve_private, names.VZ7_DISK_DIR)
        ext4.remove_guarded(vz7_mountpoint)
        lock_file = os.path.join(ct.ve_private, ".lck")
        if os.path.isfile(lock_file) and not os.path.islink(lock_file):
            os.unlink(lock_file)  # vzctl 7's, left unlocked
        layout.remove_host_side(_as_vz7(ct))
        done.append("OpenVZ 7's skeleton removed from %s" % ct.ve_private)
    if not os.path.isdir(ct.ve_private):
        os.makedirs(ct.ve_private, 0o700)
    ext4.guard(ct.ve_private)
    return done


def _as_vz7(ct):
    """The same CT seen as OpenVZ 7 lays it out (its mount point VE_PRIVATE/disk)."""
    from ..container.ct import Container
    from ..system import vzctl
    return Container(ct.ctid, ct.node, ct.conffile, platform=vzctl.OPENVZ7)
