"""Snapshots of a CT's zvol: consistent ones of a running CT, list, delete, switch, mount.

A running CT is suspended (vzctl chkpnt --suspend), optionally dumped, its ext4
frozen, the snapshot taken in one atomic call, then thawed and resumed. Every
way out of that window (an error, a full pool, SIGINT, SIGTERM, SIGHUP) thaws
and resumes first: signals are held off inside it and acted on between steps
(signals.py); only SIGKILL cannot be caught. What vzzfs needs later (the
kind, the dump file, the CT's conf then) rides on the snapshot as user properties.
"""

import os
import time

from ..base import faults, log, names, signals
from ..base.errors import DatasetBusy, StateError, UsageError, VzzfsError
from ..conf import config, ctconf
from ..rules import confimport
from ..system import ext4, freezer, lock, mounts, vzctl, zfs, zvoldev
from . import attach
from ..base.names import (PROP_BACKUP, PROP_CONF, PROP_DUMP, PROP_INFLIGHT, PROP_KIND,
                          PROP_REPLICATED,
                    PROP_ROLLED_BACK, PROP_SNAP_STATE, SNAPSHOT_PREFIX)
from ..base.fileio import read_text
from ..base.revert import Reverter

LIST_PROPS = ("name", "creation", "createtxg", "guid", "used", "referenced", "clones",
              "userrefs", PROP_KIND, PROP_SNAP_STATE, PROP_DUMP, PROP_BACKUP, PROP_REPLICATED,
              PROP_INFLIGHT)
_CONF_MAX = 8000
SNAPSHOT_MOUNT_OPTS = "ro,noload,nosuid,nodev,noexec"  # a ZFS user property holds 8192 bytes


def unique_name(ct, prefix=SNAPSHOT_PREFIX, taken=None):
    """prefix + the time, with -2, -3 ... when a snapshot of that second exists."""
    return free_name(ct, names.timed_snapshot_name(prefix), taken)


def free_name(ct, base, taken=None):
    """``base``, or base-2, base-3 ... : the first that names no snapshot of ``ct`` yet.
    ``taken``: the names of its snapshots as listed under the CT's lock, which the
    caller still holds; without them, one `zfs list` a try, which also says the zvol
    is missing (UsageError)."""
    name, n = base, 1
    while not _is_free(ct, name, taken):
        n += 1
        name = "%s-%d" % (base, n)
    return name


def _is_free(ct, name, taken):
    if taken is not None:
        return name not in taken
    snap = full_name(ct, name)
    there = zfs.existing([ct.dataset, snap])
    if ct.dataset not in there:
        raise _no_zvol(ct)
    return snap not in there


def _no_zvol(ct):
    return UsageError("is not on a zvol (no %s)" % ct.dataset, "convert it first", ctid=ct.ctid)


def full_name(ct, name):
    return names.snapshot(ct.dataset, name)


def encode_conf(path):
    """The conf file packed for a user property, or None if it would not fit."""
    import base64  # here and below: create, which imports this module, packs no conf
    import zlib
    try:
        with open(path, "rb") as f:
            packed = base64.b64encode(zlib.compress(f.read(), 9)).decode("ascii")
    except OSError:
        return None
    return packed if len(packed) <= _CONF_MAX else None


def decode_conf(value):
    """encode_conf's conf, as fileio.read_text gives a file's text."""
    import base64
    import zlib
    return os.fsdecode(zlib.decompress(base64.b64decode(value.encode("ascii"))))


def _thaw(ct):
    """None, or the error saying the ext4 is still frozen."""
    still = ext4.thaw(ct.mountpoint)
    if still is None:
        return None
    return StateError("the ext4 at %s is still frozen: %s" % (ct.mountpoint, still),
                      "fsfreeze --unfreeze %s" % ct.mountpoint, ctid=ct.ctid)


def _resume(ct, cgroup=None):
    """None, or the error saying the CT is still suspended (or frozen in ``cgroup``)."""
    if cgroup is not None:
        try:
            freezer.thaw(cgroup)
            return None
        except OSError as e:
            return StateError("is still frozen: %s" % e,
                              "echo THAWED > %s/freezer.state" % cgroup, ctid=ct.ctid)
    try:
        vzctl.resume(ct)
        return None
    except VzzfsError as e:
        return StateError("is still suspended: %s" % e.problem,
                          "vzctl chkpnt %s --resume" % ct.ctid, ctid=ct.ctid)


