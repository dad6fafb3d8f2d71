"""What sets each cluster apart: effect sizes, a short rule, and feature importance.

For each cluster: its size, and every feature, most distinguishing first, ranked by how far
the cluster's values are from the rest's (two-sample Kolmogorov-Smirnov distance, 0..1: a
middle cluster, whose mean equals the rest's, is still told apart by the band it occupies),
each with its standardised mean difference from the rest (Cohen's d with the pooled
standard deviation; "x2 high: +3.1 sd"), or its band when the means agree; and a short rule read off a shallow decision tree fitted to
tell that cluster from the rest (the leaf holding most of the cluster), with its precision
and recall. For the partition: each feature's share of variance explained by the clusters
(eta squared). Noise rows (-1) are reported as their own group. Bounded: effect sizes use
every row; the trees fit on at most ``TREE_ROWS`` rows.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from ..errors import DataError

#: depth of the surrogate trees (a rule of at most this many conditions)
TREE_DEPTH = 2
TREE_ROWS = 20_000
#: features listed per cluster in the text report
SHOWN = 3


@dataclass
class FeatureEffect:
    name: str
    #: standardised mean difference of the cluster from the rest (+ high, - low)
    effect: float
    direction: str
    cluster_mean: float
    rest_mean: float
    #: Kolmogorov-Smirnov distance between the cluster's values and the rest's (the ranking)
    separation: float = 0.0
    #: the cluster's 10th and 90th percentiles
    band: tuple[float, float] = (0.0, 0.0)

    @property
    def text(self) -> str:
        if self.direction == "band":
            return f"{self.name} within {self.band[0]:.4g}..{self.band[1]:.4g} (rest outside)"
        return f"{self.name} {self.direction}: {self.effect:+.1f} sd"


@dataclass
class ClusterExplanation:
    cluster: int
    size: int
    share: float
    features: list[FeatureEffect]
    rule: str
    rule_precision: float
    rule_recall: float

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["features"] = [{**asdict(f), "text": f.text} for f in self.features]
        return d


@dataclass
class Explanation:
    clusters: list[ClusterExplanation]
    #: share of each feature's variance explained by the partition, largest first
    importance: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"clusters": [c.to_dict() for c in self.clusters],
                "importance": [{"name": k, "eta_squared": round(v, 4)} for k, v in self.importance.items()]}

    def lines(self, shown: int = SHOWN) -> list[str]:
        """A plain-text report, one line per cluster, then the importance."""
        out = []
        for c in self.clusters:
            name = "noise" if c.cluster < 0 else f"cluster {c.cluster}"
            feats = "; ".join(f.text for f in c.features[:shown]) or "no feature differs"
            out.append(f"{name} ({c.size} rows, {c.share:.0%}): {feats}; rule: {c.rule} "
                       f"(precision {c.rule_precision:.2f}, recall {c.rule_recall:.2f})")
        if self.importance:
            top = ", ".join(f"{k} {v:.2f}" for k, v in list(self.importance.items())[:5])
            out.append(f"feature importance (share of variance explained by the clusters): {top}")
        return out


def _ks_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two-sample Kolmogorov-Smirnov distance per column (bounded samples of each side)."""
    from scipy.stats import ks_2samp

    rng = np.random.default_rng(0)
    a = a if a.shape[0] <= TREE_ROWS else a[rng.choice(a.shape[0], TREE_ROWS, replace=False)]
    b = b if b.shape[0] <= TREE_ROWS else b[rng.choice(b.shape[0], TREE_ROWS, replace=False)]
    return np.array([ks_2samp(a[:, j], b[:, j]).statistic for j in range(a.shape[1])], dtype=np.float64)


def _direction(delta: float, sep: float) -> str:
    """high / low by the mean difference; a band when the means agree but the values do not."""
    if abs(delta) < 0.5 and sep >= 0.5:
        return "band"
    return "high" if delta > 0 else "low"


def _names(d: int, feature_names: Sequence[str] | None) -> list[str]:
    if feature_names is None:
        return [f"x{j}" for j in range(d)]
    names = [str(n) for n in feature_names]
    if len(names) != d:
        raise DataError(f"{len(names)} feature names for {d} columns")
    return names


