"""Reverter: undo unless committed, in reverse order, and hand the undo list on."""
import pytest

from vzzfs_hooks.base.revert import Reverter


def test_undoes_in_reverse_unless_committed_even_on_an_early_return():
    done = []

    def step(early):
        with Reverter() as undo:
            undo.add("a", done.append, "undo a")
            undo.add("b", done.append, "undo b")
            if early:
                return "early"
            undo.commit()
        return "committed"
    assert step(True) == "early" and done == ["undo b", "undo a"]
    del done[:]
    assert step(False) == "committed" and done == []


def test_a_failing_undo_step_does_not_stop_the_others_nor_hide_the_error():
    done = []

    def boom():
        raise OSError("gone")
    with pytest.raises(ValueError):
        with Reverter() as undo:
            undo.add("first", done.append, 1)
            undo.add("fails", boom)
            raise ValueError("the real error")
    assert done == [1]


def test_hand_over_gives_the_caller_the_undo_list():
    done = []
    with Reverter() as undo:
        undo.add("a", done.append, "undo a")
        later = undo.hand_over()
    assert done == []  # the inner block kept its work
    with pytest.raises(RuntimeError):
        with later:
            raise RuntimeError("the caller's step failed")
    assert done == ["undo a"]
