"""vzclient: telling OpenVZ 7's libvzctl from vzctl 4.x by what each gives a script."""
from vzzfs_hooks import errors, vzclient

VZCTL4_ENV = {"HOME": "/", "TERM": "linux", "PATH": "/bin:/sbin:/usr/bin:/usr/sbin",
              "VEID": "101", "VE_CONFFILE": "/etc/vz/conf/101.conf"}
VZ7_ENV = {"HOME": "/", "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "SHELL": "/bin/bash", "VEID": "101", "VE_CONFFILE": "/etc/vz/conf/101.conf"}


def test_the_environment_tells_them_apart(monkeypatch):
    monkeypatch.setattr(vzclient, "_parent_maps", lambda ppid: "")
    assert not vzclient.is_libvzctl(VZCTL4_ENV, ppid=1)
    assert vzclient.is_libvzctl(VZ7_ENV, ppid=1)


def test_a_parent_with_libvzctl2_mapped_is_openvz7(monkeypatch):
    monkeypatch.setattr(vzclient, "_parent_maps",
                        lambda ppid: "7f00-7f01 r-xp 0 08:01 1 /usr/lib64/libvzctl2.so.2.1.0\n")
    assert vzclient.is_libvzctl(VZCTL4_ENV, ppid=1)


def test_no_vzzfs_exit_code_is_libvzctls_skip_action():
    """libvzctl reads a premount's exit 39 as 'skip the mount and go on'; a failing
    vzzfs hook must never say that."""
    codes = {v for k, v in vars(errors).items() if k.startswith("EXIT_")}
    assert codes and 39 not in codes
