"""Signals held off while a CT is frozen or suspended.

Inside ``Deferred`` a SIGINT, SIGTERM or SIGHUP raises nothing: it is noted, and
the code checks for it between steps (``check``), where stopping is safe. So no
signal can land between a step that freezes the CT and the flag saying it must
be thawed, nor inside the cleanup that thaws it. A signal noted but not acted on
inside the block is sent again when the block ends, so it has its usual effect
once the CT runs again.

Commands run inside the block get a session of their own (runner.run asks
``deferring``): a Ctrl-C on the terminal reaches vzzfs, not a half-done
`vzctl chkpnt --suspend`, `fsfreeze` or `--resume`.

Inside ``terminating()`` (backup, restore, send, receive) SIGTERM and SIGHUP
raise ``Terminated``, a KeyboardInterrupt, just where Ctrl-C would: the same
cleanup runs (a FILE.partial removed, a snapshot destroyed, a hold released,
`zfs send`/`zfs receive` stopped) where the default action would just end vzzfs.
"""

import contextlib
import os
import signal

from .errors import Interrupted

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_active = []  # the Deferred blocks entered, innermost last


def deferring():
    """True inside a Deferred block."""
    return bool(_active)


def pending():
    """The signal number noted by the innermost Deferred block, or None."""
    return _active[-1].caught if _active else None


class Deferred(object):
    """``with Deferred() as sig:`` ... ``sig.check()`` between steps."""

    def __init__(self):
        self.caught = None
        self.acted = False
        self._old = []

    def _note(self, signum, frame):
        if self.caught is None:
            self.caught = signum

    def __enter__(self):
        self._old = [(s, signal.signal(s, self._note)) for s in SIGNALS]
        _active.append(self)
        return self

    def check(self):
        """Raise Interrupted if a signal came; the caller's cleanup then runs."""
        if self.caught is not None:
            self.acted = True
            raise Interrupted("interrupted by signal %d" % self.caught)

    def __exit__(self, *exc):
        _active.remove(self)
        for s, old in self._old:
            signal.signal(s, old)
        if self.caught is not None and not self.acted:
            os.kill(os.getpid(), self.caught)  # its usual effect, now that it is safe
        return False


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP inside ``terminating()``: handled as Ctrl-C is (exit 130)."""


def _raise(signum, frame):
    raise Terminated("interrupted by signal %d" % signum)


@contextlib.contextmanager
def terminating():
    """SIGTERM and SIGHUP raise Terminated inside the block, as SIGINT raises
    KeyboardInterrupt; a Deferred block inside still holds all three off."""
    old = [(s, signal.signal(s, _raise)) for s in (signal.SIGTERM, signal.SIGHUP)]
    try:
        yield
    finally:
        for s, handler in old:
            signal.signal(s, handler)
