#!/usr/bin/python3
"""Benchmark: how close to its floor any create by clone can come on this rig.

Issue "Streams move what is stored..." asks create by clone for at most 1.3x a
bare `zfs clone` plus one `python3 -S` start. This measures, in ROUNDS
interleaved rounds (each round every figure once, medians), that floor, `vzzfs
create` by clone of a small imported template, and the least a create could be
made of if it did nothing but what cannot be left out, with no zfs process at
all (libzfs_core called directly through ctypes, here only):

- the clone with its owner property (`org.openvz.vzzfs:ctid`, which every
  verb's claim rule checks from the moment the zvol exists): lzc_clone with a
  property list. OpenZFS sets the properties in a second sync task after the
  clone's, so this is two transaction groups where the floor's clone is one;
  lzc_clone with no properties is measured beside it;
- a Python start that loads libzfs_core and libnvpair (ctypes);
- the reads before it (is the template's snapshot there, its size, the new
  name free, the pool's space): create's one `zfs get`, or a read-only channel
  program (lzc_channel_program_nosync), the cheapest read ZFS offers.
pyzfs's import (its cffi declarations parsed) is measured too. Every figure
starts from a synced pool (`zpool sync`).
Standalone: scripts/vm-run --cpus 1 -- /usr/bin/python3 bench/clone_floor.py
"""
import ctypes
import os
import subprocess

import benchlib
import create_clone_vs_unpack  # its tarball maker
from benchlib import sh

ROUNDS = 9
TEMPLATE = "t8"
DISKSPACE = "4G"  # as create_clone_vs_unpack: above the fitted template, so a clone
OWNER = "org.openvz.vzzfs:ctid"
# a read-only channel program: the properties of the names that exist, as one string
# of length-prefixed fields (name, property, value), to read with nvlist_lookup_string
READ_PROGRAM = b"""
local args = ...
local out = {}
for i, name in ipairs(args["names"]) do
  if zfs.exists(name) then
    for j, prop in ipairs(args["props"]) do
      local v = zfs.get_prop(name, prop)
      if v ~= nil then
        for k, s in ipairs({name, prop, tostring(v)}) do out[#out + 1] = #s .. ":" .. s end
      end
    end
  end
end
return table.concat(out)
"""


class Lzc(object):
    """libzfs_core and libnvpair through ctypes: the calls measured here, nothing more."""

    def __init__(self):
        p, s, n = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint
        self.nv = ctypes.CDLL("libnvpair.so.3")
        self.lib = ctypes.CDLL("libzfs_core.so.3")
        self.nv.nvlist_alloc.argtypes = (ctypes.POINTER(p), n, ctypes.c_int)
        self.nv.nvlist_add_string.argtypes = (p, s, s)
        self.nv.nvlist_add_string_array.argtypes = (p, s, ctypes.POINTER(s), n)
        self.nv.nvlist_lookup_string.argtypes = (p, s, ctypes.POINTER(s))
        self.nv.nvlist_free.argtypes = (p,)
        self.lib.lzc_clone.argtypes = (s, s, p)
        self.lib.lzc_channel_program_nosync.argtypes = (s, s, ctypes.c_uint64, ctypes.c_uint64,
                                                        p, ctypes.POINTER(p))
        if self.lib.libzfs_core_init():
            raise RuntimeError("libzfs_core_init failed")

    def _nvlist(self, strings=(), arrays=()):
        nvl = ctypes.c_void_p()
        if self.nv.nvlist_alloc(ctypes.byref(nvl), 1, 0):  # NV_UNIQUE_NAME
            raise MemoryError()
        for k, v in strings:
            self.nv.nvlist_add_string(nvl, k.encode(), v.encode())
        for k, values in arrays:
            arr = (ctypes.c_char_p * len(values))(*[v.encode() for v in values])
            self.nv.nvlist_add_string_array(nvl, k.encode(), arr, len(values))
        return nvl

    def clone(self, target, origin, props=()):
        nvl = self._nvlist(props)
        try:
            rc = self.lib.lzc_clone(target.encode(), origin.encode(), nvl)
        finally:
            self.nv.nvlist_free(nvl)
        if rc:
            raise OSError(rc, "lzc_clone %s: %s" % (target, os.strerror(rc)))

    def read(self, pool, names, props):
        """{name: {prop: value}} of those of ``names`` that exist."""
        args = self._nvlist(arrays=(("names", names), ("props", props)))
        out = ctypes.c_void_p()
        try:
            rc = self.lib.lzc_channel_program_nosync(pool.encode(), READ_PROGRAM, 10 ** 7,
                                                     10 << 20, args, ctypes.byref(out))
            text = ctypes.c_char_p()
            if rc or self.nv.nvlist_lookup_string(out, b"return", ctypes.byref(text)):
                raise OSError(rc, "channel program: %s" % os.strerror(rc))
            text = text.value.decode()
        finally:
            self.nv.nvlist_free(args)
            if out:
                self.nv.nvlist_free(out)
        fields, i = [], 0
        while i < len(text):
            size, _, _ = text[i:].partition(":")
            start = i + len(size) + 1
            fields.append(text[start:start + int(size)])
            i = start + int(size)
        found = {}
        for k in range(0, len(fields), 3):
            found.setdefault(fields[k], {})[fields[k + 1]] = fields[k + 2]
        return found


def run():
    lzc = Lzc()
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
                lambda ds: lzc.clone(ds, golden, ((OWNER, "1"),)))),
            ("lzc_clone, no property", clone_figure(lambda ds: lzc.clone(ds, golden))),
            ("python3 -S loading libzfs_core", lambda: benchlib.timed(
                sh, "/usr/bin/python3", "-S", "-c", python_lzc)[0]),
            ("create's zfs get", lambda: benchlib.timed(
                subprocess.run, ["zfs", "get", "-Hp", "-o", "name,property,value",
                                 ",".join(props)] + names,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)[0]),
            ("channel program read", lambda: benchlib.timed(lzc.read, pool, names, props)[0]),
            ("python3 importing pyzfs", lambda: benchlib.timed(
                sh, "/usr/bin/python3", "-c", "import libzfs_core")[0]),
        )
        found = lzc.read(pool, names, props)
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
