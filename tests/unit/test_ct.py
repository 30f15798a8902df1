"""CTID validation and how a container's paths and dataset are derived."""
import pytest

from vzzfs_hooks.conf.config import Node
from vzzfs_hooks.container.ct import Container
from vzzfs_hooks.base.names import check_ctid
from vzzfs_hooks.base.errors import ConfigError, UsageError


@pytest.mark.parametrize("good", ["1", "101", "2147483647", "web-1", "db_2.prod"])
def test_good_ctids(good):
    assert check_ctid(good) == good


@pytest.mark.parametrize("bad", ["../x", "0", "0101", "2147483648", "a b", "-x", ".x", "a/b",
                                 "", "x" * 65, "101;rm", "$(id)"])
def test_bad_ctids(bad):
    with pytest.raises(UsageError):
        check_ctid(bad)


def write_node(tmp_path, vz_conf="", ct_conf=None, ctid="101"):
    (tmp_path / "conf").mkdir(exist_ok=True)
    (tmp_path / "vz.conf").write_text(vz_conf)
    if ct_conf is not None:
        (tmp_path / "conf" / ("%s.conf" % ctid)).write_text(ct_conf)
    return Node(str(tmp_path))


def test_paths_and_conventional_dataset(tmp_path):
    node = write_node(tmp_path, 'VE_ROOT=/vz/root/$VEID\nVE_PRIVATE=/vz/private/$VEID\n',
                      'DISK_QUOTA=no\n')
    ct = Container("101", node)
    assert ct.ve_private == "/vz/private/101" and ct.ve_root == "/vz/root/101"
    assert ct.dataset == "vz/vzzfs/ct/101" and not ct.explicit
    assert ct.device_link == "/dev/zvol/vz/vzzfs/ct/101" and ct.disk_quota == "no"


def test_ct_conf_wins_and_names_dataset(tmp_path):
    node = write_node(tmp_path, 'VE_PRIVATE=/vz/private/$VEID\nDISK_QUOTA=yes\n',
                      'VE_PRIVATE="/data/$VEID"\nVZZFS_DATASET=tank/ct101\n'
                      'VZZFS_FSCK=off\n')
    ct = Container("101", node)
    assert ct.ve_private == "/data/101" and ct.dataset == "tank/ct101" and ct.explicit
    assert ct.pool == "tank" and ct.settings.fsck == "off" and ct.disk_quota == "yes"


@pytest.mark.parametrize("conf", ['VE_PRIVATE=/vz/private/../../etc\n',
                                  'VZZFS_DATASET=vz/../x\n',
                                  'VZZFS_DATASET="vz/x -o mountpoint=/"\n',
                                  'VZZFS_MOUNT_OPTS=loop\n',
                                  'VE_ROOT=relative/$VEID\n'])
def test_hostile_values_refused(tmp_path, conf):
    node = write_node(tmp_path, '', conf)
    with pytest.raises(ConfigError):
        Container("101", node)


def test_a_new_ctid_is_a_number_and_not_a_name(tmp_path):
    from vzzfs_hooks.base.names import check_new_ctid
    node = write_node(tmp_path)
    (tmp_path / "names").mkdir()
    (tmp_path / "names" / "web").symlink_to("../conf/101.conf")
    assert check_new_ctid(node.names_dir, "102") == "102"
    for bad in ("web", "db", "../x", "0"):
        with pytest.raises(UsageError) as e:
            check_new_ctid(node.names_dir, bad)
        assert len(e.value.line().splitlines()) == 1
    (tmp_path / "names" / "103").symlink_to("../conf/101.conf")  # vzctl refuses such names
    with pytest.raises(UsageError, match="already the name of a CT"):
        check_new_ctid(node.names_dir, "103")


def test_a_new_ct_is_refused_where_its_paths_are_mounted_or_hold_files(tmp_path, monkeypatch):
    from vzzfs_hooks.base.errors import StateError
    from vzzfs_hooks.system import mounts
    from vzzfs_hooks.verbs import lifecycle
    node = write_node(tmp_path, 'VE_ROOT=%s/root/$VEID\nVE_PRIVATE=%s/private/$VEID\n'
                      % (tmp_path, tmp_path))
    ct = Container("101", node)
    seen = []

    class Mounted(object):
        mountpoint = None

    def table(pid="self"):
        seen.append(pid)
        m = Mounted()
        m.mountpoint = mounted[0]
        return [m]
    monkeypatch.setattr(mounts, "table", table)
    mounted = [str(tmp_path / "elsewhere")]
    lifecycle.check_new_ct(ct, zvol_exists=False)  # nothing there: a new CT may go
    assert seen == ["self"]  # one read of the mount table for both paths
    for path in (ct.ve_private, ct.ve_root):
        mounted[0] = path
        with pytest.raises(StateError, match="is mounted"):
            lifecycle.check_new_ct(ct, zvol_exists=False)
    mounted[0] = "/nowhere"
    (tmp_path / "root" / "101").mkdir(parents=True)
    (tmp_path / "root" / "101" / "f").write_text("x")
    with pytest.raises(StateError, match="not empty"):
        lifecycle.check_new_ct(ct, zvol_exists=False)
