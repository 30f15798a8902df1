"""vzzfs migrate from a vzctl 4.x node to an OpenVZ 7 node and back (issue 27), both ends real
clients: the source is the VM's real vzctl 4.11.1 (pool vz), the target runs the real
vzctl 7 (scripts/build-vzctl7) in its vz7ns namespace on pool vz2, as another node
would. DEST is a command that runs the rest of its line in that namespace, as
'ssh root@vz7node' would on the node itself: there `vzctl` is vzctl 7, /etc/vz the
node's, and vzzfs this tree's.

One stand-in, and only where the vz7 kernel is needed: vzctl 7's start runs the whole
mount side (premount, the zvol attached, fs bound on VE_ROOT) and then fails on
cgroups only that kernel has (tests/vm/test_vzctl7.py shows it). The migrate that must
succeed gets a `vzctl start` on the target that runs the real `vzctl mount` and then
marks the CT running in the `ve` cgroup stand-in (what the kernel would say); its
status, mount and umount stay the real vzctl 7's. The test whose start fails uses the
real vzctl 7 start: the CT comes back on the source.
"""
import os

import pytest

from conftest import REPO, sh
from harness import realvzctl7
from test_openvz7 import Node7, assert_laid_out
from vzzfs_hooks.base import names
from vzzfs_hooks.system import zfs


def write(path, text, mode=None):
    with open(path, "w") as f:
        f.write(text)
    if mode:
        os.chmod(path, mode)


def read(path):
    with open(path) as f:
        return f.read()


@pytest.fixture
def node7(pool, tmp_path):
    """The OpenVZ 7 node, on the second pool; its VZZFS_VZCTL runs vzctl 7 directly when
    already in the node's namespace (the vzzfs command DEST runs there), else through
    vz7ns."""
    assert realvzctl7.available(), "vzctl 7 is not built (scripts/build-vzctl7, scripts/vm-setup)"
    disk = os.environ["VZZFS_TEST_DISKS"].split()[1]
    sh("zpool", "create", "-f", "-O", "canmount=off", "-O", "mountpoint=none", "vz2", disk)
    zfs.ensure_filesystem("vz2/vzzfs/ct")
    n = Node7(str(tmp_path / "node7"), "vz2/vzzfs")
    try:
        inside = n.v.in_node(["readlink", "/proc/self/ns/mnt"]).output.strip()
        write(os.path.join(n.v.base, "vzctl7"),
              "#!/bin/sh\n[ \"$(readlink /proc/self/ns/mnt)\" = '%s' ] && "
              "exec /usr/sbin/vzctl \"$@\"\nexec '%s' --node '%s' -- /usr/sbin/vzctl \"$@\"\n"
              % (inside, realvzctl7.VZ7NS, n.v.base), 0o755)
        yield n
    finally:
        try:
            n.cleanup()
        finally:
            sh("zpool", "destroy", "-f", "vz2", check=False)


def dest(node7, tmp_path, standin_start=False, lose=None):
    """DEST for vzzfs migrate: runs its line in node7's namespace. ``standin_start``:
    `vzctl start` there mounts with the real vzctl 7, then says running (the module's
    docstring says why); ``lose``: the vzzfs verb there whose link is lost (exit 255
    after it ran)."""
    stub = tmp_path / "stub"
    stub.mkdir(exist_ok=True)
    if standin_start:
        write(str(stub / "vzctl"),
              "#!/bin/sh\nif [ \"$1\" = start ]; then\n"
              "  /usr/sbin/vzctl mount \"$2\" || exit $?\n"
              "  mkdir -p '%s/ve/'\"$2\" && echo RUNNING >'%s/ve/'\"$2\"/ve.state\n"
              "  echo 'Container start stood in past the mount (vz7 kernel cgroups)'\n"
              "  exit 0\nfi\nexec /usr/sbin/vzctl \"$@\"\n" % (node7.v.base, node7.v.base),
              0o755)
    if lose:  # a stream (receive without --status, or with --then-receive): the second
        # one, the last increment
        write(str(stub / "vzzfs"),
              "#!/bin/sh\n'%s' \"$@\"\nrc=$?\n[ \"$1\" = %s ] || exit $rc\n"
              "if [ \"$1\" = receive ]; then\n"
              "  [ \"$2\" = --status ] && [ \"$4\" != --then-receive ] && exit $rc\n"
              "  [ -e '%s/streamed' ] || { : >'%s/streamed'; exit $rc; }\nfi\n"
              "echo 'Connection to vz7node closed by remote host.' >&2\nexit 255\n"
              % (os.path.join(REPO, "bin", "vzzfs"), lose, stub, stub), 0o755)
    path = "%s:%s:/usr/sbin:/usr/bin:/sbin:/bin" % (stub, os.path.join(REPO, "bin"))
    return "%s --node %s -- env VZZFS_ETC_DIR=/etc/vz PATH=%s" % (realvzctl7.VZ7NS,
                                                                 node7.v.base, path)


