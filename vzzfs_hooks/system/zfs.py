"""ZFS: libzfs_core (pyzfs) where it has the call, the zfs/zpool CLI where it has not;
create's clone and read through lzc.py (libzfs_core by ctypes, no pyzfs load).

Both paths raise the same typed errors (errors.ZfsError and subclasses), so
callers never look at errno values or stderr text. Without pyzfs everything
goes through the CLI. Names are checked before they reach either. The only
module that runs zfs or zpool: send and receive streams are here too.
"""

import errno
import os

from ..base import kstats, runner
from ..base.names import check_dataset_name, check_snapshot_name
from . import lzc, zvoldev
from ..base.errors import (DatasetBusy, DatasetExists, DatasetNotFound, PoolFull, PoolNotImported,
                     StreamError, VzzfsError, ZfsError)
from ..base.progress import Progress, shown as progress_shown

_NOT_LOADED = object()
pyzfs = _NOT_LOADED  # the libzfs_core module once loaded; None where it is not importable


def _pyzfs():
    """libzfs_core (Debian/EL package python3-pyzfs), or None: then the CLI does it.

    Loaded on first use, not at import: its cffi bindings parse C declarations
    when imported, which costs more than a hook's whole job of reading a
    property or two through the CLI.
    """
    global pyzfs
    if pyzfs is _NOT_LOADED:
        try:
            if os.environ.get("VZZFS_NO_LZC"):
                raise ImportError("disabled by VZZFS_NO_LZC")
            import libzfs_core
            pyzfs = libzfs_core
        except ImportError:
            pyzfs = None
    return pyzfs

def preload():
    """Load pyzfs now, where a caller can afford its start-up (before a snapshot's window)."""
    _pyzfs()


# (stderr fragment, error class) for the CLI; first match wins
_CLI_ERRORS = (
    ("no such pool", PoolNotImported),
    ("modules are not loaded", PoolNotImported),
    ("dataset does not exist", DatasetNotFound),
    ("dataset already exists", DatasetExists),
    ("out of space", PoolFull),
    ("no space left", PoolFull),
    ("quota exceeded", PoolFull),
    ("is busy", DatasetBusy),
    ("has dependent clones", DatasetBusy),
    ("has children", DatasetBusy),
)

_ERRNO_ERRORS = {
    errno.ENOENT: DatasetNotFound,
    errno.EEXIST: DatasetExists,
    errno.ENOSPC: PoolFull,
    errno.EDQUOT: PoolFull,
    errno.EBUSY: DatasetBusy,
    errno.ENXIO: PoolNotImported,
}


def _fix_for(cls, name):
    pool = name.split("/", 1)[0]
    return {
        PoolNotImported: "import it with: zpool import %s" % pool,
        DatasetNotFound: "check the name with: zfs list -t all -r %s" % pool,
        DatasetExists: "pick another name or remove it first",
        PoolFull: "free space in pool %s or add disks (zpool list %s)" % (pool, pool),
        DatasetBusy: "find what uses it (mounts, clones, open devices) and retry",
    }.get(cls)


def error_class(stderr):
    """The typed error a zfs/zpool message means, or None when it names none."""
    text = stderr.lower()
    for fragment, cls in _CLI_ERRORS:
        if fragment in text:
            return cls
    return None


def typed_error(cls, problem, name):
    """``cls`` with ``problem`` and the fix that goes with it for dataset ``name``."""
    return cls(problem, _fix_for(cls, name))


def _cli_error(exc, name):
    cls = error_class(exc.stderr)
    if cls is not None:
        return typed_error(cls, exc.problem, name)
    return ZfsError(exc.problem, "see the zfs message above")


def _lzc_error(exc, what, name):
    # pyzfs 2.1's ZFSGenericError swaps name and message: trust errno only
    code = getattr(exc, "errno", None)
    return _errno_error(code, what, name, str(exc))


