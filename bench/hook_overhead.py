#!/usr/bin/python3
"""Benchmark: what the hooks add to vzctl mount + umount.

The same zvol is attached the vzctl way (the real vzctl 4.11.1 runs premount,
the bind mount of VE_ROOT, mount; then umount, VE_ROOT's unmount, postumount:
three Python hook runs, as the umount shim has nothing to run) and by hand (mount the
ext4, bind it, unmount both). Also times the parts a hook is made of: a bare
Python start, Python importing the hook's modules, and one `zfs list`.
Standalone: scripts/vm-run -- /usr/bin/python3 bench/hook_overhead.py
"""
import sys

import benchlib
from benchlib import sh
from vzzfs_hooks import volume, zvoldev  # benchlib has put the repo on sys.path

ROUNDS = 5


def run():
    with benchlib.Scratch() as node:
        node.make_ct(101)
        hooks, plain = [], []
        for _ in range(ROUNDS):
            took, _r = benchlib.timed(lambda: (node.vzctl.mount(101), node.vzctl.umount(101)))
            hooks.append(took)
        dev = zvoldev.find_device(node.dataset(101), 10)
        private, root = node.private(101), node.root(101)
        volume.set_immutable(private, False)

        def by_hand():
            sh("mount", "-o", "noatime", dev, private)
            sh("mount", "--bind", private, root)
            sh("umount", root)
            sh("umount", private)
        for _ in range(ROUNDS):
            plain.append(benchlib.timed(by_hand)[0])
        volume.set_immutable(private, True)
    parts = {"python_start_s": [sys.executable, "-c", "pass"],
             "hook_imports_s": [sys.executable, "-c", "import vzzfs_hooks.hookmain"],
             "zfs_list_s": ["zfs", "list"]}
    sh(*parts["hook_imports_s"], cwd=benchlib.REPO)  # bytecode compiled once, as on a node
    result = {"rounds": ROUNDS, "hooks_s": hooks, "plain_s": plain,
              "ratio": benchlib.median(hooks) / benchlib.median(plain)}
    for key, argv in parts.items():
        result[key] = [benchlib.timed(sh, *argv, cwd=benchlib.REPO)[0] for _ in range(ROUNDS)]
    benchlib.table(("mount+umount", "median s", "min s", "max s"),
                   [(k, "%.2f" % benchlib.median(v), "%.2f" % min(v), "%.2f" % max(v))
                    for k, v in (("with hooks", hooks), ("plain", plain))])
    print("hooks / plain: %.1fx" % result["ratio"])
    print("parts (median s): %s" % ", ".join("%s %.2f" % (k[:-2], benchlib.median(result[k]))
                                           for k in parts))
    return result


if __name__ == "__main__":
    run()
