"""OS templates kept on ZFS: a template zvol unpacked once, snapshotted @golden.

`vzzfs create` clones the golden snapshot, so making a CT takes the same time
whatever the template's size. Template zvols live at ROOT/tmpl/NAME (names.py); the
tarballs they come from are vzctl's, in $TEMPLATE/cache/NAME.tar.{gz,xz,bz2,zst}.
"""

import os

from ..base import log, names, runner
from ..base.errors import DatasetBusy, UsageError, VzzfsError
from ..base.names import PROP_GEOMETRY, PROP_TEMPLATE
from ..base.progress import Progress
from ..base.revert import Reverter
from ..system import ext4, ext4geometry, zfs, zvoldev

# tar's option to read each kind of compressed stream from stdin
COMPRESSORS = ((".tar.gz", ["-z"]), (".tar.xz", ["-J"]), (".tar.bz2", ["-j"]),
               (".tar.zst", ["--use-compress-program=zstd"]), (".tar", []))
# Without --size a tarball is unpacked into a sparse zvol of STAGING_RATIO times its
# compressed size (at least DEFAULT_TEMPLATE_SIZE), then ext4 and zvol are shrunk
# to fit what it holds (fitted_size): any CT at least that big is a clone.
DEFAULT_TEMPLATE_SIZE = 2 << 30
STAGING_RATIO = 8
# room left above resize2fs's minimum (which already counts the journal and
# ext4's metadata): ext4 wants free blocks to work in, and a clone runs at the
# template's size until its first start grows it
FIT_SLACK_PERCENT = 10
FIT_SLACK_MIN = 32 << 20
FIT_ROUND = 16 << 20


def template_dir(node):
    return node.global_params().get("TEMPLATE", "/vz/template")


def find_tarball(node, name):
    """(path, tar options) of the cached tarball, or (None, None)."""
    cache = os.path.join(template_dir(node), "cache")
    for ext, opts in COMPRESSORS:
        path = os.path.join(cache, name + ext)
        if os.path.isfile(path):
            return path, opts
    return None, None


def unpack(tarball, tar_opts, dest, what):
    """Unpack ``tarball`` into ``dest`` keeping owners, modes, ACLs, xattrs and holes."""
    import subprocess  # for its PIPE; a create by clone unpacks nothing
    total = os.path.getsize(tarball)
    progress = Progress(what, total)
    argv = (["tar", "-x", "-p", "--numeric-owner", "--xattrs", "--xattrs-include=*", "--acls",
             "-S", "-C", dest, "-f", "-"] + tar_opts)
    proc = runner.popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE)
    try:
        with open(tarball, "rb") as src:
            runner.pump(src, proc.stdin, progress)
    except BrokenPipeError:
        pass  # tar stopped early; its exit code and message say why
    except BaseException:  # Ctrl-C, SIGTERM: tar must not outlive the cleanup
        runner.stop(proc)
        raise
    err = runner.finish(proc)
    rc = proc.returncode
    progress.done()
    if rc:
        last = err.strip().splitlines()[-1] if err.strip() else "exit code %d" % rc
        if "No space left" in err:
            raise VzzfsError("unpacking %s: the volume is too small (%s)" % (tarball, last),
                             "use a larger --diskspace (or --size for a template)")
        raise VzzfsError("unpacking %s failed: %s" % (tarball, last),
                         "check the tarball (tar -tf %s)" % tarball)


def format_geometry(geo):
    return ",".join("%s=%d" % kv for kv in zip(geo._fields, geo))


def parse_geometry(text):
    """A Geometry from PROP_GEOMETRY's value, or None if it is unset or not one."""
    try:
        fields = dict(kv.split("=", 1) for kv in (text or "").split(","))
        return ext4geometry.Geometry(*(int(fields[f]) for f in ext4geometry.Geometry._fields))
    except (KeyError, ValueError, TypeError):
        return None


def geometry(settings, name, recorded):
    """The template's ext4 Geometry: ``recorded`` at import (PROP_GEOMETRY's value, as
    create's `zfs get` found it), else read from its zvol."""
    ds = names.template_dataset(settings.root, name)
    geo = parse_geometry(recorded)
    if geo is None:  # imported by an older vzzfs
        geo = ext4geometry.geometry(zvoldev.find_device(ds, settings.dev_timeout))
    return geo


