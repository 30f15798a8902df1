#!/usr/bin/python3
"""Benchmark: the bytes vzzfs's streams carry and the time they take, against bare zfs
commands on the same snapshots (issue 28).

A stopped CT holds FILL_MIB of a distribution's /usr (documentation, headers,
Python's library, compilers' libraries: ordinary files lz4 compresses about 2x),
copied from the VM's /usr. In one run, each vzzfs command against the bare zfs
command on the same snapshot:
- bytes: a full backup file against `zfs send -c > file`; a full and an
  incremental `vzzfs send` (what `vzzfs list` shows as MOVED) against
  `zfs send -c [-i]`; the plain stream vzzfs wrote before (`zfs send -p`) too.
- time: `vzzfs backup --to FILE` against `zfs send -c > file`; `vzzfs restore
  FILE` into a second pool against `zfs receive < file`; `vzzfs send` to that
  pool (a second node's `vzzfs receive`) against `zfs send -c | zfs receive`;
  and the relay vzzfs had (zfs send's output copied through Python,
  runner.pump) against the bare `zfs send -c > file`.
Before each timed command the blocks it reads are read once (the snapshot's
stream, or the backup file), so every figure reads from memory alike: the files
and datasets written on the way evict the ARC, and the first reader would pay
for the disk. The same commands on a CT of a few files give each command's fixed
cost (Python, locks, the snapshot, holds, the peer's `--status`, the zfs commands
around the stream), which the ratios at FILL_MIB include.
Standalone: scripts/vm-run --disk-size 8G -- scripts/vm-local-files /usr/bin/python3 bench/stream_transfer.py
"""
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

import benchlib
from benchlib import sh
from harness.node import TestNode  # benchlib has put tests/ on sys.path

FILL_MIB = int(os.environ.get("VZZFS_BENCH_FILL_MIB", "1100"))
MORE = "/usr/lib/python3"  # what the increment adds (and it deletes /usr/include)
POOL2 = "vz2"
RELAY = ("import sys; sys.path.insert(0, %r); from vzzfs_hooks.base import runner; "
         "runner.pump(sys.stdin.buffer, sys.stdout.buffer)" % benchlib.REPO)


def bash(cmd):
    return sh("bash", "-o", "pipefail", "-c", cmd)


def timed_bash(cmd):
    return benchlib.timed(bash, cmd)[0]


def stream_bytes(cmd):
    """The bytes a command writes on its stdout."""
    return int(bash(cmd + " | wc -c").split()[0])


vzzfs = benchlib.vzzfs_ok


def fill(node, ctid):
    """FILL_MIB of /usr into the CT (benchlib.copy_usr); the bytes it holds."""
    vzzfs(node, "attach", str(ctid))
    total = benchlib.copy_usr(node.private(ctid), FILL_MIB)
    vzzfs(node, "detach", str(ctid))
    return total


def newest(node, ctid, prefix):
    rows = benchlib.zfs.list_datasets(node.dataset(ctid), ["name"], types="snapshot")
    return [r["name"] for r in rows if "@" + prefix in r["name"]][-1]


def moved(node, ctid):
    return json.loads(vzzfs(node, "list", str(ctid), "-j", "-o", "moved"))[0]["moved"]


def warm(snap, base=None):
    """Read a stream's blocks once, into the ARC."""
    bash("zfs send -c %s%s | cat > /dev/null" % ("-i %s " % base if base else "", snap))


def warm_file(path):
    bash("cat %s > /dev/null" % path)


