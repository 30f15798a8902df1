"""The one-line error format operators see and the exit codes."""
from vzzfs_hooks.errors import FsError, MountBusy, PoolNotImported, VzzfsError


def test_line_has_ct_problem_and_fix():
    e = PoolNotImported("pool vz is not imported", "import it with: zpool import vz", ctid="101")
    assert e.line() == "CT 101: pool vz is not imported (import it with: zpool import vz)"
    assert e.exit_code == 5


def test_multiline_tool_output_becomes_one_line():
    e = FsError("cannot mount: mount(2) failed.\n       dmesg(1) may have more\n", "see dmesg")
    assert "\n" not in e.line()
    assert e.line() == "cannot mount: mount(2) failed. dmesg(1) may have more (see dmesg)"


def test_exit_codes_are_distinct_per_family():
    assert VzzfsError("x").exit_code == 1
    assert FsError("x").exit_code == 6
    assert MountBusy("x").exit_code == 6
