#!/usr/bin/python3
"""Benchmark: size of incremental backup streams against the data changed in the CT.

A stopped CT gets a full backup, then rounds of changes (new random files,
rewritten files, deletions) each followed by 'vzzfs backup --incremental': per
round the bytes changed, the stream size and their ratio. A ratio near 1
means only the changed blocks travel.
Standalone: scripts/vm-run -- /usr/bin/python3 bench/incremental_send.py
"""
import os

import benchlib

ROUNDS = (("new files", 8), ("rewrite files", 8), ("more new files", 32), ("delete files", 0))


def run():
    rows = []
    with benchlib.Scratch() as node:
        node.make_ct(101, size=512 << 20)
        out = node.base + "/b0"
        res = node.vzzfs("backup", "101", "--to", out)
        assert res.returncode == 0, res.stdout
        full = os.path.getsize(out)
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
            out = "%s/b%d" % (node.base, i)
            took, res = benchlib.timed(node.vzzfs, "backup", "101", "--to", out, "--incremental")
            assert res.returncode == 0, res.stdout
            rows.append({"round": what, "changed": changed, "stream": os.path.getsize(out),
                         "seconds": took})
    print("full backup of a fresh CT: %.1f MiB" % (full / 1048576.0))
    benchlib.table(("round", "changed MiB", "stream MiB", "stream/changed"),
                   [(r["round"], "%.1f" % (r["changed"] / 1048576.0),
                     "%.2f" % (r["stream"] / 1048576.0),
                     "%.2f" % (r["stream"] / float(r["changed"])) if r["changed"] else "-")
                    for r in rows])
    return {"full": full, "rows": rows}


if __name__ == "__main__":
    run()