def pairs(node, node2, ctid, files, r, prefix=""):
    """backup, restore and a full send of CT ``ctid``, each against its bare zfs command,
    into ``r`` under keys starting with ``prefix``."""
    backup_file, bare_file = files + "/backup", files + "/bare"
    ds = node.dataset(ctid)
    sh("zfs", "snapshot", ds + "@warm")
    warm(ds + "@warm")  # the backup's snapshot will hold the same blocks
    sh("zfs", "destroy", ds + "@warm")
    r[prefix + "backup_s"] = benchlib.timed(vzzfs, node, "backup", str(ctid), "--to",
                                            backup_file)[0]
    snap = newest(node, ctid, "vzzfs-backup-")
    warm(snap)
    r[prefix + "bare_file_s"] = timed_bash("zfs send -c %s > %s" % (snap, bare_file))
    r[prefix + "backup_bytes"] = os.path.getsize(backup_file)
    r[prefix + "bare_file_bytes"] = os.path.getsize(bare_file)

    node2.track(200 + ctid)
    warm_file(backup_file)
    r[prefix + "restore_s"] = benchlib.timed(vzzfs, node2, "restore", backup_file,
                                             "--ctid", str(200 + ctid))[0]
    warm_file(bare_file)
    r[prefix + "bare_restore_s"] = timed_bash("zfs receive %s/bare1 < %s" % (POOL2, bare_file))
    benchlib.destroy(POOL2 + "/bare1")
    os.unlink(backup_file)
    os.unlink(bare_file)

    to = "%s/bin/vzzfs --etc-dir %s receive" % (benchlib.REPO, node2.etc)
    node2.track(ctid)
    sh("zfs", "snapshot", ds + "@warm")
    warm(ds + "@warm")
    sh("zfs", "destroy", ds + "@warm")
    r[prefix + "send_s"] = benchlib.timed(vzzfs, node, "send", str(ctid), "--to", to)[0]
    first = newest(node, ctid, "vzzfs-send-")
    r[prefix + "send_bytes"] = moved(node, ctid)
    warm(first)
    r[prefix + "bare_send_s"] = timed_bash("zfs send -c %s | zfs receive %s/bare2"
                                           % (first, POOL2))
    r[prefix + "bare_send_bytes"] = stream_bytes("zfs send -c %s" % first)
    return to, first


