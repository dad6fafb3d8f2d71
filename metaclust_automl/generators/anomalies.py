"""The anomaly training corpus, generated in code from a small spec (no downloads).

Families of tasks (each a labelled table, y = 1 anomaly, 0 normal):

- ``synthetic``: normal rows from a random Gaussian mixture (random means, rotated
  anisotropic covariances, so correlated columns, some with low intrinsic dimension), or,
  with ``"tails"`` (degrees of freedom to draw from), a mixture of multivariate Student-t
  components: correlated *and* heavy-tailed columns, where a far row is not always an anomaly;
- ``manifold``: normal rows on a curved low-dimensional manifold (S-curve, swiss roll,
  moons, circles) embedded linearly in d dimensions with noise;
- ``injected``: normal rows from scikit-learn's shipped datasets (digits, wine,
  breast cancer, iris, diabetes; whole or one class), anomalies generated around them;
- ``rare_class``: a real class of a shipped dataset, down-sampled, against other classes
  (how many real benchmark sets were built).

Anomalies of the first three follow the four kinds of ADBench (Han et al., 2022):
``local`` (drawn from the normal mixture with inflated covariance), ``global`` (uniform
over the normal data's bounding box widened by 10%), ``dependency`` (every column drawn
independently from its normal marginal, so only the dependence between columns is
wrong) and ``clustered`` (a tight cluster away from the normal components); plus a fifth,
``subspace``: normal rows with a few columns pushed beyond the normal range (an
out-of-range lab value, a broken sensor), the commonest anomaly of real tables.

Then a task may be *augmented* the way real tables differ from clean Gaussians: columns
given skewed, heavy-tailed or bounded marginals by monotone transforms (fitted on the
normal rows, applied to all), some columns discretised (duplicates, ordinal codes),
irrelevant noise columns or constant columns added, normal rows duplicated. The spec, a JSON file under
``meta_datasets/anomaly/``, sets counts, sizes, dimensions, contamination levels and the
augmentation rates, and a ``filter`` that the trainer applies once it has the detectors'
scores (tasks no detector can solve without labels are left out; see ``train.filter_tasks``).
Every task's randomness derives from the spec's seed and its index.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..corpus.tasks import LabelledTask
from ..errors import ConfigError

SPEC_FORMAT = "metaclust-anomaly-corpus"
KINDS = ("local", "global", "dependency", "clustered", "subspace")
SOURCES = ("digits", "wine", "breast_cancer", "iris", "diabetes")
FAMILIES = ("synthetic", "manifold", "injected", "rare_class")


def default_spec_path() -> Path:
    """``meta_datasets/anomaly/corpus.json`` (``paths.meta_datasets_path``)."""
    from ..paths import meta_datasets_path

    return meta_datasets_path("anomaly", "corpus.json")


def load_spec(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Read and check a corpus spec (raises ConfigError with the reason)."""
    p = Path(path) if path is not None else default_spec_path()
    if not p.is_file():
        raise ConfigError(f"corpus spec not found: {p}")
    try:
        spec = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{p} is not valid JSON: {exc}") from None
    return check_spec(spec, str(p))


def check_spec(spec: Any, where: str = "corpus spec") -> dict[str, Any]:
    if not isinstance(spec, dict) or spec.get("format") != SPEC_FORMAT:
        raise ConfigError(f"{where}: not a {SPEC_FORMAT} spec")
    fams = spec.get("families")
    if not isinstance(fams, list) or not fams:
        raise ConfigError(f"{where}: 'families' must be a non-empty list")
    for fam in fams:
        if not isinstance(fam, dict) or fam.get("family") not in FAMILIES:
            raise ConfigError(f"{where}: each family needs 'family' in {FAMILIES}")
        if not isinstance(fam.get("count"), int) or fam["count"] < 0:
            raise ConfigError(f"{where}: family {fam.get('family')!r} needs a non-negative 'count'")
        for c in fam.get("contamination", [0.05]):
            if not 0 < float(c) < 0.5:
                raise ConfigError(f"{where}: contamination {c} is not in (0, 0.5)")
        for k in fam.get("anomalies", []):
            if k not in KINDS:
                raise ConfigError(f"{where}: unknown anomaly kind {k!r}; known: {', '.join(KINDS)}")
        for s in fam.get("sources", []):
            if s not in SOURCES:
                raise ConfigError(f"{where}: unknown source {s!r}; known: {', '.join(SOURCES)}")
    return spec


