"""runner.run starts commands as subprocess.run did, with os.posix_spawn where Python
has it and subprocess elsewhere: both ways give the same results."""
import os

import pytest

from vzzfs_hooks.base import runner, signals
from vzzfs_hooks.base.errors import VzzfsError

# posix_spawn where this Python has it (3.8 and later: CI's), subprocess always
WAYS = (["posix_spawn"] if runner._spawn is not None else []) + ["subprocess"]


@pytest.fixture(params=WAYS)
def way(request, monkeypatch):
    if request.param == "subprocess":
        monkeypatch.setattr(runner, "_spawn", None)
    return request.param


def sh(script):
    return ["/bin/sh", "-c", script]


def test_output_exit_code_and_failure(way):
    res = runner.run(sh("echo out; echo err >&2; exit 3"), check=False)
    assert (res.returncode, res.stdout, res.stderr) == (3, "out\n", "err\n")
    with pytest.raises(runner.CommandFailed) as e:
        runner.run(sh("echo 'cannot open: no such pool' >&2; exit 1"))
    assert e.value.returncode == 1
    assert "cannot open: no such pool" in e.value.line()


def test_a_killed_command_has_the_negative_signal_number(way):
    assert runner.run(sh("kill -9 $$"), check=False).returncode == -9


def test_text_as_subprocess_gives_it(way):
    res = runner.run(sh(r"printf 'a\r\nb\rc\n\377\n'"), check=False)
    assert res.stdout == "a\nb\nc\n" + os.fsdecode(b"\xff") + "\n"


def test_large_output_on_both_pipes_does_not_block(way):
    res = runner.run(sh("head -c 300000 /dev/zero | tr '\\0' a; head -c 300000 /dev/zero | "
                        "tr '\\0' b >&2"), check=False)
    assert (len(res.stdout), len(res.stderr)) == (300000, 300000)


def test_missing_program_names_the_package(way, tmp_path):
    with pytest.raises(VzzfsError) as e:
        runner.run(["vzzfs-no-such-program"], env={"PATH": str(tmp_path)})
    assert "command vzzfs-no-such-program not found" in e.value.line()


def test_program_is_looked_up_on_the_given_path(way, tmp_path):
    fake = tmp_path / "zfs"
    fake.write_text("#!/bin/sh\necho fake zfs \"$@\"\n")
    fake.chmod(0o755)
    res = runner.run(["zfs", "list"], env={"PATH": "%s:/usr/bin:/bin" % tmp_path})
    assert res.stdout == "fake zfs list\n"


def test_stdin_is_empty(way):
    assert runner.run(["cat"]).stdout == ""


def test_timeout_kills_the_command(way, tmp_path):
    pidfile = tmp_path / "pid"
    with pytest.raises(VzzfsError) as e:
        runner.run(sh("echo $$ > %s; exec sleep 60" % pidfile), timeout=1)
    assert "did not finish within 1 s" in e.value.line()
    pid = int(pidfile.read_text())
    assert not os.path.exists("/proc/%d" % pid)  # killed and reaped


def test_no_descriptor_leaks_into_the_command(way, tmp_path):
    fd = os.open(str(tmp_path), os.O_RDONLY)
    os.set_inheritable(fd, True)
    try:
        listed = runner.run(["ls", "/proc/self/fd"]).stdout.split()
    finally:
        os.close(fd)
    assert str(fd) not in listed
    assert {"0", "1", "2"} <= set(listed)


def test_sigpipe_is_back_to_its_default(way):
    status = runner.run(["cat", "/proc/self/status"]).stdout
    ignored = int([l for l in status.splitlines() if l.startswith("SigIgn:")][0].split()[1], 16)
    assert not ignored & (1 << (13 - 1))  # SIGPIPE, ignored by Python itself


def test_own_session_only_inside_deferred(way):
    probe = sh("cut -d' ' -f6 /proc/$$/stat; echo $$")
    sid, pid = runner.run(probe).stdout.split()
    assert int(sid) == os.getsid(0)
    with signals.Deferred():
        sid, pid = runner.run(probe).stdout.split()
    assert sid == pid


def test_which():
    assert runner.which("sh", {"PATH": "/nonexistent:/bin"}) == "/bin/sh"
    assert runner.which("vzzfs-no-such-program", {"PATH": "/bin"}) is None
    assert runner.which("/bin/sh") == "/bin/sh"


def test_without_proc_subprocess_runs_it(monkeypatch):
    real_listdir = os.listdir

    def no_proc(path):
        if path.startswith("/proc"):
            raise FileNotFoundError(path)
        return real_listdir(path)
    monkeypatch.setattr(runner.os, "listdir", no_proc)
    assert runner.run(sh("echo ok")).stdout == "ok\n"


def test_a_c_library_without_posix_spawns_setsid_has_subprocess_run_it(monkeypatch):
    """Python 3.8+ on glibc < 2.26 (a software collection's Python on EL7)."""
    def no_setsid(*args, **kw):
        raise NotImplementedError("setsid not supported")
    monkeypatch.setattr(runner, "_spawn", no_setsid)
    assert runner.run(sh("echo ok")).stdout == "ok\n"
