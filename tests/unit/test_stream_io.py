"""Streams without Python in the middle: runner.copy_fd (splice, or read/write), zfs
send into a file (its own output) or a pipe, zfs receive reading the descriptor past
a backup's header, the dry runs that size and describe a stream, and the pool facts
a --status answer gives. A fake zfs on PATH stands in (conftest's ``fake``)."""
import errno
import os
import threading

import pytest

from vzzfs_hooks.base import runner
from vzzfs_hooks.base.errors import PoolNotImported, VzzfsError
from vzzfs_hooks.rules import streams
from vzzfs_hooks.system import zfs
from vzzfs_hooks.verbs import backup

DATA = os.urandom(3 << 20) + b"end"  # more than a pipe holds, and not a multiple of CHUNK


def drain(fd, into):
    """Read ``fd`` to its end into the list ``into`` (a thread: a pipe holds 64 KiB)."""
    def run():
        with os.fdopen(fd, "rb") as f:
            into.append(f.read())
    t = threading.Thread(target=run)
    t.start()
    return t


@pytest.mark.parametrize("splice", [True, False])
def test_copy_fd_from_a_file_into_a_pipe_and_from_a_pipe_into_a_file(tmp_path, monkeypatch,
                                                                     splice):
    if not splice:
        monkeypatch.setattr(runner, "_splice", None)
    src = tmp_path / "src"
    src.write_bytes(DATA)
    r, w = os.pipe()
    got = []
    t = drain(r, got)
    with open(str(src), "rb") as f:
        assert runner.copy_fd(f.fileno(), w) == len(DATA)
    os.close(w)
    t.join()
    assert got == [DATA]

    r, w = os.pipe()
    feeder = threading.Thread(target=lambda: (os.write(w, DATA[:100]), os.write(w, DATA[100:]),
                                              os.close(w)))
    feeder.start()
    seen = []

    class Progress(object):
        def update(self, done):
            seen.append(done)
    with open(str(tmp_path / "dst"), "wb") as out:
        out.write(b"head")
        out.flush()
        assert runner.copy_fd(r, out.fileno(), Progress()) == len(DATA)
    feeder.join()
    os.close(r)
    assert (tmp_path / "dst").read_bytes() == b"head" + DATA
    assert seen and seen[-1] == len(DATA) and seen == sorted(seen)


def test_copy_fd_between_two_files_and_into_a_pipe_nobody_reads(tmp_path):
    (tmp_path / "a").write_bytes(DATA)
    with open(str(tmp_path / "a"), "rb") as a, open(str(tmp_path / "b"), "wb") as b:
        assert runner.copy_fd(a.fileno(), b.fileno()) == len(DATA)  # no pipe: read/write
    assert (tmp_path / "b").read_bytes() == DATA
    r, w = os.pipe()
    os.close(r)
    with open(str(tmp_path / "a"), "rb") as a, pytest.raises(OSError) as e:
        runner.copy_fd(a.fileno(), w)
    os.close(w)
    assert e.value.errno == errno.EPIPE


def test_send_into_a_file_is_zfs_sends_own_output_after_the_header(fake, tmp_path,
                                                                    monkeypatch):
    fake.output("STREAM")
    out = tmp_path / "out"
    with open(str(out), "wb") as f:
        f.write(b"HEADER\n")  # buffered: send flushes it first
        assert zfs.send("vz/a@s2", f, base="vz/a@s1", kind=streams.COMPRESSED) == 6
    assert out.read_bytes() == b"HEADER\nSTREAM"
    assert fake.calls() == ["send -p -c -e -i vz/a@s1 vz/a@s2"], "no terminal: no dry run"
    monkeypatch.setattr(zfs, "progress_shown", lambda: True)
    with open(str(out), "wb") as f:
        zfs.send("vz/a@s2", f, base="vz/a@s1", kind=streams.COMPRESSED)
    assert fake.calls()[1:] == ["send -nP -p -c -e -i vz/a@s1 vz/a@s2",
                                "send -p -c -e -i vz/a@s1 vz/a@s2"], "its total: same flags"


def test_send_into_a_pipe_goes_by_splice_and_counts(fake):
    fake.output("STREAM")
    r, w = os.pipe()
    got = []
    t = drain(r, got)
    with os.fdopen(w, "wb") as out:
        out.write(b"H\n")
        assert zfs.send("vz/a@s1", out, size=6) == 6
    t.join()
    assert got == [b"H\nSTREAM"]
    assert fake.calls() == ["send -p vz/a@s1"], "size given: no dry run"


def test_a_full_file_system_is_the_outputs_trouble_not_the_pools(fake, tmp_path):
    fake.fail("warning: cannot send 'vz/a@s1': No space left on device\n")
    with open(str(tmp_path / "out"), "wb") as f, pytest.raises(VzzfsError) as e:
        zfs.send("vz/a@s1", f, size=1)
    assert type(e.value) is VzzfsError and "writing the stream failed" in e.value.problem
    assert "free space" in e.value.fix
    fake.fail("cannot open 'vz': no such pool\n")
    with open(str(tmp_path / "out"), "wb") as f, pytest.raises(PoolNotImported):
        zfs.send("vz/a@s1", f, size=1)


