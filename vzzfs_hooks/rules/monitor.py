"""What vzzfs tells the operators' monitoring: a Nagios/Icinga plugin's verdict and a
node_exporter textfile. Pure: jobs/monitor.py gathers the figures.

Each CT is a dict: ctid, used, volsize (bytes), snapshot (epoch of its newest
scheduled snapshot, or None), policy (it has a VZZFS_SNAPSHOT_KEEP), replicated
(epoch of the newest snapshot the peer has, or None), replicates (it is replicated),
jobs {job: (epoch, error line or None)} (its last autosnap and replicate outcome).
"""

import re

from ..base.errors import UsageError

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3   # a Nagios plugin's exit codes
WORDS = ("OK", "WARNING", "CRITICAL", "UNKNOWN")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DEFAULT_SNAPSHOT_AGE = "2h:6h"
DEFAULT_REPLICATION_LAG = "3h:12h"


def parse_age(text, what):
    """Seconds from '90s', '45m', '2h', '7d' or a plain number of seconds."""
    m = re.match(r"^([0-9]{1,9})([smhd]?)\Z", (text or "").strip())
    if not m:
        raise UsageError("%s %r is not an age" % (what, text), "use e.g. 90m, 2h or 1d")
    return int(m.group(1)) * _UNITS[m.group(2) or "s"]


def parse_thresholds(text, what):
    """(warning, critical) seconds from 'WARN:CRIT', e.g. '2h:6h'."""
    warn, sep, crit = (text or "").partition(":")
    if not sep:
        raise UsageError("%s %r is not WARN:CRIT" % (what, text), "use e.g. 2h:6h")
    warn, crit = parse_age(warn, what), parse_age(crit, what)
    if warn > crit:
        raise UsageError("%s %r: the warning comes after the critical age" % (what, text),
                         "use e.g. 2h:6h")
    return warn, crit


def _age(now, epoch):
    return None if epoch is None else max(0, int(now - epoch))


def _level(age, thresholds):
    """OK, WARNING or CRITICAL for an age (None: none at all, CRITICAL)."""
    if age is None or age > thresholds[1]:
        return CRITICAL
    return WARNING if age > thresholds[0] else OK


def nagios(now, cts, fill, fill_warn, findings, snapshot_age, replication_lag):
    """(exit code, the plugin's one line with perfdata). ``findings``: vzzfs check's
    (level, message) list; ``fill``: the pool's percent full; thresholds as
    parse_thresholds gives them."""
    problems = []  # (level, text)
    for level, message in findings:
        if level in ("warn", "fail"):
            problems.append((CRITICAL if level == "fail" else WARNING, message))
    perf = ["pool_fill=%d%%;%d;;0;100" % (fill, fill_warn)]
    for ct in cts:
        if ct.get("policy"):
            age = _age(now, ct.get("snapshot"))
            level = _level(age, snapshot_age)
            if level:
                problems.append((level, "CT %s: newest scheduled snapshot %s" % (
                    ct["ctid"], "missing" if age is None else "%ds old" % age)))
            if age is not None:
                perf.append("ct%s_snapshot_age=%ds;%d;%d;0;" % ((ct["ctid"], age)
                                                                + snapshot_age))
        if ct.get("replicates"):
            lag = _age(now, ct.get("replicated"))
            level = _level(lag, replication_lag)
            if level:
                problems.append((level, "CT %s: replication lag %s" % (
                    ct["ctid"], "unknown, nothing replicated" if lag is None
                    else "%ds" % lag)))
            if lag is not None:
                perf.append("ct%s_replication_lag=%ds;%d;%d;0;" % ((ct["ctid"], lag)
                                                                   + replication_lag))
    code = max([level for level, _ in problems] + [OK])
    if code == OK:
        text = "%d CTs, pool %d%% full" % (len(cts), fill)
    else:
        worst = [t for level, t in problems if level == code]
        text = "; ".join(worst[:5]) + (" (and %d more)" % (len(problems) - 5)
                                       if len(problems) > 5 else "")
    return code, "VZZFS %s - %s | %s" % (WORDS[code], _clean(text), " ".join(perf))


def _clean(text):
    """One line a plugin may print: no '|' (perfdata's separator), no control bytes."""
    return " ".join("".join(c if c.isprintable() and c != "|" else " " for c in text).split())


def _label(value):
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus(now, cts, pool, fill):
    """node_exporter textfile collector's text for the node's CTs and pool."""
    out = []

    def metric(name, help_text, kind, samples):
        out.append("# HELP vzzfs_%s %s" % (name, help_text))
        out.append("# TYPE vzzfs_%s %s" % (name, kind))
        for labels, value in samples:
            out.append("vzzfs_%s{%s} %s" % (name, ",".join(
                '%s="%s"' % (k, _label(v)) for k, v in labels), value))
    ct_label = lambda ct, *more: [("ctid", ct["ctid"])] + list(more)  # noqa: E731
    metric("pool_fill_ratio", "how full the pool is (its root's used / (used + available))",
           "gauge", [([("pool", pool)], "%.2f" % (fill / 100.0))])
    metric("ct_used_bytes", "space the CT's zvol uses, its snapshots included", "gauge",
           [(ct_label(ct), ct["used"]) for ct in cts])
    metric("ct_volsize_bytes", "size of the CT's zvol", "gauge",
           [(ct_label(ct), ct["volsize"]) for ct in cts])
    metric("ct_last_snapshot_age_seconds", "age of the CT's newest scheduled snapshot",
           "gauge", [(ct_label(ct), _age(now, ct["snapshot"])) for ct in cts
                     if ct.get("snapshot") is not None])
    metric("ct_replication_age_seconds", "age of the newest snapshot the replication "
           "peer has", "gauge", [(ct_label(ct), _age(now, ct["replicated"])) for ct in cts
                                 if ct.get("replicated") is not None])
    samples, times = [], []
    for ct in cts:
        for job, (when, error) in sorted(ct.get("jobs", {}).items()):
            samples.append((ct_label(ct, ("job", job)), 0 if error else 1))
            if isinstance(when, int):
                times.append((ct_label(ct, ("job", job)), when))
    metric("ct_job_success", "1 if the CT's last run of the job succeeded, 0 if it failed",
           "gauge", samples)
    metric("ct_job_last_run_timestamp_seconds", "when the job last ran for the CT", "gauge",
           times)
    return "\n".join(out) + "\n"
