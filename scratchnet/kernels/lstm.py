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

Each ``*_parallel`` kernel runs ``prange`` over the batch only: row ``n`` of every output
is written by iteration ``n`` alone, so there are no races; its ``*_serial`` twin runs the
same row code on one thread, bit for bit the same, and the dispatcher (``lstm_forward_step``
and so on) picks one: the twin below ``PARALLEL_MIN_CELLS`` cells and on threads that already
own a core. Constants are cast to the arrays' dtype, because a bare ``1`` would promote
float32 arithmetic to float64. Outputs are written into caller-provided arrays (the layer's
reusable buffers) and must not alias the inputs. The ``*_reference`` functions are the plain
NumPy definitions, with the same signatures.

Why the kernels bring their own exp and tanh: numba calls libm's scalar ``expf``/``tanhf``,
which keeps LLVM from vectorizing the loop, and the fused step was then slower than NumPy's
SIMD ufuncs. ``_exp_nonpos`` (range reduction, a Taylor polynomial, and 2^k written straight
into the float's exponent bits) and ``_tanh`` built on it are plain arithmetic, so the loop
vectorizes. Both are within a few ulp in float32 and float64 (the tests check them against
NumPy); the references use NumPy's own exp and tanh. NaN propagates through both, and
+-inf saturates the gates.

The polynomials and the cell update use fused multiply-adds (``_fma``: one rounding instead
of two), written out rather than left to LLVM's ``fastmath={"contract"}``: contraction let
a fresh compile and a cache load fuse different products, so results depended on numba's
cache state. Written out, every build computes the same bits, at the contracted speed.
Measured: see benchmarks/README.md, "Measurements behind the kernels' choices".
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic, overload

from scratchnet.kernels.threads import use_pool

# numpy's error model: 1/0 gives inf, with no exception check per division. No fastmath
# flag at all: "contract" let LLVM fuse a different a*b + c in a fresh compile than in the
# cached build, so the fused multiply-adds the speed needs are written out (_fma) instead.
_OPTIONS = dict(error_model="numpy")


@intrinsic
def _pow2(typingctx, k):
    """2.0**k for a float ``k`` that holds an integer in the normal exponent range.

    Writes the IEEE-754 bits directly: the biased exponent ``k + bias`` above the mantissa.
    """
    if k == types.float32:
        nbits, mantissa, bias = 32, 23, 127
    elif k == types.float64:
        nbits, mantissa, bias = 64, 52, 1023
    else:
        return None

    def codegen(context, builder, sig, args):
        ity = ir.IntType(nbits)
        biased = builder.add(builder.fptosi(args[0], ity), ity(bias))
        return builder.bitcast(builder.shl(biased, ity(mantissa)), context.get_value_type(k))

    return k(k), codegen


@intrinsic
def _fma(typingctx, a, b, c):
    """a * b + c rounded once (LLVM's llvm.fma), for three floats of one type.

    The only fused multiply-adds in these kernels: written out, they are the same in every
    build, where leaving them to LLVM's contraction was not.
    """
    if not (a == b == c and a in (types.float32, types.float64)):
        return None

    def codegen(context, builder, sig, args):
        return builder.fma(*args)

    return a(a, b, c), codegen


def _exp_nonpos(x):
    """exp(x) for x <= 0, vectorizable, flushed to 0 below the normal range (numba only)."""
    raise NotImplementedError("_exp_nonpos is only callable from numba-compiled code")


def _tanh_series(a):
    """tanh(a) for |a| <= 1/4 by its Taylor series (numba only)."""
    raise NotImplementedError("_tanh_series is only callable from numba-compiled code")


# exp(x) = 2^k exp(r) with k = round(x / ln2) and |r| <= ln2 / 2:
# - k is rounded by adding and subtracting 1.5 * 2^(mantissa bits), which is exact
#   round-to-nearest and, unlike floor(), vectorizes without a libm call;
# - ln2 is split into a head with few mantissa bits (so k * head is exact) and a tail
#   (Cephes's constants), so r keeps full precision;
# - exp(r) is its Taylor polynomial, cut where the next term is below half an ulp:
#   degree 7 for float32, 13 for float64. NaN propagates through r.
# The polynomials are written out as straight-line code, which is what vectorizes once
# inlined. _exp_nonpos is left to LLVM's inliner (numba-level inlining of its branches
# trips a warning in numba's SSA pass); _tanh_series is inlined by numba, as LLVM declines
# to inline the float64 version and the loop then stays scalar.
_F = np.float32
_E = [1 / math.factorial(n) for n in range(14)]


@overload(_exp_nonpos, jit_options=_OPTIONS)
def _exp_nonpos_overload(x):
    if x == types.float32:
        log2e, ln2_hi, ln2_lo = _F(1.4426950408889634), _F(0.693359375), _F(-2.12194440e-4)
        magic, kmin, xmin, zero = _F(1.5 * 2**23), _F(-126), _F(-87), _F(0)
        e0, e1, e2, e3, e4, e5, e6, e7 = (_F(c) for c in _E[:8])

        def impl(x):
            k = max(_fma(x, log2e, magic) - magic, kmin)
            r = _fma(-k, ln2_lo, _fma(-k, ln2_hi, x))
            p = _fma(r, _fma(r, _fma(r, _fma(r, e7, e6), e5), e4), e3)
            p = _fma(r, _fma(r, _fma(r, p, e2), e1), e0)
            return zero if x < xmin else p * _pow2(k)

        return impl
    if x == types.float64:
        log2e, ln2_hi, ln2_lo = 1.4426950408889634, 6.93145751953125e-1, 1.42860682030941723e-6
        magic, kmin, xmin = 1.5 * 2.0**52, -1022.0, -708.0
        e0, e1, e2, e3, e4, e5, e6, e7, e8, e9, e10, e11, e12, e13 = _E

        def impl(x):
            k = max(_fma(x, log2e, magic) - magic, kmin)
            r = _fma(-k, ln2_lo, _fma(-k, ln2_hi, x))
            p = _fma(r, _fma(r, _fma(r, _fma(r, e13, e12), e11), e10), e9)
            p = _fma(r, _fma(r, _fma(r, _fma(r, p, e8), e7), e6), e5)
            p = _fma(r, _fma(r, _fma(r, _fma(r, p, e4), e3), e2), e1)
            p = _fma(r, p, e0)
            return 0.0 if x < xmin else p * _pow2(k)

        return impl
    return None


# Taylor coefficients of tanh(a) = a + a^3 (t3 + a^2 (t5 + ...)), from the Bernoulli numbers:
# t_{2n-1} = 2^{2n} (2^{2n} - 1) B_{2n} / (2n)!. For |a| <= 1/4 each term is ~40x smaller
# than the one before: 5 terms reach float32's precision, 11 terms float64's.
_T = (
    -1 / 3, 2 / 15, -17 / 315, 62 / 2835, -1382 / 155925, 21844 / 6081075,
    -929569 / 638512875, 6404582 / 10854718875, -443861162 / 1856156927625,
    18888466084 / 194896477400625,
)  # fmt: skip


@overload(_tanh_series, inline="always", jit_options=_OPTIONS)
def _tanh_series_overload(a):
    if a == types.float32:
        t3, t5, t7, t9 = (_F(c) for c in _T[:4])

        def impl(a):
            a2 = a * a
            p = _fma(a2, _fma(a2, _fma(a2, t9, t7), t5), t3)
            return _fma(a * a2, p, a)

        return impl
    if a == types.float64:
        t3, t5, t7, t9, t11, t13, t15, t17, t19, t21 = _T

        def impl(a):
            a2 = a * a
            p = _fma(a2, _fma(a2, _fma(a2, _fma(a2, t21, t19), t17), t15), t13)
            p = _fma(a2, _fma(a2, _fma(a2, _fma(a2, p, t11), t9), t7), t5)
            p = _fma(a2, p, t3)
            return _fma(a * a2, p, a)

        return impl
    return None


@njit(cache=True, nogil=True, inline="always", **_OPTIONS)
def _sigmoid(z):
    # exp of a non-positive number never overflows: 1/(1+e^-z) for z >= 0, e^z/(1+e^z) below.
    one = type(z)(1)
    e = _exp_nonpos(-abs(z))
    s = one / (one + e)
    return s if z >= 0 else e * s


@njit(cache=True, nogil=True, inline="always", **_OPTIONS)
def _tanh(x):
    # (1 - e)/(1 + e) with e = exp(-2|x|); it cancels near 0, where the series takes over.
    one = type(x)(1)
    a = abs(x)
    e = _exp_nonpos(-(a + a))
    t = _tanh_series(a) if a <= type(x)(0.25) else (one - e) / (one + e)
    return t if x >= 0 else -t


# Batches smaller than this many (N * H) cells run the serial kernels: for them, handing
# rows to the thread pool costs more than it saves (and, with BLAS threads also waiting
# for cores, a parallel call can stall for milliseconds). Training batches of the seed
# LSTM stay serial, its inference batches go parallel.
# Measured: see benchmarks/README.md, "Measurements behind the kernels' choices".
PARALLEL_MIN_CELLS = 1 << 16


def _parallel(cell):
    """Whether a step over the (N, H) cell state ``cell`` may use the thread pool here."""
    return use_pool(cell.size, PARALLEL_MIN_CELLS)


@njit(cache=True, nogil=True, **_OPTIONS)
def _forward_row(n, zx, zh, c_prev, gates, c, tanh_c, h):
    hidden = c_prev.shape[1]
    for j in range(hidden):
        i = _sigmoid(zx[n, j] + zh[n, j])
        f = _sigmoid(zx[n, hidden + j] + zh[n, hidden + j])
        g = _tanh(zx[n, 2 * hidden + j] + zh[n, 2 * hidden + j])
        o = _sigmoid(zx[n, 3 * hidden + j] + zh[n, 3 * hidden + j])
        cn = _fma(f, c_prev[n, j], i * g)  # f * c_prev + i * g
        tc = _tanh(cn)
        gates[n, j] = i
        gates[n, hidden + j] = f
        gates[n, 2 * hidden + j] = g
        gates[n, 3 * hidden + j] = o
        c[n, j] = cn
        tanh_c[n, j] = tc
        h[n, j] = o * tc


@njit(cache=True, nogil=True, parallel=True, **_OPTIONS)
def lstm_forward_step_parallel(zx, zh, c_prev, gates, c, tanh_c, h):
    """:func:`lstm_forward_step` on numba's thread pool, parallel over the batch."""
    for n in prange(c_prev.shape[0]):
        _forward_row(n, zx, zh, c_prev, gates, c, tanh_c, h)


@njit(cache=True, nogil=True, **_OPTIONS)
def lstm_forward_step_serial(zx, zh, c_prev, gates, c, tanh_c, h):
    """:func:`lstm_forward_step` on the calling thread: bit-identical to the parallel kernel."""
    for n in range(c_prev.shape[0]):
        _forward_row(n, zx, zh, c_prev, gates, c, tanh_c, h)


def _sigmoid_reference(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


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
    kernel = lstm_forward_step_parallel if _parallel(c_prev) else lstm_forward_step_serial
    kernel(zx, zh, c_prev, gates, c, tanh_c, h)


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


@njit(cache=True, nogil=True, **_OPTIONS)
def _infer_row(n, z, c, h):
    hidden = c.shape[1]
    for j in range(hidden):
        i = _sigmoid(z[n, j])
        f = _sigmoid(z[n, hidden + j])
        g = _tanh(z[n, 2 * hidden + j])
        o = _sigmoid(z[n, 3 * hidden + j])
        cn = _fma(f, c[n, j], i * g)  # f * c + i * g
        c[n, j] = cn
        h[n, j] = o * _tanh(cn)


@njit(cache=True, nogil=True, parallel=True, **_OPTIONS)
def lstm_infer_step_parallel(z, c, h):
    """:func:`lstm_infer_step` on numba's thread pool, parallel over the batch."""
    for n in prange(c.shape[0]):
        _infer_row(n, z, c, h)


@njit(cache=True, nogil=True, **_OPTIONS)
def lstm_infer_step_serial(z, c, h):
    """:func:`lstm_infer_step` on the calling thread: bit-identical to the parallel kernel."""
    for n in range(c.shape[0]):
        _infer_row(n, z, c, h)


def lstm_infer_step(z, c, h):
    """One LSTM step for inference: the same maths as :func:`lstm_forward_step`, nothing kept.

    Parameters
    ----------
    z : (N, 4H) array
        The whole pre-activation of this step, ``x_t @ W + b + h_prev @ U``.
    c : (N, H) array, updated in place
        The previous cell state in, this step's out.
    h : (N, H) array, written
        The new hidden state.
    """
    kernel = lstm_infer_step_parallel if _parallel(c) else lstm_infer_step_serial
    kernel(z, c, h)


def lstm_infer_step_reference(z, c, h):
    """Plain NumPy definition of :func:`lstm_infer_step` (same arguments and outputs)."""
    hidden = c.shape[1]
    i, f, o = (_sigmoid_reference(z[:, k * hidden : (k + 1) * hidden]) for k in (0, 1, 3))
    c[...] = f * c + i * np.tanh(z[:, 2 * hidden : 3 * hidden])
    h[...] = o * np.tanh(c)


@njit(cache=True, nogil=True, **_OPTIONS)
def _backward_row(n, dh, dc_next, gates, c_prev, tanh_c, dz, dc_prev):
    hidden = c_prev.shape[1]
    one = c_prev.dtype.type(1)
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


@njit(cache=True, nogil=True, parallel=True, **_OPTIONS)
def lstm_backward_step_parallel(dh, dc_next, gates, c_prev, tanh_c, dz, dc_prev):
    """:func:`lstm_backward_step` on numba's thread pool, parallel over the batch."""
    for n in prange(c_prev.shape[0]):
        _backward_row(n, dh, dc_next, gates, c_prev, tanh_c, dz, dc_prev)


@njit(cache=True, nogil=True, **_OPTIONS)
def lstm_backward_step_serial(dh, dc_next, gates, c_prev, tanh_c, dz, dc_prev):
    """:func:`lstm_backward_step` on the calling thread: bit-identical to the parallel kernel."""
    for n in range(c_prev.shape[0]):
        _backward_row(n, dh, dc_next, gates, c_prev, tanh_c, dz, dc_prev)


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
    kernel = lstm_backward_step_parallel if _parallel(c_prev) else lstm_backward_step_serial
    kernel(dh, dc_next, gates, c_prev, tanh_c, dz, dc_prev)


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
