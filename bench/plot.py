#!/usr/bin/python3
"""Draws the PNG plots of bench/suite.py's results (on the host, with matplotlib).

Usage: bench/plot.py RESULTS_DIR   -> RESULTS_DIR/NAME.png for each NAME.json
"""
import json
import os
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MIB = 1048576.0


def bars(ax, labels, series, ylabel):
    """Grouped bars: series is [(legend, [value per label])]."""
    width = 0.8 / len(series)
    for i, (legend, values) in enumerate(series):
        ax.bar([x + i * width for x in range(len(labels))], values, width, label=legend)
    ax.set_xticks([x + width * (len(series) - 1) / 2 for x in range(len(labels))])
    ax.set_xticklabels(labels)
    ax.set_ylabel(ylabel)
    if len(series) > 1:
        ax.legend()


def mib_series(rows, *legend_keys):
    """bars() series in MiB: one (legend, [row[key] / MiB per row]) per (legend, key)."""
    return [(legend, [x[key] / MIB for x in rows]) for legend, key in legend_keys]


def median(values):
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2.0


def hook_overhead(r, fig):
    parts = (("Python\nstart", "python_start_s"), ("Python +\nhook imports", "hook_imports_s"),
             ("zfs get", "zfs_get_s"))
    ax = fig.add_subplot(121 if "zfs_get_s" in r else 111)
    labels = ["vzzfs CT\nhooks", "vzzfs CT\nseed's way"]
    values = [median(r["hooks_s"]), median(r["plain_s"])]
    if "foreign_s" in r:
        labels += ["other CT\nhooks", "other CT\nno hooks"]
        values += [median(r["foreign_s"]), median(r["nohooks_s"])]
    bars(ax, labels, [("median", values)], "seconds (emulated VM)")
    ax.set_title("vzctl mount+umount: %.1fx the seed's way" % r["ratio"], fontsize=10)
    if "zfs_get_s" in r:
        ax = fig.add_subplot(122)
        bars(ax, [label for label, _ in parts], [("median", [median(r[k]) for _, k in parts])],
             "seconds (emulated VM)")
        ax.set_title("What a hook is made of", fontsize=10)


def list_scale(r, fig):
    ax = fig.add_subplot(121)
    bars(ax, ["zfs list\n-t all -p", "vzzfs list"],
         [("median", [median(r["bare_s"]), median(r["vzzfs_s"])])], "seconds (emulated VM)")
    ax.set_title("%d CTs, %d snapshots: %.1fx" % (r["cts"], r["snapshots"], r["ratio"]),
                 fontsize=10)
    ax = fig.add_subplot(122)
    bars(ax, ["zfs list", "vzzfs list"],
         [("peak RSS", [r["bare_rss_bytes"] / MIB, r["vzzfs_rss_bytes"] / MIB])], "MiB")
    ax.set_title("Peak RSS", fontsize=10)


def _lines(ax, n, r, series, xlabel, ylabel, title):
    """One line per (key of r, style, legend) against the CT counts ``n``."""
    for key, style, legend in series:
        ax.plot(n, r[key], style, label=legend)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_xticks(n)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=10)


def boot_storm(r, fig):
    n = r["counts"]
    _lines(fig.add_subplot(121), n, r,
           (("vzzfs_serial_s", "o-", "vzzfs, one after another"),
            ("simfs_serial_s", "o--", "simfs, one after another"),
            ("vzzfs_parallel_s", "s-", "vzzfs, all at once"),
            ("simfs_parallel_s", "s--", "simfs, all at once")),
           "CTs started (vzctl start)", "seconds until all started (emulated VM)", "Boot storm")
    _lines(fig.add_subplot(122), n, r,
           (("per_ct_overhead_serial_s", "o-", "one after another"),
            ("per_ct_overhead_parallel_s", "s-", "all at once")),
           "CTs started", "(vzzfs - simfs) / CTs, seconds", "What the hooks add per CT")
    failed = {}  # a round where a CT did not start has no point: say so under the plot
    for f in r.get("failures", []):
        failed.setdefault((f["layout"], f["mode"], f["n"]), []).append(f["ctid"])
    if failed:
        fig.text(0.01, 0.01, "no point: " + "; ".join(
            "%s %s N=%d (%d did not start)" % (layout, "at once" if mode == "parallel"
                                               else "one after another", k, len(cts))
            for (layout, mode, k), cts in sorted(failed.items())), fontsize=7, color="red")
        fig.subplots_adjust(bottom=0.2)


