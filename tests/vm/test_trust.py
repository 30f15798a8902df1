"""Trust boundaries on real ZFS: a tampered backup, a hostile sender, a hostile
VZZFS_DATASET, a name passed as a new CTID and a setuid file in a mounted snapshot
each leave the node as it was, and no program they plant runs."""
import base64
import json
import os
import stat
import subprocess

from conftest import sh
from test_backup import VZZFS
from vzzfs_hooks.system import zfs


def planted(tmp_path):
    """A program that leaves a mark if anything runs it; returns (program, mark)."""
    mark = str(tmp_path / "PLANTED-RAN")
    prog = str(tmp_path / "planted")
    with open(prog, "w") as f:
        f.write("#!/bin/sh\ntouch '%s'\nexit 0\n" % mark)
    os.chmod(prog, 0o755)
    return prog, mark


def read(path):
    with open(path) as f:
        return f.read()


def rewrite_header(src, dst, **changes):
    """A copy of the backup ``src`` whose header has ``changes`` (conf_extra: lines
    appended to the conf), as a hostile party would edit it."""
    with open(src, "rb") as f:
        data = f.read()
    end = data.index(b"\n")
    magic = b"VZZFS-BACKUP 1 "
    header = json.loads(base64.b64decode(data[len(magic):end]).decode())
    header["conf"] += changes.pop("conf_extra", "")
    header.update(changes)
    with open(dst, "wb") as f:
        f.write(magic + base64.b64encode(json.dumps(header).encode()) + data[end:])
    return dst


def hostile_conf(prog, tmp_path, ve_root="/"):
    return ('VZZFS_VZCTL="%s"\nLOCKDIR="%s"\nVE_ROOT="%s"\nVZZFS_ROOT="vz"\nDUMPDIR="/etc"\n'
            'VZZFS_MOUNT_OPTS="noatime,dev,suid"\nCAPABILITY="SYS_ADMIN:on"\n'
            'DEVICES="b:8:0:rw"\n' % (prog, tmp_path, ve_root))


NODE_KEYS = ("VZZFS_VZCTL", "LOCKDIR", "VE_ROOT", "VZZFS_ROOT", "DUMPDIR", "VZZFS_MOUNT_OPTS",
             "CAPABILITY", "DEVICES")


def zvols(pool):
    return sorted(r["name"] for r in zfs.list_datasets(pool, ["name"], types="volume"))


def state(node, pool="vz"):
    """What must not change: the zvols, vzzfs.conf, the confs."""
    confs = {n: read(os.path.join(node.etc, "conf", n))
             for n in sorted(os.listdir(os.path.join(node.etc, "conf"))) if n.endswith(".conf")}
    return zvols(pool), read(os.path.join(node.etc, "vzzfs.conf")), confs


def one_line_error(res, rc=None):
    assert res.returncode != 0 and (rc is None or res.returncode == rc), res.stdout
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vzzfs: "), res.stdout


def test_tampered_backup_keeps_the_nodes_settings_and_runs_nothing(node, tmp_path):
    prog, mark = planted(tmp_path)
    node.make_ct(101, extra_conf='HOSTNAME="ct101"\nNAMESERVER="10.0.0.1"\n')
    good = str(tmp_path / "full")
    assert node.vzzfs("backup", "101", "--to", good).returncode == 0
    bad = rewrite_header(good, str(tmp_path / "tampered"), ctid="101",
                         dataset="vz", conf_extra=hostile_conf(prog, tmp_path))
    node.track(301)
    before = read(os.path.join(node.etc, "vzzfs.conf"))
    res = node.vzzfs("restore", bad, "--ctid", "301")
    assert res.returncode == 0, res.stdout
    warned = [line for line in res.stdout.splitlines() if "left out" in line]
    assert len(warned) == 1 and all(k in warned[0] for k in NODE_KEYS), res.stdout
    conf = read(node.conffile(301))
    assert not [k for k in NODE_KEYS if k + "=" in conf], conf
    assert 'NAMESERVER="10.0.0.1"' in conf  # the CT's own settings do travel
    assert zfs.exists(node.dataset(301)) and zfs.exists(node.dataset(101))
    assert read(os.path.join(node.etc, "vzzfs.conf")) == before
    # vzzfs runs VZZFS_VZCTL for resize's set --save: the node's, not the stream's
    assert node.vzzfs("resize", "301", "256M").returncode == 0
    assert node.vzzfs("destroy", "301").returncode == 0
    assert zfs.exists(node.dataset(101)) and zfs.exists("vz/vzzfs")
    assert not os.path.exists(mark)


