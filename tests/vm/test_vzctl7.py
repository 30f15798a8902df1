"""The real OpenVZ 7 vzctl (vzctl 7.0.254, libvzctl 7.0.737; scripts/build-vzctl7) as a
rig fixture: what it does around its action scripts on the test VM's upstream kernel,
seen through tiny scripts that record each run. The vzzfs hooks are not involved,
except in the last test, which installs them and shows a plain CT unaffected.

vzctl 7 runs through tests/harness/vz7ns (a private mount namespace where it is the
node's vzctl); what only the vz7 kernel has, its `ve` cgroup, is stood in for there
(tests/harness/vz7_ve_cgroup.c), and a real start still fails, as asserted below.
"""
import os
import shutil
import subprocess
import uuid

import pytest

from conftest import REPO
from harness import realvzctl, realvzctl7
from vzzfs_hooks.base.names import HOOK_ACTIONS

ACTIONS = ("premount", "mount", "umount", "postumount")
VZ7_PATH = "/usr/local/sbin:/usr/local/bin:/bin:/sbin:/usr/bin:/usr/sbin:."
ENV_KEYS = {"VEID", "VE_CONFFILE", "HOME", "TERM", "PATH"}

# One action script run, appended to the log named in it: which script, its
# arguments, cwd, stdin, whether its parent (vzctl) maps libvzctl2, whether
# VE_CONFFILE exists, and its whole environment as vzctl passed it.
RECORDER = r"""#!/bin/sh
{
  echo "run $0"
  echo "argc $#"
  echo "cwd $(pwd -P)"
  echo "stdin $(readlink /proc/$$/fd/0)"
  if grep -q libvzctl2 /proc/$PPID/maps; then echo "libvzctl2 mapped"; else echo "libvzctl2 no"; fi
  if [ -e "$VE_CONFFILE" ]; then echo "conffile present"; else echo "conffile missing"; fi
  tr '\0' '\n' </proc/$$/environ | sed 's/^/env /'
  echo end
} >>%s
"""


class Recorder(object):
    """Recording scripts wired as a node's global vps.ACTION and a CT's own scripts."""

    def __init__(self, base):
        self.log = os.path.join(base, "scripts.log")
        self.script = os.path.join(base, "record-script")
        with open(self.script, "w") as f:
            f.write(RECORDER % self.log)
        os.chmod(self.script, 0o755)

    def wire(self, path):
        shutil.copy(self.script, path)  # a copy: vzctl runs it by this path ($0)

    def runs(self):
        """The runs since the last call: [{'run': path, 'env': {...}, ...}]."""
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            lines = f.read().splitlines()
        os.unlink(self.log)
        runs, cur = [], None
        for line in lines:
            key, _, value = line.partition(" ")
            if key == "run":
                cur = {"run": value, "env": {}}
            elif key == "env":
                k, _, v = value.partition("=")
                cur["env"][k] = v
            elif key == "end":
                runs.append(cur)
            else:
                cur[key] = value
        return runs

    def order(self):
        return [r["run"] for r in self.runs()]


@pytest.fixture
def vz7(tmp_path):
    """A node whose vzctl is vzctl 7 (its own /etc/vz, ve cgroup stand-in, /vz dirs)."""
    assert realvzctl7.available(), "vzctl 7 is not built (scripts/build-vzctl7, scripts/vm-setup)"
    v = realvzctl7.RealVzctl7(str(tmp_path / "node7"))
    v.recorder = Recorder(str(tmp_path))
    yield v
    v.cleanup()


def wire_all(v, ctid):
    """Recorders as every global and every CT's own mount-side and umount-side script."""
    for action in ACTIONS:
        v.recorder.wire(os.path.join(v.etc, "conf", "vps." + action))
        v.recorder.wire(os.path.join(v.scripts_dir(ctid), action))


