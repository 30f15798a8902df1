"""vzzfs receive --forced-command: the sender's command is a request this node bounds."""
import pytest

from vzzfs_hooks.entry import cli
from vzzfs_hooks.rules import forced
from vzzfs_hooks.conf.config import Node
from vzzfs_hooks.base.errors import ConfigError, StateError, UsageError


def test_ranges():
    assert forced.parse_ranges("") == []
    assert forced.parse_ranges("1000-1999, 2500") == [(1000, 1999), (2500, 2500)]
    for bad in ("1999-1000", "a-b", "0-5", "1-2-3", "web"):
        with pytest.raises(ConfigError):
            forced.parse_ranges(bad)


def test_limits():
    limits = forced.Limits(overwrite=False, ranges=[(1000, 1999)])
    limits.check("1500", exists=False)
    with pytest.raises(UsageError, match="does not receive CT 101"):
        limits.check("101", exists=False)
    with pytest.raises(UsageError):
        limits.check_ctid("web")
    with pytest.raises(StateError, match="new CTs only"):
        limits.check("1500", exists=True)
    forced.Limits(overwrite=True).check("101", exists=True)


@pytest.mark.parametrize("text,want", [
    ("vzzfs receive", (None, None, False, None, False)),
    ("/usr/bin/vzzfs receive --status 101", ("101", None, False, None, False)),
    ("vzzfs receive --status 101 --then-receive", ("101", None, False, None, True)),
    ("vzzfs receive --ctid 1001 --force", (None, "1001", True, None, False)),
    ("vzzfs receive --abort 1001", (None, None, False, "1001", False)),
])
def test_allowed_commands(text, want):
    assert forced.parse_original_command(text) == want


@pytest.mark.parametrize("text", [
    None, "", "sh -c id", "vzzfs --etc-dir /tmp/evil receive", "vzzfs receive --etc-dir /x",
    "vzzfs receive-dump 101", "vzctl start 101", "vzzfs destroy 101", "vzzfs receive; id",
    "vzzfs receive 'unclosed", "vzzfs receive --force=yes",
    "vzzfs receive --then-receive", "vzzfs receive --ctid 101 --then-receive",
])
def test_refused_commands(text):
    with pytest.raises(UsageError) as e:
        forced.parse_original_command(text)
    assert len(e.value.line().splitlines()) == 1


def test_cli_refuses_before_touching_anything(tmp_path, monkeypatch, capsys):
    (tmp_path / "conf").mkdir()
    (tmp_path / "vzzfs.conf").write_text('VZZFS_RECEIVE_CTIDS="1000-1999"\n')
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))  # no zfs: must not be needed
    for command in ("vzzfs receive --status 101", "vzzfs receive --ctid 5", "id"):
        monkeypatch.setenv("SSH_ORIGINAL_COMMAND", command)
        rc = cli.main(["--etc-dir", str(tmp_path), "receive", "--forced-command"])
        assert rc == 2, command
    monkeypatch.setenv("SSH_ORIGINAL_COMMAND", "vzzfs receive")
    assert cli.main(["--etc-dir", str(tmp_path), "receive", "--forced-command",
                     "--force"]) == 2
    assert Node(str(tmp_path)).vzzfs_params()["VZZFS_RECEIVE_OVERWRITE"] == "no"


def test_a_replication_peer_takes_increments_onto_its_replicas_only(tmp_path):
    """Issue 29, 3: VZZFS_RECEIVE_OVERWRITE=yes, which replication needed, also honoured
    the sender's --force: a compromised source could replace a replica with all its
    history, or any stopped CT in range."""
    from vzzfs_hooks.base.errors import ConfigError, StateError
    (tmp_path / "conf").mkdir()
    conf = tmp_path / "vzzfs.conf"
    conf.write_text('VZZFS_RECEIVE_OVERWRITE="replica"\n')
    limits = forced.Limits.from_node(Node(str(tmp_path)))
    limits.check("101", False)                 # a new CT
    limits.check("101", True, True)            # replicate's increment onto its replica
    with pytest.raises(StateError):
        limits.check("102", True, False)       # any other CT, or a full stream onto one
    assert not limits.force(True)              # never a --force
    conf.write_text('VZZFS_RECEIVE_OVERWRITE="yes"\n')
    limits = forced.Limits.from_node(Node(str(tmp_path)))
    limits.check("102", True)
    assert limits.force(True)
    conf.write_text('VZZFS_RECEIVE_OVERWRITE="no"\n')
    limits = forced.Limits.from_node(Node(str(tmp_path)))
    with pytest.raises(StateError):
        limits.check("101", True, True)
    assert not limits.force(True)
    conf.write_text('VZZFS_RECEIVE_OVERWRITE="sometimes"\n')
    with pytest.raises(ConfigError):
        forced.Limits.from_node(Node(str(tmp_path)))


def test_a_forced_request_is_bounded_before_the_stream_is_read():
    """The CLI only carries the request out: refusal and limits are decided here."""
    limits = forced.Limits(overwrite=False, ranges=[(1000, 1999)])
    req = forced.request("vzzfs receive --ctid 1500", limits)
    assert req == forced.Request(None, "1500", False, None, limits, False)
    req = forced.request("vzzfs receive --status 1500 --then-receive", limits)
    assert req == forced.Request("1500", None, False, None, limits, True)
    for text in ("vzzfs receive --status 101", "vzzfs receive --abort 99",
                 "vzzfs receive --ctid ../x", "vzzfs receive --ctid 1500 --to /"):
        with pytest.raises(UsageError):
            forced.request(text, limits)
    assert forced.request("vzzfs receive", limits).ctid is None



def test_then_receive_follows_status_on_a_command_line_and_in_a_forced_command(
        tmp_path, monkeypatch, capsys):
    with pytest.raises(UsageError, match="--then-receive follows --status CTID"):
        forced.parse_original_command("vzzfs receive --ctid 101 --then-receive")
    (tmp_path / "conf").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))  # refused before any command
    assert cli.main(["--etc-dir", str(tmp_path), "receive", "--then-receive"]) == 2
    assert "--then-receive follows --status CTID" in capsys.readouterr().err
