"""``python3 -m vzzfs_hooks`` runs the vzzfs command."""
import sys

from .entry.cli import main

sys.exit(main())
