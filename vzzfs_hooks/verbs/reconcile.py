"""vzzfs reconcile: a running CT's zvol and ext4 follow the DISKSPACE its conf says.

`vzctl set CTID --diskspace 20G --diskquota no --save` only rewrites the CT's
conf. The systemd path unit vzzfs-reconcile.path runs `vzzfs reconcile` when a
file in /etc/vz/conf changes; for each vzzfs CT it compares DISKSPACE's limit
(the size premount follows at start) with the zvol's volsize, and decide() says:

- grow: the CT is mounted (running) and DISKSPACE asks more: zvol, then ext4
  online (resize.grow), under the CT's lock;
- nothing: the sizes agree, DISKSPACE is unset or unlimited, or the CT is
  stopped (premount grows it before the next start);
- shrink pending: DISKSPACE asks less. A mounted CT is never shrunk, and
  reconcile shrinks no CT at all: a shrink needs the CT stopped and a forced
  e2fsck, and is refused when the data does not fit, so it stays the admin's
  `vzzfs resize CTID SIZE`. Said in syslog at each reconcile, and by vzzfs check.

Reconcile writes no conf (so it never triggers itself) and takes a CT's lock
only to grow it. With nothing to do it costs one `zfs list`, reading the confs
and the mount table once.
"""

import collections
import os

from ..base import log, names
from ..base.errors import OnlineGrowRefused, VzzfsError
from ..system import lock, mounts, zfs
from ..container import claim
from ..container.ct import Container
from . import resize

GROW = "grow"
NOTHING = "nothing"
SHRINK_PENDING = "shrink-pending"

# a zvol this much larger than DISKSPACE asks is no shrink request: one made by
# hand or rounded to 1 MiB (as premount's warning counts it too)
SHRINK_SLACK = 1 << 20
# how long to wait for a CT's lock: vzctl set holds it while the path unit starts us
LOCK_WAIT = 60
# confs changed while a pass ran (the path unit is not watching then): pass again
MAX_PASSES = 5

Decision = collections.namedtuple("Decision", "action size reason")


def decide(ctid, current, volblocksize, wanted, mounted):
    """What to do with a CT's zvol of ``current`` bytes when DISKSPACE asks ``wanted``
    (bytes, None when unset or unlimited); ``mounted``: its ext4 is on VE_PRIVATE.

    Pure. Returns a Decision: ``size`` is ``wanted`` rounded to the volblocksize
    (``current`` when nothing is asked), ``reason`` one line for operators.
    """
    if wanted is None:
        return Decision(NOTHING, current, "DISKSPACE is unset or unlimited")
    size = zfs.round_size(wanted, volblocksize)
    if size > current:
        if mounted:
            return Decision(GROW, size, "DISKSPACE asks %d MiB, the zvol has %d MiB: growing "
                                        "it online" % (size >> 20, current >> 20))
        return Decision(NOTHING, size, "stopped: premount grows the zvol from %d to %d MiB "
                                       "at the next start" % (current >> 20, size >> 20))
    if size + SHRINK_SLACK <= current:
        when = ("it is running, and a running CT is never shrunk; once it is stopped"
                if mounted else "shrinking is never automatic")
        return Decision(SHRINK_PENDING, size,
                        "DISKSPACE asks %d MiB, below the zvol's %d MiB: shrink pending (%s: "
                        "vzzfs resize %s %dM)" % (size >> 20, current >> 20, when, ctid,
                                                  size >> 20))
    return Decision(NOTHING, size, "the zvol has DISKSPACE's size")


def _numeric_confs(node, only=None):
    """(CTID, path) of vzctl's CTID.conf files (Node.ct_confs), by number."""
    found = [(c, p) for c, p in node.ct_confs() if c.isdigit() and (not only or c in only)]
    return sorted(found, key=lambda cp: int(cp[0]))


def conf_ctids(node, only=None):
    """The CTIDs with a conf in the node's conf dir (vzctl's CTID.conf), sorted."""
    return [ctid for ctid, _ in _numeric_confs(node, only)]


def fingerprint(node):
    """What changes when any CT conf is written or replaced."""
    found = []
    for ctid, path in _numeric_confs(node):
        try:
            st = os.stat(path)
        except OSError:
            continue
        found.append((ctid, st.st_ino, st.st_size, st.st_mtime_ns))
    return found


def _zvols(node):
    """{dataset: (volsize, volblocksize)} of every zvol under ROOT/ct: one zfs list."""
    rows = zfs.list_datasets(names.ct_parent(node.settings().root),
                             ["name", "volsize", "volblocksize"])
    return {r["name"]: (int(r["volsize"]), int(r["volblocksize"])) for r in rows}


