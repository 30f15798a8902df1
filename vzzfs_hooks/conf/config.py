"""Reading vzctl-style config files and vzzfs's own settings.

The parser reads ``KEY=value`` files the way vzctl 4.x does:
lines starting with ``#`` are comments, ``KEY="value"`` loses its double quotes
(single quotes stay), an inline ``# x`` is part of the value, the first
occurrence of a key in a file wins, and ``$VEID``/``${VEID}`` expand only in
VE_ROOT and VE_PRIVATE. Settings are checked before use: a value that would be
unsafe to hand to zfs or mount is refused with a ConfigError.
"""

import os

from ..base import names
from ..base.names import ALNUM, DIGITS, only
from ..base.errors import ConfigError, VzzfsError
from ..base.fileio import read_text

VEID_KEYS = ("VE_ROOT", "VE_PRIVATE")
MAX_LINE = 16384

# vzzfs's settings with their defaults: /etc/vz/vzzfs.conf overrides these,
# and a container's own conf overrides both.
DEFAULTS = dict([
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
    ("VZZFS_SUSPEND", "auto"),           # how a snapshot holds a running CT: vzctl, freezer, auto
    ("VZZFS_PLATFORM", "auto"),          # the node's vzctl: vzctl4, openvz7, auto (by its binary)
    ("VZZFS_RESTORE_CHECK", "yes"),      # refuse vzctl restore if the disk changed since chkpnt
    ("VZZFS_AUTO_CREATE", "no"),         # yes: vzctl create's vps.create moves new CTs to zvols
    ("VZZFS_RECEIVE_OVERWRITE", "no"),   # receive --forced-command: no = new CTs only
    ("VZZFS_RECEIVE_CTIDS", ""),         # receive --forced-command: CTIDs a sender may write
    # vzzfs autosnap: e.g. "hourly=24 daily=7 weekly=4 monthly=6"; empty: no scheduled
    # snapshots. Read (retention.parse_policy) only by autosnap and check, so a typo
    # here never stops a CT from starting. A CT's conf may set its own: it only
    # decides about that CT's own kind=auto snapshots.
    ("VZZFS_SNAPSHOT_KEEP", ""),
    # vzzfs replicate: the command prefix that runs vzzfs receive on the peer, e.g.
    # "ssh root@node2 vzzfs receive" (node-wide only); empty: no replication
    ("VZZFS_REPLICATE_TO", ""),
    # vzzfs replicate: yes (the default) sends this CT's scheduled snapshots to the
    # peer of VZZFS_REPLICATE_TO, no leaves it out; a CT's conf may set it
    ("VZZFS_REPLICATE", "yes"),
    # node_exporter's textfile that vzzfs autosnap and replicate write after each run
    # (vzzfs metrics); empty: none. Node-wide only (a CT's conf never picks a path)
    ("VZZFS_METRICS_FILE", "/var/lib/vzzfs/vzzfs.prom"),
])

# node-wide only: a CT's conf (written by tools, carried in backups) must not move the
# CT's zvol out of VZZFS_ROOT's rule nor pick the program vzzfs runs as root
NODE_ONLY = ("VZZFS_ROOT", "VZZFS_VZCTL", "VZZFS_SUSPEND", "VZZFS_PLATFORM",
             "VZZFS_RECEIVE_OVERWRITE", "VZZFS_RECEIVE_CTIDS", "VZZFS_REPLICATE_TO",
             "VZZFS_METRICS_FILE")

# The checks below are string methods, not regular expressions: the hooks run them
# and `re` was a sixth of a hook's imports (tests/unit/test_config.py holds each
# against its pattern). The patterns here serve create and clone only.

# options that would change what gets mounted, or break the CT (it needs its
# device nodes and setuid programs, so VE_PRIVATE is mounted without nodev/nosuid)
FORBIDDEN_MOUNT_OPTS = ("loop", "offset", "sizelimit", "remount", "bind", "rbind", "move",
                        "ro", "nodev", "nosuid", "noexec", "X-mount.mkdir")
