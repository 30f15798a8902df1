"""create, template import/list/remove, clone and destroy on real ZFS, run under the vzctl harness."""
import os
import stat

from conftest import ROOT, sh
from harness import realvzctl
from vzzfs_hooks.conf import config
from vzzfs_hooks.system import ext4, ext4geometry, zfs, zvoldev


def conf(node, ctid):
    return config.parse_file(node.conffile(ctid))


def zget(ds, prop):
    return zfs.get(ds, prop)[prop]


def assert_nothing_left(node, ctid):
    assert not os.path.exists(node.conffile(ctid))
    assert not zfs.exists(node.dataset(ctid))
    assert not os.path.exists(node.private(ctid))


def stock_sample(name):
    """A config sample exactly as vzctl 4.11.1 installs it (scripts/build-vzctl)."""
    with open(os.path.join(realvzctl.STOCK_ETC, "conf", "ve-%s.conf-sample" % name)) as f:
        return f.read()


def test_stock_diskinodes_still_clone_and_too_many_unpack(node):
    """vz.conf's CONFIGFILE=vswap-256m asks DISKINODES="131072:144179", DISKSPACE="2G:2.2G".

    A template imported with ext4's default 1 inode per 16 KiB gives a clone of
    2.2G at least 17 groups of 8192 inodes: enough, so create clones. Asking for
    more than a clone has unpacks with mkfs -N and says why.
    """
    with open(os.path.join(node.etc, "conf", "ve-vswap-256m.conf-sample"), "w") as f:
        f.write(stock_sample("vswap-256m"))
    with open(os.path.join(node.etc, "vz.conf"), "a") as f:
        f.write('CONFIGFILE="vswap-256m"\n')
    node.make_tarball("tmpl-i")
    res = node.vzzfs("template", "import", "tmpl-i")  # unpacked in 2G, then fitted
    assert res.returncode == 0 and "its clones get 65536 inodes per GiB" in res.stdout, res.stdout
    golden = ROOT + "/tmpl/tmpl-i@golden"
    # a few files, unpacked in 2G: the zvol and its ext4 shrunk to what they hold
    # (with ext4's journal and metadata) plus room
    tmpl_size = int(zget(ROOT + "/tmpl/tmpl-i", "volsize"))
    assert tmpl_size <= 256 << 20
    assert ext4.fs_size(zvoldev.find_device(ROOT + "/tmpl/tmpl-i", 10)) == tmpl_size

    node.track(103)
    res = node.vzzfs("create", "103", "--ostemplate", "tmpl-i", "--sparse", "yes")
    assert res.returncode == 0 and "cloned from template" in res.stdout, res.stdout
    ds = node.dataset(103)
    assert zget(ds, "origin") == golden
    c = conf(node, 103)
    assert (c["DISKSPACE"], c["DISKINODES"]) == ("2306867:2306867", "131072:144179")
    dev = zvoldev.find_device(ds, 10)
    assert int(zget(ds, "volsize")) == tmpl_size, "create leaves the growing to premount"
    assert ext4.fs_size(dev) == tmpl_size
    assert node.vzctl.mount(103).rc == 0 and node.vzctl.umount(103).rc == 0
    assert int(zget(ds, "volsize")) == zfs.round_size(2306867 << 10, 16384)
    assert ext4geometry.geometry(dev).inode_count >= 131072
    assert ext4.fs_size(dev) > 2 << 30, "the first mount grew the ext4 to DISKSPACE"

    node.track(104)
    res = node.vzzfs("create", "104", "--ostemplate", "tmpl-i", "--sparse", "yes",
                     "--diskinodes", "200000:220000")
    assert res.returncode == 0 and "unpacked tmpl-i" in res.stdout, res.stdout
    assert "DISKINODES asks for 200000 inodes, a clone of 2252 MiB would have 139264" \
        in res.stdout and "--diskinodes" in res.stdout, res.stdout
    ds = node.dataset(104)
    assert zget(ds, "origin") is None
    assert conf(node, 104)["DISKINODES"] == "200000:220000"
    assert ext4geometry.geometry(zvoldev.find_device(ds, 10)).inode_count >= 220000