def zvol_sizes(dataset):
    """(volsize, volblocksize) of zvol ``dataset``; None when it is missing or no zvol."""
    try:
        props = zfs.get(dataset, "type", "volsize", "volblocksize")
    except VzzfsError:
        return None
    if props.get("type") != "volume":
        return None
    return int(props["volsize"]), int(props["volblocksize"])


def _sizes(ct, zvols):
    """(volsize, volblocksize) of the CT's zvol, None when it has none (not vzzfs's)."""
    if ct.dataset in zvols:
        return zvols[ct.dataset]
    return zvol_sizes(ct.dataset) if ct.explicit else None


def plan(ct, sizes, mounted):
    """decide() for a Container whose zvol has ``sizes`` (volsize, volblocksize)."""
    return decide(ct.ctid, sizes[0], sizes[1], resize.wanted_size(ct), mounted)


def pending(ct):
    """The Decision for a CT as it is now (for vzzfs check); None if it has no zvol."""
    sizes = zvol_sizes(ct.dataset)
    return None if sizes is None else plan(ct, sizes, ct.private_mount() is not None)


def _grow(node, ctid):
    """Under the CT's lock: decide again from a fresh conf and zvol, and grow. The
    Decision taken, or None when the zvol turned out not to be one to touch."""
    ct = Container(ctid, node)
    with lock.ct_lock(ct, "vzzfs reconcile", wait=LOCK_WAIT):
        ct = Container(ctid, node)  # the conf as it is now that vzctl let it go
        claim.require(ct)
        if claim.zvol_state(ct.dataset) != "volume":
            return None  # gone, or vzzfs convert is filling it
        decision = plan(ct, zvol_sizes(ct.dataset), ct.private_mount() is not None)
        if decision.action == GROW:
            try:
                resize.grow(ct, decision.size)
            except OnlineGrowRefused as e:
                raise OnlineGrowRefused("zvol %s is %d MiB now, but %s"
                                        % (ct.dataset, decision.size >> 20, e.problem),
                                        "the ext4 grows at the next start: vzctl restart %s"
                                        % ct.ctid, ctid=ct.ctid)
        return decision


def one_pass(node, only=None):
    """Reconcile every vzzfs CT (or those in ``only``) once.

    Returns ([(ctid, Decision)] for the CTs grown or with a shrink pending,
    [VzzfsError] for those that could not be done). A CT whose conf cannot be
    read is skipped, unless named or its zvol is at ROOT/ct/CTID.
    """
    root = node.settings().root
    zvols = _zvols(node)
    on = set(m.mountpoint for m in mounts.table())
    done, failed = [], []
    for ctid in conf_ctids(node, only):
        try:
            ct = Container(ctid, node)
        except VzzfsError as e:
            if only or names.ct_dataset(root, ctid) in zvols:
                failed.append(_about(e, ctid))
            continue  # a conf vzctl may read, but nothing of vzzfs's
        except Exception as e:  # a bug, or input nothing checked: this CT only
            failed.append(unexpected(e, ctid))
            continue
        try:
            sizes = _sizes(ct, zvols)
            if sizes is None:
                continue  # no zvol: not a vzzfs CT, nothing of ours to touch
            decision = plan(ct, sizes, os.path.realpath(ct.mountpoint) in on)
            if decision.action == GROW:
                decision = _grow(node, ctid)
                if decision is None or decision.action == NOTHING:
                    continue
            if decision.action == SHRINK_PENDING:
                log.warn("CT %s: %s" % (ctid, decision.reason))
            if decision.action != NOTHING:
                done.append((ctid, decision))
        except VzzfsError as e:
            failed.append(_about(e, ctid))
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as e:  # one CT's trouble, whatever it is: the others go on
            failed.append(unexpected(e, ctid))
    return done, failed


def unexpected(error, ctid):
    """A VzzfsError for CT ``ctid`` saying that ``error`` (not a VzzfsError) happened."""
    return VzzfsError("unexpected %s: %s" % (type(error).__name__, error),
                      "report this as a vzzfs bug", ctid=ctid)


def _about(error, ctid):
    """``error`` naming the CT it is about."""
    if error.ctid is None:
        error.ctid = ctid
    return error


def run(node, only=None):
    """Passes of one_pass() until no conf changed during the last one (at most
    MAX_PASSES): the path unit does not watch while its service runs, and it may
    fire when vzctl closes CTID.conf.tmp, just before renaming it over CTID.conf."""
    done, failed = [], []
    for _ in range(MAX_PASSES):
        before = fingerprint(node)
        d, f = one_pass(node, only)
        done += d
        failed += f
        if fingerprint(node) == before:
            break
    return done, failed