HOSTNAME_RE = r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$"
IP_RE = r"^([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*)(/[0-9]{1,3})?$"
SAMPLE_RE = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"


def is_key(text):
    """A shell variable's name: ^[A-Za-z_][A-Za-z0-9_]*$"""
    return only(text, ALNUM + "_") and text[0] not in DIGITS


def is_mount_opts(text):
    """Options joined by commas: ^[A-Za-z0-9_=.:+-]+(,[A-Za-z0-9_=.:+-]+)*$"""
    return all(only(opt, ALNUM + "_=.:+-") for opt in text.split(","))


def is_program(text):
    """A program's name or absolute path: ^(/[A-Za-z0-9_.+-]+)+$|^[A-Za-z0-9_.+-]+$"""
    parts = text[1:].split("/") if text.startswith("/") else [text]
    return all(only(part, ALNUM + "_.+-") for part in parts)


def is_compression(text):
    """^(on|off|lz4|lzjb|zle|zstd(-[0-9]+)?|gzip(-[1-9])?)$"""
    return (text in ("on", "off", "lz4", "lzjb", "zle", "zstd", "gzip")
            or (text.startswith("zstd-") and only(text[5:], DIGITS))
            or (text.startswith("gzip-") and len(text) == 6 and text[5] in "123456789"))


def _unquote(value):
    if value.startswith('"'):
        end = value.rfind('"')
        return value[1:end] if end > 0 else value[1:]
    return value


def parse_text(text, source="<text>"):
    """Parse vzctl-style text into a dict of raw values in file order (first key wins;
    dicts keep insertion order: CPython 3.6, the language from 3.7)."""
    values = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if len(line) > MAX_LINE:
            raise ConfigError("%s:%d: line longer than %d characters" % (source, lineno, MAX_LINE),
                              "shorten or remove it")
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            continue
        key, value = stripped.split("=", 1)
        key = key.strip()
        if not is_key(key):
            continue  # vzctl skips what is not a variable assignment
        if "\0" in value:
            raise ConfigError("%s:%d: %s holds a NUL byte" % (source, lineno, key), "fix the file")
        if key not in values:
            values[key] = _unquote(value.strip())
    return values


def parse_file(path, missing_ok=False):
    try:
        text = read_text(path)
    except FileNotFoundError:
        if missing_ok:
            return {}
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
    merged = {}
    for layer in layers:
        merged.update(layer)
    return merged


# ---- checks for values that reach zfs, mount or the file system ----

def check_abs_path(path, what):
    """An absolute, normalised path without '..', spaces or control characters."""
    if (not path or not path.startswith("/") or path == "/" or os.path.normpath(path) != path
            or any(c.isspace() or ord(c) < 32 for c in path) or "/../" in path + "/"):
        raise ConfigError("%s %r is not a clean absolute path" % (what, path),
                          "set it to a path like /vz/private/$VEID")
    return path


def check_mount_opts(opts):
    if not is_mount_opts(opts):
        raise ConfigError("VZZFS_MOUNT_OPTS %r is not a comma-separated option list" % opts,
                          "use options such as noatime,errors=remount-ro")
    for opt in opts.split(","):
        if opt.split("=", 1)[0] in FORBIDDEN_MOUNT_OPTS:
            raise ConfigError("VZZFS_MOUNT_OPTS must not contain %r" % opt,
                              "remove it from VZZFS_MOUNT_OPTS")
    return opts


