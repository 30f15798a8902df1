"""signals.Deferred: a signal inside the block raises nothing until check(), and
one not acted on is sent again once the block ends."""
import os
import signal
import subprocess
import sys

import pytest

from vzzfs_hooks.base import faults, runner, signals
from vzzfs_hooks.base.errors import EXIT_INTERRUPTED, Interrupted


def test_a_signal_waits_for_check():
    steps = []
    with pytest.raises(Interrupted) as exc:
        with signals.Deferred() as sig:
            os.kill(os.getpid(), signal.SIGTERM)
            steps.append("after the signal")  # nothing raised mid-step
            assert signals.pending() == signal.SIGTERM
            sig.check()
            steps.append("not reached")
    assert steps == ["after the signal"]
    assert exc.value.exit_code == EXIT_INTERRUPTED == 130
    assert "signal %d" % signal.SIGTERM in exc.value.line()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert signals.pending() is None and not signals.deferring()


def test_without_a_signal_check_passes_and_handlers_come_back():
    before = {s: signal.getsignal(s) for s in signals.SIGNALS}
    with signals.Deferred() as sig:
        assert signals.deferring()
        sig.check()
    assert {s: signal.getsignal(s) for s in signals.SIGNALS} == before


def test_a_signal_not_acted_on_is_sent_again_after_the_block():
    # Python's own SIGINT handler, whatever this process inherited: a job started in
    # the background by a shell without job control starts with SIGINT ignored
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            with signals.Deferred():
                os.kill(os.getpid(), signal.SIGINT)
                done = True  # the block finishes its step first
        assert done
    finally:
        signal.signal(signal.SIGINT, old)


def test_the_cleanup_runs_even_if_a_second_signal_comes():
    cleaned = []
    with pytest.raises(Interrupted):
        with signals.Deferred() as sig:
            try:
                os.kill(os.getpid(), signal.SIGHUP)
                sig.check()
            finally:
                os.kill(os.getpid(), signal.SIGTERM)  # lands inside the cleanup
                cleaned.append("thawed")
    assert cleaned == ["thawed"]


def test_commands_run_inside_get_their_own_session():
    probe = [sys.executable, "-c", "import os; print(os.getsid(0))"]
    outside = int(runner.run(probe).stdout)
    with signals.Deferred():
        inside = int(runner.run(probe).stdout)
    assert outside == os.getsid(0) and inside != os.getsid(0)


def test_a_fault_stall_ends_when_a_signal_is_held(monkeypatch):
    monkeypatch.setenv("VZZFS_FAULT", "snapshot.frozen:sleep")
    with pytest.raises(Interrupted):
        with signals.Deferred() as sig:
            subprocess.Popen([sys.executable, "-c", "import os, signal, time; time.sleep(0.3);"
                              " os.kill(%d, signal.SIGTERM)" % os.getpid()])
            faults.point("snapshot.frozen")  # would stall 60 s
            sig.check()


def test_terminating_raises_sigterm_and_sighup_as_ctrl_c_does():
    before = {s: signal.getsignal(s) for s in signals.SIGNALS}
    for signum in (signal.SIGTERM, signal.SIGHUP):
        cleaned = []
        with pytest.raises(KeyboardInterrupt) as exc:
            with signals.terminating():
                try:
                    os.kill(os.getpid(), signum)
                finally:
                    cleaned.append(signum)
        assert isinstance(exc.value, signals.Terminated) and cleaned == [signum]
        assert str(exc.value) == "interrupted by signal %d" % signum
    assert {s: signal.getsignal(s) for s in signals.SIGNALS} == before


def test_a_deferred_block_inside_terminating_still_holds_signals_off():
    steps = []
    with pytest.raises(signals.Terminated):
        with signals.terminating():
            with signals.Deferred():
                os.kill(os.getpid(), signal.SIGTERM)
                steps.append("step finished")
            steps.append("not reached")
    assert steps == ["step finished"]


def test_the_cli_exits_130_for_a_terminated_verb(monkeypatch):
    from vzzfs_hooks.entry import cli

    def verb(args):
        with signals.terminating():
            os.kill(os.getpid(), signal.SIGHUP)

    class Parser(object):
        def __init__(self, argv):
            pass

        def parse_args(self, argv):
            return type("Args", (), {"func": staticmethod(verb)})()
    monkeypatch.setattr(cli, "build_parser", Parser)
    assert cli.main([]) == EXIT_INTERRUPTED
