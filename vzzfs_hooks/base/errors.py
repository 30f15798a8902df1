"""The error types every layer raises, each with its documented exit code.

An error carries the problem and the fix separately so the hooks and the CLI can
print the one line operators see: ``vzzfs: CT 101: <problem> (<fix>)``.
"""

# Exit codes, documented in the README and the man page.
EXIT_OK = 0           # done, or nothing to do
EXIT_ERROR = 1        # any other error: anything not listed below
EXIT_USAGE = 2        # bad command line or bad input (CTID, size, name, a backup stream)
EXIT_CONFIG = 3       # a config file is unreadable or holds an unsafe value
EXIT_LOCKED = 4       # the container is locked by another process or is busy
EXIT_ZFS = 5          # pool not imported, dataset missing, pool full, zfs failed
EXIT_FS = 6           # ext4 inside the zvol needs repair, mount/umount failed
EXIT_STATE = 7        # the container is in the wrong state for the request
EXIT_INTERRUPTED = 130  # interrupted: Ctrl-C, SIGTERM/SIGHUP in a snapshot or a stream


class VzzfsError(Exception):
    """Base class: ``problem`` says what is wrong, ``fix`` what to do about it."""

    exit_code = EXIT_ERROR

    def __init__(self, problem, fix=None, ctid=None):
        super(VzzfsError, self).__init__(problem)
        self.problem = problem
        self.fix = fix
        self.ctid = ctid

    def line(self):
        """The one-line message, without the ``vzzfs:`` prefix."""
        where = "CT %s: " % self.ctid if self.ctid is not None else ""
        fix = " (%s)" % self.fix if self.fix else ""
        # tools' messages span lines; operators and syslog get exactly one
        return " ".join((where + self.problem + fix).split())

    def __str__(self):
        return self.line()


class UsageError(VzzfsError):
    exit_code = EXIT_USAGE


class StreamError(VzzfsError):
    """The input is not a vzzfs backup, or is damaged: bad input, like a bad CTID."""

    exit_code = EXIT_USAGE


class EmptyStream(StreamError):
    """The input ended before its first byte (vzzfs receive --then-receive: the sender
    had nothing to send)."""


class ConfigError(VzzfsError):
    exit_code = EXIT_CONFIG


class LockedError(VzzfsError):
    exit_code = EXIT_LOCKED


class ZfsError(VzzfsError):
    """A ZFS operation failed; subclasses name the common causes."""

    exit_code = EXIT_ZFS


class PoolNotImported(ZfsError):
    pass


class DatasetNotFound(ZfsError):
    pass


class DatasetExists(ZfsError):
    pass


class PoolFull(ZfsError):
    pass


class DatasetBusy(ZfsError):
    pass


class FsError(VzzfsError):
    """The ext4 inside a zvol, or a mount on the host, is in trouble."""

    exit_code = EXIT_FS


class MountBusy(FsError):
    pass


class OnlineGrowRefused(FsError):
    """The kernel will not grow this mounted ext4 (its journal is too small for the
    grow's one transaction); unmounted, resize2fs can."""


class StateError(VzzfsError):
    exit_code = EXIT_STATE


class Interrupted(VzzfsError):
    exit_code = EXIT_INTERRUPTED
