"""Reading vzctl-style config files and vzzfs's own settings.

The parser reads ``KEY=value`` files the way vzctl 4.x does (see DESIGN.md):
lines starting with ``#`` are comments, ``KEY="value"`` loses its double quotes
(single quotes stay), an inline ``# x`` is part of the value, the first
occurrence of a key in a file wins, and ``$VEID``/``${VEID}`` expand only in
VE_ROOT and VE_PRIVATE. Settings are checked before use: a value that would be
unsafe to hand to zfs or mount is refused with a ConfigError.
"""

import os
import re
from collections import OrderedDict

from .errors import ConfigError

KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
VEID_KEYS = ("VE_ROOT", "VE_PRIVATE")
MAX_LINE = 16384

# vzzfs's settings with their defaults: /etc/vz/vzzfs.conf overrides these,
# and a container's own conf overrides both.
DEFAULTS = OrderedDict([
    ("VZZFS_ROOT", "vz/vzzfs"),          # datasets live under here: ROOT/ct/CTID
    ("VZZFS_VOLBLOCKSIZE", "16K"),       # OpenZFS 2.2 moved its default here: 8K was slow
    ("VZZFS_COMPRESSION", "lz4"),
    ("VZZFS_SPARSE", "no"),              # reserved zvols: a full pool cannot break a CT's writes
    ("VZZFS_PRIMARYCACHE", "all"),
    ("VZZFS_DEDUP", "off"),              # on costs RAM for the dedup table; measure first
    ("VZZFS_FSCK", "preen"),             # preen: e2fsck -p before each mount; off: never
    ("VZZFS_MOUNT_OPTS", "noatime,errors=remount-ro"),
    ("VZZFS_DEV_TIMEOUT", "10"),         # seconds to wait for /dev/zvol/... to appear
    ("VZZFS_BUSY_TIMEOUT", "5"),         # seconds to retry an unmount that says "busy"
    ("VZZFS_POOL_WARN", "85"),           # warn when the pool is this full (percent)
    ("VZZFS_VZCTL", "vzctl"),            # what suspends, dumps and resumes CTs for snapshots
    ("VZZFS_RESTORE_CHECK", "yes"),      # refuse vzctl restore if the disk changed since chkpnt
    ("VZZFS_AUTO_CREATE", "no"),         # yes: vzctl create's vps.create moves new CTs to zvols
    ("VZZFS_RECEIVE_OVERWRITE", "no"),   # receive --forced-command: no = new CTs only
    ("VZZFS_RECEIVE_CTIDS", ""),         # receive --forced-command: CTIDs a sender may write
])

# node-wide only: a CT's conf (written by tools, carried in backups) must not move the
# CT's zvol out of VZZFS_ROOT's rule nor pick the program vzzfs runs as root
NODE_ONLY = ("VZZFS_ROOT", "VZZFS_VZCTL",
             "VZZFS_RECEIVE_OVERWRITE", "VZZFS_RECEIVE_CTIDS")

DATASET_COMPONENT_RE = re.compile(r"^[A-Za-z0-9_.:-]+$")
MOUNT_OPTS_RE = re.compile(r"^[A-Za-z0-9_=.:+-]+(,[A-Za-z0-9_=.:+-]+)*$")
# options that would change what gets mounted, or break the CT (it needs its
# device nodes and setuid programs, so VE_PRIVATE is mounted without nodev/nosuid)
FORBIDDEN_MOUNT_OPTS = ("loop", "offset", "sizelimit", "remount", "bind", "rbind", "move",
                        "ro", "nodev", "nosuid", "noexec", "X-mount.mkdir")
HOSTNAME_RE = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$")
IP_RE = re.compile(r"^([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*)(/[0-9]{1,3})?$")
PROGRAM_RE = re.compile(r"^(/[A-Za-z0-9_.+-]+)+$|^[A-Za-z0-9_.+-]+$")
SAMPLE_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
SIZE_RE = re.compile(r"^([0-9]+)([KMGT]?)$", re.I)
UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def _unquote(value):
    if value.startswith('"'):
        end = value.rfind('"')
        return value[1:end] if end > 0 else value[1:]
    return value


def parse_text(text, source="<text>"):
    """Parse vzctl-style text into an OrderedDict of raw values (first key wins)."""
    values = OrderedDict()
    for lineno, line in enumerate(text.splitlines(), 1):
        if len(line) > MAX_LINE:
            raise ConfigError("%s:%d: line longer than %d characters" % (source, lineno, MAX_LINE),
                              "shorten or remove it")
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            continue
        key, value = stripped.split("=", 1)
        key = key.strip()
        if not KEY_RE.match(key):
            continue  # vzctl skips what is not a variable assignment
        if "\0" in value:
            raise ConfigError("%s:%d: %s holds a NUL byte" % (source, lineno, key), "fix the file")
        if key not in values:
            values[key] = _unquote(value.strip())
    return values


