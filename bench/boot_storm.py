#!/usr/bin/python3
"""Benchmark: a boot storm, N CTs started one after another and N at once, through the hooks.

The real vzctl 4.11.1 starts 20 vzzfs CTs (busybox init on small sparse
zvols) and 20 plain simfs CTs holding the same busybox tree (the hooks pass
such a CT through: the baseline). For N in 1, 5, 10, 20, in rounds that each
begin with every CT stopped: one after another (N `vzctl start`s, each waited
for) and at once (N `vzctl start` processes launched together, timed until
the last returns). Every start must return 0 and leave its CT running; every
round ends with all of them stopped (`vzctl stop`) and unmounted. The hooks' cost per CT is (vzzfs time - simfs time) / N.
Standalone: scripts/vm-run -- /usr/bin/python3 bench/boot_storm.py
"""
import benchlib

COUNTS = (1, 5, 10, 20)
VZZFS_FIRST, SIMFS_FIRST = 101, 201
LAYOUTS = ("vzzfs", "simfs")


def ctids(layout, n):
    first = VZZFS_FIRST if layout == "vzzfs" else SIMFS_FIRST
    return list(range(first, first + n))


def serial(node, layout, n):
    """N `vzctl start`s one after another, each waited for: (seconds, each one's seconds)."""
    cts = ctids(layout, n)
    took, each = benchlib.timed(
        lambda: [benchlib.timed(benchlib.vzctl_ok, node, "start", c)[0] for c in cts])
    benchlib.check_running(node, cts)
    return took, each


def at_once(node, layout, n):
    """N `vzctl start`s launched together: seconds until the last returned."""
    cts = ctids(layout, n)
    took = benchlib.timed(benchlib.vzctl_all, node, "start", cts)[0]
    benchlib.check_running(node, cts)
    return took


def run():
    top = max(COUNTS)
    result = {"counts": list(COUNTS), "cts_per_layout": top}
    with benchlib.Scratch() as node:
        for i in range(top):
            node.make_ct(VZZFS_FIRST + i)
            node.make_simfs_ct(SIMFS_FIRST + i)
        for layout in LAYOUTS:  # one start of each kind first: bytecode, caches
            benchlib.vzctl_ok(node, "start", ctids(layout, 1)[0])
            benchlib.stop_all(node, ctids(layout, 1))
        for n in COUNTS:
            for layout in LAYOUTS:
                took, each = serial(node, layout, n)
                benchlib.stop_all(node, ctids(layout, n))
                result.setdefault(layout + "_serial_s", []).append(took)
                result[layout + "_each_start_s"] = each  # the last round's: the largest N
                together = at_once(node, layout, n)
                benchlib.stop_all(node, ctids(layout, n))
                result.setdefault(layout + "_parallel_s", []).append(together)
                print("%s, %d CTs: one after another %.1f s, at once %.1f s"
                      % (layout, n, took, together), flush=True)
    for mode in ("serial", "parallel"):
        result["per_ct_overhead_%s_s" % mode] = [
            (z - s) / n for n, z, s in zip(COUNTS, result["vzzfs_%s_s" % mode],
                                           result["simfs_%s_s" % mode])]
    rows = []
    for i, n in enumerate(COUNTS):
        row = [n]
        for mode in ("serial", "parallel"):
            z, s = result["vzzfs_%s_s" % mode][i], result["simfs_%s_s" % mode][i]
            row += ["%.1f" % z, "%.1f" % s, "%.2f" % (z / n), "%.2f" % (s / n),
                    "%.2f" % result["per_ct_overhead_%s_s" % mode][i]]
        rows.append(row)
    benchlib.table(("CTs", "serial vzzfs s", "simfs s", "vzzfs/CT", "simfs/CT", "hooks/CT",
                    "at once vzzfs s", "simfs s", "vzzfs/CT", "simfs/CT", "hooks/CT"), rows)
    for layout in LAYOUTS:
        each = result[layout + "_each_start_s"]
        print("%s: each start of the %d one after another (s): %s"
              % (layout, top, " ".join("%.1f" % t for t in each)))
    return result


if __name__ == "__main__":
    run()
