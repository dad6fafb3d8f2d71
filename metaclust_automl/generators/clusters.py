"""Synthetic clustering tasks: the shapes that fool internal validity indices.

Meta-training learns which algorithm to trust where, so the corpus must hold the cases
in which the usual heuristics mislead: elongated and non-convex clusters (silhouette and
Calinski-Harabasz prefer round blobs), very different densities and sizes (k-means
splits the big cluster), background noise and outliers (every point is forced into a
cluster), irrelevant or many dimensions (distances concentrate), columns on different
scales, and overlap from clean to heavy.

Every generator is a pure function of its parameters and a ``numpy.random.Generator``;
the caller derives that generator from the task id, so a task is reproducible alone.

Id contract: a task id encodes every parameter that differs from the defaults declared
here (``GENERATORS[...].params`` and ``COMMON_PARAMS``). Changing a default or the way a
generator draws its numbers changes what existing ids mean: add a new parameter (whose
default reproduces the old behaviour) or a new generator instead.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError
from .heavy_tailed import DISTS, heavy
from .hypercube import hypercube
from .layout import (  # noqa: F401  (MIN_CLUSTER and the helpers stay importable from here)
    MIN_CLUSTER,
    _centers,
    _labels,
    _nearest_center_distance,
    _rotation,
    _sizes,
    _unit_vectors,
)
from .scenes3d import scene3d

NOISE = -1
ALWAYS_IN_ID = ("n", "d", "k")  # shown in every id that has them, default or not


@dataclass(frozen=True)
class Param:
    """One parameter of a generator: its name, default and type (int, float or str)."""

    name: str
    default: Any
    kind: type
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class GeneratorSpec:
    """A named generator: the function and its parameters in id order."""

    name: str
    fn: Callable[..., tuple[np.ndarray, np.ndarray]]
    params: tuple[Param, ...]
    doc: str


# Contamination and transformations applied after any generator, in this order.
COMMON_PARAMS: tuple[Param, ...] = (
    Param("noise", 0.0, float),   # share of rows that are uniform background noise (label -1)
    Param("out", 0.0, float),     # share of rows that are far outliers (label -1)
    Param("embed", 0, int),       # rotate the structure into this many dimensions (0 = keep)
    Param("irr", 0, int),         # number of irrelevant Gaussian columns appended
    Param("scale", 0.0, float),   # column scales span this many decades (0 = same scale)
    Param("skew", 0.0, float),    # share of columns made right-skewed (log-normal-like), before scaling
    Param("ints", 0.0, float),    # share of columns made integer-valued (counts, ratings), after scaling
)


# ------------------------------------------------------------------------- generators

def blobs(rng: np.random.Generator, *, n: int, d: int, k: int, sep: float, spread: float,
          aniso: float, shear: float, imb: float, layout: str) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters. ``sep``: every pair of centres lies at least ``sep`` times the sum of
    the two clusters' largest standard deviations apart (3 = clean, 1 = heavy overlap).
    ``spread``: ratio of the widest to the narrowest cluster (different densities).
    ``aniso``: ratio of each cluster's longest to shortest axis (their geometric mean is
    the width ``sep`` refers to), randomly rotated, so long clusters may reach their neighbours.
    ``shear``: condition number of one linear map applied to all clusters (elongates them
    in the same direction, which k-means and silhouette read as the wrong split).
    ``imb``: ratio of the largest to the smallest cluster size."""
    centers = _centers(rng, k, d, layout)
    nn = _nearest_center_distance(centers)
    mult = spread ** -rng.permutation(np.linspace(0.0, 1.0, k)) if k > 1 else np.ones(1)
    sigma = mult * nn / (2.0 * sep)
    sizes = _sizes(n, k, rng, imb)
    parts = []
    for i in range(k):
        axes = np.ones(d)
        if aniso > 1.0 and d > 1:
            axes = aniso ** rng.uniform(-0.5, 0.5, d)
            axes[0], axes[1] = aniso ** 0.5, aniso ** -0.5
            z = rng.standard_normal((sizes[i], d)) * axes
            z = z @ _rotation(rng, d).T
        else:
            z = rng.standard_normal((sizes[i], d))
        parts.append(centers[i] + sigma[i] * z)
    X = np.vstack(parts)
    if shear > 1.0 and d > 1:
        s = shear ** -np.linspace(0.0, 1.0, d)
        X = X @ (_rotation(rng, d) * s) @ _rotation(rng, d)
    return X, _labels(sizes)


