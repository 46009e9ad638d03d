"""Fused LSTM cell kernels: one timestep's gate nonlinearities + cell update, and its backward.

Gate layout (Keras and PyTorch agree): the 4H columns of a pre-activation row are
``[i | f | g | o]`` = input gate, forget gate, candidate cell, output gate, H columns each.

Forward of one step, for pre-activations ``z = zx + zh`` (input and recurrent projections)::

    i = sigmoid(z_i)   f = sigmoid(z_f)   g = tanh(z_g)   o = sigmoid(z_o)
    c = f * c_prev + i * g
    h = o * tanh(c)

Backward of one step, given ``dh = dL/dh`` and ``dc_next = dL/dc`` arriving from step t+1
(``dL/dc`` also collects the path through ``h``)::

    dc      = dc_next + dh * o * (1 - tanh(c)^2)
    dz_i    = dc * g      * i * (1 - i)
    dz_f    = dc * c_prev * f * (1 - f)
    dz_g    = dc * i      * (1 - g^2)
    dz_o    = dh * tanh(c) * o * (1 - o)
    dc_prev = dc * f

Each numba kernel runs ``prange`` over the batch only: row ``n`` of every output is written
by iteration ``n`` alone, so there are no races. Constants are cast to the arrays' dtype
(``dtype.type(1)``) because a bare ``1`` would promote float32 arithmetic to float64.
All outputs are written into caller-provided arrays (the layer's reusable buffers); outputs
must not alias inputs. The ``*_reference`` functions share the signatures, so either can be
dropped in for the other.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


@njit(cache=True, inline="always")
def _sigmoid(z, one):
    # exp of a non-positive number never overflows: 1/(1+e^-z) for z >= 0, e^z/(1+e^z) below.
    e = math.exp(-abs(z))
    s = one / (one + e)
    return s if z >= 0 else e * s


@njit(cache=True, parallel=True)
def lstm_forward_step(zx, zh, c_prev, gates, c, tanh_c, h):
    """One LSTM step, fused: gate nonlinearities, cell update, hidden state.

    Parameters
    ----------
    zx : (N, 4H) array
        Input projection of this step, ``x_t @ W + b``.
    zh : (N, 4H) array
        Recurrent projection, ``h_prev @ U``; the pre-activation is ``zx + zh`` (summed
        here so that no separate pass over z is needed).
    c_prev : (N, H) array
        Cell state of the previous step.
    gates : (N, 4H) array, written
        ``[i | f | g | o]`` after their nonlinearities.
    c, tanh_c, h : (N, H) arrays, written
        New cell state, its tanh (kept for the backward pass), new hidden state.
    """
    n_batch, hidden = c_prev.shape
    one = c_prev.dtype.type(1)
    for n in prange(n_batch):
        for j in range(hidden):
            i = _sigmoid(zx[n, j] + zh[n, j], one)
            f = _sigmoid(zx[n, hidden + j] + zh[n, hidden + j], one)
            g = math.tanh(zx[n, 2 * hidden + j] + zh[n, 2 * hidden + j])
            o = _sigmoid(zx[n, 3 * hidden + j] + zh[n, 3 * hidden + j], one)
            cn = f * c_prev[n, j] + i * g
            tc = math.tanh(cn)
            gates[n, j] = i
            gates[n, hidden + j] = f
            gates[n, 2 * hidden + j] = g
            gates[n, 3 * hidden + j] = o
            c[n, j] = cn
            tanh_c[n, j] = tc
            h[n, j] = o * tc


def _sigmoid_reference(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def lstm_forward_step_reference(zx, zh, c_prev, gates, c, tanh_c, h):
    """Plain NumPy definition of :func:`lstm_forward_step` (same arguments and outputs)."""
    hidden = c_prev.shape[1]
    z = zx + zh
    i = _sigmoid_reference(z[:, :hidden])
    f = _sigmoid_reference(z[:, hidden : 2 * hidden])
    g = np.tanh(z[:, 2 * hidden : 3 * hidden])
    o = _sigmoid_reference(z[:, 3 * hidden :])
    gates[...] = np.concatenate([i, f, g, o], axis=1)
    c[...] = f * c_prev + i * g
    tanh_c[...] = np.tanh(c)
    h[...] = o * tanh_c


@njit(cache=True, parallel=True)
def lstm_backward_step(dh, dc_next, gates, c_prev, tanh_c, dz, dc_prev):
    """Backward of one LSTM step, fused: dL/dz of all four gates and dL/dc_prev.

    Parameters
    ----------
    dh : (N, H) array
        dL/dh_t in total: upstream gradient of this step plus the recurrent one.
    dc_next : (N, H) array
        dL/dc_t arriving from step t+1 (zeros at the last step).
    gates : (N, 4H) array
        ``[i | f | g | o]`` of this step, as written by :func:`lstm_forward_step`.
    c_prev, tanh_c : (N, H) arrays
        Previous cell state, and tanh of this step's cell state.
    dz : (N, 4H) array, written
        dL/d(pre-activation) of this step, gate order ``[i | f | g | o]``.
    dc_prev : (N, H) array, written
        dL/dc_{t-1}, the ``dc_next`` of the step before.
    """
    n_batch, hidden = c_prev.shape
    one = c_prev.dtype.type(1)
    for n in prange(n_batch):
        for j in range(hidden):
            i = gates[n, j]
            f = gates[n, hidden + j]
            g = gates[n, 2 * hidden + j]
            o = gates[n, 3 * hidden + j]
            tc = tanh_c[n, j]
            dhj = dh[n, j]
            # c reaches the loss directly (dc_next) and through h = o * tanh(c).
            dc = dc_next[n, j] + dhj * o * (one - tc * tc)
            # sigmoid' = s (1 - s), tanh' = 1 - tanh^2, both from the cached outputs.
            dz[n, j] = dc * g * i * (one - i)
            dz[n, hidden + j] = dc * c_prev[n, j] * f * (one - f)
            dz[n, 2 * hidden + j] = dc * i * (one - g * g)
            dz[n, 3 * hidden + j] = dhj * tc * o * (one - o)
            dc_prev[n, j] = dc * f


def lstm_backward_step_reference(dh, dc_next, gates, c_prev, tanh_c, dz, dc_prev):
    """Plain NumPy definition of :func:`lstm_backward_step` (same arguments and outputs)."""
    hidden = c_prev.shape[1]
    i, f, g, o = (gates[:, k * hidden : (k + 1) * hidden] for k in range(4))
    dc = dc_next + dh * o * (1 - tanh_c * tanh_c)
    dz[...] = np.concatenate(
        [
            dc * g * i * (1 - i),
            dc * c_prev * f * (1 - f),
            dc * i * (1 - g * g),
            dh * tanh_c * o * (1 - o),
        ],
        axis=1,
    )
    dc_prev[...] = dc * f
