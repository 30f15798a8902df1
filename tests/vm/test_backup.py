"""Backups, replication and migration on real ZFS. A second pool on the VM's second
disk, with its own /etc/vz, stands for a second node; the transport is a local command."""
import base64
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO, sh
from vzzfs_hooks.base import names
from vzzfs_hooks.system import zfs
from vzzfs_hooks.verbs import backup

VZZFS = os.path.join(REPO, "bin", "vzzfs")


def guid(name):
    return zfs.get(name, "guid")["guid"]


def last_snapshot(node, ctid, kind):
    rows = [r for r in zfs.list_datasets(node.dataset(ctid), ["name"], types="snapshot")]
    names = [r["name"] for r in rows if "@" + kind in r["name"]]
    return names[-1]


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def read(path):
    with open(path) as f:
        return f.read()


def nothing_left(node, ctid):
    ds = node.dataset(ctid)
    staged = "%s/incoming/%s" % (node.zroot, ctid)
    for name in (ds, staged + "-restoring", staged + "-replaced"):
        assert not zfs.exists(name), name
    assert not os.path.exists(node.conffile(ctid))
    assert not os.path.exists(node.private(ctid))


def test_full_and_two_incrementals_restore_identical_data(node, node2, tmp_path):
    node.make_ct(101, files={"root/a": "a"}, extra_conf='HOSTNAME="ct101"\n')
    assert node.vzctl.start(101).rc == 0
    root = node.root(101)
    files = [str(tmp_path / ("b%d" % i)) for i in range(3)]
    res = node.vzzfs("backup", "101", "--to", files[0])
    assert res.returncode == 0 and "full backup" in res.stdout, res.stdout
    write(root + "/root/b", "b")
    res = node.vzzfs("backup", "101", "--to", files[1], "--incremental")
    assert res.returncode == 0 and "incremental backup" in res.stdout, res.stdout
    write(root + "/root/c", "c" * 100000)
    os.unlink(root + "/root/a")
    res = node.vzzfs("backup", "101", "--to", files[2], "--incremental", "--retain", "2")
    assert res.returncode == 0, res.stdout
    kept = [r["name"] for r in zfs.list_datasets(node.dataset(101), ["name"], types="snapshot")]
    assert len(kept) == 2, kept
    last = last_snapshot(node, 101, "vzzfs-backup-")
    assert node.vzctl.stop(101).rc == 0

    res = node2.vzzfs("restore", files[1])
    assert res.returncode == 7 and "full backup first" in res.stdout, res.stdout
    node2.track(101)
    for f in files:
        res = node2.vzzfs("restore", f)
        assert res.returncode == 0 and "restored" in res.stdout, res.stdout
    assert guid(last_snapshot(node2, 101, "vzzfs-backup-")) == guid(last)
    assert 'HOSTNAME="ct101"' in read(node2.conffile(101)), "the conf travels in the backup"
    assert node2.vzctl.start(101).rc == 0
    assert sorted(os.listdir(node2.root(101) + "/root")) == ["b", "c"]
    assert read(node2.root(101) + "/root/c") == "c" * 100000
    assert node2.vzctl.stop(101).rc == 0
    res = node2.vzzfs("restore", files[0])
    assert res.returncode == 7 and "--force" in res.stdout, res.stdout

    # the same backup as a new CT on the same node: its own paths and zvol
    node.track(102)
    res = node.vzzfs("restore", files[0], "--ctid", "102")
    assert res.returncode == 0, res.stdout
    assert zfs.exists(node.dataset(102)) and os.path.isdir(node.private(102))
    assert node.vzctl.start(102).rc == 0
    assert read(node.root(102) + "/root/a") == "a"
    assert node.vzctl.stop(102).rc == 0


def _library_files(mib):
    """(relative path, bytes) of the first ``mib`` MiB of Python's library, its tests
    left out: ordinary files (source, compiled code, extension modules) that lz4
    compresses about 2x, as a distribution's /usr."""
    top = os.path.dirname(os.__file__)
    total = 0
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if d not in ("test", "tests"))
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if total >= mib << 20 or not os.path.isfile(path) or os.path.islink(path):
                continue
            with open(path, "rb") as f:
                data = f.read()
            total += len(data)
            yield os.path.relpath(path, top), data


