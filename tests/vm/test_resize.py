"""Disk space on real ZFS: DISKSPACE followed at start, online grow, offline shrink, trim."""
import os
import threading

from conftest import sh
from vzzfs_hooks import config, zfs


def volsize(node, ctid):
    return int(zfs.get(node.dataset(ctid), "volsize")["volsize"])


def fs_size(path):
    st = os.statvfs(path)
    return st.f_blocks * st.f_frsize


def set_diskspace(node, ctid, text):
    path = node.conffile(ctid)
    with open(path) as f:
        lines = [l for l in f.read().splitlines() if not l.startswith("DISKSPACE=")]
    with open(path, "w") as f:
        f.write("\n".join(lines + ['DISKSPACE="%s"' % text]) + "\n")


def test_start_grows_zvol_and_ext4_to_diskspace(node):
    node.make_ct(101, size=128 << 20)
    set_diskspace(node, 101, "256M:256M")  # what vzctl set --diskspace --save writes
    assert node.vzctl.start(101).rc == 0
    assert volsize(node, 101) == 256 << 20
    assert fs_size(node.root(101)) > 180 << 20  # 256M less the 32M journal and metadata
    assert node.vzctl.stop(101).rc == 0
    set_diskspace(node, 101, "131072")  # KiB, below the zvol: never shrunk at start
    res = node.vzctl.start(101)
    assert res.rc == 0 and "vzzfs resize 101 128M" in res.output, res
    assert volsize(node, 101) == 256 << 20
    assert node.vzctl.stop(101).rc == 0


def test_online_grow_with_a_writer_running(node):
    node.make_ct(101, size=128 << 20)
    assert node.vzctl.start(101).rc == 0
    stop = threading.Event()
    written = []

    def writer():
        i = 0
        while not stop.is_set():
            with open(os.path.join(node.root(101), "root/w%d" % (i % 50)), "wb") as f:
                f.write(b"x" * 65536)
                f.flush()
                os.fsync(f.fileno())
            written.append(i)
            i += 1
    t = threading.Thread(target=writer)
    t.start()
    try:
        res = node.vzzfs("resize", "101", "384M")
    finally:
        stop.set()
        t.join()
    assert res.returncode == 0 and "grown" in res.stdout, res.stdout
    assert volsize(node, 101) == 384 << 20 and fs_size(node.root(101)) > 300 << 20
    assert written, "the writer kept going"
    assert config.parse_file(node.conffile(101))["DISKSPACE"] == "393216:393216"
    assert node.vzctl.stop(101).rc == 0
    assert node.vzctl.start(101).rc == 0, "fsck -p is clean after the online grow"
    assert node.vzctl.stop(101).rc == 0


def test_shrink_needs_a_stopped_ct_and_room(node):
    node.make_ct(101, size=256 << 20)
    assert node.vzctl.start(101).rc == 0
    res = node.vzzfs("resize", "101", "128M")
    assert res.returncode == 7 and "stopped" in res.stdout, res.stdout
    with open(os.path.join(node.root(101), "root/big"), "wb") as f:
        f.write(os.urandom(100 << 20))
    assert node.vzctl.stop(101).rc == 0
    res = node.vzzfs("resize", "101", "130M")
    assert res.returncode == 2 and "needs at least" in res.stdout, res.stdout
    assert volsize(node, 101) == 256 << 20
    res = node.vzzfs("resize", "101", "200M")
    assert res.returncode == 0 and "shrunk" in res.stdout, res.stdout
    assert volsize(node, 101) == 200 << 20
    sh("e2fsck", "-fn", os.path.realpath("/dev/zvol/" + node.dataset(101)))
    assert node.vzctl.start(101).rc == 0
    assert os.path.getsize(os.path.join(node.root(101), "root/big")) == 100 << 20
    assert node.vzctl.stop(101).rc == 0


def test_bad_sizes_are_refused(node):
    node.make_ct(101, size=128 << 20)
    for bad in ("-1", "10Q", "abc", "1:2:3"):
        res = node.vzzfs("resize", "101", bad)
        assert res.returncode == 2 and "size" in res.stdout, (bad, res.stdout)
    res = node.vzzfs("resize", "101", "1M")
    assert res.returncode == 2 and "too small" in res.stdout
    assert volsize(node, 101) == 128 << 20


def test_trim_gives_space_back(node):
    node.make_ct(101, size=256 << 20)
    assert node.vzctl.start(101).rc == 0
    big = os.path.join(node.root(101), "root/big")
    with open(big, "wb") as f:
        f.write(os.urandom(120 << 20))
    sh("sync")
    sh("zpool", "sync")
    used_full = int(zfs.get(node.dataset(101), "used")["used"])
    os.unlink(big)
    sh("sync")
    res = node.vzzfs("trim", "101")
    assert res.returncode == 0 and "given back" in res.stdout, res.stdout
    sh("zpool", "sync")
    used_after = int(zfs.get(node.dataset(101), "used")["used"])
    assert used_after < used_full - (80 << 20), (used_full, used_after)
    res = node.vzzfs("list", "-o", "ctid,inodes")
    assert "/" in res.stdout.splitlines()[1], res.stdout
    assert node.vzctl.stop(101).rc == 0
