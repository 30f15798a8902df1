#!/usr/bin/python3
"""Benchmark: premount + postumount of one CT on a full node (issue 28).

premount refuses a zvol still mounted in another mount namespace, postumount
warns of one, and the claim rule reads the CT confs for one naming the zvol: on
a node with hundreds of running CTs (each with its namespaces and processes)
that work could grow with the node. One vzzfs CT's vps.premount and
vps.postumount run as vzctl runs them (its environment, nothing else), median of
ROUNDS cycles, with 1 other mount namespace alive (the baseline), then 50 and
200 (`unshare -m` sleepers, each a copy of the VM's mount table), then with CONFS
more CT confs (simfs CTs, as a node of CONFS CTs has), each load measured
between two runs of the baseline and taken as a ratio to their mean: the VM's
speed drifts (other VMs on the machine) by more than the effect looked for.
Also the cost per namespace of reading every namespace's mount table, as
premount did before it asked sysfs first.
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
    r = {"rounds": ROUNDS, "namespaces": list(NAMESPACES), "confs": CONFS, "blocks": []}
    with benchlib.Scratch() as node:
        node.make_ct(101)
        devno = mounts.devno_of(zvoldev.find_device(node.dataset(101), 10))
        cycles(node, 101)  # bytecode and caches warm
        conf = open(node.conffile(101)).read()
        base = sleepers(NAMESPACES[0])  # the one other namespace every block has
        try:
            # each load between two baselines: the VM's speed drifts (other VMs on the
            # machine, the host's caches) by more than the effect looked for
            for load in ["base"] + [x for n in NAMESPACES[1:] + ("confs",)
                                    for x in (n, "base")]:
                more = []
                if load == "confs":
                    for i in range(CONFS):
                        with open(node.conffile(FIRST + i), "w") as f:
                            f.write(conf.replace("DISKSPACE=", "HOSTNAME=\"ct%d\"\nDISKSPACE=" % i))
                elif load != "base":
                    more = sleepers(load - NAMESPACES[0])
                try:
                    took = cycles(node, 101)
                    scan = benchlib.median([scan_all(devno) for _ in range(ROUNDS)])
                finally:
                    for p in more:
                        p.kill()
                        p.wait()
                    if load == "confs":
                        for i in range(CONFS):
                            os.unlink(node.conffile(FIRST + i))
                what = ("%d namespaces" % NAMESPACES[0] if load == "base" else
                        "%d CT confs more" % CONFS if load == "confs" else "%d namespaces" % load)
                r["blocks"].append({"load": what, "base": load == "base", "s": took,
                                    "scan_s": scan})
                print("%s: %.2f s, full scan %.3f s" % (what, benchlib.median(took), scan),
                      flush=True)
        finally:
            for p in base:
                p.kill()
                p.wait()
    blocks = r["blocks"]
    r["ratios"] = {}
    for i, b in enumerate(blocks):
        if not b["base"]:  # against the mean of the baselines just before and after
            b["base_s"] = (benchlib.median(blocks[i - 1]["s"])
                           + benchlib.median(blocks[i + 1]["s"])) / 2
            b["ratio"] = benchlib.median(b["s"]) / b["base_s"]
            r["ratios"][b["load"]] = b["ratio"]
    benchlib.table(("node, in the order run", "premount+postumount median s",
                    "ratio to the baselines around it", "reading every table s"),
                   [(b["load"] + (" (baseline)" if b["base"] else ""),
                     "%.2f" % benchlib.median(b["s"]),
                     "%.2f" % b["ratio"] if "ratio" in b else "", "%.3f" % b["scan_s"])
                    for b in blocks])
    return r


if __name__ == "__main__":
    run()
