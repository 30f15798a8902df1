"""Wiring the hooks into vzctl: /etc/vz/conf/vps.{premount,mount,postumount,create}.

Each becomes a short Python shim that runs vzzfs's hook in its own process (the
mount check a shell one, which starts Python only when needed). An admin's own
script found there is never overwritten: it is kept as vps.<action>.vzzfs-chained
and the hook runs it. Uninstalling puts it back. Both are idempotent, and each
file is replaced atomically (write a temp file, then rename). vps.umount is left
to the admin: a shim older vzzfs wired there is removed (names.HOOK_RETIRED).
"""

import os
import shlex

from ..base.errors import ConfigError, StateError
from ..base.fileio import read_text, write_atomic
from ..base.names import HOOK_CHAIN_SUFFIX as CHAIN_SUFFIX
from ..conf.config import check_abs_path
from ..base.names import HOOK_ACTIONS as ACTIONS, HOOK_RETIRED as RETIRED

MARKER = "# vzzfs-managed-hook"
DEFAULT_HOOK_DIR = "/usr/libexec/vzzfs"  # where the RPM puts them


def default_hook_dir():
    """The checkout's hooks/ when this package runs from a source tree, else DEFAULT_HOOK_DIR.

    In a checkout (bin/vzzfs) the package sits beside hooks/, as the hooks
    themselves assume; installed, it is in site-packages and the hooks in libexec.
    """
    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
    hooks = os.path.join(top, "hooks")
    return hooks if os.path.isfile(os.path.join(hooks, "vzzfs-hook")) else DEFAULT_HOOK_DIR


# The mount hook only checks what vzzfs's premount did: when vps.premount is
# vzzfs's (its marker line, read with sh builtins: no process) and there is no
# admin's script, the shim exits at once instead of starting Python.
CHECK_ONLY = ("mount",)


def shim_text(action, hook_dir, conf_dir):
    """The text of vps.<action>: a Python shim that runs the hook in its own process
    (an ``exec`` of a shell shim cost each action a shell start, 40 ms under TCG), or
    for CHECK_ONLY a shell one that starts Python only when it has to."""
    script = os.path.join(conf_dir, "vps." + action)
    hook = os.path.join(hook_dir, action)
    head = ("%s: %s\n"
            "# Installed by 'vzzfs install-hooks'; 'vzzfs uninstall-hooks' removes it. Do not edit:\n"
            "# an own script belongs in %s%s, which this runs.\n"
            % (MARKER, action, script, CHAIN_SUFFIX))
    if action not in CHECK_ONLY:
        # The hook's own interpreter line (the RPM points it at the python3 the package
        # was built for); the paths as ASCII literals, so no byte of them is code.
        return ("%s\n%s"
                "import os, sys\n"
                "if sys.path and os.path.realpath(sys.path[0]) == %s:\n"
                "    del sys.path[0]  # modules come from vzzfs's package, never from here\n"
                "sys.argv = [%s, '--chain', %s]\n"
                "with open(sys.argv[0], 'rb') as f:\n"
                "    code = compile(f.read(), sys.argv[0], 'exec')\n"
                "exec(code, {'__name__': '__main__', '__file__': sys.argv[0]})\n"
                % (_interpreter_line(hook), head, ascii(os.path.realpath(conf_dir)), ascii(hook),
                   ascii(script + CHAIN_SUFFIX)))
    chained = shlex.quote(script + CHAIN_SUFFIX)  # a path may hold ', $ or spaces
    return ("#!/bin/sh\n%s"
            "if [ ! -e %s ]; then\n"
            "    { read -r l; read -r l; } 2>/dev/null < %s\n"
            "    [ \"$l\" = %s ] && exit 0\n"
            "fi\n"
            "exec %s --chain %s\n"
            % (head, chained, shlex.quote(os.path.join(conf_dir, "vps.premount")),
               shlex.quote("%s: premount" % MARKER), shlex.quote(hook), chained))


