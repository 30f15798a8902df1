"""The benchmark suite's wiring: every benchmark named in bench/suite.py exists, has a
run() and a plot, and every bench module is in the suite (read, not imported: they
need the test VM and matplotlib)."""
import ast
import os

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                     "bench")
NOT_BENCHMARKS = {"benchlib.py", "suite.py", "plot.py"}


def functions(path):
    with open(path) as f:
        tree = ast.parse(f.read())
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


def suite_names():
    with open(os.path.join(BENCH, "suite.py")) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets[0].id == "BENCHMARKS":
            return [elt.value if hasattr(elt, "value") else elt.s for elt in node.value.elts]
    raise AssertionError("bench/suite.py has no BENCHMARKS")


def test_every_benchmark_runs_and_plots():
    names = suite_names()
    plots = functions(os.path.join(BENCH, "plot.py"))
    for name in names:
        assert "run" in functions(os.path.join(BENCH, name + ".py")), name
        assert name in plots, "bench/plot.py draws no %s" % name
    modules = {f[:-3] for f in os.listdir(BENCH) if f.endswith(".py") and f not in NOT_BENCHMARKS}
    assert modules == set(names), "bench modules outside the suite: %s" % (modules - set(names))


def test_every_benchmark_says_how_to_run_it_alone():
    for name in suite_names():
        with open(os.path.join(BENCH, name + ".py")) as f:
            doc = ast.get_docstring(ast.parse(f.read()))
        assert doc and "Standalone: scripts/vm-run" in doc, name
