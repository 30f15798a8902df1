"""A legacy CT's conf translated for OpenVZ 7, and what vz7 would reject or ignore."""
from vzzfs_hooks.conf.config import parse_text
from vzzfs_hooks.rules import conftranslate as ct

LEGACY = '''ONBOOT="yes"
PHYSPAGES="0:262144"
SWAPPAGES="0:131072"
KMEMSIZE="14372700:14790164"
DCACHESIZE="3409920:3624960"
DISKSPACE="2G:2.2G"
DISKINODES="131072:144179"
CPUUNITS="1000"
VE_ROOT="/vz/root/$VEID"
VE_PRIVATE="/vz/private/$VEID"
OSTEMPLATE="debian-7.0-x86_64"
ORIGIN_SAMPLE="vswap-256m"
HOSTNAME="web.example.org"
IP_ADDRESS="10.0.0.5 10.0.0.6/24 ;rm"
NAMESERVER="8.8.8.8"
NETIF="ifname=eth0,mac=00:18:51:AA:BB:CC,host_ifname=veth101.0,host_mac=00:18:51:DD:EE:FF,bridge=vmbr0"
NAME="web"
VE_LAYOUT="simfs"
DISK_QUOTA="no"
VZZFS_DATASET="vz/vzzfs/ct/101"
CAPABILITY="SYS_ADMIN:on"
DEVICES="b:8:0:rw"
BINDMOUNT="/:/mnt"
'''


def _tr(text=LEGACY, dists=("debian", "default")):
    return ct.to_vz7(parse_text(text), "101", dists)


def test_the_ct_itself_passes_and_the_node_keys_do_not():
    out, _ = _tr()
    assert out["VEID"] == "101"
    assert out["HOSTNAME"] == "web.example.org"
    assert out["DISKSPACE"] == "2G:2.2G" and out["PHYSPAGES"] == "0:262144"
    assert out["NAME"] == "web" and out["ONBOOT"] == "yes"
    assert out["DISTRIBUTION"] == "debian-7.0"
    for key in ("VE_ROOT", "VE_PRIVATE", "OSTEMPLATE", "VE_LAYOUT", "VZZFS_DATASET",
                "CAPABILITY", "DEVICES", "BINDMOUNT", "DCACHESIZE", "DISK_QUOTA"):
        assert key not in out, key


def test_bad_words_are_left_out_and_said():
    out, notes = _tr()
    assert out["IP_ADDRESS"] == "10.0.0.5 10.0.0.6/24"
    assert any("IP_ADDRESS: 1 invalid entry" in t for _, t in notes)


def test_netif_keeps_the_veth_and_names_the_bridge():
    out, notes = _tr()
    assert out["NETIF"] == ("ifname=eth0,mac=00:18:51:AA:BB:CC,host_ifname=veth101.0,"
                            "host_mac=00:18:51:DD:EE:FF")
    assert any(l == ct.WARN and "bridge=vmbr0" in t for l, t in notes)


def test_a_netif_field_that_could_name_a_path_or_program_is_left_out():
    out, notes = _tr('OSTEMPLATE="debian-7.0-x86_64"\n'
                     'NETIF="ifname=eth0,script=/tmp/x;ifname=../../x"\n')
    assert out["NETIF"] == "ifname=eth0"
    assert sum(1 for l, t in notes if l == ct.WARN and "NETIF" in t) == 3


def test_node_only_keys_are_named():
    _, notes = _tr()
    text = "\n".join(t for _, t in notes)
    for key in ("DEVICES", "BINDMOUNT"):
        assert "%s left out" % key in text
    assert "CAPABILITY, DCACHESIZE: vzctl 4.x only" in text


def test_a_distribution_the_target_knows_by_a_shorter_name():
    assert ct.dist_known("debian-7.0", ["debian"])
    assert ct.dist_known("centos-6", ["centos-6", "default"])
    assert not ct.dist_known("debian-7.0", ["default", "centos"])
    assert not ct.dist_known("debian-7.0", [])


def test_an_unknown_distribution_is_fatal_and_first():
    _, notes = _tr(dists=("centos", "default"))
    assert notes[0][0] == ct.FATAL and "knows no distribution debian-7.0" in notes[0][1]
    assert ct.fatal(notes) == [notes[0][1]]


def test_not_asked_no_fatal_finding():
    _, notes = _tr(dists=None)
    assert ct.fatal(notes) == []


def test_no_distribution_at_all_is_fatal():
    out, notes = _tr('HOSTNAME="x"\n')
    assert "DISTRIBUTION" not in out
    assert ct.fatal(notes) and "names no distribution" in ct.fatal(notes)[0]


def test_a_distribution_that_is_a_path_is_fatal():
    out, notes = _tr('DISTRIBUTION="../../etc/passwd"\n')
    assert "DISTRIBUTION" not in out and ct.fatal(notes)
    assert ct.distribution({"DISTRIBUTION": "a/b"}) is False


