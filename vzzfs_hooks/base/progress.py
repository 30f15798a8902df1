"""Progress for long operations, shown only when stderr is a terminal."""

import sys
import time


def shown(stream=None):
    """Would a Progress on ``stream`` (stderr) show? Then its total is worth asking for."""
    stream = stream or sys.stderr
    return hasattr(stream, "isatty") and stream.isatty()


class Progress(object):
    """``Progress("unpacking x", total_bytes)``; call update(done) often, done() at the end."""

    def __init__(self, what, total, stream=None):
        self.what = what
        self.total = max(int(total), 1)
        self.stream = stream or sys.stderr
        self.enabled = shown(self.stream)
        self._last = 0.0

    def update(self, done):
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.5 and done < self.total:
            return
        self._last = now
        pct = min(100, done * 100 // self.total)
        self.stream.write("\r%s: %3d%% (%d of %d MiB)" % (self.what, pct, done >> 20,
                                                        self.total >> 20))
        self.stream.flush()

    def done(self):
        if self.enabled:
            self.update(self.total)
            self.stream.write("\n")
            self.stream.flush()
