"""The vzctl-style parser and the checks on values that reach zfs and mount."""
import os
import random
import re

import pytest

from vzzfs_hooks.conf import config
from vzzfs_hooks.base import names
from vzzfs_hooks.base.errors import ConfigError


def test_parser_reads_like_vzctl():
    text = '\n'.join([
        '# a comment',
        '   # an indented comment',
        'DISKSPACE="10G:11G"',
        'ONBOOT=yes',
        'HOSTNAME="a.b" # not a comment',
        "NAME='quoted'",
        'ONBOOT=no',              # first one wins
        'not an assignment',
        '1BAD=x',
        'EMPTY=',
        'SPACED = "v" ',
    ])
    v = config.parse_text(text)
    assert v["DISKSPACE"] == "10G:11G"
    assert v["ONBOOT"] == "yes"
    assert v["HOSTNAME"] == "a.b"
    assert v["NAME"] == "'quoted'"
    assert v["EMPTY"] == ""
    assert v["SPACED"] == "v"
    assert "1BAD" not in v and "not an assignment" not in v


def test_inline_hash_after_unquoted_value_is_part_of_it():
    assert config.parse_text("A=x # y")["A"] == "x # y"


def test_veid_expands_only_in_private_and_root():
    assert config.expand_veid("VE_PRIVATE", "/vz/private/$VEID", "101") == "/vz/private/101"
    assert config.expand_veid("VE_ROOT", "/vz/root/${VEID}", "101") == "/vz/root/101"
    assert config.expand_veid("HOSTNAME", "ct$VEID", "101") == "ct$VEID"


def test_later_layer_wins():
    assert config.merge({"A": "1", "B": "1"}, {"B": "2"}) == {"A": "1", "B": "2"}


@pytest.mark.parametrize("name", ["vz/vzzfs", "tank/a.b/c-d_e:f", "vz"])
def test_good_dataset_names(name):
    assert names.check_dataset_name(name) == name


@pytest.mark.parametrize("name", ["", "/vz", "vz/", "vz//x", "vz/../x", "vz/./x", "vz/-o",
                                  "vz/a b", "vz/a@b", "vz/a#b", "vz/a;rm", "vz/" + "x" * 300])
def test_bad_dataset_names(name):
    with pytest.raises(ConfigError):
        names.check_dataset_name(name)


@pytest.mark.parametrize("path", ["relative", "/", "/vz/../etc", "/vz/private/1 01", "/vz//x",
                                  "/vz/x/", "/vz/\nx"])
def test_bad_paths(path):
    with pytest.raises(ConfigError):
        config.check_abs_path(path, "VE_PRIVATE")


@pytest.mark.parametrize("opts", ["noatime,loop", "ro", "nosuid", "a b", "x;y", "bind", "",
                                  "remount,rw"])
def test_bad_mount_opts(opts):
    with pytest.raises(ConfigError):
        config.check_mount_opts(opts)


def test_good_mount_opts():
    assert config.check_mount_opts("noatime,errors=remount-ro,commit=30")


def test_settings_defaults_and_bad_values():
    s = config.Settings(dict(config.DEFAULTS))
    assert s.root == "vz/vzzfs" and s.pool == "vz" and s.volblocksize == 16384
    assert s.fsck == "preen" and not s.sparse
    for key, bad in (("VZZFS_VOLBLOCKSIZE", "12K"), ("VZZFS_VOLBLOCKSIZE", "1M"),
                     ("VZZFS_COMPRESSION", "lz4;x"), ("VZZFS_SPARSE", "maybe"),
                     ("VZZFS_FSCK", "force"), ("VZZFS_DEV_TIMEOUT", "0"),
                     ("VZZFS_ROOT", "../etc"), ("VZZFS_PRIMARYCACHE", "most")):
        raw = dict(config.DEFAULTS)
        raw[key] = bad
        with pytest.raises(ConfigError) as e:
            config.Settings(raw)
        assert key in e.value.line()