def _fill_with_files(node, ctid, mib):
    """_library_files into the CT's root/lib; the digest of their names and bytes."""
    import hashlib
    assert node.vzzfs("attach", str(ctid)).returncode == 0
    dest = os.path.join(node.private(ctid), "root", "lib")
    digest = hashlib.sha256()
    for rel, data in _library_files(mib):
        path = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        digest.update(rel.encode() + b"\0" + data)
    assert node.vzzfs("detach", str(ctid)).returncode == 0
    return digest.hexdigest()


def _digest_of(node, ctid):
    import hashlib
    assert node.vzzfs("attach", str(ctid)).returncode == 0
    lib = os.path.join(node.private(ctid), "root", "lib")
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(lib):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                digest.update(os.path.relpath(path, lib).encode() + b"\0" + f.read())
    assert node.vzzfs("detach", str(ctid)).returncode == 0
    return digest.hexdigest()


def _header_and_stream(path):
    with open(path, "rb") as f:
        data = f.read()
    end = data.index(b"\n") + 1
    return json.loads(base64.b64decode(data[len(backup.MAGIC):end])), data[end:]


def test_a_backup_is_smaller_than_the_data_by_its_compression_ratio(node, node2, tmp_path):
    """Issue 28: a backup is a compressed stream, about the snapshot's size on disk:
    logical size / backup size is the CT's compressratio, within 5 % (ZFS's own
    record headers, 312 bytes a block, are some 4 % of a 16K block compressed to
    half), and at most 1.05x a bare `zfs send -c` of the same snapshot. The data
    arrives compressed and whole; a --plain backup and one written before (a plain
    stream, no kind in its header) restore too; `vzzfs list` shows what the last
    stream moved."""
    node.make_ct(101, size=256 << 20)
    digest = _fill_with_files(node, 101, 24)
    path, plain, old = (str(tmp_path / n) for n in ("full", "plain", "old"))
    res = node.vzzfs("backup", "101", "--to", path)
    assert res.returncode == 0 and "a compressed stream" in res.stdout, res.stdout
    snap = last_snapshot(node, 101, "vzzfs-backup-")
    props = zfs.get(snap, "logicalreferenced", "compressratio")
    logical, ratio = int(props["logicalreferenced"]), float(props["compressratio"])
    assert ratio >= 1.5, "compressible data: %s" % props
    size = os.path.getsize(path)
    assert logical / float(size) >= 0.95 * ratio, (logical, size, ratio)
    bare = len(subprocess.run(["zfs", "send", "-c", snap], stdout=subprocess.PIPE,
                              check=True).stdout)
    assert size <= 1.05 * bare, (size, bare)
    header, _ = _header_and_stream(path)
    assert header["stream"] == "compressed" and "lz4_compress" in header["stream_needs"]
    res = node.vzzfs("list", "101", "-j", "-o", "ctid,moved")
    assert json.loads(res.stdout) == [{"ctid": "101", "moved": size}], res.stdout

    res = node.vzzfs("backup", "101", "--to", plain, "--plain")
    assert res.returncode == 0 and "a plain stream" in res.stdout, res.stdout
    assert os.path.getsize(plain) > 1.4 * size, "every block decompressed"
    header, stream = _header_and_stream(plain)
    assert header["stream"] == "plain"
    del header["stream"]  # as vzzfs wrote it before issue 28
    with open(old, "wb") as f:
        f.write(backup.MAGIC + base64.b64encode(json.dumps(header).encode()) + b"\n" + stream)

    node2.track(101)
    node2.track(102)
    node2.track(103)
    for ctid, f in (("101", path), ("102", plain), ("103", old)):
        res = node2.vzzfs("restore", f, "--ctid", ctid)
        assert res.returncode == 0, (f, res.stdout)
        assert _digest_of(node2, ctid) == digest, f
    there = zfs.get(node2.dataset(101), "compressratio", "compression")
    assert abs(float(there["compressratio"]) - ratio) <= 0.05 * ratio, (there, ratio)
    assert there["compression"] == "lz4", "the CT's compression comes along (-p)"


