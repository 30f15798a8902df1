#!/usr/bin/python3
"""Research: what deduplication saves for CTs unpacked from one tarball, and its RAM cost.

Four CTs are unpacked (not cloned) from one 48 MiB tarball onto zvols with
dedup=off, then on a fresh pool the same with dedup=on. After each CT: the
pool's allocated bytes and dedup ratio, and the dedup table's entry count and
per-entry size in core (zpool status -D), i.e. the RAM the table wants while
the pool is imported. Clones (bench clone_space) share a template's blocks
without any table; this shows what dedup adds for CTs that were not cloned.
Standalone: scripts/vm-run --disk-size 4G -- /usr/bin/python3 bench/dedup_density.py
"""
import re

import benchlib
from benchlib import sh
from clone_space import allocated
from create_clone_vs_unpack import tarball, vzzfs

CTS = 4
TEMPLATE_MIB = 48


def dedup_table(pool):
    """(entries, bytes per entry in core) of the pool's dedup table; (0, 0) with none."""
    out = sh("zpool", "status", "-D", pool)
    m = re.search(r"DDT entries (\d+), size (\S+) on disk, (\S+) in core", out)
    if not m:
        return 0, 0
    return int(m.group(1)), _bytes(m.group(3))


def _bytes(text):
    """'160' or '1.09K' (zpool's own units) as bytes."""
    m = re.match(r"([\d.]+)([BKMG]?)", text)
    return int(float(m.group(1)) * {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20,
                                      "G": 1 << 30}[m.group(2)])


def one_pass(dedup):
    points = []
    with benchlib.Scratch('VZZFS_SPARSE="yes"\n') as node:
        tarball(node, "tmpl", TEMPLATE_MIB)
        for i in range(1, CTS + 1):
            node.track(300 + i)
            vzzfs(node, "create", str(300 + i), "--ostemplate", "tmpl", "--diskspace", "512M",
                  "--dedup", dedup)
            entries, in_core = dedup_table(benchlib.POOL)
            ratio = sh("zpool", "list", "-Hp", "-o", "dedupratio", benchlib.POOL).strip()
            points.append({"cts": i, "allocated": allocated(), "dedupratio": float(ratio.rstrip("x")),
                           "ddt_entries": entries, "ddt_in_core_per_entry": in_core})
    return points


def run():
    result = {"template_mib": TEMPLATE_MIB, "off": one_pass("off"), "on": one_pass("on")}
    rows = []
    for mode in ("off", "on"):
        for p in result[mode]:
            rows.append((mode, p["cts"], "%.1f" % (p["allocated"] / 1048576.0),
                         "%.2f" % p["dedupratio"], p["ddt_entries"],
                         "%.1f" % (p["ddt_entries"] * p["ddt_in_core_per_entry"] / 1048576.0)))
    benchlib.table(("dedup", "CTs", "pool allocated MiB", "dedupratio", "DDT entries",
                    "DDT in core MiB"), rows)
    return result


if __name__ == "__main__":
    run()
