"""zvoldev.HeldOpen: a zvol's first open, which OpenZFS < 2.2 fails with errno 512
(ERESTARTSYS) while another process holds the pool's namespace lock, is retried,
and the device stays open for the block (so e2fsck and mount open it freely)."""
import errno
import os

import pytest

from vzzfs_hooks.system import zvoldev
from vzzfs_hooks.base.errors import FsError


def flaky_open(failures, code):
    real = os.open
    calls = []

    def fake(path, flags, *mode):
        calls.append(path)
        if len(calls) <= failures:
            raise OSError(code, os.strerror(code) if code < 512 else "Unknown error 512")
        return real(path, flags, *mode)
    return fake, calls


def test_first_open_is_retried_and_held(tmp_path, monkeypatch):
    dev = tmp_path / "zd0"
    dev.write_bytes(b"x")
    fake, calls = flaky_open(2, zvoldev.ERESTARTSYS)
    monkeypatch.setattr(zvoldev.os, "open", fake)
    with zvoldev.HeldOpen(str(dev), 5) as held:
        assert os.fstat(held.fd).st_size == 1
    assert len(calls) == 3
    with pytest.raises(OSError):
        os.fstat(held.fd)  # closed after the block


def test_other_errors_and_a_lasting_failure_are_one_line_errors(tmp_path, monkeypatch):
    fake, calls = flaky_open(1, errno.ENOENT)
    monkeypatch.setattr(zvoldev.os, "open", fake)
    with pytest.raises(FsError, match="cannot open"):
        zvoldev.HeldOpen(str(tmp_path / "zd0"), 5).__enter__()
    assert len(calls) == 1, "only ERESTARTSYS and EINTR are retried"
    fake, calls = flaky_open(10 ** 6, zvoldev.ERESTARTSYS)
    monkeypatch.setattr(zvoldev.os, "open", fake)
    with pytest.raises(FsError, match="refused to open .* for 0 s.*see what keeps the pool busy"):
        zvoldev.HeldOpen(str(tmp_path / "zd0"), 0.2).__enter__()
    assert len(calls) > 1


def test_a_device_that_answers_late_is_waited_for_only_when_asked(tmp_path, monkeypatch):
    """zvol_name: the link's device is asked with a wait (find_device passes what is left
    of its timeout), a scanned one without: each retry contends for the pool's lock."""
    dev = tmp_path / "zd0"
    dev.write_bytes(b"")
    fake, calls = flaky_open(3, zvoldev.ERESTARTSYS)
    monkeypatch.setattr(zvoldev.os, "open", fake)
    monkeypatch.setattr(zvoldev.fcntl, "ioctl",
                        lambda fd, req, buf, mutate: buf.__setitem__(slice(0, 6), b"vz/ct1"))
    assert zvoldev.zvol_name(str(dev)) is None and len(calls) == 1
    assert zvoldev.zvol_name(str(dev), 5) == "vz/ct1" and len(calls) == 4


def test_hold_keeps_the_open_that_asked(tmp_path, monkeypatch):
    """premount's device is opened once: the descriptor that asked BLKZNAME is the one held
    through e2fsck and the mount (a zvol's first open is the costly one)."""
    links = tmp_path / "zvol"
    (links / "vz").mkdir(parents=True)
    dev = tmp_path / "zd0"
    dev.write_bytes(b"x")
    os.symlink(str(dev), str(links / "vz" / "ct1"))
    monkeypatch.setattr(zvoldev, "LINK_DIR", str(links))
    fake, calls = flaky_open(0, 0)
    monkeypatch.setattr(zvoldev.os, "open", fake)
    monkeypatch.setattr(zvoldev.fcntl, "ioctl",
                        lambda fd, req, buf, mutate: buf.__setitem__(slice(0, 6), b"vz/ct1"))
    with zvoldev.hold("vz/ct1", 5) as held:
        assert held.device == str(dev) and os.fstat(held.fd).st_size == 1
    assert len(calls) == 1
    with pytest.raises(OSError):
        os.fstat(held.fd)  # closed after the block
    assert zvoldev.find_device("vz/ct1", 5) == str(dev) and len(calls) == 2
