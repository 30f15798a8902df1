"""Fault injection for tests: make a named point in a long operation fail or stall.

VZZFS_FAULT="POINT:fail" raises an error at POINT, "POINT:sleep" says so on
stderr and stalls there for 60 s, or until a signal is held off (so a test can
signal the process at that moment), "POINT:kill" dies there
with SIGKILL (a crash). Unset, as on every real node, ``point()`` does nothing.
Points: snapshot.before-freeze, snapshot.frozen, convert.copying,
convert.swapping, convert.renamed, convert.conf, resize.zvol-grown, resize.fs-shrunk,
switch.rollback, backup.streaming (the header written, the CT's lock free, the
snapshot held), migrate.stopped (the CT stopped here, before the last increment),
migrate.before-start (the last increment there, laid out for its vzctl, not started).
"""

import os
import sys
import time

from .errors import VzzfsError

# signal and signals are imported where a fault is asked for: every hook passes
# points, and signal (with enum) would cost each of them its import.


def point(name):
    spec = os.environ.get("VZZFS_FAULT", "")
    if not spec:
        return
    where, _, what = spec.partition(":")
    if where != name:
        return
    if what == "fail":
        raise VzzfsError("injected fault at %s" % name)
    from . import signals
    if what == "sleep":
        sys.stderr.write("vzzfs: injected stall at %s\n" % name)
        sys.stderr.flush()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and signals.pending() is None:
            time.sleep(0.05)  # a signal held off (signals.Deferred) ends the stall
    if what == "kill":
        import signal
        os.kill(os.getpid(), signal.SIGKILL)
