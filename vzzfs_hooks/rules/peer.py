"""What the other side of vzzfs send and replicate says, checked before anything acts
on it or shows it. Pure.

The sender runs `vzzfs receive --status CTID` there and reads its JSON; whatever
runs behind VZZFS_REPLICATE_TO or --to (another node, a compromised one, a typo)
can answer anything. ``status`` takes only the shape vzzfs receive gives, each
value of its type; ``token_refusal`` lets a resume token through only when the
stream it resumes is of this CT's own zvol (`zfs send -t` would send whatever
dataset it names); ``printable`` is how the peer's words reach a terminal or
syslog: one line, no control characters, bounded.
"""

import re

from ..base.errors import StreamError
from ..base.names import is_dataset_component, is_template_name

RESUME_INTO = (None, "full", "increment")
TOKEN_RE = r"^[0-9a-f]+(-[0-9a-f]+){3}\Z"   # zfs's: version-checksum-length-packed nvlist
MAX_TOKEN = 1 << 16
MAX_SNAPSHOTS = 100000
GUID_RE = r"^[0-9]{1,20}\Z"
MAX_SHOWN = 300


def _bad(what):
    return StreamError("the other side's status answer is not vzzfs receive's (%s)" % what,
                       "check that the --to command (VZZFS_REPLICATE_TO) runs vzzfs receive "
                       "of this version there")


STREAMS_KEY = "streams"  # rules/streams.py STATUS_KEY: the stream features it takes
MAX_OFFERED = 64
PLATFORMS = ("vzctl4", "openvz7")  # system/vzctl.py's VZCTL4, OPENVZ7
MAX_DISTS = 2000
OFFER_RE = r"^[a-z0-9_.:-]{1,100}$"


def status(answer):
    """``answer`` (parsed JSON) if it has the shape and types of vzzfs receive --status,
    with absent optional keys filled in; else StreamError."""
    if not isinstance(answer, dict):
        raise _bad("not an object")
    out = {}
    for key in ("exists", "conf"):
        value = answer.get(key, False)
        if not isinstance(value, bool):
            raise _bad("%s is not true or false" % key)
        out[key] = value
    snaps = answer.get("snapshots")
    snaps = {} if snaps is None else snaps
    if not isinstance(snaps, dict) or len(snaps) > MAX_SNAPSHOTS:
        raise _bad("snapshots is not a map of names to guids")
    for name, guid in snaps.items():
        if not (isinstance(name, str) and isinstance(guid, str) and len(name) <= 200
                and is_dataset_component(name) and re.match(GUID_RE, guid)):
            raise _bad("a snapshot entry is not a name and a guid")
    out["snapshots"] = dict(snaps)
    token = answer.get("resume_token")
    if token is not None and not (isinstance(token, str) and len(token) <= MAX_TOKEN
                                  and re.match(TOKEN_RE, token)):
        raise _bad("resume_token is not a zfs resume token")
    into = answer.get("resume_into")
    if into not in RESUME_INTO or (token is None) != (into is None):
        raise _bad("resume_into is not full or increment")
    out["resume_token"], out["resume_into"] = token, into
    offered = answer.get(STREAMS_KEY)  # what it takes (rules/streams.py); older ones: none
    if offered is not None:
        if not (isinstance(offered, list) and len(offered) <= MAX_OFFERED and all(
                isinstance(o, str) and re.match(OFFER_RE, o) for o in offered)):
            raise _bad("streams is not a list of stream features")
        out[STREAMS_KEY] = list(offered)
    platform = answer.get("platform")  # its vzctl's (system/vzctl.py); older ones: none
    if platform is not None and platform not in PLATFORMS:
        raise _bad("platform is not one vzzfs knows")
    out["platform"] = platform
    dists = answer.get("dists")  # the distributions its vzctl has a conf for
    if dists is not None:
        if not (isinstance(dists, list) and len(dists) <= MAX_DISTS and all(
                isinstance(d, str) and is_template_name(d) for d in dists)):
            raise _bad("dists is not a list of distribution names")
        dists = list(dists)
    out["dists"] = dists
    return out


def token_refusal(toname, dataset):
    """None if a resume token whose stream is of snapshot ``toname`` (what `zfs send
    -nvt` reads from it; None when it could not be read) may be sent for the CT whose
    zvol is ``dataset``; else (problem, fix)."""
    fix = ("abort it there (zfs receive -A on the other side's partial receive), then send "
           "again")
    if not toname:
        return ("the other side's resume token cannot be read", fix)
    if toname.partition("@")[0] != dataset:
        return ("the other side's resume token is for %s, not this CT's %s"
                % (printable(toname), dataset), fix)
    return None


def printable(text, limit=MAX_SHOWN):
    """The peer's ``text`` (str or bytes) as one bounded line without control characters."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join("".join(c if c.isprintable() else " " for c in str(text)).split())
    return text if len(text) <= limit else text[:limit] + "..."
