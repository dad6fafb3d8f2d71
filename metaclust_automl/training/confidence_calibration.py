"""Build the confidence calibration (``calibration.json``) from a knowledge base.

Every (task, configuration) run the knowledge base recorded gives one example: its internal
indices and its neighbour ARI (leave-one-out: the task itself is not its own neighbour)
as features, its ARI as the target. A ridge regression is fitted; its predictions for each
task group come from a fit without that group, and an isotonic regression of the true ARI
on those held-out predictions makes them calibrated. Run it again whenever the knowledge
base changes: ``metaclust calibrate-confidence --kb DIR --out FILE``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..trust.confidence import FEATURES, Calibration, feature_row, neighbour_ari

RIDGE_ALPHA = 1.0


def training_rows(kb: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, ARI and task index of every successful run in the knowledge base."""
    from ..knowledge_base import STATUS

    P = kb.performance("ari")
    rows, y, task = [], [], []
    for t in range(len(kb.tasks)):
        for c in range(len(kb.configs)):
            if kb.status[t, c] != STATUS["ok"]:
                continue
            idx = dict(zip(kb.index_names, kb.C[t, c].tolist()))
            nari, _ = neighbour_ari(kb, kb.M[t], c, exclude=t)
            rows.append(feature_row(idx, nari))
            y.append(P[t, c])
            task.append(t)
    return np.asarray(rows), np.asarray(y), np.asarray(task)


def _ridge(F: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    from sklearn.linear_model import Ridge

    mean, scale = F.mean(axis=0), F.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    model = Ridge(alpha=RIDGE_ALPHA).fit((F - mean) / scale, y)
    return mean, scale, np.asarray(model.coef_, dtype=np.float64), float(model.intercept_)


def build(kb: Any) -> tuple[Calibration, dict[str, Any]]:
    """The calibration, and what its held-out predictions scored (Spearman, reliability bins)."""
    from scipy.stats import spearmanr
    from sklearn.isotonic import IsotonicRegression

    F, y, task = training_rows(kb)
    groups = np.array([kb.tasks[t].group or kb.tasks[t].id for t in task])
    held = np.empty_like(y)
    for g in np.unique(groups):  # leave one task group out
        out = groups == g
        mean, scale, coef, b = _ridge(F[~out], y[~out])
        held[out] = ((F[out] - mean) / scale) @ coef + b
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(held, np.clip(y, 0.0, 1.0))
    mean, scale, coef, b = _ridge(F, y)
    calibrated = np.empty_like(y)  # reliability of the whole recipe: the isotonic map held out too
    for g in np.unique(groups):
        out = groups == g
        calibrated[out] = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(
            held[~out], np.clip(y[~out], 0.0, 1.0)).predict(held[out])
    bins = np.linspace(0, 1, 11)
    which = np.clip(np.digitize(calibrated, bins) - 1, 0, 9)
    reliability = [{"bin": f"{bins[i]:.1f}-{bins[i + 1]:.1f}", "n": int((which == i).sum()),
                    "mean_confidence": float(calibrated[which == i].mean()) if (which == i).any() else None,
                    "mean_ari": float(y[which == i].mean()) if (which == i).any() else None} for i in range(10)]
    report = {"examples": int(y.size), "task_groups": int(np.unique(groups).size),
              "spearman_held_out": float(spearmanr(held, y).statistic),
              "mean_abs_error_held_out": float(np.mean(np.abs(calibrated - np.clip(y, 0, 1)))),
              "reliability": reliability}
    from ..selectors.state import kb_fingerprint

    info = {"kb_fingerprint": kb_fingerprint(kb), "ridge_alpha": RIDGE_ALPHA,
            **{k: v for k, v in report.items() if k != "reliability"}}
    cal = Calibration(mean, scale, coef, b, np.asarray(iso.X_thresholds_, dtype=np.float64),
                      np.asarray(iso.y_thresholds_, dtype=np.float64), info)
    return cal, report


def save(cal: Calibration, path: str | Path) -> Path:
    """Write the calibration as JSON, atomically."""
    from ..atomic import atomic_path

    p = Path(path)
    with atomic_path(p) as tmp:
        Path(tmp).write_text(json.dumps(cal.to_dict(), indent=1), encoding="utf-8")
    return p


__all__ = ["FEATURES", "build", "save", "training_rows"]
