"""A legacy vzctl 4.x CT's conf translated for OpenVZ 7's vzctl, with what vz7 would
reject or ignore named one line each. Pure: the caller reads, writes and prints.

What OpenVZ 7's libvzctl reads from a CT's conf (lib/env_config.c's table) differs
from vzctl 4.x's: the layout is VE_PRIVATE/.ve.layout (the node lays that out, not
the conf), the CT names itself by VEID (and may carry a UUID), OSTEMPLATE names an
EZ template that vzctl 7's start hands to vzpkg, so a legacy template's name there
breaks the start, and the distribution (DISTRIBUTION, or OSTEMPLATE's) picks the
scripts in /etc/vz/dists/ that set its IPs and hostname. A CT whose distribution
the target's vzctl does not know cannot be configured there: that finding is fatal.

The source conf is not trusted (its node, its root through vzctl set, a backup):
only the keys below pass, each checked, and nothing from it names a path, a
program or a dataset on the target; VE_ROOT, VE_PRIVATE and the like stay the
target's own (confimport merges the result with the target's conf).
"""

import re

from ..base.names import is_ct_name, is_template_name, is_uuid

FATAL, WARN, INFO = "fatal", "warn", "info"

# keys of a vzctl 4.x conf that OpenVZ 7's libvzctl reads alike (lib/env_config.c)
SAME = frozenset((
    "KMEMSIZE", "LOCKEDPAGES", "PRIVVMPAGES", "SHMPAGES", "NUMPROC", "PHYSPAGES",
    "VMGUARPAGES", "NUMTCPSOCK", "NUMFLOCK", "NUMPTY", "NUMSIGINFO", "TCPSNDBUF",
    "TCPRCVBUF", "OTHERSOCKBUF", "DGRAMRCVBUF", "NUMOTHERSOCK", "NUMFILE", "NUMIPTENT",
    "AVNUMPROC", "SWAPPAGES", "VM_OVERCOMMIT", "MEMINFO", "CPULIMIT", "CPUUNITS", "CPUS",
    "CPUMASK", "NODEMASK", "IOPRIO", "IOLIMIT", "IOPSLIMIT", "DISKSPACE", "DISKINODES",
    "QUOTATIME", "QUOTAUGIDLIMIT", "ONBOOT", "DESCRIPTION", "DISABLED", "BOOTORDER",
    "ORIGIN_SAMPLE", "SEARCHDOMAIN", "NAMESERVER", "HOSTNAME", "IPTABLES", "NETFILTER",
))
# legacy keys vz7 has no use for, said in one line (an info, nothing to act on)
LEGACY_ONLY = frozenset(("DCACHESIZE", "OOMGUARPAGES", "IP6TABLES", "STOP_TIMEOUT",
                         "VE_STOP_MODE", "CONFIG_CUSTOMIZED", "CAPABILITY"))
# the node's own keys: the target sets them (or its vzctl's defaults do), silently
SILENT = frozenset(("VE_LAYOUT", "DISK_QUOTA", "VZZFS_DATASET", "VE_ROOT", "VE_PRIVATE",
                    "VEID", "DISTRIBUTION", "OSTEMPLATE", "DUMPDIR", "LOCKDIR"))
# what the target's own conf decides, never the source's (paths, devices, privileges)
NODE_ONLY = frozenset(("DEVICES", "DEVNODES", "NETDEV", "PCI", "DISK", "BINDMOUNT",
                       "FEATURES", "TECHNOLOGIES", "VE_TYPE", "ROOT_DISK"))

NETIF_FIELDS = ("ifname", "mac", "host_ifname", "host_mac")  # vzctl 4.x's, vz7 reads alike
_IFNAME_RE = r"^[A-Za-z0-9_.-]{1,15}$"
_MAC_RE = r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$"
_IP_RE = r"^([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*)(/[0-9]{1,3})?$"
_DOMAIN_RE = r"^[A-Za-z0-9.-]{1,253}$"


def finding(level, text):
    return (level, text)


def distribution(conf):
    """The distribution vzctl 7 looks up for this conf: DISTRIBUTION, else OSTEMPLATE's
    name without its architecture (debian-7.0-x86_64: debian-7.0); None if neither."""
    dist = conf.get("DISTRIBUTION") or ""
    if not dist:
        tmpl = (conf.get("OSTEMPLATE") or "").lstrip(".")
        dist = re.sub(r"-(x86_64|x86|i[3-6]86|amd64|aarch64|arm64)$", "", tmpl)
    if not dist:
        return None
    return dist if is_template_name(dist) and ".." not in dist else False


