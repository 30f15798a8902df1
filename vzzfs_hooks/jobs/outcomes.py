"""The outcome of each CT's last run of a timer's job (autosnap, replicate), for vzzfs check.

A small JSON file per job under STATE_DIR (VZZFS_STATE_DIR overrides it, for
tests): {"cts": {CTID: {"time": epoch, "error": line or null}}}. A CT whose last
run failed is reported by `vzzfs check` until a run succeeds. An unreadable file
reads as no failures: it only ever adds warnings.
"""

import fcntl
import json
import os
import time

from ..base import log
from ..base.errors import Interrupted, VzzfsError
from ..base.fileio import write_atomic
from ..container.ct import Container
from ..verbs import listing

STATE_DIR = "/var/lib/vzzfs"      # VZZFS_STATE_DIR overrides (tests)


def path(filename):
    return os.path.join(os.environ.get("VZZFS_STATE_DIR", STATE_DIR), filename)


def _read(filename):
    try:
        with open(path(filename)) as f:
            state = json.load(f)
        return state if isinstance(state, dict) else {}
    except (OSError, ValueError):
        return {}


def record(filename, results, only):
    """Each CT's last outcome from ``results`` [(ctid, result or None, error line or
    None)]: a result None without an error means the job does not apply to the CT (it
    is dropped). Without ``only`` (a run over all CTs), CTs not in ``results`` are gone
    and dropped too."""
    target = path(filename)
    os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
    # two runs at once (the timer's and an operator's) read, change and write the same
    # file: one at a time, or one of them loses the other's outcome
    with open(target + ".lock", "a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        state = _read(filename)
        cts = state.get("cts") if isinstance(state.get("cts"), dict) else {}
        if not only:
            cts = {}
        now = int(time.time())
        for ctid, result, error in results:
            if result is None and error is None:
                cts.pop(ctid, None)
            else:
                cts[ctid] = {"time": now, "error": error}
        write_atomic(target, json.dumps({"cts": cts}, indent=1, sort_keys=True) + "\n",
                     0o644)


def last(filename):
    """{ctid: (epoch, error line or None)}: each CT's last outcome."""
    cts = _read(filename).get("cts")
    if not isinstance(cts, dict):
        return {}
    return {ctid: (entry.get("time"), str(entry["error"]) if entry.get("error") else None)
            for ctid, entry in cts.items() if isinstance(entry, dict)}


def failures(filename):
    """[(ctid, epoch, error line)] of CTs whose last run failed."""
    cts = _read(filename).get("cts")
    if not isinstance(cts, dict):
        return []
    found = []
    for ctid, entry in sorted(cts.items()):
        if isinstance(entry, dict) and entry.get("error"):
            found.append((ctid, entry.get("time"), str(entry["error"])))
    return found


def failure_line(ctid, error):
    """The one line a CT's failure is logged and recorded as: a VzzfsError's own, or
    for anything else (a bug, or input nothing checked) its type and text."""
    if isinstance(error, VzzfsError):
        return error.line() if error.ctid is not None else "CT %s: %s" % (ctid, error.line())
    return " ".join(("CT %s: unexpected %s: %s (report this as a vzzfs bug)"
                     % (ctid, type(error).__name__, error)).split())


def run_each(node, only, filename, work):
    """``work(ct)`` for every vzzfs CT on ``node`` (or the CTIDs in ``only``); a CT's
    failure, whatever it is, is logged and kept and never stops the others. Records
    the outcomes in ``filename`` and returns them: [(ctid, work's result, error line
    or None)]. An interruption (Ctrl-C, SIGTERM) ends the run, the outcomes so far
    recorded."""
    results = []
    try:
        for row in listing.rows(node, only):
            if row["status"] in ("orphan", "zvol missing"):
                continue
            ctid = row["ctid"]
            try:
                result = work(Container(ctid, node))
            except (Interrupted, KeyboardInterrupt):
                raise
            except Exception as e:  # one CT's trouble, whatever it is: the others go on
                line = failure_line(ctid, e)
                log.error(line)
                results.append((ctid, None, line))
                continue
            results.append((ctid, result, None))
    except (Interrupted, KeyboardInterrupt):
        record(filename, results, True)  # the CTs not reached keep their last outcome
        raise
    record(filename, results, only)
    return results
