"""The package's layering, held by reading its source: hooks -> cli/actions ->
ct/volume -> zfs -> runner. No import cycles (function-level imports count too),
the command line only parses and prints, zfs.py alone runs zfs/zpool and
volume.py alone runs the file system tools."""
import ast
import glob
import os

PKG = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                   "vzzfs_hooks")


def _modules():
    for path in sorted(glob.glob(os.path.join(PKG, "*.py"))):
        yield os.path.basename(path)[:-3], ast.parse(open(path).read())


def _imports(tree):
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            for name in ([node.module] if node.module else [a.name for a in node.names]):
                found.add(name.split(".")[0])
    return found


def _cycles(graph):
    found = []

    def visit(mod, path):
        for dep in sorted(graph.get(mod, ())):
            if dep in path:
                found.append(path[path.index(dep):] + [dep])
            elif dep not in done:
                done.add(dep)
                visit(dep, path + [dep])
    for mod in graph:
        done = {mod}
        visit(mod, [mod])
    return found


def test_no_import_cycles():
    graph = dict((mod, _imports(tree)) for mod, tree in _modules())
    assert graph["names"] <= {"errors"}
    assert _cycles(graph) == []


def test_the_command_line_only_parses_and_prints():
    for mod, tree in _modules():
        if mod.startswith("cli"):
            assert not _imports(tree) & {"lock", "zfs", "mounts", "runner", "volume"}, mod


def _argv_heads(tree):
    """First elements of list literals: the program of an argv."""
    for node in ast.walk(tree):
        if isinstance(node, ast.List) and node.elts:
            head = node.elts[0]
            value = getattr(head, "value", getattr(head, "s", None))
            if isinstance(value, str):
                yield value


def test_one_module_runs_zfs_and_one_the_file_system_tools():
    fs_tools = {"mkfs.ext4", "e2fsck", "resize2fs", "dumpe2fs", "tune2fs", "fsfreeze", "fstrim"}
    for mod, tree in _modules():
        heads = set(_argv_heads(tree))
        if mod != "zfs":
            assert not heads & {"zfs", "zpool"}, mod
        if mod != "volume":
            assert not heads & fs_tools, mod


def test_the_readme_architecture_names_every_module():
    readme = open(os.path.join(os.path.dirname(PKG), "README.md")).read()
    section = readme.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    missing = [mod for mod, _ in _modules()
               if not mod.startswith("__") and "`%s`" % mod not in section]
    assert not missing, "add to README's Architecture: %s" % missing


def test_a_hook_starts_without_the_heavy_modules():
    """A hook's imports are most of its cost under emulation (docs/performance.md, hook
    overhead): what only runs a command, parses a number or serves the commands is
    imported when used, so a hook for another CT loads none of it."""
    import subprocess
    import sys
    heavy = ("subprocess", "fractions", "decimal", "glob", "tempfile", "shutil", "argparse",
             "json", "vzzfs_hooks.snapshots", "vzzfs_hooks.lock", "vzzfs_hooks.chkpnt")
    out = subprocess.run([sys.executable, "-S", "-c",
                          "import sys, vzzfs_hooks.hookmain; "
                          "print(' '.join(sorted(sys.modules)))"],
                         cwd=os.path.dirname(PKG), stdout=subprocess.PIPE,
                         universal_newlines=True, check=True).stdout.split()
    assert "vzzfs_hooks.hookmain" in out
    assert [m for m in heavy if m in out] == []
