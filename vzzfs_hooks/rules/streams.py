"""Which kind of `zfs send` stream goes where: pure decisions, unit-tested.

``plain``: `zfs send -p`, every block decompressed on the way out (the only kind
vzzfs wrote before issue 28): as many bytes as the CT's data before compression,
but any zfs takes it. ``compressed``: `zfs send -p -c -e`, the blocks as they lie
on disk (compressed WRITE records, embedded blocks kept embedded), about the
CT's on-disk size; the receiving zfs must know compressed records (OpenZFS 0.7
and later) and its pool must have the pool features the stream uses
(``STREAM_FEATURES`` active on the sending pool: lz4_compress, embedded_data,
zstd_compress). The data stays compressed as it was; the receiver does not
compress it again.

A backup's header says which kind follows (``header_kind``: none said is a file
from before, a plain stream). A receiving node says in its `--status` answer
what it takes (``offer``); the sender picks with ``choose``. A restore checks a
compressed stream against what this node takes (``refusal``) before zfs sees a
byte of it.
"""

PLAIN = "plain"
COMPRESSED = "compressed"
KINDS = (PLAIN, COMPRESSED)

# the pool features a compressed stream can need on the receiving pool, when active
# on the sending one (zfs-send(8): -c, -e)
STREAM_FEATURES = ("embedded_data", "lz4_compress", "zstd_compress")
# what a zfs that knows compressed WRITE records offers besides its pool's features
RECORDS = "compressed-records"
STATUS_KEY = "streams"  # the --status answer's key: the list offer() gives


def sent_how(done):
    """How a stream went, in the words every report uses: 'resumed' (the rest of a cut
    stream), 'incremental' (from a base snapshot) or 'full'; ``done`` is what
    backup, send and replicate return."""
    if done.get("resumed"):
        return "resumed"
    return "incremental" if done.get("base") else "full"


def send_flags(kind):
    """zfs send's flags for a stream of ``kind`` (-p: the dataset's and snapshot's
    properties travel, vzzfs's own among them)."""
    if kind == COMPRESSED:
        return ["-p", "-c", "-e"]
    if kind == PLAIN:
        return ["-p"]
    raise ValueError("unknown stream kind %r" % (kind,))


def offer(zfs_version, pool_features):
    """What a node takes, as its --status answer says it: RECORDS when its zfs knows
    compressed records (``zfs_version``: (major, minor), None when unknown), and
    each of STREAM_FEATURES its pool has enabled (``pool_features``: {feature:
    state} as `zpool get` says it)."""
    offered = []
    if zfs_version is not None and tuple(zfs_version) >= (0, 7):
        offered.append(RECORDS)
    offered += [f for f in STREAM_FEATURES
                if pool_features.get(f) in ("enabled", "active")]
    return offered


def needs(pool_features):
    """What a compressed stream from a pool with ``pool_features`` needs of the
    receiving node: compressed records, and the features active here."""
    return [RECORDS] + [f for f in STREAM_FEATURES if pool_features.get(f) == "active"]


def _missing(needed, offered):
    return [n for n in needed if n not in offered]


def _says(missing):
    parts = []
    if RECORDS in missing:
        parts.append("its zfs predates compressed send streams (OpenZFS 0.7)")
    features = [m for m in missing if m != RECORDS]
    if features:
        parts.append("its pool lacks feature%s %s" % ("s" if len(features) > 1 else "",
                                                      ", ".join(features)))
    return " and ".join(parts)


def choose(remote, needed):
    """(kind, why) of the stream to send to a peer whose --status answer is ``remote``,
    from a pool whose compressed streams need ``needed``: compressed when the peer
    says it takes all of it, else plain and ``why`` says why in a few words."""
    offered = remote.get(STATUS_KEY)
    if not isinstance(offered, list):
        return PLAIN, ("the vzzfs there predates compressed streams (its --status answer "
                       "does not say it takes them)")
    missing = _missing(needed, offered)
    if missing:
        return PLAIN, "the node there cannot take compressed streams: %s" % _says(missing)
    return COMPRESSED, None


def header_kind(header):
    """The kind of stream that follows a backup's header: plain when it says none
    (a file written before issue 28); None for a kind this vzzfs does not know."""
    kind = header.get("stream", PLAIN)
    return kind if kind in KINDS else None


def refusal(header, offered, pool):
    """None if this node (whose zfs and pool ``pool`` take ``offered``) can receive the
    stream after ``header``, else (problem, fix)."""
    kind = header_kind(header)
    if kind is None:
        return ("the backup holds a %r stream, which this vzzfs does not know"
                % (header.get("stream"),), "restore it with the vzzfs that wrote it (or newer)")
    if kind == PLAIN:
        return None
    needed = header.get("stream_needs")
    if not isinstance(needed, list) or not all(isinstance(n, str) for n in needed):
        needed = [RECORDS]
    missing = _missing(needed, offered)
    if not missing:
        return None
    features = [m for m in missing if m != RECORDS]
    fix = "restore it on a newer node, or write it again with vzzfs backup --plain"
    if features:
        fix = "enable %s (%s), or %s" % ("them" if len(features) > 1 else "it", "; ".join(
            "zpool set feature@%s=enabled %s" % (f, pool) for f in features), fix)
    return ("the backup holds a compressed stream that pool %s cannot take: %s"
            % (pool, _says(missing).replace("its pool", "the pool")), fix)
