"""Labels for rows a backend did not fit on: when a table is too big for a method, it fits on
a sample and every other row is assigned (to its nearest sampled row of a stratified pool,
to the nearest cluster centre, or to the most likely Gaussian of the sample's clusters)."""
from __future__ import annotations

import numpy as np

def _as_float32_centered(block: np.ndarray, center: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """(rows - ``center``) * ``scale`` in float32: centring first keeps float32 distances
    accurate on tables with a large offset (values near 1e6 that differ in the third digit)."""
    out = block - center
    if scale != 1.0:
        out *= scale
    return out.astype(np.float32, copy=False)


def nearest_labels(X: np.ndarray, ref: np.ndarray, ref_labels: np.ndarray,
                   chunk: int = 50_000) -> np.ndarray:
    """Label of each row's nearest reference row (squared Euclidean).

    Chunked so that a block of distances holds at most about a million float32 values
    (4 MB) whatever the size of ``ref``: time is linear in n and memory flat. BLAS runs
    single-threaded here: with d columns the products are thin (bandwidth-bound) and
    argmin is single-threaded anyway, and on a busy machine threaded BLAS spin-waits
    (measured on 2 busy cores, 1M rows x 2,000 references: 4.8 s on one thread,
    33 s on two)."""
    ref = np.asarray(ref, dtype=np.float64)
    ref_labels = np.asarray(ref_labels)
    center = ref.mean(axis=0)
    # one global factor brings the spread near 1: float32 neither overflows (values of
    # 1e20 square to inf) nor flushes tiny spreads to zero; nearest rows stay nearest
    spread = float(np.max(np.abs(ref - center))) if ref.size else 1.0
    if np.isfinite(spread) and spread > 0:
        scale = 1.0 / spread
    else:
        scale = 1.0
    R = _as_float32_centered(ref, center, scale)
    ref_sq = np.einsum("ij,ij->i", R, R)
    out = np.empty(X.shape[0], dtype=ref_labels.dtype if ref_labels.size else np.int64)
    from threadpoolctl import threadpool_limits

    rows = max(1, min(chunk, (1 << 20) // max(1, R.shape[0])))
    RT = np.ascontiguousarray(R.T)
    with threadpool_limits(limits=1, user_api="blas"):
        for start in range(0, X.shape[0], rows):
            block = _as_float32_centered(X[start:start + rows], center, scale)
            d2 = block @ RT
            d2 *= -2.0
            d2 += ref_sq[None, :]
            out[start:start + rows] = ref_labels[np.argmin(d2, axis=1)]
    return out


def stratified_pool(labels: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of at most about ``size`` rows in which every label (noise too) keeps a few
    rows, so that a small cluster of the sample is not lost when the rest is assigned."""
    n = labels.size
    if n <= size:
        return np.arange(n)
    uniq, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    floor = np.minimum(counts, max(1, min(10, size // max(1, uniq.size))))
    spare = max(0, size - int(floor.sum()))
    extra = np.minimum(counts - floor, np.floor(spare * counts / n).astype(np.int64))
    take = floor + extra
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    picks = [rng.choice(order[s:s + c], t, replace=False) for s, c, t in zip(starts, counts, take)]
    return np.sort(np.concatenate(picks))


def nearest_centroid_labels(X: np.ndarray, sample: np.ndarray, sample_labels: np.ndarray) -> np.ndarray:
    """Label of each row's nearest cluster mean (k-means' own rule for new rows)."""
    keep = sample_labels >= 0
    ids = np.unique(sample_labels[keep])
    if ids.size == 0:
        return np.full(X.shape[0], -1, dtype=np.int64)
    centres = np.stack([sample[sample_labels == i].mean(axis=0) for i in ids])
    return nearest_labels(X, centres, ids)


def gaussian_labels(X: np.ndarray, sample: np.ndarray, sample_labels: np.ndarray,
                    covariance_type: str = "full", reg: float = 1e-5,
                    chunk: int = 100_000) -> np.ndarray:
    """The most likely Gaussian for each row, the Gaussians (means, covariances, weights)
    estimated from the sample's clusters: a Gaussian mixture's own rule for new rows."""
    keep = sample_labels >= 0
    ids = np.unique(sample_labels[keep])
    d = X.shape[1]
    if ids.size < 2:
        return nearest_centroid_labels(X, sample, sample_labels)
    means, covs, logw = [], [], []
    for i in ids:
        Z = sample[sample_labels == i]
        means.append(Z.mean(axis=0))
        covs.append(np.cov(Z, rowvar=False).reshape(d, d) if Z.shape[0] > 1 else np.zeros((d, d)))
        logw.append(np.log(Z.shape[0] / keep.sum()))
    covs_arr = np.nan_to_num(np.stack(covs))
    if covariance_type == "tied":
        weights = np.exp(np.asarray(logw))
        covs_arr = np.repeat(np.tensordot(weights, covs_arr, axes=1)[None], ids.size, axis=0)
    elif covariance_type == "diag":
        covs_arr = np.stack([np.diag(np.diag(c)) for c in covs_arr])
    elif covariance_type == "spherical":
        covs_arr = np.stack([np.eye(d) * np.mean(np.diag(c)) for c in covs_arr])
    chols = []
    for c in covs_arr:
        eps = reg
        while True:
            try:
                chols.append(np.linalg.cholesky(c + eps * np.eye(d)))
                break
            except np.linalg.LinAlgError:
                eps *= 10.0
                if eps > 1e6:
                    return nearest_centroid_labels(X, sample, sample_labels)
    from scipy.linalg import solve_triangular

    out = np.empty(X.shape[0], dtype=np.int64)
    logdet = [np.sum(np.log(np.diag(L))) for L in chols]
    for start in range(0, X.shape[0], chunk):
        block = X[start:start + chunk]
        score = np.empty((block.shape[0], ids.size))
        for k, (mu, L) in enumerate(zip(means, chols)):
            z = solve_triangular(L, (block - mu).T, lower=True, check_finite=False)
            score[:, k] = -0.5 * np.einsum("ij,ij->j", z, z) - logdet[k] + logw[k]
        out[start:start + chunk] = ids[np.argmax(score, axis=1)]
    return out


#: assignment rules for rows left out of the fitted sample
ASSIGN_METHODS = ("nearest_row", "centroid", "gaussian")
_ASSIGN_WORDS = {
    "nearest_row": "the label of their nearest of {pool:,} sampled rows (every cluster represented)",
    "centroid": "the label of their nearest cluster centre",
    "gaussian": "their most likely Gaussian, estimated from the sample's clusters",
}
