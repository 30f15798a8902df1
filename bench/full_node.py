#!/usr/bin/python3
"""Benchmark: premount + postumount of one CT on a full node (issue 28).

premount refuses a zvol still mounted in another mount namespace, postumount
warns of one, and the claim rule reads the CT confs for one naming the zvol: on
a node with hundreds of running CTs (each with its namespaces and processes)
that work could grow with the node. One vzzfs CT's vps.premount and
vps.postumount run as vzctl runs them (its environment, nothing else), median of
ROUNDS cycles, with 1, 50 and 200 other mount namespaces alive (`unshare -m`
sleepers, each a copy of the VM's mount table) and 1 again (the baseline is the
mean of the two runs with 1: the VM's speed drifts), then with CONFS more CT
confs (simfs CTs, as a node of CONFS CTs has). Also the cost per namespace of reading
every namespace's mount table, as premount did before it asked sysfs first.
Standalone: scripts/vm-run -- scripts/vm-local-files /usr/bin/python3 bench/full_node.py
"""
import os
import subprocess
import time

import benchlib
from vzzfs_hooks.system import mounts, zvoldev  # benchlib has put the repo on sys.path

NAMESPACES = (1, 50, 200)
CONFS = 1000
ROUNDS = 7
FIRST = 5000


def hook(node, ctid, action):
    env = {"HOME": "/", "TERM": "linux", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
           "VEID": str(ctid), "VE_CONFFILE": node.conffile(ctid)}
    res = subprocess.run([os.path.join(node.etc, "conf", "vps." + action)], env=env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, universal_newlines=True)
    if res.returncode:
        raise RuntimeError("vps.%s of CT %s failed: %s" % (action, ctid, res.stdout))


def cycles(node, ctid):
    """Seconds of premount + postumount, one per round."""
    took = []
    for _ in range(ROUNDS):
        start = time.monotonic()
        hook(node, ctid, "premount")
        hook(node, ctid, "postumount")
        took.append(time.monotonic() - start)
    return took


def sleepers(n):
    procs = [subprocess.Popen(["unshare", "-m", "sleep", "3600"]) for _ in range(n)]
    deadline = time.monotonic() + 60
    own = os.readlink("/proc/self/ns/mnt")
    while time.monotonic() < deadline:  # each is in its own namespace once it sleeps
        if all(_ns(p.pid) not in (None, own) for p in procs):
            return procs
        time.sleep(0.1)
    raise RuntimeError("the unshare -m sleepers did not start")


def _ns(pid):
    try:
        return os.readlink("/proc/%d/ns/mnt" % pid)
    except OSError:
        return None


def scan_all(devno):
    """What premount did before: every other namespace's table read, timed."""
    start = time.monotonic()
    mounts.namespaces_using(devno)  # without fstype: no sysfs shortcut
    return time.monotonic() - start


def run():
    r = {"rounds": ROUNDS, "namespaces": list(NAMESPACES), "confs": CONFS, "by_ns": [],
         "scan_s": []}
    with benchlib.Scratch() as node:
        node.make_ct(101)
        devno = mounts.devno_of(zvoldev.find_device(node.dataset(101), 10))
        cycles(node, 101)  # bytecode and caches warm
        for n in NAMESPACES + (1,):  # one namespace again last: how much the VM drifts
            procs = sleepers(n)
            try:
                r["by_ns"].append(cycles(node, 101))
                r["scan_s"].append(benchlib.median([scan_all(devno) for _ in range(ROUNDS)]))
            finally:
                for p in procs:
                    p.kill()
                    p.wait()
            print("%d namespaces: %.2f s, full scan %.3f s" % (
                n, benchlib.median(r["by_ns"][-1]), r["scan_s"][-1]), flush=True)
        conf = open(node.conffile(101)).read()
        for i in range(CONFS):
            with open(node.conffile(FIRST + i), "w") as f:
                f.write(conf.replace("DISKSPACE=", "HOSTNAME=\"ct%d\"\nDISKSPACE=" % i))
        try:
            r["with_confs"] = cycles(node, 101)
        finally:
            for i in range(CONFS):
                os.unlink(node.conffile(FIRST + i))
    # the baseline: one other namespace, measured first and last
    base = (benchlib.median(r["by_ns"][0]) + benchlib.median(r["by_ns"][-1])) / 2
    r["base_s"] = base
    r["ratios"] = {"%d namespaces" % n: benchlib.median(t) / base
                   for n, t in zip(NAMESPACES, r["by_ns"])}  # the first 1 is the baseline's
    r["ratios"]["%d confs" % CONFS] = benchlib.median(r["with_confs"]) / base
    benchlib.table(("node", "premount+postumount median s", "ratio to 1 namespace",
                    "reading every table s"),
                   [("%d other mount namespaces" % n, "%.2f" % benchlib.median(t),
                     "%.2f" % (benchlib.median(t) / base), "%.3f" % s)
                    for n, t, s in zip(NAMESPACES + (1,), r["by_ns"], r["scan_s"])]
                   + [("%d CT confs more" % CONFS, "%.2f" % benchlib.median(r["with_confs"]),
                       "%.2f" % r["ratios"]["%d confs" % CONFS], "-")])
    return r


if __name__ == "__main__":
    run()
