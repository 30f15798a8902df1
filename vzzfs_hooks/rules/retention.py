"""Pure decisions of scheduled snapshots: the policy, when one is due, which ones go.

A policy is VZZFS_SNAPSHOT_KEEP, e.g. "hourly=24 daily=7 weekly=4 monthly=6":
for each period, keep one snapshot (the oldest, so a bucket's representative
never changes as newer snapshots arrive) from each of the newest N periods that
hold a snapshot. N counts periods with snapshots, not calendar time, so a node
that was off for a month still keeps its last 24 hourly ones. The newest
snapshot is always kept (it is the most recent state, and the base of the next
increment).

Everything is decided from UTC epoch seconds (zfs's `creation`), never from
names or local wall-clock time, so a DST change cannot move a snapshot between
periods. Hours, days and weeks (starting Monday 00:00 UTC) are fixed lengths of
epoch time; months and years are calendar ones in UTC. A snapshot created after
``now`` (the clock was set back) is kept and ignored by both decisions: it is
never destroyed "from the future", and it does not make a snapshot look recent.

No I/O here: autosnap.py carries the answers out; tests/unit/test_retention.py
tests every edge.
"""

import time

from ..base.errors import ConfigError
from ..base.names import AUTO_PREFIX, KIND_AUTO

MAX_COUNT = 100000                  # per period: a typo, not a policy, beyond this

_HOUR = 3600
_DAY = 24 * _HOUR
_WEEK = 7 * _DAY
_MONDAY = 4 * _DAY                  # 1970-01-01 was a Thursday: weeks start 1970-01-05