def test_node_reads_vzzfs_conf_over_defaults(tmp_path):
    (tmp_path / "vzzfs.conf").write_text('VZZFS_ROOT="tank/ct"\nUNRELATED=1\n')
    node = config.Node(str(tmp_path))
    assert node.settings().root == "tank/ct"
    assert "UNRELATED" not in node.vzzfs_params()


def test_node_from_conffile():
    node = config.Node.from_conffile("/etc/vz/conf/101.conf")
    assert node.etc_dir == "/etc/vz" and node.vz_conf == "/etc/vz/vz.conf"


def test_shipped_vzzfs_conf_lists_every_default():
    from vzzfs_hooks.conf.config import DEFAULTS, parse_file
    shipped = parse_file(os.path.join(os.path.dirname(__file__), "..", "..", "etc/vz/vzzfs.conf"))
    assert dict(shipped) == dict(DEFAULTS)


def test_ct_confs_is_the_one_walk_over_ct_confs(tmp_path):
    from vzzfs_hooks.conf.config import Node
    conf = tmp_path / "conf"
    conf.mkdir()
    for name in ("101.conf", "web.conf", "ve-vswap.conf-sample", "ve-x.conf", "102.conf.destroyed",
                 "vps.premount", "0.conf", "..conf"):
        (conf / name).write_text("")
    node = Node(str(tmp_path))
    assert node.ct_confs() == [("101", str(conf / "101.conf")), ("web", str(conf / "web.conf"))]
    assert Node(str(tmp_path / "missing")).ct_confs() == []


# ---- the string checks against the patterns they were (whole string, ASCII) ----
CHECK_PATTERNS = {
    config.is_key: r"[A-Za-z_][A-Za-z0-9_]*",
    config.is_mount_opts: r"[A-Za-z0-9_=.:+-]+(,[A-Za-z0-9_=.:+-]+)*",
    config.is_program: r"(/[A-Za-z0-9_.+-]+)+|[A-Za-z0-9_.+-]+",
    config.is_compression: r"on|off|lz4|lzjb|zle|zstd(-[0-9]+)?|gzip(-[1-9])?",
}
VZ_NUM = (r"(?:[ \t\n\v\f\r]*([+-]?)([0-9]+)(?:(\.)([0-9]*)(?:[eE]([+-]?[0-9]+))?)?"
          r"|(\.)([0-9]+)(?:[eE]([+-]?[0-9]+))?)")


def _random_texts(alphabet, seeds, count=20000):
    rnd = random.Random(11)
    texts = list(seeds)
    for _ in range(count):
        texts.append("".join(rnd.choice(alphabet) for _ in range(rnd.randrange(9))))
    return texts


def test_each_check_is_its_pattern():
    seeds = ["", "A", "_", "9A", "noatime,errors=remount-ro", "a,,b", ",a", "a,", "/usr/sbin/vzctl",
             "/", "//a", "a/b", "/a/", "zstd", "zstd-", "zstd-19", "gzip-0", "gzip-9", "gzip-10",
             "lz4\n", "A\n", "\u00e9", "\u0661"]
    texts = _random_texts("aAzZ09_=.:+-,/ \n\u00e9", seeds)
    texts += _random_texts("onfzstdgiplz4-0193", ())
    for check, pattern in CHECK_PATTERNS.items():
        wrong = [t for t in texts if check(t) != bool(re.fullmatch(pattern, t, re.ASCII))]
        assert not wrong[:5], check.__name__


def test_number_scan_reads_what_strtoull_and_strtold_read():
    seeds = ["", "1", " 1", "\t+12", "-3", "+", " -", "1.", "1.5", "1.e5", "1.5e", "1.5e+",
             "1.5e-3G", ".5", ".5e2", " .5", "+.5", ".", ".e5", "1e5", "12K:13K", "0x10"]
    for text in _random_texts(" \t\n+-.eE0129K:x", seeds):
        m = re.match(VZ_NUM, text)
        want = None
        if m:
            want = m.group(1, 2, 3, 4, 5) + (m.end(),)
            if m.group(6):
                want = ("", "0", ".", m.group(7), m.group(8), m.end())
        assert config._scan_number(text) == want, repr(text)
