#!/usr/bin/python3
"""Runs every benchmark in the test VM and writes each one's figures to OUTDIR/NAME.json.

Usage (inside the VM; bench/run does all of it): bench/suite.py OUTDIR [NAME ...]
Each benchmark gets a fresh pool on the VM's first disk. One that fails is
recorded with its error and the others still run; the exit code says whether
all of them ran.
"""
import importlib
import json
import os
import platform
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

BENCHMARKS = ("hook_overhead", "create_clone_vs_unpack", "clone_floor", "snapshot_window", "list_scale",
              "boot_storm", "full_node", "clone_space", "incremental_send", "stream_transfer",
              "convert_copy", "fio_volblocksize", "double_caching", "arc_attribution",
              "io_limits", "dedup_density", "migrate_downtime")


def zfs_version():
    try:
        with open("/sys/module/zfs/version") as f:
            return f.read().strip()
    except OSError:
        return None


def main(argv):
    if not argv or argv[0].startswith("-"):
        sys.exit("usage: bench/suite.py OUTDIR [NAME ...]   (names: %s)" % ", ".join(BENCHMARKS))
    outdir, names = argv[0], argv[1:] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        sys.exit("bench: unknown benchmark %s (names: %s)" % (", ".join(unknown),
                                                              ", ".join(BENCHMARKS)))
    os.makedirs(outdir, exist_ok=True)
    failed = []
    for i, name in enumerate(names, 1):
        print("== [%d/%d] %s" % (i, len(names), name), flush=True)
        start = time.monotonic()
        record = {"name": name, "kernel": platform.release(), "zfs": zfs_version(),
                  "cpus": os.cpu_count(), "emulated": True}
        try:
            record["result"] = importlib.import_module(name).run()
        except Exception as e:  # keep the other benchmarks' figures
            traceback.print_exc()
            record["error"] = "%s: %s" % (type(e).__name__, e)
            failed.append(name)
        record["seconds"] = time.monotonic() - start
        with open(os.path.join(outdir, name + ".json"), "w") as f:
            json.dump(record, f, indent=1, sort_keys=True)
        print("   (%.0f s)" % record["seconds"], flush=True)
    if failed:
        sys.exit("bench: failed: %s" % ", ".join(failed))


if __name__ == "__main__":
    main(sys.argv[1:])
