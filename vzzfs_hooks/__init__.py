"""vzzfs: OpenVZ containers whose private area is ext4 on a ZFS zvol, driven by vzctl's hooks."""

__version__ = "0.1.0"
