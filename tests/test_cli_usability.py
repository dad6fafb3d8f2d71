"""Issue 18: what a newcomer meets first -- help text, output layout, option names,
start-up cost, the label column and a knowledge base ready to use after meta-training."""
from __future__ import annotations

import subprocess
import sys


def test_listing_plugins_imports_no_heavy_library() -> None:
    """`metaclust plugins` registers every built-in without importing scikit-learn,
    pandas or torch (each costs seconds on a busy machine)."""
    code = ("import sys; from metaclust_automl.cli import main; main(['plugins', '--json']); "
            "print(sorted(m for m in ('sklearn', 'pandas', 'torch', 'optuna', 'matplotlib') if m in sys.modules),"
            " file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stderr.strip().splitlines()[-1] == "[]"
