"""Shared parts of the benchmarks: a scratch pool and node in the test VM, timing,
and the kernel counters (disk sectors, ARC, meminfo) the research benchmarks read.

Every benchmark runs inside the test VM (scripts/vm-run), on the VM's first
disk, and reports figures measured in the same run side by side: under TCG
absolute times are many times slower than on hardware, their ratios are not.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _p in (os.path.join(REPO, "tests"), REPO):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from harness.node import POOL, ROOT, TestNode  # noqa: E402  (the VM tests' scratch node)
from harness.realvzctl import PROGRAM as VZCTL  # noqa: E402
from vzzfs_hooks.base import kstats
from vzzfs_hooks.system import ext4, mounts, zfs, zvoldev  # noqa: E402
from vzzfs_hooks.conf.config import parse_size  # noqa: E402


def sh(*argv, **kw):
    """Run a command; its stdout as text. Raise with its output if it fails."""
    res = subprocess.run([str(a) for a in argv], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, universal_newlines=True, **kw)
    if res.returncode:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(map(str, argv)), res.returncode,
                                                    res.stdout.strip()[-500:]))
    return res.stdout


def disk():
    return os.environ["VZZFS_TEST_DISKS"].split()[0]


class Scratch(object):
    """A fresh pool on the VM's first disk with a test node (see tests/harness/node.py)."""

    def __init__(self, vzzfs_conf=""):
        self.vzzfs_conf = vzzfs_conf

    def __enter__(self):
        sh("zpool", "create", "-f", "-O", "canmount=off", "-O", "mountpoint=none", POOL, disk())
        sh("zfs", "create", "-p", "-o", "canmount=off", ROOT + "/ct")
        self.node = TestNode(tempfile.mkdtemp(prefix="vzzfs-bench-") + "/node")
        if self.vzzfs_conf:
            with open(os.path.join(self.node.etc, "vzzfs.conf"), "a") as f:
                f.write(self.vzzfs_conf)
        return self.node

    def __exit__(self, *exc):
        try:
            self.node.cleanup()
        finally:
            subprocess.run(["zpool", "destroy", "-f", POOL])


def destroy(name):
    """zfs destroy -r ``name``, waiting out udev's probe of a zvol just made (a clone or
    a received one is busy for a moment)."""
    sh("udevadm", "settle")
    for _ in range(30):
        if subprocess.run(["zfs", "destroy", "-r", name]).returncode == 0:
            return
        time.sleep(1)
    sh("zfs", "destroy", "-r", name)  # the last try raises with zfs's words


def timed(fn, *args, **kw):
    """(seconds, result) of one call."""
    start = time.monotonic()
    result = fn(*args, **kw)
    return time.monotonic() - start, result


def median(values):
    return statistics.median(values) if values else None


def disk_bytes(dev):
    """(bytes read, bytes written) by a whole disk or zvol device so far (/sys/block/NAME/stat)."""
    name = os.path.basename(os.path.realpath(dev))
    with open("/sys/block/%s/stat" % name) as f:
        fields = f.read().split()
    return int(fields[2]) * 512, int(fields[6]) * 512


def arcstats():
    """The ARC's counters (size, hits, misses ...) as ints."""
    return {k: int(v) for k, v in kstats.read_kstat("/proc/spl/kstat/zfs/arcstats").items()}


def cold_pool():
    """Export and import the pool: the ARC drops its blocks and its kstats start over."""
    sh("zpool", "export", POOL)
    sh("zpool", "import", "-d", os.path.dirname(disk()), POOL)


def fio_job(stdout):
    """The first job's figures from fio --output-format=json (after any notices it prints)."""
    return json.loads(stdout[stdout.index("{"):])["jobs"][0]


def meminfo():
    """/proc/meminfo in bytes."""
    info = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, value = line.split(":", 1)
            info[key] = int(value.split()[0]) * 1024
    return info


def drop_page_cache():
    """Empty the page cache (the ARC keeps what it has)."""
    sh("sync")
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def fresh_zvol(name, size, volblocksize="16K", **props):
    """A zvol holding a fresh ext4 (as vzzfs makes them), mounted at a temp dir."""
    zfs.create_volume(name, size, parse_size(volblocksize), sparse=True, props=props)
    dev = zvoldev.find_device(name, 10)
    ext4.mkfs(dev, size)
    mnt = tempfile.mkdtemp(prefix="vzzfs-bench-mnt-")
    sh("mount", "-o", "noatime", dev, mnt)
    return dev, mnt


def drop_zvol(name, mnt):
    sh("umount", mnt)
    os.rmdir(mnt)
    sh("zfs", "destroy", name)


