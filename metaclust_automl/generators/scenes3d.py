"""Scenes of 3-D shapes: the volumetric counterpart of ``clusters.scene``.

Point clouds from scanners, trajectories and physical measurements hold surfaces, curves and
solids side by side: a spherical shell around nothing, a torus, a helix, a thin sheet, a
rod, a solid ellipsoid, two interlocked rings. Each asks for a different notion of cluster
(connectivity for curves and surfaces, compactness for solids), so one algorithm rarely fits
a whole scene, which is what the selector must learn to see.
"""
from __future__ import annotations

import math

import numpy as np

from .layout import _labels, _rotation, _sizes

#: the pieces and how many clusters each contributes
PIECES = {"blob": 1, "helix": 1, "linked-rings": 2, "rod": 1, "sheet": 1, "shell": 1, "torus": 1}


def _piece(rng: np.random.Generator, kind: str, sizes: list[int], jitter: float) -> list[np.ndarray]:
    """One piece, within about one unit of the origin, randomly turned."""
    turn = _rotation(rng, 3)
    m = sizes[0]
    if kind == "blob":
        axes = rng.uniform(0.15, 0.4, 3)
        return [(rng.standard_normal((m, 3)) * axes * jitter) @ turn.T]
    if kind == "shell":
        u = rng.standard_normal((m, 3))
        u /= np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-12)
        return [u * (0.9 + rng.normal(0.0, 0.04 * jitter, (m, 1)))]
    if kind == "torus":
        a, b = rng.uniform(0.0, 2 * math.pi, m), rng.uniform(0.0, 2 * math.pi, m)
        r = 0.25 + rng.normal(0.0, 0.03 * jitter, m)
        pts = np.column_stack([(0.7 + r * np.cos(b)) * np.cos(a), (0.7 + r * np.cos(b)) * np.sin(a), r * np.sin(b)])
        return [pts @ turn.T]
    if kind == "helix":
        t = rng.uniform(0.0, 4 * math.pi, m)
        pts = np.column_stack([0.5 * np.cos(t), 0.5 * np.sin(t), t / (2 * math.pi) - 1.0])
        return [(pts + rng.normal(0.0, 0.05 * jitter, (m, 3))) @ turn.T]
    if kind == "sheet":
        pts = np.column_stack([rng.uniform(-0.9, 0.9, m), rng.uniform(-0.9, 0.9, m), rng.normal(0.0, 0.03 * jitter, m)])
        return [pts @ turn.T]
    if kind == "rod":
        pts = np.column_stack([rng.uniform(-1.0, 1.0, m), rng.normal(0.0, 0.05 * jitter, (m, 2))])
        return [pts @ turn.T]
    # "linked-rings": two rings through each other's hole (a chainlink of two)
    out = []
    for j, mj in enumerate(sizes):
        t = rng.uniform(0.0, 2 * math.pi, mj)
        ring = np.zeros((mj, 3))
        ring[:, 0] = 0.6 * np.cos(t) + (0.3 if j else -0.3)
        ring[:, 1 if j == 0 else 2] = 0.6 * np.sin(t)
        out.append((ring + rng.normal(0.0, 0.04 * jitter, (mj, 3))) @ turn.T)
    return out


def scene3d(rng: np.random.Generator, *, n: int, parts: int, jitter: float,
            gap: float) -> tuple[np.ndarray, np.ndarray]:
    """``parts`` pieces (solid blobs, spherical shells, tori, helices, sheets, rods, pairs of
    linked rings) on a jittered 3-D grid whose cells are ``gap`` units apart (3 = clearly
    apart, 2 = nearly touching); ``jitter`` scales every piece's thickness."""
    names = sorted(PIECES)
    kinds = [names[i] for i in rng.integers(0, len(names), parts)]
    counts = [PIECES[kd] for kd in kinds]
    sizes = _sizes(n, sum(counts), rng, imb=3.0)
    side = math.ceil(parts ** (1.0 / 3.0) - 1e-9)
    cells = rng.permutation(side ** 3)[:parts]
    out, pos = [], 0
    for p, kd in enumerate(kinds):
        pieces = _piece(rng, kd, [int(s) for s in sizes[pos:pos + counts[p]]], jitter)
        cell = np.array([cells[p] % side, (cells[p] // side) % side, cells[p] // (side * side)], dtype=float)
        shift = gap * cell + rng.uniform(-0.2, 0.2, 3)
        out.extend(piece + shift for piece in pieces)
        pos += counts[p]
    return np.vstack(out), _labels(sizes)