# ---- sizes, read exactly as vzctl 4.11.1 reads DISKSPACE and DISKINODES ----
#
# vzctl's src/lib/config.c: parse_dq() calls parse_twoul_sfx(value, divisor,
# allow_unlimited=0), which reads 'barrier[:limit]' (no limit: limit = barrier),
# each part with parse_ul_sfx(): strtoull() for the integer part, strtold() from
# the start again if a '.' follows it (so '2.2' and '1.5e3' are numbers, '.5'
# too), then at most one suffix from get_mul() (K M G T, P = a page, B = a byte,
# either case) as value * multiplier / divisor in long double, cut towards zero;
# without a suffix the number is taken as it is. The divisor is 1024 for
# DISKSPACE (so the result is KiB and a bare number means KiB) and 1 for
# DISKINODES (a count). A result over LONG_MAX (a negative integer wraps to
# 2^64 - n first), an integer part over ULLONG_MAX, and 'unlimited' (not allowed
# here) make parse() report ERR_INVAL: vzctl warns and ignores the line. LONG_MAX
# itself is valid: vzquota's "unlimited". vzctl computes in long double, this
# exactly: results differ by one only where value * 10^decimals passes 2^64
# (beyond any disk). Where C is undefined (a negative decimal, or a decimal past
# ULLONG_MAX cast to unsigned: glibc on x86 gives 0), the value is refused.

LONG_MAX = (1 << 63) - 1
ULLONG_MAX = (1 << 64) - 1
_BLANKS = " \t\n\v\f\r"  # C's isspace
# strtold says ERANGE outside x86's 80-bit long double: over LDBL_MAX = (2 - 2**-63) *
# 2**16383 (a whole number), under LDBL_MIN = 2**-16382
_LDBL_MAX = ((1 << 64) - 1) << 16320
_LDBL_MIN_EXP = 16382
_ULL_DIGITS = len(str(ULLONG_MAX))  # a whole part longer than this (no leading 0s): ERANGE
_FRAC_DIGITS = 40   # decimals read: more cannot move a result vzctl's long double gives
_EXP_DIGITS = 6     # an exponent longer than this puts any nonzero value out of range


def _vzctl_mul(char):
    """get_mul(): the multiplier of a suffix letter, or None."""
    if char in "Pp":
        return os.sysconf("SC_PAGE_SIZE")  # vzctl: getpagesize()
    return {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "B": 1}.get(char.upper())


def _digits_end(text, i):
    while text[i:i + 1] and text[i] in DIGITS:
        i += 1
    return i


def _exponent_end(text, i):
    """Where an exponent ([eE][+-]?[0-9]+) at ``i`` ends; ``i`` when there is none."""
    if text[i:i + 1] not in ("e", "E"):
        return i
    j = i + 1 + (text[i + 1:i + 2] in ("+", "-"))
    k = _digits_end(text, j)
    return k if k > j else i


def _scan_number(text):
    """The number strtoull/strtold read at the start of ``text``, as (sign, whole, dot,
    frac, exponent, end) (dot and the two after it None when absent, frac '' after a
    bare dot), or None. Leading blanks and a sign only before digits; the exponent
    only after a dot (strtoull stops at an 'e'; strtold is asked only after a '.')."""
    i = len(text) - len(text.lstrip(_BLANKS))
    sign = text[i] if text[i:i + 1] in ("+", "-") else ""
    j = i + len(sign)
    k = _digits_end(text, j)
    if k > j:
        if text[k:k + 1] != ".":
            return sign, text[j:k], None, None, None, k
        f = _digits_end(text, k + 1)
        e = _exponent_end(text, f)
        return sign, text[j:k], ".", text[k + 1:f], text[f + 1:e] if e > f else None, e
    f = _digits_end(text, 1)
    if text[:1] == "." and f > 1:  # '.5': no blank nor sign before it
        e = _exponent_end(text, f)
        return "", "0", ".", text[1:f], text[f + 1:e] if e > f else None, e
    return None


