#!/usr/bin/python3
"""Benchmark: size of incremental backup streams against the data changed in the CT.

Run inside the test VM:  scripts/vm-run -- /usr/bin/python3 bench/incremental_send.py
A stopped CT gets a full backup, then rounds of changes (new random files,
rewritten files, deletions) each followed by 'vzzfs backup --incremental'. Prints
per round: the bytes changed, the stream size, their ratio, and the seconds
the backup took. A ratio near 1 means only the changed blocks travel.
"""
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "tests", "vm"))
sys.path.insert(0, os.path.join(REPO, "tests"))

from conftest import POOL, ROOT, TestNode  # noqa: E402

ROUNDS = (("new files", 8), ("rewrite files", 8), ("more new files", 32), ("delete files", 0))


def sh(*argv):
    subprocess.run(list(argv), check=True, stdout=subprocess.DEVNULL)


def main():
    disk = os.environ["VZZFS_TEST_DISKS"].split()[0]
    sh("zpool", "create", "-f", "-O", "canmount=off", "-O", "mountpoint=none", POOL, disk)
    sh("zfs", "create", "-p", "-o", "canmount=off", ROOT + "/ct")
    base = tempfile.mkdtemp(prefix="vzzfs-bench-")
    node = TestNode(base + "/node")
    try:
        node.make_ct(101, size=512 << 20)
        out = base + "/b0"
        res = node.vzzfs("backup", "101", "--to", out)
        assert res.returncode == 0, res.stdout
        print("full backup of a fresh CT: %.1f MiB" % (os.path.getsize(out) / 1048576.0))
        print("%-16s %12s %12s %7s %8s" % ("round", "changed MiB", "stream MiB", "ratio",
                                           "seconds"))
        for i, (what, mib) in enumerate(ROUNDS, 1):
            assert node.vzzfs("attach", "101").returncode == 0
            data = os.path.join(node.private(101), "root")
            changed = 0
            if what.startswith("delete"):
                for name in sorted(os.listdir(data))[:8]:
                    os.unlink(os.path.join(data, name))
            else:
                for j in range(mib):
                    name = "r1-%d" % j if what.startswith("rewrite") else "r%d-%d" % (i, j)
                    with open(os.path.join(data, name), "wb") as f:
                        f.write(os.urandom(1 << 20))
                    changed += 1 << 20
            assert node.vzzfs("detach", "101").returncode == 0
            out = "%s/b%d" % (base, i)
            start = time.monotonic()
            res = node.vzzfs("backup", "101", "--to", out, "--incremental")
            took = time.monotonic() - start
            assert res.returncode == 0, res.stdout
            size = os.path.getsize(out)
            ratio = "%.2f" % (size / float(changed)) if changed else "-"
            print("%-16s %12.1f %12.2f %7s %8.1f" % (what, changed / 1048576.0,
                                                     size / 1048576.0, ratio, took))
    finally:
        node.cleanup()
        sh("zpool", "destroy", "-f", POOL)


if __name__ == "__main__":
    main()