def moons(rng: np.random.Generator, *, n: int, pairs: int, jitter: float,
          imb: float) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved half circles (two clusters per pair), each pair turned at random.
    Non-convex: k-means and the centroid-based indices cut each moon in half."""
    sizes = _sizes(n, 2 * pairs, rng, imb)
    cols = math.ceil(math.sqrt(pairs))
    parts = []
    for i, m in enumerate(sizes):
        pair, lower = divmod(i, 2)
        t = rng.uniform(0.0, math.pi, m)
        if lower:
            pts = np.column_stack([1.0 - np.cos(t), 0.5 - np.sin(t)])
        else:
            pts = np.column_stack([np.cos(t), np.sin(t)])
        pts = pts - np.array([0.5, 0.25])
        parts.append((pair, pts + rng.normal(0.0, jitter, (m, 2))))
    turns = [_rotation(rng, 2) for _ in range(pairs)]
    out = [pts @ turns[p].T + np.array([(p % cols) * 3.5, (p // cols) * 3.5]) for p, pts in parts]
    return np.vstack(out), _labels(sizes)


def rings(rng: np.random.Generator, *, n: int, rings: int, d: int, width: float, center: int,
          equal: int) -> tuple[np.ndarray, np.ndarray]:
    """Concentric circles (d=2) or spherical shells (d=3) of radius 1, 2, ..., optionally
    around a central blob. ``equal=0`` keeps the density along each ring the same (outer
    rings hold more points); ``equal=1`` gives every ring as many points (inner ones denser).
    Every ring has the same centroid, so centroid-based indices cannot see them."""
    radii = np.arange(1, rings + 1, dtype=float)
    weights = np.ones(rings) if equal else radii ** (d - 1)
    if center:
        weights = np.concatenate([[0.5 * weights[0]], weights])
    k = weights.size
    n_min = k * MIN_CLUSTER
    if n < n_min:
        raise ConfigError(f"{n} points cannot hold {k} rings; raise n")
    sizes = np.maximum(MIN_CLUSTER, np.floor(n * weights / weights.sum()).astype(np.int64))
    sizes[-1] += n - sizes.sum()
    parts = []
    for i, m in enumerate(sizes):
        if center and i == 0:
            parts.append(rng.normal(0.0, 0.2, (m, d)))
            continue
        r = radii[i - 1 if center else i]
        u = _unit_vectors(rng, m, d)
        parts.append(u * (r + rng.normal(0.0, width, (m, 1))))
    return np.vstack(parts), _labels(sizes)


def spirals(rng: np.random.Generator, *, n: int, arms: int, turns: float,
            jitter: float) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved Archimedean spirals; ``jitter`` is relative to the gap between arms.
    Each arm is long and thin and wraps around the others' centroid."""
    sizes = _sizes(n, arms, rng)
    t0, t1 = 0.5 * math.pi, 0.5 * math.pi + 2 * math.pi * turns
    parts = []
    for j, m in enumerate(sizes):
        theta = np.sqrt(rng.uniform(t0 * t0, t1 * t1, m))  # uniform along the arc
        r = theta / (2 * math.pi)
        phi = theta + 2 * math.pi * j / arms
        pts = np.column_stack([r * np.cos(phi), r * np.sin(phi)])
        parts.append(pts + rng.normal(0.0, jitter / arms, (m, 2)))
    return np.vstack(parts), _labels(sizes)


