"""What `vzzfs list` shows: one row per CT on a zvol, plus orphans of either kind.

An orphan is a zvol under ROOT/ct without a CT conf (left by a plain
`vzctl destroy`, which cannot remove zvols), or a CT conf naming a zvol
(VZZFS_DATASET) that no longer exists.

READ and WRITTEN are the zvol's logical bytes since the pool was imported,
from OpenZFS's per-dataset kstats ("-" where the kernel keeps none).
"""

import os

from . import kstats, zfs
from .ct import Container
from .errors import UsageError, VzzfsError

FIELDS = ("ctid", "status", "dataset", "volsize", "used", "referenced", "compressratio",
          "origin", "snapshots", "inodes", "read", "written", "mounted")
DEFAULT_FIELDS = ("ctid", "status", "dataset", "volsize", "used", "compressratio", "origin",
                  "snapshots", "inodes", "read", "written", "mounted")


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


def _origin(value):
    """'tmpl/NAME' for a template clone, 'ct/ID@snap' for a CT clone, '-' for none."""
    if not value:
        return "-"
    ds, _, snap = value.partition("@")
    parts = ds.split("/")
    if len(parts) >= 2 and parts[-2] in ("tmpl", "ct"):
        return "%s/%s" % (parts[-2], parts[-1]) + ("" if snap == "golden" else "@" + snap)
    return value


def rows(node, only=None):
    settings = node.settings()
    base = settings.root + "/ct/"
    snaps = {}
    for s in zfs.list_datasets(settings.root + "/ct", ["name"], types="snapshot"):
        ds = s["name"].split("@", 1)[0]
        snaps[ds] = snaps.get(ds, 0) + 1
    io = kstats.objset_counters(settings.pool)
    out = []
    seen = set()
    props = ["name", "volsize", "used", "referenced", "compressratio", "origin"]
    for row in zfs.list_datasets(settings.root + "/ct", props):
        if not row["name"].startswith(base) or "/" in row["name"][len(base):]:
            continue
        ctid = row["name"][len(base):]
        if only and ctid not in only:
            continue
        try:
            ct = Container(ctid, node)
            status, mounted = _status(ct)
        except VzzfsError:
            status, mounted = "?", None
        seen.add(row["name"])
        counters = io.get(row["name"], {})
        out.append({"ctid": ctid, "status": status, "dataset": row["name"],
                    "volsize": int(row["volsize"]), "used": int(row["used"]),
                    "referenced": int(row["referenced"]),
                    "compressratio": row["compressratio"].rstrip("x") + "x",
                    "origin": _origin(row["origin"] if row["origin"] != "-" else None),
                    "snapshots": snaps.get(row["name"], 0),
                    "inodes": _inodes(ct) if mounted else "-",
                    "read": counters.get("nread"), "written": counters.get("nwritten"),
                    "mounted": mounted})
    out += _confs_without_zvol(node, seen, only)
    return sorted(out, key=lambda r: (not r["ctid"].isdigit(), int(r["ctid"])
                                      if r["ctid"].isdigit() else 0, r["ctid"]))


def _confs_without_zvol(node, seen, only):
    found = []
    try:
        names = os.listdir(node.conf_dir)
    except OSError:
        return found
    for name in names:
        if not name.endswith(".conf") or name.startswith("ve-"):
            continue
        ctid = name[:-len(".conf")]
        if only and ctid not in only:
            continue
        try:
            ct = Container(ctid, node)
        except VzzfsError:
            continue
        if not ct.explicit or ct.dataset in seen or zfs.exists(ct.dataset):
            continue
        found.append({"ctid": ctid, "status": "zvol missing", "dataset": ct.dataset,
                      "volsize": 0, "used": 0, "referenced": 0, "compressratio": "-",
                      "origin": "-", "snapshots": 0, "inodes": "-", "read": None,
                      "written": None, "mounted": False})
    return found


def check_fields(text):
    fields = tuple(f.strip() for f in text.split(",")) if text else DEFAULT_FIELDS
    bad = [f for f in fields if f not in FIELDS]
    if bad:
        raise UsageError("unknown field %s" % ", ".join(bad),
                                 "use some of: %s" % ",".join(FIELDS))
    return fields