LEGACY = 'DISTRIBUTION="debian-7.0"\nNAME="web101"\n'


def _source_ct(node, conf=LEGACY):
    node.make_ct(101, files={"root/note": "moved, not copied\n"}, extra_conf=conf)
    assert node.vzctl.start(101).rc == 0


def test_check_says_everything_and_moves_nothing(node, node7, tmp_path):
    """--check asks the OpenVZ 7 node (its platform, its vzctl 7's distributions) and
    prints the findings: a distribution vzctl 7 has no conf for is fatal."""
    _source_ct(node, 'DISTRIBUTION="plan9-4"\nNAME="web101"\nCAPABILITY="SYS_ADMIN:on"\n')
    node7.ctids.append("101")
    res = node.vzzfs("migrate", "101", dest(node7, tmp_path), "--check")
    assert res.returncode == 1, res.stdout
    assert "fatal: the target's vzctl knows no distribution plan9-4" in res.stdout, res.stdout
    assert "CAPABILITY" in res.stdout and "laid out as OpenVZ 7's layout 4" in res.stdout
    assert not zfs.exists(node7.dataset("101")), "not a byte moved"
    assert node.vzctl.is_running(101)
    res = node.vzzfs("migrate", "101", dest(node7, tmp_path))
    assert res.returncode == 7 and "cannot move" in res.stdout, res.stdout
    assert node.vzctl.is_running(101) and not zfs.exists(node7.dataset("101"))
    res = node.vzzfs("migrate", "101", dest(node7, tmp_path), "--check", "--online")
    assert "--online" in res.stdout and res.returncode == 1, res.stdout


def test_a_legacy_ct_migrates_to_openvz_7_laid_out_by_renames(node, node7, tmp_path):
    """Full pass while it runs, then stopped, the last increment, laid out there for
    vzctl 7 (the zvol's files moved into fs/, VE_PRIVATE the host's skeleton), the conf
    translated, started (stand-in past the mount, see the module), the copy here
    destroyed; vzctl 7 mounts and unmounts it."""
    _source_ct(node)
    write(os.path.join(node.root(101), "root/late"), "written while the first pass ran\n")
    node7.ctids.append("101")
    res = node.vzzfs("migrate", "101", dest(node7, tmp_path, standin_start=True))
    assert res.returncode == 0 and "laid out for the vzctl there" in res.stdout, res.stdout
    assert "DISTRIBUTION" not in res.stdout or "fatal" not in res.stdout
    assert not zfs.exists(node.dataset(101)) and not os.path.exists(node.conffile(101))
    assert "running" in node7.v.status("101").output.split(), node7.v.status("101")
    root = node7.v.root("101")
    assert read(os.path.join(root, "root/note")) == "moved, not copied\n"
    assert read(os.path.join(root, "root/late")) == "written while the first pass ran\n"
    conf = read(node7.v.conffile("101"))
    assert os.readlink(node7.v.conffile("101")) == os.path.join(node7.private("101"), "ve.conf")
    assert 'VEID="101"' in conf and 'DISTRIBUTION="debian-7.0"' in conf, conf
    assert 'NAME="web101"' in conf and "VZZFS_DATASET" in conf, conf
    ds = node7.dataset("101")
    assert zfs.get(ds, names.PROP_LAYOUT)[names.PROP_LAYOUT] == names.LAYOUT_VZ7
    node7.v.set_ve_state("101", None)  # "stopped", as the vz7 kernel would say
    res = node7.v.umount("101")
    assert res.rc == 0 and "Container is unmounted" in res.output, res
    assert_laid_out(node7, "101")
    res = node7.v.mount("101")
    assert res.rc == 0, res
    assert read(os.path.join(root, "root/note")) == "moved, not copied\n"
    assert node7.v.umount("101").rc == 0