def run():
    r = {"fill_mib": FILL_MIB}
    with benchlib.Scratch() as node:
        disk2 = os.environ["VZZFS_TEST_DISKS"].split()[1]
        sh("zpool", "create", "-f", "-O", "canmount=off", "-O", "mountpoint=none", POOL2, disk2)
        node2 = None
        try:
            sh("zfs", "create", "-p", "-o", "canmount=off", POOL2 + "/vzzfs/ct")
            node2 = TestNode(tempfile.mkdtemp(prefix="vzzfs-bench-") + "/node2",
                             root=POOL2 + "/vzzfs", real=False)
            files = tempfile.mkdtemp(prefix="vzzfs-bench-files-")
            # backup files on the second pool, uncompressed: no compression hides their size
            sh("zfs", "create", "-o", "mountpoint=" + files, "-o", "compression=off",
               POOL2 + "/files")
            # the fixed costs: the same commands on a CT of a few files
            node.make_ct(102)
            pairs(node, node2, 102, files, r, "fixed_")
            benchlib.destroy(POOL2 + "/bare2")
            node.make_ct(101, size=4 << 30)
            r["copied"] = fill(node, 101)
            r.update({k: int(v) if v.isdigit() else v for k, v in benchlib.zfs.get(
                node.dataset(101), "logicalreferenced", "referenced", "compressratio").items()})
            to, first = pairs(node, node2, 101, files, r)
            snap = first
            r["plain_bytes"] = stream_bytes("zfs send -p %s" % snap)
            # the relay vzzfs had, against the bare command right after it (neither
            # file removed before both are written: freeing one slows the next write)
            relay_file = files + "/relay"
            warm(snap)
            r["relay_s"] = timed_bash("zfs send -c %s | %s -S -c %s > %s"
                                      % (snap, sys.executable, shlex.quote(RELAY), relay_file))
            warm(snap)
            r["bare_relay_base_s"] = timed_bash("zfs send -c %s > %s.bare" % (snap, relay_file))
            os.unlink(relay_file)
            os.unlink(relay_file + ".bare")

            vzzfs(node, "attach", "101")
            sh("cp", "-a", MORE, node.private(101) + "/again")
            shutil.rmtree(node.private(101) + "/usr/include", ignore_errors=True)
            vzzfs(node, "detach", "101")
            sh("zfs", "snapshot", node.dataset(101) + "@warm")
            warm(node.dataset(101) + "@warm", first)
            sh("zfs", "destroy", node.dataset(101) + "@warm")
            r["incr_s"] = benchlib.timed(vzzfs, node, "send", "101", "--to", to)[0]
            second = newest(node, 101, "vzzfs-send-")
            r["incr_bytes"] = moved(node, 101)
            warm(second, first)
            r["bare_incr_s"] = timed_bash("zfs send -c -i %s %s | zfs receive %s/bare2"
                                          % (first, second, POOL2))
            r["bare_incr_bytes"] = stream_bytes("zfs send -c -i %s %s" % (first, second))
            r["plain_incr_bytes"] = stream_bytes("zfs send -p -i %s %s" % (first, second))
        finally:
            if node2 is not None:
                node2.cleanup()
            subprocess.run(["zpool", "destroy", "-f", POOL2])
    r["ratios"] = {
        "backup bytes": r["backup_bytes"] / float(r["bare_file_bytes"]),
        "full send bytes": r["send_bytes"] / float(r["bare_send_bytes"]),
        "incremental send bytes": r["incr_bytes"] / float(r["bare_incr_bytes"]),
        "backup time": r["backup_s"] / r["bare_file_s"],
        "restore time": r["restore_s"] / r["bare_restore_s"],
        "send time": r["send_s"] / r["bare_send_s"],
        "incremental send time": r["incr_s"] / r["bare_incr_s"],
        "Python relay time": r["relay_s"] / r["bare_relay_base_s"],
    }
    r["fixed"] = {what: r["fixed_%s_s" % a] - r["fixed_%s_s" % b]
                  for what, a, b in (("backup", "backup", "bare_file"),
                                     ("restore", "restore", "bare_restore"),
                                     ("send", "send", "bare_send"))}
    mib = 1048576.0
    print("CT: %.0f MiB of files, logicalreferenced %.0f MiB, referenced %.0f MiB, "
          "compressratio %sx" % (r["copied"] / mib, r["logicalreferenced"] / mib,
                                 r["referenced"] / mib, r["compressratio"]))
    benchlib.table(("", "vzzfs MiB", "bare zfs send -c MiB", "ratio", "plain (-p) MiB"),
                   [("full backup file", "%.1f" % (r["backup_bytes"] / mib),
                     "%.1f" % (r["bare_file_bytes"] / mib),
                     "%.3f" % r["ratios"]["backup bytes"], "%.1f" % (r["plain_bytes"] / mib)),
                    ("full send", "%.1f" % (r["send_bytes"] / mib),
                     "%.1f" % (r["bare_send_bytes"] / mib),
                     "%.3f" % r["ratios"]["full send bytes"], "%.1f" % (r["plain_bytes"] / mib)),
                    ("incremental send", "%.1f" % (r["incr_bytes"] / mib),
                     "%.1f" % (r["bare_incr_bytes"] / mib),
                     "%.3f" % r["ratios"]["incremental send bytes"],
                     "%.1f" % (r["plain_incr_bytes"] / mib))])
    benchlib.table(("", "vzzfs s", "bare s", "ratio"),
                   [(what, "%.1f" % r[a], "%.1f" % r[b], "%.2f" % (r[a] / r[b]))
                    for what, a, b in (("backup > file", "backup_s", "bare_file_s"),
                                       ("restore < file", "restore_s", "bare_restore_s"),
                                       ("send | receive", "send_s", "bare_send_s"),
                                       ("incremental send", "incr_s", "bare_incr_s"),
                                       ("-c through the Python relay", "relay_s",
                                        "bare_relay_base_s"))])
    print("fixed cost (vzzfs - bare, a CT of a few files): %s" % ", ".join(
        "%s %.1f s" % kv for kv in sorted(r["fixed"].items())))
    return r


if __name__ == "__main__":
    run()
