"""lzc.py's pure parts: property values as the kernel takes them, the read's answer."""
import pytest

from vzzfs_hooks.system import lzc


def test_index_properties_become_their_kernel_numbers():
    assert lzc.prop_index("compression", "lz4") == 15
    assert lzc.prop_index("compression", "off") == 2
    assert lzc.prop_index("compression", "gzip") == lzc.prop_index("compression", "gzip-6")
    assert lzc.prop_index("dedup", "off") == 2
    assert lzc.prop_index("dedup", "sha256,verify") == 8 | 256
    assert lzc.prop_index("primarycache", "metadata") == 1


def test_user_properties_stay_strings_and_unknown_values_go_to_the_cli():
    assert lzc.prop_index("org.openvz.vzzfs:ctid", "101") == "101"
    assert lzc.prop_index("compression", "zstd-3") is None  # libzfs knows, this does not
    assert lzc.prop_index("volblocksize", "16384") is None
    assert lzc.prop_index("compression", "LZ4") is None


def test_every_value_vzzfs_accepts_for_dedup_and_primarycache_is_in_the_table():
    for value in ("on", "off", "verify", "sha256", "sha256,verify"):
        assert isinstance(lzc.prop_index("dedup", value), int)
    for value in ("all", "metadata", "none"):
        assert isinstance(lzc.prop_index("primarycache", value), int)


def test_the_read_programs_fields_parse_back_to_names_and_values():
    data = (b"6:vz/a@s7:volsize4:4096" + b"4:vz/a5:a:b:c-" + b"2:vz4:used3:1:2"
            + b"5:vz/ct0:-")  # a name asked nothing: it exists
    assert lzc.parse_fields(data) == {"vz/a@s": {"volsize": "4096"}, "vz/a": {"a:b:c": None},
                                      "vz": {"used": "1:2"}, "vz/ct": {}}
    assert lzc.parse_fields(b"") == {}


def test_field_lengths_count_bytes_as_lua_does():
    value = u"\u00e9t\u00e9".encode("utf-8")  # 3 characters, 5 bytes
    data = b"2:vz1:x" + str(len(value)).encode() + b":" + value
    assert lzc.parse_fields(data) == {"vz": {"x": u"\u00e9t\u00e9"}}


@pytest.mark.parametrize("data", [b"3:ab", b"x:abc", b"2:vz4:used",
                                  b"4:vz/a5:a:b:c-2:vz4:used9:1"])
def test_a_mangled_answer_raises_value_error(data):
    with pytest.raises(ValueError):
        lzc.parse_fields(data)


def test_vzzfs_no_lzc_turns_the_bindings_off(monkeypatch):
    monkeypatch.setenv("VZZFS_NO_LZC", "1")
    assert lzc._load() is None
