"""vzctlcmd.parse_status: what the destination's `vzctl status` says decides
whether a migrate whose remote start reported failure may start the CT here."""
import pytest

from vzzfs_hooks.system.vzctl import parse_status


@pytest.mark.parametrize("rc,out,state", [
    (0, "CTID 101 exist mounted running\n", "running"),
    (0, "CTID 101 exist mounted running suspended\n", "running"),
    (0, "Directory /proc/vz not found, assuming non-OpenVZ kernel\n"
        "CTID 101 exist unmounted down\n", "down"),
    (0, "CTID 101 deleted unmounted down\n", "down"),
    (255, "ssh: connect to host node2 port 22: Connection refused\n", None),
    (0, "", None),
    (0, "something else entirely\n", None),
])
def test_status_or_unknown(rc, out, state):
    assert parse_status(rc, out) == state
