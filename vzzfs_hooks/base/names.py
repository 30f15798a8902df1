"""Every name vzzfs gives, and the checks for names that reach ZFS or the file system.

The one home for: the dataset layout under VZZFS_ROOT, snapshot names and kinds,
the org.openvz.vzzfs:* user property keys, path suffixes and dump file names,
and the validators for CTIDs, dataset names, snapshot names and template names.
Other modules ask this one; none spells a name itself.

The layout under VZZFS_ROOT (a node-wide setting, never taken from a CT's conf):
ROOT/ct/CTID is CT CTID's zvol, ROOT/tmpl/NAME a template with its @golden
snapshot, ROOT/incoming/CTID-restoring and CTID-replaced stage a received stream
and the zvol it replaces (no CTID can name a dataset there).
"""

import os
import time

from .errors import ConfigError, UsageError

# ---- vzctl's names vzzfs relies on ----
DEFAULT_PRIVATE = "/vz/private/$VEID"   # VE_PRIVATE when neither vz.conf nor the CT's conf sets it
HOOK_ACTIONS = ("premount", "mount", "postumount", "create")  # /etc/vz/conf/vps.<action>
# vzzfs has nothing to do at umount: its shim only ran the admin's script, which vzctl
# runs itself. install-hooks removes the shim older vzzfs wired; the hook stays for
# such a shim until then, running its chained script.
HOOK_RETIRED = ("umount",)

# ---- a CT's private area under OpenVZ 7 (container/layout.py) ----
# VE_PRIVATE is a host directory holding what vzctl 7 reads and runs (the layout
# marker, the conf, the CT's action scripts, dumps, its lock); the zvol's ext4 is
# mounted on VE_PRIVATE/disk and holds the CT's files in its fs/ directory, which
# VE_PRIVATE/fs (a symlink) names. Nothing vzctl 7 reads in VE_PRIVATE comes from
# the zvol.
VZ7_LAYOUT_LINK = ".ve.layout"        # a symlink whose target is the layout number
VZ7_LAYOUT = "4"                      # vzctl 7's "simfs" layout: VE_PRIVATE/fs on VE_ROOT
VZ7_FS_LINK = "fs"                    # VE_PRIVATE/fs -> disk/fs
VZ7_DISK_DIR = "disk"                 # the zvol's mount point inside VE_PRIVATE
VZ7_CT_DIR = "fs"                     # the CT's files on the zvol's ext4
VZ7_FS_TARGET = VZ7_DISK_DIR + "/" + VZ7_CT_DIR
VZ7_SCRIPTS_DIR = "scripts"           # the CT's own action scripts, run as root on the host
VZ7_DUMP_DIR = "dump"                 # checkpoint dumps (VE_PRIVATE/dump/Dump)
VZ7_HOST_DIRS = (VZ7_SCRIPTS_DIR, VZ7_DUMP_DIR)
VZ7_CONF = "ve.conf"                  # the CT's conf; /etc/vz/conf/CTID.conf links to it
LAYOUT_LEGACY = "legacy"              # PROP_LAYOUT: the CT's files at the ext4's top
LAYOUT_VZ7 = "vz7"                    # PROP_LAYOUT: the CT's files in the ext4's fs/

# ---- dataset layout under VZZFS_ROOT ----
CT_DIR = "ct"
TEMPLATE_DIR = "tmpl"
INCOMING_DIR = "incoming"
GOLDEN = "golden"               # a template's snapshot that CTs are cloned from
RESTORING = "restoring"         # ROOT/incoming/CTID-restoring: a stream being received
REPLACED = "replaced"           # ROOT/incoming/CTID-replaced: the zvol a restore replaces


def ct_dataset(root, ctid):
    """CT ``ctid``'s zvol at the conventional place."""
    return "%s/%s/%s" % (root, CT_DIR, ctid)


def ct_parent(root):
    """The dataset that holds every conventional CT zvol."""
    return "%s/%s" % (root, CT_DIR)


def template_dataset(root, name):
    return "%s/%s/%s" % (root, TEMPLATE_DIR, check_template_name(name))


def golden_snapshot(root, name):
    return golden_of(template_dataset(root, name))


def golden_of(template_ds):
    """The @golden snapshot of a template's zvol, which CTs are cloned from."""
    return "%s@%s" % (template_ds, GOLDEN)


def incoming_dataset(root, ctid, what):
    """A staging dataset for CT ``ctid`` (``what``: RESTORING or REPLACED)."""
    return "%s/%s/%s-%s" % (root, INCOMING_DIR, ctid, what)


def snapshot(dataset, name):
    """dataset@name, the name checked."""
    return "%s@%s" % (dataset, check_snapshot_name(name))


