"""lifecycle.next_promotion: destroy --promote hands a CT's snapshots to its clones
without losing one any clone needs."""
from vzzfs_hooks.verbs.lifecycle import next_promotion

TXG = {"s1": 10, "s2": 20, "s3": 30, "s4": 40}


def test_the_clone_of_the_newest_origin_goes_first_and_takes_all_older():
    deps = [("vz/ct/101@s1", "vz/ct/102"), ("vz/ct/101@s3", "vz/ct/103")]
    assert next_promotion(deps, TXG) == ("vz/ct/103", ["s1", "s2", "s3"])


def test_snapshots_newer_than_every_origin_stay_to_be_destroyed():
    assert next_promotion([("vz/ct/101@s2", "vz/ct/102")], TXG) == ("vz/ct/102", ["s1", "s2"])


def test_one_origin_with_two_clones_moves_once():
    deps = [("vz/ct/101@s4", "vz/ct/102"), ("vz/ct/101@s4", "vz/ct/103")]
    clone, moved = next_promotion(deps, TXG)
    assert clone in ("vz/ct/102", "vz/ct/103") and moved == ["s1", "s2", "s3", "s4"]