def _interpreter_line(hook):
    try:
        with open(hook, "rb") as f:
            first = f.readline(256).decode("ascii", "replace").rstrip("\n")
    except OSError as e:
        raise ConfigError("cannot read hook %s: %s" % (hook, e.strerror), "reinstall vzzfs")
    if not first.startswith("#!") or "python" not in first:
        raise ConfigError("hook %s is not vzzfs's Python hook (its first line: %r)" % (hook, first),
                          "name the directory holding vzzfs's hooks with --hookdir, "
                          "or reinstall vzzfs")
    return first


def is_vzzfs_shim(path):
    try:
        if os.path.islink(path):
            return False
        with open(path, "r", errors="replace") as f:
            head = f.read(512)
    except OSError:
        return False
    return MARKER in head


def _check_dirs(conf_dir, hook_dir=None):
    check_abs_path(conf_dir, "--confdir")
    if not os.path.isdir(conf_dir):
        raise ConfigError("%s is not a directory" % conf_dir, "is vzctl installed?")
    if hook_dir is not None:
        check_abs_path(hook_dir, "--hookdir")
        for action in ACTIONS:
            if not os.access(os.path.join(hook_dir, action), os.X_OK):
                raise ConfigError("hook %s is missing or not executable"
                                  % os.path.join(hook_dir, action),
                                  "name the directory holding the hooks with --hookdir, "
                                  "or reinstall vzzfs")


def install(conf_dir, hook_dir=None):
    """Wire every action (hooks from ``hook_dir``, default: default_hook_dir()).

    Returns a list of what changed (empty if nothing).
    """
    hook_dir = hook_dir or default_hook_dir()
    _check_dirs(conf_dir, hook_dir)
    for action in ACTIONS:  # refuse before changing anything
        path = os.path.join(conf_dir, "vps." + action)
        if os.path.lexists(path) and not is_vzzfs_shim(path) and os.path.lexists(path + CHAIN_SUFFIX):
            raise StateError("both %s (not vzzfs's) and %s%s exist" % (path, path, CHAIN_SUFFIX),
                             "merge them into %s%s by hand, remove %s, and run install-hooks again"
                             % (path, CHAIN_SUFFIX, path))
    texts = dict((action, shim_text(action, hook_dir, conf_dir)) for action in ACTIONS)
    changed = []
    for action in ACTIONS:
        path = os.path.join(conf_dir, "vps." + action)
        text = texts[action]
        if is_vzzfs_shim(path):
            if read_text(path) == text:
                continue
            changed.append("updated %s" % path)
        elif os.path.lexists(path):
            os.rename(path, path + CHAIN_SUFFIX)
            changed.append("kept your %s as %s%s (chained)" % (path, path, CHAIN_SUFFIX))
        else:
            changed.append("installed %s" % path)
        write_atomic(path, text, 0o755)
    return changed + _unwire(conf_dir, RETIRED)


def _unwire(conf_dir, actions):
    """Remove our shims for ``actions``, putting chained scripts back; what changed."""
    changed = []
    for action in actions:
        path = os.path.join(conf_dir, "vps." + action)
        if not is_vzzfs_shim(path):
            continue
        if os.path.lexists(path + CHAIN_SUFFIX):
            os.rename(path + CHAIN_SUFFIX, path)
            changed.append("restored your %s" % path)
        else:
            os.unlink(path)
            changed.append("removed %s" % path)
    return changed


def uninstall(conf_dir, private_top=None, force=False):
    """Remove our shims, putting chained scripts back; returns what changed. Refused
    while zvols are mounted under ``private_top`` (unless ``force``): unwired, vzctl
    stop would leave them mounted (rpm -e stops on this refusal too)."""
    _check_dirs(conf_dir)
    if private_top is not None and not force:
        from ..container import claim
        attached = claim.zvols_mounted_under(private_top)
        if attached:
            raise StateError("containers are still on their zvols: %s" % " ".join(attached),
                             "stop them (vzctl stop CTID, or vzzfs detach CTID), or pass "
                             "--force")
    return _unwire(conf_dir, ACTIONS + RETIRED)


def status(conf_dir):
    """action -> 'vzzfs', 'other' or 'missing'."""
    result = {}
    for action in ACTIONS:
        path = os.path.join(conf_dir, "vps." + action)
        result[action] = "vzzfs" if is_vzzfs_shim(path) else "other" if os.path.lexists(path) else "missing"
    return result
