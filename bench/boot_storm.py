#!/usr/bin/python3
"""Benchmark: a boot storm, N CTs started one after another and N at once, through the hooks.

The real vzctl 4.11.1 starts 20 vzzfs CTs (busybox init on small sparse
zvols) and 20 plain simfs CTs holding the same busybox tree (the hooks pass
such a CT through: the baseline). For N in 1, 5, 10, 20, in rounds that each
begin with every CT stopped: one after another (N `vzctl start`s, each waited
for) and at once (N `vzctl start` processes launched together, timed until
the last returns); every round ends with all of them stopped (`vzctl stop`,
checked) and unmounted. A start counts when vzctl exits 0 and `vzctl status`
then says running: a round where one did not gives no figure, its failures are
listed (CT, vzctl's exit code, the line that says why). The hooks' cost per CT
is (vzzfs seconds - simfs seconds) / N.
Standalone: scripts/vm-run -- /usr/bin/python3 bench/boot_storm.py
"""
import time

import benchlib

COUNTS = (1, 5, 10, 20)
VZZFS_FIRST, SIMFS_FIRST = 101, 201
LAYOUTS = ("vzzfs", "simfs")
MODES = ("serial", "parallel")
SAYS = {"serial": "one after another", "parallel": "at once"}


def ctids(layout, n):
    first = VZZFS_FIRST if layout == "vzzfs" else SIMFS_FIRST
    return list(range(first, first + n))


def why(output):
    """The line of a failed vzctl start that says why (vzzfs's own when it has one)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return next((line for line in lines if line.startswith("vzzfs:")),
                lines[-1] if lines else "no output")


def round_of(node, layout, mode, n):
    """Start N CTs (mode "serial": one after another, each waited for; "parallel": N
    vzctl processes launched together): (seconds, each serial start's seconds,
    {ctid: why it did not start}, {ctid: why its stop at once failed: the second one
    worked}). Every CT is stopped and unmounted after it (stops are not timed)."""
    cts = ctids(layout, n)
    each, failed = [], {}
    start = time.monotonic()
    if mode == "serial":
        for ctid in cts:
            t0 = time.monotonic()
            res = node.vzctl.run("start", ctid)
            each.append(time.monotonic() - t0)
            if res.rc:
                failed[ctid] = "exit %d: %s" % (res.rc, why(res.output))
    else:
        failed = {c: "exit %d: %s" % (rc, why(out))
                  for c, (rc, out) in benchlib.vzctl_all(node, "start", cts).items()}
    took = time.monotonic() - start
    for ctid in benchlib.not_running(node, cts):  # exit 0 is not enough: it must run
        failed.setdefault(ctid, "vzctl start exited 0, vzctl status: not running")
    stop_failed = {c: "exit %d: %s" % (rc, why(out))
                   for c, (rc, out) in benchlib.stop_all(node, cts).items()}
    return took, each, failed, stop_failed


def run():
    top = max(COUNTS)
    result = {"counts": list(COUNTS), "cts_per_layout": top, "failures": [],
              "stop_failures": []}
    with benchlib.Scratch() as node:
        for i in range(top):
            node.make_ct(VZZFS_FIRST + i)
            node.make_simfs_ct(SIMFS_FIRST + i)
        for layout in LAYOUTS:  # one start of each kind first: bytecode, caches
            benchlib.vzctl_ok(node, "start", ctids(layout, 1)[0])
            benchlib.stop_all(node, ctids(layout, 1))
        for n in COUNTS:
            for layout in LAYOUTS:
                for mode in MODES:
                    took, each, failed, stop_failed = round_of(node, layout, mode, n)
                    # a round where a CT failed to start gives no figure, only its failures
                    result.setdefault("%s_%s_s" % (layout, mode), []).append(
                        None if failed else took)
                    if mode == "serial" and n == top:
                        result[layout + "_each_start_s"] = each
                    for ctid, reason in sorted(failed.items()):
                        result["failures"].append({"layout": layout, "mode": mode, "n": n,
                                                   "ctid": ctid, "error": reason})
                    for ctid, reason in sorted(stop_failed.items()):
                        result["stop_failures"].append({"layout": layout, "mode": mode,
                                                        "n": n, "ctid": ctid, "error": reason})
                    print("%s, %d %s: %s" % (layout, n, SAYS[mode], "%.1f s" % took
                                            if not failed else "FAILED (%d of %d did not start)"
                                            % (len(failed), n)), flush=True)
    for mode in MODES:
        result["per_ct_overhead_%s_s" % mode] = [
            None if z is None or s is None else (z - s) / n
            for n, z, s in zip(COUNTS, result["vzzfs_%s_s" % mode], result["simfs_%s_s" % mode])]

    def fmt(value, n=1, digits=1):
        return "failed" if value is None else "%.*f" % (digits, value / n)
    rows = []
    for i, n in enumerate(COUNTS):
        row = [n]
        for mode in MODES:
            z, s = result["vzzfs_%s_s" % mode][i], result["simfs_%s_s" % mode][i]
            row += [fmt(z), fmt(s), fmt(z, n, 2), fmt(s, n, 2),
                    fmt(result["per_ct_overhead_%s_s" % mode][i], 1, 2)]
        rows.append(row)
    benchlib.table(("CTs", "serial vzzfs s", "simfs s", "vzzfs/CT", "simfs/CT", "hooks/CT",
                    "at once vzzfs s", "simfs s", "vzzfs/CT", "simfs/CT", "hooks/CT"), rows)
    for layout in LAYOUTS:
        print("%s: each start of the %d one after another (s): %s" % (
            layout, top, " ".join("%.1f" % t for t in result.get(layout + "_each_start_s", []))))
    for key, what in (("failures", "start FAILED"), ("stop_failures", "stop failed")):
        for f in result[key]:
            print("%s: %s CT %s, %d %s: %s" % (what, f["layout"], f["ctid"], f["n"],
                                               SAYS[f["mode"]], f["error"]))
    return result


if __name__ == "__main__":
    run()