def _check_dump_outside(ct, dumpfile):
    real = os.path.realpath(dumpfile)
    for top in (ct.mountpoint, ct.ve_root):
        if real == top or real.startswith(top.rstrip("/") + "/"):
            raise UsageError("the dump %s would be written into the CT's own file system"
                             % dumpfile, "set DUMPDIR outside %s" % top, ctid=ct.ctid)


def dump_path(ct, name):
    return names.snapshot_dump(vzctl.dumpdir(ct), ct.ctid, name)


# ---- the verbs: each takes the CT's lock (re-entrant: backup, send and clone hold it) ----

def take(ct, name=None, suspend=True, dump=False, kind=names.KIND_SNAPSHOT, prefix=None,
         rows=None):
    """Snapshot a CT's zvol consistently; returns a dict describing what was done.
    Without ``name``, the snapshot is named under the lock: ``prefix`` (default
    SNAPSHOT_PREFIX) and the time (unique_name). ``rows``: the zvol's snapshots (rows)
    as the caller listed them under the CT's lock, which it still holds: the name is
    checked or picked among them, not asked of zfs again."""
    outermost = not lock.holds(ct)
    if outermost:
        preflush(ct)
    taken = None if outermost or rows is None else set(r["name"] for r in rows)
    with lock.ct_lock(ct, "vzzfs snapshot"):
        done = _take(ct, name or unique_name(ct, prefix or SNAPSHOT_PREFIX, taken), suspend,
                     dump, kind, named=bool(name), taken=taken)
    done["locked"] = lock.held_for.get(ct.ctid) if outermost else None
    return done


def preflush(ct):
    """Before the CT's lock is taken for a snapshot: write out what the CT wrote (its
    ext4's dirty data, then the zvol's), so that the freeze and the flush under the
    lock have little left to do. A running CT keeps writing meanwhile; those writes
    are the freeze's. Nothing here is needed for consistency: only for how long
    vzctl finds the CT locked (300 MB freshly written kept vzctl stop refused for
    about 40 s in the test VM, the freeze writing it all under the lock)."""
    if ct.private_mount() is not None:
        try:
            ext4.syncfs(ct.ve_private)
        except OSError as e:
            log.warn("CT %s: writing out %s before the snapshot failed (%s); the freeze "
                     "does it" % (ct.ctid, ct.ve_private, e.strerror))
    zvoldev.flush(ct.dataset)


def delete(ct, name):
    """Destroy one snapshot and the dump that goes with it."""
    with lock.ct_lock(ct, "vzzfs snapshot-delete"):
        return _delete(ct, name)


def switch(ct, name, destroy_newer=False, skip_config=False, skip_resume=False):
    """Roll the CT back to a snapshot: stop it if running, roll back, bring it back.

    With a dump that still exists the CT comes back as it was at the snapshot
    (restored from a copy of the dump, which vzctl deletes); otherwise a CT that
    was running is started again.
    """
    with lock.ct_lock(ct, "vzzfs snapshot-switch"):
        return _switch(ct, name, destroy_newer, skip_config, skip_resume)


def mount(ct, name, target):
    """Mount a snapshot's ext4 read-only at ``target``; the live CT is not touched."""
    with lock.ct_lock(ct, "vzzfs snapshot-mount"):
        return _mount(ct, name, target)


def umount(ct, name):
    """Unmount a snapshot mount_snapshot made; returns where it was."""
    with lock.ct_lock(ct, "vzzfs snapshot-umount"):
        return _umount(ct, name)


