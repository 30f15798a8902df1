"""The ``vzzfs`` admin command: argument parsing, output and exit codes.

Each verb is a thin wrapper over actions/hookwire; errors become the one-line
``vzzfs: ...`` message and the error's exit code (see errors.py).
"""

import argparse
import json
import os
import sys

from . import __version__, actions, hookwire, lock, log, zfs
from .config import Node
from .ct import Container, check_ctid
from .errors import EXIT_ERROR, UsageError, VzzfsError


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message, "see '%s --help'" % self.prog)


def _node(args):
    return Node(args.etc_dir)


def _container(args, ctid):
    return Container(resolve_name(_node(args), ctid), _node(args))


def resolve_name(node, ctid):
    """A vzctl name (/etc/vz/names/NAME -> conf/CTID.conf) to its CTID; a CTID as is."""
    ctid = check_ctid(ctid)
    link = os.path.join(node.names_dir, ctid)
    if not ctid.isdigit() and os.path.islink(link):
        target = os.path.basename(os.readlink(link))
        if target.endswith(".conf"):
            return check_ctid(target[:-len(".conf")])
    return ctid


def cmd_attach(args):
    ct = _container(args, args.ctid)
    ct.require_conf()
    with lock.ct_lock(ct, "vzzfs attach"):
        if not actions.is_vzzfs(ct):
            raise UsageError("is not a vzzfs container (no zvol %s, no VZZFS_DATASET)"
                             % ct.dataset, "check the CTID", ctid=ct.ctid)
        mounted = actions.attach(ct)
    print("CT %s: %s %s on %s" % (ct.ctid, ct.dataset,
                                  "mounted" if mounted else "was already mounted", ct.ve_private))


def cmd_detach(args):
    ct = _container(args, args.ctid)
    with lock.ct_lock(ct, "vzzfs detach"):
        done = actions.detach(ct)
    print("CT %s: %s" % (ct.ctid, "unmounted %s" % ct.ve_private if done
                         else "%s was not mounted" % ct.ve_private))


LIST_FIELDS = ("ctid", "dataset", "volsize", "used", "mounted")


def list_rows(node):
    settings = node.settings()
    rows = []
    base = settings.root + "/ct/"
    for row in zfs.list_datasets(settings.root, ["name", "volsize", "used"]):
        if not row["name"].startswith(base) or "/" in row["name"][len(base):]:
            continue
        ctid = row["name"][len(base):]
        try:
            ct = Container(ctid, node)
            mounted = ct.private_mount() is not None
        except VzzfsError:
            mounted = None
        rows.append({"ctid": ctid, "dataset": row["name"], "volsize": int(row["volsize"]),
                     "used": int(row["used"]), "mounted": mounted})
    return rows


def _human(n):
    for unit in ("B", "K", "M", "G", "T"):
        if n < 1024 or unit == "T":
            return ("%d%s" if unit == "B" else "%.1f%s") % (n, unit)
        n /= 1024.0


def cmd_list(args):
    node = _node(args)
    zfs.require_pool(node.settings().pool)
    _warn_about_pool(node)
    rows = list_rows(node)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    fmt = "%-10s %-32s %8s %8s %s"
    print(fmt % ("CTID", "DATASET", "VOLSIZE", "USED", "MOUNTED"))
    for r in rows:
        print(fmt % (r["ctid"], r["dataset"], _human(r["volsize"]), _human(r["used"]),
                     {True: "yes", False: "no", None: "?"}[r["mounted"]]))


def cmd_install_hooks(args):
    for line in hookwire.install(args.confdir, args.hookdir) or ["hooks already installed"]:
        print(line)
    _warn_about_pool(_node(args))


def _warn_about_pool(node):
    """Point out a pool mounted over /vz; silent when the pool cannot be asked."""
    private = node.global_params().get("VE_PRIVATE", "/vz/private/$VEID")
    top = private.split("$", 1)[0].rstrip("/") or "/"
    try:
        warning = actions.pool_shadow_warning(node.settings().pool, top)
    except VzzfsError:
        return
    if warning:
        log.warn(warning)


def cmd_uninstall_hooks(args):
    for line in hookwire.uninstall(args.confdir) or ["no vzzfs hooks installed"]:
        print(line)


def build_parser():
    p = _Parser(prog="vzzfs", description="OpenVZ containers on ZFS zvols (ext4 inside).")
    p.add_argument("--version", action="version", version="vzzfs " + __version__)
    p.add_argument("--etc-dir", default=os.environ.get("VZZFS_ETC_DIR", "/etc/vz"),
                   help="OpenVZ configuration directory (default /etc/vz)")
    sub = p.add_subparsers(dest="verb", metavar="VERB")
    sub.required = True

    s = sub.add_parser("list", help="list containers on zvols")
    s.add_argument("-j", "--json", action="store_true", help="JSON output")
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("attach", help="mount a stopped CT's zvol on VE_PRIVATE")
    s.add_argument("ctid")
    s.set_defaults(func=cmd_attach)

    s = sub.add_parser("detach", help="unmount a CT's zvol from VE_PRIVATE")
    s.add_argument("ctid")
    s.set_defaults(func=cmd_detach)

    for verb, func, what in (("install-hooks", cmd_install_hooks, "wire"),
                             ("uninstall-hooks", cmd_uninstall_hooks, "unwire")):
        s = sub.add_parser(verb, help="%s /etc/vz/conf/vps.{premount,mount,umount,postumount}"
                           % what)
        s.add_argument("--confdir", default=None, help="default: ETC_DIR/conf")
        if verb == "install-hooks":
            s.add_argument("--hookdir", default=hookwire.DEFAULT_HOOK_DIR,
                           help="where the hook executables are (default %(default)s)")
        s.set_defaults(func=func)
    return p


def main(argv=None):
    try:
        args = build_parser().parse_args(argv)
        if getattr(args, "confdir", "unset") is None:
            args.confdir = Node(args.etc_dir).conf_dir
        args.func(args)
        return 0
    except VzzfsError as e:
        log.error(e.line())
        return e.exit_code
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130
    except Exception as e:
        log.error("unexpected %s: %s (report this as a vzzfs bug)" % (type(e).__name__, e))
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
