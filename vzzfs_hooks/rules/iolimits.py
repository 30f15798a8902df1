"""A CT's I/O limits: parsing them (vzctl's syntax) and the cgroup lines that set them. Pure.

vzctl 4.x keeps IOLIMIT (bytes/s) and IOPSLIMIT (operations/s) in a CT's conf
and applies them only on an OpenVZ kernel, through its own ioctl. On an upstream
kernel vzctl 4.11.1 cannot apply them at all (its ioctl goes to a /dev/vzctl it
has not opened, and the start fails with "Unable to set iolimit"), so a zvol CT
keeps its limits in VZZFS_IOLIMIT and VZZFS_IOPSLIMIT, same syntax, which vzctl
ignores. vzzfs applies them to the CT's zvol device (/dev/zdN): the only place a
limit holds (docs/performance.md, io_limits), read and write alike.

Syntax, as vzctl parses IOLIMIT (src/lib/config.c): a whole number, optionally
with one suffix K, M, G, T (powers of 1024), P (a page) or B, in either case;
"unlimited" or 0 means no limit. A bare number is bytes/s in a conf and MiB/s on
vzctl's (and vzzfs set-limits') command line. No sign, no decimals, no blanks.
IOPSLIMIT is a whole number. vzctl truncates above 2147483647 with a warning;
vzzfs refuses instead, since a limit the admin did not mean is worse than none.
"""

from ..base.errors import ConfigError
from ..base.names import DIGITS, only

# the CT conf keys vzzfs reads and writes (vzctl ignores and keeps keys it does not know)
KEY_IOLIMIT = "VZZFS_IOLIMIT"
KEY_IOPSLIMIT = "VZZFS_IOPSLIMIT"
# vzctl's own keys, which its 4.11.1 cannot apply on an upstream kernel
VZCTL_IOLIMIT = "IOLIMIT"
VZCTL_IOPSLIMIT = "IOPSLIMIT"

INT_MAX = 2147483647  # vzctl keeps both limits in an int
PAGE_SIZE = 4096
_MUL = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": PAGE_SIZE, "b": 1}

# cgroup v1 blkio files, one rule "MAJ:MIN VALUE" each (VALUE 0 removes the rule)
V1_FILES = (("bps", "read", "blkio.throttle.read_bps_device"),
            ("bps", "write", "blkio.throttle.write_bps_device"),
            ("iops", "read", "blkio.throttle.read_iops_device"),
            ("iops", "write", "blkio.throttle.write_iops_device"))
V2_FILE = "io.max"


class Limits(object):
    """Bytes/s and operations/s, each 0 for none; applied to reads and writes alike."""

    __slots__ = ("bps", "iops")

    def __init__(self, bps=0, iops=0):
        self.bps = bps
        self.iops = iops

    def __eq__(self, other):
        return isinstance(other, Limits) and (self.bps, self.iops) == (other.bps, other.iops)

    def __ne__(self, other):
        return not self == other

    def __repr__(self):
        return "Limits(bps=%d, iops=%d)" % (self.bps, self.iops)

    @property
    def none(self):
        return not self.bps and not self.iops


def parse_iolimit(text, what=KEY_IOLIMIT, default_unit=1):
    """Bytes/s from vzctl's IOLIMIT syntax; 0 for unlimited. ``default_unit`` is what a
    bare number counts (1 in a conf, 1 MiB on the command line)."""
    value = text if text is not None else ""
    if value == "unlimited":
        return 0
    suffix = value[-1:] if value[-1:] and value[-1] in "KkMmGgTtPpBb" else ""
    digits = value[:len(value) - len(suffix)]
    if not only(digits, DIGITS):
        raise ConfigError("%s=%r is not an I/O limit" % (what, value),
                          "use bytes per second, e.g. 10485760 or 10M, or unlimited")
    digits = digits.lstrip("0") or "0"  # bounded before int(): a conf can hold any
    n = (int(digits) if len(digits) <= 19 else INT_MAX + 1) * (  # number of digits
        _MUL[suffix.lower()] if suffix else default_unit)
    if n > INT_MAX:
        raise ConfigError("%s=%r is above vzctl's largest limit, %d bytes/s"
                          % (what, value, INT_MAX), "use at most 2047M, or unlimited")
    return n


