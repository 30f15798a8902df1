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

``run`` starts its command with os.posix_spawn where Python has it (3.8 and later):
subprocess, with threading, selectors, signal and enum behind it, was a third of a
hook's imports under emulation (docs/performance.md, the hooks against their floor);
it is imported for streams, for ``call`` and on older Pythons.
"""

import errno
import os
import sys
import time

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
    argv = [str(a) for a in argv]
    try:
        if stdin is None and _spawn is not None:
            returncode, stdout, stderr = _spawned(argv, timeout, env)
        else:
            returncode, stdout, stderr = _subprocess_run(argv, timeout, stdin, env)
    except FileNotFoundError:
        raise _not_found(argv)
    except _TimedOut:
        raise VzzfsError("%s did not finish within %s s" % (" ".join(argv), timeout))
    result = Result(argv, returncode, stdout, stderr)
    if check and returncode != 0:
        raise CommandFailed(argv, returncode, stdout, stderr)
    return result


class _TimedOut(Exception):
    pass


def _deferring():
    """Whether a signals.Deferred block is open (its commands get a session of their
    own). Only code that imported signals can have opened one: asking sys.modules
    keeps signal and enum out of a process that never defers."""
    signals = sys.modules.get(__name__.rpartition(".")[0] + ".signals")
    return signals is not None and signals.deferring()


def _subprocess_run(argv, timeout, stdin, env):
    import subprocess
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL if stdin is None else stdin,
                              universal_newlines=True, errors="surrogateescape",
                              timeout=timeout, env=env, start_new_session=_deferring())
    except subprocess.TimeoutExpired:
        raise _TimedOut()
    return proc.returncode, proc.stdout, proc.stderr


def which(name, env=None):
    """The executable ``name`` is, looked up on ``env``'s PATH (os.environ's by
    default) unless it holds a '/'; None when there is none."""
    if "/" in name:
        return name if os.access(name, os.X_OK) else None
    for top in os.get_exec_path(env):
        path = os.path.join(top, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


# Python 3.8 and later; the checks for older ones (vermin) see them looked up, as here
_spawn = getattr(os, "posix_spawn", None)
_OPEN, _CLOSE, _DUP2 = (getattr(os, "POSIX_SPAWN_" + n, None) for n in ("OPEN", "CLOSE", "DUP2"))


def _inherited_fds():
    """Descriptors above 2 a command would inherit (subprocess closes them: close_fds);
    None without /proc to list them."""
    found = []
    try:
        listed = os.listdir("/proc/self/fd")
    except OSError:
        return None
    for name in listed:
        fd = int(name)
        try:
            if fd > 2 and os.get_inheritable(fd):
                found.append(fd)
        except OSError:
            pass  # the listing's own descriptor, closed by now
    return found


def _spawned(argv, timeout, env):
    """(returncode, stdout, stderr) of ``argv`` started as subprocess.run starts it:
    stdin /dev/null, no inherited descriptor, SIGPIPE and SIGXFSZ back to their
    defaults (Python ignores them), a session of its own inside signals.Deferred."""
    import _signal  # the C half of signal, loaded with the interpreter; signal adds enum
    inherited = _inherited_fds()
    if inherited is None:
        return _subprocess_run(argv, timeout, None, env)
    env = os.environ if env is None else env
    path = which(argv[0], env)
    if path is None:
        raise FileNotFoundError(errno.ENOENT, "not found", argv[0])
    deadline = None if timeout is None else time.monotonic() + timeout
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = None
    try:
        actions = [(_OPEN, 0, os.devnull, os.O_RDONLY, 0), (_DUP2, out_w, 1), (_DUP2, err_w, 2)]
        actions += [(_CLOSE, fd) for fd in inherited]
        try:
            pid = _spawn(path, argv, env, file_actions=actions, setsid=_deferring(),
                         setsigdef=(_signal.SIGPIPE, _signal.SIGXFSZ))
        except NotImplementedError:  # setsid where the C library lacks it (glibc < 2.26)
            return _subprocess_run(argv, timeout, None, env)
        os.close(out_w)
        os.close(err_w)
        out_w = err_w = None
        out, err = _read_both(out_r, err_r, deadline)
        status = _reap(pid, deadline)
        pid = None
    finally:
        if pid is not None:  # a timeout, Ctrl-C or a failed read: the command goes too
            os.kill(pid, _signal.SIGKILL)
            os.waitpid(pid, 0)
        for fd in (out_r, err_r, out_w, err_w):
            if fd is not None:
                os.close(fd)
    code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    return code, _text(out), _text(err)


def _left_ms(deadline):
    return None if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))


def _read_both(out_r, err_r, deadline):
    """Everything the command writes on both pipes until it closes them."""
    import select
    chunks = {out_r: [], err_r: []}
    poller = select.poll()
    for fd in chunks:
        poller.register(fd, select.POLLIN)
    live = len(chunks)
    while live:
        ready = poller.poll(_left_ms(deadline))
        if not ready and deadline is not None and time.monotonic() >= deadline:
            raise _TimedOut()
        for fd, _ in ready:
            data = os.read(fd, 1 << 16)
            if data:
                chunks[fd].append(data)
            else:
                poller.unregister(fd)
                live -= 1
    return b"".join(chunks[out_r]), b"".join(chunks[err_r])


def _reap(pid, deadline):
    """The command's wait status; it closed its output, so it ends at once, mostly."""
    if deadline is None:
        return os.waitpid(pid, 0)[1]
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() >= deadline:
            raise _TimedOut()
        time.sleep(0.01)


def _text(data):
    """A command's output as subprocess's text mode gives it (universal newlines;
    bytes the locale does not know kept as os.fsdecode keeps them)."""
    text = os.fsdecode(data)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def call(argv, stdout=None):
    """Run ``argv`` with the caller's stderr (and stdout, or the file ``stdout``) for
    the operator to see, stdin empty; its exit code. A missing program raises
    VzzfsError as ``run`` does."""
    import subprocess
    argv = [str(a) for a in argv]
    try:
        return subprocess.call(argv, stdin=subprocess.DEVNULL, stdout=stdout,
                               start_new_session=_deferring())
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
                                start_new_session=_deferring())
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