def parse_file(path, missing_ok=False):
    try:
        with open(path, "r", errors="surrogateescape") as f:
            text = f.read()
    except FileNotFoundError:
        if missing_ok:
            return OrderedDict()
        raise ConfigError("config file %s does not exist" % path, "check the path")
    except OSError as e:
        raise ConfigError("cannot read %s: %s" % (path, e.strerror), "check its permissions")
    return parse_text(text, path)


def expand_veid(key, value, veid):
    """Expand $VEID and ${VEID} the way vzctl does: only in VE_ROOT and VE_PRIVATE."""
    if key not in VEID_KEYS:
        return value
    return value.replace("${VEID}", str(veid)).replace("$VEID", str(veid))


def merge(*layers):
    """Later layers win, like the CT's conf over vz.conf."""
    merged = OrderedDict()
    for layer in layers:
        merged.update(layer)
    return merged


# ---- checks for values that reach zfs, mount or the file system ----

def check_dataset_name(name, what="dataset name"):
    """Return ``name`` if it is a plain ZFS filesystem/volume name, else raise."""
    if not name or len(name) > 200 or name.startswith("/") or name.endswith("/"):
        raise ConfigError("%s %r is not a valid ZFS dataset name" % (what, name),
                          "use pool/path, e.g. vz/vzzfs")
    for part in name.split("/"):
        if part in ("", ".", "..") or part.startswith("-") or not DATASET_COMPONENT_RE.match(part):
            raise ConfigError("%s %r is not a valid ZFS dataset name" % (what, name),
                              "use letters, digits and _.:- separated by /")
    return name


def check_abs_path(path, what):
    """An absolute, normalised path without '..', spaces or control characters."""
    if (not path or not path.startswith("/") or path == "/" or os.path.normpath(path) != path
            or any(c.isspace() or ord(c) < 32 for c in path) or "/../" in path + "/"):
        raise ConfigError("%s %r is not a clean absolute path" % (what, path),
                          "set it to a path like /vz/private/$VEID")
    return path


def check_mount_opts(opts):
    if not MOUNT_OPTS_RE.match(opts):
        raise ConfigError("VZZFS_MOUNT_OPTS %r is not a comma-separated option list" % opts,
                          "use options such as noatime,errors=remount-ro")
    for opt in opts.split(","):
        if opt.split("=", 1)[0] in FORBIDDEN_MOUNT_OPTS:
            raise ConfigError("VZZFS_MOUNT_OPTS must not contain %r" % opt,
                              "remove it from VZZFS_MOUNT_OPTS")
    return opts


def parse_size(text, what="size"):
    """Bytes from '16K', '10G', '4096'. Plain numbers are bytes."""
    m = SIZE_RE.match(text.strip()) if text else None
    if not m:
        raise ConfigError("%s %r is not a size" % (what, text), "use a number with K, M, G or T")
    return int(m.group(1)) * UNITS[m.group(2).upper()]


def parse_diskspace(text, what="DISKSPACE"):
    """Bytes of the hard limit of vzctl's DISKSPACE 'soft[:hard]'; plain numbers are KiB."""
    parts = (text or "").strip().split(":")
    if len(parts) > 2:
        raise ConfigError("%s %r is not a size or soft:hard sizes" % (what, text),
                          "use e.g. 10G or 10G:11G")
    sizes = []
    for part in parts:
        m = SIZE_RE.match(part.strip())
        if not m:
            raise ConfigError("%s %r is not a size" % (what, text), "use e.g. 10G or 10485760")
        sizes.append(int(m.group(1)) * (UNITS[m.group(2).upper()] if m.group(2) else 1024))
    return sizes[-1]


def parse_diskinodes(text):
    """The inode count for mkfs from DISKINODES 'soft[:hard]' (a plain count)."""
    part = (text or "").strip().split(":")[-1]
    if part == "unlimited" or part == "":
        return None
    if not part.isdigit() or int(part) <= 0:
        raise ConfigError("DISKINODES %r is not a number" % text, "use e.g. 200000:220000")
    return int(part)


def parse_bool(text, what):
    low = text.strip().lower()
    if low in ("yes", "y", "1", "true", "on"):
        return True
    if low in ("no", "n", "0", "false", "off", ""):
        return False
    raise ConfigError("%s=%r is neither yes nor no" % (what, text), "set it to yes or no")


