"""The claim rule: is this CT vzzfs's, and is this zvol this CT's. Hooks, verbs and
jobs all ask here; the decisions themselves are pure (rules/ownership.py) and this
module gathers the facts they take: the CT's conf, VZZFS_DATASET claims in every
conf, the zvol's properties, what is mounted on VE_PRIVATE.

A hook asks ``hook_owns`` first, from the least that tells, so a CT that is not
vzzfs's passes through without a zfs command whatever vzzfs.conf or its own conf
holds. A verb or job that changes a CT's zvol calls ``require`` under the CT's
lock: a dataset belongs to one CT, and never to a pool's root or VZZFS_ROOT.
"""

import os

from ..base import names
from ..base.errors import ConfigError, DatasetNotFound, VzzfsError
from ..base.names import PROP_CTID
from ..conf import config
from ..conf.config import parse_text
from ..rules.ownership import owns, problem
from ..system import ext4, mounts, zvoldev

# zfs (and kstats, progress behind it) is imported when a zvol is asked about: a
# hook for a CT that is not vzzfs's never asks


def hook_owns(action, node, ctid, conffile):
    """Is CT ``ctid`` vzzfs's for this hook? Reads only what decides it (the CT's
    conf, vzzfs.conf's VZZFS_ROOT, the zvol's name, VE_PRIVATE's state), so the
    checks that would refuse a bad value run only for a CT vzzfs owns (in
    Container). vzctl create's hook owns the new CT only with VZZFS_AUTO_CREATE."""
    own = config.parse_file(conffile, missing_ok=True)
    try:
        vzzfs = config.parse_file(node.vzzfs_conf, missing_ok=True)
    except ConfigError:
        return True  # unreadable: whether it claims this CT is unknown; Container says why
    if action == "create":
        value = own.get("VZZFS_AUTO_CREATE", vzzfs.get("VZZFS_AUTO_CREATE", "no"))
        try:
            return config.parse_bool(value, "VZZFS_AUTO_CREATE")
        except ConfigError:
            return True  # a typo in the one setting that decides: refuse, naming it
    if own.get("VZZFS_DATASET"):
        return True  # decides alone (ownership.owns): nothing more to read
    private = config.expand_veid(
        "VE_PRIVATE", config.merge(node.global_params(), own).get("VE_PRIVATE",
                                                                  names.DEFAULT_PRIVATE), ctid)
    private = os.path.normpath(private) if private.startswith("/") else None
    # where the zvol is mounted: VE_PRIVATE (vzctl 4.x) or VE_PRIVATE/disk (OpenVZ 7);
    # both are looked at, so which vzctl runs need not be known to pass a CT by
    places = [] if private is None else [private, os.path.join(private, names.VZ7_DISK_DIR)]
    if any(ext4.is_guarded(p) for p in places):
        return True  # decides alone: no zfs command to ask about the zvol
    try:
        root = names.check_dataset_name(vzzfs.get("VZZFS_ROOT", config.DEFAULTS["VZZFS_ROOT"]),
                                         "VZZFS_ROOT")
    except ConfigError:
        zvol, mounted = "unknown", any(zvol_mounted_on(p) for p in places)
    else:
        dataset = names.ct_dataset(root, ctid)
        if any(zvol_mounted_on(p, dataset) for p in places):
            return True  # that zvol is mounted there (postumount): no zfs to ask
        zvol, mounted = zvol_state(dataset), False
    return owns(False, zvol, False, mounted)


def zvol_state(dataset):
    """What ``dataset`` is, as owns() takes it: "volume", "converting" or None.

    zfs is asked only when udev has a /dev/zvol link of that name: so the hooks
    run no zfs command for a CT that is not vzzfs's (a zvol whose link udev has
    not made yet counts as absent; a vzzfs CT is also known by VZZFS_DATASET
    or its guarded mount point).
    """
    if not zvoldev.has_link(dataset):
        return None
    from ..system import zfs
    try:
        props = zfs.get(dataset, "type", names.PROP_CONVERT)
    except VzzfsError:
        return None  # no such zvol, no zfs, no pool: then only the guard can tell
    if props.get("type") != "volume":
        return None
    return "converting" if props.get(names.PROP_CONVERT) in ("copying", "swapping") else "volume"


def is_vzzfs(ct):
    """Does vzzfs own this CT's private area? (owns() for a Container)"""
    return owns(ct.explicit, zvol_state(ct.dataset), ext4.is_guarded(ct.mountpoint))


def zvol_mounted_on(path, dataset=None):
    """Is a zvol (a /dev/zdN; with ``dataset``, that one) mounted on ``path``?"""
    m = mounts.mount_at(path)
    if m is None or not zvoldev.is_zd(os.path.basename(m.source)):
        return False
    return dataset is None or zvoldev.zvol_name(m.source) == dataset


def zvols_mounted_under(top):
    """Mount points below ``top`` (/vz/private) with a zvol's ext4 on them."""
    return [m.mountpoint for m in mounts.table()
            if m.fstype == "ext4" and zvoldev.is_zd(os.path.basename(m.source))
            and m.mountpoint.startswith(top.rstrip("/") + "/")]


def claims(node, dataset):
    """CTIDs whose conf on ``node`` names ``dataset`` as VZZFS_DATASET.

    Cheap enough for a hook: a file is parsed only if its bytes hold the name, and
    read with three system calls (open, read, close: a Python file object costs
    twice that and more, and premount reads every conf of the node).
    """
    found = []
    needle = os.fsencode(dataset)
    for ctid, path in node.ct_confs():
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            data = os.read(fd, 65536)
            if len(data) == 65536:  # a conf is a few KiB; read the rest of a big one
                data += b"".join(iter(lambda: os.read(fd, 1 << 20), b""))
        except OSError:
            continue
        finally:
            os.close(fd)
        if needle in data and parse_text(os.fsdecode(data)).get("VZZFS_DATASET") == dataset:
            found.append(ctid)
    return found


def check(ct, prop_ctid):
    """Raise ConfigError unless ``ct.dataset`` is ``ct``'s (``prop_ctid`` already read)."""
    found = problem(ct.ctid, ct.dataset, ct.settings.root, prop_ctid,
                    claims(ct.node, ct.dataset))
    if found:
        raise ConfigError("refusing to touch %s: %s" % (ct.dataset, found[0]), found[1],
                          ctid=ct.ctid)


def require(ct):
    """Raise ConfigError unless ``ct.dataset`` is ``ct``'s. A missing dataset passes:
    there is nothing to harm, and callers report it their way."""
    from ..system import zfs
    try:
        prop = zfs.get(ct.dataset, PROP_CTID).get(PROP_CTID)
    except DatasetNotFound:
        return
    check(ct, prop)
