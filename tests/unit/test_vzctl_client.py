"""Telling OpenVZ 7's libvzctl from vzctl 4.x: by what the hook's parent has mapped,
never by the environment (cron, ssh or a login shell can leave SHELL in vzctl 4.x's
scripts' world, and OpenVZ 7's plain vzctl gives none)."""
from vzzfs_hooks.base import errors
from vzzfs_hooks.system import vzctl

LIBVZCTL2_MAPS = "7f00-7f01 r-xp 0 08:01 1 /usr/lib64/libvzctl2.so.2.1.0\n"
VZCTL4_MAPS = "7f00-7f01 r-xp 0 08:01 1 /usr/lib/x86_64-linux-gnu/libc.so.6\n"


def test_a_parent_with_libvzctl2_mapped_is_openvz7(monkeypatch):
    monkeypatch.setattr(vzctl, "_parent_maps", lambda ppid: LIBVZCTL2_MAPS)
    assert vzctl.is_libvzctl(ppid=1)


def test_the_environment_does_not_decide(monkeypatch):
    monkeypatch.setattr(vzctl, "_parent_maps", lambda ppid: VZCTL4_MAPS)
    monkeypatch.setenv("SHELL", "/bin/bash")
    monkeypatch.delenv("TERM", raising=False)
    assert not vzctl.is_libvzctl(ppid=1)


def test_an_unreadable_parent_is_vzctl4():
    assert not vzctl.is_libvzctl(ppid=2 ** 22 + 12345)


def test_no_vzzfs_exit_code_is_libvzctls_skip_action():
    """libvzctl reads a premount's exit 39 as 'skip the mount and go on'; a failing
    vzzfs hook must never say that."""
    codes = {v for k, v in vars(errors).items() if k.startswith("EXIT_")}
    assert codes and 39 not in codes
