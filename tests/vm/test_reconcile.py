"""`vzctl set --diskspace` on a running CT applied online (issue 18): the real vzctl 4.11.1
saves the conf, then what vzzfs-reconcile.service runs (the VM has no systemd to fire
the path unit; tests/unit/test_systemd.py checks the units) grows the zvol and the ext4
while the CT runs on. A smaller DISKSPACE shrinks nothing and vzzfs check names it."""
import os

from conftest import sh
from vzzfs_hooks.conf import config
from vzzfs_hooks.system import zfs


def volsize(node, ctid):
    return int(zfs.get(node.dataset(ctid), "volsize")["volsize"])


def fs_bytes(node, ctid):
    """What the ext4's superblock says it spans."""
    out = sh("dumpe2fs", "-h", os.path.realpath("/dev/zvol/" + node.dataset(ctid))).stdout
    fields = dict(l.split(":", 1) for l in out.splitlines() if ":" in l)
    return int(fields["Block count"]) * int(fields["Block size"])


def init_started(node, ctid):
    """When the CT's init started (clock ticks since boot): unchanged unless it restarted."""
    res = node.vzctl.exec(ctid, "cat", "/proc/1/stat")
    assert res.rc == 0, res
    return res.output.rsplit(")", 1)[1].split()[19]


def df_kib(node, ctid):
    """The size of / as df shows it inside the CT, in KiB."""
    res = node.vzctl.exec(ctid, "df", "-k", "/")
    assert res.rc == 0, res
    return int(res.output.strip().splitlines()[-1].split()[1])


def test_vzctl_set_diskspace_grows_a_running_ct_and_never_shrinks_it(node):
    node.make_ct(101, size=128 << 20)
    assert node.vzctl.start(101).rc == 0
    data = os.urandom(1 << 20)
    with open(os.path.join(node.root(101), "root/keep"), "wb") as f:
        f.write(data)
    started, df_before = init_started(node, 101), df_kib(node, 101)
    assert df_before < 128 << 10, df_before

    res = node.vzctl.set(101, [("--diskspace", "256M"), ("--diskquota", "no")])
    assert res.rc == 0, res
    assert config.parse_file(node.conffile(101))["DISKSPACE"] == "262144:262144"
    res = node.vzzfs("reconcile")
    assert res.returncode == 0 and "CT 101: zvol and ext4 grown online to 256 MiB" in res.stdout, \
        res.stdout
    assert volsize(node, 101) == 256 << 20 and fs_bytes(node, 101) == 256 << 20
    assert df_kib(node, 101) > df_before + (100 << 10), "df inside the CT sees the grow"
    assert init_started(node, 101) == started, "the CT ran on: its init was not restarted"
    with open(os.path.join(node.root(101), "root/keep"), "rb") as f:
        assert f.read() == data
    res = node.vzzfs("reconcile")
    assert res.returncode == 0 and res.stdout == "", "nothing to do: quiet"

    res = node.vzctl.set(101, [("--diskspace", "192M"), ("--diskquota", "no")])
    assert res.rc == 0, res
    res = node.vzzfs("reconcile")
    assert res.returncode == 0, res.stdout
    assert "CT 101: DISKSPACE asks 192 MiB, below the zvol's 256 MiB: shrink pending" in \
        res.stdout and "vzzfs resize 101 192M" in res.stdout, res.stdout
    assert volsize(node, 101) == 256 << 20 and fs_bytes(node, 101) == 256 << 20
    res = node.vzzfs("check")
    assert "WARN CT 101: DISKSPACE asks 192 MiB, below the zvol's 256 MiB" in res.stdout, \
        res.stdout
    assert init_started(node, 101) == started and node.vzctl.is_running(101)
    assert node.vzctl.stop(101).rc == 0
