"""I/O limits on a real CT started by the real vzctl 4.11.1 (upstream kernel, cgroup v1):
the rules land in its blkio cgroup vz-CTID (and the root's, for writeback) on the zvol's
device, follow `vzzfs set-limits` at once, and go at stop. The parsing and the lines
written are unit-tested (tests/unit/test_iolimits.py)."""
import json
import os
import time

from vzzfs_hooks.system import mounts, zvoldev

BLKIO = "/sys/fs/cgroup/blkio"
WBPS = "blkio.throttle.write_bps_device"
RIOPS = "blkio.throttle.read_iops_device"


def rule(path, name, devno):
    """The value of device ``devno``'s rule in cgroup file ``path/name``, or None."""
    try:
        with open(os.path.join(path, name)) as f:
            for line in f:
                parts = line.split()
                if parts[0] == devno:
                    return int(parts[1])
    except OSError:
        pass
    return None


def wait_rule(path, name, devno, value, timeout=30):
    """The rule as it is once it reads ``value`` (the mount hook's waiting process writes
    it just after vzctl made the cgroup), or as it is after ``timeout`` s."""
    deadline = time.time() + timeout
    while time.time() < deadline and rule(path, name, devno) != value:
        time.sleep(0.1)
    return rule(path, name, devno)


def limits_in_list(node, ctid):
    rows = json.loads(node.vzzfs("list", "-j", "-o", "ctid,iolimit,iopslimit").stdout)
    return [[r["iolimit"], r["iopslimit"]] for r in rows if r["ctid"] == str(ctid)][0]


def test_limits_follow_the_ct_into_its_blkio_cgroup(node):
    # the fact the design rests on: vzctl's own IOLIMIT stops a start on this kernel
    node.make_simfs_ct(102)
    with open(node.conffile(102), "a") as f:
        f.write('IOLIMIT="1048576"\n')
    res = node.vzctl.start(102)
    assert res.rc != 0 and "Unable to set iolimit" in res.output, res.output

    ds = node.make_ct(101, extra_conf='VZZFS_IOLIMIT="4M"\nVZZFS_IOPSLIMIT="50"\n')
    devno = mounts.devno_of(zvoldev.find_device(ds, 10))
    cg = os.path.join(BLKIO, "vz-101")
    res = node.vzctl.start(101)
    assert res.rc == 0, res.output
    assert wait_rule(cg, WBPS, devno, 4 << 20) == 4 << 20
    assert rule(cg, RIOPS, devno) == 50
    assert rule(BLKIO, WBPS, devno) == 4 << 20, "the root holds the CT's writeback on v1"
    assert limits_in_list(node, 101) == [4 << 20, 50]

    # changed at once on the running CT, and saved
    res = node.vzzfs("set-limits", "101", "--iolimit", "2")  # MiB/s, as vzctl set --iolimit
    assert res.returncode == 0 and "2MB/s, 50 IOPS saved and set" in res.stdout, res.stdout
    assert rule(cg, WBPS, devno) == 2 << 20 and rule(BLKIO, WBPS, devno) == 2 << 20
    assert 'VZZFS_IOLIMIT="2097152"' in open(node.conffile(101)).read()

    # the CT's own direct writes go through its throttled group on the zvol
    res = node.vzctl.exec(101, "dd", "if=/bin/busybox", "of=/root/f", "bs=4096", "count=20",
                          "oflag=direct")
    assert res.rc == 0, res.output
    with open(os.path.join(cg, "blkio.throttle.io_serviced")) as f:
        served = [l.split() for l in f if l.startswith(devno + " Write")]
    assert served and int(served[0][2]) >= 20, served

    assert node.vzctl.stop(101).rc == 0
    assert rule(BLKIO, WBPS, devno) is None, "postumount removes the root's rule"

    # vzctl set --iolimit --save on the stopped CT: premount refuses the start, before
    # the mount, naming the fix; set-limits takes the value over and the start works
    res = node.vzctl.run("set", 101, "--iolimit", "1M", "--save")
    assert res.rc == 0, res.output
    res = node.vzctl.start(101)
    assert res.rc == 79 and "vzzfs set-limits 101" in res.output, res.output
    assert not os.path.ismount(node.private(101))
    res = node.vzzfs("set-limits", "101")
    assert res.returncode == 0 and "took over IOLIMIT" in res.stdout, res.stdout
    conf = open(node.conffile(101)).read()
    assert 'VZZFS_IOLIMIT="1048576"' in conf and "\nIOLIMIT=" not in conf
    assert node.vzctl.start(101).rc == 0
    assert wait_rule(cg, WBPS, devno, 1 << 20) == 1 << 20
    assert rule(cg, RIOPS, devno) == 50

    # no limits: the rules go at once
    res = node.vzzfs("set-limits", "101", "--iolimit", "unlimited", "--iopslimit", "0")
    assert res.returncode == 0, res.stdout
    assert rule(cg, WBPS, devno) is None and rule(BLKIO, WBPS, devno) is None
    assert limits_in_list(node, 101) == [None, None]
    assert node.vzctl.stop(101).rc == 0
