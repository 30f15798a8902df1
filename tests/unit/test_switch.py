"""snapshots.rollback_blocker: what keeps snapshot-switch from starting, decided
before the CT is stopped (so a refusal leaves it running)."""
import pytest

from vzzfs_hooks.base.errors import DatasetBusy, StateError
from vzzfs_hooks.verbs.snapshots import rollback_blocker


def row(name, clones=()):
    return {"name": name, "clones": list(clones)}


def test_nothing_newer_never_blocks():
    assert rollback_blocker("101", "s1", [], False, {}, {}) is None


def test_newer_snapshots_need_destroy_newer():
    cls, problem, fix = rollback_blocker("101", "s1", [row("s2"), row("s3")], False, {}, {})
    assert cls is StateError and "destroys the newer snapshots s2, s3" in problem
    assert "--destroy-newer" in fix
    assert rollback_blocker("101", "s1", [row("s2")], True, {}, {}) is None


@pytest.mark.parametrize("newer,held,mounted,cls,says,fix", [
    ([row("s2", ["vz/vzzfs/ct/102"])], {}, {}, DatasetBusy, "origin of vz/vzzfs/ct/102",
     "promote"),
    ([row("s2")], {"vz/vzzfs/ct/101@s2": ["keep"]}, {}, DatasetBusy,
     "vz/vzzfs/ct/101@s2 is held (keep)", "zfs release keep vz/vzzfs/ct/101@s2"),
    ([row("s2")], {}, {"s2": "/mnt/look"}, StateError, "s2 is mounted at /mnt/look",
     "vzzfs snapshot-umount 101 s2"),
])
def test_what_the_rollback_would_trip_on_refuses_first(newer, held, mounted, cls, says, fix):
    found = rollback_blocker("101", "s1", newer, True, held, mounted)
    assert found[0] is cls and says in found[1] and fix in found[2], found
