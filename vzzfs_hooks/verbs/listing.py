"""What `vzzfs list` shows: one row per CT on a zvol, plus orphans of either kind.

A CT's zvol is ROOT/ct/CTID, or the one its conf names (VZZFS_DATASET). An orphan
is a zvol under ROOT/ct without a CT conf (left by a plain `vzctl destroy`, which
cannot remove zvols), or a CT conf naming a zvol that no longer exists.

AUTOSNAP is when the newest scheduled snapshot (kind auto, vzzfs autosnap) was
taken, REPLICATED when the newest snapshot the replication peer has (marked by
vzzfs replicate) was, both shown as their age: how old the data there is.

MOVED is the size of the newest stream vzzfs backup, send or replicate wrote of
the CT (names.PROP_STREAM_BYTES on the snapshot it ends at): what its last
backup or replication put on the disk or the link.

READ and WRITTEN are the zvol's logical bytes since the pool was imported,
from OpenZFS's per-dataset kstats ("-" where the kernel keeps none).
IOLIMIT and IOPSLIMIT are the limits the CT's conf sets (VZZFS_IOLIMIT, bytes/s,
and VZZFS_IOPSLIMIT; ctlimits.py puts them on the zvol's device).
"""

import os
import time

from ..base import kstats, names
from ..base.errors import UsageError, VzzfsError
from ..rules import iolimits, retention
from ..system import mounts, zfs
from ..container.ct import Container

FIELDS = ("ctid", "status", "dataset", "volsize", "used", "referenced", "compressratio",
          "origin", "snapshots", "autosnap", "replicated", "moved", "inodes", "read", "written",
          "iolimit", "iopslimit", "mounted")
DEFAULT_FIELDS = ("ctid", "status", "dataset", "volsize", "used", "compressratio", "origin",
                  "snapshots", "autosnap", "replicated", "moved", "inodes", "read", "written",
                  "iolimit", "iopslimit", "mounted")


def _status(ct, at):
    """(status, zvol mounted?) from ``at``, the mount table by mount point."""
    mounted = at.get(os.path.realpath(ct.mountpoint)) is not None
    if not ct.has_conf:
        return "orphan", mounted
    if os.path.realpath(ct.ve_root) in at:
        return "running", mounted  # VE_ROOT is mounted while a CT runs (or is mounted)
    return ("attached" if mounted else "stopped"), mounted


def _inodes(ct):
    """'used/total' inodes of a mounted CT's ext4."""
    st = os.statvfs(ct.mountpoint)
    return "%d/%d" % (st.f_files - st.f_ffree, st.f_files)


# a CT's zvol and its snapshots come in one `zfs list -t volume,snapshot`
ZFS_PROPS = ["name", "volsize", "used", "referenced", "compressratio", "origin", "creation",
             names.PROP_KIND, names.PROP_REPLICATED, names.PROP_STREAM_BYTES]
LIST_TYPES = "volume,snapshot"


class _Snapshots(object):
    """Per zvol: how many snapshots, when the newest scheduled and replicated were taken,
    and the size of the newest stream written of it (by the creation of its snapshot)."""

    def __init__(self):
        self.count, self.auto, self.sent, self.moved = {}, {}, {}, {}

    def split(self, listed, volumes):
        """Sort ``zfs list -t volume,snapshot`` rows into ``volumes`` and these counts."""
        for row in listed:
            ds, at, _ = row["name"].partition("@")
            if not at:
                volumes.append(row)
                continue
            self.count[ds] = self.count.get(ds, 0) + 1
            if row.get(names.PROP_KIND) == names.KIND_AUTO:
                self.auto[ds] = max(self.auto.get(ds, 0), int(row["creation"]))
            if row.get(names.PROP_REPLICATED) == "yes":
                self.sent[ds] = max(self.sent.get(ds, 0), int(row["creation"]))
            moved = row.get(names.PROP_STREAM_BYTES) or ""
            if moved.isdigit() and int(row["creation"]) >= self.moved.get(ds, (-1, 0))[0]:
                self.moved[ds] = (int(row["creation"]), int(moved))