# --- normal data ---------------------------------------------------------------------------
@dataclass
class Mixture:
    means: np.ndarray  # (c, d)
    covs: np.ndarray  # (c, d, d)
    weights: np.ndarray  # (c,)
    #: degrees of freedom of Student-t components; None: Gaussian
    df: float | None = None

    def sample(self, n: int, rng: np.random.Generator, cov_factor: float = 1.0) -> np.ndarray:
        comp = rng.choice(self.weights.size, size=n, p=self.weights)
        out = np.empty((n, self.means.shape[1]))
        for c in range(self.weights.size):
            rows = np.flatnonzero(comp == c)
            if rows.size:
                dev = rng.multivariate_normal(np.zeros(self.means.shape[1]), cov_factor * self.covs[c],
                                              size=rows.size, method="eigh")
                if self.df is not None:  # multivariate t: one chi-square scale per row
                    dev *= np.sqrt(self.df / rng.chisquare(self.df, size=rows.size))[:, None]
                out[rows] = self.means[c] + dev
        return out


def random_rotation(d: int, rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(d, d)))
    return q * np.sign(np.diag(r))


def random_mixture(d: int, rng: np.random.Generator, max_components: int) -> Mixture:
    c = int(rng.integers(1, max_components + 1))
    sep = rng.uniform(1.0, 6.0)
    means = rng.normal(scale=sep, size=(c, d))
    covs = np.empty((c, d, d))
    for i in range(c):
        scales = np.exp(rng.uniform(np.log(0.2), np.log(2.0), size=d))
        if d > 3 and rng.random() < 0.5:  # low intrinsic dimension: strong dependencies
            keep = max(1, int(d * rng.uniform(0.2, 0.6)))
            scales[rng.permutation(d)[keep:]] *= 0.05
        Q = random_rotation(d, rng)
        covs[i] = (Q * scales**2) @ Q.T
    weights = rng.dirichlet(np.full(c, 2.0))
    return Mixture(means, covs, weights)


