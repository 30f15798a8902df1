"""I/O limits: vzctl's syntax parsed strictly, the cgroup lines written (on fake cgroup
directories), the waiter that finds the CT's new cgroup, and set-limits on a CT's conf.
The VM test (tests/vm/test_iolimits.py) checks a real CT's blkio cgroup."""
import os
import threading
import time

import pytest

from vzzfs_hooks.system import blkio
from vzzfs_hooks.verbs import ctlimits, listing
from vzzfs_hooks.rules import iolimits
from vzzfs_hooks.conf.config import Node
from vzzfs_hooks.container.ct import Container
from vzzfs_hooks.base.errors import ConfigError, UsageError
from vzzfs_hooks.rules.iolimits import Limits


@pytest.mark.parametrize("text, unit, value", [
    ("1048576", 1, 1048576),
    ("10M", 1, 10 << 20), ("10m", 1, 10 << 20), ("512K", 1, 512 << 10), ("1G", 1, 1 << 30),
    ("2p", 1, 8192), ("100B", 1, 100), ("0", 1, 0), ("unlimited", 1, 0),
    ("10", 1 << 20, 10 << 20),           # vzctl set --iolimit 10: MiB/s
    ("10K", 1 << 20, 10 << 10),          # a suffix wins on the command line too
    ("2147483647", 1, 2147483647),
])
def test_iolimit_is_read_as_vzctl_reads_it(text, unit, value):
    assert iolimits.parse_iolimit(text, default_unit=unit) == value


@pytest.mark.parametrize("text", ["", " 10", "10 ", "10\n", "-1", "+5", "1.5M", "10MB",
                                  "10X", "M", "0x10", "2147483648", "2T", "2048", "Unlimited",
                                  "10M\n"])
def test_iolimit_nonsense_is_one_line_config_error(text):
    unit = (1 << 20) if text == "2048" else 1
    with pytest.raises(ConfigError) as e:
        iolimits.parse_iolimit(text, default_unit=unit)
    assert "\n" not in e.value.line() and "VZZFS_IOLIMIT" in e.value.line()


@pytest.mark.parametrize("text, ok", [("0", 0), ("100", 100), ("2147483647", 2147483647),
                                      ("-1", None), ("1.5", None), ("1e3", None), ("", None),
                                      ("2147483648", None), ("10 ", None), ("unlimited", None)])
def test_iopslimit(text, ok):
    if ok is None:
        with pytest.raises(ConfigError):
            iolimits.parse_iopslimit(text)
    else:
        assert iolimits.parse_iopslimit(text) == ok


def test_limits_from_conf_and_vzctls_keys():
    assert iolimits.from_conf({}) == Limits()
    assert iolimits.from_conf({"VZZFS_IOLIMIT": "4M", "VZZFS_IOPSLIMIT": "50"}) == Limits(4 << 20, 50)
    assert iolimits.from_conf({"VZZFS_IOLIMIT": "", "IOLIMIT": "5"}) == Limits()
    assert iolimits.vzctl_keys({"IOLIMIT": "5", "X": "1"}) == ["IOLIMIT"]
    assert iolimits.from_vzctl_keys({"IOLIMIT": "1048576"}) == (1048576, None)
    with pytest.raises(ConfigError):
        iolimits.from_conf({"VZZFS_IOPSLIMIT": "many"})


def test_cgroup_lines():
    lim = Limits(4 << 20, 50)
    assert iolimits.v1_lines("230:16", lim) == {
        "blkio.throttle.read_bps_device": "230:16 4194304",
        "blkio.throttle.write_bps_device": "230:16 4194304",
        "blkio.throttle.read_iops_device": "230:16 50",
        "blkio.throttle.write_iops_device": "230:16 50"}
    assert iolimits.v1_lines("230:16", Limits(0, 7))["blkio.throttle.write_bps_device"] == "230:16 0"
    assert iolimits.v2_line("230:16", lim) == "230:16 rbps=4194304 wbps=4194304 riops=50 wiops=50"
    assert iolimits.v2_line("230:16", Limits()) == "230:16 rbps=max wbps=max riops=max wiops=max"
    for bad in ("230:16 1\n8:0", "230:16\n", ":16", "230:", "230", "a:1", "1:2:3", "\u0661:1"):
        with pytest.raises(ValueError):
            iolimits.v1_lines(bad, lim)  # never a second line into the file, nor a stray one