def _take(ct, name, suspend=True, dump=False, kind=names.KIND_SNAPSHOT, named=True,
          taken=None):
    """``named``: ``name`` is the caller's, so the zvol and the name are asked about
    here (unique_name asked about its own), or looked up in ``taken`` (take's rows)."""
    snap = full_name(ct, name)
    if named:
        if not _is_free(ct, name, taken):
            raise UsageError("snapshot %s already exists" % snap, "pick another --name",
                             ctid=ct.ctid)
    props = {PROP_KIND: kind}
    conf = encode_conf(ct.conffile)
    if conf:
        props[PROP_CONF] = conf
    running = vzctl.is_running(ct)
    if dump and not running:
        raise StateError("is not running, so there is no memory state to dump",
                         "drop --dump, or start the CT first", ctid=ct.ctid)
    if dump and not suspend:
        raise UsageError("--dump needs the CT suspended", "drop --skip-suspend", ctid=ct.ctid)
    if ct.private_mount() is None:
        props[PROP_SNAP_STATE] = "stopped"
        zfs.snapshot([snap], props)
        return {"snapshot": snap, "state": "stopped", "window": 0.0}

    hold = freezer.method(ct.settings.suspend) if (running and suspend) else None
    if dump and hold != "vzctl":
        raise StateError("cannot dump its memory on this kernel: vzctl's chkpnt through "
                         "CRIU ends the CT instead of suspending it",
                         "drop --dump (the CT is frozen through its cgroup instead), or use "
                         "'vzctl chkpnt' to stop it with a dump", ctid=ct.ctid)
    cgroup = None
    if hold == "freezer":
        cgroup = freezer.cgroup_dir(ct.ctid, ct.platform)
        if cgroup is None:
            raise StateError("has no freezer cgroup %s (vzctl makes one on upstream kernels "
                             "with cgroup v1 mounted), so it cannot be held still; it keeps "
                             "running" % vzctl.cgroup_name(ct.ctid, ct.platform),
                             "snapshot with --skip-suspend (ext4 frozen only), or set "
                             "VZZFS_SUSPEND=vzctl on an OpenVZ kernel", ctid=ct.ctid)
    dumpfile = dump_path(ct, name) if dump else None
    if dumpfile:
        _check_dump_outside(ct, dumpfile)
        os.makedirs(os.path.dirname(dumpfile), exist_ok=True)
        props[PROP_DUMP] = dumpfile
    suspended = frozen = False
    props[PROP_SNAP_STATE] = "suspended" if hold else "frozen"
    problems = []
    zfs.preload()  # loading pyzfs takes seconds on a slow node: not inside the window
    started = time.monotonic()
    with Reverter() as undo, signals.Deferred() as sig:
        try:
            sig.check()
            if hold == "vzctl":
                vzctl.suspend(ct)  # a signal now waits for it: no half-done suspend
                suspended = True
            elif hold == "freezer":
                suspended = True  # before the write: a failed freeze() still thaws
                freezer.freeze(ct.ctid, cgroup)
            sig.check()
            if dumpfile:
                undo.add("remove %s" % dumpfile, _remove_quietly, dumpfile)
                vzctl.dump(ct, dumpfile)  # before the freeze: a dump writes into the CT's fs
            faults.point("snapshot.before-freeze")
            sig.check()
            frozen = True  # before fsfreeze: thawing an ext4 that is not frozen is harmless
            ext4.freeze(ct.mountpoint)
            faults.point("snapshot.frozen")
            sig.check()
            zfs.snapshot([snap], props)
        finally:
            if frozen:
                problems.append(_thaw(ct))
            if suspended:
                problems.append(_resume(ct, cgroup))
            window = time.monotonic() - started
            left = [p for p in problems if p]
            for p in left[1:]:
                log.error(p.line())
            if left:
                raise left[0]  # a CT left frozen or suspended outranks the first error
        undo.commit()
    log.info("CT %s: snapshot %s taken, %s for %.3f s" % (ct.ctid, snap, props[PROP_SNAP_STATE],
                                                          window))
    return {"snapshot": snap, "state": props[PROP_SNAP_STATE], "window": window,
            "dumpfile": dumpfile}


