"""Importing a conf from a backup, a sender or a snapshot: only the CT's own settings."""
from vzzfs_hooks.rules import confimport
from vzzfs_hooks.conf import ctconf
from vzzfs_hooks.conf.config import parse_text

NODE = {"VE_PRIVATE": "/vz/private/$VEID", "VE_ROOT": "/vz/root/$VEID", "LOCKDIR": "/vz/lock",
        "DUMPDIR": "/vz/dump"}
FIXED = {"VE_LAYOUT": "simfs", "DISK_QUOTA": "no", "VZZFS_DATASET": "vz/vzzfs/ct/101"}

HOSTILE = '''HOSTNAME="web"
IP_ADDRESS="10.0.0.5"
DISKSPACE="2G:2G"
OSTEMPLATE="debian-12.0-x86_64"
VE_PRIVATE="/vz/private/$VEID"
VE_ROOT="/"
LOCKDIR="/tmp/elsewhere"
DUMPDIR="/etc"
VZZFS_VZCTL="/tmp/evil"
VZZFS_ROOT="vz"
VZZFS_MOUNT_OPTS="noatime,dev,suid"
VZZFS_DATASET="vz/vzzfs/ct/102"
VE_LAYOUT="ploop"
CAPABILITY="SYS_ADMIN:on"
DEVICES="b:8:0:rw"
NETDEV="eth0"
UNKNOWN_TOOL_KEY="x"
'''


def test_a_new_ct_gets_its_settings_and_nothing_of_the_nodes():
    changes, dropped = confimport.merge(parse_text(HOSTILE), {}, NODE, FIXED)
    assert changes == {"HOSTNAME": "web", "IP_ADDRESS": "10.0.0.5", "DISKSPACE": "2G:2G",
                       "OSTEMPLATE": "debian-12.0-x86_64", "VE_LAYOUT": "simfs",
                       "DISK_QUOTA": "no", "VZZFS_DATASET": "vz/vzzfs/ct/101"}
    # VE_PRIVATE equals the node's: nothing was lost, so it is not reported
    assert dropped == ["VE_ROOT", "LOCKDIR", "DUMPDIR", "VZZFS_VZCTL", "VZZFS_ROOT",
                       "VZZFS_MOUNT_OPTS", "CAPABILITY", "DEVICES", "NETDEV",
                       "UNKNOWN_TOOL_KEY"]
    line = confimport.dropped_line(dropped, "the stream")
    assert len(line.splitlines()) == 1 and "VZZFS_VZCTL" in line


def test_an_existing_ct_keeps_the_nodes_keys_and_takes_the_cts_settings():
    current = parse_text('HOSTNAME="old"\nNAMESERVER="1.1.1.1"\nVZZFS_FSCK="off"\n'
                         'LOCKDIR="/vz/lock"\nVE_LAYOUT="simfs"\n')
    incoming = parse_text('HOSTNAME="new"\nLOCKDIR="/tmp/x"\nVZZFS_FSCK="preen"\n')
    changes, dropped = confimport.merge(incoming, current, NODE, {})
    assert changes == {"HOSTNAME": "new", "NAMESERVER": None}  # as the incoming conf had it
    assert dropped == ["LOCKDIR", "VZZFS_FSCK"]
    text = ctconf.update_text('HOSTNAME="old"\nNAMESERVER="1.1.1.1"\nVZZFS_FSCK="off"\n'
                              'LOCKDIR="/vz/lock"\nVE_LAYOUT="simfs"\n', changes)
    assert parse_text(text) == {"HOSTNAME": "new", "VZZFS_FSCK": "off", "LOCKDIR": "/vz/lock",
                                "VE_LAYOUT": "simfs"}


def test_the_same_conf_changes_nothing():
    conf = parse_text('HOSTNAME="a"\nVE_LAYOUT="simfs"\nVZZFS_DATASET="vz/vzzfs/ct/101"\n')
    assert confimport.merge(conf, conf, NODE, {}) == ({}, [])


def test_names_that_become_file_names_must_be_plain():
    incoming = parse_text('OSTEMPLATE="../../../tmp/evil"\nNAME="../x"\nORIGIN_SAMPLE="a/b"\n'
                          'DESCRIPTION="a \\" b"\n')
    changes, dropped = confimport.merge(incoming, {}, NODE, {})
    assert changes == {} and dropped == ["OSTEMPLATE", "NAME", "ORIGIN_SAMPLE", "DESCRIPTION"]
    assert confimport.acceptable("NAME", "web-1") and confimport.acceptable("HOSTNAME", "a.b")
