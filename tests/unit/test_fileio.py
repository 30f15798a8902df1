"""fileio: a partial file is created fresh, never through a planted symlink; a small one
replaced atomically."""
import errno
import os

import pytest

from vzzfs_hooks.base import fileio
from vzzfs_hooks.base.fileio import create_new


def test_creates_a_private_new_file(tmp_path):
    path = str(tmp_path / "b.partial")
    with create_new(path) as f:
        f.write(b"data")
    assert open(path, "rb").read() == b"data"
    assert os.stat(path).st_mode & 0o777 == 0o600


@pytest.mark.parametrize("dangling", [False, True])
def test_a_planted_symlink_is_not_followed(tmp_path, dangling):
    victim = tmp_path / "victim"
    if not dangling:
        victim.write_text("keep me")
    link = str(tmp_path / "b.partial")
    os.symlink(str(victim), link)
    with pytest.raises(OSError) as e:
        create_new(link)
    assert e.value.errno in (errno.EEXIST, errno.ELOOP)
    assert victim.exists() != dangling
    if not dangling:
        assert victim.read_text() == "keep me"


def test_an_existing_file_is_not_overwritten(tmp_path):
    path = tmp_path / "b.partial"
    path.write_text("someone's")
    with pytest.raises(FileExistsError):
        create_new(str(path))
    assert path.read_text() == "someone's"


def test_write_atomic_replaces_with_mode_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = str(tmp_path / "101.conf")
    fileio.write_atomic(path, "A=1\n", 0o640)
    fileio.write_atomic(path, "A=2\n", 0o600)
    assert fileio.read_text(path) == "A=2\n"
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.listdir(str(tmp_path)) == ["101.conf"]

    def refused(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(fileio.os, "rename", refused)
    with pytest.raises(OSError):
        fileio.write_atomic(path, "A=3\n")
    assert fileio.read_text(path) == "A=2\n"
    assert os.listdir(str(tmp_path)) == ["101.conf"]