def rows(node, only=None):
    """A row per CT zvol under ROOT/ct, per conf naming a zvol elsewhere
    (VZZFS_DATASET), and per conf whose named zvol is missing.

    One `zfs list` answers for every zvol under ROOT/ct and its snapshots (one
    more per zvol a conf names elsewhere); the mount table is read once and each
    conf parsed once.
    """
    settings = node.settings()
    zfs.require_pool(settings.pool)
    parent = names.ct_parent(settings.root)
    base = parent + "/"
    volumes, snaps = [], _Snapshots()
    snaps.split(zfs.list_datasets(parent, ZFS_PROPS, types=LIST_TYPES), volumes)
    cts = containers(node, only)
    found = []  # (ctid, zfs row)
    for row in volumes:
        ctid = row["name"][len(base):]
        if row["name"].startswith(base) and "/" not in ctid and (not only or ctid in only):
            found.append((ctid, row))
    seen = set(row["name"] for _, row in found)
    missing = []
    for ct in sorted(cts.values(), key=lambda c: _ctid_key(c.ctid) if c else ()):
        if ct is None or not ct.explicit or ct.dataset in seen:
            continue  # a dataset is shown once, whichever confs name it (check says so)
        seen.add(ct.dataset)
        got = []
        snaps.split(zfs.list_datasets(ct.dataset, ZFS_PROPS, types=LIST_TYPES), got)
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
    out = [_row(node, cts.get(ctid, False), ctid, row, snaps, io.get(row["name"], {}), at)
           for ctid, row in found] + missing
    return sorted(out, key=lambda r: _ctid_key(r["ctid"]))


def _ctid_key(ctid):
    """CTIDs by number, names after them."""
    return (not ctid.isdigit(), int(ctid) if ctid.isdigit() else 0, ctid)


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


def _row(node, ct, ctid, row, snaps, counters, at):
    """``ct``: the CT's Container, None if its conf is unreadable, False if not made yet."""
    bps = iops = None
    try:
        if ct is None:
            raise VzzfsError("unreadable conf")
        ct = ct or Container(ctid, node)
        status, mounted = _status(ct, at)
        bps, iops = _limits(ct)
    except VzzfsError:
        status, mounted = "?", None
    ds = row["name"]
    return {"ctid": ctid, "status": status, "dataset": ds,
            "volsize": int(row["volsize"]), "used": int(row["used"]),
            "referenced": int(row["referenced"]),
            "compressratio": row["compressratio"].rstrip("x") + "x",
            "origin": names.short_origin(row["origin"] if row["origin"] != "-" else None),
            "snapshots": snaps.count.get(ds, 0), "autosnap": snaps.auto.get(ds),
            "replicated": snaps.sent.get(ds), "moved": snaps.moved.get(ds, (0, None))[1],
            "inodes": _inodes(ct) if mounted else "-",
            "read": counters.get("nread"), "written": counters.get("nwritten"),
            "iolimit": bps, "iopslimit": iops, "mounted": mounted}


def _missing_row(ct):
    return {"ctid": ct.ctid, "status": "zvol missing", "dataset": ct.dataset,
            "volsize": 0, "used": 0, "referenced": 0, "compressratio": "-",
            "origin": "-", "snapshots": 0, "autosnap": None, "replicated": None, "moved": None,
            "inodes": "-",
            "read": None, "written": None, "iolimit": None, "iopslimit": None, "mounted": False}


def containers(node, only=None):
    """{CTID: Container} for every CT conf (None where the conf is unreadable)."""
    found = {}
    for ctid, _ in node.ct_confs():
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


def autosnap_age(created, now=None):
    """The AUTOSNAP and REPLICATED cells: the age of the newest scheduled snapshot, or
    of the newest one the peer has; '-' for none."""
    if created is None:
        return "-"
    return retention.age_text((time.time() if now is None else now) - created)
