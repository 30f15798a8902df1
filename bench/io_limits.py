#!/usr/bin/python3
"""Research: do cgroup v2 I/O limits hold a CT's I/O through ext4 and the zvol?

fio writes 4K blocks (O_DIRECT) and buffered 1M blocks into a CT's ext4 from a
cgroup, with no limit, with io.max on the zvol's device (zdN), and with io.max
on the pool's disk: IOPS and throughput of each. Also records the zvol's I/O
scheduler (ioprio classes need one). Needs fio (bench/run installs it).
Standalone: scripts/vm-run -- /usr/bin/python3 bench/io_limits.py
"""
import os
import subprocess

import benchlib
from benchlib import sh

CG = "/sys/fs/cgroup"
IOPS_LIMIT = 50
BPS_LIMIT = 4 << 20
RUNTIME = os.environ.get("FIO_RUNTIME", "5")


def cgroup_ready():
    if not os.path.exists(os.path.join(CG, "cgroup.controllers")):
        sh("mount", "-t", "cgroup2", "none", CG)
    with open(os.path.join(CG, "cgroup.subtree_control"), "w") as f:
        f.write("+io\n")
    path = os.path.join(CG, "vzzfs-bench")
    os.makedirs(path, exist_ok=True)
    return path


def devno(dev):
    st = os.stat(os.path.realpath(dev))
    return "%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))


def set_limit(cg, dev, limit):
    with open(os.path.join(cg, "io.max"), "w") as f:
        f.write("%s %s\n" % (devno(dev), limit))


def fio_in(cg, path, direct):
    def enter():
        with open(os.path.join(cg, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    args = ["fio", "--output-format=json", "--name=ct", "--filename=" + path, "--size=64M",
            "--ioengine=psync", "--time_based", "--runtime=" + RUNTIME, "--randrepeat=0"]
    if direct:
        args += ["--rw=randwrite", "--bs=4k", "--direct=1"]
    else:
        args += ["--rw=write", "--bs=1M", "--end_fsync=1"]
    res = subprocess.run(args, stdout=subprocess.PIPE, universal_newlines=True, preexec_fn=enter,
                         check=True)
    job = benchlib.fio_job(res.stdout)["write"]
    return job["iops"], job["bw_bytes"]


def run():
    rows = []
    name = "%s/io" % benchlib.ROOT
    with benchlib.Scratch():
        cg = cgroup_ready()
        dev, mnt = benchlib.fresh_zvol(name, 1 << 30, "16K", compression="off")
        with open("/sys/block/%s/queue/scheduler" % os.path.basename(os.path.realpath(dev))) as f:
            scheduler = f.read().strip()
        path = os.path.join(mnt, "data")
        sh("fio", "--name=layout", "--filename=" + path, "--size=64M", "--rw=write", "--bs=1M")
        try:
            cases = (("no limit", None),
                     ("io.max on the zvol (zd)", dev),
                     ("io.max on the pool's disk", benchlib.disk()))
            for label, limit_dev in cases:
                for direct in (True, False):
                    limit = ("wiops=%d" % IOPS_LIMIT) if direct else ("wbps=%d" % BPS_LIMIT)
                    if limit_dev:
                        set_limit(cg, limit_dev, limit)
                    iops, bw = fio_in(cg, path, direct)
                    if limit_dev:
                        set_limit(cg, limit_dev, "wiops=max wbps=max")
                    rows.append({"case": label, "io": "4K O_DIRECT" if direct else "1M buffered",
                                 "limit": limit if limit_dev else None, "iops": iops, "bw": bw})
                    print("%-28s %-12s %-14s %8.0f IOPS %8.1f MiB/s"
                          % (label, rows[-1]["io"], limit if limit_dev else "-", iops,
                             bw / 1048576.0), flush=True)
        finally:
            benchlib.drop_zvol(name, mnt)
            os.rmdir(cg)
    return {"rows": rows, "zvol_scheduler": scheduler, "iops_limit": IOPS_LIMIT,
            "bps_limit": BPS_LIMIT}


if __name__ == "__main__":
    run()
