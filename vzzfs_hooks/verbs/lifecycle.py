"""Making and removing containers on zvols: create, clone, destroy.

Each is all-or-nothing (revert.Reverter): a failure half way removes what was
made, so the node is left as it was. Each takes the CT's vzctl lock.
"""

import os
import re

from ..base import log, names
from ..base.errors import DatasetBusy, DatasetExists, StateError, UsageError
from ..base.fileio import read_text
from ..base.names import PROP_CTID, PROP_ORIGIN_CT, PROP_TEMPLATE
from ..base.names import check_new_ctid
from ..base.revert import Reverter
from ..conf import config, ctconf
from ..system import ext4, lock, mounts, vzctl, zfs, zvoldev
from ..container import claim, layout
from ..container.ct import Container
from . import resize, template  # relayout and snapshots where used: a create does not

CT_SCRIPT_SUFFIXES = ("conf", "mount", "umount", "premount", "postumount")


def zvol_props(settings):
    return {"compression": settings.compression, "primarycache": settings.primarycache,
            "dedup": settings.dedup}


# ---- checks shared by create and clone ----

def check_new_ct(ct, zvol_exists=None):
    """Refuse a CTID in use: a conf, a zvol (``zvol_exists``: already asked), a mount
    or files where the new CT goes."""
    if ct.has_conf:
        raise StateError("already exists (%s)" % ct.conffile,
                         "pick another CTID, or remove it with vzzfs destroy %s" % ct.ctid,
                         ctid=ct.ctid)
    if zfs.exists(ct.dataset) if zvol_exists is None else zvol_exists:
        raise DatasetExists("zvol %s already exists (an orphan?)" % ct.dataset,
                            "see vzzfs list; remove it with vzzfs destroy %s" % ct.ctid,
                            ctid=ct.ctid)
    mounted = set(m.mountpoint for m in mounts.table())  # one read for both paths
    for path in (ct.ve_private, ct.ve_root):
        if os.path.realpath(path) in mounted:
            raise StateError("%s is mounted" % path, "unmount it first", ctid=ct.ctid)
        if os.path.lexists(path) and (not os.path.isdir(path) or os.listdir(path)):
            raise StateError("%s already exists and is not empty" % path,
                             "move it away or pick another CTID", ctid=ct.ctid)


def make_dirs(ct, undo):
    """The permanent, guarded mount point and VE_ROOT, as vzzfs leaves a stopped CT;
    under OpenVZ 7 VE_PRIVATE's host side around the mount point (container/layout)."""
    if ct.vz7:
        made = not os.path.lexists(ct.ve_private)
        layout.prepare(ct)
        if made:
            undo.add("remove %s" % ct.ve_private, layout.remove_host_side, ct)
    for path, mode in ((ct.mountpoint, 0o700), (ct.ve_root, 0o755)):
        if not os.path.isdir(path):
            os.makedirs(path, mode)
            undo.add("remove %s" % path, ext4.remove_guarded, path)
    ext4.guard(ct.mountpoint)


def write_new_conf(ct, text, changes, undo):
    """A new CT's conf from ``text`` plus ``changes``; under OpenVZ 7 written as
    VE_PRIVATE/ve.conf with /etc/vz/conf/CTID.conf linking to it, as vzctl 7 keeps it."""
    ctconf.create_file(ct.conf_store, text, changes)
    undo.add("remove %s" % ct.conf_store, os.unlink, ct.conf_store)
    if ct.conf_store != ct.conffile:
        os.symlink(ct.conf_store, ct.conffile)
        undo.add("remove %s" % ct.conffile, os.unlink, ct.conffile)


def layout_props(ct):
    """The layout record a zvol made for ``ct`` on this node starts with."""
    return {names.PROP_LAYOUT: names.LAYOUT_VZ7 if ct.vz7 else names.LAYOUT_LEGACY}


def _identity(hostname, ipadd):
    changes = {}
    if hostname is not None:
        changes["HOSTNAME"] = hostname
    if ipadd:
        changes["IP_ADDRESS"] = " ".join(ipadd)
    return changes


def _apply_identity(ct, hostname, ipadd, undo_conf_changes):
    """Hostname and IPs: vzctl's own job when vzctl is installed; else written to the conf."""
    if hostname is None and not ipadd:
        return
    if vzctl.program(ct):
        vzctl.save(ct, hostname=hostname, ipadd=ipadd)
    else:
        ctconf.update_file(ct.conffile, dict(_identity(hostname, ipadd), **undo_conf_changes))


