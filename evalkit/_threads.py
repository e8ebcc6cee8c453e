"""One BLAS thread for an analysis.

evalkit's regressions are many and small (IRLS steps, clustered SEs, event studies, bootstraps,
DoWhy's refits): a multi-threaded BLAS makes each slower (thread start-up and, on a shared
machine, oversubscription: about 2x for the DiD event study and 5-8x for DoWhy's refits on two
cores), and the last digits of a product can depend on the thread count. Every design runs
inside :func:`one_blas_thread` (``evalkit.run.run_analysis``), so the limit is set once for
all designs and the results do not depend on what ran before in the process.

(DoWhy's import, seconds long, is not started early in a background thread: concurrent imports
of the same packages deadlock in their circular imports, e.g. narwhals under formulaic.)
"""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def one_blas_thread():
    """Limit BLAS/OpenMP pools to one thread inside the block (threadpoolctl), then restore them."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - installed with scikit-learn
        yield
        return
    # threadpoolctl limits only the BLAS libraries already loaded: scipy ships its own OpenBLAS,
    # loaded on first use, which would otherwise run multi-threaded inside the block when the
    # design runs first in a process and single-threaded when it runs after another; the last
    # digits of every estimate would then depend on what ran before (determinism across processes)
    import scipy.linalg  # noqa: F401

    with threadpool_limits(1):
        yield
