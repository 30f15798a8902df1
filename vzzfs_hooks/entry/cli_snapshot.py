"""The snapshot verbs of the vzzfs command (snapshot, snapshot-list/-delete/-switch/-mount/-umount,
autosnap).

Named as vzctl's ploop snapshot verbs are; the snapshots module's verbs take the CT's lock.
"""

import time

from ..conf.config import Node
from ..container.ct import owned, resolve_name
from . import jobrun


def _ct(args):
    return owned(Node(args.etc_dir), args.ctid)


def cmd_snapshot(args):
    from ..verbs import snapshots
    ct = _ct(args)
    done = snapshots.take(ct, args.name, suspend=not args.skip_suspend, dump=args.dump)
    how = {"stopped": "the CT is stopped",
           "frozen": "ext4 frozen for %.3f s" % done["window"],
           "suspended": "CT suspended for %.3f s" % done["window"]}[done["state"]]
    extra = ", memory dump %s" % done["dumpfile"] if done.get("dumpfile") else ""
    print("CT %s: snapshot %s taken (%s%s; its lock held for %.2f s)"
          % (ct.ctid, done["snapshot"], how, extra, done["locked"] or 0))


def cmd_snapshot_list(args):
    from ..verbs import snapshots
    ct = _ct(args)
    rows = snapshots.rows(ct)
    if args.json:
        import json  # here: most commands print no JSON
        print(json.dumps(rows, indent=2))
        return
    fmt = "%-32s %-19s %-9s %-9s %-5s %s"
    print(fmt % ("NAME", "CREATED", "KIND", "STATE", "DUMP", "CLONES"))
    for r in rows:
        print((fmt % (r["name"], time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["created"])),
                      r["kind"] or "-", r["state"] or "-", "yes" if r["dump"] else "no",
                      ",".join(r["clones"]) or "-")).rstrip())


def cmd_snapshot_delete(args):
    from ..verbs import snapshots
    ct = _ct(args)
    snapshots.delete(ct, args.name)
    print("CT %s: snapshot %s deleted" % (ct.ctid, args.name))


def cmd_snapshot_switch(args):
    from ..verbs import snapshots
    ct = _ct(args)
    state = snapshots.switch(ct, args.name, destroy_newer=args.destroy_newer,
                             skip_config=args.skip_config, skip_resume=args.skip_resume)
    print("CT %s: switched to snapshot %s, %s" % (ct.ctid, args.name, state))


def cmd_snapshot_mount(args):
    from ..verbs import snapshots
    ct = _ct(args)
    where = snapshots.mount(ct, args.name, args.target)
    print("CT %s: snapshot %s mounted read-only at %s" % (ct.ctid, args.name, where))


def cmd_snapshot_umount(args):
    from ..verbs import snapshots
    ct = _ct(args)
    where = snapshots.umount(ct, args.name)
    print("CT %s: snapshot %s unmounted from %s" % (ct.ctid, args.name, where))


def cmd_autosnap(args):
    from ..jobs import autosnap
    node = Node(args.etc_dir)
    only = [resolve_name(node, c) for c in args.ctids] or None

    def line(ctid, result):
        if result is None:  # named only when asked for
            return "CT %s: no VZZFS_SNAPSHOT_KEEP policy, nothing to do" % ctid if only else None
        return "CT %s: %s; %s" % (
            ctid, "took %s" % result["taken"] if result["taken"] else "none due",
            "pruned %s" % ", ".join(result["pruned"]) if result["pruned"]
            else "nothing to prune")
    jobrun.run(node, "autosnap", autosnap.run_all, only, line)


def add_parsers(sub):
    s = sub.add_parser("snapshot", help="snapshot a CT's zvol (a running CT is suspended "
                                        "and its ext4 frozen for that instant)")
    s.add_argument("ctid")
    s.add_argument("--name", help="snapshot name (default vzzfs-DATE-TIME)")
    s.add_argument("--skip-suspend", action="store_true",
                   help="only freeze the ext4; the CT's processes keep running")
    s.add_argument("--dump", action="store_true",
                   help="also save the CT's memory, so snapshot-switch resumes it live")
    s.set_defaults(func=cmd_snapshot)

    s = sub.add_parser("autosnap", help="scheduled snapshots: take one where due and prune "
                                        "by VZZFS_SNAPSHOT_KEEP (the systemd timer runs it)")
    s.add_argument("ctids", nargs="*", metavar="CTID", help="default: every vzzfs CT")
    s.set_defaults(func=cmd_autosnap)

    s = sub.add_parser("snapshot-list", help="list a CT's snapshots, oldest first")
    s.add_argument("ctid")
    s.add_argument("-j", "--json", action="store_true", help="JSON output")
    s.set_defaults(func=cmd_snapshot_list)

    s = sub.add_parser("snapshot-delete", help="destroy a snapshot and its dump")
    s.add_argument("ctid")
    s.add_argument("name")
    s.set_defaults(func=cmd_snapshot_delete)

    s = sub.add_parser("snapshot-switch", help="roll a CT back to a snapshot")
    s.add_argument("ctid")
    s.add_argument("name")
    s.add_argument("--destroy-newer", action="store_true",
                   help="allow destroying the snapshots taken after NAME")
    s.add_argument("--skip-config", action="store_true",
                   help="keep the CT's current conf instead of the snapshot's")
    s.add_argument("--skip-resume", action="store_true",
                   help="leave the CT stopped afterwards")
    s.set_defaults(func=cmd_snapshot_switch)

    s = sub.add_parser("snapshot-mount", help="mount a snapshot read-only at DIR")
    s.add_argument("ctid")
    s.add_argument("name")
    s.add_argument("target", metavar="DIR")
    s.set_defaults(func=cmd_snapshot_mount)

    s = sub.add_parser("snapshot-umount", help="unmount a mounted snapshot")
    s.add_argument("ctid")
    s.add_argument("name")
    s.set_defaults(func=cmd_snapshot_umount)