def manifold_normal(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    from sklearn import datasets

    shape = rng.choice(["s_curve", "swiss_roll", "moons", "circles"])
    seed = int(rng.integers(2**31 - 1))
    if shape == "s_curve":
        Z, _ = datasets.make_s_curve(n, noise=0.0, random_state=seed)
    elif shape == "swiss_roll":
        Z, _ = datasets.make_swiss_roll(n, noise=0.0, random_state=seed)
        Z = Z / 5.0
    elif shape == "moons":
        Z, _ = datasets.make_moons(n, noise=0.0, random_state=seed)
    else:
        Z, _ = datasets.make_circles(n, noise=0.0, factor=0.5, random_state=seed)
    Z = (Z - Z.mean(0)) / Z.std(0)
    d = max(d, Z.shape[1])
    A = rng.normal(size=(Z.shape[1], d)) / np.sqrt(Z.shape[1])
    return Z @ A + rng.normal(scale=rng.uniform(0.02, 0.15), size=(n, d))


_SOURCE_CACHE: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def load_source(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A dataset shipped with scikit-learn (no download), as (X, class labels)."""
    if name not in _SOURCE_CACHE:
        from sklearn import datasets

        loader = {"digits": datasets.load_digits, "wine": datasets.load_wine,
                  "breast_cancer": datasets.load_breast_cancer, "iris": datasets.load_iris,
                  "diabetes": datasets.load_diabetes}[name]
        X, y = loader(return_X_y=True)
        if name == "diabetes":  # a regression target: its quartiles serve as classes
            y = np.searchsorted(np.quantile(y, [0.25, 0.5, 0.75]), y)
        _SOURCE_CACHE[name] = (np.asarray(X, dtype=np.float64), np.asarray(y).astype(np.int64))
    return _SOURCE_CACHE[name]


def fitted_mixture(X: np.ndarray, rng: np.random.Generator) -> Mixture:
    from sklearn.mixture import GaussianMixture

    c = int(rng.integers(1, min(5, max(2, X.shape[0] // 40)) + 1))
    gm = GaussianMixture(n_components=c, covariance_type="full", reg_covar=1e-3,
                         random_state=int(rng.integers(2**31 - 1)), max_iter=100).fit(X)
    return Mixture(gm.means_, gm.covariances_, gm.weights_ / gm.weights_.sum())


# --- anomalies ----------------------------------------------------------------------------------
def make_anomalies(kind: str, normal: np.ndarray, n_anom: int, rng: np.random.Generator,
                   mixture: Mixture | None) -> np.ndarray:
    """``n_anom`` anomalies of one ADBench kind for the given normal rows."""
    d = normal.shape[1]
    if kind == "global":
        lo, hi = normal.min(axis=0), normal.max(axis=0)
        pad = 0.1 * (hi - lo)
        return rng.uniform(lo - pad, hi + pad, size=(n_anom, d))
    if kind == "dependency":
        cols = [rng.choice(normal[:, j], size=n_anom) for j in range(d)]
        jitter = 0.05 * normal.std(axis=0)
        return np.column_stack(cols) + rng.normal(size=(n_anom, d)) * jitter
    if kind == "subspace":
        base = normal[rng.choice(normal.shape[0], size=n_anom)].copy()
        lo, hi, sd = normal.min(axis=0), normal.max(axis=0), normal.std(axis=0)
        share = rng.uniform(0.05, 0.3)
        for row in base:
            cols = rng.choice(d, size=max(1, int(round(share * d))), replace=False)
            up = rng.random(cols.size) < 0.7
            push = rng.uniform(0.0, 1.5, size=cols.size) * sd[cols]
            row[cols] = np.where(up, hi[cols] + push, lo[cols] - push)
        return base
    assert mixture is not None
    if kind == "local":
        return mixture.sample(n_anom, rng, cov_factor=rng.uniform(3.0, 6.0))
    # clustered: one or two tight clusters away from the normal rows, as in ADBench (which
    # scales the components' means by 5). The centre lies at Mahalanobis distance of
    # (2 to 4) * sqrt(d) from *every* component (almost all of a component's rows lie
    # within about sqrt(d)), so the cluster is anomalous, yet dense: detectors that only
    # look at a few neighbours can miss it.
    out = []
    sizes = np.array_split(np.arange(n_anom), int(rng.integers(1, 3)) if n_anom >= 6 else 1)
    roots = []
    precisions = []
    for cov in mixture.covs:
        vals, vecs = np.linalg.eigh(cov)
        vals = np.clip(vals, 1e-9 * max(vals.max(), 1e-12), None)
        roots.append(vecs * np.sqrt(vals))
        precisions.append((vecs / vals) @ vecs.T)
    for part in sizes:
        c = rng.choice(mixture.weights.size, p=mixture.weights)
        target = np.sqrt(d) * rng.uniform(2.0, 4.0)
        for _ in range(50):
            u = rng.normal(size=d)
            u /= np.linalg.norm(u)
            center = mixture.means[c] + roots[c] @ u * target
            nearest = min(np.sqrt((center - m) @ P @ (center - m)) for m, P in zip(mixture.means, precisions))
            if nearest >= 0.8 * target:
                break
        out.append(rng.multivariate_normal(center, rng.uniform(0.05, 0.5) * mixture.covs[c], size=part.size,
                                           method="eigh"))
    return np.vstack(out)


def n_anomalies(n_normal: int, contamination: float) -> int:
    return max(2, int(round(contamination * n_normal / (1.0 - contamination))))


# --- augmentation ----------------------------------------------------------------------------------
def augment(X: np.ndarray, y: np.ndarray, rng: np.random.Generator, rates: dict[str, float]
            ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    done: list[str] = []
    X = X.copy()
    n, d = X.shape
    if rng.random() < rates.get("marginals", 0.0):
        cols = np.flatnonzero(rng.random(d) < rng.uniform(0.3, 1.0))
        normal = y == 0
        for j in cols:
            z = (X[:, j] - X[normal, j].mean()) / max(X[normal, j].std(), 1e-12)
            a = rng.uniform(0.3, 1.2)
            form = rng.integers(4)
            if form == 0:
                X[:, j] = np.exp(a * np.clip(z, -30, 30))  # right-skewed, like a concentration
            elif form == 1:
                X[:, j] = -np.exp(a * np.clip(z, -30, 30))  # left-skewed
            elif form == 2:
                X[:, j] = np.sinh(a * np.clip(z, -30, 30))  # heavy tails on both sides
            else:
                X[:, j] = np.tanh(a * z)  # bounded, light tails
        done.append("marginals")
    if rng.random() < rates.get("discretize", 0.0):
        cols = np.flatnonzero(rng.random(d) < rng.uniform(0.2, 1.0))
        for j in cols:
            levels = int(rng.integers(2, 13))
            edges = np.quantile(X[y == 0, j], np.linspace(0, 1, levels + 1)[1:-1])
            X[:, j] = np.searchsorted(np.unique(edges), X[:, j])
        done.append("discretize")
    if rng.random() < rates.get("noise_columns", 0.0):
        extra = int(rng.integers(1, max(2, d // 2) + 1))
        X = np.hstack([X, rng.normal(size=(n, extra))])
        done.append("noise_columns")
    if rng.random() < rates.get("constant_columns", 0.0):
        X = np.hstack([X, np.full((n, int(rng.integers(1, 4))), rng.normal())])
        done.append("constant_columns")
    if rng.random() < rates.get("duplicates", 0.0):
        normal = np.flatnonzero(y == 0)
        dup = rng.choice(normal, size=int(rng.uniform(0.05, 0.3) * n), replace=True)
        X, y = np.vstack([X, X[dup]]), np.concatenate([y, y[dup]])
        done.append("duplicates")
    return X, y, done


# --- families ----------------------------------------------------------------------------------
def _pick(rng: np.random.Generator, values: list, default: Any) -> Any:
    return values[int(rng.integers(len(values)))] if values else default


def _rows(rng: np.random.Generator, fam: dict[str, Any]) -> int:
    lo, hi = fam.get("rows", [300, 1500])
    return int(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def with_labels(normal: np.ndarray, anom: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normal rows then anomalies, with labels 0 and 1."""
    X = np.vstack([normal, anom])
    return X, np.r_[np.zeros(len(normal)), np.ones(len(anom))].astype(np.int64)


def _synthetic(fam: dict[str, Any], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict]:
    d = int(_pick(rng, fam.get("dims", [2, 8]), 4))
    n = _rows(rng, fam)
    pi = float(_pick(rng, fam.get("contamination", []), 0.05))
    kind = _pick(rng, fam.get("anomalies", list(KINDS)), "local")
    if fam["family"] == "manifold":
        normal = manifold_normal(n, d, rng)
        mix = fitted_mixture(normal, rng) if kind in ("local", "clustered") else None
    else:
        mix = random_mixture(d, rng, int(fam.get("max_components", 5)))
        tails = fam.get("tails")
        if tails:
            mix.df = float(_pick(rng, tails, 5.0))
        normal = mix.sample(n, rng)
    anom = make_anomalies(kind, normal, n_anomalies(n, pi), rng, mix)
    X, y = with_labels(normal, anom)
    return X, y, {"kind": kind, "dims": d, "contamination_target": pi}


def _injected(fam: dict[str, Any], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict]:
    source = _pick(rng, fam.get("sources", list(SOURCES)), "wine")
    Xs, ys = load_source(source)
    if rng.random() < 0.5:
        cls = rng.choice(np.unique(ys))
        normal = Xs[ys == cls]
    else:
        normal = Xs
    mu, sd = normal.mean(0), normal.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    Z = (normal - mu) / sd
    pi = float(_pick(rng, fam.get("contamination", []), 0.05))
    kind = _pick(rng, fam.get("anomalies", list(KINDS)), "local")
    mix = fitted_mixture(Z, rng) if kind in ("local", "clustered") else None
    anom = make_anomalies(kind, Z, n_anomalies(len(Z), pi), rng, mix) * sd + mu
    X, y = with_labels(normal, anom)
    return X, y, {"kind": kind, "source": source, "contamination_target": pi}


def _rare_class(fam: dict[str, Any], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict]:
    source = _pick(rng, fam.get("sources", list(SOURCES)), "digits")
    Xs, ys = load_source(source)
    classes = rng.permutation(np.unique(ys))
    n_normal_classes = int(rng.integers(1, len(classes)))
    normal_cls, rest = classes[:n_normal_classes], classes[n_normal_classes:]
    anom_cls = rest[: int(rng.integers(1, min(3, len(rest)) + 1))]
    normal = Xs[np.isin(ys, normal_cls)]
    pool = Xs[np.isin(ys, anom_cls)]
    pi = float(_pick(rng, fam.get("contamination", []), 0.05))
    k = min(len(pool), n_anomalies(len(normal), pi))
    anom = pool[rng.choice(len(pool), size=k, replace=False)]
    X, y = with_labels(normal, anom)
    return X, y, {"source": source, "normal_classes": [int(c) for c in normal_cls],
                  "anomaly_classes": [int(c) for c in anom_cls], "contamination_target": pi}


_FAMILY_FUNCS = {"synthetic": _synthetic, "manifold": _synthetic, "injected": _injected,
                 "rare_class": _rare_class}


def generate(spec: dict[str, Any], *, limit_per_family: int | None = None) -> Iterator[LabelledTask]:
    """Yield the spec's tasks, deterministically (each task seeded by the spec seed and its index)."""
    spec = check_spec(spec)
    seed = int(spec.get("seed", 0))
    rates = dict(spec.get("augment", {}))
    max_rows = int(spec.get("max_rows", 2000))
    for fi, fam in enumerate(spec["families"]):
        count = fam["count"] if limit_per_family is None else min(fam["count"], limit_per_family)
        name = fam.get("name", fam["family"])
        for ti in range(count):
            rng = np.random.default_rng([seed, fi, ti])
            X, y, info = _FAMILY_FUNCS[fam["family"]](fam, rng)
            if fam.get("augment", True):
                X, y, done = augment(X, y, rng, rates)
                info["augment"] = done
            if X.shape[0] > max_rows:  # keep the class balance, bound the cost
                keep = np.sort(rng.choice(X.shape[0], max_rows, replace=False))
                X, y = X[keep], y[keep]
            order = rng.permutation(X.shape[0])
            X, y = X[order], y[order]
            if y.sum() < 2 or (y == 0).sum() < 10:
                continue
            yield LabelledTask(id=f"{name}-{ti:04d}", group=name, X=np.ascontiguousarray(X, dtype=np.float64),
                               y=y, info=info)