def test_a_start_that_fails_there_brings_it_back_here(node, node7, tmp_path):
    """The real vzctl 7 start (no stand-in) fails past the mount on this kernel and rolls
    back; the target says the CT is down, so it runs here again, and nothing here is
    destroyed."""
    _source_ct(node)
    node7.ctids.append("101")
    res = node.vzzfs("migrate", "101", dest(node7, tmp_path))
    assert res.returncode != 0 and "failed on the destination" in res.stdout, res.stdout
    assert node.vzctl.is_running(101)
    assert "running" not in node7.v.status("101").output.split()
    assert zfs.exists(node.dataset(101)) and os.path.exists(node.conffile(101))
    assert read(os.path.join(node.root(101), "root/note")) == "moved, not copied\n"


@pytest.mark.parametrize("lost", ["relayout", "receive"])
def test_a_link_lost_at_the_last_steps_leaves_it_running_here(node, node7, tmp_path, lost):
    """ssh reports a lost link after the target's vzzfs ran (relayout: laid out, not
    started; receive: the last increment, with the CT stopped here): neither starts a
    CT, so it is started here again and only here."""
    _source_ct(node)
    node7.ctids.append("101")
    res = node.vzzfs("migrate", "101", dest(node7, tmp_path, standin_start=True, lose=lost))
    assert res.returncode != 0 and "closed by remote host" in res.stdout, res.stdout
    assert node.vzctl.is_running(101), res.stdout
    assert "running" not in node7.v.status("101").output.split()
    assert zfs.exists(node7.dataset("101")), "the first pass arrived there"
    assert zfs.exists(node.dataset(101)) and os.path.exists(node.conffile(101))


def test_a_fault_before_the_start_leaves_it_running_here(node, node7, tmp_path):
    """VZZFS_FAULT=migrate.before-start: the last increment there, laid out, then the
    migrate fails before the start: the CT runs here again."""
    _source_ct(node)
    node7.ctids.append("101")
    env_dest = dest(node7, tmp_path, standin_start=True)
    res = sh(os.path.join(REPO, "bin", "vzzfs"), "--etc-dir", node.etc, "migrate", "101",
             env_dest, check=False, cwd=REPO,
             env=dict(os.environ, VZZFS_FAULT="migrate.before-start:fail"))
    assert res.returncode != 0 and "injected fault" in res.stdout, res.stdout
    assert node.vzctl.is_running(101)
    assert "running" not in node7.v.status("101").output.split()
    assert zfs.get(node7.dataset("101"), names.PROP_LAYOUT)[names.PROP_LAYOUT] == \
        names.LAYOUT_VZ7, "it was laid out there, and stays stopped there"


