"""A container: its validated CTID, its configuration, its paths and dataset.

All names that reach ZFS or the file system are derived here from a CTID that
passed ``names.check_ctid`` and settings that passed config's checks, nowhere else.
"""

import os

from ..base import names
from ..base.errors import ConfigError, StateError
from ..conf import config
from ..system import mounts, vzctl
from . import claim


class Container(object):
    """One CT as vzctl sees it, plus where vzzfs keeps its zvol.

    ``platform`` is the node's vzctl (system/vzctl.py: VZCTL4 or OPENVZ7); a hook
    passes the one that runs it, the vzzfs command leaves it to the node's. It
    decides where the zvol is mounted: on VE_PRIVATE under vzctl 4.x, on
    VE_PRIVATE/disk under OpenVZ 7 (container/layout.py), never what the CT holds.
    """

    def __init__(self, ctid, node, conffile=None, platform=None):
        self.ctid = names.check_ctid(ctid)
        self.node = node
        self.conffile = conffile or os.path.join(node.conf_dir, "%s.conf" % self.ctid)
        self.own = config.parse_file(self.conffile, missing_ok=True)
        self.has_conf = os.path.exists(self.conffile)
        self.params = config.merge(node.global_params(), self.own)
        raw = config.merge(node.vzzfs_params(),
                           {k: v for k, v in self.own.items()
                            if k in config.DEFAULTS and k not in config.NODE_ONLY})
        self.settings = config.Settings(raw)

        self.platform = platform or vzctl.node_platform(self.settings)
        self.ve_private = self._path("VE_PRIVATE", names.DEFAULT_PRIVATE)
        self.ve_root = self._path("VE_ROOT", "/vz/root/$VEID")
        self.lockdir = config.check_abs_path(self.params.get("LOCKDIR", "/vz/lock"), "LOCKDIR")
        explicit = self.own.get("VZZFS_DATASET", "")
        self.explicit = bool(explicit)
        if explicit:
            self.dataset = names.check_dataset_name(explicit, "VZZFS_DATASET")
        else:
            self.dataset = names.ct_dataset(self.settings.root, self.ctid)

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

    @property
    def vz7(self):
        return self.platform == vzctl.OPENVZ7

    @property
    def mountpoint(self):
        """Where the zvol's ext4 is mounted: VE_PRIVATE, or VE_PRIVATE/disk (OpenVZ 7)."""
        if self.vz7:
            return os.path.join(self.ve_private, names.VZ7_DISK_DIR)
        return self.ve_private

    @property
    def files(self):
        """Where the CT's own files are while the zvol is mounted."""
        if self.vz7:
            return os.path.join(self.mountpoint, names.VZ7_CT_DIR)
        return self.ve_private

    @property
    def conf_store(self):
        """The file that holds the CT's conf: under OpenVZ 7 VE_PRIVATE/ve.conf, which
        /etc/vz/conf/CTID.conf links to; else the conf itself."""
        if self.vz7:
            return os.path.join(self.ve_private, names.VZ7_CONF)
        return self.conffile

    def private_mount(self):
        """The mount on the zvol's mount point (None when nothing is mounted there)."""
        return mounts.mount_at(self.mountpoint)

    def root_mounted(self):
        return mounts.is_mountpoint(self.ve_root)

    def is_stopped(self):
        """Neither VE_ROOT nor VE_PRIVATE is mounted: the CT neither runs nor is mounted."""
        return not self.root_mounted() and self.private_mount() is None

    def require_stopped(self, verb):
        """The one check (and message) for verbs that need the CT stopped: StateError,
        exit 7, unless it is."""
        if not self.is_stopped():
            raise StateError("is running or mounted; %s needs it stopped" % verb,
                             "vzctl stop %s first" % self.ctid, ctid=self.ctid)

    def require_claim(self):
        """Raise ConfigError unless the zvol this CT names is its own (claim.require);
        lock.ct_lock runs it each time it takes the CT's lock."""
        claim.require(self)

    def require_conf(self):
        if not self.has_conf:
            raise ConfigError("has no config file %s" % self.conffile,
                              "create the container first", ctid=self.ctid)


def resolve_name(node, ctid):
    """A vzctl name (/etc/vz/names/NAME -> conf/CTID.conf) to its CTID; a CTID as is."""
    ctid = names.check_ctid(ctid)
    link = os.path.join(node.names_dir, ctid)
    if not ctid.isdigit() and os.path.islink(link):
        target = os.path.basename(os.readlink(link))
        if target.endswith(".conf"):
            return names.check_ctid(target[:-len(".conf")])
    return ctid


def lookup(node, ctid):
    """The Container a CTID or a vzctl name on the command line means."""
    return Container(resolve_name(node, ctid), node)


def owned(node, ctid):
    """A CT with a conf whose zvol (if it has one) passes the ownership rule."""
    ct = lookup(node, ctid)
    ct.require_conf()
    claim.require(ct)
    return ct