def _vzctl_number(text, divisor):
    """One part, as parse_ul_sfx(): (value, rest of text), or None where vzctl fails.

    Computed exactly as the fraction num / den of whole numbers (both >= 0), so
    the hooks parse DISKSPACE without loading fractions and decimal.
    """
    m = _scan_number(text)
    num, den, rest = 0, 1, text  # strtoull converts nothing: 0, the whole text is the tail
    if m:
        sign, whole, dot, frac, exp, end = m
        # bounded before any int(): a conf may hold thousands of digits, which Python
        # 3.11 refuses to convert (ValueError) and would be slow to multiply
        whole = whole.lstrip("0") or "0"
        if len(whole) > _ULL_DIGITS or int(whole) > ULLONG_MAX:
            return None  # strtoull: ERANGE
        num = int(whole)
        if dot:
            frac = frac[:_FRAC_DIGITS]  # past a long double's precision: vzctl's own rounding
            digits = int((whole + frac).lstrip("0") or "0")
            esign, edigits = (exp[0], exp[1:]) if exp and exp[0] in "+-" else ("", exp or "0")
            edigits = edigits.lstrip("0") or "0"
            if len(edigits) > _EXP_DIGITS:
                if digits:
                    return None  # strtold: ERANGE, over- or underflow
                edigits = "0"
            scale = int(esign + edigits) - len(frac)
            if digits and not -4952 <= len(str(digits)) - 1 + scale <= 4932:
                return None  # strtold: ERANGE (checked roughly first: 10**scale may be huge)
            num, den = (digits * 10 ** scale, 1) if scale >= 0 else (digits, 10 ** -scale)
            if num and not (den <= num << _LDBL_MIN_EXP and num <= _LDBL_MAX * den):
                return None  # strtold: ERANGE
        if sign == "-" and num:
            if dot:
                return None  # a negative long double cast to unsigned: undefined in C
            num = ULLONG_MAX + 1 - num  # strtoull wraps it (past LONG_MAX, unless divided)
        rest = text[end:]
    if rest[:1] not in (":", ""):
        mul = _vzctl_mul(rest[0])
        if mul is None:
            return None
        num, den = num * mul, den * divisor
        rest = rest[1:]
    value = num // den  # (unsigned long long) v: towards zero, both being >= 0
    return (value, rest) if value <= LONG_MAX else None


def parse_vzctl_pair(text, divisor, what):
    """(barrier, limit) of vzctl's 'barrier[:limit]', as parse_twoul_sfx(); else ConfigError.

    ``divisor``: 1024 for DISKSPACE (KiB), 1 for DISKINODES (a count).
    """
    text = text or ""
    fix = ("vzctl 4.11.1 rejects it too; use barrier[:limit], e.g. %s"
           % ("2G:2.2G" if divisor == 1024 else "131072:144179"))
    if "unlimited" in text.split(":"):
        raise ConfigError("%s %r is not a number: vzctl takes no 'unlimited' here"
                          % (what, text), fix)
    first = _vzctl_number(text, divisor)
    if first is None or first[1][:1] not in (":", ""):
        raise ConfigError("%s %r is not a size or barrier:limit" % (what, text), fix)
    barrier, rest = first
    if not rest:
        return barrier, barrier
    second = _vzctl_number(rest[1:], divisor)
    if second is None or second[1]:
        raise ConfigError("%s %r is not a size or barrier:limit" % (what, text), fix)
    return barrier, second[0]


def parse_size(text, what="size"):
    """Bytes from '16K', '2.5G', '4096' (vzctl's number syntax; plain numbers are bytes)."""
    if text and ":" in text:
        raise ConfigError("%s %r is one size, not barrier:limit" % (what, text), "use e.g. 2G")
    try:
        size = parse_vzctl_pair(text, 1, what)[0]
    except ConfigError:
        size = 0
    if not size:
        raise ConfigError("%s %r is not a size" % (what, text), "use a number with K, M, G or T")
    return size


def parse_diskspace(text, what="DISKSPACE", unlimited_ok=False, ctid=None):
    """Bytes of the limit (hard) of vzctl's DISKSPACE 'barrier[:limit]'; plain numbers are KiB.

    The zvol follows the limit, as vzctl's ploop does (create.c: size = diskspace[1]).
    A zvol needs a size: 'unlimited' or LONG_MAX (vzquota's unlimited) is refused,
    or gives None with ``unlimited_ok`` (premount then leaves the zvol as it is).
    """
    fix = "set it to a size such as 10G or 10G:11G; a zvol needs a size"
    if unlimited_ok and (text or "").split(":")[-1] == "unlimited":
        return None
    try:
        limit = parse_vzctl_pair(text, 1024, what)[1]
    except ConfigError as e:
        raise ConfigError(e.problem, fix, ctid)
    if limit == LONG_MAX:
        if unlimited_ok:
            return None
        raise ConfigError("%s %r is unlimited" % (what, text), fix, ctid)
    if not limit:
        raise ConfigError("%s %r is 0 KB" % (what, text), fix, ctid)
    return limit << 10