def _errno_error(code, what, name, detail=None):
    """The typed error of libzfs_core's ``code`` (pyzfs's or lzc.py's) for ``what``."""
    cls = _ERRNO_ERRORS.get(code, ZfsError)
    detail = os.strerror(code) if code else detail
    return cls("%s %s failed: %s" % (what, name, detail), _fix_for(cls, name))


def zfs(*args, **kw):
    """Run the zfs CLI, raising typed errors. ``name`` picks the fix text."""
    name = kw.pop("name", "")
    try:
        return runner.run(["zfs"] + list(args), **kw)
    except runner.CommandFailed as e:
        raise _cli_error(e, name)


def zpool(*args, **kw):
    name = kw.pop("name", "")
    try:
        return runner.run(["zpool"] + list(args), **kw)
    except runner.CommandFailed as e:
        raise _cli_error(e, name)


# ---- pools ----

def pool_health(pool):
    """'ONLINE', 'DEGRADED', ... or raise PoolNotImported.

    Read from the pool's kstat file where OpenZFS keeps one (0.8 and later): the
    hooks ask at every CT start, and a file read starts no process. zpool
    answers where there is none (an older OpenZFS, or a pool not imported).
    """
    check_dataset_name(pool, "pool name")
    health = kstats.pool_health(pool)
    if health:
        return health
    res = runner.run(["zpool", "list", "-H", "-o", "health", pool], check=False)
    if res.returncode != 0:
        raise PoolNotImported("pool %s is not imported" % pool,
                              "import it with: zpool import %s" % pool)
    return res.stdout.strip()


def require_pool(pool):
    """Raise unless the pool is imported and usable."""
    health = pool_health(pool)
    if health in ("FAULTED", "UNAVAIL", "SUSPENDED"):
        raise PoolNotImported("pool %s is %s" % (pool, health),
                              "check it with: zpool status -x %s" % pool)


POOL_SPACE_PROPS = ("used", "available")  # what percent_full() reads of a pool's root


def percent_full(props):
    """How full a pool is, in percent, from its root dataset's ``used`` and
    ``available`` (``zfs get -Hp``): the space writes can still take, slop and
    reservations counted, which is what runs out for a CT's sparse zvol. Pure."""
    used, avail = int(props.get("used") or 0), int(props.get("available") or 0)
    return 100 * used // (used + avail) if used + avail else 100


def pool_capacity(pool):
    """How full the pool is, in percent (percent_full)."""
    return percent_full(get(pool, *POOL_SPACE_PROPS))


# ---- datasets ----

def _pool_of(name):
    """The pool a dataset or snapshot name is in."""
    return name.split("/", 1)[0].split("@", 1)[0]


def check_name(name):
    """A dataset or snapshot name (pool/a or pool/a@snap), checked."""
    ds, at, snap = name.partition("@")
    check_dataset_name(ds)
    if at:
        check_snapshot_name(snap)
    return name


def exists(name):
    """True if the dataset, volume or snapshot ``name`` is there; PoolNotImported
    if its pool is not.

    Asked through the CLI although lzc_exists has it: the hooks ask this once
    per run, and one `zfs list` is cheaper than loading pyzfs for it.
    """
    check_name(name)
    if runner.run(["zfs", "list", "-H", "-o", "name", "-t", "all", name],
                  check=False).returncode == 0:
        return True
    # zfs says "does not exist" for a pool that is not imported too: "no" would
    # then let destroy report success or a verb say "not on a zvol"
    pool_health(_pool_of(name))
    return False


def existing(names):
    """The set of ``names`` (datasets, volumes, snapshots) that exist, from one `zfs
    list` (a restore asks about a CT's zvol, its parents and its staging name at
    once); PoolNotImported if their pool is not imported, any other failure its
    typed error."""
    names = [check_name(n) for n in names]
    if not names:
        return set()
    res = runner.run(["zfs", "list", "-H", "-o", "name", "-t", "all"] + names, check=False)
    found = set(res.stdout.split("\n")) & set(names)
    _raise_unless_missing(res, names[0])
    if res.returncode != 0 and not found:
        # "does not exist" is what zfs says of a pool not imported too
        pool_health(_pool_of(names[0]))
    return found


