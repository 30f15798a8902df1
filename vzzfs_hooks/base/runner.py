"""Runs external commands: always an argument list, never a shell.

``run`` captures a command's output as text (bytes the locale does not know, as
under cron's ASCII one, come through as os.fsdecode gives them), raises CommandFailed (naming the
cause the command printed) when it exits non-zero, and turns a missing program
or a timeout into a VzzfsError that says so. It logs nothing; callers decide
what to tell the operator. ``popen`` starts a command whose bytes stream through
pipes (zfs send/receive, tar, the remote side of send/migrate), with the same
"command not found" message; ``pump`` copies a stream through Python with
progress, ``copy_fd`` one descriptor into another without (splice), and
``finish``/``stop``/``wait`` end such a command. Tests inject faults by putting a
fake command first on PATH.

subprocess (with threading, selectors and locale behind it) is imported on the
first command: a hook for a CT that is not vzzfs's runs none and starts faster.
"""

import errno
import os

from . import signals
from .errors import VzzfsError

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def absolute_path(value):
    """PATH ``value`` without its relative entries (an empty one means the working
    directory too). OpenVZ 7's vzctl runs the hooks with a PATH ending in '.', its own
    working directory: a `zfs` or `mount` planted there must never be what runs."""
    kept = [p for p in (value or "").split(":") if p.startswith("/")]
    return ":".join(kept) or DEFAULT_PATH


def use_absolute_path(environ=None):
    """Drop PATH's relative entries for this process and every command it starts: the
    entry points call it first."""
    environ = os.environ if environ is None else environ
    environ["PATH"] = absolute_path(environ.get("PATH"))


class CommandFailed(VzzfsError):
    """A command exited non-zero; ``returncode``, ``stdout`` and ``stderr`` say how."""

    def __init__(self, argv, returncode, stdout, stderr):
        lines = (stdout + "\n" + stderr).strip().splitlines()
        ours = [l for l in lines if l.startswith("vzzfs:")]  # a hook's message, via vzctl
        if ours:
            msg = ours[-1][len("vzzfs:"):].strip()
        elif stderr.strip():
            # the cause often comes before a closing summary (vzctl: "criu: not
            # found", then "Failed to checkpoint ...", then where the logs went)
            msg = "; ".join([l.strip() for l in stderr.splitlines() if l.strip()][-3:])
        else:
            msg = "exit code %d" % returncode
        super(CommandFailed, self).__init__("%s failed: %s" % (argv[0], msg))
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


class Result(object):
    __slots__ = ("argv", "returncode", "stdout", "stderr")

    def __init__(self, argv, returncode, stdout, stderr):
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


CHUNK = 1 << 20


def _not_found(argv):
    return VzzfsError("command %s not found" % argv[0],
                      "install it (zfsutils-linux/zfs, e2fsprogs, util-linux, rsync, openssh-client)")


def run(argv, check=True, timeout=None, stdin=None, env=None):
    """Run ``argv`` (a list of str) and return a Result with text output.

    With ``check`` a non-zero exit raises CommandFailed. A missing program raises
    VzzfsError naming the package to install.
    """
    import subprocess
    argv = [str(a) for a in argv]
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL if stdin is None else stdin,
                              universal_newlines=True, errors="surrogateescape",
                              timeout=timeout, env=env, start_new_session=signals.deferring())
    except FileNotFoundError:
        raise _not_found(argv)
    except subprocess.TimeoutExpired:
        raise VzzfsError("%s did not finish within %s s" % (" ".join(argv), timeout))
    result = Result(argv, proc.returncode, proc.stdout, proc.stderr)
    if check and proc.returncode != 0:
        raise CommandFailed(argv, proc.returncode, proc.stdout, proc.stderr)
    return result


def call(argv, stdout=None):
    """Run ``argv`` with the caller's stderr (and stdout, or the file ``stdout``) for
    the operator to see, stdin empty; its exit code. A missing program raises
    VzzfsError as ``run`` does."""
    import subprocess
    argv = [str(a) for a in argv]
    try:
        return subprocess.call(argv, stdin=subprocess.DEVNULL, stdout=stdout,
                               start_new_session=signals.deferring())
    except FileNotFoundError:
        raise _not_found(argv)


