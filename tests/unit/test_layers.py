"""The package's layering, held by reading its source. vzzfs_hooks/ holds one
package per layer; a module imports only from its own package or a lower one
(RANK, bottom first), with no cycle among modules (function-level imports
count too). The command line only parses and prints, each external program has
one home module, and every program runs through base/runner."""
import ast
import glob
import os
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PKG = os.path.join(TOP, "vzzfs_hooks")

# bottom first: a package may import from itself and from those before it
RANK = ["base", "conf", "rules", "system", "container", "verbs", "jobs", "hook", "entry"]

# every external program vzzfs runs, and the one module that runs it
TOOLS = {
    "zfs": "system.zfs", "zpool": "system.zfs",
    "mkfs.ext4": "system.ext4", "e2fsck": "system.ext4", "resize2fs": "system.ext4",
    "dumpe2fs": "system.ext4geometry", "tune2fs": "system.ext4", "fsfreeze": "system.ext4",
    "fstrim": "system.ext4", "chattr": "system.ext4",
    "vzctl": "system.vzctl",
    "rsync": "verbs.convert", "tar": "verbs.template",
    "/bin/sh": "hook.sequence",  # an admin's chained script without its x bit, as vzctl runs it
    "vzzfs": "verbs.transfer",    # the peer's vzzfs, after the operator's ssh command
    "systemctl": "system.units",
}


def _modules():
    """(dotted name below vzzfs_hooks, package, ast) of every module."""
    for path in sorted(glob.glob(os.path.join(PKG, "**", "*.py"), recursive=True)):
        rel = os.path.relpath(path, PKG)[:-3].split(os.sep)
        pkg = rel[0] if len(rel) > 1 else ""
        with open(path) as f:
            yield ".".join(rel), pkg, ast.parse(f.read())


def _imports(name, pkg, tree):
    """Dotted modules of vzzfs_hooks that ``tree`` imports (any level, any place)."""
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level == 0:
            if node.module and node.module.startswith("vzzfs_hooks."):
                base = node.module[len("vzzfs_hooks."):]
            else:
                continue
        elif node.level == 1:
            base = ".".join(x for x in (pkg, node.module) if x)
        elif node.level == 2:
            base = node.module or ""
        else:
            raise AssertionError("%s: import three levels up" % name)
        if base == "" or base in RANK:  # "from ..system import zfs, ext4": modules by name
            found.update(".".join(x for x in (base, a.name) if x) for a in node.names)
        else:
            found.add(base)
    return {m for m in found if m != "__version__"}


def _graph():
    return dict((name, _imports(name, pkg, tree)) for name, pkg, tree in _modules())


def _package(mod):
    return mod.split(".")[0] if "." in mod else ""


def test_every_module_sits_in_a_layer_package_with_an_empty_init():
    loose = [name for name, pkg, _ in _modules() if pkg == "" and not name.startswith("__")]
    assert loose == []
    for pkg in RANK:
        init = os.path.join(PKG, pkg, "__init__.py")
        assert os.path.isfile(init) and os.path.getsize(init) == 0, init
    assert sorted(d for d in os.listdir(PKG)
                  if os.path.isdir(os.path.join(PKG, d)) and d != "__pycache__") == sorted(RANK)


def test_imports_point_down_the_ranks():
    graph = _graph()
    upward = []
    for mod, deps in graph.items():
        here = _package(mod)
        if here == "":
            continue  # __main__ and __init__: the package's own top
        for dep in deps:
            assert dep in graph, "%s imports %s, which does not exist" % (mod, dep)
            if RANK.index(_package(dep)) > RANK.index(here):
                upward.append("%s -> %s" % (mod, dep))
    assert upward == []


def test_no_import_cycles():
    graph = _graph()
    assert graph["base.names"] <= {"base.errors"}
    found = []

    def visit(mod, path, done):
        for dep in sorted(graph.get(mod, ())):
            if dep in path:
                found.append(path[path.index(dep):] + [dep])
            elif dep not in done:
                done.add(dep)
                visit(dep, path + [dep], done)
    for mod in graph:
        visit(mod, [mod], {mod})
    assert found == []