def short_origin(origin):
    """'tmpl/NAME' for a template clone, 'ct/ID@snap' for a CT clone, '-' for none."""
    if not origin:
        return "-"
    ds, _, snap = origin.partition("@")
    parts = ds.split("/")
    if len(parts) >= 2 and parts[-2] in (TEMPLATE_DIR, CT_DIR):
        return "%s/%s" % (parts[-2], parts[-1]) + ("" if snap == GOLDEN else "@" + snap)
    return origin


# ---- snapshot names: a prefix per kind, then the time ----
SNAPSHOT_PREFIX = "vzzfs-"            # vzzfs snapshot without --name
CHKPNT_PREFIX = "vzzfs-chkpnt-"       # taken by the hooks around vzctl chkpnt
BACKUP_PREFIX = "vzzfs-backup-"       # vzzfs backup's base snapshots
SEND_PREFIX = "vzzfs-send-"           # vzzfs send / migrate
CLONE_PREFIX = "vzzfs-clone-"         # vzzfs clone's origin snapshot, + the new CTID
AUTO_PREFIX = "auto-"                 # vzzfs autosnap's: auto-YYYYmmddTHHMMSSZ (UTC)

# ---- snapshot kinds: PROP_KIND on every snapshot vzzfs takes ----
KIND_SNAPSHOT = "snapshot"            # vzzfs snapshot
KIND_CHKPNT = "chkpnt"                # the hooks' snapshot after a full vzctl chkpnt
KIND_BACKUP = "backup"                # vzzfs backup's base snapshots
KIND_SEND = "send"                    # vzzfs send / migrate
KIND_CLONE = "clone"                  # vzzfs clone's origin snapshot
KIND_AUTO = "auto"                    # vzzfs autosnap's scheduled ones (retention prunes these)


def timed_snapshot_name(prefix, when=None):
    """prefix + the local time to the second (callers add -2, -3 on a clash)."""
    return prefix + time.strftime("%Y%m%d-%H%M%S", time.localtime(when))


def clone_snapshot_name(ctid):
    return CLONE_PREFIX + ctid


# ---- user properties (ZFS keeps them with the dataset or snapshot) ----
_NS = "org.openvz.vzzfs:"
PROP_CTID = _NS + "ctid"                # on a CT's zvol: the CT it belongs to
PROP_ORIGIN_CT = _NS + "origin-ct"      # on a clone: the CT it was cloned from
PROP_CONVERT = _NS + "convert"          # convert's progress: copying, swapping, done
PROP_TEMPLATE = _NS + "template"        # on a template or its clone: the OS template
PROP_GEOMETRY = _NS + "ext4-geometry"   # on a template: its ext4's geometry at import
PROP_LAYOUT = _NS + "layout"            # on a CT's zvol: LAYOUT_VZ7 once its ext4 holds fs/
PROP_KIND = _NS + "kind"                # on a snapshot: one of the KIND_* above
PROP_SNAP_STATE = _NS + "state"         # on a snapshot: suspended, frozen or stopped then
PROP_DUMP = _NS + "dumpfile"            # on a snapshot: the memory dump that goes with it
PROP_CONF = _NS + "conf"                # on a snapshot: the CT's conf then, zlib + base64
# on a backup snapshot: "complete" once its stream is whole where it went (backupchain.py)
PROP_BACKUP = _NS + "backup"
# on the zvol: the guid of the snapshot snapshot-switch just rolled it back to. A
# rollback leaves a few KiB of 'written' metadata behind, so the restore check
# takes this word for it instead.
PROP_ROLLED_BACK = _NS + "rolled-back-to"
# on a snapshot: the peer of VZZFS_REPLICATE_TO has it (vzzfs replicate); autosnap's
# pruning keeps the newest one so marked, the base of the next increment
PROP_REPLICATED = _NS + "replicated"
# on a snapshot: vzzfs replicate is sending it, or a cut stream of it waits to be
# finished (the resume target); autosnap's pruning keeps it until the peer has it
PROP_INFLIGHT = _NS + "replicating"
# on a zvol received from vzzfs replicate: a replica, which autosnap prunes but never
# snapshots (a snapshot of its own would make the next increment refused)
PROP_REPLICA = _NS + "replica"
# on a snapshot: the bytes of the last stream of it (or ending at it) that vzzfs backup,
# send or replicate wrote, once it was whole; `vzzfs list` shows the newest (MOVED)
PROP_STREAM_BYTES = _NS + "stream-bytes"

# ---- paths beside a CT's ----
CONVERT_OLD_SUFFIX = ".vzzfs-old"     # VE_PRIVATE's old contents after convert
CONVERT_NEW_SUFFIX = ".vzzfs-new"     # where convert mounts the new zvol while copying
HOOK_CHAIN_SUFFIX = ".vzzfs-chained"  # an admin's own vps.ACTION script, kept
TEMPLATE_STAGING_PREFIX = "vzzfs-tmpl-"  # a temporary mount point for a template import


