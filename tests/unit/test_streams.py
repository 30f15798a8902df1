"""rules/streams: which kind of zfs send stream goes where (flags for a kind, what a
node offers and a stream needs, the choice for a peer, a header's kind and a
restore's refusal), for every case, without ZFS."""
import pytest

from vzzfs_hooks.rules import streams
from vzzfs_hooks.rules.streams import COMPRESSED, PLAIN, RECORDS

# a pool as `zpool create` makes one on OpenZFS 2.1: lz4 and embedded blocks active
POOL21 = {"embedded_data": "active", "lz4_compress": "active", "zstd_compress": "enabled",
          "large_blocks": "enabled"}
POOL08 = {"embedded_data": "active", "lz4_compress": "active"}  # before zstd existed


def test_each_kind_has_its_flags_and_p_always():
    assert streams.send_flags(PLAIN) == ["-p"]
    assert streams.send_flags(COMPRESSED) == ["-p", "-c", "-e"]
    with pytest.raises(ValueError):
        streams.send_flags("raw")


def test_a_node_offers_compressed_records_from_0_7_and_its_enabled_features():
    assert streams.offer((2, 1), POOL21) == [RECORDS, "embedded_data", "lz4_compress",
                                              "zstd_compress"]
    assert streams.offer((0, 8), POOL08) == [RECORDS, "embedded_data", "lz4_compress"]
    assert streams.offer((0, 6), POOL08) == ["embedded_data", "lz4_compress"]
    assert streams.offer(None, {}) == [], "a zfs of unknown version offers nothing"
    assert streams.offer((2, 1), {"lz4_compress": "disabled"}) == [RECORDS]


def test_a_compressed_stream_needs_the_features_active_where_it_comes_from():
    assert streams.needs(POOL21) == [RECORDS, "embedded_data", "lz4_compress"]
    zstd = dict(POOL21, zstd_compress="active")  # a CT (any dataset) compressed with zstd
    assert streams.needs(zstd) == [RECORDS, "embedded_data", "lz4_compress", "zstd_compress"]
    assert streams.needs({}) == [RECORDS]


def test_the_sender_picks_compressed_only_when_the_peer_says_it_takes_all_of_it():
    needs = streams.needs(POOL21)
    assert streams.choose({streams.STATUS_KEY: streams.offer((2, 1), POOL21)}, needs) == (
        COMPRESSED, None)
    assert streams.choose({streams.STATUS_KEY: streams.offer((0, 8), POOL08)}, needs) == (
        COMPRESSED, None), "zstd is not needed while no dataset uses it"
    # an older vzzfs there: its answer has no such key
    kind, why = streams.choose({"exists": False, "snapshots": {}}, needs)
    assert kind == PLAIN and "predates compressed streams" in why
    kind, why = streams.choose({streams.STATUS_KEY: "yes"}, needs)
    assert kind == PLAIN, "an answer of the wrong shape is no offer"
    kind, why = streams.choose({streams.STATUS_KEY: streams.offer((0, 6), POOL08)}, needs)
    assert kind == PLAIN and "its zfs predates compressed send streams" in why
    kind, why = streams.choose({streams.STATUS_KEY: [RECORDS, "embedded_data"]}, needs)
    assert kind == PLAIN and why.endswith("its pool lacks feature lz4_compress")
    kind, why = streams.choose({streams.STATUS_KEY: [RECORDS]},
                               streams.needs(dict(POOL21, zstd_compress="active")))
    assert why.endswith("lacks features embedded_data, lz4_compress, zstd_compress")


def test_a_header_without_a_kind_is_a_plain_stream_from_before():
    assert streams.header_kind({}) == PLAIN
    assert streams.header_kind({"stream": "plain"}) == PLAIN
    assert streams.header_kind({"stream": "compressed"}) == COMPRESSED
    assert streams.header_kind({"stream": "raw"}) is None


def test_a_restore_refuses_what_this_node_cannot_take_and_names_the_fix():
    here = streams.offer((2, 1), POOL21)
    assert streams.refusal({}, [], "vz") is None, "an old file: plain, any node takes it"
    assert streams.refusal({"stream": "plain"}, [], "vz") is None
    header = {"stream": "compressed", "stream_needs": streams.needs(POOL21)}
    assert streams.refusal(header, here, "vz") is None
    problem, fix = streams.refusal(header, [RECORDS, "embedded_data"], "vz")
    assert "pool vz cannot take" in problem and "the pool lacks feature lz4_compress" in problem
    assert "zpool set feature@lz4_compress=enabled vz" in fix and "--plain" in fix
    problem, fix = streams.refusal(header, ["embedded_data", "lz4_compress"], "vz")
    assert "its zfs predates compressed send streams" in problem and "zpool" not in fix
    # needs missing or malformed: compressed records at least
    assert streams.refusal({"stream": "compressed"}, [], "vz") is not None
    assert streams.refusal({"stream": "compressed", "stream_needs": [1]}, [RECORDS], "vz") \
        is None
    problem, fix = streams.refusal({"stream": "raw"}, here, "vz")
    assert "'raw' stream" in problem


def test_every_report_words_a_stream_the_same_way():
    assert streams.sent_how({"base": None}) == "full"
    assert streams.sent_how({"base": "vz/ct@a", "resumed": False}) == "incremental"
    assert streams.sent_how({"base": None, "resumed": True}) == "resumed"