def test_the_command_line_only_parses_and_prints():
    graph = _graph()
    for mod in graph:
        if mod.startswith("entry.cli"):
            assert not graph[mod] & {"system.lock", "system.zfs", "system.mounts",
                                     "base.runner", "system.ext4"}, mod


def _argv_heads(tree):
    """First elements of list literals that look like a program: argv heads."""
    for node in ast.walk(tree):
        if isinstance(node, ast.List) and node.elts:
            head = node.elts[0]
            value = getattr(head, "value", getattr(head, "s", None))
            if isinstance(value, str) and value and " " not in value:
                yield value


def test_each_program_runs_from_its_home_module_only():
    words_not_programs = {"name", "clone", "create", "destroy", "rollback", "snapshot", "?"}
    seen = set()
    for name, _, tree in _modules():
        for head in set(_argv_heads(tree)) - words_not_programs:
            if head.startswith("-") or head.startswith("%"):
                continue
            assert head in TOOLS, "%s runs %r: give it a home in TOOLS" % (name, head)
            assert TOOLS[head] == name, "%s runs %s, whose home is %s" % (name, head, TOOLS[head])
            seen.add(head)
    assert {"zfs", "e2fsck", "chattr", "rsync", "vzctl"} <= seen
    assert not {"mount", "umount"} & seen  # mount(2) and umount2(2): system.fscalls


def test_only_the_runner_starts_processes():
    starters = ("subprocess.call", "subprocess.run", "subprocess.Popen", "subprocess.check_call",
                "subprocess.check_output", "os.system", "os.popen", "os.execv", "os.spawn")
    for name, _, tree in _modules():
        if name == "base.runner":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                dotted = "%s.%s" % (node.value.id, node.attr)
                assert not dotted.startswith(starters), "%s: %s (use base.runner)" % (name, dotted)


def test_the_readme_architecture_names_every_module():
    readme = open(os.path.join(TOP, "README.md")).read()
    section = readme.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    missing = [name for name, pkg, _ in _modules()
               if pkg and not name.endswith("__init__")
               and "`%s`" % name.split(".")[1] not in section]
    assert not missing, "add to README's Architecture: %s" % missing
    for pkg in RANK:
        assert "`%s/`" % pkg in section, pkg


def test_every_module_says_its_role():
    for name, _, tree in _modules():
        if name.endswith("__init__"):
            continue
        doc = ast.get_docstring(tree)
        assert doc and doc.strip(), "%s has no docstring" % name


def test_a_hook_starts_without_the_heavy_modules():
    """A hook's imports are most of its cost under emulation (docs/performance.md, hook
    overhead): what only runs a command, parses a number or serves the commands is
    imported when used, so a hook for another CT loads none of it."""
    heavy = ("subprocess", "fractions", "decimal", "glob", "tempfile", "shutil", "argparse",
             "json", "vzzfs_hooks.verbs.snapshots", "vzzfs_hooks.system.lock",
             "vzzfs_hooks.hook.chkpnt", "vzzfs_hooks.verbs.resize", "vzzfs_hooks.system.vzctl",
             "vzzfs_hooks.container.ct", "libzfs_core", "psutil",
             # runner's own (only a command started needs them): 5 % of a hook's CPU
             "vzzfs_hooks.base.signals", "contextlib")
    # -S as the hooks start (hooks/vzzfs-hook): the host's site .pth files stay out
    out = subprocess.run([sys.executable, "-S", "-B", "-c",
                          "import sys, vzzfs_hooks.entry.hookmain; "
                          "print(' '.join(sorted(sys.modules)))"],
                         cwd=TOP, stdout=subprocess.PIPE,
                         universal_newlines=True, check=True).stdout.split()
    assert "vzzfs_hooks.entry.hookmain" in out
    assert [m for m in heavy if m in out] == []