def vz7_node(node):
    """Does this node run OpenVZ 7's vzctl (then a new CT may have a UUID as CTID)?"""
    return vzctl.node_platform(node.settings()) == vzctl.OPENVZ7


def auto_create_warning(node):
    """VZZFS_AUTO_CREATE=yes where it cannot work: OpenVZ 7's `vzctl create` runs no
    vps.create, so new CTs would land on plain directories without a word."""
    if node.settings().auto_create and vz7_node(node):
        return ("VZZFS_AUTO_CREATE=yes does nothing on this OpenVZ 7 node (its vzctl create "
                "runs no vps.create): create CTs with vzzfs create, or move a new one onto "
                "a zvol with vzzfs convert")
    return None


def check_hostname(name):
    if name is not None and not re.match(config.HOSTNAME_RE, name):
        raise UsageError("invalid hostname %r" % name, "use letters, digits, - and .")
    return name


def check_ips(ips):
    for ip in ips:
        if not re.match(config.IP_RE, ip):
            raise UsageError("invalid IP address %r" % ip, "use e.g. 10.0.0.5 or 2001:db8::5")
    return list(ips)


def _sample_text(node, sample):
    """The ve-SAMPLE.conf-sample text: --config, else vz.conf's CONFIGFILE, else vzzfs's."""
    name = sample or node.global_params().get("CONFIGFILE") or "vzzfs"
    if not re.match(config.SAMPLE_RE, name):
        raise UsageError("invalid config sample name %r" % name, "use e.g. --config vzzfs")
    path = os.path.join(node.conf_dir, "ve-%s.conf-sample" % name)
    if not os.path.isfile(path):
        if sample is None and name == "vzzfs":
            return name, ""
        raise UsageError("config sample %s does not exist" % path,
                         "pick one of %s/ve-*.conf-sample with --config" % node.conf_dir)
    return name, read_text(path)


# ---- create ----

def _inodes_refuse_clone(settings, ostemplate, tmpl_size, clone_size, barrier, recorded):
    """None if a clone at ``clone_size`` has DISKINODES' barrier of inodes, else (why, fix).
    ``recorded``: the template's PROP_GEOMETRY as create's `zfs get` found it.

    ext4 fixes its inodes per block group at mkfs and resize2fs adds whole
    groups, so a clone's inode count grows with its size, in the template's ratio.
    """
    enough, have, need = template.clone_inodes(template.geometry(settings, ostemplate, recorded),
                                               tmpl_size, clone_size, barrier)
    if enough:
        return None
    fix = "lower DISKINODES"
    if need:
        fix += (", or import the template again with more inodes: vzzfs template remove %s; "
                "vzzfs template import %s --size %dM --diskinodes %d"
                % (ostemplate, ostemplate, tmpl_size >> 20, need))
    return ("DISKINODES asks for %d inodes, a clone of %d MiB would have %d"
            % (barrier, clone_size >> 20, have), "for a clone: " + fix)


def _clone_fits(ct, settings, ostemplate, tmpl_size, diskspace, diskinodes, geometry):
    """Can the CT be a clone of the template (``tmpl_size``: its volsize; ``geometry``:
    its PROP_GEOMETRY)? When not, a warning says why and the tarball is unpacked instead."""
    why = None
    if diskspace < tmpl_size:
        why = ("diskspace is smaller than the template's volume (%d MiB)"
               % (tmpl_size >> 20), "use a larger --diskspace")
    elif diskinodes:
        why = _inodes_refuse_clone(settings, ostemplate, tmpl_size,
                                   max(tmpl_size, zfs.round_size(diskspace,
                                                                 settings.volblocksize)),
                                   diskinodes[0], geometry)
    if why:
        log.warn("CT %s: %s; unpacking the tarball instead of cloning template %s (%s)"
                 % ((ct.ctid, why[0], ostemplate, why[1])))
    return why is None


