"""What a received stream may set on this node: the data and its snapshots, and no
property of the sender's. Pure: backup.py passes the answer to zfs.receive.

`zfs send -p` (vzzfs's own streams, or anything a backup file or a sender behind a
forced command hands over) carries the sending zvol's properties, and a plain
`zfs receive` applies them: seen on OpenZFS 2.1.11, a stream of a zvol with
checksum=off, sync=disabled, copies=2 and refreservation=32M received with all
four, each with source "received", and vzzfs's own org.openvz.vzzfs:* keys with
them. So every `zfs receive` vzzfs runs names, in the same command, what the
stream must not set: ``-x`` for each property a zvol can carry (the zvol then has
this node's value: inherited, its default, or what it had before an increment)
and ``-o`` for what this node sets itself on a new zvol (its compression, ARC
caching and dedup from vzzfs.conf, the CT it belongs to, the replica mark). Nothing
of the sender's lands, not for an instant, whatever happens to vzzfs meanwhile.

What `zfs receive` cannot be told (OpenZFS 2.1): the properties of the snapshots
in the stream (``-x`` acts on the dataset only), and user properties outside
vzzfs's namespace, whose names are not known before the stream is read.
backup.py clears both right after the receive (``to_clear``: the snapshots' vzzfs
keys, and any received user property, from one `zfs get` of their sources), and
the readers of a snapshot's dump file trust only the path this node gives it
(snapshots.dump_path).
"""

from ..base.names import (PROP_BACKUP, PROP_CONF, PROP_CONVERT, PROP_CTID, PROP_DUMP,
                          PROP_GEOMETRY, PROP_INFLIGHT, PROP_KIND, PROP_LAYOUT, PROP_ORIGIN_CT,
                          PROP_REPLICA, PROP_REPLICATED, PROP_ROLLED_BACK, PROP_SNAP_STATE,
                          PROP_STREAM_BYTES, PROP_TEMPLATE)

# every settable native property of a zvol in OpenZFS 2.1 that a stream can carry,
# except those fixed by its data (volsize, volblocksize: zfs refuses -x for them) and
# mlslabel (Linux has none: zfs receive says "permission denied" about it)
VOLUME_PROPS = ("checksum", "compression", "copies", "dedup", "logbias", "primarycache",
                "readonly", "redundant_metadata", "refreservation", "reservation",
                "secondarycache", "snapdev", "snapshot_limit", "sync", "volmode")
# what this node sets on a zvol it makes (lifecycle.create): a new one gets these
NODE_PROPS = ("compression", "primarycache", "dedup")
# not inherited: onto an existing zvol, -x lets the stream's value through anyway (seen
# on OpenZFS 2.1.11: an increment with -x refreservation received refreservation=32M),
# so an increment sets the zvol's own value again in the same receive (-o)
NOT_INHERITED = ("refreservation", "reservation")
# vzzfs's own keys: a stream never sets them (each is this node's word about its zvol)
VZZFS_PROPS = (PROP_CTID, PROP_ORIGIN_CT, PROP_CONVERT, PROP_TEMPLATE, PROP_GEOMETRY,
               PROP_KIND, PROP_SNAP_STATE, PROP_DUMP, PROP_CONF, PROP_BACKUP,
               PROP_ROLLED_BACK, PROP_REPLICATED, PROP_REPLICA, PROP_INFLIGHT)


# what `zfs send -p` carries of the sending node's state: a dump path, a convert in
# progress, a rollback; none of it is true here, and a path is not to be trusted
SENDER_DATASET_PROPS = (PROP_CONVERT, PROP_ROLLED_BACK, PROP_REPLICA)
SENDER_SNAPSHOT_PROPS = (PROP_DUMP, PROP_REPLICATED, PROP_INFLIGHT, PROP_STREAM_BYTES)
SET_HERE = ("local", "received")  # sources of a value that `zfs inherit` takes away


def receive_options(ctid, new, node_values, replica, current=None, layout=None):
    """(exclude, override) for `zfs receive` of a stream for CT ``ctid``.

    ``new``: the stream makes a new zvol (a full one), not an increment onto the CT's;
    ``node_values``: {property: value} of NODE_PROPS from this node's settings;
    ``replica``: the stream is vzzfs replicate's (the zvol is marked a replica);
    ``current``: for an increment, the zvol's values of NOT_INHERITED now (None: none);
    ``layout``: how the stream's files are laid out (names.LAYOUT_*), marked on the
    zvol in the same command. A new zvol gets this node's NODE_PROPS; an increment
    leaves the zvol's as they are. Each property is in one list at most (zfs refuses
    one named twice).
    """
    override = {PROP_CTID: str(ctid)}
    if replica:
        override[PROP_REPLICA] = "yes"
    if layout:
        override[PROP_LAYOUT] = layout
    if new:
        for prop in NODE_PROPS:
            override[prop] = node_values[prop]
    else:
        for prop in NOT_INHERITED:
            value = (current or {}).get(prop)
            override[prop] = value if value not in (None, "") else "none"
    exclude = [p for p in VOLUME_PROPS + VZZFS_PROPS if p not in override]
    return exclude, override


def received_user_props(listed):
    """The user properties (a ':' in the name) among ``listed`` ({name: source}) whose
    value is the stream's (source "received"): what to clear after a receive. Pure."""
    return sorted(p for p, source in listed.items() if ":" in p and source == "received")


def to_clear(listed, dataset, keep=()):
    """[(property, [names])] to `zfs inherit` after a receive into ``dataset``, from
    ``listed`` ({name: {property: (value, source)}}: the zvol and the snapshots that
    came in): the sender's state (SENDER_*_PROPS but ``keep``) and any received user
    property of the zvol, each only where a value is set, so a receive that brought
    none runs no command. Pure."""
    own = {p: vs[1] for p, vs in listed.get(dataset, {}).items()}
    clear = [(p, [dataset]) for p in SENDER_DATASET_PROPS
             if p not in keep and own.get(p) in SET_HERE]
    named = set(p for p, _ in clear)
    clear += [(p, [dataset]) for p in received_user_props(own) if p not in named]
    snaps = sorted(n for n in listed if n.partition("@")[0] == dataset and "@" in n)
    for prop in SENDER_SNAPSHOT_PROPS:
        where = [n for n in snaps if listed[n].get(prop, (None, None))[1] in SET_HERE]
        if where:
            clear.append((prop, where))
    return clear


def to_mark(values, wanted):
    """What of ``wanted`` ({property: value}: the zvol's CT, layout, replica mark) is
    still to be set, given its ``values`` after the receive ({property: (value,
    source)}): nothing when the receive's own -o set it all. Pure."""
    return {p: v for p, v in wanted.items()
            if values.get(p, (None, None)) != (v, "local")}
