"""The guard on the empty mount point: only an empty, unmounted directory is guarded."""
from vzzfs_hooks.system import ext4, mounts


def test_guard_only_an_empty_unmounted_directory(tmp_path, monkeypatch):
    flagged = []
    monkeypatch.setattr(ext4, "set_immutable", lambda d, on: flagged.append((d, on)) or True)
    monkeypatch.setattr(mounts, "is_mountpoint", lambda d: d.endswith("mounted"))
    empty, full, mounted = tmp_path / "empty", tmp_path / "full", tmp_path / "mounted"
    for d in (empty, full, mounted):
        d.mkdir()
    (full / "stray").write_text("x")
    assert ext4.guard(str(empty)) is True
    assert ext4.guard(str(full)) is False
    assert ext4.guard(str(mounted)) is False
    assert ext4.guard(str(tmp_path / "missing")) is False
    assert flagged == [(str(empty), True)]


def test_remove_guarded_unguards_first_and_leaves_a_mount_point_alone(tmp_path, monkeypatch):
    flagged = []
    monkeypatch.setattr(ext4, "set_immutable", lambda d, on: flagged.append((d, on)) or True)
    monkeypatch.setattr(mounts, "is_mountpoint", lambda d: d.endswith("mounted"))
    mine, mounted = tmp_path / "mine", tmp_path / "mounted"
    mine.mkdir()
    mounted.mkdir()
    ext4.remove_guarded(str(mine))
    ext4.remove_guarded(str(mounted))
    assert not mine.exists() and mounted.exists()
    assert flagged == [(str(mine), False)]
