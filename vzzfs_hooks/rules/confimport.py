"""A CT's conf that comes from elsewhere (a backup, a sending node, a snapshot) is
imported through an allow-list: only what vzctl needs for the CT itself.

Resources, network, hostname, OS template and the like come from the incoming
conf. vzzfs's own keys, the node's paths (VE_PRIVATE, VE_ROOT, LOCKDIR, DUMPDIR
...), keys naming a program or a file, and privileges only the node may grant
(CAPABILITY, DEVICES, NETDEV ...) stay as this node has them. Pure: the caller
reads and writes the files.
"""


from ..base.names import is_ct_name, is_template_name

# vzctl 4.x's per-CT keys (src/lib/config.c) that describe the CT itself
ALLOWED = frozenset((
    # resources (user beancounters, vswap, CPU, disk, I/O)
    "KMEMSIZE", "LOCKEDPAGES", "PRIVVMPAGES", "SHMPAGES", "NUMPROC", "PHYSPAGES",
    "VMGUARPAGES", "OOMGUARPAGES", "NUMTCPSOCK", "NUMFLOCK", "NUMPTY", "NUMSIGINFO",
    "TCPSNDBUF", "TCPRCVBUF", "OTHERSOCKBUF", "DGRAMRCVBUF", "NUMOTHERSOCK", "DCACHESIZE",
    "NUMFILE", "AVNUMPROC", "NUMIPTENT", "SWAPPAGES", "VM_OVERCOMMIT", "MEMINFO",
    "CPUUNITS", "CPULIMIT", "CPUS", "CPUMASK", "NODEMASK", "IOPRIO", "IOLIMIT", "IOPSLIMIT",
    "DISKSPACE", "DISKINODES", "QUOTATIME", "QUOTAUGIDLIMIT",
    # network and identity
    "HOSTNAME", "IP_ADDRESS", "NETIF", "NAMESERVER", "SEARCHDOMAIN", "NETFILTER",
    "IPTABLES", "IP6TABLES", "NAME", "DESCRIPTION", "UUID",
    # OS template and lifecycle
    "OSTEMPLATE", "ORIGIN_SAMPLE", "CONFIG_CUSTOMIZED", "ONBOOT", "BOOTORDER", "DISABLED",
    "STOP_TIMEOUT", "VE_STOP_MODE",
    # OpenVZ 7's (libvzctl's lib/env_config.c): the distribution its scripts are for
    "DISTRIBUTION",
))
# values checked further: names that become file names on the node
_NAMES = ("OSTEMPLATE", "ORIGIN_SAMPLE", "NAME", "DISTRIBUTION")


def acceptable(key, value):
    """Is ``value`` one that a conf can hold and, for a name, a plain one?"""
    if '"' in value or "\n" in value or "\0" in value:
        return False
    if key not in _NAMES:
        return True
    rule = is_template_name if key in ("OSTEMPLATE", "DISTRIBUTION") else is_ct_name
    return rule(value) and ".." not in value


def merge(incoming, current, node_params, fixed):
    """The changes that make the CT's ``current`` conf take ``incoming``'s CT settings.

    ``incoming``, ``current``: parsed confs (``current`` empty for a new CT);
    ``node_params``: vz.conf's values (what a key missing from a CT's conf means);
    ``fixed``: keys this node sets itself (VE_LAYOUT, VZZFS_DATASET ...).
    Returns (changes for ctconf.update_text on the current text, dropped keys):
    a key is reported as dropped when the incoming conf wanted a value this node
    does not end up with.
    """
    changes = {k: None for k in current if k in ALLOWED and k not in incoming}
    dropped = []
    for key, value in incoming.items():
        if key in fixed:
            continue
        if key in ALLOWED and acceptable(key, value):
            changes[key] = value
        elif value != current.get(key, node_params.get(key)):
            dropped.append(key)
    changes.update(fixed)
    return {k: v for k, v in changes.items() if current.get(k) != v}, dropped


def dropped_line(dropped, source):
    """The one line that says what an incoming conf asked for and did not get."""
    return ("%s's conf asked for %s; this node decides %s, so %s left out"
            % (source, ", ".join(dropped), "it" if len(dropped) == 1 else "them",
               "it was" if len(dropped) == 1 else "they were"))
