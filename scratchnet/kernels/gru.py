"""Fused GRU step kernels (Keras 3's ``reset_after=True``): forward, backward, inference.

Gate layout: the 3H columns of a projection are ``[z | r | h]`` (update gate, reset gate,
candidate). One training step, with ``zx = x_t @ W + b[0]`` (one GEMM for all steps)
and ``zh = h_{t-1} @ U`` (one GEMM per step), is::

    z  = sigmoid(zx_z + zh_z + b1_z)      r = sigmoid(zx_r + zh_r + b1_r)
    a  = zh_h + b1_h                      (kept: the reset gate's gradient needs it)
    hh = tanh(zx_h + r * a)
    h  = z * h_{t-1} + (1 - z) * hh

and its backward, for dL/dh_t = dh_rec + carry + dy (the recurrent GEMM's part, the
direct path ``z_{t+1} * dh_{t+1}`` and this step's output)::

    da_h = dh (1 - z) (1 - hh^2)        dzx = [dh (h_{t-1} - hh) z (1 - z) | da_r | da_h]
    da_r = da_h a r (1 - r)             dzh = [   same       | da_r | da_h * r]
    carry_out = dh * z

At inference :func:`gru_infer_step` takes the same ``zx``, ``zh`` and ``b1`` and
updates h in place, keeping nothing.

Conventions as ``scratchnet.kernels.simple_rnn``: ``prange`` over the batch only, a
bit-identical ``*_serial`` twin, a dispatcher without suffix, a plain NumPy
``*_reference``; no fast-math; NaN propagates as in the references.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# The LSTM kernels' exp-based sigmoid and tanh: plain arithmetic that LLVM vectorizes,
# where libm's scalar tanhf/expf keep the loop scalar. Within a few ulp of NumPy's.
from scratchnet.kernels.lstm import _sigmoid, _tanh
from scratchnet.kernels.threads import use_pool

# Fewer (N * H) cells than this run serially (the LSTM kernels' measured threshold).
PARALLEL_MIN_CELLS = 1 << 16

_OPTIONS = dict(cache=True, nogil=True, error_model="numpy")


def _sigmoid_reference(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def _parallel(h):
    return use_pool(h.size, PARALLEL_MIN_CELLS)


@njit(**_OPTIONS, inline="always")
def _forward_row(n, zx, zh, b1, h_prev, gates, a, h):
    hidden = h.shape[1]
    one = h.dtype.type(1)
    for j in range(hidden):
        z = _sigmoid(zx[n, j] + zh[n, j] + b1[j])
        r = _sigmoid(zx[n, hidden + j] + zh[n, hidden + j] + b1[hidden + j])
        aj = zh[n, 2 * hidden + j] + b1[2 * hidden + j]
        hh = _tanh(zx[n, 2 * hidden + j] + r * aj)
        gates[n, j] = z
        gates[n, hidden + j] = r
        gates[n, 2 * hidden + j] = hh
        a[n, j] = aj
        h[n, j] = z * h_prev[n, j] + (one - z) * hh


@njit(parallel=True, **_OPTIONS)
def gru_forward_step_parallel(zx, zh, b1, h_prev, gates, a, h):
    """:func:`gru_forward_step` on numba's thread pool, parallel over the batch."""
    for n in prange(h.shape[0]):
        _forward_row(n, zx, zh, b1, h_prev, gates, a, h)


@njit(**_OPTIONS)
def gru_forward_step_serial(zx, zh, b1, h_prev, gates, a, h):
    """:func:`gru_forward_step` on the calling thread, bit-identical."""
    for n in range(h.shape[0]):
        _forward_row(n, zx, zh, b1, h_prev, gates, a, h)


def gru_forward_step(zx, zh, b1, h_prev, gates, a, h):
    """One GRU step, fused: both gates, the candidate and the new state.

    Parameters
    ----------
    zx : (N, 3H) array
        ``x_t @ W + b[0]``.
    zh : (N, 3H) array
        ``h_prev @ U`` (without its bias: ``b1`` is added here).
    b1 : (3H,) array
        The recurrent bias ``b[1]``.
    h_prev : (N, H) array
    gates : (N, 3H) array, written
        ``[z | r | hh]`` after their nonlinearities.
    a : (N, H) array, written
        ``zh_h + b1_h``, the recurrent part of the candidate before the reset gate.
    h : (N, H) array, written
        The new state; must not alias ``h_prev``.
    """
    kernel = gru_forward_step_parallel if _parallel(h) else gru_forward_step_serial
    kernel(zx, zh, b1, h_prev, gates, a, h)


def gru_forward_step_reference(zx, zh, b1, h_prev, gates, a, h):
    """Plain NumPy definition of :func:`gru_forward_step`."""
    H = h.shape[1]
    s = zx + zh + b1
    z, r = _sigmoid_reference(s[:, :H]), _sigmoid_reference(s[:, H:2 * H])
    a[...] = zh[:, 2 * H:] + b1[2 * H:]
    hh = np.tanh(zx[:, 2 * H:] + r * a)
    gates[...] = np.concatenate([z, r, hh], axis=1)
    h[...] = z * h_prev + (1 - z) * hh


@njit(**_OPTIONS, inline="always")
def _infer_row(n, zx, zh, b1, h):
    hidden = h.shape[1]
    one = h.dtype.type(1)
    for j in range(hidden):
        z = _sigmoid(zx[n, j] + zh[n, j] + b1[j])
        r = _sigmoid(zx[n, hidden + j] + zh[n, hidden + j] + b1[hidden + j])
        hh = _tanh(zx[n, 2 * hidden + j] + r * (zh[n, 2 * hidden + j] + b1[2 * hidden + j]))
        h[n, j] = z * h[n, j] + (one - z) * hh