def test_send_and_a_backup_chain_from_a_legacy_node_onto_openvz_7(node, node7, tmp_path):
    """vzzfs send to the OpenVZ 7 node keeps the sender's layout there, so its increments
    go on (vzctl 7 refuses to mount it until `vzzfs relayout`, which names the fix). A
    backup chain: the full backup is laid out on arrival; its increment is refused
    naming that, and with --force goes on the snapshot and is laid out again."""
    node.make_ct(101, files={"root/note": "one\n"}, extra_conf=LEGACY)
    node7.ctids.extend(["101", "102"])
    to = dest(node7, tmp_path) + " vzzfs receive"
    res = node.vzzfs("send", "101", "--to", to)
    assert res.returncode == 0 and "full send done" in res.stdout, res.stdout
    assert node.vzctl.mount(101).rc == 0
    write(os.path.join(node.private(101), "root/note"), "two\n")
    assert node.vzctl.umount(101).rc == 0
    res = node.vzzfs("send", "101", "--to", to)
    assert res.returncode == 0 and "incremental send done" in res.stdout, res.stdout
    ds = node7.dataset("101")
    assert zfs.get(ds, names.PROP_LAYOUT)[names.PROP_LAYOUT] == names.LAYOUT_LEGACY
    res = node7.v.mount("101")
    assert res.rc != 0 and "vzzfs relayout 101" in res.output, res
    res = node7.vzzfs("relayout", "101")
    assert res.returncode == 0, res.stdout
    assert node7.v.mount("101").rc == 0
    assert read(os.path.join(node7.v.root("101"), "root/note")) == "two\n"
    assert node7.v.umount("101").rc == 0

    full, inc = str(tmp_path / "full.vzb"), str(tmp_path / "inc.vzb")
    assert node.vzzfs("backup", "101", "--to", full).returncode == 0
    assert node.vzctl.mount(101).rc == 0
    write(os.path.join(node.private(101), "root/note"), "three\n")
    assert node.vzctl.umount(101).rc == 0
    assert node.vzzfs("backup", "101", "--to", inc, "--incremental").returncode == 0
    res = node7.vzzfs("restore", full, "--ctid", "102")
    assert res.returncode == 0, res.stdout
    assert_laid_out(node7, "102")
    res = node7.vzzfs("restore", inc, "--ctid", "102")
    assert res.returncode != 0 and "moved for this node's vzctl" in res.stdout \
        and "--force" in res.stdout, res.stdout
    res = node7.vzzfs("restore", inc, "--ctid", "102", "--force")
    assert res.returncode == 0, res.stdout
    assert zfs.get(node7.dataset("102"), names.PROP_LAYOUT)[names.PROP_LAYOUT] == \
        names.LAYOUT_VZ7
    assert node7.v.mount("102").rc == 0
    assert read(os.path.join(node7.v.root("102"), "root/note")) == "three\n"
    assert node7.v.umount("102").rc == 0


def test_an_openvz_7_ct_migrates_to_a_legacy_node(node, node7):
    """The other way: a (stopped) CT of the OpenVZ 7 node moves to the real vzctl 4.11.1
    node, its distribution checked against vzctl 4.x's /etc/vz/dists, its files moved
    out of fs/ there by renames after the last increment, its conf vzctl 4.x's own
    (VEID left out, said); vzctl 4.11.1 mounts it there and the copy here is gone."""
    node7.tarball("tiny", {"etc/hostname": "tiny\n", "root/note": "the CT's own /root\n"})
    node7.create("101")
    with open(node7.v.conffile("101"), "a") as f:
        f.write('DISTRIBUTION="debian"\n')
    node.track(101)
    to = "env VZZFS_ETC_DIR=%s PATH=%s:/usr/sbin:/usr/bin:/sbin:/bin" % (
        node.etc, os.path.join(REPO, "bin"))
    res = node7.vzzfs("migrate", "101", to, "--check")
    assert res.returncode == 0 and "out of the ext4's fs/" in res.stdout, res.stdout
    res = node7.vzzfs("migrate", "101", to)
    assert res.returncode == 0 and "laid out for the vzctl there" in res.stdout, res.stdout
    assert not zfs.exists(node7.dataset("101"))
    assert not os.path.lexists(node7.v.conffile("101"))
    assert zfs.get(node.dataset(101), names.PROP_LAYOUT)[names.PROP_LAYOUT] == \
        names.LAYOUT_LEGACY
    conf = read(node.conffile(101))
    assert 'DISTRIBUTION="debian"' in conf and "VEID=" not in conf, conf
    assert node.vzctl.mount(101).rc == 0
    assert read(os.path.join(node.root(101), "root/note")) == "the CT's own /root\n"
    assert node.vzctl.umount(101).rc == 0