def _remove_quietly(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# ---- list, delete ----

def rows(ct):
    """The zvol's snapshots, oldest first, as dicts (kind '' for ones made by hand)."""
    listed = zfs.list_datasets(ct.dataset, list(LIST_PROPS), types="snapshot")
    if not listed and not zfs.exists(ct.dataset):  # asked only when nothing is listed
        raise UsageError("is not on a zvol (no %s)" % ct.dataset, "see vzzfs list", ctid=ct.ctid)
    found = []
    for row in listed:
        if row["name"].split("@", 1)[0] != ct.dataset:
            continue
        found.append({
            "name": row["name"].split("@", 1)[1],
            "created": int(row["creation"]),
            "txg": int(row["createtxg"]),
            "guid": row["guid"],
            "used": int(row["used"]),
            "referenced": int(row["referenced"]),
            "clones": [c for c in (row.get("clones") or "").split(",") if c and c != "-"],
            "kind": _prop(row, PROP_KIND),
            "state": _prop(row, PROP_SNAP_STATE),
            "dumpfile": _prop(row, PROP_DUMP),
            "complete": _prop(row, PROP_BACKUP) == "complete",
            "holds": int(_prop(row, "userrefs") or 0),  # zfs holds: being streamed
            "replicated": _prop(row, PROP_REPLICATED) == "yes",  # the peer has it
            "inflight": _prop(row, PROP_INFLIGHT) == "yes",  # being sent to the peer
        })
    found.sort(key=lambda r: r["txg"])
    for r in found:
        r["dump"] = bool(r["dumpfile"]) and os.path.exists(r["dumpfile"])
    return found


def _prop(row, key):
    value = row.get(key)
    return "" if value in (None, "-") else value


def _find(ct, name):
    snap = full_name(ct, name)
    for r in rows(ct):
        if r["name"] == name:
            return r
    raise UsageError("snapshot %s does not exist" % snap,
                     "see vzzfs snapshot-list %s" % ct.ctid, ctid=ct.ctid)


def _delete(ct, name):
    row = _find(ct, name)
    if row["clones"]:
        raise DatasetBusy("snapshot %s is the origin of %s" % (full_name(ct, name),
                                                               ", ".join(row["clones"])),
                          "destroy those first, or vzzfs destroy --promote", ctid=ct.ctid)
    if _mounted_snapshot(ct, name):
        raise StateError("snapshot %s is mounted at %s" % (name, _mounted_snapshot(ct, name)),
                         "vzzfs snapshot-umount %s %s" % (ct.ctid, name), ctid=ct.ctid)
    zfs.destroy(full_name(ct, name))
    if _dump_named_by_vzzfs(ct, row["dumpfile"], name):
        _remove_quietly(row["dumpfile"])


def _dump_named_by_vzzfs(ct, dumpfile, name):
    """Only the dump file vzzfs names for snapshot ``name`` on this node is removed
    with it: the property can come from a received stream (rules/received.py)."""
    return bool(dumpfile) and dumpfile == dump_path(ct, name)


# ---- switch ----

def _switch(ct, name, destroy_newer=False, skip_config=False, skip_resume=False):
    row = _find(ct, name)
    newer = [r for r in rows(ct) if r["txg"] > row["txg"]]
    mounted = dict((r["name"], _mounted_snapshot(ct, r["name"])) for r in newer)
    # rows() counts each snapshot's holds; only held ones are asked for their tags
    held = zfs.holds([full_name(ct, r["name"]) for r in newer if r["holds"]])
    blocker = rollback_blocker(ct.ctid, name, newer, destroy_newer, held,
                               dict((n, m) for n, m in mounted.items() if m))
    if blocker:
        cls, problem, fix = blocker
        raise cls(problem, fix, ctid=ct.ctid)
    running = vzctl.is_running(ct)
    if not running and ct.root_mounted():
        raise StateError("is mounted", "vzctl umount %s, then switch again" % ct.ctid,
                         ctid=ct.ctid)
    if running:
        vzctl.stop(ct)
    try:
        if ct.private_mount() is not None:
            attach.detach(ct)
        faults.point("switch.rollback")
        zfs.rollback(full_name(ct, name), destroy_newer=bool(newer))
    except (VzzfsError, KeyboardInterrupt) as e:
        if running:  # nothing was rolled back: the CT runs on as it was
            vzctl.start(ct)
            if isinstance(e, VzzfsError):
                e.problem += "; nothing was rolled back and the CT was started again"
        raise
    for r in reversed(newer):  # only now: their snapshots are gone with the rollback
        if _dump_named_by_vzzfs(ct, r["dumpfile"], r["name"]):
            _remove_quietly(r["dumpfile"])
    if not skip_config:
        _restore_conf(ct, name)
    if row["dump"] and not skip_resume:
        copy = os.path.join(vzctl.dumpdir(ct), "Dump.%s.switch" % ct.ctid)
        import shutil  # here, as below: with bz2 and lzma, a tenth of a send's imports
        shutil.copyfile(row["dumpfile"], copy)
        zfs.set_props(ct.dataset, {PROP_ROLLED_BACK: zfs.get(full_name(ct, name),
                                                             "guid")["guid"]})
        try:
            vzctl.restore(ct, copy)
        finally:
            _remove_quietly(copy)
            zfs.zfs("inherit", PROP_ROLLED_BACK, ct.dataset, name=ct.dataset)
        return "restored from its dump"
    if running and not skip_resume:
        vzctl.start(ct)
        return "started"
    return "stopped"


def rollback_blocker(ctid, name, newer, destroy_newer, held, mounted):
    """Why rolling CT ``ctid`` back to snapshot ``name`` must not start, as
    (error class, problem, fix), or None. Pure: ``newer`` are the snapshot rows
    after it, ``held`` {full snapshot name: [tags]}, ``mounted`` {name: where}.
    Checked before the CT is stopped, so a refusal leaves it running."""
    if not newer:
        return None
    names = [r["name"] for r in newer]
    if not destroy_newer:
        return (StateError, "rolling back to %s destroys the newer snapshots %s"
                % (name, ", ".join(names)),
                "pass --destroy-newer, or clone %s into a new CT instead" % name)
    busy = [c for r in newer for c in r["clones"]]
    if busy:
        return (DatasetBusy, "newer snapshots are the origin of %s" % ", ".join(busy),
                "destroy or promote those clones first")
    if held:
        snap = sorted(held)[0]
        return (DatasetBusy, "newer snapshot %s is held (%s)" % (snap, ", ".join(held[snap])),
                "zfs release %s %s, or switch to a newer snapshot" % (held[snap][0], snap))
    if mounted:
        snap = sorted(mounted)[0]
        return (StateError, "newer snapshot %s is mounted at %s" % (snap, mounted[snap]),
                "vzzfs snapshot-umount %s %s" % (ctid, snap))
    return None


def _restore_conf(ct, name):
    value = zfs.get(full_name(ct, name), PROP_CONF).get(PROP_CONF)
    if not value:
        return
    # only the CT's own settings come back: paths, programs and vzzfs's keys stay
    # as this node has them now (the property could come from a received stream)
    before = read_text(ct.conffile)
    changes, dropped = confimport.merge(config.parse_text(decode_conf(value)),
                                        config.parse_text(before), ct.node.global_params(), {})
    if dropped:
        log.warn("CT %s: %s" % (ct.ctid, confimport.dropped_line(dropped, "snapshot " + name)))
    if not changes:
        return
    import shutil
    shutil.copyfile(ct.conffile, ct.conffile + ".vzzfs-switch")
    ctconf.write_file(ct.conffile, ctconf.update_text(before, changes), 0o644)
    log.info("CT %s: conf restored from snapshot %s (the previous one is %s.vzzfs-switch)"
             % (ct.ctid, name, ct.conffile))


# ---- mount a snapshot read-only ----

def _mounted_snapshot(ct, name):
    wanted = full_name(ct, name)
    for m in mounts.table():
        if m.source.startswith("/dev/zd") and zvoldev.zvol_name(m.source) == wanted:
            return m.mountpoint
    return None


def _mount(ct, name, target):
    _find(ct, name)
    target = os.path.abspath(target)
    if not os.path.isdir(target):
        raise UsageError("%s is not a directory" % target, "mkdir -p %s" % target, ctid=ct.ctid)
    if mounts.is_mountpoint(target):
        raise StateError("%s is already a mount point" % target, "pick an empty directory",
                         ctid=ct.ctid)
    where = _mounted_snapshot(ct, name)
    if where:
        raise StateError("snapshot %s is already mounted at %s" % (name, where),
                         "use it there, or vzzfs snapshot-umount %s %s" % (ct.ctid, name),
                         ctid=ct.ctid)
    snap = full_name(ct, name)
    with Reverter() as undo:
        if zfs.get(ct.dataset, "snapdev").get("snapdev") != "visible":
            zfs.set_props(ct.dataset, {"snapdev": "visible"})
            undo.add("hide snapshot devices", _hide_devices, ct)
        device = zvoldev.find_device(snap, ct.settings.dev_timeout)
        # noload: the device is read-only, the journal cannot be replayed (a snapshot
        # taken frozen or stopped has nothing to replay). nosuid,nodev,noexec: the files
        # are the CT's, so a setuid program or device node it planted stays inert here
        why = ext4.mount_snapshot(device, target, SNAPSHOT_MOUNT_OPTS)
        if why is not None:
            raise VzzfsError("cannot mount snapshot %s: %s" % (snap, why),
                             "check it with e2fsck -n %s" % device, ctid=ct.ctid)
        undo.commit()
    return target


def _umount(ct, name):
    where = _mounted_snapshot(ct, name)
    if where is None:
        raise StateError("snapshot %s is not mounted" % name, "nothing to do", ctid=ct.ctid)
    ext4.umount(where, ct.settings.busy_timeout)
    if not any(_mounted_snapshot(ct, r["name"]) for r in rows(ct)):
        _hide_devices(ct)
    return where


def _hide_devices(ct):
    zfs.zfs("inherit", "snapdev", ct.dataset, name=ct.dataset)