def vz7_order(v, ctid, actions):
    """The scripts vzctl 7 runs for ``actions`` (lib/util.c get_action_script): the
    global one first on the way up, the CT's own first on the way down (as vzctl
    4.11.1 does, postumount included)."""
    order = []
    for action in actions:
        glob = os.path.join("/etc/vz/conf", "vps." + action)
        mine = os.path.join(v.scripts_dir(ctid), action)
        order += [glob, mine] if action in ("premount", "mount") else [mine, glob]
    return order


def test_status_mount_twice_umount_twice_with_every_script_recorded(vz7):
    ct = "101"
    private = vz7.make_simfs_ct(ct, files={"etc/marker": "layout 4\n"})
    assert os.readlink(os.path.join(private, ".ve.layout")) == "4"
    assert os.readlink(vz7.conffile(ct)) == os.path.join(private, "ve.conf")
    assert {"fs", "scripts", "dump", "ve.conf"} <= set(os.listdir(private))
    wire_all(vz7, ct)
    res = vz7.status(ct)
    assert (res.rc, res.output.split()) == (0, ["VEID", ct, "exist", "unmounted", "down"]), res

    res = vz7.mount(ct)
    assert res.rc == 0 and "Container is mounted" in res.output, res
    assert vz7.is_mounted(ct)  # seen from outside vz7ns's namespace too
    with open(os.path.join(vz7.root(ct), "etc/marker")) as f:
        assert f.read() == "layout 4\n"  # VE_PRIVATE/fs bound on VE_ROOT
    runs = vz7.recorder.runs()
    assert [r["run"] for r in runs] == vz7_order(vz7, ct, ("premount", "mount"))
    for r in runs:  # exactly this environment, no arguments, stdin /dev/null, vzctl's cwd
        assert r["env"] == {"VEID": ct, "VE_CONFFILE": "/etc/vz/conf/%s.conf" % ct,
                            "HOME": "/", "TERM": "linux", "PATH": VZ7_PATH}, r
        assert (r["argc"], r["stdin"], r["cwd"], r["libvzctl2"], r["conffile"]) == (
            "0", "/dev/null", os.path.realpath(os.getcwd()), "mapped", "present"), r
    res = vz7.status(ct)
    assert res.output.split() == ["VEID", ct, "exist", "mounted", "down"], res

    res = vz7.mount(ct)  # a second mount: nothing to do, no script
    assert res.rc == 0 and "already mounted" in res.output, res
    assert vz7.recorder.runs() == []

    res = vz7.umount(ct)
    assert res.rc == 0 and "Container is unmounted" in res.output, res
    assert not vz7.is_mounted(ct)
    runs = vz7.recorder.runs()
    assert [r["run"] for r in runs] == vz7_order(vz7, ct, ("umount", "postumount"))
    assert all(set(r["env"]) == ENV_KEYS for r in runs), runs

    res = vz7.umount(ct)  # a second umount: refused, no script
    assert res.rc == 40 and "not mounted" in res.output, res
    assert vz7.recorder.runs() == []


def test_running_is_what_the_ve_cgroup_says(vz7):
    """libvzctl asks the ve cgroup (the stand-in here) whether a CT runs: while its
    ve.state says RUNNING, umount is refused before any script runs."""
    ct = "101"
    vz7.make_simfs_ct(ct)
    wire_all(vz7, ct)
    assert vz7.mount(ct).rc == 0
    vz7.recorder.runs()
    vz7.set_ve_state(ct, "RUNNING")
    assert vz7.status(ct).output.split() == ["VEID", ct, "exist", "mounted", "running"]
    res = vz7.umount(ct)
    assert res.rc == 32 and "running" in res.output, res
    assert vz7.recorder.runs() == [] and vz7.is_mounted(ct)
    vz7.set_ve_state(ct, "STOPPED")
    assert vz7.status(ct).output.split() == ["VEID", ct, "exist", "mounted", "down"]
    assert vz7.umount(ct).rc == 0 and not vz7.is_mounted(ct)


