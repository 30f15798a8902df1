"""OpenVZ 7 nodes: VE_PRIVATE's host side (container/layout.py) made and checked on
plain directories, the CT's files moved between the ext4's two layouts and back
(crash and rerun included), which vzctl is told apart by, PATH without relative
entries, UUID CTIDs. The real vzctl 7 drives the same on real zvols in
tests/vm/test_openvz7.py."""
import os
import types

import pytest

from vzzfs_hooks.base import names, runner
from vzzfs_hooks.base.errors import FsError, StateError, UsageError
from vzzfs_hooks.container import layout
from vzzfs_hooks.system import vzctl
from vzzfs_hooks.verbs import attach


def fake_ct(tmp_path, vz7=True):
    private = str(tmp_path / "private" / "101")
    mountpoint = os.path.join(private, "disk") if vz7 else private
    return types.SimpleNamespace(ctid="101", ve_private=private, vz7=vz7, dataset="vz/ct/101",
                                 mountpoint=mountpoint, files=os.path.join(mountpoint, "fs"))


def test_prepare_makes_the_host_side_and_is_idempotent(tmp_path):
    ct = fake_ct(tmp_path)
    layout.prepare(ct)
    p = ct.ve_private
    assert os.readlink(os.path.join(p, ".ve.layout")) == "4"
    assert os.readlink(os.path.join(p, "fs")) == "disk/fs"
    for sub in ("scripts", "dump", "disk"):
        assert os.path.isdir(os.path.join(p, sub)) and not os.path.islink(os.path.join(p, sub))
    open(os.path.join(p, ".lck"), "w").close()  # vzctl 7's own files stay
    open(os.path.join(p, "ve.conf"), "w").close()
    layout.prepare(ct)
    assert sorted(os.listdir(p)) == [".lck", ".ve.layout", "disk", "dump", "fs", "scripts",
                                     "ve.conf"]


def test_prepare_replaces_vzctl_creates_empty_fs_but_never_a_full_one(tmp_path):
    ct = fake_ct(tmp_path)
    os.makedirs(os.path.join(ct.ve_private, "fs"))
    layout.prepare(ct)
    assert os.readlink(os.path.join(ct.ve_private, "fs")) == "disk/fs"
    ct2 = fake_ct(tmp_path / "b")
    os.makedirs(os.path.join(ct2.ve_private, "fs", "etc"))
    with pytest.raises(FsError) as e:
        layout.prepare(ct2)
    assert "fs is not the symlink" in str(e.value)


@pytest.mark.parametrize("name,planted", [
    (".ve.layout", "5"),            # another layout: vzctl 7 would read scripts elsewhere
    ("scripts", "/"),               # scripts/ pointing anywhere
    ("fs", "/"),                    # fs -> the host's root
    ("dump", "disk/fs/tmp"),
])
def test_prepare_refuses_what_is_planted(tmp_path, name, planted):
    ct = fake_ct(tmp_path)
    os.makedirs(ct.ve_private)
    os.symlink(planted, os.path.join(ct.ve_private, name))
    with pytest.raises(FsError):
        layout.prepare(ct)


ZVOL_DEV = 4242  # the mounted zvol's device number in these tests


@pytest.fixture
def mounted(tmp_path, monkeypatch):
    """A CT whose disk/ stands for the mounted zvol: what lies below it reports
    ZVOL_DEV as its device, as files on the zvol's ext4 would."""
    ct = fake_ct(tmp_path)
    layout.prepare(ct)
    real = layout._lstat

    def lstat(path):
        st = real(path)
        if st is not None and path.startswith(ct.mountpoint + "/"):
            return os.stat_result((st.st_mode, st.st_ino, ZVOL_DEV) + tuple(st)[3:])
        return st
    monkeypatch.setattr(layout, "_lstat", lstat)
    return ct


