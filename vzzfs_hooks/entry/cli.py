"""The ``vzzfs`` admin command: argument parsing, output and exit codes.

Each verb is a thin wrapper over actions/hookwire; errors become the one-line
``vzzfs: ...`` message and the error's exit code (see errors.py). A verb imports
the domain module it needs when it runs: every command pays for the imports at
the top (vzzfs create by clone is a second or so in all).
"""

import argparse
import os
import sys

from ..base import log, names
from ..base.errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, StateError, UsageError, VzzfsError
from ..conf.config import Node, parse_diskinodes, parse_diskspace, parse_size
from ..container.ct import Container, lookup, owned, resolve_name
from .. import __version__


def _columns():
    """The terminal's width as shutil.get_terminal_size finds it, without importing
    shutil (with bz2 and lzma behind it) into every command."""
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


class _Formatter(argparse.HelpFormatter):
    """argparse's help formatter; argparse makes one for each argument it adds."""

    def __init__(self, prog, indent_increment=2, max_help_position=24, width=None):
        super(_Formatter, self).__init__(prog, indent_increment, max_help_position,
                                         _columns() - 2 if width is None else width)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kw):
        kw.setdefault("formatter_class", _Formatter)
        super(_Parser, self).__init__(*args, **kw)

    def error(self, message):
        raise UsageError(message, "see '%s --help'" % self.prog)


def _node(args):
    return Node(args.etc_dir)


def cmd_attach(args):
    from ..verbs import attach
    ct = lookup(_node(args), args.ctid)
    mounted = attach.attach_locked(ct)
    print("CT %s: %s %s on %s" % (ct.ctid, ct.dataset,
                                  "mounted" if mounted else "was already mounted", ct.mountpoint))


def cmd_detach(args):
    from ..verbs import attach
    ct = lookup(_node(args), args.ctid)
    done = attach.detach_locked(ct)
    print("CT %s: %s" % (ct.ctid, "unmounted %s" % ct.mountpoint if done
                         else "%s was not mounted" % ct.mountpoint))


def cmd_relayout(args):
    from ..verbs import relayout
    ct = lookup(_node(args), args.ctid)
    for line in relayout.relayout(ct):
        print("CT %s: %s" % (ct.ctid, line))


def _human(n):
    for unit in ("B", "K", "M", "G", "T"):
        if n < 1024 or unit == "T":
            return ("%d%s" if unit == "B" else "%.1f%s") % (n, unit)
        n /= 1024.0


