"""Grouping prototypes into clusters, and switching off those that are not needed, so
that n_clusters need not be exact.

Grouping: with several prototypes per cluster, each prototype holds a small, nearly
pure *tile* of rows. Tiles are linked by the mined neighbour pairs that join them,
and spectral clustering of that small tile graph (one node per prototype) groups them
into n_clusters clusters: curved or elongated clusters, which a single prototype
cannot describe, become chains of tiles.

After training, a prototype is switched off when
1. it holds fewer than ``min_share`` of the rows (an empty or nearly empty prototype), or
2. its cluster and a neighbouring one form a single mode: projected on the
   direction that best separates the two clusters (Fisher's discriminant, with a
   Ledoit-Wolf shrunk within-cluster covariance), the density of their union has no
   valley between the projected means. Any projection of a single Gaussian is
   unimodal, so a split mode still shows no valley on that direction, while two
   curved or elongated clusters, which can overlap on the line through their means,
   are told apart. The *valley ratio* is the lowest density between the two means divided
   by the lower of the densities at the means: 1 for one unimodal bump split in two,
   near 0 for two separated clusters (the idea of G-means and dip-means: split only
   what is not unimodal). Pairs whose ratio reaches ``valley`` are merged, the most
   unimodal pair first, until none is left.
Densities are Gaussian kernel estimates whose bandwidth comes from the spread
*within* the two clusters (a bandwidth from the spread of the union would smooth
the valley away). Each test uses at most ``sample`` rows per cluster, so the cost
does not grow with n beyond computing the cluster means.
"""
from __future__ import annotations

import numpy as np

GRID = 48
PARTNERS = 3


def group_tiles(tiles: np.ndarray, neighbours: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Cluster label of every row: its tile's group in a spectral clustering of the tile
    graph into ``k`` groups (see the module docstring). Cost: O(n m) to count the links,
    then work on a tiles x tiles matrix only."""
    import warnings

    from sklearn.cluster import SpectralClustering

    used, tiles = np.unique(tiles, return_inverse=True)
    t = used.size
    if t <= k:
        return tiles
    W = np.zeros((t, t))
    np.add.at(W, (np.repeat(tiles, neighbours.shape[1]), tiles[neighbours.ravel()]), 1.0)
    W = W + W.T
    np.fill_diagonal(W, 0.0)
    W += 1e-6 * max(W.max(), 1.0)  # a disconnected tile graph still has a spectrum
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        groups = SpectralClustering(n_clusters=k, affinity="precomputed", assign_labels="cluster_qr",
                                    random_state=seed).fit_predict(W)
    return groups[tiles].astype(np.int64)


def valley_ratio(a: np.ndarray, b: np.ndarray) -> float:
    """Valley ratio (see the module docstring) of two clusters' rows ``a`` and ``b``."""
    ca, cb = a.mean(0), b.mean(0)
    length = float(np.linalg.norm(cb - ca))
    if length <= 1e-12:
        return 1.0
    direction = fisher_direction(a, b)
    pa, pb = a @ direction, b @ direction
    ma, mb = float(pa.mean()), float(pb.mean())
    spread = np.sqrt((np.sum((pa - ma) ** 2) + np.sum((pb - mb) ** 2)) / max(pa.size + pb.size - 2, 1))
    both = np.concatenate([pa, pb])
    h = 1.06 * max(spread, 1e-6 * length) * both.size ** (-0.2)
    grid = np.linspace(ma, mb, GRID)
    dens = np.exp(-0.5 * ((grid[:, None] - both[None, :]) / h) ** 2).sum(1)
    peak = min(dens[0], dens[-1])
    return float(dens.min() / peak) if peak > 0 else 1.0


def fisher_direction(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Unit vector S^-1 (mean_b - mean_a), S the pooled within-cluster covariance shrunk
    by Ledoit-Wolf (well conditioned even with fewer rows than columns); the line
    through the means when S is degenerate."""
    from sklearn.covariance import ledoit_wolf

    ca, cb = a.mean(0), b.mean(0)
    diff = cb - ca
    if a.shape[1] > 1 and a.shape[0] + b.shape[0] > 2:
        S, _ = ledoit_wolf(np.concatenate([a - ca, b - cb]), assume_centered=True)
        try:
            d = np.linalg.solve(S, diff)
        except np.linalg.LinAlgError:
            d = diff
        if np.all(np.isfinite(d)) and float(np.linalg.norm(d)) > 1e-12:
            diff = d
    return diff / float(np.linalg.norm(diff))


def switch_off(U: np.ndarray, labels: np.ndarray, *, min_share: float, valley: float,
               seed: int = 0, sample: int = 1500) -> tuple[np.ndarray, list[str]]:
    """Labels after switching off small and redundant clusters (see the module
    docstring), renumbered 0..k'-1, with notes saying what was switched off."""
    rng = np.random.default_rng(seed)
    labels = labels.copy()
    notes: list[str] = []
    n = labels.size
    k0 = int(labels.max()) + 1 if n else 0

    def means(active: list[int]) -> np.ndarray:
        return np.stack([U[labels == c].mean(0) for c in active])

    # 1. prototypes with too few rows: their rows go to the nearest remaining cluster mean
    counts = np.bincount(labels, minlength=k0)
    small = [c for c in range(k0) if 0 < counts[c] < min_share * n]
    active = [c for c in range(k0) if counts[c] >= min_share * n]
    if small and active:
        C = means(active)
        rows = np.isin(labels, small)
        labels[rows] = np.asarray(active)[np.argmax(U[rows] @ C.T - 0.5 * np.sum(C * C, 1), axis=1)]
        notes.append(f"switched off {len(small)} prototype(s) holding less than {min_share:g} of the rows")
    active = [c for c in range(k0) if np.any(labels == c)]

    # 2. merge neighbouring clusters that form a single mode
    merged = 0
    samples = {c: _sample(np.flatnonzero(labels == c), sample, rng) for c in active}
    cache: dict[tuple[int, int], float] = {}
    while len(active) > 1:
        C = means(active)
        d2 = np.sum((C[:, None, :] - C[None, :, :]) ** 2, axis=2)
        np.fill_diagonal(d2, np.inf)
        best, pair = -1.0, None
        for i, a in enumerate(active):
            for j in np.argsort(d2[i])[:PARTNERS]:
                b = active[int(j)]
                key = (min(a, b), max(a, b))
                if key not in cache:
                    cache[key] = valley_ratio(U[samples[key[0]]], U[samples[key[1]]])
                if cache[key] > best:
                    best, pair = cache[key], key
        if pair is None or best < valley:
            break
        keep, drop = pair
        labels[labels == drop] = keep
        samples[keep] = _sample(np.flatnonzero(labels == keep), sample, rng)
        active.remove(drop)
        cache = {key: v for key, v in cache.items() if keep not in key and drop not in key}
        merged += 1
    if merged:
        notes.append(f"switched off {merged} prototype(s) whose cluster formed one mode with a "
                     f"neighbouring one (valley ratio >= {valley:g})")
    _, labels = np.unique(labels, return_inverse=True)
    return labels.astype(np.int64), notes


def _sample(idx: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    return idx if idx.size <= size else np.sort(rng.choice(idx, size, replace=False))