def create(node, ctid, ostemplate, diskspace=None, sample=None, hostname=None, ipadd=(),
           diskinodes=None, overrides=None):
    """A new stopped CT on its own zvol; returns (Container, made by clone?).

    ``overrides``: VZZFS_* settings for this zvol only (e.g. from the command line).
    """
    names.check_template_name(ostemplate)
    check_hostname(hostname)
    ipadd = check_ips(ipadd)
    ct = Container(check_new_ctid(node.names_dir, ctid, uuid_ok=vz7_node(node)), node)
    settings = config.Settings(config.merge(
        ct.settings.raw, {k: v for k, v in (overrides or {}).items() if v is not None}))
    sample_name, sample_text = _sample_text(node, sample)
    sample_params = config.parse_text(sample_text)
    if diskspace is None:
        diskspace = config.parse_diskspace(sample_params.get("DISKSPACE", "10G"),
                                           "DISKSPACE of ve-%s.conf-sample" % sample_name,
                                           ctid=ct.ctid)
    if diskspace < ext4.MIN_SIZE:
        raise UsageError("diskspace %d MiB is too small" % (diskspace >> 20),
                         "use at least %d MiB" % (ext4.MIN_SIZE >> 20), ctid=ct.ctid)
    if diskinodes is None and sample_params.get("DISKINODES"):
        diskinodes = config.parse_diskinodes(sample_params["DISKINODES"],
                                             "DISKINODES of ve-%s.conf-sample" % sample_name)
    golden = names.golden_snapshot(settings.root, ostemplate)
    tarball, tar_opts = template.find_tarball(node, ostemplate)
    parents = zfs.ancestors(ct.dataset)
    tmpl_ds = names.template_dataset(settings.root, ostemplate)

    # the claim rule is create's own `zfs get` below (the lock's would be a second one)
    with lock.ct_lock(ct, "vzzfs create", check_claim=False):
        zfs.require_pool(ct.pool)
        # one read for all a create asks: template, new zvol (and whose it is), its
        # parents, the pool's space, the template's ext4 geometry
        found = zfs.read_many([(golden, ("volsize", names.PROP_LAYOUT)),
                               (ct.dataset, (PROP_CTID,)), (ct.pool, zfs.POOL_SPACE_PROPS),
                               (tmpl_ds, (names.PROP_GEOMETRY,))]
                              + [(parent, ()) for parent in parents[1:]])
        if ct.dataset in found:  # refused either way; the claim rule says it best
            claim.check(ct, found[ct.dataset].get(PROP_CTID))
        check_new_ct(ct, zvol_exists=ct.dataset in found)
        tmpl_size = int(found[golden]["volsize"]) if golden in found else None
        by_clone = tmpl_size is not None and _clone_fits(
            ct, settings, ostemplate, tmpl_size, diskspace, diskinodes,
            found.get(tmpl_ds, {}).get(names.PROP_GEOMETRY))
        if not by_clone and tarball is None:
            raise UsageError("unknown OS template %s: no %s and no tarball in %s/cache"
                             % (ostemplate, golden, template.template_dir(node)),
                             "download it (vztmpl-dl %s) or see vzzfs template list" % ostemplate,
                             ctid=ct.ctid)
        zfs.ensure_filesystem(parents[-1], existing=found)
        props = zvol_props(settings)
        props.update({PROP_CTID: ct.ctid, PROP_TEMPLATE: ostemplate})
        with Reverter() as undo:
            if by_clone:
                # only what the new CT needs now: the clone, its conf and mount point. Its
                # zvol and ext4 stay the template's size until premount grows both to
                # DISKSPACE at the first start or mount (attach._follow_diskspace), so
                # create touches no block device and runs two zfs commands; on OpenVZ 7
                # a template laid out for vzctl 4.x gets its files moved (renames).
                tmpl_layout = found[golden].get(names.PROP_LAYOUT) or names.LAYOUT_LEGACY
                props[names.PROP_LAYOUT] = tmpl_layout
                zfs.clone(golden, ct.dataset, props)
                undo.add("destroy %s" % ct.dataset, zfs.destroy, ct.dataset, True)
                make_dirs(ct, undo)
                if tmpl_layout != layout_props(ct)[names.PROP_LAYOUT]:
                    from . import relayout
                    relayout.relayout_files(ct, settings, ct.vz7)
            else:
                props.update(layout_props(ct))
                zfs.create_volume(ct.dataset, diskspace, settings.volblocksize, settings.sparse, props)
                undo.add("destroy %s" % ct.dataset, zfs.destroy, ct.dataset, True)
                make_dirs(ct, undo)
                _unpack_into(ct, settings, tarball, tar_opts, ostemplate, diskspace, diskinodes)
            kb = diskspace >> 10
            changes = {"OSTEMPLATE": ostemplate, "VE_LAYOUT": "simfs", "DISK_QUOTA": "no",
                       "DISKSPACE": "%d:%d" % (kb, kb), "VZZFS_DATASET": ct.dataset,
                       "ORIGIN_SAMPLE": sample_name}
            if diskinodes:
                changes["DISKINODES"] = "%d:%d" % diskinodes
            write_new_conf(ct, sample_text, changes, undo)
            _apply_identity(ct, hostname, ipadd, {})
            undo.commit()
    # a clone allocated next to nothing: the pool is as full as before it
    resize.warn_if_pool_filling(ct, zfs.percent_full(found[ct.pool]) if by_clone else None)
    log.info("CT %s: created on %s from %s (%s)" % (ct.ctid, ct.dataset, ostemplate,
                                                  "clone" if by_clone else "tarball"))
    return Container(ct.ctid, node), by_clone