def test_check_mounted_wants_fs_a_real_directory_on_the_zvol(mounted):
    ct = mounted
    with pytest.raises(FsError) as e:  # nothing at disk/fs: laid out for vzctl 4.x
        layout.check_mounted(ct, ZVOL_DEV)
    assert "vzzfs relayout 101" in str(e.value)
    os.symlink("/", ct.files)  # a symlink planted in the CT's ext4
    with pytest.raises(FsError) as e:
        layout.check_mounted(ct, ZVOL_DEV)
    assert "not a directory of its own" in str(e.value)
    os.unlink(ct.files)
    os.mkdir(ct.files)
    layout.check_mounted(ct, ZVOL_DEV)
    with pytest.raises(FsError):  # a directory of another file system (a mount planted)
        layout.check_mounted(ct, ZVOL_DEV + 1)


def test_check_mounted_wants_fs_to_lead_to_disk_fs(mounted):
    ct = mounted
    os.mkdir(ct.files)
    link = os.path.join(ct.ve_private, "fs")
    os.unlink(link)
    os.symlink("/", link)  # replaced behind vzzfs's back after prepare
    with pytest.raises(FsError) as e:
        layout.check_mounted(ct, ZVOL_DEV)
    assert "does not resolve" in str(e.value)


def tree(top):
    found = []
    for root, dirs, files in os.walk(top):
        for n in dirs + files:
            found.append(os.path.relpath(os.path.join(root, n), top))
    return sorted(found)


def legacy_tree(top):
    for d in ("etc", "root", "fs/inner", "lost+found"):  # the CT's own /root and /fs too
        os.makedirs(os.path.join(top, d))
    with open(os.path.join(top, "etc", "hostname"), "w") as f:
        f.write("ct\n")
    os.symlink("/etc/hostname", os.path.join(top, "link"))  # moved as a link, never followed


def test_the_files_move_into_fs_and_back_by_renames(tmp_path):
    top = str(tmp_path)
    legacy_tree(top)
    before = tree(top)
    ino = os.stat(os.path.join(top, "etc", "hostname")).st_ino
    assert layout.into_fs_dir(top) == ["etc", "fs", "link", "root"]
    assert sorted(os.listdir(top)) == ["fs", "lost+found"]
    assert os.stat(os.path.join(top, "fs", "etc", "hostname")).st_ino == ino  # not a copy
    assert os.readlink(os.path.join(top, "fs", "link")) == "/etc/hostname"
    assert os.path.isdir(os.path.join(top, "fs", "fs", "inner"))
    assert layout.out_of_fs_dir(top) == ["etc", "fs", "link", "root"]
    assert tree(top) == before


def test_a_move_cut_short_is_finished_by_a_rerun(tmp_path):
    top = str(tmp_path)
    legacy_tree(top)
    before = tree(top)
    os.mkdir(os.path.join(top, layout.STAGING))  # cut after two renames
    for entry in ("etc", "fs"):
        os.rename(os.path.join(top, entry), os.path.join(top, layout.STAGING, entry))
    layout.into_fs_dir(top, resuming=True)
    assert sorted(os.listdir(os.path.join(top, "fs"))) == ["etc", "fs", "link", "root"]
    assert layout.into_fs_dir(top, resuming=True) == []  # cut after the last rename
    assert sorted(os.listdir(os.path.join(top, "fs"))) == ["etc", "fs", "link", "root"]
    os.rename(os.path.join(top, "fs"), os.path.join(top, layout.STAGING))  # back, cut
    os.rename(os.path.join(top, layout.STAGING, "root"), os.path.join(top, "root"))
    layout.out_of_fs_dir(top, resuming=True)
    assert tree(top) == before
    assert layout.out_of_fs_dir(top, resuming=True) == []


def test_a_clash_on_the_way_back_is_named_and_kept(tmp_path):
    top = str(tmp_path)
    os.makedirs(os.path.join(top, "fs", "lost+found"))
    os.makedirs(os.path.join(top, "fs", "etc"))
    os.makedirs(os.path.join(top, "lost+found"))
    with pytest.raises(FsError) as e:
        layout.out_of_fs_dir(top)
    assert "lost+found" in str(e.value)
    assert os.path.isdir(os.path.join(top, "etc"))
    assert os.path.isdir(os.path.join(top, layout.STAGING, "lost+found"))