# period: (nominal length in seconds for the snapshot interval, bucket of an epoch time)
PERIODS = (
    ("hourly", _HOUR, lambda t: t // _HOUR),
    ("daily", _DAY, lambda t: t // _DAY),
    ("weekly", _WEEK, lambda t: (t - _MONDAY) // _WEEK),
    # a snapshot at least every 28 days puts one in every calendar month, and every
    # 365 days one in every calendar year
    ("monthly", 28 * _DAY, lambda t: _gm(t).tm_year * 12 + _gm(t).tm_mon - 1),
    ("yearly", 365 * _DAY, lambda t: _gm(t).tm_year),
)
_BY_NAME = dict((p[0], p) for p in PERIODS)
_OFF = ("", "none", "off", "no")


def _gm(t):
    return time.gmtime(t)


def parse_policy(text, what="VZZFS_SNAPSHOT_KEEP"):
    """[(period, count)] in PERIODS' order from "hourly=24 daily=7 ..."; [] is off
    ("", none, off, no). A ConfigError names what is wrong."""
    text = (text or "").strip()
    if text.lower() in _OFF:
        return []
    fix = "use e.g. %s=\"hourly=24 daily=7 weekly=4 monthly=6\" (periods: %s)" % (
        what, ", ".join(p[0] for p in PERIODS))
    counts = {}
    for word in text.split():
        period, sep, count = word.partition("=")
        period = period.lower()
        if not sep or period not in _BY_NAME or not count.isdigit():
            raise ConfigError("%s=%r: %r is not PERIOD=COUNT" % (what, text, word), fix)
        if period in counts:
            raise ConfigError("%s=%r names %s twice" % (what, text, period), fix)
        n = int(count) if len(count.lstrip("0")) <= 9 else MAX_COUNT + 1  # bounded first
        if n > MAX_COUNT:
            raise ConfigError("%s=%r: %s=%d is more than %d" % (what, text, period, n,
                                                                MAX_COUNT), fix)
        counts[period] = n
    policy = [(p[0], counts[p[0]]) for p in PERIODS if counts.get(p[0])]
    if not policy:
        raise ConfigError("%s=%r keeps nothing" % (what, text),
                          "set a count of at least 1, or %s=none to turn it off" % what)
    return policy


def interval(policy):
    """Seconds between scheduled snapshots: the shortest period the policy keeps."""
    return min(_BY_NAME[name][1] for name, _ in policy)


def _slack(seconds):
    # a timer firing on the hour finds the last snapshot a few seconds short of an
    # hour old: a quarter of the interval (at most 15 minutes) early still counts
    return min(seconds // 4, 900)


def is_due(created, policy, now):
    """Whether a scheduled snapshot is due at ``now``, given the creation times of
    the existing ones. Due when none exists up to ``now``, or the newest of those is
    about one interval old. A late run (after downtime) takes one, not one per
    missed interval; a second run right after takes none."""
    if not policy:
        return False
    past = [t for t in created if t <= now]
    if not past:
        return True
    step = interval(policy)
    return now - max(past) >= step - _slack(step)


def overdue(created, policy, now):
    """Whether scheduled snapshots look stalled at ``now`` (vzzfs check warns): a
    policy is set but none exists up to ``now``, or the newest is more than two
    intervals old (the timer is not enabled, or runs keep failing)."""
    if not policy:
        return False
    past = [t for t in created if t <= now]
    return not past or now - max(past) > 2 * interval(policy)


def which_to_keep(snaps, policy, now):
    """(keep, destroy): sets of names from ``snaps``, [(name, creation epoch)] of
    one CT's scheduled snapshots in any order. An empty policy keeps all."""
    names = set(n for n, _ in snaps)
    if not policy:
        return names, set()
    future = set(n for n, t in snaps if t > now)
    # oldest first; the name breaks ties so that the answer never depends on input order
    past = sorted(((t, n) for n, t in snaps if t <= now))
    keep = set(future)
    if past:
        keep.add(past[-1][1])
    for period, count in policy:
        bucket_of = _BY_NAME[period][2]
        first = {}  # bucket -> its oldest snapshot
        for t, n in past:
            b = bucket_of(t)
            if b not in first:
                first[b] = n
        for b in sorted(first)[-count:]:
            keep.add(first[b])
    return keep, names - keep


def replication_base(rows):
    """The name of the newest snapshot marked as the peer's (``replicated``, by
    vzzfs replicate), or None: the base of the next increment."""
    marked = [r for r in rows if r.get("replicated")]
    return max(marked, key=lambda r: (r.get("txg", 0), r["created"]))["name"] if marked else None


def prune(rows, policy, now):
    """Names of scheduled snapshots to destroy among snapshots.rows()-style dicts
    (name, created, kind, clones, holds, replicated). Only kind 'auto'; never a
    clone's origin, a held snapshot (they still count as kept representatives), one in
    flight to the replication peer (a cut stream's resume target), nor the newest
    one the peer has (replication_base: the next increment builds on it)."""
    auto = [r for r in rows if r["kind"] == KIND_AUTO]
    _, destroy = which_to_keep([(r["name"], r["created"]) for r in auto], policy, now)
    base = replication_base(rows)
    return [r["name"] for r in auto
            if r["name"] in destroy and not r["clones"] and not r.get("holds")
            and not r.get("inflight") and r["name"] != base]


def newest(rows):
    """The row of the newest scheduled snapshot by creation time, or None."""
    auto = [r for r in rows if r["kind"] == KIND_AUTO]
    return max(auto, key=lambda r: (r["created"], r.get("txg", 0))) if auto else None


def snapshot_name(now):
    """auto-YYYYmmddTHHMMSSZ: UTC, so names sort by time and never repeat at DST."""
    return AUTO_PREFIX + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))


def age_text(seconds):
    """'45s', '12m', '3h', '5d': a short age for vzzfs list ('-' for None)."""
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 0:
        return "future"
    for unit, size in (("d", _DAY), ("h", _HOUR), ("m", 60)):
        if seconds >= size:
            return "%d%s" % (seconds // size, unit)
    return "%ds" % seconds


def utc_epoch(year, month, day, hour=0, minute=0, second=0):
    """An epoch from UTC fields (for tests and docs)."""
    import calendar  # here: with datetime and locale, a tenth of every command's imports
    return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
