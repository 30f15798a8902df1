#!/usr/bin/python3
"""Benchmark: how long a running CT is held by 'vzzfs snapshot' vs a bare 'zfs snapshot'.

Run inside the test VM:  scripts/vm-run -- /usr/bin/python3 bench/snapshot_window.py
The CT is the test harness's (its processes are stopped with SIGSTOP for the
suspend), with a writer running in it. Prints, over ROUNDS snapshots each: the
window vzzfs reports (suspend -> resume), the whole 'vzzfs snapshot' command,
and a bare 'zfs snapshot' of the same zvol, with the window / bare ratio
(the goal is at most 2x; under TCG every figure is slower than on hardware).
"""
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "tests", "vm"))
sys.path.insert(0, os.path.join(REPO, "tests"))

from conftest import POOL, ROOT, TestNode  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "10"))
WINDOW_RE = re.compile(r"suspended for ([0-9.]+) s")


def sh(*argv):
    subprocess.run(list(argv), check=True, stdout=subprocess.DEVNULL)


def figures(name, values):
    print("%-34s median %7.3f s   min %7.3f s   max %7.3f s"
          % (name, statistics.median(values), min(values), max(values)))


def main():
    disk = os.environ["VZZFS_TEST_DISKS"].split()[0]
    sh("zpool", "create", "-f", "-O", "canmount=off", "-O", "mountpoint=none", POOL, disk)
    sh("zfs", "create", "-p", "-o", "canmount=off", ROOT + "/ct")
    node = TestNode(tempfile.mkdtemp(prefix="vzzfs-bench-") + "/node")
    stop = threading.Event()
    try:
        node.make_ct(101, size=512 << 20)
        assert node.vzctl.start(101).rc == 0
        data = os.path.join(node.root(101), "root")

        def writer():
            i = 0
            while not stop.is_set():
                with open(os.path.join(data, "w%d" % (i % 200)), "wb") as f:
                    f.write(os.urandom(64 << 10))
                i += 1

        t = threading.Thread(target=writer)
        t.start()
        window, command, bare = [], [], []
        for i in range(ROUNDS):
            start = time.monotonic()
            res = node.vzzfs("snapshot", "101", "--name", "v%d" % i)
            command.append(time.monotonic() - start)
            m = WINDOW_RE.search(res.stdout)
            if res.returncode or not m:
                sys.exit("bench: vzzfs snapshot failed: %s" % res.stdout)
            window.append(float(m.group(1)))
            start = time.monotonic()
            sh("zfs", "snapshot", "%s@b%d" % (node.dataset(101), i))
            bare.append(time.monotonic() - start)
        stop.set()
        t.join()
        print("snapshot of a running CT with a writer, %d rounds each" % ROUNDS)
        figures("vzzfs: CT suspended (window)", window)
        figures("vzzfs snapshot, whole command", command)
        figures("bare zfs snapshot", bare)
        print("window / bare zfs snapshot (median): %.2fx"
              % (statistics.median(window) / statistics.median(bare)))
    finally:
        stop.set()
        node.cleanup()
        sh("zpool", "destroy", "-f", POOL)


if __name__ == "__main__":
    main()
