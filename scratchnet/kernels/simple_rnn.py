"""Fused SimpleRNN step kernels: the cell's add + nonlinearity, its backward, and inference.

One step of a SimpleRNN is ``h = act(zx + zh)`` with ``zx = x_t @ W + b`` (the layer
computes it for all steps in one GEMM) and ``zh = h_{t-1} @ U`` (one GEMM per step).
The kernels fuse what is left around those GEMMs into one pass over (N, H):

- :func:`simple_rnn_forward_step`: ``h = act(zx + zh)``;
- :func:`simple_rnn_infer_step`: ``h = act(z)`` for a whole pre-activation ``z`` (at
  inference the layer gets it from one GEMM on ``[x_t, 1, h_{t-1}]``);
- :func:`simple_rnn_backward_step`: ``dz = (dh + dy) * act'(h)``, the derivative read
  from the output h (tanh' = 1 - h^2, sigmoid' = h (1 - h), relu' = [h > 0], linear' = 1).

``act`` is an activation code, ``ACTIVATION_CODES[name]``. Each numba kernel runs
``prange`` over the batch only (row n is written by iteration n alone); its ``*_serial``
twin runs the same row code on one thread, bit for bit; the dispatcher (no suffix)
picks one with ``use_pool``; the ``*_reference`` functions are the plain NumPy
definitions, with the same arguments. Constants are cast to the arrays' dtype so float32
stays float32. No fast-math: the results do not depend on how the kernel was compiled.
NaN propagates as in the references (a NaN pre-activation gives a NaN h under ReLU too,
as ``np.maximum``; its gradient is 0 times dh, as ``relu_backward``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# The LSTM kernels' exp-based sigmoid and tanh: plain arithmetic that LLVM vectorizes,
# where libm's scalar tanhf/expf keep the loop scalar and lose to NumPy's SIMD tanh
# (benchmarks/bench_rnn_kernels.py measures the kernels). Within a few ulp of NumPy's.
from scratchnet.kernels.lstm import _sigmoid, _tanh
from scratchnet.kernels.threads import use_pool

#: The cell nonlinearities, as the integer codes the kernels take.
ACTIVATION_CODES = {"tanh": 0, "relu": 1, "sigmoid": 2, "linear": 3}

# Batches of fewer (N * H) cells than this run the serial kernels: the thread pool's
# hand-off costs more than it saves (the LSTM kernels' measured threshold; same work
# per cell or less).
PARALLEL_MIN_CELLS = 1 << 16

_OPTIONS = dict(cache=True, nogil=True, error_model="numpy")


@njit(inline="always", **_OPTIONS)
def _act(z, act):
    zero = type(z)(0)
    if act == 0:
        return _tanh(z)
    if act == 1:
        return z if not z <= zero else zero  # NaN stays NaN, as np.maximum(z, 0)
    if act == 2:
        return _sigmoid(z)
    return z


@njit(inline="always", **_OPTIONS)
def _act_grad(h, act):
    one = type(h)(1)
    if act == 0:
        return one - h * h
    if act == 1:
        return one if h > type(h)(0) else type(h)(0)
    if act == 2:
        return h * (one - h)
    return one


@njit(**_OPTIONS, inline="always")
def _forward_row(n, zx, zh, act, h):
    # One loop per activation: a branch-free body is what LLVM vectorizes.
    if act == 0:
        for j in range(h.shape[1]):
            h[n, j] = _act(zx[n, j] + zh[n, j], 0)
    elif act == 1:
        for j in range(h.shape[1]):
            h[n, j] = _act(zx[n, j] + zh[n, j], 1)
    elif act == 2:
        for j in range(h.shape[1]):
            h[n, j] = _act(zx[n, j] + zh[n, j], 2)
    else:
        for j in range(h.shape[1]):
            h[n, j] = zx[n, j] + zh[n, j]


@njit(parallel=True, **_OPTIONS)
def simple_rnn_forward_step_parallel(zx, zh, act, h):
    """:func:`simple_rnn_forward_step` on numba's thread pool, parallel over the batch."""
    for n in prange(h.shape[0]):
        _forward_row(n, zx, zh, act, h)


@njit(**_OPTIONS)
def simple_rnn_forward_step_serial(zx, zh, act, h):
    """:func:`simple_rnn_forward_step` on the calling thread, bit-identical."""
    for n in range(h.shape[0]):
        _forward_row(n, zx, zh, act, h)


def simple_rnn_forward_step(zx, zh, act, h):
    """One SimpleRNN step: ``h = act(zx + zh)``.

    Parameters
    ----------
    zx : (N, H) array
        Input projection of this step, ``x_t @ W + b``.
    zh : (N, H) array
        Recurrent projection, ``h_prev @ U``.
    act : int
        ``ACTIVATION_CODES[name]``.
    h : (N, H) array, written
    """
    parallel = use_pool(h.size, PARALLEL_MIN_CELLS)
    kernel = simple_rnn_forward_step_parallel if parallel else simple_rnn_forward_step_serial
    kernel(zx, zh, act, h)