def test_reading_back():
    texts = {"blkio.throttle.write_bps_device": "8:0 9\n230:16 4194304\n",
             "blkio.throttle.read_bps_device": "230:16 4194304\n",
             "blkio.throttle.write_iops_device": "230:16 50\n"}
    assert iolimits.parse_v1(texts, "230:16") == Limits(4 << 20, 50)
    assert iolimits.parse_v1(texts, "230:0") == Limits()
    assert iolimits.parse_v2("8:0 rbps=1 wbps=max riops=max wiops=max\n"
                             "230:16 rbps=max wbps=4194304 riops=max wiops=20\n",
                             "230:16") == Limits(4 << 20, 20)


def fake_v1(tmp_path, monkeypatch):
    """A cgroup v1 blkio hierarchy as plain files: the root's four rule files."""
    top = tmp_path / "blkio"
    top.mkdir()
    for _, _, name in iolimits.V1_FILES:
        (top / name).write_text("")
    monkeypatch.setattr(blkio.mounts, "cgroup_v1", lambda c: str(top) if c == "blkio" else None)
    return top


def ct_cgroup(top, ctid="101"):
    path = top / ("vz-%s" % ctid)
    path.mkdir()
    for _, _, name in iolimits.V1_FILES:
        (path / name).write_text("")
    return path


def test_apply_writes_root_and_the_cts_cgroup(tmp_path, monkeypatch):
    top = fake_v1(tmp_path, monkeypatch)
    assert blkio.apply("101", "230:16", Limits(1 << 20, 0)) == [str(top)]  # not running
    assert (top / "blkio.throttle.write_bps_device").read_text() == "230:16 1048576\n"
    cg = ct_cgroup(top)
    assert blkio.apply("101", "230:16", Limits(1 << 20, 30)) == [str(top), str(cg)]
    assert (cg / "blkio.throttle.read_iops_device").read_text() == "230:16 30\n"
    assert blkio.current("101", "230:16") is not None
    assert blkio.clear_root("230:16") is True
    assert (top / "blkio.throttle.write_bps_device").read_text() == "230:16 0\n"


def test_no_limits_leave_a_root_without_rules_alone(tmp_path, monkeypatch):
    top = fake_v1(tmp_path, monkeypatch)
    assert blkio.apply("101", "230:16", Limits()) == []
    assert (top / "blkio.throttle.write_bps_device").read_text() == ""
    assert blkio.clear_root("230:16") is False


def test_no_blkio_hierarchy(monkeypatch):
    monkeypatch.setattr(blkio.mounts, "table", lambda pid="self": [])
    assert blkio.hierarchy() == (None, None)
    assert blkio.apply("101", "230:16", Limits(1, 1)) == []
    assert blkio.start_waiter("101", "230:16", Limits(1, 1)) is None


def test_waiter_skips_the_stale_cgroup_and_writes_the_new_one(tmp_path):
    top = tmp_path
    stale = ct_cgroup(top)
    ino = os.stat(str(stale)).st_ino

    def replace():  # what vzctl start does: destroy the stale cgroup, make a new one
        time.sleep(0.1)
        assert (stale / "blkio.throttle.write_bps_device").read_text() == ""
        for f in stale.iterdir():
            f.unlink()
        stale.rmdir()
        (top / "keep").mkdir()  # so the new directory cannot get the old inode back
        # made aside and renamed into place: a cgroup's files come with its directory
        (top / "new").mkdir()
        ct_cgroup(top / "new").rename(top / "vz-101")
    t = threading.Thread(target=replace)
    t.start()
    assert blkio.wait_and_write("101", str(top), "v1", "230:16", Limits(2 << 20, 0), ino, 5,
                                step=0.01)
    t.join()
    assert (top / "vz-101" / "blkio.throttle.write_bps_device").read_text() == "230:16 2097152\n"


def test_waiter_gives_up(tmp_path):
    t0 = time.monotonic()
    assert not blkio.wait_and_write("101", str(tmp_path), "v1", "230:16", Limits(1, 1), None,
                                    0.1, step=0.01)
    assert not os.path.exists(str(tmp_path / "vz-101"))
    assert time.monotonic() - t0 < 5


