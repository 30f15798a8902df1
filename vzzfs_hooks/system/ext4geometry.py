"""What decides an ext4's inode count, for templates and their clones: mkfs fixes the
inodes per block group, and resize2fs adds or removes whole groups, so the count
follows the size. The only module that runs dumpe2fs.

Apart from ext4 so that the hooks, which never need it, do not import collections.
"""

import collections

from ..base import runner


Geometry = collections.namedtuple(
    "Geometry", "inode_count block_count inodes_per_group blocks_per_group block_size")


def geometry(device):
    """The ext4 on ``device``: its Geometry, from its superblock (dumpe2fs -h)."""
    out = runner.run(["dumpe2fs", "-h", device]).stdout
    fields = dict((k.strip(), v.strip()) for k, v in
                  (line.split(":", 1) for line in out.splitlines() if ":" in line))
    return Geometry(*(int(fields[name]) for name in (
        "Inode count", "Block count", "Inodes per group", "Blocks per group", "Block size")))


def inodes_at_size(geo, size_bytes):
    """Inodes an ext4 of ``geo`` has at least once resize2fs grew it to ``size_bytes``.

    Only whole block groups are counted (resize2fs may drop a short last one),
    and growing never removes inodes.
    """
    groups = size_bytes // geo.block_size // geo.blocks_per_group
    return max(geo.inode_count, groups * geo.inodes_per_group)
