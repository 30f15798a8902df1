"""DISKSPACE, DISKINODES and sizes read to the same numbers as vzctl 4.11.1 reads them.

Every expected value below was worked out by hand from vzctl 4.11.1's
src/lib/config.c: parse_dq() -> parse_twoul_sfx(value, divisor, allow_unlimited=0)
-> parse_ul_sfx() (strtoull, strtold from the start after a '.', one get_mul()
suffix, value * mul / divisor cut towards zero, over LONG_MAX: ERR_LONG_TRUNC,
which parse() turns into ERR_INVAL). The divisor is 1024 for DISKSPACE (KiB)
and 1 for DISKINODES (a count). The stock samples come from vzctl's own tarball,
expected beside the project as ../shared/vzctl/*.tar.gz.
"""
import glob
import os
import tarfile

import pytest

from vzzfs_hooks.conf import config
from vzzfs_hooks.system import ext4
from vzzfs_hooks.base.errors import ConfigError

LONG_MAX = 2 ** 63 - 1
VZCTL_TARBALLS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "..", "shared", "vzctl", "*.tar.gz")

# (text, divisor, (barrier, limit)); divisor 1024: DISKSPACE in KiB, 1: DISKINODES
VZCTL_CASES = [
    ("2G:2.2G", 1024, (2097152, 2306867)),        # 2.2 * 2^30 / 1024 = 2306867.2 -> cut
    ("1G:1.1G", 1024, (1048576, 1153433)),        # 1153433.6 -> cut, not rounded
    ("131072:144179", 1, (131072, 144179)),       # no suffix: the number as it is
    ("65536:72090", 1, (65536, 72090)),
    ("10G", 1024, (10485760, 10485760)),          # no limit: limit = barrier
    ("1048576", 1024, (1048576, 1048576)),        # a bare DISKSPACE number is KiB
    ("2.7", 1024, (2, 2)),                        # a bare decimal is cut: strtold, cast
    ("512m:1t", 1024, (524288, 1073741824)),      # suffixes in either case
    ("2.2g:2.2t", 1024, (2306867, 2362232012)),
    ("1000P", 1024, (4000, 4000)),                # P: a page (4096 on x86-64)
    ("3072B", 1024, (3, 3)),                      # B: a byte
    (".5G", 1024, (524288, 524288)),              # strtoull stops at '.', strtold reads .5
    ("5.G", 1024, (5242880, 5242880)),
    ("1.5e3K", 1024, (1500, 1500)),               # strtold takes an exponent after a '.'
    ("+2G", 1024, (2097152, 2097152)),            # strtoull takes a sign
    (" 2G: 3G", 1024, (2097152, 3145728)),        # ... and leading blanks, in each part
    ("\v5", 1, (5, 5)),                           # C's isspace blanks
    ("0.4e-4931", 1, (0, 0)),                     # a normal long double: no ERANGE
    ("0.3K", 1024, (0, 0)),                       # 0.3 * 1024 / 1024
    ("0.3K", 1, (307, 307)),                      # 0.3 * 1024 / 1
    ("1.1M", 1, (1153433, 1153433)),
    ("", 1024, (0, 0)),                           # nothing converted: 0, tail '\0'
    ("2G:", 1024, (2097152, 0)),                  # an empty limit is 0
    (":5", 1024, (0, 5)),
    ("-0", 1024, (0, 0)),
    ("-2B", 1024, (18014398509481983, 18014398509481983)),  # strtoull wraps: (2^64-2)/1024
    ("9223372036854775807", 1, (LONG_MAX, LONG_MAX)),        # LONG_MAX is valid
    ("8589934591T", 1024, (9223372035781033984, 9223372035781033984)),
]

# ERR_INVAL in vzctl: it warns "invalid value" and skips the line
VZCTL_INVALID = [
    ("unlimited", 1024),              # allow_unlimited is 0 for DISKSPACE and DISKINODES
    ("unlimited", 1),
    ("2G:unlimited", 1024),
    ("9223372036854775808", 1),       # over LONG_MAX: ERR_LONG_TRUNC -> ERR_INVAL
    ("8589934592T", 1024),            # 2^43 T in KiB is 2^63: over LONG_MAX
    ("99999999999999999999", 1024),   # strtoull: ERANGE
    ("-5G", 1024),                    # wraps past LONG_MAX
    ("2GB", 1024),                    # one suffix only
    ("2 G", 1024),                    # a blank is not a suffix
    ("2G ", 1024),
    ("10X", 1024),
    ("+.5G", 1024),                   # strtoull converts nothing, tail '+'
    ("1.5e", 1024),                   # 'e' without digits is left as a (bad) suffix
    ("15e3K", 1024),                  # an exponent only after a '.'
    ("1:2:3", 1024),
    ("ten", 1024),
    ("0.3e-4931", 1),                 # strtold: ERANGE under LDBL_MIN
    ("1.2e4932", 1),                  # strtold: ERANGE over LDBL_MAX
    ("\xa05", 1),                     # a blank for Python, not for C's isspace
]


@pytest.mark.parametrize("text,divisor,pair", VZCTL_CASES)
def test_pairs_like_vzctl(text, divisor, pair):
    assert config.parse_vzctl_pair(text, divisor, "X") == pair