@pytest.fixture
def ct(tmp_path, monkeypatch):
    (tmp_path / "conf").mkdir()
    (tmp_path / "vz.conf").write_text("LOCKDIR=%s/lock\n" % tmp_path)
    conf = tmp_path / "conf" / "101.conf"
    conf.write_text('DESCRIPTION="x"\nIOLIMIT="1048576"\n')
    monkeypatch.setattr(ctlimits, "openvz_kernel", lambda: False)
    return Container("101", Node(str(tmp_path)))


def test_vzctls_iolimit_stops_a_start_before_the_mount(ct):
    with pytest.raises(ConfigError) as e:
        ctlimits.before_mount(ct, "start")
    line = e.value.line()
    assert "IOLIMIT" in line and "vzzfs set-limits 101" in line and "\n" not in line
    ctlimits.before_mount(ct, "mount")  # vzctl mount applies no resources: fine


def test_a_bad_limit_stops_the_start(ct):
    ct.own = {"VZZFS_IOPSLIMIT": "lots"}
    with pytest.raises(ConfigError) as e:
        ctlimits.before_mount(ct, "start")
    assert "CT 101: VZZFS_IOPSLIMIT='lots'" in e.value.line() and ct.conffile in e.value.line()


def test_set_limits_takes_over_vzctls_keys_and_saves(ct, monkeypatch):
    out = ctlimits._set_limits(ct, iopslimit="40")
    text = open(ct.conffile).read()
    assert 'VZZFS_IOLIMIT="1048576"' in text and 'VZZFS_IOPSLIMIT="40"' in text
    assert "IOLIMIT=\"1048576\"\n" not in text.replace("VZZFS_IOLIMIT", "")
    assert text.startswith('DESCRIPTION="x"\n')
    assert "took over IOLIMIT" in out[0] and "1MB/s, 40 IOPS saved; set at the next start" in out[1]
    ctlimits._set_limits(ct, iolimit="unlimited", iopslimit="0")
    text = open(ct.conffile).read()
    assert "IOLIMIT" not in text and "IOPSLIMIT" not in text


def test_set_limits_refuses_nonsense_and_the_openvz_kernel(ct, monkeypatch):
    with pytest.raises(UsageError) as e:
        ctlimits._set_limits(ct, iolimit="1.5M")
    assert "--iolimit='1.5M'" in e.value.line()
    assert 'IOLIMIT="1048576"' in open(ct.conffile).read(), "nothing saved"
    monkeypatch.setattr(ctlimits, "openvz_kernel", lambda: True)
    with pytest.raises(UsageError) as e:
        ctlimits._set_limits(ct, iolimit="10")
    assert "vzctl set 101 --iolimit" in e.value.line()


def test_list_cells():
    assert listing.limit_cell("iolimit", 10 << 20) == "10M"
    assert listing.limit_cell("iolimit", 1000) == "1000"
    assert listing.limit_cell("iopslimit", 50) == "50"
    assert listing.limit_cell("iopslimit", None) == "-"
    assert listing.limit_cell("iolimit", "?") == "?"


def test_check_names_what_would_stop_the_next_start(ct):
    from vzzfs_hooks.jobs import check
    found = check._limit_findings(ct)
    assert [f[0] for f in found] == ["fail"] and "vzzfs set-limits 101" in found[0][1]
    ct.own = {"VZZFS_IOLIMIT": "1.5M"}
    found = check._limit_findings(ct)
    assert [f[0] for f in found] == ["fail"] and "VZZFS_IOLIMIT='1.5M'" in found[0][1]
    ct.own = {"VZZFS_IOLIMIT": "1M"}
    assert check._limit_findings(ct) == []


def test_start_waiter_detaches_and_writes_once_vzctl_made_the_cgroup(tmp_path, monkeypatch):
    top = fake_v1(tmp_path, monkeypatch)
    pid = blkio.start_waiter("101", "230:16", Limits(1 << 20, 0), timeout=20)
    assert pid, "the hook goes on at once; the waiter's own child is left"
    staging = ct_cgroup(tmp_path, "staging")  # appears whole, as the kernel makes it
    os.rename(str(staging), str(top / "vz-101"))
    rule = top / "vz-101" / "blkio.throttle.write_bps_device"
    deadline = time.monotonic() + 20
    while rule.read_text() == "" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rule.read_text() == "230:16 1048576\n"
