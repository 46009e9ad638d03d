"""Finite-difference checking of a reference pair, and input generators away from kinks."""

import numpy as np
from hypothesis import strategies as st

from scratchnet.gradcheck import fd_rounding, numerical_gradient, rel_error

# Central differences with eps = 1e-6 in float64 leave errors near 1e-9 on these smooth
# losses, but up to a few 1e-7 where saturated LSTM gates amplify the rounding (found by
# hypothesis); 1e-6, the bound of every other gradient check here, still catches any
# wrong term, whose errors are of order 1.
TOL = 1e-6


def check_pair(forward, backward, arrays, names, seed=0):
    """Relative error of ``backward`` against central differences, per named array.

    Parameters
    ----------
    forward : callable
        ``forward(*arrays) -> (y, cache)``; ``y`` may be a tuple of outputs (the LSTM
        step returns h and c), then ``backward(*dys, cache)``.
    backward : callable
        ``backward(dy, cache)`` returning the gradients in the order of ``arrays``
        (a single array, or a tuple; None entries are skipped).
    arrays : list of float64 ndarray
        Perturbed in place, element by element, and restored exactly.
    names : list of str
        One name per array.

    Returns
    -------
    dict
        ``{name: rel_error}`` for every array whose gradient is not None. The loss is
        ``L = sum(y * g)`` for a fixed random ``g``, so ``dL/dy = g``.
    """
    def outputs():
        *ys, cache = forward(*arrays)
        ys = ys[0] if len(ys) == 1 else ys
        return (ys if isinstance(ys, tuple | list) else (ys,)), cache

    ys, cache = outputs()
    rng = np.random.default_rng(seed)
    gs = [rng.standard_normal(np.shape(y)) for y in ys]
    grads = backward(*gs, cache)
    if not isinstance(grads, tuple):
        grads = (grads,)
    assert len(grads) == len(arrays) == len(names)

    def loss():
        return float(sum(np.sum(y * g) for y, g in zip(outputs()[0], gs, strict=True)))

    floor = fd_rounding(float(sum(np.sum(np.abs(y * g)) for y, g in zip(ys, gs, strict=True))))
    return {name: rel_error(grad, numerical_gradient(loss, arr), floor)
            for name, arr, grad in zip(names, arrays, grads, strict=True) if grad is not None}


def assert_close(errors, tol=TOL):
    assert errors, "the check compared nothing"
    bad = {k: v for k, v in errors.items() if not v < tol}
    assert not bad, f"relative errors above {tol}: {bad} (all: {errors})"


def away_from_zero(rng, shape, low=0.1):
    """Random values with |v| in [low, 1): no ReLU kink within a finite-difference step."""
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(low, 1.0, shape)


def distinct(rng, shape, gap=0.1):
    """Values at least ``gap`` apart: every max-pool window has one clear winner."""
    n = int(np.prod(shape))
    return (rng.permutation(n) - n / 2).reshape(shape) * gap


seeds = st.integers(0, 2**32 - 1)


@st.composite
def image_geometry(draw, max_k=3):
    """(N, H, W, C), (kh, kw), (sh, sw), padding with every 'valid' window fitting."""
    kh, kw = draw(st.integers(1, max_k)), draw(st.integers(1, max_k))
    H, W = kh + draw(st.integers(0, 3)), kw + draw(st.integers(0, 3))
    return ((draw(st.integers(1, 2)), H, W, draw(st.integers(1, 2))), (kh, kw),
            (draw(st.integers(1, 2)), draw(st.integers(1, 2))),
            draw(st.sampled_from(["valid", "same"])))
