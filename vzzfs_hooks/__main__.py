"""``python3 -m vzzfs_hooks`` runs the vzzfs command."""
import sys

from .base.runner import use_absolute_path
from .entry.cli import main

use_absolute_path()  # nothing vzzfs runs is found through a relative PATH entry

sys.exit(main())
