"""Disk space on real ZFS: DISKSPACE followed at start, online grow, offline shrink, trim,
kill -9 in the middle of a resize, a nearly full pool, online discard."""
import os
import sys
import threading
import time

from conftest import REPO, TestNode, sh
from vzzfs_hooks.conf import config
from vzzfs_hooks.system import zfs


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
    # saved by vzctl set, which refuses a running CT's DISKSPACE without --diskquota no
    assert ("--skiplock set 101 --diskspace 393216:393216 --diskquota no --save"
            in open(node.vzctl_log).read().splitlines())
    assert node.vzctl.stop(101).rc == 0
    assert node.vzctl.start(101).rc == 0, "fsck -p is clean after the online grow"
    assert node.vzctl.stop(101).rc == 0


def test_resize_says_how_to_record_diskspace_when_vzctl_cannot(node, tmp_path):
    node.make_ct(101, size=128 << 20)
    assert node.vzctl.start(101).rc == 0
    node.wrap_vzctl(str(tmp_path / "vzctl"),  # vzctl as it fails without --diskquota no
                    '[ "$2" = set ] || exec "$VZCTL" "$@"\n'
                    "echo 'Error: Unable to apply new quota values: quota not running' >&2\n"
                    "exit 62\n")
    res = node.vzzfs("resize", "101", "256M")
    assert res.returncode == 1, res.stdout
    assert "are 256 MiB now, but vzctl did not save DISKSPACE" in res.stdout, res.stdout
    assert "quota not running" in res.stdout, res.stdout
    assert "vzctl set 101 --diskspace 262144:262144 --diskquota no --save" in res.stdout
    assert volsize(node, 101) == 256 << 20 and fs_size(node.root(101)) > 180 << 20
    assert node.vzctl.stop(101).rc == 0


def test_resize_under_an_ascii_locale_keeps_a_non_utf8_conf_byte(node):
    """cron's locale is ASCII (Python 3.6 reads text as ASCII then): a conf byte that is no
    text there must neither crash the resize half-way nor change (issue 16, case 8)."""
    node.make_ct(101, size=128 << 20)
    with open(node.conffile(101), "ab") as f:
        f.write(b'DESCRIPTION="Caf\xe9"\n')
    assert node.vzctl.start(101).rc == 0
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LC_", "LANG", "PYTHONIOENCODING", "PYTHONUTF8"))}
    env.update(LC_ALL="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0")  # as 3.6 under cron
    res = sh(sys.executable, "-m", "vzzfs_hooks", "--etc-dir", node.etc, "resize", "101", "256M",
             check=False, cwd=REPO, env=env)
    assert res.returncode == 0, res.stdout
    assert volsize(node, 101) == 256 << 20
    with open(node.conffile(101), "rb") as f:
        conf = f.read()
    assert b'DESCRIPTION="Caf\xe9"\n' in conf, conf
    assert config.parse_text(conf.decode("latin-1"))["DISKSPACE"] == "262144:262144", conf
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


def used_synced(node, ctid):
    """The zvol's 'used' once the page cache and the pool have written everything."""
    sh("sync")
    sh("zpool", "sync")
    return int(zfs.get(node.dataset(ctid), "used")["used"])


def write_then_delete(node, ctid, mib):
    """A file of ``mib`` random MiB in the running CT, deleted; the zvol's used with it."""
    big = os.path.join(node.root(ctid), "root/big")
    with open(big, "wb") as f:
        f.write(os.urandom(mib << 20))
    used_full = used_synced(node, ctid)
    os.unlink(big)
    return used_full


def test_trim_gives_space_back(node):
    node.make_ct(101, size=256 << 20)
    assert node.vzctl.start(101).rc == 0
    used_full = write_then_delete(node, 101, 120)
    sh("sync")
    res = node.vzzfs("trim", "101")
    assert res.returncode == 0 and "given back" in res.stdout, res.stdout
    used_after = used_synced(node, 101)
    assert used_after < used_full - (80 << 20), (used_full, used_after)
    res = node.vzzfs("list", "-o", "ctid,inodes")
    assert "/" in res.stdout.splitlines()[1], res.stdout
    assert node.vzctl.stop(101).rc == 0


def fs_bytes(node, ctid):
    """What the ext4's superblock says it spans."""
    out = sh("dumpe2fs", "-h", os.path.realpath("/dev/zvol/" + node.dataset(ctid))).stdout
    fields = dict(l.split(":", 1) for l in out.splitlines() if ":" in l)
    return int(fields["Block count"]) * int(fields["Block size"])


def killed_resize(node, ctid, size, point):
    env = dict(os.environ, VZZFS_FAULT=point + ":kill")
    res = sh(sys.executable, "-m", "vzzfs_hooks", "--etc-dir", node.etc, "resize", str(ctid),
             size, env=env, cwd=REPO, check=False)
    assert res.returncode == -9, res.stdout