OLD_PEER = """import json, shutil, subprocess, sys
# a vzzfs receive from before issue 28: its --status answer does not say which streams
# it takes; the header of what it is sent is kept in HEADERS
argv = sys.argv[2:]
if "--then-receive" in argv:  # as an older vzzfs's argparse says it
    open(sys.argv[1] + ".refused", "a").write("then-receive\\n")
    sys.stderr.write("vzzfs receive: error: unrecognized arguments: --then-receive\\n")
    sys.exit(2)
if "--status" in argv:
    answer = json.loads(subprocess.run(argv, stdout=subprocess.PIPE, check=True).stdout)
    answer.pop("streams")
    print(json.dumps(answer))
    sys.exit(0)
line = sys.stdin.buffer.readline()
with open(sys.argv[1], "ab") as f:
    f.write(line)
p = subprocess.Popen(argv, stdin=subprocess.PIPE)
p.stdin.write(line)
shutil.copyfileobj(sys.stdin.buffer, p.stdin)
p.stdin.close()
sys.exit(p.wait())
"""


def test_a_peer_that_does_not_say_it_takes_compressed_streams_gets_plain_ones(node, node2,
                                                                             tmp_path):
    """Issue 28: the sender asks first; an older vzzfs there gets plain streams, and
    the sender says why once (and asks in two steps: no --then-receive there)."""
    node.make_ct(101, files={"root/a": "a" * 100000})
    node2.track(101)
    wrapper, headers = str(tmp_path / "old.py"), str(tmp_path / "headers")
    write(wrapper, OLD_PEER)
    to = "%s %s %s %s --etc-dir %s receive" % (sys.executable, wrapper, headers, VZZFS,
                                              node2.etc)
    for how in ("full", "incremental"):
        res = node.vzzfs("send", "101", "--to", to)
        assert res.returncode == 0 and "%s send done" % how in res.stdout, res.stdout
        assert res.stdout.count("predates compressed streams") == 1, res.stdout
    kinds = [json.loads(base64.b64decode(l[len(backup.MAGIC):])).get("stream")
             for l in open(headers, "rb").read().splitlines()]
    assert kinds == ["plain", "plain"]
    # each send tried one connection first, then asked and sent in two steps
    assert read(headers + ".refused") == "then-receive\n" * 2
    res = node.vzzfs("send", "101", "--to", "%s --etc-dir %s receive" % (VZZFS, node2.etc))
    assert res.returncode == 0 and "plain" not in res.stdout, res.stdout
    assert node2.vzzfs("attach", "101").returncode == 0
    assert read(node2.private(101) + "/root/a") == "a" * 100000
    assert node2.vzzfs("detach", "101").returncode == 0