def test_receive_reads_the_descriptor_from_where_the_header_ended(tmp_path, monkeypatch):
    """zfs receive (a fake that saves its input) gets the bytes after the header, from
    a file (read ahead, sought back) and from a pipe (read a byte at a time)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "zfs").write_text("#!/bin/sh\ncat > %s\n" % (tmp_path / "received"))
    (bindir / "zfs").chmod(0o755)
    monkeypatch.setenv("PATH", "%s:%s" % (bindir, os.environ["PATH"]))
    header = backup.MAGIC + b"eyJjdGlkIjogIjEwMSIsICJjb25mIjogIiJ9\n"  # {"ctid":"101","conf":""}
    path = tmp_path / "backup"
    path.write_bytes(header + DATA)
    with open(str(path), "rb") as f:
        assert backup.read_header(f) == {"ctid": "101", "conf": ""}
        zfs.receive(f, "vz/x")
    assert (tmp_path / "received").read_bytes() == DATA
    r, w = os.pipe()
    feeder = threading.Thread(target=lambda: (os.write(w, header + DATA), os.close(w)))
    feeder.start()
    with os.fdopen(r, "rb") as f:
        assert backup.read_header(f)["ctid"] == "101"
        zfs.receive(f, "vz/x")
    feeder.join()
    assert (tmp_path / "received").read_bytes() == DATA


def test_a_foreign_stream_on_a_pipe_is_refused_after_its_first_bytes(tmp_path):
    from vzzfs_hooks.base.errors import StreamError
    r, w = os.pipe()
    os.write(w, b"\0" * 4096)
    with os.fdopen(r, "rb") as f, pytest.raises(StreamError) as e:
        backup.read_header(f)
    assert "not a vzzfs backup" in e.value.problem
    os.close(w)


def test_a_stream_that_ends_before_its_first_byte_is_told_apart(tmp_path):
    """vzzfs receive --then-receive: the sender had nothing to send and closed the pipe."""
    from vzzfs_hooks.base.errors import EmptyStream, StreamError
    r, w = os.pipe()
    os.close(w)
    with os.fdopen(r, "rb") as f, pytest.raises(EmptyStream) as e:
        backup.read_header(f)
    assert isinstance(e.value, StreamError) and "it is empty" in e.value.problem
    (tmp_path / "empty").write_bytes(b"")
    with open(str(tmp_path / "empty"), "rb") as f, pytest.raises(EmptyStream):
        backup.read_header(f)
    r, w = os.pipe()
    os.write(w, b"V")  # one byte and the end: not empty, not a backup
    os.close(w)
    with os.fdopen(r, "rb") as f, pytest.raises(StreamError) as e:
        backup.read_header(f)
    assert not isinstance(e.value, EmptyStream)


# `zfs send -nvP -t TOKEN` of OpenZFS 2.1.11 in the test VM (a `zfs send -c -e` cut part way)
RESUME_DRY_RUN = """resume token contents:
nvlist version: 0
\tobject = 0x1
\toffset = 0xa6bc000
\tbytes = 0x1c99798
\ttoguid = 0xac75956a4720249c
\ttoname = vz/vzzfs/ct/101@vzzfs-send-20261207-101010
\tembedok = 1
\tcompressok = 1
full\tvz/vzzfs/ct/101@vzzfs-send-20261207-101010\t8392704
size\t8392704
"""


def test_resume_info_reads_the_kind_and_the_size_of_a_cut_stream(fake):
    fake.output(RESUME_DRY_RUN)
    assert zfs.resume_info("1-abc") == {
        "snapshot": "vz/vzzfs/ct/101@vzzfs-send-20261207-101010",
        "kind": streams.COMPRESSED, "size": 8392704}
    assert fake.calls() == ["send -nvP -t 1-abc"]
    fake.output(RESUME_DRY_RUN.replace("\tembedok = 1\n\tcompressok = 1\n", ""))
    assert zfs.resume_info("1-abc")["kind"] == streams.PLAIN


def test_what_a_node_takes_comes_from_its_module_and_pool(fake, tmp_path):
    version = tmp_path / "version"
    version.write_text("2.1.11-1\n")
    assert zfs.zfs_version(str(version)) == (2, 1)
    version.write_text("0.6.5.11-1\n")
    assert zfs.zfs_version(str(version)) == (0, 6)
    assert zfs.zfs_version(str(tmp_path / "none")) is None
    fake.output("size\t1000\ncapacity\t1\nfeature@lz4_compress\tactive\n"
                "feature@embedded_data\tactive\nfeature@zstd_compress\tenabled\n"
                "feature@draid\tdisabled\n")
    assert zfs.pool_features("vz") == {"lz4_compress": "active", "embedded_data": "active",
                                       "zstd_compress": "enabled", "draid": "disabled"}
    assert fake.calls() == ["get -H -o property,value all vz"]
