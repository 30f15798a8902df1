#!/usr/bin/python3
"""Benchmark: creating a CT by cloning an imported template vs unpacking its tarball.

Run inside the test VM:  scripts/vm-run --disk-size 6G -- /usr/bin/python3 bench/create_clone_vs_unpack.py
Prints, for a small and a large template, the seconds each way and their ratio.
Clone-create should stay flat as the template grows; unpack-create grows with it.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

BASE = tempfile.mkdtemp(prefix="vzzfs-bench-")
ETC = BASE + "/etc/vz"


def sh(*argv):
    subprocess.run(list(argv), check=True, stdout=subprocess.DEVNULL)


def vzzfs(*args):
    res = subprocess.run([sys.executable, "-m", "vzzfs_hooks", "--etc-dir", ETC] + list(args),
                         cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True)
    if res.returncode:
        sys.exit("bench: vzzfs %s failed: %s" % (" ".join(args), res.stdout))


def tarball(name, mb):
    tree = os.path.join(BASE, "tree")
    os.makedirs(tree + "/usr/lib")
    for i in range(mb):  # 1 MiB files of half-compressible data, like binaries
        with open("%s/usr/lib/f%04d" % (tree, i), "wb") as f:
            f.write(os.urandom(1 << 19) + bytes(1 << 19))
    sh("tar", "-czf", "%s/vz/template/cache/%s.tar.gz" % (BASE, name), "-C", tree, ".")
    shutil.rmtree(tree)


def timed(*args):
    start = time.monotonic()
    vzzfs(*args)
    return time.monotonic() - start


def main():
    disk = os.environ["VZZFS_TEST_DISKS"].split()[0]
    sh("zpool", "create", "-f", "-O", "canmount=off", "-O", "mountpoint=none", "vz", disk)
    try:
        for d in ("conf", "../../vz/private", "../../vz/root", "../../vz/lock",
                  "../../vz/template/cache"):
            os.makedirs(os.path.normpath(os.path.join(ETC, d)), exist_ok=True)
        with open(ETC + "/vz.conf", "w") as f:
            f.write("VE_PRIVATE=%s/vz/private/$VEID\nVE_ROOT=%s/vz/root/$VEID\n"
                    "LOCKDIR=%s/vz/lock\nTEMPLATE=%s/vz/template\n" % (BASE, BASE, BASE, BASE))
        with open(ETC + "/vzzfs.conf", "w") as f:
            f.write('VZZFS_SPARSE="yes"\n')
        print("%-10s %8s %12s %12s %8s" % ("template", "size", "unpack (s)", "clone (s)", "ratio"))
        ctid = 100
        for name, mb in (("small", 32), ("large", 512)):
            tarball(name, mb)
            ctid += 1
            unpack = timed("create", str(ctid), "--ostemplate", name, "--diskspace", "2G")
            vzzfs("template", "import", name, "--size", "1G")
            ctid += 1
            clone = timed("create", str(ctid), "--ostemplate", name, "--diskspace", "2G")
            print("%-10s %6dM %12.2f %12.2f %8.2f" % (name, mb, unpack, clone, clone / unpack))
    finally:
        subprocess.run(["zpool", "destroy", "-f", "vz"])
        shutil.rmtree(BASE, ignore_errors=True)


if __name__ == "__main__":
    main()