def dist_known(dist, dists):
    """Whether a target whose /etc/vz/dists holds ``dists`` (names without .conf) has a
    conf for ``dist``: vzctl 7 tries the name, then shortens it at each '-'
    (lib/dist.c get_dist_conf_name); default.conf only, it cannot set the CT's IPs."""
    name = dist
    while name:
        if name in dists:
            return True
        if "-" not in name:
            return False
        name = name.rsplit("-", 1)[0]
    return False


def _netif(value, out, notes):
    """vzctl 4.x's NETIF (';'-separated veths) as vz7 reads it: bridge= has no meaning
    there (vz7 joins a virtual network, network=), unknown or bad fields are left out."""
    kept = []
    for dev in [d for d in value.split(";") if d.strip()]:
        fields = []
        for item in dev.split(","):
            key, _, val = item.partition("=")
            if key == "bridge":
                notes.append(finding(WARN, "NETIF's bridge=%s: OpenVZ 7 joins a veth to a "
                                           "virtual network, not a bridge; after the move: "
                                           "vzctl set CTID --ifname IF --network NET --save"
                                     % val))
            elif key in NETIF_FIELDS and re.match(_MAC_RE if "mac" in key else _IFNAME_RE,
                                                  val):
                fields.append("%s=%s" % (key, val))
            else:
                notes.append(finding(WARN, "NETIF's %r left out: not a veth setting OpenVZ 7 "
                                           "takes from another node" % item[:60]))
        if any(f.startswith("ifname=") for f in fields):
            kept.append(",".join(fields))
        else:
            notes.append(finding(WARN, "a NETIF veth without a valid ifname left out"))
    if kept:
        out["NETIF"] = ";".join(kept)


def _words(key, value, rule, out, notes):
    good = [w for w in value.split() if re.match(rule, w)]
    if len(good) != len(value.split()):
        notes.append(finding(WARN, "%s: %d invalid entr%s left out"
                             % (key, len(value.split()) - len(good),
                                "y" if len(value.split()) - len(good) == 1 else "ies")))
    if good:
        out[key] = " ".join(good)


def to_vz7(conf, ctid, dists=None):
    """(translated conf, findings) for CT ``ctid``'s legacy ``conf`` (parsed, untrusted)
    on an OpenVZ 7 node whose vzctl knows distributions ``dists`` (None: not asked).
    Findings: [(FATAL|WARN|INFO, one line)], fatal ones first."""
    out, notes = {"VEID": str(ctid)}, []
    for key in sorted(conf):
        value = conf[key]
        if '"' in value or "\n" in value or "\0" in value:
            notes.append(finding(WARN, "%s left out: its value cannot be written to a conf"
                                 % key))
        elif key in SAME:
            if key in ("NAMESERVER",):
                _words(key, value, _IP_RE, out, notes)
            elif key == "SEARCHDOMAIN":
                _words(key, value, _DOMAIN_RE, out, notes)
            else:
                out[key] = value
        elif key == "IP_ADDRESS":
            _words(key, value, _IP_RE, out, notes)
        elif key == "NETIF":
            _netif(value, out, notes)
        elif key == "NAME":
            if is_ct_name(value) and ".." not in value:
                out[key] = value
            else:
                notes.append(finding(WARN, "NAME %r left out: not a plain name" % value[:60]))
        elif key == "UUID":
            if is_uuid(value):
                out[key] = value
            else:
                notes.append(finding(WARN, "UUID left out: not a UUID (vzctl 7 makes one)"))
        elif key in NODE_ONLY:
            notes.append(finding(WARN, "%s left out: the OpenVZ 7 node decides it (set it "
                                       "there with vzctl set)" % key))
        elif key in SILENT or key in LEGACY_ONLY:
            pass  # DISTRIBUTION, OSTEMPLATE: _dist; VEID: the target's CTID
        else:
            notes.append(finding(INFO, "%s: OpenVZ 7's vzctl does not read it" % key))
    dropped = sorted(k for k in LEGACY_ONLY if k in conf)
    if dropped:
        notes.append(finding(INFO, "%s: vzctl 4.x only, OpenVZ 7 ignores %s"
                             % (", ".join(dropped), "it" if len(dropped) == 1 else "them")))
    _dist(conf, dists, out, notes)
    if "DISKSPACE" in out:
        notes.append(finding(INFO, "DISKSPACE %s: vzctl 7 saves it and does not apply it "
                                   "to a layout-4 CT; vzzfs sizes the zvol by it"
                             % out["DISKSPACE"]))
    notes.append(finding(INFO, "laid out as OpenVZ 7's layout 4 (simfs): VE_PRIVATE/"
                               ".ve.layout, ve.conf, fs/ on the zvol, by renames"))
    return out, _sorted(notes)


