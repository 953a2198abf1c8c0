"""Architecture rules: which package may import what (see README, Architecture).

Checked statically on every module's import statements (including imports
inside functions), plus one dynamic check that importing the whole editor
package pulls in none of the heavy UI/GL/ML libraries.
"""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

QT = {"PySide6", "shiboken6", "pyqtgraph"}
GL = {"moderngl", "glcontext", "OpenGL"}
ML = {"torch"}

RULES = {
    # folder: forbidden top-level modules (or dotted prefixes)
    "editor": QT | GL | ML | {"app", "inference"},
    "inference": QT | GL | {"app"},
    "app/render": QT | {"app.ui"},
    "app/cli": QT,
}


def _imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno


def _violations(folder: str, forbidden: set[str]):
    out = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for name, line in _imports(path):
            for bad in forbidden:
                if name == bad or name.startswith(bad + "."):
                    out.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    return out


def test_package_boundaries():
    problems = []
    for folder, forbidden in RULES.items():
        problems += _violations(folder, forbidden)
    assert not problems, "\n".join(problems)


def test_only_app_ui_imports_qt():
    problems = []
    for top in ("app", "editor", "inference", "bench", "scripts"):
        for path in sorted((ROOT / top).rglob("*.py")) if (ROOT / top).exists() else []:
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith("app/ui/") or rel == "app/bootstrap.py":  # the UI and its composition root
                continue
            for name, line in _imports(path):
                if name.split(".")[0] in QT:
                    problems.append(f"{rel}:{line} imports {name}")
    assert not problems, "\n".join(problems)


def test_editor_import_loads_no_heavy_libraries():
    code = (
        "import sys, pkgutil, importlib, editor\n"
        "for m in pkgutil.walk_packages(editor.__path__, 'editor.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(k for k in sys.modules if k.split('.')[0] in "
        "{'torch','moderngl','PySide6','pyqtgraph','glcontext'})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"importing editor loaded: {out.stdout.strip()}"