def test_snapshot_switch_imports_only_the_cts_settings(node, tmp_path):
    prog, mark = planted(tmp_path)
    node.make_ct(101, extra_conf='HOSTNAME="ct101"\n')
    # a conf stored on a snapshot (it could have arrived with zfs send -p)
    with open(node.conffile(101), "a") as f:  # VE_ROOT="/" would not even parse here
        f.write(hostile_conf(prog, tmp_path, str(tmp_path / "elsewhere")))
    res = node.vzzfs("snapshot", "101", "--name", "s1")
    assert res.returncode == 0, res.stdout
    clean = read(node.conffile(101)).split("VZZFS_VZCTL=")[0]
    with open(node.conffile(101), "w") as f:
        f.write(clean)
    res = node.vzzfs("snapshot-switch", "101", "s1")
    assert res.returncode == 0 and "left out" in res.stdout, res.stdout
    conf = read(node.conffile(101))
    assert not [k for k in NODE_KEYS if k + "=" in conf], conf
    assert 'HOSTNAME="ct101"' in conf
    assert node.vzzfs("resize", "101", "256M").returncode == 0
    assert not os.path.exists(mark)


def forced_command(tmp_path, etc):
    """What sshd runs for a key with command="vzzfs receive --forced-command": the
    sender's words only reach it as SSH_ORIGINAL_COMMAND."""
    path = str(tmp_path / "ssh-forced")
    with open(path, "w") as f:
        f.write('#!/bin/sh\nSSH_ORIGINAL_COMMAND="$*" exec %s --etc-dir %s receive '
                '--forced-command\n' % (VZZFS, etc))
    os.chmod(path, 0o755)
    return path