def table(header, rows):
    """Print rows (tuples) under a header, columns aligned."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    for row in [header] + list(rows):
        print("  ".join(str(x).rjust(w) for x, w in zip(row, widths)), flush=True)


def run_rss(argv, env=None, cwd=None):
    """(seconds, peak RSS in bytes, exit code, output) of one command run to its end.

    GNU time runs it: a process forked from this (large) Python would carry
    Python's RSS into its own peak at exec. The peak is the kernel's for the
    command and the children it waited for: for a hook, the largest of Python
    and the commands it ran.
    """
    fd, rss_file = tempfile.mkstemp(prefix="vzzfs-rss-")
    os.close(fd)
    try:
        start = time.monotonic()
        res = subprocess.run(["/usr/bin/time", "-q", "-f", "%M", "-o", rss_file]
                             + [str(a) for a in argv], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True, env=env, cwd=cwd)
        took = time.monotonic() - start
        with open(rss_file) as f:
            kib = int(f.read().split()[-1])
    finally:
        os.unlink(rss_file)
    return took, kib * 1024, res.returncode, res.stdout


def exec_spans(argv, env=None):
    """Run ``argv`` under strace -f: (exit code, spans), a span per program any process
    ran, in order: (program's path as exec'd, pid, start s, end s), times from the start.

    A program's span lasts from its successful execve to the process's next
    execve or its exit; strace's own cost is in every span, so read them as shares.
    """
    fd, log = tempfile.mkstemp(prefix="vzzfs-strace-")
    os.close(fd)
    try:
        res = subprocess.run(["strace", "-f", "-q", "-ttt", "--seccomp-bpf", "-e",
                              "trace=execve", "-o", log] + [str(a) for a in argv],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=env)
        with open(log) as f:
            lines = f.read().splitlines()
    finally:
        os.unlink(log)
    spans, open_span, pending = [], {}, {}
    t0 = None

    def close(pid, when):
        if pid in open_span:
            prog, start = open_span.pop(pid)
            spans.append((prog, pid, start - t0, when - t0))

    for line in lines:
        parts = line.split(None, 2)
        if len(parts) < 3 or not parts[0].isdigit():
            continue
        pid, when, rest = int(parts[0]), float(parts[1]), parts[2]
        t0 = when if t0 is None else t0
        if rest.startswith("execve("):
            prog = rest.split('"', 2)[1]
            if "<unfinished" in rest:
                pending[pid] = (prog, when)
            elif " = 0" in rest:
                close(pid, when)
                open_span[pid] = (prog, when)
        elif rest.startswith("<... execve resumed>") and pid in pending:
            prog, start = pending.pop(pid)
            if " = 0" in rest:
                close(pid, start)
                open_span[pid] = (prog, start)
        elif rest.startswith("+++ exited") or rest.startswith("+++ killed"):
            close(pid, when)
    for pid in list(open_span):
        close(pid, open_span[pid][1])
    return res.returncode, sorted(spans, key=lambda s: s[2])


def within(spans, outer):
    """The spans that ran inside ``outer`` (another span), other processes only."""
    return [s for s in spans if s[1] != outer[1] and s[2] >= outer[2] and s[3] <= outer[3]]


# a distribution's /usr, as the VM sees the host's: whole directories, in this order
USR_SOURCES = ("/usr/include", "/usr/lib/python3", "/usr/lib/python3.11", "/usr/lib/gcc",
               "/usr/share", "/usr/lib/llvm-14", "/usr/lib/x86_64-linux-gnu")


def copy_usr(dest, mib):
    """`cp -a` USR_SOURCES under ``dest`` (at their paths) until it holds ``mib`` MiB
    (whole directories: a little more); the bytes it then holds."""
    total = 0
    for src in USR_SOURCES:
        if total >= mib << 20 or not os.path.isdir(src):
            continue
        os.makedirs(os.path.dirname(dest + src), exist_ok=True)
        sh("cp", "-a", src, dest + src)
        total = int(sh("du", "-sb", dest).split()[0])
    return total


def vzzfs_ok(node, *args):
    """vzzfs ARGS on ``node``; its output. Raise with it if the exit code is not 0."""
    res = node.vzzfs(*args)
    if res.returncode:
        raise RuntimeError("vzzfs %s failed: %s" % (" ".join(args), res.stdout))
    return res.stdout


def vzctl_ok(node, verb, ctid):
    """vzctl VERB CTID with the real vzctl; its output. Raise with it if the exit code is not 0."""
    res = node.vzctl.run(verb, ctid)
    if res.rc:
        raise RuntimeError("vzctl %s %s failed (%d): %s" % (verb, ctid, res.rc,
                                                              res.output.strip()[-500:]))
    return res.output


def vzctl_all(node, verb, ctids):
    """vzctl VERB for every CT at once (one process each, launched together), waited for:
    {ctid: (exit code, output)} of those whose vzctl did not exit 0."""
    procs = [(ctid, subprocess.Popen([VZCTL, verb, str(ctid)], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     universal_newlines=True)) for ctid in ctids]
    failed = {}
    for ctid, proc in procs:  # vzctl's output is small: no pipe fills while it waits
        out = proc.communicate(timeout=600)[0]
        if proc.returncode:
            failed[ctid] = (proc.returncode, out)
    return failed


def not_running(node, ctids):
    """The CTs `vzctl status` does not call running."""
    return [c for c in ctids if not node.vzctl.is_running(c)]


def stop_all(node, ctids):
    """vzctl stop, at once, every CT that runs, then once more one by one each whose stop
    failed: {ctid: (exit code, output)} of the first failures. Raise if a second stop
    fails too, or unless every CT is then stopped, its VE_ROOT and VE_PRIVATE unmounted."""
    failed = vzctl_all(node, "stop", [c for c in ctids if node.vzctl.is_running(c)])
    for ctid in sorted(failed):
        if node.vzctl.is_running(ctid):
            vzctl_ok(node, "stop", ctid)
    left = [str(c) for c in ctids if node.vzctl.is_running(c)
            or mounts.is_mountpoint(node.root(c)) or mounts.is_mountpoint(node.private(c))]
    if left:
        raise RuntimeError("still running or mounted after vzctl stop: CT %s (%s)" % (
            ", ".join(left), "; ".join("CT %s (%d): %s" % (c, rc, out.strip()[-300:])
                                       for c, (rc, out) in failed.items())))
    return failed