@njit(parallel=True, **_OPTIONS)
def gru_infer_step_parallel(zx, zh, b1, h):
    """:func:`gru_infer_step` on numba's thread pool, parallel over the batch."""
    for n in prange(h.shape[0]):
        _infer_row(n, zx, zh, b1, h)


@njit(**_OPTIONS)
def gru_infer_step_serial(zx, zh, b1, h):
    """:func:`gru_infer_step` on the calling thread, bit-identical."""
    for n in range(h.shape[0]):
        _infer_row(n, zx, zh, b1, h)


def gru_infer_step(zx, zh, b1, h):
    """One GRU step for inference, nothing kept: :func:`gru_forward_step`'s maths, with
    the state updated in place and no gates or ``a`` written.

    Parameters
    ----------
    zx : (N, 3H) array
        ``x_t @ W + b[0]``.
    zh : (N, 3H) array
        ``h @ U`` (without its bias: ``b1`` is added here).
    b1 : (3H,) array
        The recurrent bias ``b[1]``.
    h : (N, H) array, updated in place
        The previous state in, this step's out.
    """
    kernel = gru_infer_step_parallel if _parallel(h) else gru_infer_step_serial
    kernel(zx, zh, b1, h)


def gru_infer_step_reference(zx, zh, b1, h):
    """Plain NumPy definition of :func:`gru_infer_step`."""
    H = h.shape[1]
    s = zx + zh + b1
    z, r = _sigmoid_reference(s[:, :H]), _sigmoid_reference(s[:, H:2 * H])
    hh = np.tanh(zx[:, 2 * H:] + r * (zh[:, 2 * H:] + b1[2 * H:]))
    h[...] = z * h + (1 - z) * hh


@njit(**_OPTIONS, inline="always")
def _backward_row(n, dh_rec, carry, dy, gates, a, h_prev, dzx, dzh, carry_out):
    hidden = h_prev.shape[1]
    one = h_prev.dtype.type(1)
    for j in range(hidden):
        z = gates[n, j]
        r = gates[n, hidden + j]
        hh = gates[n, 2 * hidden + j]
        dh = dh_rec[n, j] + carry[n, j] + dy[n, j]
        # h = z h_prev + (1 - z) hh; hh = tanh(zx_h + r a); z, r sigmoids.
        da_z = dh * (h_prev[n, j] - hh) * z * (one - z)
        da_h = dh * (one - z) * (one - hh * hh)
        da_r = da_h * a[n, j] * r * (one - r)
        dzx[n, j] = da_z
        dzx[n, hidden + j] = da_r
        dzx[n, 2 * hidden + j] = da_h
        dzh[n, j] = da_z
        dzh[n, hidden + j] = da_r
        dzh[n, 2 * hidden + j] = da_h * r
        carry_out[n, j] = dh * z


@njit(parallel=True, **_OPTIONS)
def gru_backward_step_parallel(dh_rec, carry, dy, gates, a, h_prev, dzx, dzh, carry_out):
    """:func:`gru_backward_step` on numba's thread pool, parallel over the batch."""
    for n in prange(h_prev.shape[0]):
        _backward_row(n, dh_rec, carry, dy, gates, a, h_prev, dzx, dzh, carry_out)


@njit(**_OPTIONS)
def gru_backward_step_serial(dh_rec, carry, dy, gates, a, h_prev, dzx, dzh, carry_out):
    """:func:`gru_backward_step` on the calling thread, bit-identical."""
    for n in range(h_prev.shape[0]):
        _backward_row(n, dh_rec, carry, dy, gates, a, h_prev, dzx, dzh, carry_out)


def gru_backward_step(dh_rec, carry, dy, gates, a, h_prev, dzx, dzh, carry_out):
    """Backward of one GRU step, fused.

    Parameters
    ----------
    dh_rec : (N, H) array
        ``dzh_{t+1} @ U.T``, the part of dL/dh_t through step t+1's projections.
    carry : (N, H) array
        ``z_{t+1} * dL/dh_{t+1}``, the part through step t+1's direct path.
    dy : (N, H) array
        dL/dh_t from this step's output (zeros if only the last step is output).
    gates, a : as written by :func:`gru_forward_step` for this step
    h_prev : (N, H) array
    dzx, dzh : (N, 3H) arrays, written
        dL/d(x_t @ W + b[0]) and dL/d(h_prev @ U + b[1]).
    carry_out : (N, H) array, written
        ``z_t * dL/dh_t``: the ``carry`` of the step before. Must not alias ``carry``.
    """
    kernel = gru_backward_step_parallel if _parallel(h_prev) else gru_backward_step_serial
    kernel(dh_rec, carry, dy, gates, a, h_prev, dzx, dzh, carry_out)


def gru_backward_step_reference(dh_rec, carry, dy, gates, a, h_prev, dzx, dzh, carry_out):
    """Plain NumPy definition of :func:`gru_backward_step`."""
    H = h_prev.shape[1]
    z, r, hh = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
    dh = dh_rec + carry + dy
    da_z = dh * (h_prev - hh) * z * (1 - z)
    da_h = dh * (1 - z) * (1 - hh * hh)
    da_r = da_h * a * r * (1 - r)
    dzx[...] = np.concatenate([da_z, da_r, da_h], axis=1)
    dzh[...] = np.concatenate([da_z, da_r, da_h * r], axis=1)
    carry_out[...] = dh * z