def _raise_unless_missing(res, name):
    """Raise the typed error of a command about many names (``res``) that failed for
    another reason than some of them missing."""
    if res.returncode == 0:
        return
    other = [l for l in res.stderr.splitlines()
             if l.strip() and error_class(l) is not DatasetNotFound]
    if other or not res.stderr.strip():
        raise _cli_error(runner.CommandFailed(res.argv, res.returncode, res.stdout,
                                              "\n".join(other) or res.stderr), name)


def get(name, *props):
    """Dict prop -> value from ``zfs get -Hp``; numbers stay strings, '-' is None."""
    check_name(name)
    res = zfs("get", "-Hp", "-o", "property,value", ",".join(props), name, name=name)
    values = {}
    for line in res.stdout.splitlines():
        prop, _, value = line.partition("\t")
        values[prop] = None if value == "-" else value
    return values


def get_many(names, *props, **kw):
    """{name: {prop: value}} for each of ``names`` that exists, from one ``zfs get``
    (a start or a create asks about a zvol, its template or parent and its pool's
    root at once); a name that does not exist is left out, any other failure
    raises its typed error. Values as ``get`` gives them. ``recursive=True``: their
    snapshots (and anything below them) too."""
    for n in names:
        check_name(n)
    res = runner.run(["zfs", "get", "-Hp"] + (["-r"] if kw.get("recursive") else [])
                     + ["-o", "name,property,value", ",".join(props)] + list(names),
                     check=False)
    values = {}
    for line in res.stdout.splitlines():
        name, prop, value = (line.split("\t") + ["", ""])[:3]
        values.setdefault(name, {})[prop] = None if value == "-" else value
    _raise_unless_missing(res, names[0])
    return values


def read_many(wanted):
    """{name: {prop: value}} as get_many gives it, for ``wanted``: (name, props)
    pairs, each name asked only its own props. Through a read-only channel program
    where libzfs_core loads (lzc.py): create asks this right before its clone,
    which loads the library anyway, and the program costs a third of a `zfs get`
    process. Where it does not load, or the program fails (a pool not imported, a
    name in another pool), one `zfs get` asks and raises what it meant."""
    names = [check_name(name) for name, _ in wanted]
    pool = _pool_of(names[0])
    bound = lzc.load()
    if bound is not None and all(_pool_of(n) == pool for n in names):
        try:
            return bound.read(pool, wanted)
        except (OSError, ValueError):
            pass
    every = []
    for _, props in wanted:
        every += [p for p in props if p not in every]
    found = get_many(names, *(every or ["name"]))
    asked = dict(wanted)
    return {n: {p: v for p, v in values.items() if p in asked[n]} for n, values in found.items()}


def get_with_source(name, *props):
    """Dict prop -> (value, source), e.g. ('/vz', 'default')."""
    check_dataset_name(name)
    res = zfs("get", "-Hp", "-o", "property,value,source", ",".join(props), name, name=name)
    values = {}
    for line in res.stdout.splitlines():
        prop, value, source = (line.split("\t") + ["", ""])[:3]
        values[prop] = (value, source)
    return values


def all_props(names, recursive=False):
    """{name: {property: (value, source)}} of every property of each of ``names`` (one
    `zfs get -p all`; ``recursive``: their snapshots too). Values as ``get`` gives them."""
    for n in names:
        check_name(n)
    flags = ["-Hp", "-r"] if recursive else ["-Hp"]
    res = zfs("get", *(flags + ["-o", "name,property,value,source", "all"] + list(names)),
              name=names[0])
    found = {}
    for line in res.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) == 4:
            found.setdefault(parts[0], {})[parts[1]] = (None if parts[2] == "-" else parts[2],
                                                       parts[3])
    return found