def test_a_uuid_ctid_mounts_and_unmounts(vz7):
    """OpenVZ 7 names new CTs by UUID: VEID and VE_CONFFILE carry it as it is."""
    ct = str(uuid.uuid4())
    vz7.make_simfs_ct(ct)
    wire_all(vz7, ct)
    assert vz7.status(ct).output.split() == ["VEID", ct, "exist", "unmounted", "down"]
    assert vz7.mount(ct).rc == 0 and vz7.is_mounted(ct)
    runs = vz7.recorder.runs()
    assert [r["run"] for r in runs] == vz7_order(vz7, ct, ("premount", "mount"))
    assert {(r["env"]["VEID"], r["env"]["VE_CONFFILE"]) for r in runs} == {
        (ct, "/etc/vz/conf/%s.conf" % ct)}
    assert vz7.umount(ct).rc == 0 and not vz7.is_mounted(ct)


def test_start_runs_the_mount_side_then_fails_and_rolls_back(vz7):
    """A real start needs the vz7 kernel: on this one vzctl 7 mounts the CT through
    every mount-side script, runs its vz-start, makes the CT's cgroups under
    machine.slice and fails on the first hierarchy the VM lacks (perf_event; a vz7
    node has it, and the Virtuozzo-only ve.* files next), then takes the cgroups
    down and rolls back through the umount-side scripts: exit 1, unmounted, down."""
    ct = "101"
    vz7.make_simfs_ct(ct)
    wire_all(vz7, ct)
    res = vz7.start(ct)
    assert res.rc == 1 and "Failed to start the Container" in res.output, res
    assert "Unable to find mount point for perf_event cgroup" in res.output, res
    assert vz7.recorder.order() == vz7_order(vz7, ct, ACTIONS)
    assert not vz7.is_mounted(ct)
    assert vz7.status(ct).output.split() == ["VEID", ct, "exist", "unmounted", "down"]
    res = vz7.stop(ct)
    assert res.rc == 0 and "not running" in res.output, res
    assert vz7.recorder.runs() == []


def test_start_of_a_mounted_ct_unmounts_it_first(vz7):
    """lib/env.c vzctl_env_start: "If Container mounted umount first", through the
    umount-side scripts, then mounts it again."""
    ct = "101"
    vz7.make_simfs_ct(ct)
    wire_all(vz7, ct)
    assert vz7.mount(ct).rc == 0
    vz7.recorder.runs()
    res = vz7.start(ct)
    assert res.rc == 1, res
    assert vz7.recorder.order() == (vz7_order(vz7, ct, ("umount", "postumount"))
                                    + vz7_order(vz7, ct, ACTIONS))
    assert not vz7.is_mounted(ct)


def test_create_mounts_the_new_ct_through_the_scripts_before_its_conf_exists(vz7, tmp_path):
    """`vzctl create` (layout 4 by vz.conf's VEFSTYPE=simfs; its command line takes no
    --layout but ploop) unpacks the tarball into the new VE_PRIVATE, mounts it
    through the global mount-side scripts, unmounts it through the umount-side ones,
    and registers it last: VE_CONFFILE does not exist yet while they run. It runs no
    vps.create."""
    tree = tmp_path / "tree"
    (tree / "fs/etc").mkdir(parents=True)
    (tree / "fs/etc/hostname").write_text("made\n")
    tarball = str(tmp_path / "tiny.tar.gz")
    subprocess.run(["tar", "-C", str(tree), "-czf", tarball, "."], check=True)
    for action in ACTIONS + ("create",):
        vz7.recorder.wire(os.path.join(vz7.etc, "conf", "vps." + action))
    ct = "102"
    res = vz7.create(ct, tarball)
    assert res.rc == 0 and "created" in res.output, res
    runs = vz7.recorder.runs()
    assert [r["run"] for r in runs] == ["/etc/vz/conf/vps." + a for a in ACTIONS]
    assert {r["conffile"] for r in runs} == {"missing"}
    assert {r["env"]["VE_CONFFILE"] for r in runs} == {"/etc/vz/conf/%s.conf" % ct}
    private = vz7.private(ct)
    assert os.readlink(os.path.join(private, ".ve.layout")) == "4"
    assert os.readlink(vz7.conffile(ct)) == os.path.join(private, "ve.conf")
    with open(os.path.join(private, "fs/etc/hostname")) as f:
        assert f.read() == "made\n"
    assert not vz7.is_mounted(ct)
    params = vz7.params(ct)
    assert params["VEID"] == ct and params["OSTEMPLATE"].endswith("tiny.tar.gz"), params


