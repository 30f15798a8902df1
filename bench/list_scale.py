#!/usr/bin/python3
"""Benchmark: `vzzfs list` on a node of 200 CTs with 2,000 snapshots.

Its time against a bare `zfs list -t all -p` of the same pool, its peak RSS,
and how many zfs/zpool commands it ran (one `zfs list` for every zvol and
snapshot under ROOT/ct). The zvols are sparse, 64 MiB, with volmode=none
(listing needs no device nodes); each has a conf naming it, as vzzfs create
writes them.
Standalone: scripts/vm-run -- /usr/bin/python3 bench/list_scale.py
"""
import os
import sys

import benchlib
from benchlib import sh
from vzzfs_hooks.base import names  # benchlib has put the repo on sys.path

CTS = 200
SNAPSHOTS = 10  # per CT
ROUNDS = 3
FIRST = 1000


def populate(node):
    datasets = []
    for i in range(CTS):
        ctid = FIRST + i
        ds = node.dataset(ctid)
        sh("zfs", "create", "-s", "-V", "64M", "-o", "volmode=none",
           "-o", "%s=%d" % (names.PROP_CTID, ctid), ds)
        with open(node.conffile(ctid), "w") as f:
            f.write('VE_LAYOUT="simfs"\nDISK_QUOTA="no"\nDISKSPACE="65536:65536"\n'
                    'VZZFS_DATASET="%s"\n' % ds)
        datasets.append(ds)
    for k in range(SNAPSHOTS):  # one atomic zfs snapshot per round of datasets
        sh("zfs", "snapshot", *["%s@vzzfs-s%d" % (ds, k) for ds in datasets])


def run():
    with benchlib.Scratch() as node:
        populate(node)
        vzzfs = [sys.executable, "-m", "vzzfs_hooks", "--etc-dir", node.etc, "list"]
        took, rss, rc, out = benchlib.run_rss(vzzfs, cwd=benchlib.REPO)  # bytecode, warm ARC
        if rc or out.count("\n") < CTS:
            raise RuntimeError("vzzfs list failed: %s" % out[-500:])
        bare = [benchlib.run_rss(["zfs", "list", "-t", "all", "-p"]) for _ in range(ROUNDS)]
        mine = [benchlib.run_rss(vzzfs, cwd=benchlib.REPO) for _ in range(ROUNDS)]
        _rc, spans = benchlib.exec_spans(vzzfs)
        listed = int(sh("zfs", "list", "-H", "-t", "all", "-o", "name").count("\n"))
    zfs_calls = [os.path.basename(s[0]) for s in spans
                 if os.path.basename(s[0]) in ("zfs", "zpool")]
    result = {"cts": CTS, "snapshots": CTS * SNAPSHOTS, "datasets_listed": listed,
              "bare_s": [r[0] for r in bare], "bare_rss_bytes": max(r[1] for r in bare),
              "vzzfs_s": [r[0] for r in mine], "vzzfs_rss_bytes": max(r[1] for r in mine),
              "zfs_commands": len(zfs_calls)}
    result["ratio"] = benchlib.median(result["vzzfs_s"]) / benchlib.median(result["bare_s"])
    benchlib.table(("%d CTs, %d snapshots" % (CTS, CTS * SNAPSHOTS), "median s", "peak RSS MiB"),
                   [("zfs list -t all -p", "%.2f" % benchlib.median(result["bare_s"]),
                     "%.1f" % (result["bare_rss_bytes"] / (1 << 20))),
                    ("vzzfs list", "%.2f" % benchlib.median(result["vzzfs_s"]),
                     "%.1f" % (result["vzzfs_rss_bytes"] / (1 << 20)))])
    print("vzzfs list / zfs list: %.1fx; zfs/zpool commands it ran: %d"
          % (result["ratio"], result["zfs_commands"]))
    return result


if __name__ == "__main__":
    run()
