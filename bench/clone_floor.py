#!/usr/bin/python3
"""Benchmark: how close to its floor any create by clone can come on this rig.

Issue "Streams move what is stored..." asks create by clone for at most 1.3x a
bare `zfs clone` plus one `python3 -S` start. This measures, in ROUNDS
interleaved rounds (each round every figure once, medians), that floor, `vzzfs
create` by clone of a small imported template, and the least a create could be
made of if it did nothing but what cannot be left out, with no zfs process at
all (libzfs_core called through ctypes, system/lzc.py, as create does since
this benchmark showed the way):

- the clone with its owner property (`org.openvz.vzzfs:ctid`, which every
  verb's claim rule checks from the moment the zvol exists): lzc_clone with a
  property list. OpenZFS sets the properties in a second sync task after the
  clone's, so this is two transaction groups where the floor's clone is one;
  lzc_clone with no properties is measured beside it;
- a Python start that loads libzfs_core and libnvpair (ctypes);
- the reads before it (is the template's snapshot there, its size, the new
  name free, the pool's space): a read-only channel program
  (lzc_channel_program_nosync, what create reads through), or the one `zfs
  get` create ran before and runs where the library does not load.
pyzfs's import (its cffi declarations parsed) is measured too. Every figure
starts from a synced pool (`zpool sync`).
Standalone: scripts/vm-run --cpus 1 -- /usr/bin/python3 bench/clone_floor.py
"""
import os
import subprocess

import benchlib
import create_clone_vs_unpack  # its tarball maker
from benchlib import sh
from vzzfs_hooks.system import lzc as lzc_calls  # benchlib has put the repo on sys.path

ROUNDS = 9
TEMPLATE = "t8"
DISKSPACE = "4G"  # as create_clone_vs_unpack: above the fitted template, so a clone
OWNER = "org.openvz.vzzfs:ctid"
def _clone(lzc, target, origin, props):
    code = lzc.clone(target, origin, props)
    if code:
        raise OSError(code, "lzc_clone %s: %s" % (target, os.strerror(code)))


def run():
    lzc = lzc_calls.load()
    if lzc is None:
        raise RuntimeError("libzfs_core.so.3 does not load")
    r = {"rounds": ROUNDS, "s": {}}
    with benchlib.Scratch('VZZFS_SPARSE="yes"\n') as node:
        cache = os.path.join(node.base, "vz/template/cache")
        os.makedirs(cache, exist_ok=True)
        create_clone_vs_unpack.tarball(os.path.join(cache, TEMPLATE + ".tar.gz"), 8)
        benchlib.vzzfs_ok(node, "template", "import", TEMPLATE)
        golden = "%s/tmpl/%s@golden" % (node.zroot, TEMPLATE)
        pool = node.zroot.split("/")[0]
        scratch = node.zroot + "/floor"
        sh("zfs", "create", "-o", "canmount=off", scratch)
        names = [golden, node.dataset(999), pool, node.zroot + "/ct"]
        props = ["volsize", "org.openvz.vzzfs:layout", OWNER, "used", "available"]
        # what create's read asks of each (zfs.read_many)
        wanted = [(golden, ("volsize", "org.openvz.vzzfs:layout")), (node.dataset(999), (OWNER,)),
                  (pool, ("used", "available")), (node.zroot + "/ct", ())]
        count = [0]

        def target():
            count[0] += 1
            return "%s/c%d" % (scratch, count[0])

        def create():
            count[0] += 1
            ctid = 200 + count[0]
            node.track(ctid)
            out = benchlib.vzzfs_ok(node, "create", str(ctid), "--ostemplate", TEMPLATE,
                                    "--diskspace", DISKSPACE)
            if "cloned from template" not in out:
                raise RuntimeError("vzzfs create did not clone: %s" % out)

        def clone_figure(fn):
            def figure():
                ds = target()
                took = benchlib.timed(fn, ds)[0]
                benchlib.destroy(ds)
                return took
            return figure

        python_lzc = ("import ctypes; ctypes.CDLL('libnvpair.so.3'); "
                      "ctypes.CDLL('libzfs_core.so.3').libzfs_core_init()")
        figures = (
            ("bare zfs clone", clone_figure(lambda ds: sh("zfs", "clone", golden, ds))),
            ("python3 -S", lambda: benchlib.timed(sh, "/usr/bin/python3", "-S", "-c", "pass")[0]),
            ("vzzfs create by clone", lambda: benchlib.timed(create)[0]),
            ("zfs clone -o (vzzfs's properties)", clone_figure(lambda ds: sh(
                "zfs", "clone", "-o", "compression=lz4", "-o", "dedup=off", "-o",
                "primarycache=all", "-o", OWNER + "=1", "-o", "org.openvz.vzzfs:layout=legacy",
                "-o", "org.openvz.vzzfs:template=" + TEMPLATE, golden, ds))),
            ("lzc_clone, owner property", clone_figure(
                lambda ds: _clone(lzc, ds, golden, {OWNER: "1"}))),
            ("lzc_clone, no property", clone_figure(lambda ds: _clone(lzc, ds, golden, {}))),
            ("python3 -S loading libzfs_core", lambda: benchlib.timed(
                sh, "/usr/bin/python3", "-S", "-c", python_lzc)[0]),
            ("create's zfs get", lambda: benchlib.timed(
                subprocess.run, ["zfs", "get", "-Hp", "-o", "name,property,value",
                                 ",".join(props)] + names,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)[0]),
            ("channel program read", lambda: benchlib.timed(lzc.read, pool, wanted)[0]),
            ("python3 importing pyzfs", lambda: benchlib.timed(
                sh, "/usr/bin/python3", "-c", "import libzfs_core")[0]),
        )
        found = lzc.read(pool, wanted)
        if set(found) != {golden, pool, node.zroot + "/ct"} or OWNER in found[golden]:
            raise RuntimeError("the channel program read %r" % found)
        for figure in figures:  # warm: bytecode, libraries, the template's blocks
            figure[1]()
        for _ in range(ROUNDS):
            for name, figure in figures:
                # each figure starts from a synced pool: no destroy or create of the figure
                # before it still in the transaction group its sync task waits for
                sh("zpool", "sync", pool)
                r["s"].setdefault(name, []).append(figure())
    med = {k: benchlib.median(v) for k, v in r["s"].items()}
    floor = med["bare zfs clone"] + med["python3 -S"]
    least = med["lzc_clone, owner property"] + med["python3 -S loading libzfs_core"]
    r["floor_s"] = floor
    r["ratios"] = {
        "vzzfs create by clone": med["vzzfs create by clone"] / floor,
        "least: clone with owner, no reads": least / floor,
        "least, with a channel program's reads": (least + med["channel program read"]) / floor,
        "least, with create's zfs get": (least + med["create's zfs get"]) / floor,
    }
    benchlib.table(("figure", "median s", "min s", "max s"),
                   [(k, "%.3f" % med[k], "%.3f" % min(v), "%.3f" % max(v))
                    for k, v in r["s"].items()])
    print("floor (bare zfs clone + python3 -S): %.3f s" % floor)
    benchlib.table(("against the floor (goal 1.3x)", "ratio"),
                   [(k, "%.2fx" % v) for k, v in r["ratios"].items()])
    return r


if __name__ == "__main__":
    run()