def chainlink(rng: np.random.Generator, *, n: int, links: int,
              jitter: float) -> tuple[np.ndarray, np.ndarray]:
    """A chain of interlocked rings in 3-D (FCPS 'chainlink' extended to ``links`` rings).
    Each ring passes through the hole of the next: linked by proximity, not by a centre."""
    sizes = _sizes(n, links, rng)
    parts = []
    for i, m in enumerate(sizes):
        t = rng.uniform(0.0, 2 * math.pi, m)
        ring = np.zeros((m, 3))
        ring[:, 0] = np.cos(t) + 1.5 * i
        ring[:, 1 if i % 2 == 0 else 2] = np.sin(t)
        parts.append(ring + rng.normal(0.0, jitter, (m, 3)))
    return np.vstack(parts), _labels(sizes)


def stripes(rng: np.random.Generator, *, n: int, k: int, length: float, sep: float,
            bend: float, imb: float) -> tuple[np.ndarray, np.ndarray]:
    """Parallel elongated clusters one unit apart, ``length`` units long (random lengths and
    offsets), optionally bent into parabolas of height ``bend``, turned at random. Each stripe
    is much longer than the gap to its neighbours, so compactness-based methods cut across them."""
    sizes = _sizes(n, k, rng, imb)
    sd = 1.0 / (2.0 * sep)
    parts = []
    for i, m in enumerate(sizes):
        li = length * rng.uniform(0.6, 1.0)
        x = rng.uniform(0.0, li, m) + rng.uniform(0.0, length - li)
        y = i + rng.normal(0.0, sd, m) + bend * ((x - length / 2) / (length / 2)) ** 2
        parts.append(np.column_stack([x, y]))
    return np.vstack(parts) @ _rotation(rng, 2).T, _labels(sizes)


def _component(rng: np.random.Generator, kind: str, sizes: list[int], jitter: float) -> list[np.ndarray]:
    """One piece of a 2-D scene, within about one unit of the origin."""
    if kind == "blob":
        a = rng.uniform(0.25, 0.45)
        z = rng.standard_normal((sizes[0], 2)) * np.array([a, a * rng.uniform(0.4, 1.0)])
        return [z @ _rotation(rng, 2).T * jitter]
    if kind == "moons":
        out = []
        for j, m in enumerate(sizes):
            t = rng.uniform(0.0, math.pi, m)
            pts = (np.column_stack([1 - np.cos(t), 0.5 - np.sin(t)]) if j
                   else np.column_stack([np.cos(t), np.sin(t)])) - np.array([0.5, 0.25])
            out.append(0.6 * (pts + rng.normal(0.0, 0.06 * jitter, (m, 2))))
        return out
    if kind == "ring-core":
        t = rng.uniform(0.0, 2 * math.pi, sizes[0])
        ring = np.column_stack([np.cos(t), np.sin(t)]) * (1.0 + rng.normal(0.0, 0.05 * jitter, (sizes[0], 1)))
        return [ring, rng.normal(0.0, 0.15 * jitter, (sizes[1], 2))]
    if kind == "stripe":
        x = rng.uniform(-1.0, 1.0, sizes[0])
        pts = np.column_stack([x, rng.normal(0.0, 0.06 * jitter, sizes[0])])
        return [pts @ _rotation(rng, 2).T]
    if kind == "dense-sparse":
        return [rng.normal(0.0, 0.08 * jitter, (sizes[0], 2)) + np.array([-0.55, 0.0]),
                rng.normal(0.0, 0.3 * jitter, (sizes[1], 2)) + np.array([0.45, 0.0])]
    # "arc": a thick half ring
    t = rng.uniform(0.0, math.pi, sizes[0]) + rng.uniform(0, 2 * math.pi)
    r = 0.9 + rng.normal(0.0, 0.07 * jitter, sizes[0])
    return [np.column_stack([r * np.cos(t), r * np.sin(t)])]


SCENE_PARTS = {"blob": 1, "moons": 2, "ring-core": 2, "stripe": 1, "dense-sparse": 2, "arc": 1}


