"""Order-invariant, seeded row samples in one linear pass.

Meta-features must not change when the rows of a table are shuffled, and must cost the
same on a million rows as on a hundred thousand. Both follow from one idea: rank every
row by a seeded hash of its *content* and keep the rows with the smallest keys. The
hash is exact integer arithmetic on the bit patterns of the floats (additions wrap
modulo 2**64, so the order of the terms cannot matter), which makes the sample a
function of the multiset of rows and the seed only, bit for bit.

Identical rows share a hash, so a plain "smallest hashes" rule would take all copies of
a row or none. When the smallest keys show duplicates, the copies are told apart by their
occurrence number (the k-th copy gets the key ``mix(hash + k)``), which restores a uniform
sample over rows at the price of one sort. Tables without duplicates among the
sampled keys never pay for that sort.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_S30, _S27, _S31, _FOLD = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(29)
_BLOCK_VALUES = 1 << 15  # values per block: keeps the temporaries in cache


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, in place: every input bit reaches every output bit."""
    z ^= z >> _S30
    z *= _M1
    z ^= z >> _S27
    z *= _M2
    z ^= z >> _S31
    return z


def row_hash(X: np.ndarray, seed: int = 0) -> np.ndarray:
    """A seeded 64-bit hash of each row's content (``uint64``, one per row).

    Rows with the same bit patterns get the same hash (so -0.0 and 0.0 count as
    different contents); the result does not depend on the position of a row. ``X`` must be a C-contiguous float64 matrix.
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    n, d = X.shape
    rng = np.random.default_rng([seed, 0x6D657461])
    odd = (rng.integers(0, 2**63, size=d, dtype=np.uint64) << np.uint64(1)) | np.uint64(1)
    salt = np.uint64(int(rng.integers(0, 2**63, dtype=np.uint64)))
    bits = X.view(np.uint64)
    out = np.empty(n, dtype=np.uint64)
    block = max(1, _BLOCK_VALUES // max(d, 1))
    with np.errstate(over="ignore"):
        for start in range(0, n, block):
            b = bits[start:start + block]
            # Fold the high half (sign, exponent, leading mantissa bits) onto the low half
            # before the odd multiply, which only carries bits upwards.
            t = b >> _FOLD
            t ^= b
            t *= odd
            out[start:start + block] = t.sum(axis=1, dtype=np.uint64)
        out ^= salt
        _mix(out)
    return out


@dataclass
class RowSample:
    """Rows picked by content: ``index`` into the table, ordered by key (a random order)."""

    index: np.ndarray
    #: estimated share of rows that repeat an earlier row (exact when duplicates were seen)
    duplicate_share: float


def _occurrence_keys(h: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Keys that tell copies apart: row order sorted by hash, their keys, duplicate share."""
    order = np.argsort(h, kind="stable")
    hs = h[order]
    n = hs.size
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(hs[1:], hs[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    occ = (np.arange(n) - np.repeat(starts, np.diff(np.append(starts, n)))).astype(np.uint64)
    keys = hs.copy()
    copies = occ > 0
    with np.errstate(over="ignore"):
        keys[copies] = _mix(hs[copies] + occ[copies] * _GOLDEN)
    return order, keys, 1.0 - starts.size / n


def order_invariant_sample(X: np.ndarray, size: int, seed: int = 0, *,
                           hashes: np.ndarray | None = None) -> RowSample:
    """The ``size`` rows with the smallest content keys, in key order.

    Deterministic for a seed and identical (as a multiset of rows, in the same order)
    for any permutation of the rows of ``X``. Linear in n unless duplicates show up among
    the smallest keys, in which case one O(n log n) sort tells the copies apart.
    """
    h = row_hash(X, seed) if hashes is None else hashes
    n = h.size
    size = int(max(0, min(size, n)))
    if size == 0:
        return RowSample(index=np.zeros(0, dtype=np.int64), duplicate_share=0.0)
    if size < n:
        pick = np.argpartition(h, size - 1)[:size]
        hp = np.sort(h[pick])
        boundary = hp[-1]
        clean = bool(np.all(hp[1:] != hp[:-1])) and int(np.count_nonzero(h == boundary)) == 1
    else:
        hp = np.sort(h)
        clean = bool(np.all(hp[1:] != hp[:-1]))
    if clean:
        # No sampled row has a copy anywhere in the table: the hash itself is the key.
        idx = pick if size < n else np.arange(n)
        idx = idx[np.argsort(h[idx], kind="stable")]
        return RowSample(index=idx.astype(np.int64), duplicate_share=0.0)
    order, keys, dup = _occurrence_keys(h)
    if size < n:
        sel = np.argpartition(keys, size - 1)[:size]
    else:
        sel = np.arange(n)
    sel = sel[np.argsort(keys[sel], kind="stable")]
    return RowSample(index=order[sel].astype(np.int64), duplicate_share=float(dup))
