#!/usr/bin/python3
"""Benchmark: pool space used by N CTs cloned from one template.

Imports a 128 MiB template, then creates CTs by clone and records the pool's
allocated bytes after each; then writes 8 MiB into every clone. A clone costs
only what it changes.
Standalone: scripts/vm-run -- /usr/bin/python3 bench/clone_space.py
"""
import os

import benchlib
from benchlib import sh
from create_clone_vs_unpack import tarball, vzzfs

CLONES = 8


def allocated():
    sh("zpool", "sync", benchlib.POOL)
    return int(sh("zpool", "list", "-Hp", "-o", "allocated", benchlib.POOL).split()[0])


def run():
    with benchlib.Scratch('VZZFS_SPARSE="yes"\n') as node:
        tarball(node, "tmpl", 128)
        vzzfs(node, "template", "import", "tmpl", "--size", "512M")
        points = [{"clones": 0, "allocated": allocated()}]
        for i in range(1, CLONES + 1):
            node.track(200 + i)
            vzzfs(node, "create", str(200 + i), "--ostemplate", "tmpl", "--diskspace", "512M")
            points.append({"clones": i, "allocated": allocated()})
        for i in range(1, CLONES + 1):
            vzzfs(node, "attach", str(200 + i))
            with open(os.path.join(node.private(200 + i), "own"), "wb") as f:
                f.write(os.urandom(8 << 20))
            vzzfs(node, "detach", str(200 + i))
        after_writes = allocated()
    benchlib.table(("clones", "pool allocated MiB"),
                   [(p["clones"], "%.1f" % (p["allocated"] / 1048576.0)) for p in points])
    print("after 8 MiB of own data in each clone: %.1f MiB" % (after_writes / 1048576.0))
    return {"points": points, "after_writes": after_writes, "template_mib": 128,
            "written_per_clone_mib": 8}


if __name__ == "__main__":
    run()
