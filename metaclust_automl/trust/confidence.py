"""How sure is this partition? A confidence in [0, 1], with a meaning a user can check.

``confidence = min(calibrated, stability)``:

- **calibrated**: the partition's ARI against the (unknown) true labels, as predicted from
  what can be seen without labels: its internal indices (silhouette, Calinski-Harabasz,
  Davies-Bouldin, DBCV, noise share, number of clusters, on a bounded sample) and the ARI the
  same configuration reached on the knowledge base's most similar tasks. The prediction is
  a ridge regression fitted on every (task, configuration) run of the knowledge base, made
  honest by isotonic regression on its leave-one-task-group-out predictions: among corpus
  partitions given 0.7, the mean true ARI was 0.7. The fit is a plain JSON file shipped in
  the package (``calibration.json``), rebuilt with ``metaclust calibrate-confidence``.
- **stability**: the mean ARI between the partition and the same configuration re-run on
  ``STABILITY_RUNS`` random subsamples (``STABILITY_ROWS`` rows at most, other seeds). A
  partition that changes when the rows change cannot be trusted whatever its indices say.

The lower of the two is reported: each is a reason to doubt, and neither alone is enough.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import KnowledgeBaseError

#: subsample re-runs for the stability part, and their size
STABILITY_RUNS = 3
STABILITY_ROWS = 1000
#: knowledge-base tasks whose ARI for the configuration is averaged ("neighbour ARI")
NEIGHBOURS = 5
#: internal indices used as features, then the neighbour ARI
INDEX_FEATURES = ("silhouette", "calinski_harabasz", "davies_bouldin", "dbcv", "noise_share", "n_clusters")
FEATURES = (*INDEX_FEATURES, "neighbour_ari")
FORMAT = "metaclust-confidence-calibration"


def calibration_path() -> Path:
    """The calibration shipped with the package."""
    from ..paths import data_path

    return data_path("trust", "calibration.json")


def feature_row(indices: dict[str, float], neighbour_ari: float) -> np.ndarray:
    """The model's inputs: indices as ``internal_indices`` reports them (the number of
    clusters as log1p), then the neighbour ARI."""
    row = [float(indices.get(k, 0.0)) for k in INDEX_FEATURES]
    row[INDEX_FEATURES.index("n_clusters")] = float(np.log1p(max(row[INDEX_FEATURES.index("n_clusters")], 0.0)))
    return np.asarray([*row, float(neighbour_ari)], dtype=np.float64)


def neighbour_ari(kb: Any, metafeatures: np.ndarray, config_index: int, exclude: int | None = None
                  ) -> tuple[float, list[int]]:
    """Mean ARI of one configuration on the ``NEIGHBOURS`` knowledge-base tasks nearest in
    standardised meta-features (``exclude``: a task left out, for leave-one-out), and them."""
    M = np.asarray(kb.M, dtype=np.float64)
    mu, sd = M.mean(axis=0), M.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    dist = np.sqrt((((M - mu) / sd - (np.asarray(metafeatures) - mu) / sd) ** 2).sum(axis=1))
    if exclude is not None:
        dist[exclude] = np.inf
    nn = [int(i) for i in np.argsort(dist, kind="stable")[:NEIGHBOURS]]
    return float(kb.performance("ari")[nn, config_index].mean()), nn


@dataclass
class Calibration:
    """Ridge weights on standardised features, then an isotonic map to ARI."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    iso_x: np.ndarray
    iso_y: np.ndarray
    info: dict[str, Any]

    def predict(self, rows: np.ndarray) -> np.ndarray:
        raw = ((np.atleast_2d(rows) - self.mean) / self.scale) @ self.coef + self.intercept
        return np.clip(np.interp(raw, self.iso_x, self.iso_y), 0.0, 1.0)

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": 1, "features": list(FEATURES),
                "mean": self.mean.tolist(), "scale": self.scale.tolist(), "coef": self.coef.tolist(),
                "intercept": self.intercept, "isotonic_x": self.iso_x.tolist(), "isotonic_y": self.iso_y.tolist(),
                "info": self.info}

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "calibration") -> Calibration:
        try:
            if d.get("format") != FORMAT or list(d["features"]) != list(FEATURES):
                raise KnowledgeBaseError(f"{where} is not a confidence calibration for these features; "
                                         "rebuild it with `metaclust calibrate-confidence`")
            arrays = [np.asarray(d[k], dtype=np.float64) for k in ("mean", "scale", "coef", "isotonic_x", "isotonic_y")]
        except (KeyError, TypeError, ValueError) as exc:
            raise KnowledgeBaseError(f"{where} is malformed ({exc})") from None
        mean, scale, coef, ix, iy = arrays
        F = len(FEATURES)
        if mean.shape != (F,) or scale.shape != (F,) or coef.shape != (F,) or ix.shape != iy.shape or ix.size < 2 \
                or not all(np.all(np.isfinite(a)) for a in arrays) or np.any(scale <= 0) or np.any(np.diff(ix) < 0):
            raise KnowledgeBaseError(f"{where} holds arrays of the wrong shape or values")
        return cls(mean, scale, coef, float(d["intercept"]), ix, iy, dict(d.get("info", {})))

    @classmethod
    def load(cls, path: str | Path | None = None) -> Calibration:
        p = Path(path) if path is not None else calibration_path()
        if not p.is_file():
            raise KnowledgeBaseError(f"confidence calibration not found at {p}; build it with "
                                     "`metaclust calibrate-confidence`")
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise KnowledgeBaseError(f"{p} is corrupt: {exc}") from None
        return cls.from_dict(d, str(p))


