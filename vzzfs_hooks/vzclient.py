"""Which vzctl runs the hooks: legacy vzctl 4.x, or OpenVZ 7's libvzctl.

They run the same four action scripts but differ in where they find a CT's own
scripts: libvzctl looks in VE_PRIVATE/scripts/ when VE_PRIVATE/.ve.layout is
absent (lib/util.c get_action_script_path), and on a zvol CT VE_PRIVATE is the
container's own file system, so its root could plant scripts the host runs as
root. vzzfs therefore refuses to attach a zvol CT under libvzctl until it lays
the zvol out for it. libvzctl's exec wrapper gives scripts SHELL and no TERM;
vzctl 4.x gives exactly HOME, TERM, PATH, VEID and VE_CONFFILE; the parent
process of a libvzctl script has libvzctl2 mapped.
"""

import os

from .fileio import read_text

LIBVZCTL = "libvzctl2"


def _parent_maps(ppid):
    try:
        return read_text("/proc/%d/maps" % ppid)
    except OSError:
        return ""


def is_libvzctl(environ=None, ppid=None):
    """Whether OpenVZ 7's libvzctl (not vzctl 4.x) runs this hook."""
    environ = os.environ if environ is None else environ
    if "SHELL" in environ and "TERM" not in environ:
        return True
    return LIBVZCTL in _parent_maps(os.getppid() if ppid is None else ppid)
