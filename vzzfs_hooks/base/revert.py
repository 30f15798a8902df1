"""All-or-nothing multi-step operations: each step registers its undo.

    with Reverter() as undo:
        make_zvol(); undo.add("destroy zvol", destroy, name)
        ...
        undo.commit()      # success: forget the undo steps

Unless commit() ran, the undo steps run in reverse order when the block ends,
whether it raised or returned early (as Incus's revert does: forgetting commit()
can only undo too much, never keep half-done work); an undo step that fails is
logged and the rest still run, and the original error is what the caller sees.

A step that succeeded but whose caller may still fail hands its undo list on:

    with Reverter() as undo:
        ...
        later = undo.hand_over()   # this block keeps its work; the caller decides
    with later: ...; later.commit()
"""

from . import log


class Reverter(object):
    def __init__(self):
        self._steps = []

    def add(self, what, func, *args):
        self._steps.append((what, func, args))

    def commit(self):
        self._steps = []

    def hand_over(self):
        """A new Reverter holding this one's undo steps; this one then undoes nothing."""
        other = Reverter()
        other._steps, self._steps = self._steps, []
        return other

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        for what, func, args in reversed(self._steps):
            try:
                func(*args)
            except Exception as e:  # keep undoing; report what is left behind
                log.warn("could not undo (%s): %s" % (what, e))
        self._steps = []
        return False