def test_destroy_runs_the_umount_side_only_for_a_mounted_ct(vz7):
    for ct, mounted in (("101", False), ("102", True)):
        private = vz7.make_simfs_ct(ct)
        wire_all(vz7, ct)
        if mounted:
            assert vz7.mount(ct).rc == 0
        vz7.recorder.runs()
        res = vz7.destroy(ct)
        assert res.rc == 0 and "destroyed" in res.output, res
        assert vz7.recorder.order() == (vz7_order(vz7, ct, ("umount", "postumount"))
                                        if mounted else [])
        assert not os.path.lexists(private) and not os.path.lexists(vz7.conffile(ct))
        assert not os.path.lexists(vz7.root(ct))


def test_set_diskspace_of_a_layout_4_ct_is_refused(vz7):
    """vzctl 7 treats --diskspace as the root disk's size, which a layout-4 CT has
    none of: exit 21 and DISKSPACE unchanged, though it says "Saved parameters". It
    takes no decimals and knows no --diskquota. Other settings are saved, keeping
    keys it does not know and a DISKSPACE written by hand."""
    ct = "101"
    vz7.make_simfs_ct(ct, conf_extra='VZZFS_KEEP="me"\n')
    with open(vz7.conffile(ct)) as f:
        text = f.read()
    with open(vz7.conffile(ct), "w") as f:
        f.write(text.replace('DISKSPACE="10485760:10485760"', 'DISKSPACE="2G:2.2G"'))
    wire_all(vz7, ct)
    for value in ("3G:3G", "4194304"):
        res = vz7.set(ct, [("--diskspace", value)])
        assert res.rc == 21 and "no such disk" in res.output, res
    res = vz7.set(ct, [("--diskspace", "2G:2.2G")])
    assert res.rc == 21 and "Incorrect size" in res.output, res
    res = vz7.set(ct, [("--diskspace", "3G"), ("--diskquota", "no")])
    assert res.rc == 21 and "unrecognized option '--diskquota'" in res.output, res
    assert vz7.set(ct, [("--cpus", "2")]).rc == 0
    params = vz7.params(ct)
    assert (params["DISKSPACE"], params["CPUS"], params["VZZFS_KEEP"]) == ("2G:2.2G", "2", "me")
    assert vz7.recorder.runs() == []