def parse_int(text, what, low, high):
    try:
        n = int(text)
    except ValueError:
        n = None
    if n is None or not low <= n <= high:
        raise ConfigError("%s=%r is not a number from %d to %d" % (what, text, low, high),
                          "fix it in vzzfs.conf or the CT's conf")
    return n


class Settings(object):
    """vzzfs's checked settings for one container (or node-wide)."""

    def __init__(self, raw):
        self.raw = raw
        self.root = check_dataset_name(raw["VZZFS_ROOT"], "VZZFS_ROOT")
        vbs = parse_size(raw["VZZFS_VOLBLOCKSIZE"], "VZZFS_VOLBLOCKSIZE")
        if vbs < 4096 or vbs > 131072 or vbs & (vbs - 1):
            raise ConfigError("VZZFS_VOLBLOCKSIZE=%s is not a power of two from 4K to 128K"
                              % raw["VZZFS_VOLBLOCKSIZE"], "use e.g. 16K")
        self.volblocksize = vbs
        comp = raw["VZZFS_COMPRESSION"]
        if not re.match(r"^(on|off|lz4|lzjb|zle|zstd(-[0-9]+)?|gzip(-[1-9])?)$", comp):
            raise ConfigError("VZZFS_COMPRESSION=%r is not a ZFS compression" % comp,
                              "use lz4, zstd, gzip or off")
        self.compression = comp
        self.sparse = parse_bool(raw["VZZFS_SPARSE"], "VZZFS_SPARSE")
        if raw["VZZFS_PRIMARYCACHE"] not in ("all", "metadata", "none"):
            raise ConfigError("VZZFS_PRIMARYCACHE=%r is not all, metadata or none"
                              % raw["VZZFS_PRIMARYCACHE"], "fix it in vzzfs.conf")
        self.primarycache = raw["VZZFS_PRIMARYCACHE"]
        if raw["VZZFS_FSCK"] not in ("preen", "off"):
            raise ConfigError("VZZFS_FSCK=%r is not preen or off" % raw["VZZFS_FSCK"],
                              "fix it in vzzfs.conf")
        if raw["VZZFS_DEDUP"] not in ("on", "off", "verify", "sha256", "sha256,verify"):
            raise ConfigError("VZZFS_DEDUP=%r is not on, off or verify" % raw["VZZFS_DEDUP"],
                              "fix it in vzzfs.conf")
        self.dedup = raw["VZZFS_DEDUP"]
        self.fsck = raw["VZZFS_FSCK"]
        self.mount_opts = check_mount_opts(raw["VZZFS_MOUNT_OPTS"])
        self.dev_timeout = parse_int(raw["VZZFS_DEV_TIMEOUT"], "VZZFS_DEV_TIMEOUT", 1, 600)
        self.busy_timeout = parse_int(raw["VZZFS_BUSY_TIMEOUT"], "VZZFS_BUSY_TIMEOUT", 0, 600)
        self.pool_warn = parse_int(raw["VZZFS_POOL_WARN"], "VZZFS_POOL_WARN", 1, 100)
        self.vzctl = raw["VZZFS_VZCTL"]
        if not PROGRAM_RE.match(self.vzctl):
            raise ConfigError("VZZFS_VZCTL=%r is not a program name or absolute path" % self.vzctl,
                              "use vzctl or e.g. /usr/sbin/vzctl")
        self.restore_check = parse_bool(raw["VZZFS_RESTORE_CHECK"], "VZZFS_RESTORE_CHECK")
        self.auto_create = parse_bool(raw["VZZFS_AUTO_CREATE"], "VZZFS_AUTO_CREATE")

    @property
    def pool(self):
        return self.root.split("/", 1)[0]


class Node(object):
    """Where a node keeps its configuration: /etc/vz by default.

    The hooks find it from VE_CONFFILE (/etc/vz/conf/CTID.conf), which lets the
    tests run a whole node under a scratch directory.
    """

    def __init__(self, etc_dir="/etc/vz"):
        self.etc_dir = etc_dir
        self.vz_conf = os.path.join(etc_dir, "vz.conf")
        self.vzzfs_conf = os.path.join(etc_dir, "vzzfs.conf")
        self.conf_dir = os.path.join(etc_dir, "conf")
        self.names_dir = os.path.join(etc_dir, "names")

    @classmethod
    def from_conffile(cls, conffile):
        return cls(os.path.dirname(os.path.dirname(os.path.abspath(conffile))))

    def global_params(self):
        """vz.conf's values (missing file: none)."""
        return parse_file(self.vz_conf, missing_ok=True)

    def vzzfs_params(self):
        return merge(DEFAULTS, {k: v for k, v in parse_file(self.vzzfs_conf, missing_ok=True).items()
                                if k in DEFAULTS})

    def settings(self):
        return Settings(self.vzzfs_params())