_NOT_PLAIN = ("its distribution is not a plain name (DISTRIBUTION or OSTEMPLATE): set "
              "DISTRIBUTION=NAME in its conf")


def _unknown_dist(dist, dists, where):
    """The fatal finding for a distribution the target's vzctl has no conf for (its
    ``dists``, None: not asked), or None. ``where``: its dists directory, in words."""
    if dists is None or dist_known(dist, dists):
        return None
    return finding(FATAL, "the target's vzctl knows no distribution %s (no %s.conf in %s): "
                          "add one there, or keep the CT on this node" % (dist, dist, where))


def _dist(conf, dists, out, notes):
    dist = distribution(conf)
    if dist is False:
        notes.append(finding(FATAL, _NOT_PLAIN))
        return
    if dist is None:
        notes.append(finding(FATAL, "its conf names no distribution (neither DISTRIBUTION "
                                    "nor OSTEMPLATE), so OpenVZ 7's vzctl cannot configure "
                                    "it: set DISTRIBUTION=NAME in its conf"))
        return
    out["DISTRIBUTION"] = dist
    if conf.get("OSTEMPLATE"):
        notes.append(finding(INFO, "OSTEMPLATE %s left out (vzctl 7's start would ask vzpkg "
                                   "for an EZ template of that name); DISTRIBUTION=%s instead"
                             % (conf["OSTEMPLATE"], dist)))
    notes.extend(n for n in [_unknown_dist(dist, dists, "its vzctl's dists directory")] if n)


def fatal(findings):
    """The fatal findings' lines."""
    return [text for level, text in findings if level == FATAL]


def lines(findings):
    """The findings as printed: one line each, the level first."""
    return ["%s: %s" % (level, text) for level, text in findings]


VZCTL4, OPENVZ7 = "vzctl4", "openvz7"  # system/vzctl.py's platforms (rules stay below it)


def migration(source, remote, conf, ctid, online=False):
    """What vzzfs migrate of CT ``ctid`` (``conf``: its parsed conf) from a node of
    platform ``source`` to the peer whose checked --status answer is ``remote`` finds:
    (relayout there after the last increment?, findings). Pure."""
    target = remote.get("platform")
    notes = []
    if target is None:
        target = VZCTL4
        notes.append(finding(INFO, "the other side's vzzfs does not say which vzctl it runs: "
                                   "taken for vzctl 4.x"))
    if remote.get("exists") or remote.get("conf"):
        notes.append(finding(INFO, "the other side has a CT %s already: the migrate sends "
                                   "increments onto it if it shares a snapshot and was not "
                                   "written since, else stops with the CT running here (a "
                                   "copy a failed move left there: vzzfs destroy %s there)"
                             % (ctid, ctid)))
    if source == target:
        return False, notes
    if remote.get("dists") is None:
        notes.append(finding(WARN, "the other side does not list its distributions: "
                                   "whether its vzctl knows this CT's is not checked"))
    if online:
        notes.append(finding(FATAL, "--online: a checkpoint of one vzctl cannot be restored "
                                    "by the other (vzctl 4.x's and CRIU's dumps differ): "
                                    "migrate without --online, the CT is down for the last "
                                    "increment only"))
    if source == OPENVZ7:
        return True, _sorted(notes + to_vzctl4(conf, remote.get("dists")))
    _, found = to_vz7(conf, ctid, remote.get("dists"))
    return True, _sorted(notes + found)


def _sorted(notes):
    order = {FATAL: 0, WARN: 1, INFO: 2}
    return sorted(notes, key=lambda n: order[n[0]])


def to_vzctl4(conf, dists=None):
    """The findings for an OpenVZ 7 CT's ``conf`` moving to a vzctl 4.x node whose
    vzctl knows distributions ``dists`` (None: not asked). The conf itself needs no
    translating there: the receiving node takes the keys its allow-list knows
    (confimport) and says which it left out (VEID, vz7's own)."""
    notes = [finding(INFO, "laid out for vzctl 4.x there: the files moved out of the "
                           "ext4's fs/ by renames, VE_PRIVATE the zvol's mount point")]
    dist = distribution(conf)
    if dist is False:
        notes.append(finding(FATAL, _NOT_PLAIN))
    elif dist is None:
        notes.append(finding(WARN, "its conf names no distribution: vzctl 4.x sets its "
                                   "IPs and hostname with the default scripts"))
    else:
        notes.extend(n for n in [_unknown_dist(dist, dists, "/etc/vz/dists there")] if n)
    return notes
