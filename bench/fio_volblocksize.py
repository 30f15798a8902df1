#!/usr/bin/python3
"""Research: which volblocksize for ext4 on a zvol? fio through the CT's ext4.

For volblocksize 4K..128K, compression off and lz4: 4K random and 1M sequential
writes and reads (O_DIRECT, so ext4's page cache is out of the way) into a file
on the ext4, half-compressible data. Records throughput and the write
amplification: bytes the pool wrote to its disk (the disk's sector counter,
after a zpool sync) over the bytes fio wrote. Needs fio (bench/run installs it).
Standalone: scripts/vm-run --disk-size 8G -- /usr/bin/python3 bench/fio_volblocksize.py
"""
import os

import benchlib
from benchlib import sh

SIZES = ("4K", "8K", "16K", "32K", "64K", "128K")
COMPRESSION = ("off", "lz4")
JOBS = (("randwrite", "4k"), ("write", "1M"), ("randread", "4k"), ("read", "1M"))
RUNTIME = os.environ.get("FIO_RUNTIME", "5")
FILE_SIZE = "128M"


def fio(path, rw, bs):
    out = sh("fio", "--output-format=json", "--name=ct", "--filename=" + path,
             "--size=" + FILE_SIZE, "--rw=" + rw, "--bs=" + bs, "--direct=1",
             "--ioengine=psync", "--time_based", "--runtime=" + RUNTIME, "--end_fsync=1",
             "--buffer_compress_percentage=50", "--refill_buffers", "--randrepeat=0")
    job = benchlib.fio_job(out)
    side = job["read"] if "read" in rw else job["write"]
    return side["io_bytes"], side["bw_bytes"], side["iops"]


def run():
    rows = []
    with benchlib.Scratch():
        for comp in COMPRESSION:
            for vbs in SIZES:
                name = "%s/fio" % benchlib.ROOT
                dev, mnt = benchlib.fresh_zvol(name, 1 << 30, vbs, compression=comp)
                path = os.path.join(mnt, "data")
                try:
                    sh("fio", "--name=layout", "--filename=" + path, "--size=" + FILE_SIZE,
                       "--rw=write", "--bs=1M", "--buffer_compress_percentage=50",
                       "--refill_buffers", "--end_fsync=1")
                    for rw, bs in JOBS:
                        sh("zpool", "sync", benchlib.POOL)
                        before = benchlib.disk_bytes(benchlib.disk())[1]
                        done, bw, iops = fio(path, rw, bs)
                        sh("zpool", "sync", benchlib.POOL)
                        pool_wrote = benchlib.disk_bytes(benchlib.disk())[1] - before
                        row = {"volblocksize": vbs, "compression": comp, "rw": rw, "bs": bs,
                               "bytes": done, "bw": bw, "iops": iops}
                        if "write" in rw:
                            row["amplification"] = pool_wrote / float(done) if done else None
                        rows.append(row)
                        print("vbs %-4s comp %-3s %-9s %-2s %8.1f MiB/s %8.0f IOPS%s"
                              % (vbs, comp, rw, bs, bw / 1048576.0, iops,
                                 "  write amplification %.2f" % row["amplification"]
                                 if "amplification" in row else ""), flush=True)
                    ratio = sh("zfs", "get", "-Hp", "-o", "value", "compressratio", name)
                    rows.append({"volblocksize": vbs, "compression": comp,
                                 "compressratio": float(ratio.strip().rstrip("x"))})
                finally:
                    benchlib.drop_zvol(name, mnt)
    return {"rows": rows, "runtime_s": int(RUNTIME), "file_size": FILE_SIZE}


if __name__ == "__main__":
    run()
