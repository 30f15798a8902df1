"""What `vzzfs list` shows: one row per CT on a zvol, plus orphans of either kind.

A CT's zvol is ROOT/ct/CTID, or the one its conf names (VZZFS_DATASET). An orphan
is a zvol under ROOT/ct without a CT conf (left by a plain `vzctl destroy`, which
cannot remove zvols), or a CT conf naming a zvol that no longer exists.

AUTOSNAP is when the newest scheduled snapshot (kind auto, vzzfs autosnap) was
taken, REPLICATED when the newest snapshot the replication peer has (marked by
vzzfs replicate) was, both shown as their age: how old the data there is.

READ and WRITTEN are the zvol's logical bytes since the pool was imported,
from OpenZFS's per-dataset kstats ("-" where the kernel keeps none).
IOLIMIT and IOPSLIMIT are the limits the CT's conf sets (VZZFS_IOLIMIT, bytes/s,
and VZZFS_IOPSLIMIT; ctlimits.py puts them on the zvol's device).
"""

import os
import time

from . import iolimits, kstats, names, retention, zfs
from .ct import Container
from .errors import UsageError, VzzfsError

FIELDS = ("ctid", "status", "dataset", "volsize", "used", "referenced", "compressratio",
          "origin", "snapshots", "autosnap", "replicated", "inodes", "read", "written", "iolimit",
          "iopslimit", "mounted")
DEFAULT_FIELDS = ("ctid", "status", "dataset", "volsize", "used", "compressratio", "origin",
                  "snapshots", "autosnap", "replicated", "inodes", "read", "written", "iolimit",
                  "iopslimit", "mounted")


def _status(ct):
    if not ct.has_conf:
        return "orphan", ct.private_mount() is not None
    mounted = ct.private_mount() is not None
    if ct.root_mounted():
        return "running", mounted  # VE_ROOT is mounted while a CT runs (or is mounted)
    return ("attached" if mounted else "stopped"), mounted


def _inodes(ct):
    """'used/total' inodes of a mounted CT's ext4."""
    st = os.statvfs(ct.ve_private)
    return "%d/%d" % (st.f_files - st.f_ffree, st.f_files)


ZFS_PROPS = ["name", "volsize", "used", "referenced", "compressratio", "origin"]


def rows(node, only=None):
    """A row per CT zvol under ROOT/ct, per conf naming a zvol elsewhere
    (VZZFS_DATASET), and per conf whose named zvol is missing."""
    settings = node.settings()
    zfs.require_pool(settings.pool)
    parent = names.ct_parent(settings.root)
    base = parent + "/"
    found = []  # (ctid, zfs row)
    for row in zfs.list_datasets(parent, ZFS_PROPS):
        ctid = row["name"][len(base):]
        if row["name"].startswith(base) and "/" not in ctid and (not only or ctid in only):
            found.append((ctid, row))
    seen = set(row["name"] for _, row in found)
    missing = []
    for ct in explicit_cts(node, only):
        if ct.dataset in seen:
            continue
        got = zfs.list_datasets(ct.dataset, ZFS_PROPS) if zfs.exists(ct.dataset) else []
        if got:
            found.append((ct.ctid, got[0]))
        else:
            missing.append(_missing_row(ct))
    snaps, autos, sent = {}, {}, {}
    for top in [parent] + [row["name"] for _, row in found
                                          if not row["name"].startswith(base)]:
        for s in zfs.list_datasets(top, ["name", "creation", names.PROP_KIND,
                                         names.PROP_REPLICATED], types="snapshot"):
            ds = s["name"].split("@", 1)[0]
            snaps[ds] = snaps.get(ds, 0) + 1
            if s.get(names.PROP_KIND) == names.KIND_AUTO:
                autos[ds] = max(autos.get(ds, 0), int(s["creation"]))
            if s.get(names.PROP_REPLICATED) == "yes":
                sent[ds] = max(sent.get(ds, 0), int(s["creation"]))
    io = kstats.objset_counters(settings.pool)
    out = [_row(node, ctid, row, snaps.get(row["name"], 0), io.get(row["name"], {}),
                autos.get(row["name"]), sent.get(row["name"]))
           for ctid, row in found] + missing
    return sorted(out, key=lambda r: (not r["ctid"].isdigit(), int(r["ctid"])
                                      if r["ctid"].isdigit() else 0, r["ctid"]))


def _limits(ct):
    """(bytes/s, IOPS) the CT's conf sets, None for none; "?" for a value vzzfs refuses."""
    try:
        limits = iolimits.from_conf(ct.own)
    except VzzfsError:
        return "?", "?"
    return limits.bps or None, limits.iops or None


def limit_cell(field, value):
    """How the table shows a limit: 10M for bytes/s, the number for IOPS, - for none."""
    if value is None or value == "?":
        return value or "-"
    return iolimits.human(value, "B" if field == "iolimit" else "")


def _row(node, ctid, row, snapshots, counters, autosnap=None, replicated=None):
    bps = iops = None
    try:
        ct = Container(ctid, node)
        status, mounted = _status(ct)
        bps, iops = _limits(ct)
    except VzzfsError:
        status, mounted = "?", None
    return {"ctid": ctid, "status": status, "dataset": row["name"],
            "volsize": int(row["volsize"]), "used": int(row["used"]),
            "referenced": int(row["referenced"]),
            "compressratio": row["compressratio"].rstrip("x") + "x",
            "origin": names.short_origin(row["origin"] if row["origin"] != "-" else None),
            "snapshots": snapshots, "autosnap": autosnap, "replicated": replicated,
            "inodes": _inodes(ct) if mounted else "-",
            "read": counters.get("nread"), "written": counters.get("nwritten"),
            "iolimit": bps, "iopslimit": iops, "mounted": mounted}


def _missing_row(ct):
    return {"ctid": ct.ctid, "status": "zvol missing", "dataset": ct.dataset,
            "volsize": 0, "used": 0, "referenced": 0, "compressratio": "-",
            "origin": "-", "snapshots": 0, "autosnap": None, "replicated": None, "inodes": "-",
            "read": None, "written": None, "iolimit": None, "iopslimit": None, "mounted": False}


def explicit_cts(node, only=None):
    """The CTs whose conf names their zvol (VZZFS_DATASET); unreadable confs skipped."""
    found = []
    for ctid, _ in node.ct_confs():
        if only and ctid not in only:
            continue
        try:
            ct = Container(ctid, node)
        except VzzfsError:
            continue
        if ct.explicit:
            found.append(ct)
    return found


def check_fields(text):
    fields = tuple(f.strip() for f in text.split(",")) if text else DEFAULT_FIELDS
    bad = [f for f in fields if f not in FIELDS]
    if bad:
        raise UsageError("unknown field %s" % ", ".join(bad),
                                 "use some of: %s" % ",".join(FIELDS))
    return fields


def autosnap_age(created, now=None):
    """The AUTOSNAP and REPLICATED cells: the age of the newest scheduled snapshot, or
    of the newest one the peer has; '-' for none."""
    if created is None:
        return "-"
    return retention.age_text((time.time() if now is None else now) - created)
