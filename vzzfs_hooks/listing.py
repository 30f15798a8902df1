"""What `vzzfs list` shows: one row per CT on a zvol, plus orphans of either kind.

A CT's zvol is ROOT/ct/CTID, or the one its conf names (VZZFS_DATASET). An orphan
is a zvol under ROOT/ct without a CT conf (left by a plain `vzctl destroy`, which
cannot remove zvols), or a CT conf naming a zvol that no longer exists.

READ and WRITTEN are the zvol's logical bytes since the pool was imported,
from OpenZFS's per-dataset kstats ("-" where the kernel keeps none).
"""

import os

from . import kstats, mounts, zfs
from .ct import Container
from .errors import UsageError, VzzfsError

FIELDS = ("ctid", "status", "dataset", "volsize", "used", "referenced", "compressratio",
          "origin", "snapshots", "inodes", "read", "written", "mounted")
DEFAULT_FIELDS = ("ctid", "status", "dataset", "volsize", "used", "compressratio", "origin",
                  "snapshots", "inodes", "read", "written", "mounted")


def _status(ct, at):
    """(status, zvol mounted?) from ``at``, the mount table by mount point."""
    mounted = at.get(os.path.realpath(ct.ve_private)) is not None
    if not ct.has_conf:
        return "orphan", mounted
    if os.path.realpath(ct.ve_root) in at:
        return "running", mounted  # VE_ROOT is mounted while a CT runs (or is mounted)
    return ("attached" if mounted else "stopped"), mounted


def _inodes(ct):
    """'used/total' inodes of a mounted CT's ext4."""
    st = os.statvfs(ct.ve_private)
    return "%d/%d" % (st.f_files - st.f_ffree, st.f_files)


def _origin(value):
    """'tmpl/NAME' for a template clone, 'ct/ID@snap' for a CT clone, '-' for none."""
    if not value:
        return "-"
    ds, _, snap = value.partition("@")
    parts = ds.split("/")
    if len(parts) >= 2 and parts[-2] in ("tmpl", "ct"):
        return "%s/%s" % (parts[-2], parts[-1]) + ("" if snap == "golden" else "@" + snap)
    return value


ZFS_PROPS = ["name", "volsize", "used", "referenced", "compressratio", "origin"]
LIST_TYPES = "volume,snapshot"  # a CT's zvol and its snapshots in one `zfs list`


def _split(listed, volumes, snaps):
    """Sort ``zfs list -t volume,snapshot`` rows into volume rows and snapshot counts."""
    for row in listed:
        ds, at, _ = row["name"].partition("@")
        if at:
            snaps[ds] = snaps.get(ds, 0) + 1
        else:
            volumes.append(row)


def rows(node, only=None):
    """A row per CT zvol under ROOT/ct, per conf naming a zvol elsewhere
    (VZZFS_DATASET), and per conf whose named zvol is missing.

    One `zfs list` answers for every zvol under ROOT/ct and its snapshots (one
    more per zvol a conf names elsewhere), and the mount table is read once.
    """
    settings = node.settings()
    base = settings.root + "/ct/"
    volumes, snaps = [], {}
    _split(zfs.list_datasets(settings.root + "/ct", ZFS_PROPS, types=LIST_TYPES),
           volumes, snaps)
    cts = containers(node, only)
    found = []  # (ctid, zfs row)
    for row in volumes:
        ctid = row["name"][len(base):]
        if row["name"].startswith(base) and "/" not in ctid and (not only or ctid in only):
            found.append((ctid, row))
    seen = set(row["name"] for _, row in found)
    missing = []
    for ct in cts.values():
        if ct is None or not ct.explicit or ct.dataset in seen:
            continue
        got = []
        _split(zfs.list_datasets(ct.dataset, ZFS_PROPS, types=LIST_TYPES), got, snaps)
        got = [r for r in got if r["name"] == ct.dataset]
        if got:
            found.append((ct.ctid, got[0]))
        else:
            zfs.exists(ct.dataset)  # raises when its pool is not imported
            missing.append(_missing_row(ct))
    io = kstats.objset_counters(settings.pool)
    at = {}
    for m in mounts.table():
        at[m.mountpoint] = m  # the top-most mount wins
    out = [_row(node, cts.get(ctid, False), ctid, row, snaps.get(row["name"], 0),
                io.get(row["name"], {}), at)
           for ctid, row in found] + missing
    return sorted(out, key=lambda r: (not r["ctid"].isdigit(), int(r["ctid"])
                                      if r["ctid"].isdigit() else 0, r["ctid"]))


def _row(node, ct, ctid, row, snapshots, counters, at):
    """``ct``: the CT's Container, None if its conf is unreadable, False if not made yet."""
    try:
        if ct is None:
            raise VzzfsError("unreadable conf")
        ct = ct or Container(ctid, node)
        status, mounted = _status(ct, at)
    except VzzfsError:
        status, mounted = "?", None
    return {"ctid": ctid, "status": status, "dataset": row["name"],
            "volsize": int(row["volsize"]), "used": int(row["used"]),
            "referenced": int(row["referenced"]),
            "compressratio": row["compressratio"].rstrip("x") + "x",
            "origin": _origin(row["origin"] if row["origin"] != "-" else None),
            "snapshots": snapshots, "inodes": _inodes(ct) if mounted else "-",
            "read": counters.get("nread"), "written": counters.get("nwritten"),
            "mounted": mounted}


def _missing_row(ct):
    return {"ctid": ct.ctid, "status": "zvol missing", "dataset": ct.dataset,
            "volsize": 0, "used": 0, "referenced": 0, "compressratio": "-",
            "origin": "-", "snapshots": 0, "inodes": "-", "read": None,
            "written": None, "mounted": False}


def containers(node, only=None):
    """{CTID: Container} for every CT conf (None where the conf is unreadable)."""
    found = {}
    try:
        names = sorted(os.listdir(node.conf_dir))
    except OSError:
        return found
    for name in names:
        if not name.endswith(".conf") or name.startswith("ve-"):
            continue
        ctid = name[:-len(".conf")]
        if only and ctid not in only:
            continue
        try:
            found[ctid] = Container(ctid, node)
        except VzzfsError:
            found[ctid] = None
    return found


def explicit_cts(node, only=None):
    """The CTs whose conf names their zvol (VZZFS_DATASET); unreadable confs skipped."""
    return [ct for ct in containers(node, only).values() if ct is not None and ct.explicit]


def check_fields(text):
    fields = tuple(f.strip() for f in text.split(",")) if text else DEFAULT_FIELDS
    bad = [f for f in fields if f not in FIELDS]
    if bad:
        raise UsageError("unknown field %s" % ", ".join(bad),
                                 "use some of: %s" % ",".join(FIELDS))
    return fields