def test_distribution_wins_over_ostemplate():
    assert ct.distribution({"DISTRIBUTION": "centos-7", "OSTEMPLATE": "debian-7.0-x86_64"}) \
        == "centos-7"
    assert ct.distribution({"OSTEMPLATE": ".centos-7-x86_64"}) == "centos-7"
    assert ct.distribution({}) is None


def test_a_uuid_and_a_bad_name():
    out, notes = _tr('DISTRIBUTION="debian"\nUUID="not-a-uuid"\nNAME="../x"\n')
    assert "UUID" not in out and "NAME" not in out
    out, _ = _tr('DISTRIBUTION="debian"\nUUID="0b9e9a6c-1c3b-4f45-9a1e-0a1b2c3d4e5f"\n')
    assert out["UUID"] == "0b9e9a6c-1c3b-4f45-9a1e-0a1b2c3d4e5f"


def test_unknown_keys_are_named_and_lines_are_one_each():
    out, notes = _tr('DISTRIBUTION="debian"\nWHATEVER="1"\nHOSTNAME="a\\"b"\n')
    assert "WHATEVER" not in out
    for line in ct.lines(notes):
        assert "\n" not in line and line.split(":")[0] in (ct.FATAL, ct.WARN, ct.INFO)


def test_a_vz7_conf_translates_to_itself():
    out, _ = _tr()
    again, notes = ct.to_vz7(out, "101", ("debian",))
    assert again == out and ct.fatal(notes) == []


def _remote(**kw):
    r = {"platform": "openvz7", "dists": ["debian", "centos"], "exists": False, "conf": False}
    r.update(kw)
    return r


def test_a_migrate_between_legacy_nodes_finds_nothing():
    relay, notes = ct.migration("vzctl4", _remote(platform="vzctl4"), parse_text(LEGACY), "101")
    assert relay is False and notes == []


def test_an_older_peer_is_taken_for_vzctl_4():
    relay, notes = ct.migration("vzctl4", _remote(platform=None), parse_text(LEGACY), "101")
    assert relay is False and notes[0][0] == ct.INFO


def test_a_migrate_to_openvz_7_relays_out_and_names_the_conf():
    relay, notes = ct.migration("vzctl4", _remote(), parse_text(LEGACY), "101")
    assert relay is True and ct.fatal(notes) == []
    assert any("bridge=vmbr0" in t for _, t in notes)


def test_online_across_the_platforms_is_fatal():
    _, notes = ct.migration("vzctl4", _remote(), parse_text(LEGACY), "101", online=True)
    assert any("--online" in t for t in ct.fatal(notes))


def test_an_unknown_distribution_stops_the_migrate_before_it_starts():
    _, notes = ct.migration("vzctl4", _remote(dists=["centos"]), parse_text(LEGACY), "101")
    assert notes[0][0] == ct.FATAL and "debian-7.0" in notes[0][1]


def test_unlisted_dists_are_a_warning_not_a_pass():
    _, notes = ct.migration("vzctl4", _remote(dists=None), parse_text(LEGACY), "101")
    assert ct.fatal(notes) == [] and any("does not list" in t for l, t in notes if l == ct.WARN)


def test_from_openvz_7_to_vzctl_4_relays_out_there_and_checks_the_distribution():
    vz7 = parse_text('VEID="101"\nDISTRIBUTION="debian-7.0"\nOSTEMPLATE="debian-7.0-x86_64"\n')
    relay, notes = ct.migration("openvz7", _remote(platform="vzctl4", dists=["debian"]), vz7,
                                "101")
    assert relay is True and ct.fatal(notes) == []
    assert any("out of the ext4's fs/" in t for _, t in notes)
    _, notes = ct.migration("openvz7", _remote(platform="vzctl4", dists=["centos"]), vz7, "101")
    assert "knows no distribution debian-7.0" in ct.fatal(notes)[0]
    _, notes = ct.migration("openvz7", _remote(platform="vzctl4"), vz7, "101", online=True)
    assert any("--online" in t for t in ct.fatal(notes))
    _, notes = ct.migration("openvz7", _remote(platform="vzctl4", dists=None), {}, "101")
    assert ct.fatal(notes) == [] and [l for l, _ in notes].count(ct.WARN) == 2


def test_a_peers_platform_and_dists_survive_the_shape_check():
    """--status says which vzctl the peer runs and which distributions it knows; checked
    like the rest, since they decide a migrate's findings."""
    import pytest
    from vzzfs_hooks.base.errors import StreamError
    from vzzfs_hooks.rules import peer
    answer = {"exists": False, "conf": False, "snapshots": {}, "platform": "openvz7",
              "dists": ["debian", "centos-7"]}
    got = peer.status(answer)
    assert got["platform"] == "openvz7" and got["dists"] == ["debian", "centos-7"]
    older = peer.status({"exists": False})
    assert older["platform"] is None and older["dists"] is None
    for bad in ({"platform": "ploop"}, {"platform": 7}, {"dists": "debian"},
                {"dists": ["../etc"]}, {"dists": ["a b"]}, {"dists": ["x"] * 3000}):
        with pytest.raises(StreamError):
            peer.status(dict(answer, **bad))