def stability(X: np.ndarray, labels: np.ndarray, run_rows: Any, seed: int = 0) -> float:
    """Mean ARI between ``labels`` and re-runs on random subsamples. ``run_rows(rows, seed)``
    returns the configuration's labels for those rows (noise counts as one more label)."""
    from sklearn.metrics import adjusted_rand_score

    n = X.shape[0]
    size = min(n, STABILITY_ROWS)
    size = max(3, int(size * 0.8)) if size == n else size
    scores = []
    for r in range(STABILITY_RUNS):
        rng = np.random.default_rng([0xC0F, seed, r])
        rows = np.sort(rng.choice(n, size, replace=False))
        try:
            again = np.asarray(run_rows(rows, seed + 1 + r))
        except Exception:  # noqa: BLE001 - a re-run that fails counts as unstable
            scores.append(0.0)
            continue
        ref = labels[rows]
        if np.unique(ref).size == 1 and np.unique(again).size == 1:
            scores.append(1.0)
        else:
            scores.append(float(adjusted_rand_score(ref, again)))
    return float(np.clip(np.mean(scores), 0.0, 1.0))


@dataclass
class Confidence:
    """The confidence and its two parts (see the module docstring)."""

    value: float
    calibrated: float
    stability: float
    neighbour_ari: float

    def to_dict(self) -> dict[str, float]:
        return {k: round(float(v), 4) for k, v in vars(self).items()}


def partition_confidence(X: np.ndarray, labels: np.ndarray, kb: Any, metafeatures: np.ndarray,
                         config_index: int, run_rows: Any, *, seed: int = 0,
                         calibration: Calibration | None = None) -> Confidence:
    """The confidence of a partition made by knowledge-base configuration ``config_index``."""
    from ..metrics import internal_indices

    cal = calibration or Calibration.load()
    idx = internal_indices(X, labels, seed=seed)
    nari, _ = neighbour_ari(kb, metafeatures, config_index)
    calibrated = float(cal.predict(feature_row(idx, nari))[0])
    stab = stability(X, labels, run_rows, seed=seed)
    return Confidence(value=min(calibrated, stab), calibrated=calibrated, stability=stab, neighbour_ari=nari)