@pytest.mark.parametrize("text,divisor", VZCTL_INVALID)
def test_invalid_like_vzctl(text, divisor):
    with pytest.raises(ConfigError):
        config.parse_vzctl_pair(text, divisor, "X")


def test_diskspace_is_the_limit_in_bytes():
    assert config.parse_diskspace("2G:2.2G") == 2306867 * 1024
    assert config.parse_diskspace("10G") == 10 << 30


@pytest.mark.parametrize("text", ["unlimited", "2G:unlimited", "9223372036854775807",
                                  "1G:9223372036854775807", "", "0", "2G:"])
def test_diskspace_without_a_size_is_a_clear_error(text):
    with pytest.raises(ConfigError) as e:
        config.parse_diskspace(text)
    assert "a zvol needs a size" in e.value.line()


def test_premount_leaves_an_unlimited_diskspace_alone():
    assert config.parse_diskspace("unlimited", unlimited_ok=True) is None
    assert config.parse_diskspace("1G:9223372036854775807", unlimited_ok=True) is None
    assert config.parse_diskspace("1G:2G", unlimited_ok=True) == 2 << 30


def test_diskinodes_pairs():
    assert config.parse_diskinodes("131072:144179") == (131072, 144179)
    assert config.parse_diskinodes("200000") == (200000, 200000)
    # vzctl skips 'unlimited' as invalid: no DISKINODES, ext4's own count
    assert config.parse_diskinodes("unlimited") is None
    assert config.parse_diskinodes("9223372036854775807") is None
    for bad in ("lots", "0", "5:0", "-5"):
        with pytest.raises(ConfigError):
            config.parse_diskinodes(bad)


def test_sizes_take_vzctl_numbers_in_bytes():
    assert config.parse_size("16K") == 16384
    assert config.parse_size("2.5G") == 5 << 29
    assert config.parse_size("4096") == 4096
    for bad in ("", "0", "1G:2G", "10Q", "abc", "-1"):
        with pytest.raises(ConfigError):
            config.parse_size(bad)


def _stock_samples():
    """{member name: text} of the files in vzctl's etc/conf (samples; symlinks skipped)."""
    found = sorted(glob.glob(VZCTL_TARBALLS))
    if not found:
        pytest.fail("vzctl's source tarball is missing: expected %s (the project's tree needs "
                    "../shared/vzctl/ beside it)" % os.path.normpath(VZCTL_TARBALLS))
    samples = {}
    for path in found:
        with tarfile.open(path) as tar:
            for member in tar.getmembers():
                if member.isfile() and "/etc/conf/" in member.name:
                    samples[member.name] = tar.extractfile(member).read().decode("utf-8")
    return samples


# each stock value, worked out from parse_ul_sfx() as in VZCTL_CASES
STOCK = {("DISKSPACE", "2G:2.2G"): (2097152, 2306867),
         ("DISKSPACE", "1G:1.1G"): (1048576, 1153433),
         ("DISKINODES", "131072:144179"): (131072, 144179),
         ("DISKINODES", "65536:72090"): (65536, 72090)}


def test_every_stock_sample_parses():
    samples = _stock_samples()
    assert any(name.endswith("ve-vswap-256m.conf-sample") for name in samples)
    for name, text in samples.items():
        values = config.parse_text(text, name)
        for key in ("DISKSPACE", "DISKINODES"):
            if key not in values:
                assert not name.endswith(".conf-sample"), "%s has no %s" % (name, key)
                continue
            value = values[key]
            assert (key, value) in STOCK, "%s: %s=%r: work its numbers out from vzctl's " \
                                          "parse_ul_sfx() and add it to STOCK" % (name, key, value)
            if key == "DISKSPACE":
                assert config.parse_vzctl_pair(value, 1024, key) == STOCK[key, value]
                size = config.parse_diskspace(value)
                assert size == STOCK[key, value][1] * 1024 and size >= ext4.MIN_SIZE
            else:
                assert config.parse_diskinodes(value) == STOCK[key, value]


@pytest.mark.parametrize("text,kib", [
    ("0" * 5000 + "5G", 5 << 20),                  # leading zeros: strtoull reads them
    ("2." + "9" * 5000 + "G", (3 << 20) - 1),      # decimals past a long double's
    ("0.0e" + "9" * 5000, 0),
])
def test_numbers_of_thousands_of_digits_are_read_without_converting_them_whole(text, kib):
    assert config.parse_vzctl_pair(text, 1024, "DISKSPACE")[1] == kib


@pytest.mark.parametrize("text", ["1" * 5000, "1" * 5000 + "G", "1." + "1" * 5000 + "e" + "9" * 5000,
                                  "1.5e-" + "9" * 5000, "1:" + "2" * 4400])
def test_a_number_of_thousands_of_digits_is_a_config_error_not_a_crash(text):
    """Issue 29, 7: Python 3.11 refuses int() of 4,300+ digits with ValueError."""
    with pytest.raises(ConfigError):
        config.parse_diskspace(text)


def test_other_numbers_in_confs_are_bounded_too():
    from vzzfs_hooks.rules import iolimits, retention
    for parse, text in ((retention.parse_policy, "hourly=" + "1" * 5000),
                        (iolimits.parse_iolimit, "9" * 5000),
                        (iolimits.parse_iopslimit, "9" * 5000)):
        with pytest.raises(ConfigError):
            parse(text)