def create_clone_vs_unpack(r, fig):
    ax = fig.add_subplot(111)
    rows = r["rows"]
    series = [("unpack tarball", [x["unpack_s"] for x in rows]),
              ("clone template", [x["clone_s"] for x in rows])]
    if rows and "bare_clone_s" in rows[0]:
        series.append(("bare zfs clone", [x["bare_clone_s"] for x in rows]))
    if rows and "first_mount_s" in rows[0]:
        series.append(("clone's 1st mount+umount", [x["first_mount_s"] for x in rows]))
    bars(ax, ["%s\n%s" % (x["template"], "%d MiB" % x["mib"] if x["mib"] else "debootstrap")
              for x in rows], series, "seconds")
    ax.set_title("vzzfs create: clone vs unpack")


def clone_floor(r, fig):
    ax = fig.add_subplot(111)
    s = {k: median(v) for k, v in r["s"].items()}
    lzc = s["lzc_clone, owner property"] + s["python3 -S loading libzfs_core"]
    labels = ["floor: bare\nzfs clone +\npython3 -S", "vzzfs create\nby clone",
              "least: lzc_clone\nwith owner +\nPython with lzc", "least +\nchannel\nprogram read",
              "least +\nzfs get"]
    bars(ax, labels, [("seconds, medians", [r["floor_s"], s["vzzfs create by clone"], lzc,
                                            lzc + s["channel program read"],
                                            lzc + s["create's zfs get"]])], "seconds")
    ax.axhline(1.3 * r["floor_s"], linestyle="--", color="red", label="goal: 1.3x the floor")
    ax.legend(fontsize=8)
    ax.set_title("create by clone against its floor")


def snapshot_window(r, fig):
    ax = fig.add_subplot(111)
    keys = (("CT suspended\n(window)", "window_s"), ("vzzfs snapshot\n(command)", "command_s"),
            ("bare\nzfs snapshot", "bare_s"))
    bars(ax, [k for k, _ in keys], [("median", [median(r[v]) for _, v in keys])], "seconds")
    ax.set_title("Snapshot of a running CT: window %.1fx a bare zfs snapshot" % r["ratio"])


def clone_space(r, fig):
    ax = fig.add_subplot(111)
    n = [p["clones"] for p in r["points"]]
    ax.plot(n, [p["allocated"] / MIB for p in r["points"]], "o-", label="clones (measured)")
    base = r["points"][0]["allocated"] / MIB
    ax.plot(n, [base * (k + 1) for k in n], "--", label="full copies (computed)")
    ax.set_xlabel("CTs cloned from one %d MiB template" % r["template_mib"])
    ax.set_ylabel("pool allocated, MiB")
    ax.legend()
    ax.set_title("Space used by clones")


def incremental_send(r, fig):
    ax = fig.add_subplot(111)
    rows = r["rows"]
    bars(ax, [x["round"] for x in rows],
         mib_series(rows, ("changed in the CT", "changed"), ("incremental stream", "stream")), "MiB")
    ax.set_title("Incremental backup size vs data changed")


def migrate_downtime(r, fig):
    ax = fig.add_subplot(111)
    labels = ["vzzfs migrate", "rsync -aHAX, cold"]
    down = [r["migrate"]["down"], r["rsync"]["down"]]
    ax.bar(labels, down, color=["tab:green", "tab:gray"])
    for i, v in enumerate(down):
        ax.text(i, v, "%.1f s" % v, ha="center", va="bottom")
    ax.set_ylabel("seconds the CT is down")
    ax.set_title("Downtime moving a %d GiB CT (%d MiB of data, a writer inside)"
                 % (r["ct_size"] >> 30, r["data_mib"]))


