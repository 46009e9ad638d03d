"""In-place Adam update, in Keras 3's form.

    m <- m + (g - m) (1 - beta1)
    v <- v + (g^2 - v) (1 - beta2)
    p <- p - alpha m / (sqrt(v) + eps),   alpha = lr sqrt(1 - beta2^t) / (1 - beta1^t)

The bias corrections are folded into the scalar ``alpha`` by the caller, so the
kernel is one fused pass over memory instead of the six of a NumPy expression.
``adam_update_parallel`` runs chunks of the arrays on numba's pool, its
``adam_update_serial`` twin the same chunk code on one thread (bit for bit the same), and
``adam_update`` picks one: the twin below ``PARALLEL_MIN_ELEMENTS`` values, where waking
the pool would cost more than the whole update, and on threads that already own a core.
"""

import numpy as np
from numba import njit, prange

from scratchnet.kernels.threads import use_pool


def adam_update_reference(p, g, m, v, alpha, beta1, beta2, eps):
    """NumPy reference: updates the flat arrays ``p``, ``m`` and ``v`` in place."""
    dt = p.dtype.type
    m += (g - m) * dt(1 - beta1)
    v += (g * g - v) * dt(1 - beta2)
    p -= dt(alpha) * m / (np.sqrt(v) + dt(eps))


# The crossover where the pool starts to pay (every array of the seed models stays below it).
# Measured: see benchmarks/README.md, "Measurements behind the kernels' choices".
PARALLEL_MIN_ELEMENTS = 1 << 19
CHUNKS = 64


# Written so that the loop vectorizes: over views of the chunk with indices from 0 (numba
# then knows no index is negative and drops its wraparound code), and with numpy's error
# model (with Python's, numba's default, every division checks for a zero divisor;
# sqrt(v) + eps is never 0). Measured: see benchmarks/README.md.
@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _adam_chunk(p, g, m, v, a, b1, b2, e, k):
    lo, hi = p.size * k // CHUNKS, p.size * (k + 1) // CHUNKS
    p, g, m, v = p[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi]
    for i in range(p.size):
        gi = g[i]
        mi = m[i] + (gi - m[i]) * b1
        vi = v[i] + (gi * gi - v[i]) * b2
        m[i] = mi
        v[i] = vi
        p[i] -= a * mi / (np.sqrt(vi) + e)


@njit(cache=True, nogil=True, parallel=True)
def adam_update_parallel(p, g, m, v, alpha, beta1, beta2, eps):
    """:func:`adam_update` on numba's thread pool, parallel over chunks."""
    dt = p.dtype.type
    for k in prange(CHUNKS):
        _adam_chunk(p, g, m, v, dt(alpha), dt(1 - beta1), dt(1 - beta2), dt(eps), k)


@njit(cache=True, nogil=True)
def adam_update_serial(p, g, m, v, alpha, beta1, beta2, eps):
    """:func:`adam_update` on the calling thread: bit-identical to :func:`adam_update_parallel`."""
    dt = p.dtype.type
    for k in range(CHUNKS):
        _adam_chunk(p, g, m, v, dt(alpha), dt(1 - beta1), dt(1 - beta2), dt(eps), k)


def adam_update(p, g, m, v, alpha, beta1, beta2, eps):
    """One Adam step, in place over the flat (1-D) C-contiguous arrays ``p``, ``m``, ``v``.

    Parameters
    ----------
    p, g, m, v : ndarray, shape (size,), one float dtype
        Parameter, its gradient, first and second moments (``g`` is only read).
    alpha : float
        ``lr sqrt(1 - beta2^t) / (1 - beta1^t)``, the step with both bias corrections.
    beta1, beta2, eps : float
    """
    kernel = adam_update_parallel if use_pool(p.size, PARALLEL_MIN_ELEMENTS) else adam_update_serial
    kernel(p, g, m, v, alpha, beta1, beta2, eps)
