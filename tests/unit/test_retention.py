"""retention.py: the policy, when a scheduled snapshot is due, which ones pruning destroys."""
import random

import pytest

from vzzfs_hooks.rules import retention
from vzzfs_hooks.base.errors import ConfigError
from vzzfs_hooks.rules.retention import is_due, parse_policy, prune, utc_epoch, which_to_keep

H = 3600
D = 24 * H
NOW = utc_epoch(2026, 11, 30, 12, 0, 0)  # a Monday


def snaps(times):
    return [("s%d" % t, t) for t in times]


def kept_times(times, policy, now=NOW):
    keep, destroy = which_to_keep(snaps(times), policy, now)
    assert keep | destroy == set("s%d" % t for t in times) and not keep & destroy
    return sorted(int(n[1:]) for n in keep)


# ---- the policy ----

def test_policy_parses_in_period_order_whatever_the_order_written():
    assert parse_policy("monthly=6 hourly=24 weekly=4 daily=7") == [
        ("hourly", 24), ("daily", 7), ("weekly", 4), ("monthly", 6)]
    assert parse_policy("  Daily=3\tyearly=2 ") == [("daily", 3), ("yearly", 2)]


@pytest.mark.parametrize("text", ["", "none", "off", "no", "  ", None])
def test_policy_off(text):
    assert parse_policy(text) == []


def test_policy_zero_counts_drop_out():
    assert parse_policy("hourly=0 daily=2") == [("daily", 2)]


@pytest.mark.parametrize("text", ["hourly", "hourly=", "hourly=-1", "hourly=x", "minutely=5",
                                  "hourly=2 hourly=3", "hourly=0", "daily=100001",
                                  "hourly=24,daily=7", "hourly=1;rm"])
def test_bad_policies_are_refused_with_the_key_named(text):
    with pytest.raises(ConfigError) as e:
        parse_policy(text)
    assert "VZZFS_SNAPSHOT_KEEP" in e.value.line()


def test_interval_is_the_shortest_period_kept():
    assert retention.interval(parse_policy("hourly=24 daily=7")) == H
    assert retention.interval(parse_policy("weekly=4 daily=7")) == D
    assert retention.interval(parse_policy("monthly=6")) == 28 * D  # never a month without one
    assert retention.interval(parse_policy("yearly=1")) == 365 * D


# ---- when one is due ----

HOURLY = parse_policy("hourly=24")


def test_due_with_none_yet():
    assert is_due([], HOURLY, NOW)


def test_not_due_without_a_policy():
    assert not is_due([], [], NOW)


def test_a_second_run_right_after_takes_none():
    assert not is_due([NOW], HOURLY, NOW + 1)
    assert not is_due([NOW - 5], HOURLY, NOW)


def test_a_timer_on_the_hour_finds_the_last_a_little_short_of_an_hour_old():
    # taken 10:00:07 (the service started late), next run 11:00:00: due
    assert is_due([NOW - H + 7], HOURLY, NOW)
    assert is_due([NOW - 45 * 60], HOURLY, NOW)       # within the slack
    assert not is_due([NOW - 45 * 60 + 1], HOURLY, NOW)


def test_daily_waits_a_day_with_an_hourly_timer():
    daily = parse_policy("daily=7")
    last = NOW
    assert not any(is_due([last], daily, last + h * H) for h in range(1, 23))
    assert is_due([last], daily, last + 24 * H)


def test_missed_runs_catch_up_once():
    # off for 3 days: the late run takes one; the run after it none
    assert is_due([NOW - 3 * D], HOURLY, NOW)
    assert not is_due([NOW - 3 * D, NOW], HOURLY, NOW + 60)


def test_clock_set_back_ignores_snapshots_from_the_future():
    # the newest was taken at NOW + 2 days by a wrong clock; the clock now says NOW:
    # the future one does not make a snapshot look recent
    assert is_due([NOW - 2 * H, NOW + 2 * D], HOURLY, NOW)
    assert not is_due([NOW - 60, NOW + 2 * D], HOURLY, NOW)


def test_dst_cannot_matter_for_due():
    # epoch seconds have no DST: an hour's gap is an hour however local clocks jump
    # (Europe's 2026-10-25 01:00 UTC change)
    change = utc_epoch(2026, 10, 25, 1, 0, 0)
    assert is_due([change - 30 * 60], HOURLY, change + 30 * 60)
    assert not is_due([change - 10 * 60], HOURLY, change + 10 * 60)


def test_overdue_when_none_or_older_than_two_intervals():
    assert not retention.overdue([], [], NOW)
    assert retention.overdue([], HOURLY, NOW)
    assert not retention.overdue([NOW - 2 * H], HOURLY, NOW)
    assert retention.overdue([NOW - 2 * H - 1], HOURLY, NOW)
    assert retention.overdue([NOW - 3 * H, NOW + D], HOURLY, NOW)  # the future one is no help
    assert not retention.overdue([NOW - 47 * H], parse_policy("daily=7"), NOW)


# ---- which to keep ----

