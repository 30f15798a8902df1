#!/usr/bin/python3
"""Research: does reading a CT's files cache them twice (page cache and ARC)?

A 256 MiB file of random data on a CT's ext4 is read cold (pool re-imported, so
the ARC holds none of it) and read again after dropping only the page cache,
with the zvol's primarycache=all and =metadata. Records how much the page
cache (meminfo Cached) and the ARC (arcstats data_size) grew on the cold read,
and on the second read the bytes read from the pool's disk and the ARC hits.
Then 16 MiB of 4K O_DIRECT random writes into the same file: a 4K write into a
16K zvol block needs the old block, from the ARC or the disk (fio, which
bench/run installs), so this shows what `metadata` costs small writes.
Standalone: scripts/vm-run -- /usr/bin/python3 bench/double_caching.py
"""
import os

import benchlib
from benchlib import sh
from vzzfs_hooks.system import zvoldev  # benchlib has put the repo on sys.path

FILE_MIB = 256
SMALL_WRITES = "16M"


def read_all(path):
    with open(path, "rb") as f:
        while f.read(1 << 20):
            pass


def counters():
    arc, mem = benchlib.arcstats(), benchlib.meminfo()
    return {"cached": mem["Cached"], "arc_data": arc["data_size"], "arc_hits": arc["hits"],
            "arc_misses": arc["misses"], "disk_read": benchlib.disk_bytes(benchlib.disk())[0]}


def delta(a, b):
    return {k: b[k] - a[k] for k in a}


def small_writes(path):
    """4K random O_DIRECT writes into the file: IOPS and bytes read from the pool's disk."""
    before = benchlib.disk_bytes(benchlib.disk())[0]
    out = sh("fio", "--output-format=json", "--name=ct", "--filename=" + path,
             "--size=%dM" % FILE_MIB, "--io_size=" + SMALL_WRITES, "--rw=randwrite", "--bs=4k",
             "--direct=1", "--ioengine=psync", "--end_fsync=1", "--randrepeat=0")
    job = benchlib.fio_job(out)["write"]
    return {"smallwrite_bytes": job["io_bytes"], "smallwrite_iops": job["iops"],
            "smallwrite_disk_read": benchlib.disk_bytes(benchlib.disk())[0] - before}


def run():
    rows = []
    name = "%s/cache" % benchlib.ROOT
    with benchlib.Scratch():
        dev, mnt = benchlib.fresh_zvol(name, 1 << 30, "16K", compression="off")
        path = os.path.join(mnt, "data")
        with open(path, "wb") as f:
            for _ in range(FILE_MIB):
                f.write(os.urandom(1 << 20))
        sh("umount", mnt)
        for mode in ("all", "metadata"):
            sh("zfs", "set", "primarycache=" + mode, name)
            benchlib.cold_pool()
            dev = zvoldev.find_device(name, 10)
            sh("mount", "-o", "noatime", dev, mnt)
            benchlib.drop_page_cache()
            c0 = counters()
            cold_s = benchlib.timed(read_all, path)[0]
            c1 = counters()
            benchlib.drop_page_cache()
            c2 = counters()
            warm_s = benchlib.timed(read_all, path)[0]
            c3 = counters()
            small = small_writes(path)
            sh("umount", mnt)
            cold, warm = delta(c0, c1), delta(c2, c3)
            rows.append({"primarycache": mode, "file": FILE_MIB << 20,
                         "cold_page_cache_growth": cold["cached"],
                         "cold_arc_data_growth": cold["arc_data"],
                         "cold_s": cold_s, "reread_disk_read": warm["disk_read"],
                         "reread_arc_hits": warm["arc_hits"],
                         "reread_arc_misses": warm["arc_misses"], "reread_s": warm_s})
            rows[-1].update(small)
        os.rmdir(mnt)
        sh("zfs", "destroy", name)
    mib = 1048576.0
    benchlib.table(("primarycache", "page cache +MiB", "ARC data +MiB", "re-read: disk MiB",
                    "ARC hits", "cold s", "re-read s", "4K writes IOPS", "4K writes: disk MiB"),
                   [(r["primarycache"], "%.0f" % (r["cold_page_cache_growth"] / mib),
                     "%.0f" % (r["cold_arc_data_growth"] / mib),
                     "%.0f" % (r["reread_disk_read"] / mib), r["reread_arc_hits"],
                     "%.1f" % r["cold_s"], "%.1f" % r["reread_s"], "%.0f" % r["smallwrite_iops"],
                     "%.0f" % (r["smallwrite_disk_read"] / mib)) for r in rows])
    return {"rows": rows, "file_mib": FILE_MIB}


if __name__ == "__main__":
    run()