def test_kill_9_during_resize_never_leaves_the_fs_larger(node):
    node.make_ct(101, size=128 << 20)
    assert node.vzctl.start(101).rc == 0
    killed_resize(node, 101, "256M", "resize.zvol-grown")  # online grow, cut in the middle
    assert volsize(node, 101) == 256 << 20 and fs_bytes(node, 101) <= 128 << 20
    res = node.vzzfs("resize", "101", "256M")
    assert res.returncode == 0, res.stdout
    assert fs_bytes(node, 101) == 256 << 20, "the re-run finished the ext4"
    assert node.vzctl.stop(101).rc == 0
    killed_resize(node, 101, "160M", "resize.fs-shrunk")  # offline shrink, cut in the middle
    assert fs_bytes(node, 101) <= 160 << 20 and volsize(node, 101) == 256 << 20
    sh("e2fsck", "-fn", os.path.realpath("/dev/zvol/" + node.dataset(101)))
    res = node.vzzfs("resize", "101", "160M")
    assert res.returncode == 0 and "shrunk" in res.stdout, res.stdout
    assert volsize(node, 101) == 160 << 20 and fs_bytes(node, 101) <= 160 << 20
    # a grow cut with the CT stopped is finished at the next start
    killed_resize(node, 101, "256M", "resize.zvol-grown")
    assert fs_bytes(node, 101) <= 160 << 20
    assert node.vzctl.start(101).rc == 0
    assert fs_bytes(node, 101) == 256 << 20
    assert node.vzctl.stop(101).rc == 0


def test_sparse_zvol_on_a_nearly_full_pool(node, tmp_path):
    img = str(tmp_path / "small.img")
    sh("truncate", "-s", "448M", img)
    sh("zpool", "create", "-f", "-O", "canmount=off", "-O", "mountpoint=none", "vzs", img)
    small = TestNode(str(tmp_path / "small"), root="vzs/vzzfs")
    try:
        zfs.ensure_filesystem("vzs/vzzfs/ct")
        small.make_ct(201, size=1 << 30)  # thin: more than the pool holds
        small.make_ct(202, size=128 << 20)
        sh("zfs", "set", "refreservation=auto", small.dataset(202))  # a reserved zvol
        assert small.vzctl.start(201).rc == 0
        sh("dd", "if=/dev/urandom", "of=%s/root/fill" % small.root(201), "bs=1M", "count=120",
           "conv=fsync")
        sh("zpool", "sync", "vzs")
        # the threshold just under what the pool holds now
        cap = int(sh("zpool", "list", "-H", "-o", "capacity", "vzs").stdout.strip().rstrip("%"))
        assert cap > 20, cap
        with open(os.path.join(small.etc, "vzzfs.conf"), "a") as f:
            f.write('VZZFS_POOL_WARN="%d"\n' % (cap - 1))
        assert small.vzctl.stop(201).rc == 0
        res = small.vzctl.start(201)
        assert res.rc == 0 and "pool vzs is" in res.output and "full" in res.output, res
        assert small.vzctl.stop(201).rc == 0
        res = small.vzzfs("resize", "202", "1G")  # reserved: the pool cannot honour it
        assert res.returncode == 5 and "which has" in res.stdout and "MiB" in res.stdout, \
            res.stdout
        assert volsize(small, 202) == 128 << 20
    finally:
        small.cleanup()
        sh("zpool", "destroy", "-f", "vzs", check=False)


def test_discard_mount_option_gives_space_back_without_trim(node):
    node.make_ct(101, size=256 << 20,
                 extra_conf='VZZFS_MOUNT_OPTS="noatime,errors=remount-ro,discard"\n')
    assert node.vzctl.start(101).rc == 0
    used_full = write_then_delete(node, 101, 80)
    deadline = time.time() + 60
    while True:
        used = used_synced(node, 101)
        if used < used_full - (60 << 20) or time.time() > deadline:
            break
        time.sleep(2)
    assert used < used_full - (60 << 20), (used_full, used)
    assert node.vzctl.stop(101).rc == 0


def test_an_ext4_the_kernel_will_not_grow_online_grows_at_mount(node):
    """Made by hand as the seed does, with a 16M journal: the kernel refuses to grow
    it online (resize2fs: No space left on device). Premount grows it unmounted; a
    mounted CT's resize says so, and zvol, conf and ext4 agree after the next mount."""
    ds = node.make_ct(101, size=256 << 20)
    dev = os.path.realpath("/dev/zvol/" + ds)
    sh("mkfs.ext4", "-q", "-F", "-b", "4096", "-E", "lazy_itable_init=1,resize=4294967295",
       "-J", "size=16", dev)
    set_diskspace(node, 101, "512M:512M")
    assert node.vzctl.mount(101).rc == 0
    assert volsize(node, 101) == 512 << 20 and fs_bytes(node, 101) == 512 << 20
    res = node.vzzfs("resize", "101", "1G")
    assert res.returncode == 6 and "will not grow the ext4" in res.stdout, res.stdout
    assert "vzctl restart 101" in res.stdout, res.stdout
    assert volsize(node, 101) == 1 << 30
    assert config.parse_file(node.conffile(101))["DISKSPACE"] == "1048576:1048576"
    assert node.vzctl.umount(101).rc == 0
    assert node.vzctl.mount(101).rc == 0
    assert fs_bytes(node, 101) == 1 << 30, "the next mount finished the grow"
    assert node.vzctl.umount(101).rc == 0
