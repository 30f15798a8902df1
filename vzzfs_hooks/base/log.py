"""Messages for operators: one line on stderr, the same line in syslog.

vzctl shows a hook's stderr just before its own "Error executing ... script"
line, so errors must be a single self-explaining line.
"""

import sys
import syslog

_opened = False


def _syslog(priority, line):
    global _opened
    try:
        if not _opened:
            syslog.openlog("vzzfs", syslog.LOG_PID, syslog.LOG_DAEMON)
            _opened = True
        syslog.syslog(priority, line)
    except OSError:
        pass  # no syslog on this machine: stderr still has it


def reset():
    """Drop the syslog connection, to be opened again on the next line (for a forked
    process about to close every file it inherited)."""
    global _opened
    if _opened:
        syslog.closelog()
        _opened = False


def error(line):
    sys.stderr.write("vzzfs: %s\n" % line)
    sys.stderr.flush()
    _syslog(syslog.LOG_ERR, line)


def warn(line):
    sys.stderr.write("vzzfs: warning: %s\n" % line)
    sys.stderr.flush()
    _syslog(syslog.LOG_WARNING, line)


def info(line):
    """Recorded in syslog only: vzctl's terminal stays quiet on success."""
    _syslog(syslog.LOG_INFO, line)
