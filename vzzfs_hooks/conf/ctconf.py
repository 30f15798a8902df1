"""Writing a container's vzctl config file: keys set or removed, the rest kept as is.

Under OpenVZ 7 the conf is VE_PRIVATE/ve.conf and /etc/vz/conf/CTID.conf a symlink
to it; writes go to the file the symlink names.

vzctl keeps lines it does not know when it rewrites a conf; so do we. A key is
changed where it first appears (the occurrence vzctl reads) and any later
duplicates are dropped; new keys are appended. Files are replaced atomically.
"""

import os

from ..base.fileio import read_text, write_atomic

_ASSIGN_RE = r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*="


def _quote(value):
    if '"' in value or "\n" in value or "\0" in value:
        raise ValueError("config values may not hold double quotes or newlines: %r" % value)
    return '"%s"' % value


def update_text(text, changes):
    """``changes``: key -> value (str) or None (remove the key). Returns the new text."""
    import re  # here: the hooks read confs and never write one
    out = []
    done = set()
    for line in text.splitlines():
        m = re.match(_ASSIGN_RE, line)
        key = m.group(1) if m and not line.lstrip().startswith("#") else None
        if key in changes:
            if key not in done and changes[key] is not None:
                out.append("%s=%s" % (key, _quote(changes[key])))
            done.add(key)
            continue
        out.append(line)
    for key in sorted(k for k in changes if k not in done and changes[k] is not None):
        out.append("%s=%s" % (key, _quote(changes[key])))
    return "\n".join(out) + "\n"


def real_path(path):
    """Where a conf's bytes live: under OpenVZ 7 /etc/vz/conf/CTID.conf is vzctl's
    symlink to VE_PRIVATE/ve.conf, and a rewrite must replace that file, not the link."""
    return os.path.realpath(path) if os.path.islink(path) else path


def write_file(path, text, mode=0o644):
    """Replace the conf at ``path`` (through vzctl 7's symlink) with ``text``, atomically."""
    write_atomic(real_path(path), text, mode)


def update_file(path, changes):
    write_file(path, update_text(read_text(path), changes))


def create_file(path, text, changes):
    """Write a new conf from ``text`` (a sample) plus ``changes``; refuse if it exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)  # claim the name
    os.close(fd)
    try:
        write_atomic(path, update_text(text, changes))
    except BaseException:
        os.unlink(path)
        raise
