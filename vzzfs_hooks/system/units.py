"""systemd's word on vzzfs's units: the one module that runs systemctl.

vzzfs check asks whether the path unit that follows DISKSPACE changes still
watches: a unit that tripped a limit or failed stops, silently, while it stays
enabled.
"""

import os

from ..base import runner
from ..base.errors import VzzfsError

RECONCILE_PATH = "vzzfs-reconcile.path"
BOOTED = "/run/systemd/system"   # present when systemd runs the node (sd_booted)


def state(unit):
    """(is-enabled, is-active) of ``unit`` as systemctl says them, or None where systemd
    does not run the node (or systemctl cannot be asked)."""
    if not os.path.isdir(BOOTED):
        return None
    try:
        enabled = runner.run(["systemctl", "is-enabled", unit], check=False, timeout=10)
        active = runner.run(["systemctl", "is-active", unit], check=False, timeout=10)
    except VzzfsError:
        return None
    return enabled.stdout.strip(), active.stdout.strip()


def not_watching(enabled, active):
    """Whether an enabled path unit is not doing its job (pure)."""
    return enabled == "enabled" and active != "active"