def test_hostile_sender_behind_a_forced_command(node, node2, tmp_path):  # noqa: F811
    prog, mark = planted(tmp_path)
    ssh = forced_command(tmp_path, node2.etc)
    node.make_ct(101, extra_conf='HOSTNAME="src"\n')
    node2.make_ct(101, files={"root/keep": "theirs"}, extra_conf='HOSTNAME="there"\n')
    node2.make_ct(102)
    node2.track(103)
    node2.track(1500)
    before = state(node2, "vz2")

    # an existing CT cannot be overwritten, not by send and not with --force
    res = node.vzzfs("send", "101", "--to", "%s vzzfs receive" % ssh)
    one_line_error(res)
    assert state(node2, "vz2") == before
    full = str(tmp_path / "full")
    assert node.vzzfs("backup", "101", "--to", full).returncode == 0

    def pipe(path, *words):
        with open(path, "rb") as f:
            return subprocess.run([ssh, "vzzfs", "receive"] + list(words), stdin=f,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  universal_newlines=True)
    for words in ((), ("--force",), ("--ctid", "102", "--force")):
        one_line_error(pipe(full, *words))
        assert state(node2, "vz2") == before, words
    # the stream after the status answer (what vzzfs send runs) is bounded alike
    res = pipe(full, "--status", "101", "--then-receive")
    lines = res.stdout.strip().splitlines()
    assert res.returncode != 0 and json.loads(lines[0])["exists"] is True, res.stdout
    assert len(lines) == 2 and "already exists" in lines[1], res.stdout
    assert state(node2, "vz2") == before
    # nor may it reach past receive: other verbs, another /etc/vz, a shell
    for words in (("--etc-dir", str(tmp_path)), ("--ctid", "103;", "id")):
        one_line_error(pipe(full, *words), 2)
    res = subprocess.run([ssh, "sh", "-c", prog], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, universal_newlines=True)
    one_line_error(res, 2)
    assert state(node2, "vz2") == before

    # a new CT lands where this node says, with this node's settings
    bad = rewrite_header(full, str(tmp_path / "bad"), ctid="103", dataset="vz2/vzzfs/ct/101",
                         conf_extra=hostile_conf(prog, tmp_path) + 'VZZFS_DATASET="vz2"\n')
    res = pipe(bad)
    assert res.returncode == 0, res.stdout
    assert zfs.exists("vz2/vzzfs/ct/103")
    conf = read(node2.conffile(103))
    assert 'VZZFS_DATASET="vz2/vzzfs/ct/103"' in conf
    assert not [k for k in NODE_KEYS if k + "=" in conf], conf
    after = state(node2, "vz2")
    assert after[0] == sorted(before[0] + ["vz2/vzzfs/ct/103"])
    assert after[1] == before[1] and {k: v for k, v in after[2].items()
                                      if k != "103.conf"} == before[2]
    assert zfs.get("vz2/vzzfs/ct/103", "org.openvz.vzzfs:ctid")["org.openvz.vzzfs:ctid"] == "103"

    # the receiving node's CTID range
    with open(os.path.join(node2.etc, "vzzfs.conf"), "a") as f:
        f.write('VZZFS_RECEIVE_CTIDS="1000-1999"\n')
    one_line_error(pipe(full, "--ctid", "104"), 2)
    assert not zfs.exists("vz2/vzzfs/ct/104")
    assert pipe(full, "--ctid", "1500").returncode == 0
    assert not os.path.exists(mark)


def test_hostile_vzzfs_dataset_is_refused_everywhere(node, tmp_path):
    node.make_ct(101)
    node.make_ct(102, files={"root/keep": "102"})
    node.make_ct(103, dataset="vz/outside103")  # outside VZZFS_ROOT/ct, unmarked
    with open(node.conffile(103), "a") as f:
        f.write('VZZFS_DATASET="vz/outside103"\n')
    assert node.vzzfs("snapshot", "102", "--name", "s1").returncode == 0
    conf = node.conffile(101)
    text = read(conf)
    before = zvols("vz")
    every = (("destroy", "101"), ("resize", "101", "200M"), ("snapshot", "101", "--name", "x"),
             ("snapshot-delete", "101", "s1"), ("snapshot-switch", "101", "s1"),
             ("backup", "101", "--to", str(tmp_path / "b")))
    # every verb against another CT's zvol; the rest (TCG is slow) against destroy
    for target, verbs, start in ((node.dataset(102), every, True),
                                 ("vz", (("destroy", "101"),), False),
                                 ("vz/vzzfs", (("destroy", "101", "--promote"),), False),
                                 ("vz/outside103", (("destroy", "101"),), True)):
        with open(conf, "w") as f:
            f.write(text + 'VZZFS_DATASET="%s"\n' % target)
        for verb in verbs:
            res = node.vzzfs(*verb)
            one_line_error(res, 3)
            assert "refusing to touch %s" % target in res.stdout, (verb, res.stdout)
        if start:
            res = node.vzctl.start(101)  # the hooks go through the same rule
            assert res.rc != 0, res
            assert not os.path.ismount(node.private(101))
            assert not os.path.ismount(node.private(102))
        assert zvols("vz") == before, target
    assert [r["name"] for r in zfs.list_datasets(node.dataset(102), ["name"], "snapshot")] == \
        [node.dataset(102) + "@s1"]
    one_line_error(node.vzzfs("destroy", "103"), 3)
    assert zvols("vz") == before


