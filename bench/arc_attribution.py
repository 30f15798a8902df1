#!/usr/bin/python3
"""Research: what can be told per CT about its use of the ARC and the pool?

Two CTs' zvols; CT A reads 96 MiB and writes 32 MiB, CT B reads 24 MiB and
writes 8 MiB. The ARC's own counters (arcstats) are pool-wide; OpenZFS keeps
per-dataset counters in /proc/spl/kstat/zfs/POOL/objset-0x*: this records which
fields exist and whether their deltas match what each CT did.
Standalone: scripts/vm-run -- /usr/bin/python3 bench/arc_attribution.py
"""
import os

import benchlib
from benchlib import sh
from vzzfs_hooks.base import kstats
from vzzfs_hooks.system import zvoldev  # benchlib has put the repo on sys.path

WORK = (("A", 96, 32), ("B", 24, 8))  # CT, MiB read, MiB written


def run():
    rows = []
    with benchlib.Scratch():
        zvols = {}
        for ct, read_mib, _w in WORK:
            name = "%s/ct%s" % (benchlib.ROOT, ct)
            dev, mnt = benchlib.fresh_zvol(name, 512 << 20, "16K", compression="off")
            with open(os.path.join(mnt, "data"), "wb") as f:
                for _ in range(read_mib):
                    f.write(os.urandom(1 << 20))
            sh("umount", mnt)
            zvols[ct] = (name, dev, mnt)
        benchlib.cold_pool()
        for ct, (name, _d, mnt) in zvols.items():
            sh("mount", "-o", "noatime", zvoldev.find_device(name, 10), mnt)
        benchlib.drop_page_cache()
        before, arc_before = kstats.objset_counters(benchlib.POOL), benchlib.arcstats()
        for ct, read_mib, write_mib in WORK:
            name, _d, mnt = zvols[ct]
            with open(os.path.join(mnt, "data"), "rb") as f:
                while f.read(1 << 20):
                    pass
            with open(os.path.join(mnt, "new"), "wb") as f:
                for _ in range(write_mib):
                    f.write(os.urandom(1 << 20))
                f.flush()
                os.fsync(f.fileno())
        after, arc_after = kstats.objset_counters(benchlib.POOL), benchlib.arcstats()
        fields = sorted(next(iter(after.values())).keys()) if after else []
        for ct, read_mib, write_mib in WORK:
            name, _d, mnt = zvols[ct]
            b, a = before.get(name, {}), after.get(name, {})
            rows.append({"ct": ct, "read": read_mib << 20, "written": write_mib << 20,
                         "nread": a.get("nread", 0) - b.get("nread", 0),
                         "nwritten": a.get("nwritten", 0) - b.get("nwritten", 0)})
            sh("umount", mnt)
            os.rmdir(mnt)
    mib = 1048576.0
    print("objset kstat fields: %s" % ", ".join(fields))
    print("ARC during the run: hits %+d, misses %+d, size %+.0f MiB (pool-wide only)"
          % (arc_after["hits"] - arc_before["hits"], arc_after["misses"] - arc_before["misses"],
             (arc_after["size"] - arc_before["size"]) / mib))
    benchlib.table(("CT", "read MiB", "kstat nread MiB", "wrote MiB", "kstat nwritten MiB"),
                   [(r["ct"], r["read"] >> 20, "%.1f" % (r["nread"] / mib), r["written"] >> 20,
                     "%.1f" % (r["nwritten"] / mib)) for r in rows])
    return {"rows": rows, "objset_fields": fields,
            "arc_hits": arc_after["hits"] - arc_before["hits"],
            "arc_misses": arc_after["misses"] - arc_before["misses"]}


if __name__ == "__main__":
    run()