def parse_diskinodes(text, what="DISKINODES"):
    """(barrier, limit) of DISKINODES, or None when it asks for no number (unlimited).

    vzctl 4.11.1 skips 'unlimited' here as invalid, which leaves the CT without a
    DISKINODES: ext4's own count for the size, as vzzfs does with None.
    """
    if not text or "unlimited" in text.split(":"):
        return None
    barrier, limit = parse_vzctl_pair(text, 1, what)
    if limit == LONG_MAX:
        return None
    if not barrier or not limit:
        raise ConfigError("%s %r asks for 0 inodes" % (what, text), "use e.g. 131072:144179")
    return barrier, limit


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
        self.root = names.check_dataset_name(raw["VZZFS_ROOT"], "VZZFS_ROOT")
        vbs = parse_size(raw["VZZFS_VOLBLOCKSIZE"], "VZZFS_VOLBLOCKSIZE")
        if vbs < 4096 or vbs > 131072 or vbs & (vbs - 1):
            raise ConfigError("VZZFS_VOLBLOCKSIZE=%s is not a power of two from 4K to 128K"
                              % raw["VZZFS_VOLBLOCKSIZE"], "use e.g. 16K")
        self.volblocksize = vbs
        comp = raw["VZZFS_COMPRESSION"]
        if not is_compression(comp):
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
        if not is_program(self.vzctl):
            raise ConfigError("VZZFS_VZCTL=%r is not a program name or absolute path" % self.vzctl,
                              "use vzctl or e.g. /usr/sbin/vzctl")
        if raw["VZZFS_SUSPEND"] not in ("auto", "vzctl", "freezer"):
            raise ConfigError("VZZFS_SUSPEND=%r is not auto, vzctl or freezer" % raw["VZZFS_SUSPEND"],
                              "fix it in vzzfs.conf")
        self.suspend = raw["VZZFS_SUSPEND"]
        if raw["VZZFS_PLATFORM"] not in ("auto", "vzctl4", "openvz7"):
            raise ConfigError("VZZFS_PLATFORM=%r is not auto, vzctl4 or openvz7"
                              % raw["VZZFS_PLATFORM"], "fix it in vzzfs.conf")
        self.platform = raw["VZZFS_PLATFORM"]
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

    def ct_confs(self):
        """(CTID, path) of every CT conf in conf_dir (CTID.conf; not the ve-*.conf-sample
        files, not names that are no CTID), sorted: the one walk over the CT confs."""
        try:
            entries = sorted(os.listdir(self.conf_dir))
        except OSError:
            return []
        found = []
        for entry in entries:
            if not entry.endswith(".conf") or entry.startswith("ve-"):
                continue
            ctid = entry[:-len(".conf")]
            # a number is the common case: no pattern matched for it (a node of
            # hundreds of CTs walks these at every premount)
            if not (ctid.isdigit() and ctid[0] != "0" and int(ctid) <= names.MAX_CTID):
                try:
                    names.check_ctid(ctid)
                except VzzfsError:
                    continue
            found.append((ctid, os.path.join(self.conf_dir, entry)))
        return found

    def global_params(self):
        """vz.conf's values (missing file: none)."""
        return parse_file(self.vz_conf, missing_ok=True)

    def private_top(self):
        """The directory holding the CTs' private areas (/vz/private), from vz.conf's
        VE_PRIVATE."""
        private = self.global_params().get("VE_PRIVATE", names.DEFAULT_PRIVATE)
        return private.split("$", 1)[0].rstrip("/") or "/"

    def vzzfs_params(self):
        return merge(DEFAULTS, {k: v for k, v in parse_file(self.vzzfs_conf, missing_ok=True).items()
                                if k in DEFAULTS})

    def settings(self):
        return Settings(self.vzzfs_params())
