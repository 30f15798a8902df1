#!/usr/bin/python3
"""Benchmark: how long a CT is down when it moves to another node, vzzfs migrate against
a cold copy with rsync -aHAX (what OpenVZ's transfer scripts do with the CT stopped).

A 2 GiB CT (DATA_MIB of incompressible files in it) runs with a writer inside (a new
numbered file every 0.2 s). vzzfs migrate sends the bulk while it runs, then stops it
for the last increment only; the downtime is from the source's `vzctl stop` (its
start) to the destination's `vzctl start` (its end), both read from timestamps the
vzctl wrappers write. The cold copy stops the same CT, rsyncs its files to a plain
directory of the other node, and starts it there: its downtime is all three. The
source is the real vzctl 4.11.1 (pool vz); the destination a second pool (vz2) with
the stand-in vzctl, as the VM tests' node pair (the real vzctl reads the one /etc/vz
a VM has). Prints the figures; no timing is asserted.
Standalone: scripts/vm-run --disk-size 8G -- /usr/bin/python3 bench/migrate_downtime.py
"""
import os
import shutil
import time

import benchlib

DATA_MIB = 1024
CT_SIZE = 2 << 30
VZZFS = os.path.join(benchlib.REPO, "bin", "vzzfs")


def _fill(node, ctid):
    """DATA_MIB of incompressible files in the CT's /root."""
    assert node.vzzfs("attach", str(ctid)).returncode == 0
    data = os.path.join(node.private(ctid), "root")
    chunk = os.urandom(1 << 20)
    for i in range(DATA_MIB // 64):
        with open(os.path.join(data, "bulk%03d" % i), "wb") as f:
            for j in range(64):
                f.write(chunk[j:] + chunk[:j])  # no two MiB alike: nothing dedups
    assert node.vzzfs("detach", str(ctid)).returncode == 0


def _stamping(path, real, log, verb, when):
    """A vzctl at ``path`` that runs ``real`` and appends "VERB WHEN TIME" to ``log``
    at the ``when`` (begin or end) of ``verb`` (after vzzfs's --skiplock, if any)."""
    with open(path, "w") as f:
        f.write("#!/bin/sh\nv=$1\n[ \"$v\" = --skiplock ] && v=$2\n"
                "stamp() { echo \"%s $1 $(date +%%s.%%N)\" >>'%s'; }\n"
                "[ \"$v\" = %s ] && [ %s = begin ] && stamp begin\n"
                "'%s' \"$@\"\nrc=$?\n"
                "[ \"$v\" = %s ] && [ %s = end ] && stamp end\n"
                "exit $rc\n" % (verb, log, verb, when, real, verb, when))
    os.chmod(path, 0o755)


def _stamps(log):
    out = {}
    with open(log) as f:
        for line in f:
            verb, when, t = line.split()
            out.setdefault((verb, when), float(t))
    return out


def _writer(node, ctid):
    return node.vzctl.exec_bg(ctid, ["sh", "-c", "i=0; while :; do echo $i > root/f.tmp && "
                                     "mv root/f.tmp root/f$i || exit; i=$((i+1)); sleep 0.2; "
                                     "done"])


def _migrate(src, dst, log):
    src.make_ct(101, size=CT_SIZE)
    _fill(src, 101)
    dst.track(101)
    assert src.vzctl.start(101).rc == 0
    writer = _writer(src, 101)
    time.sleep(2)
    stop_wrap = os.path.join(src.base, "vzctl-stamped")
    _stamping(stop_wrap, src.vzctl_bin, log, "stop", "begin")
    src.wrap_vzctl(stop_wrap + ".sh", "exec '%s' \"$@\"\n" % stop_wrap)
    stub = os.path.join(dst.base, "stamped")
    os.makedirs(stub)
    _stamping(os.path.join(stub, "vzctl"), dst.vzctl_bin, log, "start", "end")
    dest = "env VZZFS_ETC_DIR=%s PATH=%s:%s:/usr/sbin:/usr/bin:/sbin:/bin" % (
        dst.etc, stub, os.path.dirname(VZZFS))
    took, res = benchlib.timed(src.vzzfs, "migrate", "101", dest)
    writer.wait(timeout=120)
    assert res.returncode == 0, res.stdout
    s = _stamps(log)
    written = len([n for n in os.listdir(os.path.join(dst.root(101), "root"))
                   if n.startswith("f") and n[1:].isdigit()])
    assert dst.vzctl.stop(101).rc == 0
    return {"seconds": took, "down": s[("start", "end")] - s[("stop", "begin")],
            "writes": written, "output": res.stdout.strip().splitlines()[-1]}


def _rsync(src, dst):
    """The same CT stopped, its files copied cold to a plain directory there, started."""
    src.make_ct(102, size=CT_SIZE)
    _fill(src, 102)
    assert src.vzctl.start(102).rc == 0
    writer = _writer(src, 102)
    time.sleep(2)
    begin = time.monotonic()
    assert src.vzctl.stop(102).rc == 0
    writer.wait(timeout=120)
    assert src.vzzfs("attach", "102").returncode == 0
    try:
        target = dst.private(102)
        os.makedirs(target)
        copy_start = time.monotonic()
        benchlib.sh("rsync", "-aHAX", "--numeric-ids", src.private(102) + "/", target + "/")
        copied = time.monotonic() - copy_start
    finally:
        assert src.vzzfs("detach", "102").returncode == 0
    with open(dst.conffile(102), "w") as f:
        f.write('VE_LAYOUT="simfs"\nDISK_QUOTA="no"\n')
    assert dst.vzctl.start(102).rc == 0
    down = time.monotonic() - begin
    assert dst.vzctl.stop(102).rc == 0
    os.unlink(dst.conffile(102))
    shutil.rmtree(target)
    return {"down": down, "copy": copied}


def run():
    disk2 = os.environ["VZZFS_TEST_DISKS"].split()[1]
    with benchlib.Scratch() as src:
        benchlib.sh("zpool", "create", "-f", "-O", "canmount=off", "-O", "mountpoint=none",
                    "vz2", disk2)
        try:
            benchlib.sh("zfs", "create", "-p", "-o", "canmount=off", "vz2/vzzfs/ct")
            dst = benchlib.TestNode(os.path.join(os.path.dirname(src.base), "node2"),
                                    root="vz2/vzzfs", real=False)
            try:
                mig = _migrate(src, dst, os.path.join(src.base, "stamps"))
                cold = _rsync(src, dst)
            finally:
                dst.cleanup()
        finally:
            benchlib.sh("zpool", "destroy", "-f", "vz2")
    print("a %d GiB CT holding %d MiB, a writer inside: %s"
          % (CT_SIZE >> 30, DATA_MIB, mig["output"]))
    benchlib.table(("move", "down s", "whole move s"),
                   [("vzzfs migrate", "%.1f" % mig["down"], "%.1f" % mig["seconds"]),
                    ("rsync -aHAX, cold", "%.1f" % cold["down"], "%.1f" % cold["down"])])
    print("the rsync copy alone: %.1f s; files the writer made that arrived: %d"
          % (cold["copy"], mig["writes"]))
    return {"data_mib": DATA_MIB, "ct_size": CT_SIZE, "migrate": mig, "rsync": cold}


if __name__ == "__main__":
    run()
