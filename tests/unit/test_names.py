"""names.py is the one home of every name vzzfs gives and of the checks for names."""
import ast
import glob
import os
import random
import re

import pytest

from vzzfs_hooks.base import names
from vzzfs_hooks.base.errors import ConfigError, UsageError

PKG = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                   "vzzfs_hooks")


def test_the_layout_under_vzzfs_root():
    assert names.ct_dataset("vz/vzzfs", "101") == "vz/vzzfs/ct/101"
    assert names.ct_parent("vz/vzzfs") == "vz/vzzfs/ct"
    assert names.template_dataset("vz/vzzfs", "debian-12") == "vz/vzzfs/tmpl/debian-12"
    assert names.golden_snapshot("vz/vzzfs", "debian-12") == "vz/vzzfs/tmpl/debian-12@golden"
    assert names.incoming_dataset("vz/vzzfs", "101", names.RESTORING) == \
        "vz/vzzfs/incoming/101-restoring"
    assert names.snapshot("vz/vzzfs/ct/101", names.clone_snapshot_name("102")) == \
        "vz/vzzfs/ct/101@vzzfs-clone-102"


def test_short_origin_names_templates_and_ct_clones():
    assert names.short_origin(None) == "-"
    assert names.short_origin("vz/vzzfs/tmpl/deb@golden") == "tmpl/deb"
    assert names.short_origin("vz/vzzfs/ct/101@s1") == "ct/101@s1"
    assert names.short_origin("other/zvol@x") == "other/zvol@x"


def test_timed_names_sort_by_time():
    a = names.timed_snapshot_name(names.BACKUP_PREFIX, 1700000000)
    b = names.timed_snapshot_name(names.BACKUP_PREFIX, 1700000001)
    assert a.startswith("vzzfs-backup-") and a < b
    names.check_snapshot_name(a)


@pytest.mark.parametrize("bad", ["", "a b", "a/b", "a@b", "-x", "..", "x" * 201])
def test_a_bad_snapshot_name_is_a_usage_error_that_says_what_is_allowed(bad):
    with pytest.raises(UsageError) as e:
        names.check_snapshot_name(bad)
    assert "invalid snapshot name" in e.value.problem and "/" not in e.value.fix.split("(")[0]
    assert e.value.exit_code == 2


@pytest.mark.parametrize("bad", ["", "/vz", "vz/", "vz//a", "vz/../a", "vz/-a", "vz/a b"])
def test_a_bad_dataset_name_is_a_config_error(bad):
    with pytest.raises(ConfigError):
        names.check_dataset_name(bad)


# The rules as they were written as patterns (whole string: \\Z, no newline after)
PATTERNS = {
    names.is_ctid: r"[1-9][0-9]{0,9}",
    names.is_ct_name: r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}",
    names.is_uuid: r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    names.is_dataset_component: r"[A-Za-z0-9_.:-]+",
    names.is_template_name: r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}",
}


def _corpus():
    rnd = random.Random(7)
    alphabet = "0123456789abcdefxyzABFZ_.-:/@ \n\t\u00e9\u0661"  # \u0661: an Arabic-Indic digit
    texts = ["", "0", "1", "101", "0101", "2147483647", "9999999999", "12345678901",
             "a" * 64, "a" * 65, "a" * 128, "a" * 129, "101\n", "deb\n", "\u0661",
             "12345678-1234-1234-1234-123456789abc", "12345678-1234-1234-1234-123456789ABC",
             "12345678-1234-1234-12341-23456789abc", "1234567-81234-1234-1234-123456789abc",
             "12345678-1234-1234-1234-123456789abc\n", "-a", ".a", "_a", "a..b"]
    for _ in range(20000):
        texts.append("".join(rnd.choice(alphabet) for _ in range(rnd.choice((1, 2, 5, 11, 36, 70)))))
        uuid = "%08x-%04x-%04x-%04x-%012x" % tuple(rnd.getrandbits(b) for b in (32, 16, 16, 16, 48))
        texts.append(uuid[:rnd.randrange(37)] + rnd.choice(("", "-", "g", "0")))
    return texts


def test_each_check_is_its_pattern_and_refuses_a_trailing_newline():
    texts = _corpus()
    for check, pattern in PATTERNS.items():
        wrong = [t for t in texts if check(t) != bool(re.fullmatch(pattern, t, re.ASCII))]
        assert not wrong[:5], check.__name__
        assert not check("1\n") and not check("a\n")


def test_template_and_ctid_checks():
    assert names.check_template_name("debian-12.0-x86_64") == "debian-12.0-x86_64"
    for bad in ("", "../x", "a..b", "-x", "a/b"):
        with pytest.raises(UsageError):
            names.check_template_name(bad)
    assert names.check_ctid(101) == "101"
    for bad in ("0", "../x", "2147483648", ""):
        with pytest.raises(UsageError):
            names.check_ctid(bad)


def _literals(path):
    for node in ast.walk(ast.parse(open(path).read())):
        value = getattr(node, "value", getattr(node, "s", None))  # ast.Str before 3.8
        if isinstance(node, (ast.Constant, getattr(ast, "Str", ast.Constant))) \
                and isinstance(value, str):
            yield node.lineno, value


def test_no_other_module_spells_a_property_key_or_the_layout():
    found = []
    for path in sorted(glob.glob(os.path.join(PKG, "*.py"))):
        if os.path.basename(path) == "names.py":
            continue
        for line, text in _literals(path):
            if "org.openvz.vzzfs:" in text.split("\n")[0] and " " not in text:
                found.append("%s:%d %r" % (os.path.basename(path), line, text))
            if text in ("ct", "tmpl", "incoming", "golden", "/ct", "/tmpl", "@golden") \
                    or text.startswith("vzzfs-") and text.endswith("-"):
                found.append("%s:%d %r" % (os.path.basename(path), line, text))
    assert not found, "ask names.py instead: " + ", ".join(found)