def scene(rng: np.random.Generator, *, n: int, parts: int, jitter: float) -> tuple[np.ndarray, np.ndarray]:
    """A 2-D scene of ``parts`` pieces (blobs, moon pairs, a ring around a core, stripes,
    a dense blob beside a sparse one, arcs) laid on a jittered grid, like the benchmark
    sets 'compound', 'aggregation' or 'pathbased': one algorithm rarely fits every piece."""
    names = sorted(SCENE_PARTS)
    kinds = [names[i] for i in rng.integers(0, len(names), parts)]
    counts = [SCENE_PARTS[kd] for kd in kinds]
    k = sum(counts)
    sizes = _sizes(n, k, rng, imb=4.0)
    cols = math.ceil(math.sqrt(parts))
    out, pos = [], 0
    for p, kd in enumerate(kinds):
        pieces = _component(rng, kd, [int(s) for s in sizes[pos:pos + counts[p]]], jitter)
        shift = np.array([(p % cols) * 3.0, (p // cols) * 3.0]) + rng.uniform(-0.3, 0.3, 2)
        out.extend(piece + shift for piece in pieces)
        pos += counts[p]
    return np.vstack(out), _labels(sizes)


_LAYOUTS = ("random", "grid", "ring")

def mixed(rng: np.random.Generator, *, n: int, k: int, d: int, sep: float, cats: int, purity: float,
          levels: int, noisecats: int) -> tuple[np.ndarray, np.ndarray]:
    """A mixed-type table (``generators/mixed.py``): d overlapping numeric columns and ``cats``
    categorical columns naming the cluster with probability ``purity`` (plus ``noisecats``
    unrelated ones), encoded as the loader encodes a mixed table (standardised numbers,
    one-hot categories, layout carried)."""
    from ..encoding import fit_schema
    from .mixed import mixed_frame

    df, y = mixed_frame(rng, n=n, k=k, d=d, sep=sep, cats=cats, purity=purity, levels=levels,
                        noise_cats=noisecats)
    numeric = [c for c in df.columns if c.startswith("x")]
    categorical = [c for c in df.columns if c not in numeric]
    num = df[numeric].to_numpy(dtype=np.float64)
    return fit_schema(num, numeric, df, categorical).encode(num, df), y


GENERATORS: dict[str, GeneratorSpec] = {
    g.name: g for g in (
        GeneratorSpec("blobs", blobs, (
            Param("n", 1000, int), Param("d", 2, int), Param("k", 3, int), Param("sep", 3.0, float),
            Param("spread", 1.0, float), Param("aniso", 1.0, float), Param("shear", 1.0, float),
            Param("imb", 1.0, float), Param("layout", "random", str, _LAYOUTS)), blobs.__doc__ or ""),
        GeneratorSpec("moons", moons, (
            Param("n", 1000, int), Param("pairs", 1, int), Param("jitter", 0.1, float),
            Param("imb", 1.0, float)), moons.__doc__ or ""),
        GeneratorSpec("rings", rings, (
            Param("n", 1000, int), Param("rings", 2, int), Param("d", 2, int), Param("width", 0.1, float),
            Param("center", 0, int), Param("equal", 0, int)), rings.__doc__ or ""),
        GeneratorSpec("spirals", spirals, (
            Param("n", 1000, int), Param("arms", 2, int), Param("turns", 1.5, float),
            Param("jitter", 0.1, float)), spirals.__doc__ or ""),
        GeneratorSpec("chainlink", chainlink, (
            Param("n", 1000, int), Param("links", 2, int), Param("jitter", 0.1, float)), chainlink.__doc__ or ""),
        GeneratorSpec("stripes", stripes, (
            Param("n", 1000, int), Param("k", 3, int), Param("length", 10.0, float), Param("sep", 3.0, float),
            Param("bend", 0.0, float), Param("imb", 1.0, float)), stripes.__doc__ or ""),
        GeneratorSpec("mixed", mixed, (
            Param("n", 1000, int), Param("k", 3, int), Param("d", 2, int), Param("sep", 1.75, float),
            Param("cats", 1, int), Param("purity", 0.9, float), Param("levels", 0, int),
            Param("noisecats", 0, int)), mixed.__doc__ or ""),
        GeneratorSpec("scene", scene, (
            Param("n", 1000, int), Param("parts", 4, int), Param("jitter", 1.0, float)), scene.__doc__ or ""),
        GeneratorSpec("heavy", heavy, (
            Param("n", 1000, int), Param("d", 2, int), Param("k", 3, int), Param("sep", 3.0, float),
            Param("dist", "t", str, DISTS), Param("df", 3.0, float), Param("aniso", 1.0, float),
            Param("imb", 1.0, float)), heavy.__doc__ or ""),
        GeneratorSpec("hypercube", hypercube, (
            Param("n", 1000, int), Param("k", 3, int), Param("inf", 5, int), Param("red", 2, int),
            Param("useless", 3, int), Param("sub", 2, int), Param("sep", 1.0, float),
            Param("imb", 1.0, float)), hypercube.__doc__ or ""),
        GeneratorSpec("scene3d", scene3d, (
            Param("n", 1000, int), Param("parts", 4, int), Param("jitter", 1.0, float),
            Param("gap", 3.0, float)), scene3d.__doc__ or ""),
    )
}


# ---------------------------------------------------------------- parameters and ids

def _coerce(gen: str, p: Param, value: Any) -> Any:
    if p.kind is str:
        if not isinstance(value, str) or (p.choices and value not in p.choices):
            raise ConfigError(f"generator {gen!r}: {p.name} must be one of {', '.join(p.choices)}, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"generator {gen!r}: {p.name} must be a number, got {value!r}")
    if p.kind is int:
        if float(value) != int(value):
            raise ConfigError(f"generator {gen!r}: {p.name} must be a whole number, got {value!r}")
        return int(value)
    return float(value)


def resolve_params(generator: str, params: dict[str, Any]) -> dict[str, Any]:
    """Every parameter of ``generator`` (its own, then the common ones), defaults filled in."""
    if generator not in GENERATORS:
        raise ConfigError(f"unknown generator {generator!r}; known: {', '.join(sorted(GENERATORS))}")
    schema = GENERATORS[generator].params + COMMON_PARAMS
    known = {p.name for p in schema}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ConfigError(f"generator {generator!r} has no parameter {unknown[0]!r}; "
                          f"known: {', '.join(p.name for p in schema)}")
    out = {p.name: _coerce(generator, p, params.get(p.name, p.default)) for p in schema}
    if out["n"] < 2 * MIN_CLUSTER:
        raise ConfigError(f"generator {generator!r}: n={out['n']} is too small")
    if not 0.0 <= out["noise"] + out["out"] < 0.5:
        raise ConfigError(f"generator {generator!r}: noise + out must lie in [0, 0.5)")
    for name in ("skew", "ints"):
        if not 0.0 <= out[name] <= 1.0:
            raise ConfigError(f"generator {generator!r}: {name} is a share of columns, in [0, 1]; got {out[name]}")
    for name in ("df", "inf", "sub", "parts", "gap"):
        if name in out and out[name] <= 0:
            raise ConfigError(f"generator {generator!r}: {name} must be positive, got {out[name]}")
    for name in ("sep", "spread", "aniso", "shear", "imb", "length", "turns", "jitter", "width"):
        if name in out and out[name] <= 0:
            raise ConfigError(f"generator {generator!r}: {name} must be positive, got {out[name]}")
    return out


def format_value(value: Any) -> str:
    """Compact, stable text for a parameter value inside a task id."""
    if isinstance(value, float):
        return format(value, "g")
    return str(value)


def id_part(generator: str, params: dict[str, Any]) -> str:
    """``n1200-d5-k4``: every parameter in declared order that differs from its default."""
    schema = GENERATORS[generator].params + COMMON_PARAMS
    full = resolve_params(generator, params)
    bits = [f"{p.name}{format_value(full[p.name])}" for p in schema
            if p.name in ALWAYS_IN_ID or full[p.name] != p.default]
    return "-".join(bits)


# ------------------------------------------------------------ contamination, shuffle

def _skewed(X: np.ndarray, rng: np.random.Generator, share: float) -> np.ndarray:
    """A ``share`` of the columns (at least one) made right-skewed, as incomes, durations or
    concentrations are: exp of the standardised column times a random strength in [0.5, 1.2]."""
    d = X.shape[1]
    cols = rng.permutation(d)[: max(1, int(round(share * d)))]
    X = X.copy()
    for j in cols:
        z = (X[:, j] - X[:, j].mean()) / max(float(X[:, j].std()), 1e-12)
        X[:, j] = np.exp(rng.uniform(0.5, 1.2) * z)
    return X


def _integer_valued(X: np.ndarray, rng: np.random.Generator, share: float) -> np.ndarray:
    """A ``share`` of the columns (at least one) made integer-valued, as counts, ages or
    ratings are: cut into 3 to 40 equal-width levels, numbered from a random integer offset."""
    d = X.shape[1]
    cols = rng.permutation(d)[: max(1, int(round(share * d)))]
    X = X.copy()
    for j in cols:
        levels = int(rng.integers(3, 41))
        lo, hi = float(X[:, j].min()), float(X[:, j].max())
        X[:, j] = np.floor((X[:, j] - lo) / max(hi - lo, 1e-12) * (levels - 1e-9)) + int(rng.integers(0, 50))
    return X


def _finish(X: np.ndarray, y: np.ndarray, rng: np.random.Generator, n_noise: int, n_out: int,
            embed: int, irr: int, scale: float, skew: float = 0.0,
            ints: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    extra = []
    if n_noise:
        lo, hi = X.min(axis=0), X.max(axis=0)
        pad = 0.1 * (hi - lo)
        extra.append(rng.uniform(lo - pad, hi + pad, (n_noise, X.shape[1])))
    if n_out:
        c = X.mean(axis=0)
        radius = np.quantile(np.linalg.norm(X - c, axis=1), 0.99)
        extra.append(c + _unit_vectors(rng, n_out, X.shape[1]) * radius * rng.uniform(1.5, 3.0, (n_out, 1)))
    if extra:
        X = np.vstack([X, *extra])
        y = np.concatenate([y, np.full(n_noise + n_out, NOISE, dtype=np.int64)])
    if embed > X.shape[1]:
        basis = _rotation(rng, embed)[: X.shape[1]]
        level = 0.02 * float(np.median(X.std(axis=0)))
        X = X @ basis + rng.normal(0.0, level, (X.shape[0], embed))
    if irr:
        level = float(np.median(X.std(axis=0)))
        X = np.hstack([X, rng.normal(0.0, level, (X.shape[0], irr))])
    if skew > 0:  # drawn only when asked, so the tables of earlier ids stay the same
        X = _skewed(X, rng, skew)
    if scale > 0:
        d = X.shape[1]
        factors = 10.0 ** (scale * (rng.permutation(np.linspace(0.0, 1.0, d)) - 0.5))
        X = (X + rng.uniform(-10.0, 10.0, d)) * factors
    if ints > 0:
        X = _integer_valued(X, rng, ints)
    order = rng.permutation(X.shape[0])
    from ..encoding import keep_layout  # a mixed table keeps its layout (when its columns still match)

    return (keep_layout(np.ascontiguousarray(X[order], dtype=np.float64), X),
            np.ascontiguousarray(y[order], dtype=np.int64))


def generate(generator: str, params: dict[str, Any], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw one task: ``n`` rows in all, of which the noise and outlier shares are labelled -1."""
    full = resolve_params(generator, params)
    n = full["n"]
    n_noise = int(round(full["noise"] * n))
    n_out = int(round(full["out"] * n))
    own = {p.name: full[p.name] for p in GENERATORS[generator].params}
    own["n"] = n - n_noise - n_out
    X, y = GENERATORS[generator].fn(rng, **own)
    return _finish(X, y, rng, n_noise, n_out, full["embed"], full["irr"], full["scale"], full["skew"], full["ints"])
