"""Replacing small files atomically: a reader sees the old file or the new one, never half."""

import os
import tempfile


def write_atomic(path, text, mode=0o644):
    fd, tmp = tempfile.mkstemp(prefix=".vzzfs-", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