def test_a_name_is_no_new_ctid_and_staging_cannot_hit_a_ct(node, tmp_path):
    node.make_tarball("tmpl-n")
    node.make_ct(101, files={"root/a": "a"})
    os.makedirs(os.path.join(node.etc, "names"), exist_ok=True)  # vzctl's stock /etc/vz has it
    os.symlink("../conf/101.conf", os.path.join(node.etc, "names", "web"))
    full = str(tmp_path / "full")
    assert node.vzzfs("backup", "101", "--to", full).returncode == 0
    before = zvols("vz")
    for verb in (("restore", full, "--ctid", "web"), ("clone", "101", "web"),
                 ("create", "web", "--ostemplate", "tmpl-n", "--diskspace", "128M"),
                 ("restore", rewrite_header(full, str(tmp_path / "named"), ctid="web"))):
        one_line_error(node.vzzfs(*verb), 2)
        assert zvols("vz") == before and os.path.exists(node.conffile(101)), verb
    assert not os.path.exists(node.conffile("web"))
    # a CT whose zvol is named like the old staging datasets is not touched
    for name in ("101-restoring", "101-replaced"):
        node.make_ct(name, files={"root/mine": name})
    before = zvols("vz")
    res = node.vzzfs("restore", full, "--force")
    assert res.returncode == 0, res.stdout
    assert zvols("vz") == before
    assert not [n for n in zvols("vz") if "/incoming/" in n]


def test_destroy_promote_leaves_no_conf_for_the_clone_to_switch_to(node):
    node.make_ct(101, extra_conf='HOSTNAME="ct101"\nIP_ADDRESS="10.0.0.101"\n')
    assert node.vzzfs("snapshot", "101", "--name", "s1").returncode == 0
    node.track(102)
    res = node.vzzfs("clone", "101", "102", "--snapshot", "s1", "--hostname", "ct102")
    assert res.returncode == 0, res.stdout
    assert node.vzzfs("destroy", "101", "--promote").returncode == 0
    res = node.vzzfs("snapshot-switch", "102", "s1")
    assert res.returncode == 0, res.stdout
    conf = read(node.conffile(102))
    assert "ct101" not in conf and "10.0.0.101" not in conf, conf


