"""A scratch root for installing the RPM with rpm --root, scriptlets and all.

/usr is an overlay of the host's (so python3 and sh run in the chroot, and what
the RPM installs lands in a scratch upper layer); /etc is a fresh directory with
an OpenVZ-like /etc/vz. Needs root in a private mount namespace: scripts/test
runs these tests under 'unshare -m'.
"""
import os
import shutil
import subprocess

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VZ_CONF = 'VE_ROOT=/vz/root/$VEID\nVE_PRIVATE=/vz/private/$VEID\n'


def run(*argv, **kw):
    """Run argv (never a shell); fail the test with its output when it fails."""
    check = kw.pop("check", True)
    res = subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, **kw)
    if check and res.returncode != 0:
        raise AssertionError("%s exited %d:\n%s" % (" ".join(argv), res.returncode, res.stdout))
    return res


@pytest.fixture(scope="session")
def rpms(tmp_path_factory):
    """Release 1 and release 2 of the package, built from this tree."""
    assert os.geteuid() == 0, "the package tests install into a scratch root: run as root"
    out = str(tmp_path_factory.mktemp("rpms"))
    built = {}
    for rel in ("1", "2"):
        res = run(os.path.join(TOP, "scripts", "build-rpm"), "--release", rel, "--outdir", out)
        built[rel] = res.stdout.strip().splitlines()[-1]
        assert os.path.isfile(built[rel]), res.stdout
    return built


class ScratchRoot(object):
    def __init__(self, path):
        self.path = path
        self.etc_vz = os.path.join(path, "etc/vz")
        self.conf = os.path.join(self.etc_vz, "conf")

    def p(self, rel):
        return os.path.join(self.path, rel.lstrip("/"))

    def rpm(self, *args, **kw):
        return run("rpm", "--root", self.path, "--dbpath", "/var/lib/rpm", *args, **kw)

    def chroot(self, *argv, **kw):
        return run("chroot", self.path, *argv, **kw)

    def snapshot(self, rel="/etc/vz"):
        """{path: (mode, content or link target)} of every file under ``rel``."""
        top = self.p(rel)
        result = {}
        for dirpath, dirnames, filenames in os.walk(top):
            for name in dirnames + filenames:
                full = os.path.join(dirpath, name)
                st = os.lstat(full)
                if os.path.islink(full):
                    what = "-> " + os.readlink(full)
                elif os.path.isdir(full):
                    what = "dir"
                else:
                    with open(full, "rb") as f:
                        what = f.read()
                result[os.path.relpath(full, top)] = (st.st_mode, what)
        return result


# an OpenVZ 7 node's /etc/vz as vzctl 7's make install lays it (scripts/build-vzctl7)
VZCTL7_ETC = os.path.join(os.environ.get("VZZFS_VZCTL7_DIR", "/opt/vzzfs-test/vzctl7"),
                          "root/etc/vz")


@pytest.fixture(params=["vzctl4", "openvz7"])
def root(request, tmp_path, rpms):
    """A scratch node root: a legacy vzctl 4.x node's minimal /etc/vz, or an OpenVZ 7
    node's (vzctl 7's stock files: samples, networks_classes, vzevent.d)."""
    path = str(tmp_path / "root")
    upper, work = str(tmp_path / "upper"), str(tmp_path / "work")
    for d in (path + "/usr", upper, work, path + "/etc/vz/conf", path + "/tmp",
              path + "/var/lib/rpm", path + "/dev", path + "/vz/private", path + "/vz/lock"):
        os.makedirs(d)
    for link in ("bin", "sbin", "lib", "lib64"):
        if os.path.islink("/" + link):
            os.symlink(os.readlink("/" + link), os.path.join(path, link))
    for name in ("passwd", "group", "ld.so.cache"):
        if os.path.exists("/etc/" + name):
            shutil.copy("/etc/" + name, os.path.join(path, "etc", name))
    if request.param == "openvz7":
        assert os.path.isdir(VZCTL7_ETC), "vzctl 7 is not built (scripts/build-vzctl7)"
        shutil.rmtree(os.path.join(path, "etc/vz"))
        shutil.copytree(VZCTL7_ETC, os.path.join(path, "etc/vz"), symlinks=True)
    else:
        with open(os.path.join(path, "etc/vz/vz.conf"), "w") as f:
            f.write(VZ_CONF)
    open(os.path.join(path, "dev/null"), "w").close()
    mounted = []
    try:
        run("mount", "-t", "overlay", "overlay", "-o",
            "lowerdir=/usr,upperdir=%s,workdir=%s" % (upper, work), path + "/usr")
        mounted.append(path + "/usr")
        run("mount", "--bind", "/dev/null", path + "/dev/null")
        mounted.append(path + "/dev/null")
        r = ScratchRoot(path)
        r.rpm("--initdb")
        yield r
    finally:
        for m in reversed(mounted):
            run("umount", "-l", m, check=False)