def convert_copy(r, fig):
    ax = fig.add_subplot(111)
    bars(ax, ["seed:\ncp -a", "vzzfs convert", "its rsync\ncopy", "its\nverification",
              "proof by\n--checksum"],
         [("seconds", [r["seed_s"], r["convert_s"], r["rsync_copy_s"], r["rsync_verify_s"],
                       r["checksum_verify_s"]])], "seconds (emulated VM)")
    ax.set_title("Convert %d MiB of /usr: %.1fx the seed's procedure"
                 % (r["files_bytes"] >> 20, r["ratio"]), fontsize=10)


def full_node(r, fig):
    blocks = r["blocks"]
    ax = fig.add_subplot(121)
    ax.bar(range(len(blocks)), [median(b["s"]) for b in blocks],
           color=["lightgrey" if b["base"] else "C0" for b in blocks])
    ax.set_xticks(range(len(blocks)))
    ax.set_xticklabels([b["load"].replace(" namespaces", "\nns").replace(" CT confs more",
                                                                         "\nconfs")
                        for b in blocks], fontsize=8)
    for x, b in enumerate(blocks):
        if "ratio" in b:
            ax.text(x, median(b["s"]), "%.2fx" % b["ratio"], ha="center", va="bottom",
                    fontsize=8)
    ax.set_ylabel("premount+postumount, s (emulated VM)")
    ax.set_title("One CT on a full node, in the order run\n(grey: 1 ns, the baseline; "
                 "goal 1.2x)", fontsize=9)
    ax = fig.add_subplot(122)
    loads = [(int(b["load"].split()[0]), b["scan_s"]) for b in blocks
             if b["load"].endswith("namespaces")]
    ax.plot([n for n, _ in loads], [s for _, s in loads], "o")
    ax.set_xlabel("other mount namespaces")
    ax.set_ylabel("seconds")
    ax.set_ylim(bottom=0)
    ax.set_title("Reading every namespace's mounts\n(what premount did before)", fontsize=9)


def stream_transfer(r, fig):
    ratios = r["ratios"]
    byte_keys = ("backup bytes", "full send bytes", "incremental send bytes")
    ax = fig.add_subplot(121)
    bars(ax, ["full\nbackup", "full\nsend", "incremental\nsend"],
         [("vzzfs / zfs send -c", [ratios[k] for k in byte_keys]),
          ("plain (-p) / zfs send -c",
           [r["plain_bytes"] / float(r["bare_file_bytes"]),
            r["plain_bytes"] / float(r["bare_send_bytes"]),
            r["plain_incr_bytes"] / float(r["bare_incr_bytes"])])], "bytes ratio")
    ax.axhline(1.05, color="grey", linestyle=":")
    ax.set_title("Bytes (goal: 1.05x)", fontsize=10)
    time_keys = ("backup time", "restore time", "send time", "incremental send time",
                 "Python relay time")
    ax = fig.add_subplot(122)
    bars(ax, ["backup", "restore", "send", "incr.\nsend", "old\nrelay"],
         [("vzzfs / bare zfs", [ratios[k] for k in time_keys])], "time ratio")
    ax.axhline(1.2, color="grey", linestyle=":")
    ax.set_title("Time, %d MiB of /usr (goal: 1.2x)" % (r["copied"] >> 20), fontsize=10)


def fio_volblocksize(r, fig):
    runs = [x for x in r["rows"] if "rw" in x]
    sizes = []
    for x in runs:
        if x["volblocksize"] not in sizes:
            sizes.append(x["volblocksize"])
    panels = (("randwrite", "iops", "4K random write, IOPS"), ("randread", "iops", "4K random read, IOPS"),
              ("write", "bw", "1M sequential write, MiB/s"), ("read", "bw", "1M sequential read, MiB/s"),
              ("randwrite", "amplification", "4K random write: pool bytes / CT bytes"),
              ("write", "amplification", "1M sequential write: pool bytes / CT bytes"))
    for i, (rw, key, title) in enumerate(panels, 1):
        ax = fig.add_subplot(3, 2, i)
        for comp in ("off", "lz4"):
            ys = []
            for vbs in sizes:
                hit = [x for x in runs if x["rw"] == rw and x["compression"] == comp
                       and x["volblocksize"] == vbs]
                v = hit[0].get(key) if hit else None
                ys.append(v / MIB if (v is not None and key == "bw") else v)
            ax.plot(sizes, ys, "o-", label="compression=" + comp)
        ax.set_title(title, fontsize=9)
        ax.set_ylim(bottom=0)
        ax.tick_params(labelsize=8)
        if i == 1:
            ax.legend(fontsize=8)
    fig.suptitle("ext4 on a zvol by volblocksize (fio, O_DIRECT, emulated VM)")


