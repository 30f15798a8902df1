"""vzzfs convert: move a stopped simfs CT's private area onto a new zvol, crash-safely.

The steps, and what a kill -9 after each leaves (the zvol's PROP_CONVERT says
where it got to, so a re-run knows):

1. zvol created (state 'copying'), ext4 made, files copied with rsync
   (owners, modes, hard links, ACLs, xattrs, holes, device nodes, sockets) and
   the copy verified (``_verify``). The old CT is untouched and still starts:
   the hooks leave a CT alone while its zvol is in conversion. A re-run starts
   this step over.
2. state 'swapping'; VE_PRIVATE renamed to VE_PRIVATE.vzzfs-old and a guarded
   empty mount point put in its place. From here a re-run finishes the job; if
   the kill came before the rename, the CT may have run since the copy, so the
   re-run copies what changed onto the zvol first.
3. the conf gets DISK_QUOTA=no (and DISKSPACE, VZZFS_DATASET); state 'done'.

The old private area stays as VE_PRIVATE.vzzfs-old until `--purge`.

Under OpenVZ 7 a simfs CT's files are VE_PRIVATE/fs and VE_PRIVATE itself holds
vzctl 7's conf, scripts and dumps: only fs/ moves (onto the zvol's fs/ directory),
it is kept as VE_PRIVATE/fs.vzzfs-old, and VE_PRIVATE gets the skeleton of
container/layout.py around the zvol's mount point.
"""

import os
import shutil
import sys

from ..base import faults, log, names, runner
from ..base.errors import StateError, UsageError, VzzfsError
from ..base.names import PROP_CONVERT
from ..base.revert import Reverter
from ..conf import ctconf
from ..conf.config import parse_diskspace
from ..system import ext4, lock, zfs, zvoldev
from ..container import claim, layout
from . import lifecycle

RSYNC = ["rsync", "-aHAXS", "--numeric-ids"]


def source(ct):
    """The CT's files before the conversion: VE_PRIVATE, or VE_PRIVATE/fs (OpenVZ 7)."""
    if ct.vz7:
        return os.path.join(ct.ve_private, names.VZ7_FS_LINK)
    return ct.ve_private


def old_private(ct):
    return source(ct) + names.CONVERT_OLD_SUFFIX


def state(ct):
    """None (no zvol), '' (a zvol not in conversion), or copying/swapping/done."""
    if not zfs.exists(ct.dataset):
        return None
    return zfs.get(ct.dataset, PROP_CONVERT).get(PROP_CONVERT) or ""


def _used_bytes(path):
    """Space the files under ``path`` need: the larger of blocks used and apparent size.

    Walked here rather than with du -x, which skips every file on overlayfs (their
    st_dev is not their directory's); some file systems report no blocks at all.
    Holes make the apparent size too large, which only errs on the safe side.
    """
    seen = set()
    blocks = size = 0
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = [d for d in dirnames if not os.path.ismount(os.path.join(dirpath, d))]
        for name in filenames + dirnames:
            st = os.lstat(os.path.join(dirpath, name))
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            blocks += st.st_blocks * 512
            size += st.st_size
    return max(blocks, size)