def cmd_list(args):
    from ..verbs import listing
    node = _node(args)
    fields = listing.check_fields(args.output)
    only = [resolve_name(node, c) for c in args.ctids] or None
    _warn_about_pool(node)
    rows = listing.rows(node, only)
    if args.json:
        import json  # here: most commands print no JSON
        print(json.dumps([{f: r[f] for f in fields} for r in rows], indent=2))
        return
    table = [[f.upper() for f in fields]]
    for r in rows:
        table.append([_cell(f, r[f]) for f in fields])
    widths = [max(len(line[i]) for line in table) for i in range(len(fields))]
    for line in table:
        print(" ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip())


def _cell(field, value):
    from ..verbs import listing
    if field in ("volsize", "used", "referenced", "moved", "read", "written"):
        return "-" if value is None else _human(value)
    if field in ("autosnap", "replicated"):
        return listing.autosnap_age(value)
    if field in ("iolimit", "iopslimit"):
        return listing.limit_cell(field, value)
    if field == "mounted":
        return {True: "yes", False: "no", None: "?"}[value]
    return str(value)


def cmd_create(args):
    from ..verbs import lifecycle
    node = _node(args)
    overrides = {"VZZFS_VOLBLOCKSIZE": args.volblocksize, "VZZFS_COMPRESSION": args.compression,
                 "VZZFS_DEDUP": args.dedup, "VZZFS_SPARSE": args.sparse}
    diskspace = _size_arg(args.diskspace, "--diskspace") if args.diskspace else None
    diskinodes = (_size_arg(args.diskinodes, "--diskinodes", parse_diskinodes)
                  if args.diskinodes else None)
    ct, by_clone = lifecycle.create(node, args.ctid, args.ostemplate, diskspace, args.config,
                                    args.hostname, args.ipadd or (), diskinodes, overrides)
    print("CT %s: created on %s (%s %s); start it with: vzctl start %s"
          % (ct.ctid, ct.dataset, "cloned from template" if by_clone else "unpacked",
             args.ostemplate, ct.ctid))


def cmd_clone(args):
    from ..verbs import lifecycle
    ct = lifecycle.clone(_node(args), resolve_name(_node(args), args.src), args.dst,
                         args.snapshot, args.hostname, args.ipadd or ())
    print("CT %s: cloned from CT %s on %s; start it with: vzctl start %s"
          % (ct.ctid, args.src, ct.dataset, ct.ctid))


def cmd_destroy(args):
    from ..verbs import lifecycle
    ctid = resolve_name(_node(args), args.ctid)
    lifecycle.destroy(_node(args), ctid, promote=args.promote)
    print("CT %s: destroyed" % ctid)


def cmd_convert(args):
    from ..verbs import convert
    ct = lookup(_node(args), args.ctid)
    diskspace = _size_arg(args.diskspace, "--diskspace") if args.diskspace else None
    what = convert.convert(ct, diskspace, args.purge)
    print("CT %s: %s (zvol %s)" % (ct.ctid, what, ct.dataset))


def cmd_template_import(args):
    from ..verbs import template
    size = parse_size(args.size, "--size") if args.size else None
    inodes = (_size_arg(args.diskinodes, "--diskinodes", parse_diskinodes)
              if args.diskinodes else None)
    ds, geo = template.import_template(_node(args), args.name, size, inodes and inodes[1])
    print("template %s: imported as %s@%s; %d inodes, its clones get %d inodes per GiB"
          % (args.name, ds, names.GOLDEN, geo.inode_count, template.inodes_per_gib(geo)))


def cmd_template_list(args):
    from ..verbs import template
    rows = template.list_templates(_node(args))
    if args.json:
        import json  # here: most commands print no JSON
        print(json.dumps(rows, indent=2))
        return
    fmt = "%-32s %8s %8s %-8s %s"
    print(fmt % ("TEMPLATE", "VOLSIZE", "USED", "READY", "CLONES"))
    for r in rows:
        print(fmt % (r["name"], _human(r["volsize"]), _human(r["used"]),
                     "yes" if r["imported"] else "no", r["clones"]))


def cmd_template_remove(args):
    from ..verbs import template
    template.remove_template(_node(args), args.name)
    print("template %s: removed" % args.name)


def cmd_resize(args):
    from ..verbs import resize
    ct = owned(_node(args), args.ctid)
    size = _size_arg(args.size, "SIZE")
    what = resize.resize(ct, size)
    print("CT %s: zvol %s %s, DISKSPACE saved" % (ct.ctid, ct.dataset, what))


def cmd_reconcile(args):
    from ..verbs import reconcile
    node = _node(args)
    only = []
    for name in args.ctids:
        ct = Container(resolve_name(node, name), node)
        ct.require_conf()
        only.append(ct.ctid)
    done, failed = reconcile.run(node, only)
    for ctid, decision in done:
        if decision.action == reconcile.GROW:
            print("CT %s: zvol and ext4 grown online to %d MiB, as DISKSPACE asks"
                  % (ctid, decision.size >> 20))
    for error in failed[:-1]:
        log.error(error.line())
    if failed:
        raise failed[-1]


def cmd_set_limits(args):
    from ..verbs import ctlimits
    ct = owned(_node(args), args.ctid)
    for line in ctlimits.set_limits(ct, args.iolimit, args.iopslimit):
        print(line)


def cmd_trim(args):
    from ..verbs import resize
    node = _node(args)
    if args.all == bool(args.ctids):
        raise UsageError("name CTs or use --all, not both or neither", "see vzzfs trim --help")
    ctids = None if args.all else [resolve_name(node, c) for c in args.ctids]
    for ctid, trimmed in resize.trim_all(node, ctids):
        print("CT %s: %s" % (ctid, "not mounted, nothing to trim" if trimmed is None
                             else "%s given back to the pool" % _human(trimmed)))


def _size_arg(text, what, parse=parse_diskspace):
    """A size from the command line (vzctl's syntax); bad input is a usage error."""
    try:
        return parse(text, what)
    except VzzfsError as e:
        raise UsageError(e.problem, e.fix)


def cmd_install_hooks(args):
    from ..verbs import hookwire
    for line in hookwire.install(args.confdir, args.hookdir) or ["hooks already installed"]:
        print(line)
    from ..verbs import lifecycle
    node = _node(args)
    _warn_about_pool(node)
    warning = lifecycle.auto_create_warning(node)
    if warning:
        log.warn(warning)


def _warn_about_pool(node):
    """Point out a pool mounted over /vz; silent when the pool cannot be asked."""
    from ..verbs import attach
    top = node.private_top()
    try:
        warning = attach.pool_shadow_warning(node.settings().pool, top)
    except VzzfsError:
        return
    if warning:
        log.warn(warning)


def cmd_metrics(args):
    from ..jobs import monitor
    node = _node(args)
    if args.textfile:
        monitor.write_textfile(node, os.path.abspath(args.textfile))
    else:
        sys.stdout.write(monitor.text(node))


def cmd_check(args):
    from ..jobs import check
    node = _node(args)
    if args.nagios:
        from ..jobs import monitor as gather
        from ..rules import monitor
        code, line = gather.nagios(
            node, node.private_top(),
            monitor.parse_thresholds(args.snapshot_age, "--snapshot-age"),
            monitor.parse_thresholds(args.replication_lag, "--replication-lag"))
        print(line)
        return code
    found = check.run(node, node.private_top())
    for level, message in found:
        print("%-4s %s" % (level.upper() if level != "ok" else "ok", message))
    bad = [f for f in found if f[0] != "ok"]
    if bad:
        raise StateError("check found %d problem(s)" % len(bad), "see the lines above")


def cmd_uninstall_hooks(args):
    from ..verbs import hookwire
    node = _node(args)
    lines = hookwire.uninstall(args.confdir, node.private_top(), args.force)
    for line in lines or ["no vzzfs hooks installed"]:
        print(line)


class _Unused(object):
    """A verb's parser that is not built: it takes every call and keeps nothing."""

    def __getattr__(self, name):
        return lambda *args, **kw: self


class _OneVerb(object):
    """The subparsers, building only ``verb``'s parser (the others stay _Unused).

    argparse builds a parser per verb with its help formatter and translations:
    under emulation that was a third of a second of every command. The full set
    is built when no verb, an unknown one or --help is given."""

    def __init__(self, sub, verb):
        self.sub, self.verb, self.found = sub, verb, False

    def add_parser(self, name, **kw):
        if name != self.verb:
            return _Unused()
        self.found = True
        return self.sub.add_parser(name, **kw)


def _verb_of(argv):
    """The verb on the command line, or None when the whole parser is wanted."""
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--etc-dir":
            args = args[1:]
        elif arg in ("-h", "--help", "--version"):
            return None
        elif not arg.startswith("-"):
            return None if "-h" in args or "--help" in args else arg
    return None


def build_parser(argv=None):
    """The parser for ``argv``: only its verb's subparser when it names a known one."""
    verb = _verb_of(argv or [])
    if verb is not None:
        p = _build(verb)
        if p is not None:
            return p
    return _build(None)


def _list_fields(wanted):
    """The fields list's -o takes, for its help: read only when its parser is built."""
    if wanted not in (None, "list"):
        return ""
    from ..verbs import listing
    return ",".join(listing.FIELDS)


def _default_hook_dir():
    from ..verbs import hookwire
    return hookwire.DEFAULT_HOOK_DIR


def _build(wanted):
    p = _Parser(prog="vzzfs", description="OpenVZ containers on ZFS zvols (ext4 inside).")
    p.add_argument("--version", action="version", version="vzzfs " + __version__)
    p.add_argument("--etc-dir", default=os.environ.get("VZZFS_ETC_DIR", "/etc/vz"),
                   help="OpenVZ configuration directory (default /etc/vz)")
    sub = p.add_subparsers(dest="verb", metavar="VERB")
    sub.required = True
    if wanted is not None:
        sub = _OneVerb(sub, wanted)

    s = sub.add_parser("list", help="list containers on zvols, and orphans")
    s.add_argument("ctids", nargs="*", metavar="CTID")
    s.add_argument("-o", "--output", metavar="FIELDS",
                   help="comma-separated, from: %s" % _list_fields(wanted))
    s.add_argument("-j", "--json", action="store_true", help="JSON output")
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("check", help="the node's health: pool, hooks, orphans, settings")
    s.add_argument("--nagios", action="store_true",
                   help="one line and exit code of a Nagios/Icinga plugin (0 OK, 1 WARNING, "
                        "2 CRITICAL, 3 UNKNOWN), with perfdata")
    s.add_argument("--snapshot-age", metavar="WARN:CRIT", default="2h:6h",
                   help="with --nagios: age of a CT's newest scheduled snapshot (default "
                        "2h:6h; CTs with a VZZFS_SNAPSHOT_KEEP policy)")
    s.add_argument("--replication-lag", metavar="WARN:CRIT", default="3h:12h",
                   help="with --nagios: age of the newest snapshot the peer has (default "
                        "3h:12h; CTs that replicate)")
    s.set_defaults(func=cmd_check)

    s = sub.add_parser("metrics", help="per-CT figures for node_exporter's textfile "
                                       "collector (Prometheus text)")
    s.add_argument("--textfile", metavar="PATH",
                   help="write them to PATH atomically instead of printing them")
    s.set_defaults(func=cmd_metrics)

    s = sub.add_parser("attach", help="mount a stopped CT's zvol on VE_PRIVATE")
    s.add_argument("ctid")
    s.set_defaults(func=cmd_attach)

    s = sub.add_parser("detach", help="unmount a CT's zvol from VE_PRIVATE")
    s.add_argument("ctid")
    s.set_defaults(func=cmd_detach)

    s = sub.add_parser("relayout", help="lay a stopped CT out for this node's vzctl "
                       "(vzctl 4.x or OpenVZ 7), by renames on its zvol")
    s.add_argument("ctid")
    s.set_defaults(func=cmd_relayout)

    s = sub.add_parser("create", help="create a CT on a new zvol from an OS template")
    s.add_argument("ctid")
    s.add_argument("--ostemplate", required=True, help="template name, e.g. debian-12.0-x86_64")
    s.add_argument("--diskspace", help="zvol size, e.g. 10G (default: the sample's DISKSPACE)")
    s.add_argument("--diskinodes", help="barrier[:limit] inodes (default: the sample's "
                   "DISKINODES); clones when the template's ext4 has enough, else mkfs -N")
    s.add_argument("--config", help="use /etc/vz/conf/ve-CONFIG.conf-sample")
    s.add_argument("--hostname")
    s.add_argument("--ipadd", action="append", metavar="IP")
    s.add_argument("--volblocksize", help="default VZZFS_VOLBLOCKSIZE")
    s.add_argument("--compression", help="default VZZFS_COMPRESSION")
    s.add_argument("--dedup", help="default VZZFS_DEDUP")
    s.add_argument("--sparse", metavar="yes|no", help="default VZZFS_SPARSE")
    s.set_defaults(func=cmd_create)

    s = sub.add_parser("clone", help="a new CT as a ZFS clone of another CT")
    s.add_argument("src")
    s.add_argument("dst")
    s.add_argument("--snapshot", help="clone this snapshot of SRC (default: take one now)")
    s.add_argument("--hostname")
    s.add_argument("--ipadd", action="append", metavar="IP")
    s.set_defaults(func=cmd_clone)

    s = sub.add_parser("convert", help="move a stopped simfs CT onto a new zvol")
    s.add_argument("ctid")
    s.add_argument("--diskspace", help="zvol size (default: DISKSPACE, or the used space "
                                       "and half again)")
    s.add_argument("--purge", action="store_true",
                   help="remove the old private area (VE_PRIVATE.vzzfs-old) when done")
    s.set_defaults(func=cmd_convert)

    s = sub.add_parser("destroy", help="remove a stopped CT, its zvol and snapshots")
    s.add_argument("ctid")
    s.add_argument("--promote", action="store_true",
                   help="make clones of its snapshots independent instead of refusing")
    s.set_defaults(func=cmd_destroy)

    s = sub.add_parser("resize", help="grow a CT's zvol and ext4 (online), or shrink it (stopped)")
    s.add_argument("ctid")
    s.add_argument("size", metavar="SIZE", help="new size: 20G, 20971520 (KiB) or soft:hard")
    s.set_defaults(func=cmd_resize)

    s = sub.add_parser("reconcile", help="grow running CTs' zvols and ext4 online to their "
                       "DISKSPACE (never shrinks); vzzfs-reconcile.path runs it")
    s.add_argument("ctids", nargs="*", metavar="CTID", help="default: every vzzfs CT")
    s.set_defaults(func=cmd_reconcile)

    s = sub.add_parser("set-limits", help="set a CT's I/O limits on its zvol (at once if it "
                       "runs), taking over vzctl's IOLIMIT/IOPSLIMIT")
    s.add_argument("ctid")
    s.add_argument("--iolimit", metavar="N", help="bytes/s: 10M, 512K, unlimited; a bare "
                   "number is MiB/s, as with vzctl set --iolimit (default: as saved)")
    s.add_argument("--iopslimit", metavar="N", help="I/O operations/s, 0 for none "
                   "(default: as saved)")
    s.set_defaults(func=cmd_set_limits)

    s = sub.add_parser("trim", help="give space freed inside mounted CTs back to the pool")
    s.add_argument("ctids", nargs="*", metavar="CTID")
    s.add_argument("--all", action="store_true", help="every mounted vzzfs CT")
    s.set_defaults(func=cmd_trim)

    if not getattr(sub, "found", False):  # create's parser is built: these are not needed
        from . import cli_backup, cli_snapshot
        cli_snapshot.add_parsers(sub)
        cli_backup.add_parsers(sub)

    t = sub.add_parser("template", help="OS templates kept on ZFS")
    tsub = t.add_subparsers(dest="tverb", metavar="ACTION")
    tsub.required = True
    s = tsub.add_parser("import", help="unpack a cached tarball into a template zvol once")
    s.add_argument("name")
    s.add_argument("--size", help="template zvol size (default: fitted to what it holds)")
    s.add_argument("--diskinodes", help="inode count of its ext4 (mkfs -N); clones keep its "
                   "inodes per GiB (default: ext4's, 65536 per GiB)")
    s.set_defaults(func=cmd_template_import)
    s = tsub.add_parser("list", help="list imported templates")
    s.add_argument("-j", "--json", action="store_true")
    s.set_defaults(func=cmd_template_list)
    s = tsub.add_parser("remove", help="remove a template no CT depends on")
    s.add_argument("name")
    s.set_defaults(func=cmd_template_remove)

    for verb, func, what in (("install-hooks", cmd_install_hooks, "wire"),
                             ("uninstall-hooks", cmd_uninstall_hooks, "unwire")):
        s = sub.add_parser(verb, help="%s /etc/vz/conf/vps.{premount,mount,umount,postumount}"
                           % what)
        s.add_argument("--confdir", default=None, help="default: ETC_DIR/conf")
        if verb == "uninstall-hooks":
            s.add_argument("--force", action="store_true",
                           help="even while containers are attached to their zvols")
        if verb == "install-hooks" and wanted in (None, verb):  # its help reads hookwire
            s.add_argument("--hookdir", help="where the hook executables are (default: the "
                           "checkout's hooks/ when run from one, else %s)"
                           % _default_hook_dir())
        s.set_defaults(func=func)
    if wanted is not None and not sub.found:
        return None
    return p


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser(argv).parse_args(argv)
        if getattr(args, "confdir", "unset") is None:
            args.confdir = Node(args.etc_dir).conf_dir
        code = args.func(args)  # None, or a verb's own exit code (check --nagios)
        return EXIT_OK if code is None else code
    except VzzfsError as e:
        log.error(e.line())
        return e.exit_code
    except KeyboardInterrupt as e:  # Ctrl-C, or signals.Terminated (SIGTERM, SIGHUP)
        log.error(str(e) or "interrupted")
        return EXIT_INTERRUPTED
    except Exception as e:
        log.error("unexpected %s: %s (report this as a vzzfs bug)" % (type(e).__name__, e))
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
