"""The README's Python blocks and the docstring examples run, so documentation cannot rot."""

from __future__ import annotations

import doctest
import importlib
import os
import pkgutil
import re
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import imgdiff_gpu

ROOT = Path(__file__).resolve().parent.parent


def readme_python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_readme_has_python_examples():
    assert readme_python_blocks(), "the README lost its Python example"


def _is_pytest_module(block: str) -> bool:
    return re.search(r"^def test_", block, re.M) is not None


@pytest.mark.parametrize("index", range(len(readme_python_blocks())))
def test_readme_python_block_runs(index, monkeypatch, tmp_path):
    block = readme_python_blocks()[index]
    if _is_pytest_module(block):  # a test using the plugin: create its baselines, then pass against them
        (tmp_path / "test_readme_block.py").write_text(block)
        installed = any(ep.value == "imgdiff_gpu.pytest_plugin" for ep in entry_points(group="pytest11"))
        plugin = [] if installed else ["-p", "imgdiff_gpu.pytest_plugin"]
        for extra in (["--imgdiff-update"], []):
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-q",
                    "-p",
                    "no:cacheprovider",
                    *plugin,
                    *extra,
                    "test_readme_block.py",
                ],
                capture_output=True,
                text=True,
                cwd=tmp_path,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                check=False,
            )
            assert done.returncode == 0, done.stdout + done.stderr
        assert (tmp_path / "__snapshots__").is_dir()
        return
    monkeypatch.chdir(ROOT)  # the examples name files under examples/
    exec(compile(block, f"README.md python block {index}", "exec"), {})


def test_readme_shows_the_api_and_the_plugin():
    blocks = readme_python_blocks()
    assert any(_is_pytest_module(b) for b in blocks) and any(not _is_pytest_module(b) for b in blocks)


def _modules_with_examples() -> list[str]:
    """The package and each of its modules whose docstrings hold examples (``__main__`` would run the CLI)."""
    names = ["imgdiff_gpu"] + [
        info.name
        for info in pkgutil.walk_packages(imgdiff_gpu.__path__, "imgdiff_gpu.")
        if not info.name.endswith("__main__")
    ]
    finder = doctest.DocTestFinder()
    return [name for name in names if any(test.examples for test in finder.find(importlib.import_module(name)))]


def test_docstring_examples_exist():
    names = _modules_with_examples()
    assert {"imgdiff_gpu", "imgdiff_gpu.ssim"} <= set(names)


@pytest.mark.parametrize("name", _modules_with_examples())
def test_docstring_examples_pass(name, monkeypatch):
    monkeypatch.chdir(ROOT)
    module = importlib.import_module(name)
    failures, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert attempted > 0
    assert failures == 0


def test_public_api_is_what_all_names():
    for name in imgdiff_gpu.__all__:
        assert getattr(imgdiff_gpu, name) is not None
    assert callable(imgdiff_gpu.compare) and callable(imgdiff_gpu.structural_similarity)
    assert imgdiff_gpu.compare.__module__ == "imgdiff_gpu.pipeline"
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        imgdiff_gpu.nonexistent  # noqa: B018


def test_python_dash_m_runs_the_command():
    done = subprocess.run(
        [sys.executable, "-m", "imgdiff_gpu", "--version"], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"imgdiff, version {imgdiff_gpu.__version__}"
