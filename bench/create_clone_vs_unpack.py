#!/usr/bin/python3
"""Benchmark: creating a CT by cloning an imported template vs unpacking its tarball.

For templates of 32 MiB, 256 MiB and 1 GiB of files (half-compressible, like
binaries) and, when the test VM has it, the debootstrapped Debian 12 template
(scripts/build-ct-template): seconds each way and their ratio, the size `vzzfs
template import` fitted the template zvol to, and what the clone's first
`vzctl mount` + `umount` (the real vzctl; premount grows the ext4 to DISKSPACE)
costs against the second, and the same clone made by hand (one `zfs clone`) plus
one `python3 -S` start: the floor a create by clone cannot go below (the goal of
issue "Performance near the limit": at most 1.3x it). Every CT gets --diskspace 4G.
VZZFS_BENCH_TEMPLATES=debian,32m (names, comma-separated) runs only those.
Standalone: scripts/vm-run --disk-size 8G -- /usr/bin/python3 bench/create_clone_vs_unpack.py
"""
import io
import os
import shutil
import sys
import tarfile

import benchlib
from benchlib import POOL, sh
from vzzfs_hooks.system import zfs  # benchlib has put the repo on sys.path

TEMPLATES = (("32m", 32), ("256m", 256), ("1g", 1024))  # name, MiB of files
# some of them (VZZFS_BENCH_TEMPLATES=debian,32m): the clone's floor needs no big one
ONLY = [n for n in os.environ.get("VZZFS_BENCH_TEMPLATES", "").split(",") if n]
DEBIAN = "/opt/vzzfs-test/template/debian-12-x86_64-minimal.tar.gz"
DISKSPACE = "4G"  # above every fitted template here (1 GiB of files fits in 2.2 GiB)


def tarball(path, mb):
    """A .tar.gz of ``mb`` 1 MiB files written straight into the archive (no tree on disk)."""
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for i in range(mb):
            data = os.urandom(1 << 19) + bytes(1 << 19)
            info = tarfile.TarInfo("./usr/lib/f%04d" % i)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


vzzfs = benchlib.vzzfs_ok


def cycle(node, ctid):
    for verb in ("mount", "umount"):
        res = node.vzctl.run(verb, ctid)
        if res.rc:
            raise RuntimeError("vzctl %s %s failed: %s" % (verb, ctid, res.output))


def run():
    rows = []
    with benchlib.Scratch('VZZFS_SPARSE="yes"\n') as node:
        cache = os.path.join(node.base, "vz/template/cache")
        # the tarballs live in the pool, not in the VM's RAM-backed /tmp
        sh("zfs", "create", "-o", "mountpoint=" + cache, "-o", "compression=off",
           POOL + "/tarballs")
        templates = [t for t in TEMPLATES if not ONLY or t[0] in ONLY]
        if os.path.isfile(DEBIAN) and (not ONLY or "debian" in ONLY):
            shutil.copy(DEBIAN, cache)
            templates.insert(0, (os.path.basename(DEBIAN)[:-len(".tar.gz")], None))
        ctid = 100
        for name, mb in templates:
            path = os.path.join(cache, name + ".tar.gz")
            if mb:
                tarball(path, mb)
            ctid += 1
            node.track(ctid)
            unpack = benchlib.timed(vzzfs, node, "create", str(ctid), "--ostemplate", name,
                                    "--diskspace", DISKSPACE)[0]
            imported = benchlib.timed(vzzfs, node, "template", "import", name)[0]
            tmpl_size = int(zfs.get(node.zroot + "/tmpl/" + name, "volsize")["volsize"])
            ctid += 1
            node.track(ctid)
            took, out = benchlib.timed(vzzfs, node, "create", str(ctid), "--ostemplate", name,
                                       "--diskspace", DISKSPACE)
            cloned = "cloned from template" in out
            # the platform's floor: the same clone by hand, one zfs command
            bare_ds = "%s/bare%d" % (node.zroot, ctid)
            bare = benchlib.timed(sh, "zfs", "clone", "%s/tmpl/%s@golden" % (node.zroot, name),
                                  bare_ds)[0]
            benchlib.destroy(bare_ds)
            # and the one Python start (-S, as bin/vzzfs) the command cannot go below
            python = benchlib.median([benchlib.timed(sh, sys.executable, "-S", "-c", "pass")[0]
                                      for _ in range(5)])
            first = benchlib.timed(cycle, node, ctid)[0]
            second = benchlib.timed(cycle, node, ctid)[0]
            rows.append({"template": name, "mib": mb, "tarball_bytes": os.path.getsize(path),
                         "template_volsize": tmpl_size, "unpack_s": unpack,
                         "import_s": imported, "clone_s": took, "cloned": cloned,
                         "bare_clone_s": bare, "python_start_s": python,
                         "floor_ratio": took / (bare + python),
                         "first_mount_s": first, "second_mount_s": second})
            print("%s: %r" % (name, rows[-1]), flush=True)  # kept in the log if a later one fails
            os.unlink(path)
    benchlib.table(("template", "tarball MiB", "template zvol MiB", "unpack s", "clone s",
                    "unpack/clone", "bare zfs clone s", "clone/(bare+python -S)", "import s",
                    "1st mount s", "2nd mount s"),
                   [(r["template"], "%.0f" % (r["tarball_bytes"] / (1 << 20)),
                     r["template_volsize"] >> 20, "%.1f" % r["unpack_s"], "%.2f" % r["clone_s"],
                     "%.0fx" % (r["unpack_s"] / r["clone_s"]), "%.2f" % r["bare_clone_s"],
                     "%.2fx" % r["floor_ratio"],
                     "%.1f" % r["import_s"],
                     "%.1f" % r["first_mount_s"], "%.1f" % r["second_mount_s"]) for r in rows])
    return {"rows": rows, "diskspace": DISKSPACE}


if __name__ == "__main__":
    run()
