"""The package layout: each package imports only from the packages below it, and the torch-free ones
import without torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

PACKAGE = ROOT / "slotfill"
# what each package may import (besides itself and the top-level errors and version modules)
ALLOWED = {
    "core": set(),
    "data": {"core"},
    "models": {"core"},
    "evaluation": {"core"},
    "inference": {"core", "models"},
    "training": {"core", "data", "models", "evaluation"},
    "serving": {"core", "inference"},
    "cli": {"core", "data", "models", "evaluation", "inference", "training", "serving", "integrations"},
    "integrations": {"core", "inference"},  # other tools' plug-ins (spaCy) over a loaded tagger
}
TOP = {"errors", "version"}  # the ground every package stands on
TORCH_FREE = [
    "slotfill",
    "slotfill.errors",
    *(f"slotfill.core.{p.stem}" for p in sorted((PACKAGE / "core").glob("*.py")) if p.stem != "__init__"),
    "slotfill.data.formats",
    "slotfill.data.check",
    "slotfill.data.convert",
    "slotfill.inference.onnx_tagger",
    "slotfill.inference.numpy_decode",
    "slotfill.inference.onnx_session",
    "slotfill.evaluation.metrics",
    "slotfill.evaluation.compare",
    "slotfill.cli.main",
]


def _imports(path: Path) -> set[str]:
    """Every ``slotfill.*`` module a file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            found.add(f"relative import in {path.name}")  # absolute imports only: the layers stay readable
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m == "slotfill" or m.startswith(("slotfill.", "relative import"))}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


@pytest.mark.slow  # over 0.3 s here (pyproject.toml's markers)
def test_packages_import_only_from_below():
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if len(rel.parts) == 1:
            continue  # __init__, __main__, errors, version: the face and the ground
        own = rel.parts[0]
        for module in _imports(path):
            other = _package(module)
            if module != "slotfill" and not module.startswith("relative") and (other == own or other in TOP):
                continue
            if other in ALLOWED[own]:
                continue
            wrong.append(f"{rel}: imports {module}")
    assert not wrong, "\n".join(sorted(wrong))


def test_every_package_has_a_place_in_the_layers():
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert packages == set(ALLOWED)
    assert {p.stem for p in PACKAGE.glob("*.py")} == {"__init__", "__main__", *TOP}


def test_torch_free_modules_import_without_torch():
    program = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'pytorch_lightning', 'lightning', 'lightning_fabric'):\n"
        "            raise ImportError(f'blocked: {name}')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import importlib\n"
        f"for module in {TORCH_FREE!r}:\n"
        "    importlib.import_module(module)\n"
    )
    proc = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