@pytest.mark.parametrize("flavour", ["vzctl4", "vzctl7"])
def test_both_vzctls_mount_and_unmount_a_plain_ct(flavour, tmp_path):
    """One test over both real vzctls: a plain simfs CT mounts and unmounts, both
    running the scripts in the same order (the global one first on the way up, the
    CT's own first on the way down, postumount too), vzctl 4.11.1 finding the CT's
    own as /etc/vz/conf/CTID.ACTION, vzctl 7 (layout 4) as VE_PRIVATE/scripts/ACTION,
    each with its own PATH."""
    rec = Recorder(str(tmp_path))
    ct = "101"
    if flavour == "vzctl4":
        assert realvzctl.available()
        base = str(tmp_path / "node4")
        etc = realvzctl.lay_etc(base)
        v = realvzctl.RealVzctl(etc)
        for d in ("vz/private/" + ct, "vz/root", "vz/lock", "vz/dump"):
            os.makedirs(os.path.join(base, d))
        with open(os.path.join(etc, "conf", ct + ".conf"), "w") as f:
            f.write(realvzctl.with_sample('VE_LAYOUT="simfs"\nDISK_QUOTA="no"\n'))

        def mine(action):
            return os.path.join(etc, "conf", "%s.%s" % (ct, action))
        path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # no "."
    else:
        v = realvzctl7.RealVzctl7(str(tmp_path / "node7"))
        v.make_simfs_ct(ct)

        def mine(action):
            return os.path.join(v.scripts_dir(ct), action)
        path = VZ7_PATH

    def order(actions):
        glob = "/etc/vz/conf/vps.%s"
        return [p for a in actions
                for p in ((glob % a, mine(a)) if a in ("premount", "mount") else (mine(a), glob % a))]
    try:
        for action in ACTIONS:
            rec.wire(os.path.join(v.node.conf_dir, "vps." + action))
            rec.wire(mine(action))
        assert v.mount(ct).rc == 0 and v.is_mounted(ct)
        runs = rec.runs()
        assert [r["run"] for r in runs] == order(("premount", "mount"))
        assert {r["env"]["PATH"] for r in runs} == {path}
        assert v.mount(ct).rc == 0 and rec.runs() == []
        assert v.umount(ct).rc == 0 and not v.is_mounted(ct)
        assert rec.order() == order(("umount", "postumount"))
    finally:
        if v.is_mounted(ct):
            v.umount(ct)
        if flavour == "vzctl7":
            v.cleanup()


def test_with_the_hooks_installed_a_plain_ct_mounts_and_unmounts(vz7, pool, tmp_path):
    """`vzzfs install-hooks` on a vzctl 7 node (in its namespace, as an admin would run
    it there): a plain layout-4 CT that is not vzzfs's mounts and unmounts as before,
    the hooks running each time and passing it by; `vzctl create`, which runs them
    before the new CT's VE_CONFFILE exists, still makes one."""
    with open(os.path.join(vz7.etc, "vzzfs.conf"), "w") as f:
        f.write('VZZFS_ROOT="%s/vzzfs"\n' % pool)
    res = vz7.in_node([os.path.join(REPO, "bin/vzzfs"), "install-hooks",
                       "--confdir", "/etc/vz/conf"])
    assert res.rc == 0 and "installed" in res.output, res
    shims = [os.path.join(vz7.etc, "conf", "vps." + a) for a in HOOK_ACTIONS]
    assert all("vzzfs-managed-hook" in open(p).read() for p in shims)
    ct = "101"
    vz7.make_simfs_ct(ct, files={"etc/marker": "plain\n"})
    for _ in range(2):
        res = vz7.mount(ct)
        assert res.rc == 0 and "Container is mounted" in res.output, res
        with open(os.path.join(vz7.root(ct), "etc/marker")) as f:
            assert f.read() == "plain\n"
        assert not os.path.ismount(vz7.private(ct))  # nothing mounted on VE_PRIVATE
        res = vz7.umount(ct)
        assert res.rc == 0 and "Container is unmounted" in res.output, res
        assert not vz7.is_mounted(ct)
    res = vz7.start(ct)  # the hooks pass it by; start fails later, as without them
    assert res.rc == 1 and "Failed to start the Container" in res.output, res
    assert "Error on executing" not in res.output, res  # no hook failed
    assert not vz7.is_mounted(ct)

    tree = tmp_path / "tree"
    (tree / "fs/etc").mkdir(parents=True)
    tarball = str(tmp_path / "tiny.tar.gz")
    subprocess.run(["tar", "-C", str(tree), "-czf", tarball, "."], check=True)
    res = vz7.create("102", tarball)
    assert res.rc == 0 and "created" in res.output, res
    assert vz7.status("102").output.split() == ["VEID", "102", "exist", "unmounted", "down"]