def _unpack_into(ct, settings, tarball, tar_opts, ostemplate, diskspace, diskinodes):
    """mkfs the new zvol and unpack the template's tarball onto it."""
    with zvoldev.hold(ct.dataset, settings.dev_timeout) as held:  # mkfs and mount open it freely
        dev = held.device
        ext4.mkfs(dev, diskspace, diskinodes and diskinodes[1])
        ext4.unguard(ct.mountpoint)
        ext4.mount(dev, ct.mountpoint, settings.mount_opts, ct.dataset)
    try:
        if ct.vz7:
            os.mkdir(ct.files, 0o755)
        template.unpack(tarball, tar_opts, ct.files,
                        "CT %s: unpacking %s" % (ct.ctid, ostemplate))
    finally:
        ext4.umount(ct.mountpoint, settings.busy_timeout)
        ext4.guard(ct.mountpoint)


# ---- clone ----

def clone(node, src_id, dst_id, snapshot=None, hostname=None, ipadd=()):
    """DST as a ZFS clone of a snapshot of SRC, with its own identity."""
    from . import relayout, snapshots
    check_hostname(hostname)
    ipadd = check_ips(ipadd)
    src = Container(src_id, node)
    src.require_conf()
    dst = Container(check_new_ctid(node.names_dir, dst_id, uuid_ok=src.vz7), node)
    if src.ctid == dst.ctid:
        raise UsageError("source and destination are the same CT", "pick a new CTID")
    if not zfs.exists(src.dataset):
        raise UsageError("is not on a zvol (no %s)" % src.dataset,
                         "convert it first (vzzfs convert %s)" % src.ctid, ctid=src.ctid)
    # the clone's dataset sits where its own settings say, not beside the source's
    if dst.explicit:
        raise UsageError("has VZZFS_DATASET set in a conf that should not exist",
                         "remove %s" % dst.conffile, ctid=dst.ctid)
    if snapshot is not None:
        snap = names.snapshot(src.dataset, snapshot)
        if not zfs.exists(snap):
            raise UsageError("snapshot %s does not exist" % snap,
                             "see zfs list -t snapshot %s" % src.dataset, ctid=src.ctid)
    with lock.ct_lock(dst, "vzzfs clone"):
        check_new_ct(dst)
        zfs.ensure_filesystem(dst.dataset.rsplit("/", 1)[0])
        with Reverter() as undo:
            if snapshot is None:
                snap = names.snapshot(src.dataset, names.clone_snapshot_name(dst.ctid))
                snapshots.preflush(src)  # before src's lock: vzctl finds it locked briefly
                with lock.ct_lock(src, "vzzfs clone to %s" % dst.ctid):
                    if zfs.exists(snap) and not template.clones_of(snap):
                        zfs.destroy(snap)  # left by an interrupted clone
                    # freeze only: a clone needs consistent files, not paused processes
                    snapshots.take(src, snap.split("@", 1)[1], suspend=False, kind=names.KIND_CLONE)
                undo.add("destroy %s" % snap, zfs.destroy, snap)
            src_layout = relayout.recorded_layout(src)  # the clone's files lie as the source's
            zfs.clone(snap, dst.dataset, {PROP_CTID: dst.ctid, PROP_ORIGIN_CT: src.ctid,
                                          names.PROP_LAYOUT: src_layout})
            undo.add("destroy %s" % dst.dataset, zfs.destroy, dst.dataset, True)
            make_dirs(dst, undo)
            if src_layout != layout_props(dst)[names.PROP_LAYOUT]:
                relayout.relayout_files(dst, dst.settings, dst.vz7)
            text = read_text(src.conffile)
            changes = {"VZZFS_DATASET": dst.dataset, "HOSTNAME": hostname,
                       "IP_ADDRESS": " ".join(ipadd) if ipadd else None}
            changes.update(conf_changes_for_new_ctid(src.own, dst.ctid))
            write_new_conf(dst, text, changes, undo)
            undo.commit()
    return Container(dst.ctid, node)