def refused(argv_or_path, opener=None):
    """True if running (or opening) it fails: noexec refuses exec, nodev the device."""
    try:
        if opener:
            opener(argv_or_path).close()
            return False
        return subprocess.run([argv_or_path], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode != 0
    except OSError:
        return True


def test_setuid_file_in_a_mounted_snapshot_stays_inert(node, tmp_path):
    mark = str(tmp_path / "PLANTED-RAN")
    node.make_ct(101)
    assert node.vzzfs("attach", "101").returncode == 0
    prog = os.path.join(node.private(101), "root/suid")
    with open(prog, "w") as f:
        f.write("#!/bin/sh\ntouch '%s'\n" % mark)
    os.chmod(prog, 0o4755)
    sh("mknod", os.path.join(node.private(101), "root/disk"), "b", "7", "0")
    assert node.vzzfs("detach", "101").returncode == 0
    assert node.vzzfs("snapshot", "101", "--name", "s1").returncode == 0
    target = str(tmp_path / "look")
    os.makedirs(target)
    res = node.vzzfs("snapshot-mount", "101", "s1", target)
    assert res.returncode == 0, res.stdout
    try:
        opts = [line.split()[3].split(",") for line in read("/proc/self/mounts").splitlines()
                if line.split()[1] == target][0]
        assert {"ro", "nosuid", "nodev", "noexec"} <= set(opts), opts
        inside = os.path.join(target, "root/suid")
        assert os.stat(inside).st_mode & stat.S_ISUID  # the bit is there, and inert
        assert refused(inside)
        assert refused(os.path.join(target, "root/disk"), lambda p: open(p, "rb"))
    finally:
        assert node.vzzfs("snapshot-umount", "101", "s1").returncode == 0
    assert not os.path.exists(mark)


SENDERS_PROPS = {"checksum": "off", "sync": "disabled", "copies": "2", "dedup": "on",
                 "logbias": "throughput", "com.sun:auto-snapshot": "true"}


def test_a_backup_sets_no_property_of_the_senders_zvol(node, tmp_path):
    """Issue 29, 2: zfs receive applied the stream's native properties: a backup of a
    zvol with checksum=off, sync=disabled, copies=2 restored with all three, and a
    refreservation could starve every sparse CT in the pool."""
    ds = node.make_ct(101)
    args = []
    for prop, value in SENDERS_PROPS.items():
        args += ["%s=%s" % (prop, value)]
    sh("zfs", "set", *(args + ["refreservation=64M", ds]))
    # a snapshot whose dumpfile names a file of this node's (zfs send -p carries it)
    sh("zfs", "snapshot", "-o", "org.openvz.vzzfs:dumpfile=/etc/Dump.301.x", ds + "@s0")
    full, incr = str(tmp_path / "full"), str(tmp_path / "incr")
    assert node.vzzfs("backup", "101", "--to", full).returncode == 0
    assert node.vzzfs("backup", "101", "--to", incr, "--incremental").returncode == 0
    crafted = rewrite_header(full, str(tmp_path / "crafted"), snapshot="s0")
    with open(crafted, "rb") as f:
        header = f.readline()
    with open(crafted, "wb") as out:  # that header, then a stream of s0 with its property
        out.write(header)
        out.flush()
        subprocess.run(["zfs", "send", "-p", ds + "@s0"], stdout=out, check=True)
    for ctid, backups in ((301, (crafted,)), (302, (full, incr))):
        node.track(ctid)
        for backup in backups:
            res = node.vzzfs("restore", backup, "--ctid", str(ctid))
            assert res.returncode == 0, res.stdout
            there = node.dataset(ctid)
            got = zfs.get_with_source(there, *(list(SENDERS_PROPS) + [
                "refreservation", "compression", "org.openvz.vzzfs:ctid"]))
            assert not [p for p, (_, source) in got.items() if source == "received"], got
            for prop in SENDERS_PROPS:
                assert got[prop][0] != SENDERS_PROPS[prop], (prop, got)
            assert got["refreservation"][0] in ("0", "none"), got
            assert got["compression"] == ("lz4", "local"), got
            assert got["org.openvz.vzzfs:ctid"] == (str(ctid), "local"), got
    dump = zfs.get(node.dataset(301) + "@s0", "org.openvz.vzzfs:dumpfile")
    assert dump["org.openvz.vzzfs:dumpfile"] is None, dump

    # a stream of a file system instead of a zvol is refused, mounted nowhere
    sh("zfs", "create", "-o", "mountpoint=%s" % (tmp_path / "fsmount"), "-o",
       "canmount=noauto", "vz/fsstream")
    try:
        sh("zfs", "set", "canmount=on", "vz/fsstream")  # in the stream; not mounted here
        sh("zfs", "snapshot", "vz/fsstream@s")
        with open(full, "rb") as f:
            header = f.readline()
        fs = str(tmp_path / "fs")
        with open(fs, "wb") as out:
            out.write(header)
            out.flush()
            subprocess.run(["zfs", "send", "-p", "vz/fsstream@s"], stdout=out, check=True)
        assert not os.path.ismount(str(tmp_path / "fsmount"))
        res = node.vzzfs("restore", fs, "--ctid", "303")
        one_line_error(res, 2)
        assert "holds no zvol" in res.stdout, res.stdout
        assert not zfs.exists(node.dataset(303))
        assert not zfs.exists("vz/vzzfs/incoming/303-restoring")
        assert not os.path.ismount(str(tmp_path / "fsmount"))
    finally:
        sh("zfs", "destroy", "-r", "vz/fsstream", check=False)
