#!/usr/bin/python3
"""Research: do I/O limits hold a CT's I/O through ext4 and the zvol, placed as vzzfs places them?

fio writes 4K blocks (O_DIRECT, time-based) and a fixed amount of buffered 1M
blocks followed by an fsync (so the whole run lasts until writeback has put it on
the zvol) into a CT's ext4 from a cgroup: with no limit, with the limit on the
zvol's device (zdN) and with it on the pool's disk (in the group only). The
zvol's limit goes where vzzfs puts a CT's (vzzfs_hooks/system/blkio.py): on cgroup v1 (the
test VM mounts v1 for vzctl 4.x) in the group and in the root, where v1 counts
writeback; on cgroup v2 io.max in the group. Buffered throughput is bytes over the whole run, fsync included.
Also records the zvol's I/O scheduler (ioprio classes need one). Needs fio
(bench/run installs it).
Standalone: scripts/vm-run -- /usr/bin/python3 bench/io_limits.py
"""
import os
import subprocess
import time

import benchlib
from benchlib import sh
from vzzfs_hooks.system import blkio, mounts
from vzzfs_hooks.rules.iolimits import Limits

CG = "/sys/fs/cgroup"
IOPS_LIMIT = 50
BPS_LIMIT = 8 << 20
RUNTIME = os.environ.get("FIO_RUNTIME", "5")
BUFFERED_MB = int(os.environ.get("FIO_BUFFERED_MB", "256"))  # 32 s at the limit


def cgroup_ready():
    """(version, hierarchy top, the benchmark's cgroup)."""
    version, top = blkio.hierarchy()
    if version is None or (version == "v2" and not os.path.exists(os.path.join(top, "cgroup.controllers"))):
        sh("mount", "-t", "cgroup2", "none", CG)
        version, top = "v2", CG
    if version == "v2":
        with open(os.path.join(top, "cgroup.subtree_control"), "w") as f:
            f.write("+io\n")
    path = os.path.join(top, "vzzfs-bench")
    os.makedirs(path, exist_ok=True)
    return version, top, path


def set_limit(version, top, cg, devno, limits, root):
    """In the group, and with ``root`` on v1 in the root too, as vzzfs does for a zvol
    (v1 counts writeback there). Not for the pool's disk: ZFS's own threads write the
    whole pool from the root."""
    blkio.write(cg, version, devno, limits)
    if version == "v1" and root:
        blkio.write(top, version, devno, limits)


def fio_in(cg, path, direct):
    def enter():
        with open(os.path.join(cg, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    args = ["fio", "--output-format=json", "--name=ct", "--filename=" + path,
            "--ioengine=psync", "--randrepeat=0"]
    if direct:
        args += ["--size=64M", "--time_based", "--runtime=" + RUNTIME, "--rw=randwrite",
                 "--bs=4k", "--direct=1"]
    else:
        args += ["--size=%dM" % BUFFERED_MB, "--rw=write", "--bs=1M", "--end_fsync=1"]
    start = time.monotonic()
    res = subprocess.run(args, stdout=subprocess.PIPE, universal_newlines=True, preexec_fn=enter,
                         check=True)
    wall = time.monotonic() - start
    job = benchlib.fio_job(res.stdout)["write"]
    if direct:
        return job["iops"], job["bw_bytes"], wall
    return job["io_bytes"] / wall / 4096.0, job["io_bytes"] / wall, wall


def run():
    rows = []
    name = "%s/io" % benchlib.ROOT
    with benchlib.Scratch():
        version, top, cg = cgroup_ready()
        dev, mnt = benchlib.fresh_zvol(name, 1 << 30, "16K", compression="off")
        with open("/sys/block/%s/queue/scheduler" % os.path.basename(os.path.realpath(dev))) as f:
            scheduler = f.read().strip()
        path = os.path.join(mnt, "data")
        sh("fio", "--name=layout", "--filename=" + path, "--size=%dM" % BUFFERED_MB,
           "--rw=write", "--bs=1M")
        try:
            cases = (("no limit", None),
                     ("on the zvol (zd)", dev),
                     ("on the pool's disk", benchlib.disk()))
            for label, limit_dev in cases:
                for direct in (True, False):
                    limits = Limits(0, IOPS_LIMIT) if direct else Limits(BPS_LIMIT, 0)
                    shown = ("iops=%d" % IOPS_LIMIT) if direct else ("bps=%d" % BPS_LIMIT)
                    devno = mounts.devno_of(limit_dev) if limit_dev else None
                    root = limit_dev == dev
                    if devno:
                        set_limit(version, top, cg, devno, limits, root)
                    try:
                        iops, bw, wall = fio_in(cg, path, direct)
                    finally:
                        if devno:
                            set_limit(version, top, cg, devno, Limits(), root)
                    rows.append({"case": label, "io": "4K O_DIRECT" if direct else "1M buffered",
                                 "limit": shown if devno else None, "iops": iops, "bw": bw,
                                 "seconds": wall})
                    print("%-20s %-12s %-14s %8.0f IOPS %8.1f MiB/s %6.1f s"
                          % (label, rows[-1]["io"], shown if devno else "-", iops,
                             bw / 1048576.0, wall), flush=True)
        finally:
            benchlib.drop_zvol(name, mnt)
            os.rmdir(cg)
    return {"rows": rows, "zvol_scheduler": scheduler, "iops_limit": IOPS_LIMIT,
            "bps_limit": BPS_LIMIT, "cgroup": version, "buffered_mib": BUFFERED_MB}


if __name__ == "__main__":
    run()