def test_truncated_damaged_and_foreign_streams_leave_nothing(node, tmp_path):
    node.make_ct(101, files={"root/a": "a" * 300000})
    path = str(tmp_path / "full")
    assert node.vzzfs("backup", "101", "--to", path).returncode == 0
    with open(path, "rb") as f:
        data = f.read()
    header_end = data.index(b"\n") + 1
    cases = {"truncated": data[:header_end + (len(data) - header_end) // 2],
             "damaged": bytearray(data), "foreign": b"just some file\n" + data[header_end:],
             "header only": data[:header_end]}
    middle = header_end + (len(data) - header_end) // 2
    for i in range(middle, middle + 64):
        cases["damaged"][i] ^= 0xFF
    node.track(301)
    for what, content in sorted(cases.items()):
        bad = str(tmp_path / what.replace(" ", "-"))
        with open(bad, "wb") as f:
            f.write(bytes(content))
        res = node.vzzfs("restore", bad, "--ctid", "301")
        assert res.returncode != 0, (what, res.stdout)
        assert len(res.stdout.strip().splitlines()) == 1, (what, res.stdout)
        nothing_left(node, 301)
    assert "not a vzzfs backup" in node.vzzfs("restore", str(tmp_path / "foreign"),
                                              "--ctid", "301").stdout
    assert not os.path.exists(str(tmp_path / "x.partial"))
    res = node.vzzfs("backup", "101", "--to", str(tmp_path / "nodir" / "x"))
    assert res.returncode != 0 and len(res.stdout.strip().splitlines()) == 1, res.stdout


def test_a_full_or_exported_pool_is_named_and_nothing_is_lost(node, node2, tmp_path):
    """A restore into a full pool says the pool is full, not that the backup is
    damaged; verbs on a CT whose pool is exported say so and destroy nothing."""
    node.make_ct(101, files={"root/a": "a"})
    full = str(tmp_path / "full")
    assert node.vzzfs("backup", "101", "--to", full).returncode == 0
    used = int(zfs.get(node2.zroot, "used")["used"])
    sh("zfs", "set", "quota=%d" % (used + (1 << 20)), node2.zroot)
    try:
        res = node2.vzzfs("restore", full)
    finally:
        sh("zfs", "set", "quota=none", node2.zroot)
    assert res.returncode == 5 and "free space in pool vz2" in res.stdout, res.stdout
    assert "damaged" not in res.stdout, res.stdout
    nothing_left(node2, 101)
    node2.track(101)
    assert node2.vzzfs("restore", full).returncode == 0
    sh("zpool", "export", "vz2")
    try:
        for verb in (("destroy", "101"), ("snapshot", "101", "--name", "s1")):
            res = node2.vzzfs(*verb)
            assert res.returncode == 5 and "zpool import vz2" in res.stdout, (verb, res.stdout)
        assert node2.vzzfs("resize", "101", "256M").returncode == 5
    finally:
        sh("zpool", "import", "-d", "/dev", "vz2")
    assert zfs.exists(node2.dataset(101)) and os.path.exists(node2.conffile(101))


def test_send_is_incremental_and_resumes_after_a_cut(node, node2, tmp_path):
    to = "%s --etc-dir %s receive" % (VZZFS, node2.etc)
    node.make_ct(101, size=256 << 20)
    node2.track(101)
    assert node.vzctl.start(101).rc == 0
    root = node.root(101)
    res = node.vzzfs("send", "101", "--to", to)
    assert res.returncode == 0 and "full send" in res.stdout, res.stdout
    write(root + "/root/small", "x" * 4096)
    res = node.vzzfs("send", "101", "--to", to)
    assert res.returncode == 0 and "incremental send" in res.stdout, res.stdout
    # cut the next stream part way: the other side keeps what it got
    sh("dd", "if=/dev/urandom", "of=%s/root/big" % root, "bs=1M", "count=40", "conv=fsync")
    cut = str(tmp_path / "cut.py")
    # the status answer goes through (the receiver writes it to this one's stdout), then
    # the stream is cut
    write(cut, "import subprocess, sys\n"
               "if '--status' in sys.argv and '--then-receive' not in sys.argv:\n"
               "    sys.exit(subprocess.call(sys.argv[2:]))\n"
               "p = subprocess.Popen(sys.argv[2:], stdin=subprocess.PIPE)\n"
               "p.stdin.write(sys.stdin.buffer.read(int(sys.argv[1])))\n"
               "p.stdin.close()\n"
               "p.wait()\n"
               "sys.exit(1)\n")
    res = node.vzzfs("send", "101", "--to", "%s %s %d %s" % (sys.executable, cut, 20 << 20, to))
    assert res.returncode != 0 and "send again" in res.stdout, res.stdout
    assert zfs.get(node2.dataset(101), "receive_resume_token")["receive_resume_token"]
    res = node.vzzfs("send", "101", "--to", to)
    assert res.returncode == 0 and "resumed send" in res.stdout, res.stdout
    assert guid(last_snapshot(node2, 101, "vzzfs-send-")) == guid(
        last_snapshot(node, 101, "vzzfs-send-"))
    res = node.vzzfs("send", "101", "--to", to)
    assert res.returncode == 0 and "incremental send" in res.stdout, res.stdout
    assert node.vzctl.stop(101).rc == 0
    assert node2.vzctl.start(101).rc == 0
    assert os.path.getsize(node2.root(101) + "/root/big") == 40 << 20
    assert node2.vzctl.stop(101).rc == 0


def _background(node, fault, *args):
    """vzzfs ARGS with VZZFS_FAULT=fault, once it says it stalls there."""
    env = dict(os.environ, VZZFS_FAULT=fault)
    proc = subprocess.Popen([sys.executable, "-m", "vzzfs_hooks", "--etc-dir", node.etc] +
                            list(args), cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True)
    seen = []
    while not seen or "injected stall" not in seen[-1]:
        seen.append(proc.stdout.readline())
        assert seen[-1], "it ended before its stall: %s" % "".join(seen)
    return proc


def backup_snapshots(node, ctid):
    """(name, complete, holds) of a CT's backup snapshots, oldest first."""
    rows = zfs.list_datasets(node.dataset(ctid), ["name", names.PROP_BACKUP, "userrefs"],
                             types="snapshot")
    return [(r["name"].split("@")[1], r[names.PROP_BACKUP] == "complete",
             int(r["userrefs"])) for r in rows if "@vzzfs-backup-" in r["name"]]


def test_a_killed_backup_is_no_base_and_the_chain_still_restores(node, node2, tmp_path):
    """Issue 16, case 2: a backup killed mid-stream (SIGKILL: no cleanup runs) keeps
    its snapshot, but unmarked; the next --incremental builds on the last complete
    one, --retain prunes the leftover, and the chain restores."""
    node.make_ct(101, files={"root/a": "a"})
    assert node.vzctl.start(101).rc == 0
    full, killed, inc = (str(tmp_path / n) for n in ("full", "killed", "inc"))
    assert node.vzzfs("backup", "101", "--to", full).returncode == 0
    (first, done, _), = backup_snapshots(node, 101)
    assert done
    write(node.root(101) + "/root/b", "b")
    env = dict(os.environ, VZZFS_FAULT="backup.streaming:kill")
    res = sh(sys.executable, "-m", "vzzfs_hooks", "--etc-dir", node.etc, "backup", "101",
             "--to", killed, "--incremental", env=env, cwd=REPO, check=False)
    assert res.returncode == -signal.SIGKILL, res.stdout
    assert os.path.exists(killed + ".partial") and not os.path.exists(killed)
    left = backup_snapshots(node, 101)
    assert [(c, h) for _, c, h in left] == [(True, 0), (False, 0)], \
        "unmarked, and its hold went with the process"
    res = node.vzzfs("backup", "101", "--to", inc, "--incremental", "--retain", "1")
    assert res.returncode == 0 and "(from %s)" % first in res.stdout, res.stdout
    now = backup_snapshots(node, 101)
    assert len(now) == 1 and now[0][1] and now[0][0] not in (first, left[1][0]), now
    assert node.vzctl.stop(101).rc == 0
    node2.track(101)
    for f in (full, inc):
        res = node2.vzzfs("restore", f)
        assert res.returncode == 0, res.stdout
    assert node2.vzctl.start(101).rc == 0
    assert read(node2.root(101) + "/root/b") == "b"
    assert node2.vzctl.stop(101).rc == 0


def test_an_incremental_restore_onto_a_written_ct_needs_force(node, node2, tmp_path):
    """Issue 16, case 4: the increment would roll back what the CT wrote since its base."""
    node.make_ct(101, files={"root/a": "a"})
    assert node.vzctl.start(101).rc == 0
    full, inc = str(tmp_path / "full"), str(tmp_path / "inc")
    assert node.vzzfs("backup", "101", "--to", full).returncode == 0
    write(node.root(101) + "/root/b", "b")
    assert node.vzzfs("backup", "101", "--to", inc, "--incremental").returncode == 0
    assert node.vzctl.stop(101).rc == 0
    node2.track(101)
    assert node2.vzzfs("restore", full).returncode == 0
    assert node2.vzctl.start(101).rc == 0
    write(node2.root(101) + "/root/local", "mine")
    assert node2.vzctl.stop(101).rc == 0
    res = node2.vzzfs("restore", inc)
    assert res.returncode == 7 and "--force" in res.stdout, res.stdout
    assert len(res.stdout.strip().splitlines()) == 1, res.stdout
    assert node2.vzctl.start(101).rc == 0
    assert read(node2.root(101) + "/root/local") == "mine", "refused: nothing changed"
    assert not os.path.exists(node2.root(101) + "/root/b")
    assert node2.vzctl.stop(101).rc == 0
    res = node2.vzzfs("restore", inc, "--force")
    assert res.returncode == 0, res.stdout
    assert node2.vzctl.start(101).rc == 0
    assert read(node2.root(101) + "/root/b") == "b"
    assert not os.path.exists(node2.root(101) + "/root/local")
    assert node2.vzctl.stop(101).rc == 0


def test_an_incremental_restore_onto_another_cts_zvol_is_refused(node, node2, tmp_path):
    """The claim rule of an incremental restore is read with its own `zfs get -r`, under
    the CT's lock: a zvol that says it is another CT's is not touched, --force or not."""
    node.make_ct(101, files={"root/a": "a"})
    full, inc = str(tmp_path / "full"), str(tmp_path / "inc")
    assert node.vzzfs("backup", "101", "--to", full).returncode == 0
    assert node.vzctl.start(101).rc == 0
    write(node.root(101) + "/root/b", "b")
    assert node.vzctl.stop(101).rc == 0
    assert node.vzzfs("backup", "101", "--to", inc, "--incremental").returncode == 0
    node2.track(101)
    assert node2.vzzfs("restore", full).returncode == 0
    ds = node2.dataset(101)
    zfs.set_props(ds, {names.PROP_CTID: "102"})
    before = sorted(r["name"] for r in zfs.list_datasets(ds, ["name"], types="snapshot"))
    for force in ((), ("--force",)):
        res = node2.vzzfs("restore", inc, *force)
        assert res.returncode != 0 and "refusing to touch %s" % ds in res.stdout, res.stdout
        assert sorted(r["name"] for r in zfs.list_datasets(ds, ["name"], types="snapshot")) \
            == before, "nothing received"
    zfs.set_props(ds, {names.PROP_CTID: "101"})  # its own again: the increment applies
    assert node2.vzzfs("restore", inc).returncode == 0
    assert node2.vzctl.start(101).rc == 0
    assert read(node2.root(101) + "/root/b") == "b"
    assert node2.vzctl.stop(101).rc == 0


def test_vzctl_stop_works_while_a_backup_streams_and_sigterm_cleans_up(node, tmp_path):
    """Issue 16, cases 10 and 2: the lock covers the snapshot, not the stream; a
    zfs hold keeps the snapshot meanwhile; SIGTERM cleans up as Ctrl-C does."""
    node.make_ct(101)
    assert node.vzctl.start(101).rc == 0
    path = str(tmp_path / "slow")
    proc = _background(node, "backup.streaming:sleep", "backup", "101", "--to", path)
    try:
        (name, done, holds), = backup_snapshots(node, 101)
        assert not done and holds == 1
        res = node.vzzfs("snapshot-delete", "101", name)
        assert res.returncode != 0 and backup_snapshots(node, 101), res.stdout
        assert node.vzctl.stop(101).rc == 0, "the stream does not hold the CT's lock"
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and "signal %d" % signal.SIGTERM in out, out
    assert backup_snapshots(node, 101) == [], "its snapshot went, hold released first"
    assert not os.path.exists(path + ".partial") and not os.path.exists(path)


def _dest(node2):
    path = "%s:%s:/usr/sbin:/usr/bin:/sbin:/bin" % (os.path.dirname(node2.vzctl_bin),
                                                    os.path.dirname(VZZFS))
    return "env VZZFS_ETC_DIR=%s PATH=%s" % (node2.etc, path)


def _writer_in_ct(node, ctid):
    """A process in the CT: numbered files, each one whole. It pauses between files
    so that it does not take a whole CPU from the migration it runs under."""
    return node.vzctl.exec_bg(ctid, ["sh", "-c", "i=0; while :; do echo $i > root/f.tmp && "
                                     "mv root/f.tmp root/f$i || exit; i=$((i+1)); sleep 0.2; "
                                     "done"])


def _check_writes(root):
    names = [n for n in os.listdir(root + "/root") if n.startswith("f") and n[1:].isdigit()]
    count = len(names)
    assert count > 10, count
    for i in range(count):
        assert read("%s/root/f%d" % (root, i)) == "%d\n" % i, i


@pytest.mark.parametrize("online", [False, True])
def test_migrate_under_writes_loses_nothing(standin_node, node2, online):
    """Both ends run the stand-in: the real vzctl reads the one /etc/vz a VM has, so
    a node pair in one VM cannot both run it, and an online migration's restore needs
    the OpenVZ kernel (vzctl 4.11.1's CRIU restore fails on this kernel)."""
    node = standin_node
    node.make_ct(101, size=256 << 20)
    node2.track(101)
    assert node.vzctl.start(101).rc == 0
    writer = _writer_in_ct(node, 101)
    args = ["migrate", "101", _dest(node2)] + (["--online"] if online else [])
    res = node.vzzfs(*args)
    writer.wait(timeout=60)  # killed with the CT
    assert res.returncode == 0 and "migrated" in res.stdout, res.stdout
    assert not zfs.exists(node.dataset(101)) and not os.path.exists(node.conffile(101))
    assert node2.vzctl.is_running(101)
    if online:
        assert "--dumpfile" in " ".join(open(node.vzctl_log).read().split("\n"))
        assert not os.path.exists(node2.dumpfile(101)), "vzctl restore used the dump"
    _check_writes(node2.root(101))
    assert node2.vzctl.stop(101).rc == 0


def test_a_migrate_whose_remote_start_reports_failure_never_runs_twice(standin_node, node2,
                                                                       tmp_path):
    """The CT came up on the destination but ssh reported failure (exit 255): it is
    not started here again, and nothing here is destroyed. Stand-in at both ends,
    as above."""
    node = standin_node
    node.make_ct(101)
    node2.track(101)
    assert node.vzctl.start(101).rc == 0
    lossy = tmp_path / "lossy"
    lossy.mkdir()
    (lossy / "vzctl").write_text('#!/bin/sh\n[ "$1" = start ] || exec %s "$@"\n%s "$@"\n'
                                 'echo "Connection to node2 closed by remote host." >&2\n'
                                 'exit 255\n' % (node2.vzctl_bin, node2.vzctl_bin))
    (lossy / "vzctl").chmod(0o755)
    res = node.vzzfs("migrate", "101", _dest(node2).replace("PATH=", "PATH=%s:" % lossy))
    assert res.returncode == 7 and "it runs on the destination" in res.stdout, res.stdout
    assert "vzzfs destroy 101 here" in res.stdout, res.stdout
    assert node2.vzctl.is_running(101) and not node.vzctl.is_running(101)
    assert zfs.exists(node.dataset(101)) and os.path.exists(node.conffile(101))
    assert node2.vzctl.stop(101).rc == 0


def _unwritten_mib():
    """Dirty and Writeback pages of the VM's page cache, MiB (/proc/meminfo)."""
    with open("/proc/meminfo") as f:
        fields = dict(line.split(":", 1) for line in f)
    return sum(int(fields[k].split()[0]) for k in ("Dirty", "Writeback")) // 1024


def test_a_backup_of_a_ct_with_fresh_writes_holds_its_lock_briefly(node, tmp_path):
    """Issue 29, 10: the freeze wrote the CT's dirty data out under the CT's lock: with
    300 MB freshly written, vzctl stop during vzzfs backup was refused as locked for
    about 40 s. The data now goes out first, the lock is taken for a short final flush
    and the snapshot, and the backup says how long it held the lock. Held by what the
    page cache still had to write when the lock was taken (a timed bound failed on a
    loaded CI machine: 6.0 s against 5); the times are printed."""
    node.make_ct(101, size=512 << 20)
    assert node.vzctl.start(101).rc == 0
    chunk = os.urandom(1 << 20)
    with open(os.path.join(node.private(101), "root/big"), "wb") as f:
        for _ in range(200):  # 200 MiB in the page cache, not written out yet
            f.write(chunk)
    assert _unwritten_mib() > 150, "the test's premise: the data is not written out yet"
    lockfile = os.path.join(node.base, "vz/lock/101.lck")
    path = str(tmp_path / "b")
    proc = subprocess.Popen([VZZFS, "--etc-dir", node.etc, "backup", "101", "--to", path],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, cwd=REPO)
    started = time.monotonic()
    held, since, unwritten_at_lock = 0.0, None, None
    while proc.poll() is None:  # how long vzctl would have found the CT locked
        if os.path.exists(lockfile):
            if since is None and unwritten_at_lock is None:
                unwritten_at_lock = _unwritten_mib()
            since = since or time.monotonic()
        elif since:
            held, since = held + time.monotonic() - since, None
        time.sleep(0.02)
    out = proc.communicate()[0]
    took = time.monotonic() - started
    found = re.search(r"the CT's lock held for ([0-9.]+) s", out)
    assert proc.returncode == 0 and found, out
    print("backup of 200 MiB freshly written: %.1f s in all, lock held %s s (seen from "
          "outside: %.2f s); dirty when the lock was taken: %s MiB"
          % (took, found.group(1), held, unwritten_at_lock))
    assert unwritten_at_lock is not None, "the backup's lock was never seen"
    assert unwritten_at_lock < 32, (unwritten_at_lock, took, held, out)
    assert node.vzctl.stop(101).rc == 0