def conf_changes_for_new_ctid(own, ctid):
    """What a CT's conf needs under another CTID: its own paths, no name, MACs or UUID."""
    changes = {"NAME": None, "NETIF": None, "UUID": None}
    for key in ("VE_PRIVATE", "VE_ROOT"):
        if key in own and "$VEID" not in own[key] and "${VEID}" not in own[key]:
            changes[key] = own[key].rsplit("/", 1)[0] + "/" + ctid
    return changes


# ---- destroy ----

def dependents(dataset):
    """(snapshot, clone) pairs: clones made from snapshots of ``dataset``."""
    pairs = []
    for row in zfs.list_datasets(dataset, ["name", "clones"], types="snapshot"):
        for c in (row.get("clones") or "").split(","):
            if c and c != "-":
                pairs.append((row["name"], c))
    return pairs


def destroy(node, ctid, promote=False):
    """Remove a stopped CT: its zvol with snapshots, mount point, and conf (kept as .destroyed)."""
    ct = Container(ctid, node)
    with lock.ct_lock(ct, "vzzfs destroy"):
        destroy_locked(ct, promote)


def destroy_locked(ct, promote=False):
    """destroy, for a caller that holds the CT's lock (migrate retiring its source)."""
    node = ct.node
    has_zvol = zfs.exists(ct.dataset)
    if not ct.has_conf and not has_zvol:
        raise UsageError("does not exist (no %s, no zvol %s)" % (ct.conffile, ct.dataset),
                         "see vzzfs list", ctid=ct.ctid)
    ct.require_stopped("destroy")
    if has_zvol:
        claim.require(ct)  # VZZFS_DATASET may name the pool, VZZFS_ROOT, another CT
        deps = dependents(ct.dataset)
        if deps and not promote:
            raise DatasetBusy("zvol %s is the origin of %s"
                              % (ct.dataset, ", ".join(sorted(c for _, c in deps))),
                              "destroy those first, or use --promote to make them "
                              "independent", ctid=ct.ctid)
        from . import snapshots
        while deps:
            clone, moved = next_promotion(deps, {r["name"]: r["txg"] for r in snapshots.rows(ct)})
            zfs.promote(clone)
            _forget_ct_state(clone, moved)
            log.info("CT %s: promoted %s" % (ct.ctid, clone))
            deps = dependents(ct.dataset)
        zfs.destroy(ct.dataset, recursive=True)
    if ct.vz7:
        layout.remove_host_side(ct)  # vzctl 7's destroy removes the rest of VE_PRIVATE
    else:
        ext4.remove_guarded(ct.ve_private)
    if os.path.isdir(ct.ve_root) and not os.listdir(ct.ve_root):
        os.rmdir(ct.ve_root)
    if ct.has_conf:
        if vzctl.program(ct):
            vzctl.destroy(ct)
        else:
            _retire_conf(node, ct)
    log.info("CT %s: destroyed (zvol %s)" % (ct.ctid, ct.dataset))


def next_promotion(deps, txg):
    """Which clone to promote next, and the snapshots the promote moves to it. Pure.

    ``deps``: (origin snapshot 'ds@name', clone) pairs; ``txg``: {snapshot name:
    createtxg} of the zvol being destroyed. The clone of the newest origin goes
    first: it takes that snapshot and every older one, so the other clones then
    hang off it and the zvol is left with nothing anyone needs.
    """
    def origin_txg(dep):
        return txg[dep[0].split("@", 1)[1]]
    origin, clone = max(deps, key=origin_txg)
    upto = origin_txg((origin, clone))
    return clone, sorted((n for n, t in txg.items() if t <= upto), key=txg.get)


def _forget_ct_state(clone, snap_names):
    """Snapshots a promote moved to ``clone`` still name the destroyed CT's conf and dump:
    drop both, or snapshot-switch on the clone would install that CT's identity."""
    for name in snap_names:
        snap = "%s@%s" % (clone, name)
        if zfs.exists(snap):
            for prop in (names.PROP_CONF, names.PROP_DUMP):
                zfs.zfs("inherit", prop, snap, name=snap)


def _retire_conf(node, ct):
    """What vzctl destroy does with the conf: keep it as CTID.conf.destroyed."""
    for suffix in CT_SCRIPT_SUFFIXES:
        path = os.path.join(node.conf_dir, "%s.%s" % (ct.ctid, suffix))
        if os.path.exists(path):
            os.rename(path, path + ".destroyed")
    name = ct.own.get("NAME")
    if name and re.match(config.SAMPLE_RE, name):
        link = os.path.join(node.names_dir, name)
        if os.path.islink(link) and os.path.basename(os.readlink(link)) == "%s.conf" % ct.ctid:
            os.unlink(link)
