"""How many threads a table's clustering may use: one on a small table.

On a few thousand rows, BLAS and OpenMP threads cost more CPU than they save (start-up and
spin-waiting), and many times more on a busy machine, where the threads contend with other
processes for the cores: a ``MetaClusterer`` fit on 600 x 2 blobs took 21 s with sklearn's
default threads on the shared 2-core machine (load about 1.5; 0.14 s per k-means run of
Lloyd's loop) against about 2 s on one thread; in anomaly scoring a Gaussian mixture on
3,000 x 100 took 19 s with two contended BLAS threads, 4 s with one, and ``metaclust detect`` on
1,000 x 10 2.6-3.0 CPU-s with two OpenMP threads, 1.7-1.9 with one. Above ``SMALL_TABLE`` cells the BLAS stays
on one thread and OpenMP (neighbour searches, k-means' big loops) keeps its threads, which
pay for themselves there. A limit the user set (``OMP_NUM_THREADS=...``) is never raised.

threadpoolctl limits only the libraries loaded when it is called, so the thread pools the
clustering uses (scikit-learn's OpenMP, SciPy's and NumPy's BLAS) are loaded first: a limit
set before ``sklearn.cluster`` was imported left k-means on two threads.
"""
from __future__ import annotations

from typing import Any

#: a table of at most this many cells is clustered on one thread throughout
SMALL_TABLE = 2_000_000


def table_threads(n_rows: int, n_cols: int) -> Any:
    """A context manager that limits the threads for a table of this size (see above)."""
    from .backends.deferred_import import import_scipy_linalg, import_sklearn

    import_scipy_linalg()  # loads SciPy's BLAS, so that the limit reaches it
    import_sklearn()  # without the modules it imports and the clustering never uses (pandas, scipy.stats, ...)
    import sklearn.utils._openmp_helpers  # noqa: F401 - loads scikit-learn's OpenMP runtime
    from threadpoolctl import threadpool_limits

    cells = int(n_rows) * int(n_cols)
    return threadpool_limits(limits=1, user_api=None if cells <= SMALL_TABLE else "blas")
