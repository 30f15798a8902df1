"""A container: its validated CTID, its configuration, its paths and dataset.

All names that reach ZFS or the file system are derived here from a CTID that
passed ``check_ctid`` and settings that passed config's checks, nowhere else.
"""

import os
import re

from . import config, mounts, ownership
from .errors import ConfigError, UsageError

# vzctl 4.x CTIDs are unsigned ints (0 is the host); names
# (vzctl --name, OpenVZ 7 names) are letters, digits and -_. not starting with - or .
CTID_RE = re.compile(r"^[1-9][0-9]{0,9}$")
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
MAX_CTID = 2147483647


def check_ctid(ctid):
    """Return the CTID as a string if it is valid, else raise UsageError."""
    text = str(ctid)
    if CTID_RE.match(text) and int(text) <= MAX_CTID:
        return text
    if NAME_RE.match(text) and not text.isdigit():
        return text
    raise UsageError("invalid CTID %r" % text,
                     "use a number from 1 to %d or a name of letters, digits and -_." % MAX_CTID)


def check_new_ctid(node, ctid):
    """A CTID for a CT about to be made (create, clone, restore, receive): a number,
    and no vzctl name (names resolve to other CTs everywhere else). Returns it."""
    text = check_ctid(ctid)
    if not CTID_RE.match(text):
        raise UsageError("a new CT needs a number as its CTID, not the name %r" % text,
                         "pick a free number from 1 to %d (vzctl set CTID --name NAME "
                         "names it afterwards)" % MAX_CTID)
    if os.path.lexists(os.path.join(node.names_dir, text)):
        raise UsageError("%s is already the name of a CT (%s)"
                         % (text, os.path.join(node.names_dir, text)), "pick another CTID")
    return text


class Container(object):
    """One CT as vzctl sees it, plus where vzzfs keeps its zvol."""

    def __init__(self, ctid, node, conffile=None):
        self.ctid = check_ctid(ctid)
        self.node = node
        self.conffile = conffile or os.path.join(node.conf_dir, "%s.conf" % self.ctid)
        self.own = config.parse_file(self.conffile, missing_ok=True)
        self.has_conf = os.path.exists(self.conffile)
        self.params = config.merge(node.global_params(), self.own)
        raw = config.merge(node.vzzfs_params(),
                           {k: v for k, v in self.own.items()
                            if k in config.DEFAULTS and k not in config.NODE_ONLY})
        self.settings = config.Settings(raw)

        self.ve_private = self._path("VE_PRIVATE", "/vz/private/$VEID")
        self.ve_root = self._path("VE_ROOT", "/vz/root/$VEID")
        self.lockdir = config.check_abs_path(self.params.get("LOCKDIR", "/vz/lock"), "LOCKDIR")
        explicit = self.own.get("VZZFS_DATASET", "")
        self.explicit = bool(explicit)
        if explicit:
            self.dataset = config.check_dataset_name(explicit, "VZZFS_DATASET")
        else:
            self.dataset = ownership.ct_dataset(self.settings.root, self.ctid)

    def _path(self, key, default):
        value = config.expand_veid(key, self.params.get(key, default), self.ctid)
        return config.check_abs_path(value, key)

    @property
    def pool(self):
        return self.dataset.split("/", 1)[0]

    @property
    def device_link(self):
        return "/dev/zvol/" + self.dataset

    @property
    def disk_quota(self):
        return self.params.get("DISK_QUOTA", "yes").strip().lower()

    def private_mount(self):
        return mounts.mount_at(self.ve_private)

    def root_mounted(self):
        return mounts.is_mountpoint(self.ve_root)

    def require_conf(self):
        if not self.has_conf:
            raise ConfigError("has no config file %s" % self.conffile,
                              "create the container first", ctid=self.ctid)
