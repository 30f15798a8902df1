"""Rewriting a CT conf like vzctl: known lines kept, keys changed in place, sizes parsed."""
import pytest

from vzzfs_hooks.conf import config, ctconf
from vzzfs_hooks.base.errors import ConfigError
from vzzfs_hooks.base.revert import Reverter

SAMPLE = '# a sample\nPHYSPAGES="0:256M"\nHOSTNAME="old"\nCUSTOM_KEY="kept"\nHOSTNAME="dup"\n'


def test_changes_in_place_appends_and_removes():
    text = ctconf.update_text(SAMPLE, {"HOSTNAME": "new", "NAME": None, "DISK_QUOTA": "no",
                                       "PHYSPAGES": None})
    assert text == '# a sample\nHOSTNAME="new"\nCUSTOM_KEY="kept"\nDISK_QUOTA="no"\n'
    assert config.parse_text(text)["HOSTNAME"] == "new"


def test_commented_assignment_is_left_alone():
    text = ctconf.update_text('# HOSTNAME="x"\n', {"HOSTNAME": "y"})
    assert text == '# HOSTNAME="x"\nHOSTNAME="y"\n'


@pytest.mark.parametrize("bad", ['a"b', "a\nB=1"])
def test_values_that_would_inject_lines_are_refused(bad):
    with pytest.raises(ValueError):
        ctconf.update_text("", {"HOSTNAME": bad})


def test_create_file_refuses_existing(tmp_path):
    path = tmp_path / "101.conf"
    ctconf.create_file(str(path), SAMPLE, {"VE_LAYOUT": "simfs"})
    assert 'VE_LAYOUT="simfs"' in path.read_text()
    with pytest.raises(FileExistsError):
        ctconf.create_file(str(path), "", {})
    assert 'VE_LAYOUT="simfs"' in path.read_text()


@pytest.mark.parametrize("text,size", [("10G", 10 << 30), ("10G:11G", 11 << 30),
                                        ("1048576", 1 << 30), ("524288:1048576", 1 << 30),
                                        ("512M", 512 << 20)])
def test_diskspace_like_vzctl(text, size):
    assert config.parse_diskspace(text) == size


@pytest.mark.parametrize("bad", ["", "10X", "1:2:3", "-5G", "ten"])
def test_bad_diskspace(bad):
    with pytest.raises(ConfigError):
        config.parse_diskspace(bad)


def test_reverter_undoes_in_reverse_and_keeps_going():
    done = []

    def fail():
        raise OSError("undo broke")
    with pytest.raises(RuntimeError):
        with Reverter() as undo:
            undo.add("a", done.append, "a")
            undo.add("broken", fail)
            undo.add("c", done.append, "c")
            raise RuntimeError("step failed")
    assert done == ["c", "a"]


def test_reverter_commit_keeps_the_work():
    done = []
    with Reverter() as undo:
        undo.add("a", done.append, "a")
        undo.commit()
    assert done == []


def test_reverter_undoes_a_block_that_ends_without_commit():
    """An early return inside the block undoes too: nothing half-done is kept."""
    done = []

    def half_done():
        with Reverter() as undo:
            undo.add("a", done.append, "a")
            undo.add("b", done.append, "b")
            return "left early"
    assert half_done() == "left early" and done == ["b", "a"]