def parse_iopslimit(text, what=KEY_IOPSLIMIT):
    """Operations/s from vzctl's IOPSLIMIT syntax (a whole number); 0 for unlimited."""
    value = text if text is not None else ""
    if not only(value, DIGITS) or len(value.lstrip("0")) > 19 or int(value) > INT_MAX:
        raise ConfigError("%s=%r is not a number of I/O operations per second" % (what, value),
                          "use a whole number from 0 (unlimited) to %d" % INT_MAX)
    return int(value)


def from_conf(own):
    """The Limits a CT's own conf (a dict) sets with vzzfs's keys; unset is 0."""
    bps, iops = own.get(KEY_IOLIMIT, ""), own.get(KEY_IOPSLIMIT, "")
    return Limits(parse_iolimit(bps) if bps != "" else 0,
                  parse_iopslimit(iops) if iops != "" else 0)


def vzctl_keys(own):
    """vzctl's IOLIMIT/IOPSLIMIT keys a conf sets (on an upstream kernel they stop vzctl)."""
    return [k for k in (VZCTL_IOLIMIT, VZCTL_IOPSLIMIT) if k in own]


def from_vzctl_keys(own):
    """The Limits vzctl's own keys set (IOLIMIT bytes/s, IOPSLIMIT), for taking them over;
    None where a key is not set."""
    bps = own.get(VZCTL_IOLIMIT)
    iops = own.get(VZCTL_IOPSLIMIT)
    return (parse_iolimit(bps, VZCTL_IOLIMIT) if bps is not None else None,
            parse_iopslimit(iops, VZCTL_IOPSLIMIT) if iops is not None else None)


def conf_value(n):
    """How a limit is saved: its number, or None to remove the key when unlimited."""
    return str(n) if n else None


def v1_lines(devno, limits):
    """{blkio file: "MAJ:MIN VALUE"} for cgroup v1; VALUE 0 removes a rule."""
    _check_devno(devno)
    return dict((name, "%s %d" % (devno, getattr(limits, kind)))
                for kind, _, name in V1_FILES)


def v2_line(devno, limits):
    """The io.max line for cgroup v2 ("max" is no limit)."""
    _check_devno(devno)

    def val(n):
        return str(n) if n else "max"
    return "%s rbps=%s wbps=%s riops=%s wiops=%s" % (devno, val(limits.bps), val(limits.bps),
                                                     val(limits.iops), val(limits.iops))


def _check_devno(devno):
    major, colon, minor = devno.partition(":")
    if not (colon and only(major, DIGITS) and only(minor, DIGITS)):
        raise ValueError("not a MAJ:MIN device number: %r" % devno)


def parse_v1(texts, devno):
    """Limits read back from the four v1 files' ``texts`` ({file: content}) for ``devno``:
    read and write must agree, else the smaller (stricter) one is given."""
    found = {}
    for kind, direction, name in V1_FILES:
        for line in texts.get(name, "").splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == devno and parts[1].isdigit():
                found[(kind, direction)] = int(parts[1])
    return Limits(_stricter(found.get(("bps", "read"), 0), found.get(("bps", "write"), 0)),
                  _stricter(found.get(("iops", "read"), 0), found.get(("iops", "write"), 0)))


def parse_v2(text, devno):
    """Limits read back from an io.max ``text`` for ``devno``."""
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0] == devno:
            kv = dict(p.split("=", 1) for p in parts[1:] if "=" in p)

            def num(key):
                v = kv.get(key, "max")
                return int(v) if v.isdigit() else 0
            return Limits(_stricter(num("rbps"), num("wbps")),
                          _stricter(num("riops"), num("wiops")))
    return Limits()


def _stricter(a, b):
    if not a or not b:
        return a or b
    return min(a, b)


def human(n, unit):
    """'10M' style for a bytes/s limit, the number for ops; '-' for none."""
    if not n:
        return "-"
    if unit == "B":
        for suffix, mul in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
            if n % mul == 0:
                return "%d%s" % (n // mul, suffix)
    return str(n)
