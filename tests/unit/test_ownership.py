"""The ownership rule: which zvol a verb may treat as a CT's (and so change or destroy)."""
import pytest

from vzzfs_hooks.base import names
from vzzfs_hooks.rules import ownership
from vzzfs_hooks.container.ct import Container
from vzzfs_hooks.conf.config import Node
from vzzfs_hooks.base.errors import ConfigError
from vzzfs_hooks.container import claim

ROOT = "vz/vzzfs"


@pytest.mark.parametrize("dataset,prop", [
    ("vz/vzzfs/ct/101", None),          # the conventional place
    ("vz/vzzfs/ct/101", "101"),
    ("tank/ct101", "101"),              # elsewhere, marked as this CT's
    ("vz/other/101", "101"),
])
def test_owned(dataset, prop):
    assert ownership.problem("101", dataset, ROOT, prop) is None


@pytest.mark.parametrize("dataset,prop,claimed,says", [
    ("vz", None, (), "root of a pool"),
    ("vz", "101", (), "root of a pool"),
    ("vz/vzzfs", "101", (), "VZZFS_ROOT"),
    ("vz/vzzfs/ct", None, (), "VZZFS_ROOT"),      # the CTs' parent: under ROOT, not ct/101
    ("vz/vzzfs/ct/102", None, (), "is not this CT's vz/vzzfs/ct/101"),
    ("vz/vzzfs/ct/102", "101", (), "is not this CT's"),   # a property cannot move ct/102
    ("vz/vzzfs/tmpl/debian", "101", (), "is not this CT's"),
    ("vz/vzzfs/incoming/101-restoring", "101", (), "is not this CT's"),
    ("vz/vzzfs/ct/101", "102", (), "belongs to CT 102"),
    ("tank/ct101", None, (), "not marked as this CT's"),
    ("tank/ct101", "102", (), "belongs to CT 102"),
    ("tank/ct101", "101", ("101", "102"), "claimed by the conf of CT 102"),
    ("vz/vzzfs/ct/101", None, ("102",), "claimed by the conf of CT 102"),
    ("vz/vzzfs/ct/101@s1", "101", (), "snapshot"),
])
def test_refused(dataset, prop, claimed, says):
    found = ownership.problem("101", dataset, ROOT, prop, claimed)
    assert found is not None and says in found[0], found
    assert found[1]


def test_root_above_vzzfs_root_and_names():
    assert "above" in ownership.problem("1", "tank/a", "tank/a/b", "1")[0]
    assert ownership.problem("web", "vz/vzzfs/ct/web", ROOT) is None
    assert names.ct_dataset(ROOT, "101") == "vz/vzzfs/ct/101"
    assert names.incoming_dataset(ROOT, "101", "restoring") == \
        "vz/vzzfs/incoming/101-restoring"


def node_with(tmp_path, confs, vzzfs_conf=""):
    (tmp_path / "conf").mkdir()
    (tmp_path / "vzzfs.conf").write_text(vzzfs_conf)
    for ctid, text in confs.items():
        (tmp_path / "conf" / ("%s.conf" % ctid)).write_text(text)
    return Node(str(tmp_path))


def test_claims_reads_the_confs(tmp_path):
    node = node_with(tmp_path, {"101": 'VZZFS_DATASET="tank/x"\n',
                                "102": '# VZZFS_DATASET="tank/x"\nVZZFS_DATASET=tank/y\n',
                                "103": 'VZZFS_DATASET=tank/x\n',
                                "ve-vzzfs": 'VZZFS_DATASET=tank/x\n'})
    (tmp_path / "conf" / "ve-vzzfs.conf-sample").write_text('VZZFS_DATASET=tank/x\n')
    assert sorted(claim.claims(node, "tank/x")) == ["101", "103"]
    assert claim.claims(node, "tank/z") == []
    assert claim.claims(Node(str(tmp_path / "missing")), "tank/x") == []


def test_check_names_the_ct_and_the_fix(tmp_path):
    node = node_with(tmp_path, {"101": 'VZZFS_DATASET="vz/vzzfs"\n',
                                "102": 'VZZFS_DATASET="tank/shared"\n',
                                "103": 'VZZFS_DATASET="tank/shared"\n'})
    with pytest.raises(ConfigError) as e:
        claim.check(Container("101", node), None)
    assert e.value.line().startswith("CT 101: refusing to touch vz/vzzfs: ")
    assert len(e.value.line().splitlines()) == 1
    with pytest.raises(ConfigError) as e:
        claim.check(Container("102", node), "102")
    assert "claimed by the conf of CT 103" in e.value.line()


def test_a_ct_conf_cannot_move_vzzfs_root_or_pick_vzctl(tmp_path):
    node = node_with(tmp_path, {"101": 'VZZFS_ROOT="vz"\nVZZFS_VZCTL="/tmp/evil"\n'
                                       'VZZFS_FSCK=off\n'},
                     'VZZFS_VZCTL="/usr/sbin/vzctl"\n')
    ct = Container("101", node)
    assert ct.dataset == "vz/vzzfs/ct/101" and ct.settings.root == ROOT
    assert ct.settings.vzctl == "/usr/sbin/vzctl" and ct.settings.fsck == "off"