def set_props(name, props):
    check_dataset_name(name)
    args = ["%s=%s" % (k, v) for k, v in props.items()]
    zfs("set", *(args + [name]), name=name)


def list_datasets(root, props, types="volume"):
    """Rows (dicts) of ``zfs list -Hp -r`` under ``root``; [] if root is missing."""
    check_dataset_name(root)
    res = runner.run(["zfs", "list", "-Hp", "-r", "-t", types, "-o", ",".join(props), root],
                     check=False)
    if res.returncode != 0:
        if "does not exist" in res.stderr:
            return []
        raise _cli_error(runner.CommandFailed(res.argv, res.returncode, res.stdout, res.stderr),
                         root)
    return [dict(zip(props, line.split("\t"))) for line in res.stdout.splitlines() if line]


def ancestors(name):
    """The datasets above ``name``, its pool first: vz/a/b -> [vz, vz/a]."""
    parts = name.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def ensure_filesystem(name, existing=()):
    """Create a container-less filesystem (canmount=off) and its parents if missing.
    ``existing``: names already known to exist (not asked again)."""
    check_dataset_name(name)
    for ds in ancestors(name)[1:] + [name]:
        if ds not in existing and not exists(ds):
            try:
                zfs("create", "-o", "canmount=off", ds, name=ds)
            except DatasetExists:
                pass  # created meanwhile by someone else