def _rule(X: np.ndarray, target: np.ndarray, names: list[str], seed: int) -> tuple[str, float, float]:
    """The conditions leading to the tree leaf that holds most of the cluster's rows."""
    from sklearn.tree import DecisionTreeClassifier

    tree = DecisionTreeClassifier(max_depth=TREE_DEPTH, random_state=seed, class_weight="balanced").fit(X, target)
    t = tree.tree_
    leaves = tree.apply(X)
    best, best_hits = None, -1
    for leaf in np.unique(leaves):
        hits = int(target[leaves == leaf].sum())
        if t.value[leaf][0].argmax() == 1 and hits > best_hits:
            best, best_hits = leaf, hits
    if best is None:
        return "no short rule separates it", 0.0, 0.0
    parent = {}
    for node in range(t.node_count):
        for child, side in ((t.children_left[node], "<="), (t.children_right[node], ">")):
            if child >= 0:
                parent[child] = (node, side)
    bounds: dict[tuple[int, str], float] = {}  # the tightest bound per feature and side
    node = best
    while node in parent:
        p, side = parent[node]
        key, thr = (int(t.feature[p]), side), float(t.threshold[p])
        bounds[key] = min(thr, bounds.get(key, thr)) if side == "<=" else max(thr, bounds.get(key, thr))
        node = p
    conds = [f"{names[f]} {side} {thr:.4g}" for (f, side), thr in sorted(bounds.items(), reverse=True)]
    inside = leaves == best
    precision = float(target[inside].mean()) if inside.any() else 0.0
    recall = float(target[inside].sum() / max(target.sum(), 1))
    return " and ".join(conds) or "every row", precision, recall


def explain(X: Any, labels: Any, feature_names: Sequence[str] | None = None, seed: int = 0) -> Explanation:
    """Explain a partition of table ``X`` (see the module docstring)."""
    from ..validation import check_matrix

    X = check_matrix(X)
    labels = np.asarray(labels).reshape(-1)
    n, d = X.shape
    if labels.shape[0] != n:
        raise DataError(f"{labels.shape[0]} labels for {n} rows; give one label per row")
    try:
        labels = labels.astype(np.int64)
    except (TypeError, ValueError):
        raise DataError("labels must be integers (noise = -1)") from None
    names = _names(d, feature_names)
    rng = np.random.default_rng(seed)
    tree_rows = np.arange(n) if n <= TREE_ROWS else np.sort(rng.choice(n, TREE_ROWS, replace=False))
    ids, counts = np.unique(labels, return_counts=True)
    total_var = X.var(axis=0)
    clusters = []
    for cid, size in zip(ids.tolist(), counts.tolist()):
        inside = labels == cid
        if inside.all():
            effects = []
        else:
            a, b = X[inside], X[~inside]
            pooled = np.sqrt(((a.shape[0] - 1) * a.var(axis=0, ddof=1 if a.shape[0] > 1 else 0)
                              + (b.shape[0] - 1) * b.var(axis=0, ddof=1 if b.shape[0] > 1 else 0))
                             / max(n - 2, 1))
            scale = np.where(pooled > 0, pooled, np.where(total_var > 0, np.sqrt(total_var), 1.0))
            delta = (a.mean(axis=0) - b.mean(axis=0)) / scale
            sep = _ks_distances(a, b)
            order = np.lexsort((-np.abs(delta), -np.round(sep, 6)))
            q = np.quantile(a, [0.1, 0.9], axis=0)
            effects = [FeatureEffect(names[j], round(float(delta[j]), 3),
                                     _direction(float(delta[j]), float(sep[j])),
                                     float(a[:, j].mean()), float(b[:, j].mean()), round(float(sep[j]), 4),
                                     (float(q[0, j]), float(q[1, j]))) for j in order]
        if inside.all() or inside[tree_rows].all() or not inside[tree_rows].any():
            rule, prec, rec = "every row", 1.0, 1.0
        else:
            rule, prec, rec = _rule(X[tree_rows], inside[tree_rows].astype(int), names, seed)
        clusters.append(ClusterExplanation(int(cid), int(size), float(size / n), effects, rule,
                                           round(prec, 4), round(rec, 4)))
    means = np.zeros((ids.size, d))
    for i, cid in enumerate(ids):
        means[i] = X[labels == cid].mean(axis=0)
    between = (counts[:, None] * (means - X.mean(axis=0)) ** 2).sum(axis=0) / n
    eta = np.where(total_var > 0, between / np.where(total_var > 0, total_var, 1.0), 0.0)
    order = np.argsort(-eta, kind="stable")
    return Explanation(clusters, {names[j]: float(eta[j]) for j in order})


def write_plot(path: str, explanation: Explanation, top: int = 8) -> None:
    """A heat map of effect sizes (clusters x the most important features), atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..atomic import atomic_path

    feats = list(explanation.importance)[:top]
    grid = np.array([[next((f.effect for f in c.features if f.name == name), 0.0) for name in feats]
                     for c in explanation.clusters])
    lim = max(float(np.abs(grid).max()) if grid.size else 1.0, 1e-9)
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(feats), 1.2 + 0.45 * len(explanation.clusters)), dpi=110)
    im = ax.imshow(grid, cmap="coolwarm", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(len(feats)), feats, rotation=45, ha="right")
    ax.set_yticks(range(len(explanation.clusters)),
                  [("noise" if c.cluster < 0 else f"{c.cluster}") + f" ({c.size})" for c in explanation.clusters])
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            ax.text(j, i, f"{grid[i, j]:+.1f}", ha="center", va="center", fontsize=7)
    fig.colorbar(im, ax=ax, label="effect size (sd)")
    ax.set_title("what sets each cluster apart")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