def default_dump(dumpdir, ctid):
    """Where a plain 'vzctl chkpnt CTID' writes its dump (vzctl's own name)."""
    return os.path.join(dumpdir, "Dump.%s" % ctid)


def snapshot_dump(dumpdir, ctid, snap):
    """The dump `vzzfs snapshot --dump` writes beside vzctl's for snapshot ``snap``."""
    return os.path.join(dumpdir, "Dump.%s.%s" % (ctid, snap))


def migrate_dump(dumpdir, ctid):
    """The dump `vzzfs migrate --online` carries to the peer."""
    return os.path.join(dumpdir, "Dump.%s.migrate" % ctid)


# ---- validators ----
# Plain string checks, no regular expressions: every hook validates a CTID and a
# dataset name, and `re` (with enum behind it) was a sixth of a hook's imports under
# emulation. tests/unit/test_names.py holds each rule against its pattern.

DIGITS = "0123456789"
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" + DIGITS
MAX_CTID = 2147483647


def only(text, allowed):
    """Whether ``text`` is not empty and every character of it is in ``allowed``."""
    return bool(text) and not text.strip(allowed)


# vzctl 4.x CTIDs are unsigned ints (0 is the host); names
# (vzctl --name, OpenVZ 7 names) are letters, digits and -_. not starting with - or .
def is_ctid(text):
    """A number from 1, up to ten digits (^[1-9][0-9]{0,9}$; MAX_CTID is checked apart)."""
    return len(text) <= 10 and only(text, DIGITS) and text[0] != "0"


def is_ct_name(text):
    """^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"""
    return len(text) <= 64 and only(text, ALNUM + "_.-") and text[0] not in ".-"


def is_uuid(text):
    """OpenVZ 7 names new CTs by a UUID (vzctl create without a number), a CTID then:
    lowercase hex in groups of 8-4-4-4-12."""
    return (len(text) == 36 and [len(g) for g in text.split("-")] == [8, 4, 4, 4, 12]
            and only(text.replace("-", ""), "0123456789abcdef"))


def is_dataset_component(text):
    """^[A-Za-z0-9_.:-]+$"""
    return only(text, ALNUM + "_.:-")


def is_template_name(text):
    """^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"""
    return len(text) <= 128 and only(text, ALNUM + "_.-") and text[0] in ALNUM


def check_ctid(ctid):
    """Return the CTID as a string if it is valid, else raise UsageError."""
    text = str(ctid)
    if is_ctid(text) and int(text) <= MAX_CTID:
        return text
    if is_ct_name(text) and not text.isdigit():
        return text
    raise UsageError("invalid CTID %r" % text,
                     "use a number from 1 to %d or a name of letters, digits and -_." % MAX_CTID)


def check_new_ctid(names_dir, ctid, uuid_ok=False):
    """A CTID for a CT about to be made (create, clone, restore, receive): a number (or,
    with ``uuid_ok``, on an OpenVZ 7 node, a UUID as its vzctl makes them), and no vzctl
    name in ``names_dir`` (names resolve to other CTs everywhere else)."""
    text = check_ctid(ctid)
    if not is_ctid(text) and not (uuid_ok and is_uuid(text)):
        raise UsageError("a new CT needs a number%s as its CTID, not the name %r"
                         % (" or a UUID" if uuid_ok else "", text),
                         "pick a free number from 1 to %d (vzctl set CTID --name NAME "
                         "names it afterwards)" % MAX_CTID)
    if os.path.lexists(os.path.join(names_dir, text)):
        raise UsageError("%s is already the name of a CT (%s)"
                         % (text, os.path.join(names_dir, text)), "pick another CTID")
    return text


def check_dataset_name(name, what="dataset name"):
    """Return ``name`` if it is a plain ZFS filesystem/volume name, else raise."""
    if not name or len(name) > 200 or name.startswith("/") or name.endswith("/"):
        raise ConfigError("%s %r is not a valid ZFS dataset name" % (what, name),
                          "use pool/path, e.g. vz/vzzfs")
    for part in name.split("/"):
        if (part in ("", ".", "..") or part.startswith("-")
                or not is_dataset_component(part)):
            raise ConfigError("%s %r is not a valid ZFS dataset name" % (what, name),
                              "use letters, digits and _.:- separated by /")
    return name


def check_snapshot_name(name):
    """Return ``name`` if it can follow a dataset's '@', else raise UsageError."""
    if (not name or len(name) > 200 or name in (".", "..") or name.startswith("-")
            or not is_dataset_component(name)):
        raise UsageError("invalid snapshot name %r" % (name,),
                         "use letters, digits and _.:- (no / or @), not starting with -")
    return name


def check_template_name(name):
    if not is_template_name(name or "") or ".." in name:
        raise UsageError("invalid template name %r" % name,
                         "use the tarball's name without .tar.gz, e.g. debian-12.0-x86_64")
    return name
