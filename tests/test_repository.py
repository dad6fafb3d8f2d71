"""Only source, data and docs are tracked: no wheels, archives, caches or build outputs."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: endings of files that are built, downloaded or cached, never written by hand
BUILT = (".whl", ".tar.gz", ".zip", ".egg", ".pyc", ".pyo", ".so", ".pkl", ".pickle", ".db", ".sqlite")
BUILT_DIRS = ("__pycache__", ".egg-info", ".venv", ".pytest_cache", "build", "dist")


def tracked_files() -> list[str]:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(["git", "-C", str(REPO), "ls-files"], capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


def is_built(path: str) -> bool:
    parts = path.split("/")
    return path.endswith(BUILT) or any(p in BUILT_DIRS or p.endswith(".egg-info") for p in parts[:-1])


def test_the_check_recognises_built_files():
    assert is_built("pyflakes-4.1.0-py2.py3-none-any.whl")
    assert is_built("metaclust_automl/__pycache__/x.cpython-312.pyc")
    assert not is_built("metaclust_automl/data/kb/arrays.npz")


def test_nothing_built_is_tracked():
    built = [p for p in tracked_files() if is_built(p)]
    assert not built, f"built or downloaded files are tracked: {built[:10]}"
