"""The layer diagram of docs/architecture.md holds: every import, at the top of a module or inside a
function, goes to the right on its own row or to a row below, but for the three listed there."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The diagram's rows, top to bottom; within a row a module may import those to its right. A name
# covers its submodules (the longest name wins), but for the package files in PACKAGE_FILES; the
# last three rows are whole packages.
ROWS = (
    ("harness", "harness.__main__", "harness.cli"),
    ("harness.train.cli", "harness.metrics.cli", "harness.suites.cli", "harness.report_cli",
     "harness.official.cli"),
    ("harness.report", "harness.report_tables", "harness.figures", "harness.findings", "harness.cells",
     "harness.verdicts", "harness.learning", "harness.published"),
    ("harness.suites", "harness.suites.driver", "harness.suites.executors", "harness.suites.multiprocess",
     "harness.suites.runner", "harness.suites.suite_files", "harness.suites.artifacts",
     "harness.suites.scales", "harness.suites.tables"),
    ("harness.train", "harness.measure", "harness.metrics", "harness.results_merge", "harness.results",
     "harness.official"),
    ("harness.data", "harness.rundir", "harness.runlock", "harness.distributed", "harness.cachedir",
     "harness.environment"),
    ("variants",),
    ("fused_ops",),
    ("common",),
)
PACKAGE_FILES = ("harness", "harness.suites")  # their __init__.py alone
PLACE = {name: (row, column) for row, names in enumerate(ROWS) for column, name in enumerate(names)}
# The imports that go up (the list under the diagram): (module, unit it imports) -> where.
GOING_UP = {("harness.rundir", "harness.metrics"): "in a function",
            ("harness.measure.speed", "harness.train"): "in a function",
            ("harness.train.cli", "harness.cli"): "top level"}  # harness.cli loads train.cli by name
PACKAGES = ("common", "fused_ops", "variants", "harness")


def unit(module: str) -> str | None:
    """The diagram's name that covers `module` (None for other packages)."""
    names = [name for name in PLACE
             if module == name or (module.startswith(name + ".") and name not in PACKAGE_FILES)]
    return max(names, key=len, default=None)


def project_modules():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def imports(path: Path):
    """(imported module, at module top level?) for every absolute import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from harness import metrics` imports harness.metrics; `from harness.rundir import RunDir`
            # imports harness.rundir
            names = [name if unit(name) != unit(node.module) else node.module
                     for name in (f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        yield from ((name, id(node) in top) for name in names)


def test_every_module_has_a_place_in_the_diagram():
    unplaced = [module for module, _ in project_modules() if unit(module) is None]
    assert unplaced == [], "give each a place in ROWS here and in the diagram of docs/architecture.md"


def test_imports_go_right_or_down_but_for_the_listed_ones():
    wrong, going_up = [], set()
    for module, path in project_modules():
        source = unit(module)
        for name, at_top in imports(path):
            target = unit(name)
            if target is None or target == source:
                continue
            (row, column), (target_row, target_column) = PLACE[source], PLACE[target]
            if target_row > row or (target_row == row and target_column > column):
                continue
            where = "top level" if at_top else "in a function"
            if GOING_UP.get((module, target)) == where:
                going_up.add((module, target))
            else:
                wrong.append(f"{module} imports {name} ({where})")
    assert sorted(set(wrong)) == [], ("imports against docs/architecture.md's layers: move the import, or "
                                      "change the diagram there and ROWS here together")
    assert going_up == set(GOING_UP)  # an exception that no longer exists leaves both lists


def test_planning_suites_and_rendering_the_report_load_no_torch():
    heavy = ("torch", "variants", "harness.train", "harness.metrics")
    code = ("import sys, harness.cli, harness.suites, harness.report; "
            f"print([m for m in {heavy} if m in sys.modules])")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            check=True)
    assert loaded.stdout.strip() == "[]"
