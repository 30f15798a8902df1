#!/usr/bin/python3
"""Benchmark: creating a CT by cloning an imported template vs unpacking its tarball.

For a small and a large template: seconds each way and their ratio. Clone-create
should stay flat as the template grows; unpack-create grows with it.
Standalone: scripts/vm-run --disk-size 6G -- /usr/bin/python3 bench/create_clone_vs_unpack.py
"""
import os
import shutil

import benchlib
from benchlib import sh

TEMPLATES = (("small", 32), ("large", 256))  # name, MiB of files


def tarball(node, name, mb):
    tree = os.path.join(node.base, "tree")
    os.makedirs(tree + "/usr/lib")
    for i in range(mb):  # 1 MiB files of half-compressible data, like binaries
        with open("%s/usr/lib/f%04d" % (tree, i), "wb") as f:
            f.write(os.urandom(1 << 19) + bytes(1 << 19))
    sh("tar", "-czf", os.path.join(node.base, "vz/template/cache", name + ".tar.gz"),
       "-C", tree, ".")
    shutil.rmtree(tree)


def vzzfs(node, *args):
    res = node.vzzfs(*args)
    if res.returncode:
        raise RuntimeError("vzzfs %s failed: %s" % (" ".join(args), res.stdout))


def run():
    rows = []
    with benchlib.Scratch('VZZFS_SPARSE="yes"\n') as node:
        ctid = 100
        for name, mb in TEMPLATES:
            tarball(node, name, mb)
            ctid += 1
            node.track(ctid)
            unpack = benchlib.timed(vzzfs, node, "create", str(ctid), "--ostemplate", name,
                                    "--diskspace", "1G")[0]
            vzzfs(node, "template", "import", name, "--size", "1G")
            ctid += 1
            node.track(ctid)
            clone = benchlib.timed(vzzfs, node, "create", str(ctid), "--ostemplate", name,
                                   "--diskspace", "1G")[0]
            rows.append({"template": name, "mib": mb, "unpack_s": unpack, "clone_s": clone})
    benchlib.table(("template", "MiB", "unpack s", "clone s", "clone/unpack"),
                   [(r["template"], r["mib"], "%.1f" % r["unpack_s"], "%.1f" % r["clone_s"],
                     "%.2f" % (r["clone_s"] / r["unpack_s"])) for r in rows])
    return {"rows": rows}


if __name__ == "__main__":
    run()