def test_create_from_tarball_keeps_owners_modes_links(node):
    node.make_tarball("tmpl-a")
    node.track(101)
    res = node.vzzfs("create", "101", "--ostemplate", "tmpl-a", "--diskspace", "256M",
                     "--hostname", "ct101.example.com", "--ipadd", "10.0.0.101")
    assert res.returncode == 0 and "unpacked tmpl-a" in res.stdout, res.stdout
    c = conf(node, 101)
    assert (c["VE_LAYOUT"], c["DISK_QUOTA"], c["OSTEMPLATE"]) == ("simfs", "no", "tmpl-a")
    assert c["DISKSPACE"] == "262144:262144" and c["VZZFS_DATASET"] == node.dataset(101)
    assert (c["HOSTNAME"], c["IP_ADDRESS"]) == ("ct101.example.com", "10.0.0.101")
    # vz.conf's CONFIGFILE (stock: vswap-256m) gives the CT its limits
    sample = config.parse_text(stock_sample("vswap-256m"))
    assert c["PHYSPAGES"] == sample["PHYSPAGES"], "the sample's settings are kept"
    ds = node.dataset(101)
    assert int(zget(ds, "volsize")) == 256 << 20 and zget(ds, "compression") == "lz4"
    assert ext4.is_immutable(node.private(101)) and not os.listdir(node.private(101))
    assert node.vzctl.mount(101).rc == 0  # not start: its IP needs venet, which upstream lacks
    root = node.root(101)
    tool = os.stat(os.path.join(root, "bin/tool"))
    assert stat.S_IMODE(tool.st_mode) == 0o4755
    assert os.stat(os.path.join(root, "bin/tool-link")).st_ino == tool.st_ino
    assert os.readlink(os.path.join(root, "bin/tool-sym")) == "tool"
    log = os.stat(os.path.join(root, "var/log"))
    assert (log.st_uid, log.st_gid) == (104, 4)
    assert stat.S_ISCHR(os.stat(os.path.join(root, "dev/null")).st_mode)
    assert node.vzctl.umount(101).rc == 0


def test_template_import_then_create_by_clone(node):
    node.make_tarball("tmpl-b", compress="-J", ext=".tar.xz")
    res = node.vzzfs("template", "import", "tmpl-b", "--size", "256M")
    assert res.returncode == 0, res.stdout
    golden = ROOT + "/tmpl/tmpl-b@golden"
    assert zfs.exists(golden)
    res = node.vzzfs("template", "list")
    assert "tmpl-b" in res.stdout and "yes" in res.stdout, res.stdout
    res = node.vzzfs("template", "import", "tmpl-b")
    assert res.returncode == 2 and "already imported" in res.stdout

    node.track(102)
    res = node.vzzfs("create", "102", "--ostemplate", "tmpl-b", "--diskspace", "512M")
    assert res.returncode == 0 and "cloned from template" in res.stdout, res.stdout
    ds = node.dataset(102)
    assert zget(ds, "origin") == golden
    assert int(zget(ds, "volsize")) < 512 << 20, "the clone keeps the template's size"
    assert node.vzctl.start(102).rc == 0
    assert int(zget(ds, "volsize")) == 512 << 20, "the first start grew it to DISKSPACE"
    st = os.statvfs(node.root(102))
    assert st.f_blocks * st.f_frsize > 400 << 20, "ext4 grew to the new volsize"
    with open(os.path.join(node.root(102), "root/mine"), "w") as f:
        f.write("102")
    assert node.vzctl.stop(102).rc == 0

    res = node.vzzfs("template", "remove", "tmpl-b")
    assert res.returncode == 5 and ds in res.stdout, res.stdout
    res = node.vzzfs("destroy", "102")
    assert res.returncode == 0, res.stdout
    assert_nothing_left(node, 102)
    assert os.path.exists(node.conffile(102) + ".destroyed")
    res = node.vzzfs("template", "remove", "tmpl-b")
    assert res.returncode == 0 and not zfs.exists(ROOT + "/tmpl/tmpl-b"), res.stdout


def test_smaller_diskspace_than_template_falls_back_to_unpacking(node):
    node.make_tarball("tmpl-c")
    assert node.vzzfs("template", "import", "tmpl-c", "--size", "256M").returncode == 0
    node.track(103)
    res = node.vzzfs("create", "103", "--ostemplate", "tmpl-c", "--diskspace", "128M")
    assert res.returncode == 0 and "unpacked" in res.stdout and "smaller" in res.stdout
    assert zget(node.dataset(103), "origin") is None


def test_clone_of_running_ct_is_independent(node):
    node.make_tarball("tmpl-d")
    node.track(104)
    assert node.vzzfs("create", "104", "--ostemplate", "tmpl-d", "--diskspace", "128M",
                      "--hostname", "src.example.com").returncode == 0
    assert node.vzctl.start(104).rc == 0
    with open(os.path.join(node.root(104), "root/data"), "w") as f:
        f.write("before")
    node.track(105)
    res = node.vzzfs("clone", "104", "105", "--hostname", "copy.example.com",
                     "--ipadd", "10.0.0.105")
    assert res.returncode == 0, res.stdout
    c = conf(node, 105)
    assert (c["HOSTNAME"], c["IP_ADDRESS"]) == ("copy.example.com", "10.0.0.105")
    assert c["VZZFS_DATASET"] == node.dataset(105)
    with open(os.path.join(node.root(104), "root/data"), "w") as f:
        f.write("after")
    assert node.vzctl.mount(105).rc == 0  # not start: its IP needs venet, which upstream lacks
    with open(os.path.join(node.root(105), "root/data")) as f:
        assert f.read() == "before"
    assert node.vzctl.umount(105).rc == 0
    assert node.vzctl.stop(104).rc == 0

    res = node.vzzfs("destroy", "104")
    assert res.returncode == 5 and node.dataset(105) in res.stdout, res.stdout
    assert zfs.exists(node.dataset(104))
    res = node.vzzfs("destroy", "104", "--promote")
    assert res.returncode == 0, res.stdout
    assert_nothing_left(node, 104)
    assert node.vzctl.mount(105).rc == 0
    with open(os.path.join(node.root(105), "root/data")) as f:
        assert f.read() == "before"
    assert node.vzctl.umount(105).rc == 0