def wanted_size(ct, diskspace):
    """--diskspace, else DISKSPACE's hard limit, else what the files use plus half again."""
    if diskspace:
        return diskspace
    text = ct.params.get("DISKSPACE")
    if text:
        return parse_diskspace(text, ctid=ct.ctid)
    return max(ext4.MIN_SIZE, _used_bytes(source(ct)) * 3 // 2 + (256 << 20))


def convert(ct, diskspace=None, purge=False, locked=False):
    """Convert (or finish converting) ``ct``; returns what happened, as a phrase.

    ``locked``: the caller (vzctl, for the create hook) already holds the CT's lock.
    """
    ct.require_conf()
    if locked:
        return _convert_locked(ct, diskspace, purge)
    with lock.ct_lock(ct, "vzzfs convert"):
        return _convert_locked(ct, diskspace, purge)


def _convert_locked(ct, diskspace, purge):
    now = state(ct)
    if now in ("", "done"):
        if purge:
            return _purge(ct)
        raise UsageError("is already on zvol %s" % ct.dataset,
                         "nothing to do (--purge removes %s)" % old_private(ct), ctid=ct.ctid)
    ct.require_stopped("convert")
    if now == "swapping":
        if not os.path.lexists(old_private(ct)):
            # killed before the old area went aside: the CT may have run on it since
            # the copy, so the zvol takes its files again before the swap
            _check_source(ct)
            _refresh(ct)
        _swap(ct)
        _finish(ct)
        return "finished an interrupted conversion"
    if now == "copying":
        log.warn("CT %s: removing %s, left by an interrupted convert" % (ct.ctid, ct.dataset))
        if os.path.ismount(_staging(ct)):
            ext4.umount(_staging(ct), ct.settings.busy_timeout)
        _rmdir(_staging(ct))
        claim.require(ct)
        zfs.destroy(ct.dataset, recursive=True)
    _check_source(ct)
    size = wanted_size(ct, diskspace)
    used = _used_bytes(source(ct))
    if size < ext4.MIN_SIZE or size < used + used // 10 + (64 << 20):
        raise UsageError("%d MiB is too small for the %d MiB this CT holds"
                         % (size >> 20, used >> 20),
                         "pass a larger --diskspace", ctid=ct.ctid)
    zfs.require_pool(ct.pool)
    _copy(ct, size)
    _swap(ct)
    _finish(ct, size)
    result = "converted"
    if purge:
        _purge(ct)
        result += ", old private area removed"
    return result


def _check_source(ct):
    src = source(ct)
    if not os.path.isdir(src) or os.path.islink(src):
        raise StateError("has no private area %s" % src, "is the CTID right?",
                         ctid=ct.ctid)
    if os.path.lexists(old_private(ct)):
        raise StateError("%s already exists" % old_private(ct),
                         "move it away (an earlier conversion's leftover?)", ctid=ct.ctid)
    if ext4.is_guarded(ct.ve_private):
        raise StateError("VE_PRIVATE is an empty guarded mount point, not a simfs area",
                         "is it a vzzfs CT whose zvol is missing? see vzzfs list", ctid=ct.ctid)


def _copy(ct, size):
    settings = ct.settings
    zfs.ensure_filesystem(ct.dataset.rsplit("/", 1)[0])
    staging = _staging(ct)
    props = lifecycle.zvol_props(settings)
    props.update({PROP_CONVERT: "copying", names.PROP_CTID: ct.ctid})
    props.update(lifecycle.layout_props(ct))
    with Reverter() as undo:
        zfs.create_volume(ct.dataset, size, settings.volblocksize, settings.sparse, props)
        undo.add("destroy %s" % ct.dataset, zfs.destroy, ct.dataset, True)
        with zvoldev.hold(ct.dataset, settings.dev_timeout) as held:
            dev = held.device  # held open: mkfs and mount open it freely
            ext4.mkfs(dev, size)
            os.makedirs(staging, 0o700, exist_ok=True)
            undo.add("remove %s" % staging, _rmdir, staging)
            ext4.mount(dev, staging, settings.mount_opts, ct.dataset)
        try:
            faults.point("convert.copying")
            target = _target(ct, staging)
            _rsync_copy(source(ct) + "/", target + "/", ct.ctid)
            _verify(source(ct) + "/", target + "/", ct, by_checksum=False)
        finally:
            ext4.umount(staging, settings.busy_timeout)
        _rmdir(staging)
        zfs.set_props(ct.dataset, {PROP_CONVERT: "swapping"})
        undo.commit()


def _refresh(ct):
    """Copy VE_PRIVATE onto the zvol of an interrupted conversion again (rsync
    --delete: only what changed since the first copy moves), then verify."""
    settings = ct.settings
    staging = _staging(ct)
    dev = zvoldev.find_device(ct.dataset, settings.dev_timeout)
    os.makedirs(staging, 0o700, exist_ok=True)
    if not os.path.ismount(staging):
        ext4.mount(dev, staging, settings.mount_opts, ct.dataset)
    try:
        target = _target(ct, staging)
        _rsync_copy(source(ct) + "/", target + "/", ct.ctid, delete=True)
        _verify(source(ct) + "/", target + "/", ct, by_checksum=True)
    finally:
        ext4.umount(staging, settings.busy_timeout)
    _rmdir(staging)


def _target(ct, staging):
    """Where the files go on the zvol mounted at ``staging``: its top, or its fs/."""
    if not ct.vz7:
        return staging
    target = os.path.join(staging, names.VZ7_CT_DIR)
    if not os.path.isdir(target):
        os.mkdir(target, 0o755)
    return target


def _staging(ct):
    return ct.ve_private + names.CONVERT_NEW_SUFFIX


def _rmdir(path):
    if os.path.isdir(path) and not os.path.ismount(path):
        os.rmdir(path)


def _rsync_copy(src, dst, ctid, delete=False):
    argv = RSYNC + ["--exclude=/lost+found"] + (["--delete"] if delete else []) + [src, dst]
    if sys.stderr.isatty():
        argv.insert(1, "--info=progress2")
        log.info("CT %s: copying %s" % (ctid, src))
        rc = runner.call(argv, stdout=sys.stderr)
        if rc != 0:
            raise VzzfsError("rsync failed (exit %d) copying %s" % (rc, src),
                             "see rsync's message above; the CT is untouched", ctid=ctid)
        return
    res = runner.run(argv, check=False)
    if res.returncode != 0:
        if "No space left" in res.stderr:
            raise VzzfsError("the new zvol filled up while copying %s" % src,
                             "the CT is untouched; convert again with a larger --diskspace",
                             ctid=ctid)
        last = (res.stderr.strip().splitlines() or ["exit %d" % res.returncode])[-1]
        raise VzzfsError("rsync failed copying %s: %s" % (src, last),
                         "the CT is untouched; fix that and convert again", ctid=ctid)


def _verify(src, dst, ct, by_checksum):
    """A second rsync, a dry run, must find nothing to change: every file there and
    nothing else, with its size, times, owner, mode, links, ACLs and xattrs.

    The contents were proven by the copy itself: rsync checks every file it writes
    against the whole-file checksum of what it read, and a file reaches its name
    only whole (it is written under a temporary one). On a fresh zvol with the CT
    held stopped under its lock, that is the proof a second pass by checksum gave
    (as long as the copy again: it reads both trees, the copy's side back from the
    page cache the copy had just filled). ``by_checksum`` (a re-run onto a zvol
    filled before, while the CT may have run on its old area since) reads the
    contents again: there a file rewritten within the same second at the same size
    would pass the dry run's size and time check."""
    res = runner.run(RSYNC + (["--checksum"] if by_checksum else []) +
                     ["--dry-run", "--itemize-changes", "--delete",
                      "--exclude=/lost+found", src, dst], check=False)
    changes = [l for l in res.stdout.splitlines() if l.strip()]
    if res.returncode != 0 or changes:
        raise VzzfsError("the copy on the zvol differs from %s (%s)"
                         % (src, changes[0] if changes else res.stderr.strip()),
                         "the CT is untouched; report this", ctid=ct.ctid)


def _swap(ct):
    """Old private area aside, guarded mount point in place (re-runnable at any point)."""
    old = old_private(ct)
    if not os.path.lexists(old):
        faults.point("convert.swapping")
        os.rename(source(ct), old)
    faults.point("convert.renamed")
    if ct.vz7:
        layout.prepare(ct)  # fs -> disk/fs, the mount point, vzctl 7's host directories
    elif not os.path.isdir(ct.ve_private):
        os.makedirs(ct.ve_private, 0o700)
    ext4.guard(ct.mountpoint)


def _finish(ct, size=None):
    if size is None:
        size = int(zfs.get(ct.dataset, "volsize")["volsize"])
    kb = size >> 10
    changes = {"DISK_QUOTA": "no", "VE_LAYOUT": "simfs"}
    if not ct.params.get("DISKSPACE"):
        changes["DISKSPACE"] = "%d:%d" % (kb, kb)
    if ct.explicit or ct.own.get("VZZFS_DATASET"):
        changes["VZZFS_DATASET"] = ct.dataset
    ctconf.update_file(ct.conffile, changes)
    faults.point("convert.conf")
    zfs.set_props(ct.dataset, {PROP_CONVERT: "done"})
    log.info("CT %s: now on zvol %s; the old private area is %s"
             % (ct.ctid, ct.dataset, old_private(ct)))


def _purge(ct):
    old = old_private(ct)
    if not os.path.lexists(old):
        return "no old private area to remove"
    ext4.clear_protection_flags(old)
    shutil.rmtree(old)
    return "removed %s" % old