def popen(argv, stdin=None, stdout=None, stderr=None):
    """Start ``argv`` with binary pipes as asked (subprocess.PIPE, DEVNULL, a file);
    a missing program raises VzzfsError as ``run`` does. The caller ends it with
    ``finish`` or ``stop``."""
    import subprocess
    argv = [str(a) for a in argv]
    try:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL if stdin is None else stdin,
                                stdout=stdout, stderr=stderr,
                                start_new_session=signals.deferring())
    except FileNotFoundError:
        raise _not_found(argv)


def stop(proc):
    """Kill a streaming command and reap it (Ctrl-C, a failed reader or writer)."""
    proc.kill()
    proc.wait()


def finish(proc):
    """Close our pipe into ``proc`` and wait for it; its stderr (or stdout) as text."""
    if proc.stdin is not None:
        try:
            proc.stdin.close()
        except OSError:
            pass  # it went away first
    out = proc.stderr if proc.stderr is not None else proc.stdout
    text = out.read().decode("utf-8", "replace") if out is not None else ""
    proc.wait()
    return text.strip()


def pump(src, dst, progress=None):
    """Copy the binary stream ``src`` to ``dst`` until its end; the bytes copied."""
    done = 0
    while True:
        chunk = src.read(CHUNK)
        if not chunk:
            break
        dst.write(chunk)
        done += len(chunk)
        if progress:
            progress.update(done)
    dst.flush()
    return done


# ---- streams between file descriptors, without copying them through Python ----

_UNSET = object()
_splice = _UNSET  # libc's splice(2) through ctypes, or None where there is none
F_SETPIPE_SZ = 1031  # fcntl.F_SETPIPE_SZ, which Python has only from 3.10
SPLICE_F_MOVE, SPLICE_F_MORE = 1, 4


def _splicer():
    """splice(2) from the C library, or None (another platform, no ctypes)."""
    global _splice
    if _splice is _UNSET:
        _splice = None
        try:
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            fn = libc.splice
            fn.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p,
                           ctypes.c_size_t, ctypes.c_uint]
            fn.restype = ctypes.c_ssize_t
            _splice = (fn, ctypes.get_errno)
        except (ImportError, OSError, AttributeError):
            pass
    return _splice


def is_pipe(fd):
    import stat
    return stat.S_ISFIFO(os.fstat(fd).st_mode)


def is_file(fd):
    """A regular file (where an offset tells how much was written)?"""
    import stat
    return stat.S_ISREG(os.fstat(fd).st_mode)


def grow_pipe(fd, size=CHUNK):
    """Ask for a pipe buffer of ``size`` bytes (Linux's default is 64 KiB: a context
    switch for every 64 KiB that crosses); the system's limit stands if lower."""
    import fcntl
    try:
        fcntl.fcntl(fd, F_SETPIPE_SZ, size)
    except OSError:
        pass


def copy_fd(src, dst, progress=None):
    """Copy file descriptor ``src`` to ``dst`` until src's end; the bytes copied.

    With one of them a pipe, splice(2) moves the bytes inside the kernel (no copy
    through Python); else, or where the kernel refuses splice for these two,
    os.read/os.write in CHUNK pieces. A failed write raises OSError (EPIPE: the
    reader went away; ENOSPC ...), as file.write does.
    """
    done = 0
    splice = _splicer() if (is_pipe(src) or is_pipe(dst)) else None
    while True:
        if splice is not None:
            n = splice[0](src, None, dst, None, CHUNK, SPLICE_F_MOVE | SPLICE_F_MORE)
            if n < 0:
                err = splice[1]()
                if err == errno.EINTR:
                    continue  # a signal: its handler runs now, between two calls
                if err == errno.EINVAL and done == 0:
                    splice = None  # not for these two (a file opened O_APPEND ...)
                    continue
                raise OSError(err, os.strerror(err))
        else:
            chunk = os.read(src, CHUNK)
            n = len(chunk)
            view = memoryview(chunk)
            while view:
                view = view[os.write(dst, view):]
        if n == 0:
            return done
        done += n
        if progress:
            progress.update(done)


def wait(proc, tick=None, every=0.5):
    """Wait for ``proc`` to exit, calling ``tick()`` every ``every`` seconds meanwhile
    (progress of a command that writes where vzzfs does not see the bytes)."""
    import subprocess
    while True:
        try:
            return proc.wait(timeout=every if tick else None)
        except subprocess.TimeoutExpired:
            tick()
