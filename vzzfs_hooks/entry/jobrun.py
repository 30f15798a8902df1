"""A scheduled job (autosnap, replicate) run from the CLI: a line per CT, the metrics
file refreshed even after a failure, and one error naming the CTs that failed."""

from ..base.errors import VzzfsError


def run(node, name, run_all, only, line):
    """``run_all(node, only)`` gives [(ctid, result, error line)]; ``line(ctid, result)``
    says what one CT's result was (None: nothing worth a line). A CT that failed has
    its line on stderr and in syslog already; the others are still reported."""
    from ..jobs import monitor
    try:
        results = run_all(node, only)
    finally:
        monitor.refresh(node)  # node_exporter's textfile, also after a failed run
    failed = []
    for ctid, result, error in results:
        if error:
            failed.append(ctid)
            continue
        text = line(ctid, result)
        if text:
            print(text)
    if failed:
        raise VzzfsError("%s failed for CT %s" % (name, ", ".join(failed)),
                         "see the lines above or syslog; vzzfs check reports them until "
                         "a run succeeds")