def _act_reference(z, act):
    if act == 0:
        return np.tanh(z)
    if act == 1:
        return np.maximum(z, 0)
    if act == 2:
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1 / (1 + e), e / (1 + e))
    return z


def simple_rnn_forward_step_reference(zx, zh, act, h):
    """Plain NumPy definition of :func:`simple_rnn_forward_step`."""
    h[...] = _act_reference(zx + zh, act)


@njit(**_OPTIONS, inline="always")
def _infer_row(n, z, act, h):
    if act == 0:
        for j in range(h.shape[1]):
            h[n, j] = _act(z[n, j], 0)
    elif act == 1:
        for j in range(h.shape[1]):
            h[n, j] = _act(z[n, j], 1)
    elif act == 2:
        for j in range(h.shape[1]):
            h[n, j] = _act(z[n, j], 2)
    else:
        for j in range(h.shape[1]):
            h[n, j] = z[n, j]


@njit(parallel=True, **_OPTIONS)
def simple_rnn_infer_step_parallel(z, act, h):
    """:func:`simple_rnn_infer_step` on numba's thread pool, parallel over the batch."""
    for n in prange(h.shape[0]):
        _infer_row(n, z, act, h)


@njit(**_OPTIONS)
def simple_rnn_infer_step_serial(z, act, h):
    """:func:`simple_rnn_infer_step` on the calling thread, bit-identical."""
    for n in range(h.shape[0]):
        _infer_row(n, z, act, h)


def simple_rnn_infer_step(z, act, h):
    """One SimpleRNN step for inference, nothing kept: ``h = act(z)``.

    Parameters
    ----------
    z : (N, H) array
        The whole pre-activation, ``x_t @ W + b + h_prev @ U``.
    act : int
    h : (N, H) array, written (may be a different array from the previous h)
    """
    parallel = use_pool(h.size, PARALLEL_MIN_CELLS)
    kernel = simple_rnn_infer_step_parallel if parallel else simple_rnn_infer_step_serial
    kernel(z, act, h)


def simple_rnn_infer_step_reference(z, act, h):
    """Plain NumPy definition of :func:`simple_rnn_infer_step`."""
    h[...] = _act_reference(z, act)


@njit(**_OPTIONS, inline="always")
def _backward_row(n, dh, dy, h, act, dz):
    if act == 0:
        for j in range(h.shape[1]):
            dz[n, j] = (dh[n, j] + dy[n, j]) * _act_grad(h[n, j], 0)
    elif act == 1:
        for j in range(h.shape[1]):
            dz[n, j] = (dh[n, j] + dy[n, j]) * _act_grad(h[n, j], 1)
    elif act == 2:
        for j in range(h.shape[1]):
            dz[n, j] = (dh[n, j] + dy[n, j]) * _act_grad(h[n, j], 2)
    else:
        for j in range(h.shape[1]):
            dz[n, j] = dh[n, j] + dy[n, j]


@njit(parallel=True, **_OPTIONS)
def simple_rnn_backward_step_parallel(dh, dy, h, act, dz):
    """:func:`simple_rnn_backward_step` on numba's thread pool, parallel over the batch."""
    for n in prange(h.shape[0]):
        _backward_row(n, dh, dy, h, act, dz)


@njit(**_OPTIONS)
def simple_rnn_backward_step_serial(dh, dy, h, act, dz):
    """:func:`simple_rnn_backward_step` on the calling thread, bit-identical."""
    for n in range(h.shape[0]):
        _backward_row(n, dh, dy, h, act, dz)


def simple_rnn_backward_step(dh, dy, h, act, dz):
    """Backward of one SimpleRNN step: ``dz = (dh + dy) * act'(h)``.

    Parameters
    ----------
    dh : (N, H) array
        dL/dh_t arriving from step t+1, ``dz_{t+1} @ U.T`` (zeros at the last step).
    dy : (N, H) array
        dL/dh_t from this step's output (zeros if only the last step is output).
    h : (N, H) array
        This step's output, ``act(z)``: each derivative is read from it.
    act : int
    dz : (N, H) array, written
        dL/d(pre-activation) of this step.
    """
    parallel = use_pool(h.size, PARALLEL_MIN_CELLS)
    kernel = simple_rnn_backward_step_parallel if parallel else simple_rnn_backward_step_serial
    kernel(dh, dy, h, act, dz)


def simple_rnn_backward_step_reference(dh, dy, h, act, dz):
    """Plain NumPy definition of :func:`simple_rnn_backward_step`."""
    d = dh + dy
    if act == 0:
        dz[...] = d * (1 - h * h)
    elif act == 1:
        dz[...] = d * (h > 0)
    elif act == 2:
        dz[...] = d * h * (1 - h)
    else:
        dz[...] = d
