"""What the wheel is built from: pyproject.toml and setup.py agree with the tree.

The wheel itself is built and opened in test_kernels.py
(``test_built_wheel_contains_the_kernels``); these checks are instant.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_package_is_listed():
    """setuptools takes the package list as written: a package left out would be missing from the wheel."""
    found = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "imgdiff_gpu").rglob("__init__.py")}
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert listed - found == {"imgdiff_gpu.kernels"}  # kernels/ at the top level, mapped by package-dir


def test_every_c_source_is_built():
    tree = ast.parse((ROOT / "setup.py").read_text(encoding="utf-8"))
    sources = next(
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "SOURCES" for t in node.targets)
    )
    built = {element.value for element in sources.elts}
    on_disk = {path.name for path in (ROOT / "imgdiff_gpu" / "cpu" / "c").glob("*.c")}
    assert built == on_disk


def test_no_jit_at_run_time():
    dependencies = " ".join(PYPROJECT["project"]["dependencies"]).lower()
    assert "numba" not in dependencies and "llvmlite" not in dependencies
    assert PYPROJECT["build-system"]["build-backend"] == "setuptools.build_meta"