def test_no_policy_keeps_everything():
    assert kept_times([NOW - 5 * H, NOW - H], []) == [NOW - 5 * H, NOW - H]


def test_nothing_to_decide():
    assert which_to_keep([], HOURLY, NOW) == (set(), set())


def test_hourly_keeps_the_oldest_of_each_of_the_newest_hours_and_the_newest():
    # four per hour over 30 hours, at :00 :15 :30 :45
    times = [NOW - h * H - q * 900 for h in range(30) for q in range(4)]
    kept = kept_times(times, parse_policy("hourly=24"))
    newest = max(times)
    hours = sorted(set(t // H for t in times))[-24:]
    assert kept == sorted(set([h * H for h in hours]) | {newest})


def test_the_newest_is_kept_even_when_its_bucket_is_represented_by_an_older_one():
    times = [NOW - 50 * 60, NOW - 30 * 60, NOW - 10 * 60]  # 11:10, 11:30, 11:50
    assert kept_times(times, parse_policy("hourly=1")) == [NOW - 50 * 60, NOW - 10 * 60]


def test_tiny_policy_keeps_one_bucket_and_the_newest():
    times = [NOW - 3 * D, NOW - 2 * D, NOW - D, NOW - 60]
    assert kept_times(times, parse_policy("daily=1")) == [NOW - 60]
    assert kept_times(times, parse_policy("daily=2")) == [NOW - D, NOW - 60]


def test_rules_add_up():
    # 10 days, one every hour: 24 hourly + 7 daily + 2 weekly, overlaps counted once
    times = [NOW - i * H for i in range(10 * 24)]
    kept = set(kept_times(times, parse_policy("hourly=24 daily=7 weekly=2")))
    hourly = set(t for t in times if t > NOW - 24 * H)
    daily = set(d * D for d in sorted(set(t // D for t in times))[-7:])
    monday = utc_epoch(2026, 11, 30)  # this week's Monday, and last week's
    weekly = {monday, min(t for t in times if t >= monday - 7 * D)}
    assert kept == hourly | daily | weekly


def test_weeks_start_on_monday_utc():
    sunday = utc_epoch(2026, 11, 29, 23, 0, 0)
    monday = utc_epoch(2026, 11, 30, 1, 0, 0)
    saturday = utc_epoch(2026, 11, 28, 12, 0, 0)
    kept = kept_times([saturday, sunday, monday], parse_policy("weekly=2"), NOW)
    assert kept == [saturday, monday]  # saturday and sunday share a week


def test_months_and_years_are_calendar_ones_in_utc():
    times = [utc_epoch(2026, m, d) for m in (1, 2, 3) for d in (1, 15, 28)]
    times.append(utc_epoch(2026, 2, 28, 23, 59, 59))
    assert kept_times(times, parse_policy("monthly=2")) == [
        utc_epoch(2026, 2, 1), utc_epoch(2026, 3, 1), utc_epoch(2026, 3, 28)]
    years = [utc_epoch(y, 6, 1) for y in (2023, 2024, 2025)] + [utc_epoch(2025, 12, 31, 23)]
    assert kept_times(years, parse_policy("yearly=2"), NOW) == [
        utc_epoch(2024, 6, 1), utc_epoch(2025, 6, 1), utc_epoch(2025, 12, 31, 23)]


def test_dst_change_keeps_one_per_utc_hour():
    # the night Europe's clocks went back (2026-10-25, 02:00-03:00 local twice): one
    # snapshot every 30 min; local names would repeat, epoch buckets do not
    start = utc_epoch(2026, 10, 24, 22, 0, 0)
    times = [start + i * 1800 for i in range(12)]
    now = times[-1] + 60
    kept = kept_times(times, parse_policy("hourly=6"), now)
    assert kept == [t for t in times if t % H == 0][-6:] + [times[-1]]


def test_gaps_count_periods_with_snapshots_not_calendar_time():
    # 24 hourly snapshots, then the node was off for 30 days, then 3 more
    before = [NOW - 30 * D - h * H for h in range(24)]
    after = [NOW - h * H for h in range(3)]
    kept = kept_times(before + after, parse_policy("hourly=24"))
    assert kept == sorted(after + before[:21])  # the 21 newest hours before the gap


def test_a_long_gap_never_leaves_nothing():
    times = [NOW - 400 * D, NOW - 399 * D]
    assert kept_times(times, parse_policy("hourly=1")) == [NOW - 399 * D]


def test_clock_set_back_never_destroys_snapshots_from_the_future():
    future = [NOW + H, NOW + 2 * D, NOW + 400 * D]
    past = [NOW - i * H for i in range(1, 6)]
    kept = kept_times(future + past, parse_policy("hourly=1"), NOW)
    assert set(future) <= set(kept)
    # and they do not push the past ones out: the newest past one is kept
    assert NOW - H in kept
    assert len(kept) == len(future) + 1


def test_same_creation_second_is_decided_by_name_whatever_the_input_order():
    pairs = [("auto-b", NOW - H), ("auto-a", NOW - H), ("auto-c", NOW - 2 * H)]
    answers = set()
    for _ in range(10):
        random.shuffle(pairs)
        keep, destroy = which_to_keep(list(pairs), parse_policy("hourly=1"), NOW)
        answers.add((frozenset(keep), frozenset(destroy)))
    assert answers == {(frozenset({"auto-a", "auto-b"}), frozenset({"auto-c"}))}


def test_ten_thousand_snapshots():
    # one every 10 minutes for ~69 days, shuffled
    times = [NOW - i * 600 for i in range(10000)]
    shuffled = list(snaps(times))
    random.Random(18).shuffle(shuffled)
    policy = parse_policy("hourly=24 daily=7 weekly=4 monthly=6")
    keep, destroy = which_to_keep(shuffled, policy, NOW)
    kept = sorted(int(n[1:]) for n in keep)
    assert len(keep) + len(destroy) == 10000
    hours = sorted(set(t // H for t in times))[-24:]
    assert set(h * H for h in hours) <= set(kept)
    assert NOW in kept
    assert len(kept) <= 24 + 7 + 4 + 6 + 1
    # pruning again what it kept changes nothing (idempotent)
    keep2, destroy2 = which_to_keep([("s%d" % t, t) for t in kept], policy, NOW)
    assert destroy2 == set() and keep2 == keep


def test_a_later_run_never_wants_back_what_an_earlier_run_destroyed():
    # a snapshot every hour for 9 days, pruned after each: what is destroyed stays
    # destroyed (the kept set only ever loses members it decided to drop once)
    policy = parse_policy("hourly=6 daily=3")
    alive, gone = set(), set()
    for i in range(9 * 24):
        t = NOW + i * H
        alive.add(t)
        keep, destroy = which_to_keep(snaps(alive), policy, t)
        dropped = set(int(n[1:]) for n in destroy)
        assert not dropped & gone
        gone |= dropped
        alive -= dropped
    assert len(alive) <= 6 + 3 + 1


# ---- prune: kinds, holds, clones ----

def row(name, created, kind="auto", clones=(), holds=0):
    return {"name": name, "created": created, "kind": kind, "clones": list(clones),
            "holds": holds}


def test_prune_touches_only_auto_snapshots_never_held_or_cloned():
    rows = [row("auto-1", NOW - 5 * H), row("auto-2", NOW - 4 * H, holds=1),
            row("auto-3", NOW - 3 * H, clones=["vz/vzzfs/ct/102"]),
            row("auto-4", NOW - 2 * H), row("auto-5", NOW - H),
            row("manual", NOW - 6 * H, kind=""), row("vzzfs-x", NOW - 6 * H, kind="snapshot"),
            row("chk", NOW - 6 * H, kind="chkpnt"), row("bk", NOW - 6 * H, kind="backup"),
            row("send", NOW - 6 * H, kind="send"), row("cl", NOW - 6 * H, kind="clone")]
    assert prune(rows, parse_policy("hourly=1"), NOW) == ["auto-1", "auto-4"]


def test_prune_without_policy_destroys_nothing():
    assert prune([row("auto-1", NOW - 5 * H), row("auto-2", NOW - H)], [], NOW) == []


def test_newest_and_names():
    rows = [row("auto-1", NOW - H), row("x", NOW, kind=""), row("auto-2", NOW - 60)]
    assert retention.newest(rows)["name"] == "auto-2"
    assert retention.newest([row("x", NOW, kind="")]) is None
    assert retention.snapshot_name(utc_epoch(2026, 3, 29, 1, 30, 5)) == "auto-20260329T013005Z"


@pytest.mark.parametrize("seconds,text", [(None, "-"), (0, "0s"), (59, "59s"), (60, "1m"),
                                          (3599, "59m"), (3600, "1h"), (86399, "23h"),
                                          (86400, "1d"), (-5, "future")])
def test_age_text(seconds, text):
    assert retention.age_text(seconds) == text


def test_prune_never_destroys_the_newest_snapshot_the_peer_has():
    rows = [row("auto-1", NOW - 5 * H), row("auto-2", NOW - 4 * H), row("auto-3", NOW - 3 * H),
            row("auto-4", NOW - 60)]
    for r, txg in zip(rows, (1, 2, 3, 4)):
        r["txg"] = txg
    rows[0]["replicated"] = rows[1]["replicated"] = True  # auto-2 is the peer's newest
    assert retention.replication_base(rows) == "auto-2"
    assert prune(rows, parse_policy("hourly=1"), NOW) == ["auto-1", "auto-3"]
    # the base may be of another kind: it is protected as long as it is marked
    rows.append(dict(row("send", NOW - 30, kind="send"), txg=5, replicated=True))
    assert retention.replication_base(rows) == "send"
    assert prune(rows, parse_policy("hourly=1"), NOW) == ["auto-1", "auto-2", "auto-3"]


def test_no_replicated_snapshot_protects_nothing_more():
    rows = [row("auto-1", NOW - 5 * H), row("auto-2", NOW - 60)]
    assert retention.replication_base(rows) is None
    assert prune(rows, parse_policy("hourly=1"), NOW) == ["auto-1"]