@pytest.mark.parametrize("recorded,vz7,ok", [
    (None, False, True), ("", False, True), ("legacy", False, True), ("vz7", True, True),
    (None, True, False), ("vz7", False, False), ("moving", True, False),
])
def test_the_zvol_must_be_laid_out_for_the_vzctl_that_mounts_it(tmp_path, recorded, vz7, ok):
    ct = fake_ct(tmp_path, vz7)
    if ok:
        attach.require_layout(ct, recorded)
    else:
        with pytest.raises(StateError) as e:
            attach.require_layout(ct, recorded)
        assert "vzzfs relayout 101" in str(e.value)


def test_relative_path_entries_are_dropped():
    assert runner.absolute_path("/usr/local/sbin:/bin:/sbin:/usr/bin:/usr/sbin:.") == \
        "/usr/local/sbin:/bin:/sbin:/usr/bin:/usr/sbin"
    assert runner.absolute_path("bin::/usr/bin") == "/usr/bin"
    assert runner.absolute_path(".") == runner.DEFAULT_PATH
    assert runner.absolute_path(None) == runner.DEFAULT_PATH
    env = {"PATH": "/usr/bin:."}
    runner.use_absolute_path(env)
    assert env["PATH"] == "/usr/bin"


def test_the_node_platform_is_read_from_the_vzctl_binary(tmp_path, monkeypatch):
    v7 = tmp_path / "vzctl7"
    v7.write_bytes(b"\x7fELF....libvzctl2.so.2\x00libc.so.6\x00")
    v4 = tmp_path / "vzctl4"
    v4.write_bytes(b"\x7fELF....libvzctl-4.11.1.so\x00libc.so.6\x00")
    for f in (v7, v4):
        f.chmod(0o755)
    monkeypatch.setattr(vzctl, "_detected", {})

    def settings(prog, platform="auto"):
        return types.SimpleNamespace(platform=platform, vzctl=str(prog))
    assert vzctl.node_platform(settings(v7)) == vzctl.OPENVZ7
    assert vzctl.node_platform(settings(v4)) == vzctl.VZCTL4
    assert vzctl.node_platform(settings(tmp_path / "none")) == vzctl.VZCTL4
    assert vzctl.node_platform(settings(v7, "vzctl4")) == vzctl.VZCTL4


def test_uuid_ctids_are_new_ctids_on_openvz7_only(tmp_path):
    uuid = "3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
    assert names.check_new_ctid(str(tmp_path), uuid, uuid_ok=True) == uuid
    with pytest.raises(UsageError):
        names.check_new_ctid(str(tmp_path), uuid)
    with pytest.raises(UsageError):
        names.check_new_ctid(str(tmp_path), "not-a-uuid", uuid_ok=True)
    assert names.ct_dataset("vz/vzzfs", uuid) == "vz/vzzfs/ct/" + uuid
    names.check_dataset_name(names.ct_dataset("vz/vzzfs", uuid))


def test_the_cts_cgroup_is_named_as_its_vzctl_names_it(tmp_path, monkeypatch):
    from vzzfs_hooks.system import freezer
    assert vzctl.cgroup_name("101") == "vz-101"
    assert vzctl.cgroup_name("101", vzctl.OPENVZ7) == "machine.slice/101"
    os.makedirs(str(tmp_path / "machine.slice" / "101"))
    (tmp_path / "machine.slice" / "101" / "freezer.state").write_text("THAWED\n")
    monkeypatch.setattr(freezer, "_hierarchy", lambda: str(tmp_path))
    assert freezer.cgroup_dir("101", vzctl.OPENVZ7) == str(tmp_path / "machine.slice" / "101")
    assert freezer.cgroup_dir("101") is None
