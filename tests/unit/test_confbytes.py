"""A CT conf holding bytes that are not text in the locale (DESCRIPTION="Caf\\xe9", under
cron's ASCII locale as well) goes through every reader and writer byte for byte.

Each step runs in a fresh python3 under the locale given: "C" is Python 3.6's ASCII
(no UTF-8 mode, no locale coercion), "C.UTF-8" the usual one.
"""
import os
import subprocess
import sys

import pytest

from vzzfs_hooks.verbs import snapshots

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOCALES = {
    "C": {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"},
    "C.UTF-8": {"LC_ALL": "C.UTF-8"},
}
CONF = b'DESCRIPTION="Caf\xe9"\nHOSTNAME="ct101"\nDISKSPACE="1G:1G"\n'

COMMON = r'''
import io, os, sys
sys.path.insert(0, REPO)
from vzzfs_hooks.verbs import backup, lifecycle, snapshots
from vzzfs_hooks.conf import config, ctconf
from vzzfs_hooks.base import names, runner
from vzzfs_hooks.system import zfs
from vzzfs_hooks.conf.config import Node
from vzzfs_hooks.container.ct import Container
from vzzfs_hooks.base.fileio import read_text
from vzzfs_hooks.base.revert import Reverter
from vzzfs_hooks.container import claim
node = Node(ETC)
conf = os.path.join(ETC, "conf", "101.conf")
zfs.get = lambda name, *props: {"guid": "1", names.PROP_CONF: PROP, "type": "volume"}
zfs.get_many = lambda names_, *props: {n: zfs.get(n, *props) for n in names_}
'''

STEPS = {
    "parse": r'''
assert config.parse_file(conf)["DESCRIPTION"] == os.fsdecode(b"Caf\xe9")
assert Container("101", node).own["HOSTNAME"] == "ct101"
''',
    "update": r'''
ctconf.update_file(conf, {"DISKSPACE": "2G:2G"})
''',
    "create-from-sample": r'''
name, text = lifecycle._sample_text(node, "odd")
ctconf.create_file(os.path.join(ETC, "conf", "102.conf"), text, {"HOSTNAME": "ct102"})
''',
    "create-from-conf": r'''
ctconf.create_file(os.path.join(ETC, "conf", "102.conf"), read_text(conf),
                   {"HOSTNAME": "ct102"})
''',
    "snapshot-switch": r'''
snapshots._restore_conf(Container("101", node), "s1")
''',
    "claims": r'''
assert claim.claims(node, "vz/x/101") == ["101"]
''',
    "runner": r'''
assert runner.run(["printf", "Caf\\351"]).stdout == os.fsdecode(b"Caf\xe9")
''',
    "backup-header": r'''
with open(os.path.join(ETC, "header"), "wb") as f:
    f.write(backup.make_header(Container("101", node), "vz/vzzfs/ct/101@b1"))
''',
    "restore-header": r'''
with open(os.path.join(ETC, "header"), "rb") as f:
    header = backup.read_header(f)
with Reverter() as undo:
    backup._write_conf(Container("103", node), header, undo)
    undo.commit()
''',
}


def run_step(etc, step, locale, prop=""):
    script = ("REPO = %r\nETC = %r\nPROP = %r\n" % (REPO, str(etc), prop) + COMMON
              + STEPS[step])
    env = dict(LOCALES[locale], PATH=os.environ.get("PATH", "/usr/bin:/bin"))
    res = subprocess.run([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    assert res.returncode == 0, res.stdout.decode("utf-8", "replace")


@pytest.fixture
def etc(tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "vz.conf").write_text("VE_PRIVATE=/vz/private/$VEID\n")
    (tmp_path / "conf" / "101.conf").write_bytes(CONF)
    return tmp_path


def conf_bytes(etc, ctid):
    return (etc / "conf" / ("%s.conf" % ctid)).read_bytes()


@pytest.fixture(params=sorted(LOCALES))
def locale(request):
    return request.param


def test_read(etc, locale):
    run_step(etc, "parse", locale)
    run_step(etc, "runner", locale)
    (etc / "conf" / "101.conf").write_bytes(CONF + b'VZZFS_DATASET="vz/x/101"\n')
    run_step(etc, "claims", locale)


def test_update_keeps_the_other_bytes(etc, locale):
    run_step(etc, "update", locale)
    assert conf_bytes(etc, 101) == CONF.replace(b"1G:1G", b"2G:2G")


def test_new_confs_from_a_sample_or_a_conf(etc, locale):
    (etc / "conf" / "ve-odd.conf-sample").write_bytes(CONF)
    run_step(etc, "create-from-sample", locale)
    assert conf_bytes(etc, 102) == CONF.replace(b"ct101", b"ct102")
    os.unlink(str(etc / "conf" / "102.conf"))
    run_step(etc, "create-from-conf", locale)
    assert conf_bytes(etc, 102) == CONF.replace(b"ct101", b"ct102")


def test_snapshot_switch_puts_back_the_stored_bytes(etc, locale):
    stored = etc / "stored.conf"
    stored.write_bytes(CONF.replace(b"Caf\xe9", b"Th\xe9 \xc3\xa9"))
    run_step(etc, "snapshot-switch", locale, snapshots.encode_conf(str(stored)))
    assert conf_bytes(etc, 101) == CONF.replace(b"Caf\xe9", b"Th\xe9 \xc3\xa9")


@pytest.mark.parametrize("sender", sorted(LOCALES))
def test_backup_header_carries_the_bytes_across_locales(etc, locale, sender):
    (etc / "conf" / "101.conf").write_bytes(CONF + b'NAME="caf\xc3\xa9"\n')
    run_step(etc, "backup-header", sender)
    run_step(etc, "restore-header", locale)
    got = conf_bytes(etc, 103)
    assert b'DESCRIPTION="Caf\xe9"\n' in got and b'HOSTNAME="ct101"\n' in got, got