def clone_inodes(geo, tmpl_size, clone_size, barrier):
    """Will a clone grown to ``clone_size`` bytes have ``barrier`` inodes? Pure.

    Returns (enough?, the inodes it will have at least, the inode count a
    template of ``tmpl_size`` bytes would need for enough, or None if ext4
    cannot pack that many per group).
    """
    have = ext4geometry.inodes_at_size(geo, clone_size)
    groups = clone_size // geo.block_size // geo.blocks_per_group
    per_group = -(-barrier // groups) if groups else None
    need = None
    if per_group and per_group <= geo.block_size * 8:  # ext4: at most one inode per bit
        need = per_group * -(-(tmpl_size // geo.block_size) // geo.blocks_per_group)
    return have >= barrier, have, need


def staging_size(tarball_bytes):
    """The sparse size a tarball of ``tarball_bytes`` is unpacked into before fitting. Pure."""
    want = -(-tarball_bytes * STAGING_RATIO // (1 << 30)) << 30
    return max(DEFAULT_TEMPLATE_SIZE, want)


def fitted_size(min_blocks, block_size, volblocksize, staged):
    """The volsize of a template whose ext4 fits in ``min_blocks`` blocks. Pure.

    resize2fs's minimum plus FIT_SLACK_PERCENT (at least FIT_SLACK_MIN),
    rounded up to FIT_ROUND and the volblocksize; at least ext4.MIN_SIZE,
    at most ``staged``, the size it was unpacked in.
    """
    need = min_blocks * block_size
    need += max(need * FIT_SLACK_PERCENT // 100, FIT_SLACK_MIN)
    size = zfs.round_size(-(-need // FIT_ROUND) * FIT_ROUND, volblocksize)
    return min(staged, max(size, zfs.round_size(ext4.MIN_SIZE, volblocksize)))


def import_template(node, name, size=None, inodes=None):
    """Unpack NAME's tarball into a new template zvol, snapshot it @golden; (dataset, Geometry).

    ``size``: the template zvol's size; None fits it to what the tarball holds.
    ``inodes``: the template ext4's inode count at the size it is unpacked in
    (mkfs -N); clones keep its inodes per block group, so it sets how many
    inodes a clone gets per GiB.
    """
    settings = node.settings()
    names.check_template_name(name)
    tarball, opts = find_tarball(node, name)
    if tarball is None:
        raise UsageError("no tarball for template %s in %s/cache" % (name, template_dir(node)),
                         "download it first (vztmpl-dl %s)" % name)
    ds = names.template_dataset(settings.root, name)
    zfs.require_pool(settings.pool)
    if zfs.exists(ds):
        if zfs.exists(names.golden_of(ds)):
            raise UsageError("template %s is already imported (%s)" % (name, names.golden_of(ds)),
                             "use it with vzzfs create, or remove it first")
        # an import that was killed half way: it never got its snapshot
        log.warn("removing %s, left by an interrupted import" % ds)
        zfs.destroy(ds, recursive=True)
    zfs.ensure_filesystem(names.template_dataset(settings.root, name).rsplit("/", 1)[0])
    fit = size is None
    size = staging_size(os.path.getsize(tarball)) if fit else size
    if size < ext4.MIN_SIZE:
        raise UsageError("template size %d MiB is too small" % (size >> 20),
                         "use at least %d MiB" % (ext4.MIN_SIZE >> 20))
    with Reverter() as undo:
        zfs.create_volume(ds, size, settings.volblocksize, sparse=True,
                          props={"compression": settings.compression, PROP_TEMPLATE: name})
        undo.add("destroy %s" % ds, zfs.destroy, ds, True)
        import tempfile  # here: every command that can create a CT imports this module
        staging = tempfile.mkdtemp(prefix=names.TEMPLATE_STAGING_PREFIX)
        try:
            with zvoldev.hold(ds, settings.dev_timeout) as held:  # mkfs and mount open it freely
                dev = held.device
                # a staging zvol larger than the default gets the default's journal: clones
                # inherit it
                ext4.mkfs(dev, min(size, DEFAULT_TEMPLATE_SIZE) if fit else size, inodes)
                ext4.mount(dev, staging, "noatime", ds)
            try:
                unpack(tarball, opts, staging, "importing %s" % name)
            finally:
                ext4.umount(staging, settings.busy_timeout)
        finally:
            os.rmdir(staging)
        props = {"readonly": "on"}
        if fit:
            fitted = _fit(dev, settings.volblocksize, size)
            if fitted < size:
                props["volsize"] = str(fitted)
        geo = ext4geometry.geometry(dev)
        props[PROP_GEOMETRY] = format_geometry(geo)
        zfs.set_props(ds, props)
        zfs.snapshot([names.golden_of(ds)])
        undo.commit()
    return ds, geo


def _fit(dev, volblocksize, staged):
    """Shrink the unpacked, unmounted ext4 on ``dev`` to fitted_size; that size."""
    ext4.forced_check(dev, "fitting")
    block = ext4geometry.geometry(dev).block_size
    size = fitted_size(ext4.min_fs_size(dev, dev) // block, block, volblocksize, staged)
    if size < staged:
        ext4.shrink_fs(dev, size)
    return size


def inodes_per_gib(geo):
    """The inodes a clone of a template of ``geo`` gets per GiB it grows to."""
    return geo.inodes_per_group * (1 << 30) // (geo.block_size * geo.blocks_per_group)


def list_templates(node):
    settings = node.settings()
    rows = []
    parent = "%s/%s" % (settings.root, names.TEMPLATE_DIR)
    for row in zfs.list_datasets(parent, ["name", "volsize", "used"]):
        name = row["name"].rsplit("/", 1)[-1]
        if row["name"] != names.template_dataset(settings.root, name):
            continue
        snap = names.golden_of(row["name"])
        ready = zfs.exists(snap)
        clones = clones_of(snap) if ready else []
        rows.append({"name": name, "dataset": row["name"], "volsize": int(row["volsize"]),
                     "used": int(row["used"]), "imported": ready, "clones": len(clones)})
    return rows


def clones_of(snapshot):
    """Datasets cloned from ``snapshot``."""
    value = zfs.get(snapshot, "clones").get("clones")
    return [c for c in (value or "").split(",") if c]


def remove_template(node, name):
    settings = node.settings()
    ds = names.template_dataset(settings.root, name)
    if not zfs.exists(ds):
        raise UsageError("template %s is not imported (no %s)" % (name, ds),
                         "see vzzfs template list")
    snaps = zfs.list_datasets(ds, ["name"], types="snapshot")
    users = []
    for snap in snaps:
        users += clones_of(snap["name"])
    if users:
        raise DatasetBusy("template %s is the origin of %s" % (name, ", ".join(sorted(users))),
                          "destroy those containers first (vzzfs destroy CTID)")
    zfs.destroy(ds, recursive=True)
