#!/usr/bin/python3
"""Benchmark: how long a running CT is held by 'vzzfs snapshot' vs a bare 'zfs snapshot'.

The CT is a busybox CT started by the real vzctl 4.11.1; on the VM's upstream
kernel vzzfs holds it through its freezer cgroup. A writer runs beside it. Over ROUNDS snapshots each: the window
vzzfs reports (suspend -> resume), the whole 'vzzfs snapshot' command, and a
bare 'zfs snapshot' of the same zvol.
Standalone: scripts/vm-run -- /usr/bin/python3 bench/snapshot_window.py
"""
import os
import re
import threading

import benchlib
from benchlib import sh

ROUNDS = int(os.environ.get("ROUNDS", "8"))
WINDOW_RE = re.compile(r"suspended for ([0-9.]+) s")


def run():
    stop = threading.Event()
    with benchlib.Scratch() as node:
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
        try:
            for i in range(ROUNDS):
                took, res = benchlib.timed(node.vzzfs, "snapshot", "101", "--name", "v%d" % i)
                m = WINDOW_RE.search(res.stdout)
                if res.returncode or not m:
                    raise RuntimeError("vzzfs snapshot failed: %s" % res.stdout)
                command.append(took)
                window.append(float(m.group(1)))
                bare.append(benchlib.timed(sh, "zfs", "snapshot",
                                           "%s@b%d" % (node.dataset(101), i))[0])
        finally:
            stop.set()
            t.join()
    result = {"rounds": ROUNDS, "window_s": window, "command_s": command, "bare_s": bare,
              "ratio": benchlib.median(window) / benchlib.median(bare)}
    benchlib.table(("running CT with a writer", "median s", "min s", "max s"),
                   [(k, "%.3f" % benchlib.median(v), "%.3f" % min(v), "%.3f" % max(v))
                    for k, v in (("vzzfs: CT suspended (window)", window),
                                 ("vzzfs snapshot, whole command", command),
                                 ("bare zfs snapshot", bare))])
    print("window / bare zfs snapshot (median): %.2fx" % result["ratio"])
    return result


if __name__ == "__main__":
    run()