def test_bad_input_leaves_nothing_behind(node):
    node.make_tarball("tmpl-e", extra_mb=120)
    for args, code, text in (
            (["106", "--ostemplate", "nope"], 2, "unknown OS template nope"),
            (["../x", "--ostemplate", "tmpl-e"], 2, "invalid CTID"),
            (["106", "--ostemplate", "tmpl-e", "--diskspace", "1M"], 2, "too small"),
            (["106", "--ostemplate", "tmpl-e", "--diskspace", "128M"], 1, "too small"),
            (["106", "--ostemplate", "tmpl-e", "--diskspace", "50G", "--sparse", "no"], 5,
             "free space in pool"),
            (["106", "--ostemplate", "tmpl-e", "--compression", "bogus"], 3, "COMPRESSION"),
            (["106", "--ostemplate", "tmpl-e", "--config", "missing"], 2, "does not exist"),
            (["106", "--ostemplate", "tmpl-e", "--hostname", "bad host"], 2, "hostname")):
        res = node.vzzfs("create", *args)
        assert res.returncode == code and text in res.stdout, (args, res.stdout)
        assert len(res.stdout.strip().splitlines()) == 1, res.stdout
        assert_nothing_left(node, 106)
    node.make_ct(107)
    res = node.vzzfs("create", "107", "--ostemplate", "tmpl-e")
    assert res.returncode == 7 and "already exists" in res.stdout


def test_destroy_refuses_a_running_ct_and_removes_snapshots(node):
    node.make_tarball("tmpl-f")
    node.track(108)
    assert node.vzzfs("create", "108", "--ostemplate", "tmpl-f", "--diskspace", "128M"
                      ).returncode == 0
    sh("zfs", "snapshot", node.dataset(108) + "@mine")
    assert node.vzctl.start(108).rc == 0
    res = node.vzzfs("destroy", "108")
    assert res.returncode == 7 and "vzctl stop 108" in res.stdout
    assert zfs.exists(node.dataset(108))
    assert node.vzctl.stop(108).rc == 0
    assert node.vzzfs("destroy", "108").returncode == 0
    assert_nothing_left(node, 108)
    res = node.vzzfs("destroy", "108")
    assert res.returncode == 2 and "does not exist" in res.stdout


def test_list_reports_orphans_and_destroy_cleans_them(node):
    node.make_tarball("tmpl-g")
    node.track(109)
    assert node.vzzfs("create", "109", "--ostemplate", "tmpl-g", "--diskspace", "128M"
                      ).returncode == 0
    os.rename(node.conffile(109), node.conffile(109) + ".destroyed")  # what vzctl destroy leaves
    with open(node.conffile(110), "w") as f:
        f.write('VE_LAYOUT="simfs"\nVZZFS_DATASET="%s/ct/110"\n' % ROOT)
    node.track(110)
    res = node.vzzfs("list", "-o", "ctid,status,snapshots")
    assert res.returncode == 0, res.stdout
    lines = {line.split()[0]: line for line in res.stdout.splitlines()[1:]}
    assert "orphan" in lines["109"] and "zvol missing" in lines["110"], res.stdout
    res = node.vzzfs("list", "-o", "ctid,bogus")
    assert res.returncode == 2 and "unknown field bogus" in res.stdout
    assert node.vzzfs("destroy", "109").returncode == 0
    assert not zfs.exists(node.dataset(109)) and not os.path.exists(node.private(109))
    assert node.vzzfs("destroy", "110").returncode == 0
    assert os.path.exists(node.conffile(110) + ".destroyed")
    res = node.vzzfs("list", "-j")
    assert res.stdout.strip() == "[]", res.stdout


def test_check_reports_what_is_off(node):
    node.make_ct(101)
    res = node.vzzfs("check")
    assert "ok   pool vz is imported" in res.stdout and "ok   hooks wired" in res.stdout, res.stdout
    orphan = node.dataset(150)
    node.track(150, orphan)
    sh("zfs", "create", "-s", "-V", "64M", orphan)
    with open(node.conffile(101)) as f:
        text = f.read()
    with open(node.conffile(101), "w") as f:
        f.write(text.replace('DISK_QUOTA="no"', 'DISK_QUOTA="yes"'))
    os.unlink(os.path.join(node.etc, "conf", "vps.mount"))
    res = node.vzzfs("check")
    assert res.returncode == 7, res.stdout
    lines = res.stdout.splitlines()
    assert any(l.startswith("WARN") and orphan in l for l in lines), res.stdout
    assert any(l.startswith("WARN") and "CT 101: DISK_QUOTA" in l for l in lines), res.stdout
    assert any(l.startswith("FAIL") and "vps.mount" in l for l in lines), res.stdout
    assert "vzzfs: check found" in res.stdout
