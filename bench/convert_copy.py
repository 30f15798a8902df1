#!/usr/bin/python3
"""Benchmark: `vzzfs convert` of a simfs CT against the seed's procedure (issue 28).

The seed moved a CT onto a zvol by hand: create it, mkfs.ext4, mount it, `cp -a`
the private area into it. vzzfs convert copies with rsync (owners, modes, hard
links, ACLs, xattrs, holes), proves the copy with a second rsync that must find
nothing to change, and swaps the areas crash-safely. On the same CT (CONVERT_MIB
of a distribution's /usr, copied from the VM's, in a simfs private area on a ZFS
file system): the seed's procedure, `vzzfs convert` with its phases taken from
its commands (strace: the copying rsync, the verifying one: a dry run without
--checksum on a fresh copy, comparing sizes, times, owners, modes, links, ACLs
and xattrs, since rsync already checks every file it copies against the
sender's whole-file checksum), and for comparison the proof convert gave before
(the same dry run with --checksum, every byte of both trees read again).
Standalone: scripts/vm-run --disk-size 8G -- scripts/vm-local-files /usr/bin/python3 bench/convert_copy.py
"""
import os
import tempfile
import time

import benchlib
from benchlib import POOL, sh
from vzzfs_hooks.system import zvoldev  # benchlib has put the repo on sys.path
from vzzfs_hooks.verbs import convert

CONVERT_MIB = int(os.environ.get("VZZFS_BENCH_CONVERT_MIB", "1024"))
CTID = 301


def seed(private, size):
    """The seed's procedure, timed: zvol, mkfs.ext4, mount, cp -a, umount."""
    ds = POOL + "/seed"
    mnt = tempfile.mkdtemp(prefix="vzzfs-bench-seed-")
    start = time.monotonic()
    sh("zfs", "create", "-s", "-V", str(size), "-o", "volblocksize=16K", "-o",
       "compression=lz4", ds)
    dev = zvoldev.find_device(ds, 10)
    sh("mkfs.ext4", "-q", dev)
    sh("mount", "-o", "noatime", dev, mnt)
    copy_start = time.monotonic()
    sh("cp", "-a", private + "/.", mnt)
    copied = time.monotonic() - copy_start
    sh("umount", mnt)
    total = time.monotonic() - start
    os.rmdir(mnt)
    sh("zfs", "destroy", ds)
    return total, copied


def run():
    r = {"mib": CONVERT_MIB}
    with benchlib.Scratch() as node:
        private = node.private(CTID)
        # the node's private areas on a file system of the pool (the VM's own are in
        # memory): convert renames the CT's aside there, so not a mount point itself
        sh("zfs", "create", "-o", "mountpoint=" + os.path.dirname(private), "-o",
           "compression=lz4", POOL + "/simfs")
        node.make_simfs_ct(CTID)
        r["files_bytes"] = benchlib.copy_usr(private, CONVERT_MIB)
        size = convert.wanted_size(_ct(node), None)
        r["volsize"] = size
        r["seed_s"], r["seed_copy_s"] = seed(private, size)
        argv = [os.path.join(benchlib.REPO, "bin", "vzzfs"), "--etc-dir", node.etc, "convert",
                str(CTID)]
        r["convert_s"], (rc, spans) = benchlib.timed(benchlib.exec_spans, argv)
        if rc:
            raise RuntimeError("vzzfs convert failed: %s" % node.vzzfs(*argv[3:]).stdout)
        node.track(CTID)
        rsyncs = [s for s in spans if os.path.basename(s[0]) == "rsync"]
        # rsync forks its receiver: each run's span is its first process's
        runs = [s for s in rsyncs if not any(o[1] != s[1] and o[2] < s[2] <= o[3]
                                             for o in rsyncs)]
        r["rsync_copy_s"] = runs[0][3] - runs[0][2]
        r["rsync_verify_s"] = runs[1][3] - runs[1][2]
        old = convert.old_private(_ct(node))
        res = node.vzzfs("attach", str(CTID))
        if res.returncode:
            raise RuntimeError("vzzfs attach failed: %s" % res.stdout)
        full = convert.RSYNC + ["--checksum", "--dry-run", "--itemize-changes", "--delete",
                                "--exclude=/lost+found", old + "/", private + "/"]
        r["checksum_verify_s"], out = benchlib.timed(sh, *full)
        r["checksum_verify_changes"] = len([l for l in out.splitlines() if l.strip()])
        node.vzzfs("detach", str(CTID))
    r["ratio"] = r["convert_s"] / r["seed_s"]
    r["verify_share"] = r["rsync_verify_s"] / r["convert_s"]
    # what convert took with the proof it gave before (--checksum)
    r["checksum_ratio"] = ((r["convert_s"] - r["rsync_verify_s"] + r["checksum_verify_s"])
                           / r["seed_s"])
    benchlib.table(("%d MiB of /usr, simfs -> zvol" % (r["files_bytes"] >> 20), "seconds",
                    "ratio to the seed's"),
                   [("seed: zvol, mkfs, mount, cp -a, umount", "%.1f" % r["seed_s"], "1.00"),
                    ("  of which cp -a", "%.1f" % r["seed_copy_s"], ""),
                    ("vzzfs convert", "%.1f" % r["convert_s"], "%.2f" % r["ratio"]),
                    ("  of which rsync's copy", "%.1f" % r["rsync_copy_s"], ""),
                    ("  of which the verification (dry run, no --checksum)",
                     "%.1f" % r["rsync_verify_s"], ""),
                    ("the proof by --checksum (convert before)", "%.1f" % r["checksum_verify_s"],
                     "%.2f" % r["checksum_ratio"])])
    return r


def _ct(node):
    from vzzfs_hooks.container.ct import Container
    return Container(str(CTID), node.node)


if __name__ == "__main__":
    run()