def double_caching(r, fig):
    ax = fig.add_subplot(121)
    rows = r["rows"]
    labels = ["primarycache=\n%s" % x["primarycache"] for x in rows]
    series = [("page cache growth, cold read", "cold_page_cache_growth"),
              ("ARC data growth, cold read", "cold_arc_data_growth"),
              ("disk read on re-read", "reread_disk_read")]
    if "smallwrite_disk_read" in rows[0]:
        series.append(("disk read by 16 MiB of 4K writes", "smallwrite_disk_read"))
    bars(ax, labels, mib_series(rows, *series), "MiB (file: %d MiB)" % r["file_mib"])
    ax.set_ylim(0, ax.get_ylim()[1] * 1.45)  # room for the legend above the bars
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title("What gets cached where", fontsize=10)
    if "smallwrite_iops" in rows[0]:
        ax = fig.add_subplot(122)
        bars(ax, labels, [("4K random writes", [x["smallwrite_iops"] for x in rows])], "IOPS")
        ax.set_title("Small writes (read-modify-write)", fontsize=10)


def arc_attribution(r, fig):
    ax = fig.add_subplot(111)
    rows = r["rows"]
    bars(ax, ["CT %s" % x["ct"] for x in rows],
         mib_series(rows, ("read by the CT", "read"), ("objset kstat nread", "nread"),
                    ("written by the CT", "written"), ("objset kstat nwritten", "nwritten")),
         "MiB")
    ax.set_title("Per-zvol counters vs what each CT did")


def io_limits(r, fig):
    for i, (io, key, unit) in enumerate((("4K O_DIRECT", "iops", "IOPS"),
                                         ("1M buffered", "bw", "MiB/s")), 1):
        ax = fig.add_subplot(1, 2, i)
        rows = [x for x in r["rows"] if x["io"] == io]
        bars(ax, [x["case"].replace(" on the ", "\non the ") for x in rows],
             [(unit, [x[key] / (MIB if key == "bw" else 1) for x in rows])], unit)
        ax.set_title("%s writes (limit %s)" % (io, "%d IOPS" % r["iops_limit"] if key == "iops"
                                              else "%d MiB/s" % (r["bps_limit"] >> 20)), fontsize=9)
        ax.tick_params(labelsize=7)


def dedup_density(r, fig):
    ax = fig.add_subplot(121)
    for mode, style in (("off", "o--"), ("on", "o-")):
        ax.plot([p["cts"] for p in r[mode]], [p["allocated"] / MIB for p in r[mode]], style,
                label="dedup=%s" % mode)
    ax.set_xlabel("CTs unpacked from one %d MiB tarball" % r["template_mib"])
    ax.set_ylabel("pool allocated, MiB")
    ax.legend()
    ax.set_title("Space", fontsize=10)
    ax = fig.add_subplot(122)
    on = r["on"]
    ax.plot([p["cts"] for p in on], [p["ddt_entries"] * p["ddt_in_core_per_entry"] / MIB
                                     for p in on], "o-")
    ax.set_xlabel("CTs (dedup=on)")
    ax.set_ylabel("dedup table in core, MiB")
    ax.set_title("RAM the dedup table wants", fontsize=10)


def main(argv):
    if len(argv) != 1:
        sys.exit("usage: bench/plot.py RESULTS_DIR")
    outdir = argv[0]
    for name in sorted(os.listdir(outdir)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(outdir, name)) as f:
            record = json.load(f)
        draw = globals().get(record["name"])
        if "result" not in record or draw is None:
            print("plot: %s: no result (%s)" % (record["name"], record.get("error", "no plot")))
            continue
        fig = plt.figure(figsize=(9, 8) if record["name"] == "fio_volblocksize" else (7, 4.5))
        draw(record["result"], fig)
        fig.tight_layout()
        png = os.path.join(outdir, record["name"] + ".png")
        fig.savefig(png, dpi=90)
        plt.close(fig)
        print("plot: " + png)


if __name__ == "__main__":
    main(sys.argv[1:])