def round_size(size, volblocksize):
    """``size`` rounded up to a multiple of volblocksize, as a zvol's volsize must be."""
    return -(-int(size) // volblocksize) * volblocksize


def create_volume(name, size, volblocksize, sparse=False, props=None):
    """A zvol of ``size`` bytes (rounded up to volblocksize) with ``props``.

    The CLI does this in one atomic step and sets refreservation for a
    non-sparse volume, which lzc_create does not.
    """
    check_dataset_name(name)
    size = round_size(size, volblocksize)
    args = ["create", "-V", str(size), "-o", "volblocksize=%d" % volblocksize]
    if sparse:
        args.append("-s")
    for k, v in sorted((props or {}).items()):
        args += ["-o", "%s=%s" % (k, v)]
    zfs(*(args + [name]), name=name)
    return size


def destroy(name, recursive=False):
    check_name(name)
    lib = _pyzfs()
    if lib is not None and not recursive:
        try:
            lib.lzc_destroy(name.encode())
            return
        except lib.exceptions.ZFSError as e:
            raise _lzc_error(e, "destroy", name)
    zfs(*(["destroy"] + (["-r"] if recursive else []) + [name]), name=name)


def snapshot(names, props=None):
    """Take the snapshots ``names`` (full 'ds@snap' names) in one atomic step,
    each zvol's block device flushed first."""
    for n in names:
        ds, _, snap = n.partition("@")
        check_dataset_name(ds)
        check_snapshot_name(snap)
    for n in names:
        zvoldev.flush(n.partition("@")[0])
    lib = _pyzfs()
    if lib is not None:
        try:
            lib.lzc_snapshot([n.encode() for n in names],
                             {k.encode(): v.encode() for k, v in (props or {}).items()})
            return
        except lib.exceptions.SnapshotFailure as e:
            first = e.errors[0] if getattr(e, "errors", None) else e
            raise _lzc_error(first, "snapshot", names[0])
        except lib.exceptions.ZFSError as e:
            raise _lzc_error(e, "snapshot", names[0])
    args = ["snapshot"]
    for k, v in sorted((props or {}).items()):
        args += ["-o", "%s=%s" % (k, v)]
    zfs(*(args + list(names)), name=names[0])


def clone(snapshot, target, props=None):
    """Clone ``snapshot`` (pool/a@s) to ``target`` with ``props``.

    With props the CLI does it (``zfs clone -o``): the clone appears with its
    properties in one step, and no pyzfs load (seconds on a slow node) for a
    single call. ``volsize``, which zfs clone does not take, is set right after.
    """
    ds, _, snap = snapshot.partition("@")
    check_dataset_name(ds)
    check_snapshot_name(snap)
    check_dataset_name(target)
    props = dict(props or {})
    volsize = props.pop("volsize", None)
    native = {k: lzc.prop_index(k, str(v)) for k, v in props.items()}
    bound = lzc.load() if None not in native.values() else None
    lib = _pyzfs() if not props and bound is None else None
    if bound is not None:
        code = bound.clone(target, snapshot, native)
        if code:
            raise _errno_error(code, "clone to", target)
    elif lib is not None:
        try:
            lib.lzc_clone(target.encode(), snapshot.encode())
        except lib.exceptions.ZFSError as e:
            raise _lzc_error(e, "clone to", target)
    else:
        args = ["clone"]
        for k, v in sorted(props.items()):
            args += ["-o", "%s=%s" % (k, v)]
        zfs(*(args + [snapshot, target]), name=target)
    if volsize is not None:
        try:
            set_props(target, {"volsize": volsize})
        except ZfsError:
            destroy(target)
            raise


def rollback(snapshot, destroy_newer=False):
    """Roll a dataset back to ``snapshot``; destroy_newer allows losing later snapshots."""
    ds, _, snap = snapshot.partition("@")
    check_dataset_name(ds)
    check_snapshot_name(snap)
    zfs(*(["rollback"] + (["-r"] if destroy_newer else []) + [snapshot]), name=snapshot)


def holds(snapshots):
    """{snapshot: [tag, ...]} for those of ``snapshots`` that have user holds."""
    for name in snapshots:
        check_name(name)
    if not snapshots:
        return {}
    found = {}
    for line in zfs("holds", "-H", *snapshots, name=snapshots[0]).stdout.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            found.setdefault(parts[0], []).append(parts[1])
    return found


def rename(name, new):
    check_dataset_name(name)
    check_dataset_name(new)
    zfs("rename", name, new, name=name)


def promote(name):
    check_dataset_name(name)
    zfs("promote", name, name=name)


class Hold(object):
    """`zfs hold TAG` on snapshots while they are streamed: `zfs destroy` (a
    concurrent vzzfs verb, or an admin) cannot take them away meanwhile.

    With pyzfs the holds are tied to an open /dev/zfs: released when it is
    closed, or when the process dies however it dies (even SIGKILL). Without
    pyzfs they are plain holds that ``release`` (idempotent, run it in a
    ``finally``) takes off.
    """

    def __init__(self, tag):
        self.tag = tag
        self.names = []
        self._fd = None

    def add(self, names):
        names = [check_name(n) for n in names if n]
        if not names:
            return
        lib = _pyzfs()
        if lib is not None:
            if self._fd is None:
                self._fd = os.open("/dev/zfs", os.O_EXCL)
            try:
                lib.lzc_hold({n.encode(): self.tag.encode() for n in names}, self._fd)
            except lib.exceptions.HoldFailure as e:
                first = e.errors[0] if getattr(e, "errors", None) else e
                raise _lzc_error(first, "hold", names[0])
            except lib.exceptions.ZFSError as e:
                raise _lzc_error(e, "hold", names[0])
        else:
            zfs("hold", self.tag, *names, name=names[0])
        self.names += names

    def release(self):
        names, self.names = self.names, []
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # releases every hold taken through it
            return
        from ..base import signals  # here: a hook holds nothing, and signal costs it enum
        with signals.Deferred():  # a signal now waits: no hold is left behind
            for n in names:
                runner.run(["zfs", "release", self.tag, n], check=False)  # gone: not held


# ---- streams ----

def zfs_version(path="/sys/module/zfs/version"):
    """(major, minor) of the loaded zfs module ('2.1.11-1' -> (2, 1)), or None."""
    try:
        with open(path) as f:
            parts = f.read().strip().split(".")
        return int(parts[0]), int(parts[1].split("-")[0])
    except (OSError, ValueError, IndexError):
        return None


def pool_features(pool):
    """{feature: 'disabled'|'enabled'|'active'} of pool ``pool`` (one `zpool get all`:
    asking for a feature an older zfs does not know would fail the call)."""
    check_dataset_name(pool, "pool name")
    found = {}
    for line in zpool("get", "-H", "-o", "property,value", "all", pool,
                      name=pool).stdout.splitlines():
        prop, _, value = line.partition("\t")
        if prop.startswith("feature@"):
            found[prop[len("feature@"):]] = value.strip()
    return found


def stream_offer(pool):
    """What this node takes into ``pool`` (streams.offer), for the --status answer."""
    from ..rules import streams  # here, not at import: the hooks stream nothing
    return streams.offer(zfs_version(), pool_features(pool))


def stream_needs(pool):
    """What a compressed stream from ``pool`` needs of the receiving node (streams.needs)."""
    from ..rules import streams
    return streams.needs(pool_features(pool))


def send_argv(snap, base=None, kind=None):
    """zfs send's command line for a stream of ``kind`` (streams.PLAIN when None)."""
    from ..rules import streams
    check_name(snap)
    return (["zfs", "send"] + streams.send_flags(kind or streams.PLAIN)
            + (["-i", check_name(base)] if base else []) + [snap])


def _dry_run_size(text):
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "size" and parts[1].isdigit():
            return int(parts[1])
    return 0


def send_size(snap, base=None, kind=None):
    """Bytes `zfs send` of ``snap`` (from ``base``, a stream of ``kind``) will write
    (its dry run with the same flags), or 0."""
    argv = send_argv(snap, base, kind)
    res = runner.run(argv[:2] + ["-nP"] + argv[2:], check=False)
    return _dry_run_size(res.stdout + res.stderr)


def resume_info(token):
    """What `zfs send -t TOKEN` would send, from its dry run: {"snapshot": the snapshot
    (or None), "kind": streams.COMPRESSED if the cut stream was one, else PLAIN,
    "size": bytes still to send (0 when unknown)}."""
    from ..rules import streams
    res = runner.run(["zfs", "send", "-nvP", "-t", token], check=False)
    info = {"snapshot": None, "kind": streams.PLAIN, "size": _dry_run_size(res.stdout)}
    for line in res.stdout.splitlines():
        key, _, value = line.strip().partition(" = ")
        if key == "toname" and value:
            info["snapshot"] = value.strip()
        elif key.strip() == "compressok":
            info["kind"] = streams.COMPRESSED
    return info


# zfs send's own words for a write into its output that failed: the output's trouble
# (the file's file system full, the reader gone), never the pool's it reads from
_OUTPUT_ERRORS = ("no space left", "quota exceeded", "broken pipe", "file too large")


def send(snap, out, base=None, what="sending", resume_token=None, kind=None, size=None):
    """Write `zfs send` of ``snap`` (incremental from ``base``; flags for ``kind``), or
    the rest of an interrupted one (``resume_token``), to the binary file ``out``; the
    bytes sent. ``size``: the bytes expected, when the caller knows them already.

    No byte passes through Python: a regular file is zfs send's own output (its
    offset tells how much was written), and a pipe is fed from zfs send's by
    splice (runner.copy_fd). Progress shows on a terminal. A failed write raises
    VzzfsError, a failed send ZfsError; on any exit, Ctrl-C included, zfs send
    does not outlive this call."""
    if size is None and not progress_shown():
        size = 0  # no terminal to show progress on: no dry run for its total
    if resume_token:
        argv = ["zfs", "send", "-t", resume_token]
        total = size if size is not None else resume_info(resume_token)["size"]
    else:
        argv = send_argv(snap, base, kind)
        total = size if size is not None else send_size(snap, base, kind)
    import subprocess  # runner has loaded it (a command ran before); for its PIPE
    out.flush()
    fd = out.fileno()
    progress = Progress(what, total) if total else None
    direct = runner.is_file(fd)
    if direct:
        start = os.lseek(fd, 0, os.SEEK_CUR)
        proc = runner.popen(argv, stdout=fd, stderr=subprocess.PIPE)
    else:
        proc = runner.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        if direct:
            runner.wait(proc, progress and (
                lambda: progress.update(os.lseek(fd, 0, os.SEEK_CUR) - start)))
            sent = os.lseek(fd, 0, os.SEEK_CUR) - start
        else:
            for pipe in (proc.stdout.fileno(), fd):  # 1 MiB a context switch, not 64 KiB
                if runner.is_pipe(pipe):
                    runner.grow_pipe(pipe)
            sent = runner.copy_fd(proc.stdout.fileno(), fd, progress)
    except (OSError, ValueError) as e:  # the reader went away, the disk is full ...
        runner.stop(proc)
        raise _write_failed(e.strerror if isinstance(e, OSError) and e.strerror else e)
    except BaseException:  # Ctrl-C, SIGTERM, SIGHUP
        runner.stop(proc)
        raise
    err = runner.finish(proc)
    if proc.returncode != 0:
        said = " ".join(err.split()) or "exit %d" % proc.returncode
        if direct and any(f in said.lower() for f in _OUTPUT_ERRORS):
            raise _write_failed(said)
        cls = error_class(err) or ZfsError
        raise typed_error(cls, "zfs send %s failed: %s" % (snap or "(resumed)", said), snap or "")
    if progress:
        progress.done()
    return sent


def receive_abort(target):
    """Discard the partial state of a cut resumable receive into ``target`` (zfs
    receive -A): a partial full stream's dataset goes, a received zvol stays as it was."""
    check_dataset_name(target)
    zfs("receive", "-A", target, name=target)


def _write_failed(why):
    return VzzfsError("writing the stream failed: %s" % why,
                      "check where it goes (free space, the receiving side)")


def receive(src, target, force=False, resumable=False, exclude=(), override=None):
    """Feed the zfs stream on the binary file ``src`` to `zfs receive` into ``target``:
    src's file descriptor becomes zfs receive's input, at its offset (nothing read
    ahead into a Python buffer: backup.read_header reads the header so).

    ``exclude``: properties the stream must not set (-x); ``override``: {property:
    value} set in the same receive (-o); nothing received is mounted (-u).
    A full or missing pool raises PoolFull/PoolNotImported (the node's trouble,
    with the fix for ``target``'s pool); any other refusal is StreamError (the
    stream's trouble: truncated, damaged, not a zfs stream)."""
    check_dataset_name(target)
    argv = ["zfs", "receive", "-u"] + (["-F"] if force else []) + \
        (["-s"] if resumable else [])
    for prop in exclude:
        argv += ["-x", prop]
    for prop, value in sorted((override or {}).items()):
        argv += ["-o", "%s=%s" % (prop, value)]
    argv.append(target)
    import subprocess  # for its PIPE; the hooks, which stream nothing, start without it
    proc = runner.popen(argv, stdin=src.fileno(), stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE)
    try:
        err = runner.finish(proc)
    except BaseException:  # Ctrl-C, SIGTERM, SIGHUP: stop it before the cleanup runs
        runner.stop(proc)
        raise
    if proc.returncode != 0:
        why = " ".join(err.split()) or "exit %d" % proc.returncode
        cls = error_class(err)
        if cls in (PoolFull, PoolNotImported):
            raise typed_error(cls, "zfs receive into %s failed: %s" % (target, why), target)
        raise StreamError("the stream was rejected by zfs receive: %s" % why,
                          "the backup is truncated or damaged; use another copy")
