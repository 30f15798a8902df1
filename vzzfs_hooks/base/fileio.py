"""Reading and writing files safely: small ones replaced atomically (a reader sees the
old file or the new one, never half), big ones created fresh, never through a planted
symlink.

Text (a CT's conf above all) is read and written byte for byte, whatever it holds and
whatever the locale (cron's is ASCII): bytes are decoded as file names are
(os.fsdecode, so a value used as a path names the same file) and the bytes that are
not text come back unchanged on writing (surrogateescape)."""

import os


def read_text(path):
    """The text of file ``path``, as write_atomic writes it back byte for byte."""
    with open(path, "rb") as f:
        return os.fsdecode(f.read())


def new_file(directory, prefix):
    """(fd, path) of a new file ``prefix`` + random hex in ``directory``, mode 0600, as
    tempfile.mkstemp makes it: tempfile (with shutil, bz2, lzma and random) cost a create
    by clone a fifth of its time under emulation."""
    while True:
        path = os.path.join(directory, prefix + os.urandom(6).hex())
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                           | os.O_CLOEXEC, 0o600), path
        except FileExistsError:
            continue


def write_atomic(path, text, mode=0o644):
    fd, tmp = new_file(os.path.dirname(path), ".vzzfs-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(os.fsencode(text))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def create_new(path, mode=0o600):
    """A new file at ``path``, opened for binary writing: O_EXCL|O_NOFOLLOW, so an
    existing file or a symlink planted there (even a dangling one) raises
    FileExistsError (or OSError ELOOP) instead of being followed or overwritten."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    return os.fdopen(fd, "wb")


def fsync_dir(path):
    """Make a rename in directory ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
