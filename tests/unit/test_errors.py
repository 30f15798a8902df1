"""The one-line error format operators see and the exit codes."""
from vzzfs_hooks.base.errors import FsError, MountBusy, PoolNotImported, VzzfsError


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


def test_a_failed_command_names_the_cause_not_only_the_summary():
    from vzzfs_hooks.base.runner import CommandFailed
    err = CommandFailed(["vzctl", "chkpnt"], 16, "", "vps-cpt: 37: criu: not found\n"
                        "Failed to checkpoint the Container\n\n"
                        "All dump files and logs were saved to /vz/dump/Dump.101.fail\n")
    assert err.line() == ("vzctl failed: vps-cpt: 37: criu: not found; Failed to checkpoint "
                          "the Container; All dump files and logs were saved to "
                          "/vz/dump/Dump.101.fail")
    ours = CommandFailed(["vzctl", "start"], 79, "vzzfs: CT 1: pool vz is not imported\n", "x\n")
    assert ours.line() == "vzctl failed: CT 1: pool vz is not imported"
