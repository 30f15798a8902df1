"""OpenZFS's kstat files under /proc/spl/kstat/zfs: a pool's state, and its
per-dataset counters read as dictionaries.

The per-dataset counters (objset-0x* files, OpenZFS 0.8 and later) are what
`vzzfs list` shows as a CT's bytes read and written: logical I/O at the zvol
since the pool was imported (docs/performance.md, "Per-CT accounting").
"""

import os

KSTAT_DIR = "/proc/spl/kstat/zfs"


def pool_health(pool, kstat_dir=None):
    """The pool's state as its kstat file gives it ('ONLINE', 'SUSPENDED' ...), or
    None where there is no such file (pool not imported, or OpenZFS before 0.8)."""
    try:
        with open(os.path.join(kstat_dir or KSTAT_DIR, pool, "state")) as f:
            return f.read().strip() or None
    except OSError:
        return None


def read_kstat(path):
    """A kstat file (two header lines, then 'name type value' lines) as name -> text."""
    stats = {}
    with open(path) as f:
        for line in f.readlines()[2:]:
            parts = line.split()
            if len(parts) == 3:
                stats[parts[0]] = parts[2]
    return stats


def objset_counters(pool, kstat_dir=KSTAT_DIR):
    """Dataset name -> {reads, writes, nread, nwritten ...: int} for one imported pool.

    Empty when the kernel keeps no such counters (older OpenZFS) or the pool
    is not imported; a file that vanishes while being read (a zvol destroyed
    meanwhile) is skipped.
    """
    import glob  # here: the hooks read only the pool's state file
    counters = {}
    for path in glob.glob(os.path.join(kstat_dir, glob.escape(pool), "objset-0x*")):
        try:
            fields = read_kstat(path)
        except OSError:
            continue
        name = fields.pop("dataset_name", None)
        if name:
            counters[name] = {k: int(v) for k, v in fields.items() if v.isdigit()}
    return counters
