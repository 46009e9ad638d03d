"""Winograd F(2x2, 3x3) kernels: each equals its NumPy reference, the twins agree bit for
bit, the backward kernels are the forward ones' transposes, and the whole is the
convolution.

The kernels and their references make the same additions in the same order, so they must
agree exactly; the convolution itself is checked against a direct sum to float rounding.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchnet.kernels import winograd as wg
from scratchnet.kernels import winograd_adjoint as wa

DTYPES = [np.float32, np.float64]
IDS = ["parallel", "serial", "dispatcher"]
INPUT = [wg.winograd_input_parallel, wg.winograd_input_serial, wg.winograd_input]
OUTPUT = [wg.winograd_output_parallel, wg.winograd_output_serial, wg.winograd_output]
OUTPUT_POOL = [wg.winograd_output_pool_parallel, wg.winograd_output_pool_serial,
               wg.winograd_output_pool]
OUTPUT_ADJ = [wa.winograd_output_adjoint_parallel, wa.winograd_output_adjoint_serial,
              wa.winograd_output_adjoint]
INPUT_ADJ = [wa.winograd_input_adjoint_parallel, wa.winograd_input_adjoint_serial,
             wa.winograd_input_adjoint]


@st.composite
def geometries(draw):
    """N, (H, W), C, F and the tiles (th, tw): whole tiles inside the input, which may
    have a row or two, a column or two, that no tile reads (a cropped map)."""
    n, c, f = draw(st.integers(1, 3)), draw(st.integers(1, 5)), draw(st.integers(1, 4))
    th, tw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    H, W = 2 * th + 2 + draw(st.integers(0, 2)), 2 * tw + 2 + draw(st.integers(0, 2))
    return n, (H, W), c, f, (th, tw)


def planes(rng, n_tiles, width, dtype, extra=2):
    """(16, R, width) planes with R > tiles; the rows past the tiles hold NaN, which no
    kernel may read."""
    a = rng.standard_normal((16, n_tiles + extra, width)).astype(dtype)
    a[:, n_tiles:] = np.nan
    return a


def direct_conv(x, W, out_hw):
    """The convolution as its definition: float64 sums over each 3 x 3 window."""
    h, w = out_hw
    xp = x.astype(np.float64)
    y = np.zeros((x.shape[0], h, w, W.shape[3]))
    for i in range(h):
        for j in range(w):
            y[:, i, j] = np.einsum("nabc,abcf->nf", xp[:, i:i + 3, j:j + 3], W)
    return y


# -- the transforms are the matrices of Lavin and Gray -----------------------------------------
def test_the_written_out_transforms_are_the_matrices():
    rng = np.random.default_rng(0)
    d, y = rng.standard_normal((4, 5)), rng.standard_normal((2, 5))
    np.testing.assert_allclose(wg.bt_rows(d, 0), wg.BT @ d, rtol=0, atol=1e-15)
    np.testing.assert_allclose(wg.at_rows(d, 0), wg.AT @ d, rtol=0, atol=1e-15)
    np.testing.assert_allclose(wa.a_rows(y, 0), wg.AT.T @ y, rtol=0, atol=1e-15)
    np.testing.assert_allclose(wa.b_rows(d, 0), wg.BT.T @ d, rtol=0, atol=1e-15)
    g = rng.standard_normal((3, 3, 1, 1))
    U = wg.filter_transform(g).reshape(4, 4)
    np.testing.assert_allclose(U, wg.G @ g[:, :, 0, 0] @ wg.G.T, rtol=0, atol=1e-15)


def test_plane_rows_spread_the_sixteen_planes_over_the_cache_sets():
    """Plane k starts at k R row_bytes: its 64-byte line within a 4 KiB page picks the
    cache set. Whole rows of row_bytes leave at most 4096 / row_bytes distinct starts."""
    for tiles in (900, 1600, 3200, 25, 1):
        for row_bytes in (128, 256, 512):
            rows = wg.plane_rows(tiles, row_bytes)
            assert tiles <= rows < tiles + 16
            sets = {(k * rows * row_bytes // 64) % 64 for k in range(16)}
            assert len(sets) == min(16, 4096 // row_bytes), (tiles, row_bytes, rows)


# -- each kernel: its reference exactly, parallel = serial = dispatcher --------------------------
@settings(deadline=None)
@given(geo=geometries(), seed=st.integers(0, 2**16))
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_kernel_equals_its_reference_exactly(dtype, geo, seed):
    n, (H, W), C, F, (th, tw) = geo
    h, w = 2 * th, 2 * tw
    tiles = n * th * tw
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, H, W, C)).astype(dtype)
    m = planes(rng, tiles, F, dtype)
    dz = rng.standard_normal((n, h, w, F)).astype(dtype)
    dv = planes(rng, tiles, C, dtype)
    pooled = (n, th, tw, F)

    want_v = wg.winograd_input_reference(x, th, tw, np.zeros((16, tiles, C), dtype))
    want_z = wg.winograd_output_reference(m, th, tw, np.empty((n, h, w, F), dtype))
    want_p = wg.winograd_output_pool_reference(m, th, tw, np.empty(pooled, dtype))
    want_t = wa.winograd_output_adjoint_reference(dz, th, tw, np.zeros((16, tiles, F), dtype))
    want_dx = wa.winograd_input_adjoint_reference(dv, th, tw, np.empty_like(x))
    for kernels in zip(INPUT, OUTPUT, OUTPUT_POOL, OUTPUT_ADJ, INPUT_ADJ, strict=True):
        k_in, k_out, k_pool, k_oadj, k_iadj = kernels
        v = k_in(x, th, tw, np.full((16, tiles + 1, C), 7, dtype))
        np.testing.assert_array_equal(v[:, :tiles], want_v)
        assert (v[:, tiles:] == 7).all()  # rows past the tiles are left alone
        np.testing.assert_array_equal(k_out(m, th, tw, np.full((n, h, w, F), np.nan, dtype)),
                                      want_z)
        np.testing.assert_array_equal(k_pool(m, th, tw, np.empty(pooled, dtype)), want_p)
        t = k_oadj(dz, th, tw, np.full((16, tiles, F), np.nan, dtype))
        np.testing.assert_array_equal(t, want_t)
        np.testing.assert_array_equal(k_iadj(dv, th, tw, np.full_like(x, np.nan)),
                                      want_dx)


# -- the backward kernels are the forward ones' transposes -------------------------------------
@settings(deadline=None)
@given(geo=geometries(), seed=st.integers(0, 2**16))
def test_the_backward_kernels_are_the_adjoints_of_the_forward_ones(geo, seed):
    """<f(a), b> = <a, f^T(b)> for each transform, in float64."""
    n, (H, W), C, F, (th, tw) = geo
    h, w = 2 * th, 2 * tw
    tiles = n * th * tw
    rng = np.random.default_rng(seed)
    x, dv = rng.standard_normal((n, H, W, C)), rng.standard_normal((16, tiles, C))
    v = wg.winograd_input(x, th, tw, np.empty((16, tiles, C)))
    dx = wa.winograd_input_adjoint(dv, th, tw, np.empty_like(x))
    assert np.vdot(v, dv) == pytest.approx(np.vdot(x, dx), rel=1e-12, abs=1e-12)
    m, dz = rng.standard_normal((16, tiles, F)), rng.standard_normal((n, h, w, F))
    z = wg.winograd_output(m, th, tw, np.empty((n, h, w, F)))
    t = wa.winograd_output_adjoint(dz, th, tw, np.empty((16, tiles, F)))
    assert np.vdot(z, dz) == pytest.approx(np.vdot(m, t), rel=1e-12, abs=1e-12)
    g, du = rng.standard_normal((3, 3, C, F)), rng.standard_normal((16, C, F))
    assert np.vdot(wg.filter_transform(g), du) == pytest.approx(
        np.vdot(g, wa.filter_transform_adjoint(du)), rel=1e-12, abs=1e-12)


# -- together: the convolution and its gradients -----------------------------------------------
@settings(deadline=None)
@given(geo=geometries(), seed=st.integers(0, 2**16))
@pytest.mark.parametrize("dtype", DTYPES)
def test_the_transforms_and_sixteen_products_are_the_convolution(dtype, geo, seed):
    n, (H, W), C, F, (th, tw) = geo
    h, w = 2 * th, 2 * tw
    tiles = n * th * tw
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, H, W, C)).astype(dtype)
    g = rng.standard_normal((3, 3, C, F)).astype(dtype)
    v = wg.winograd_input(x, th, tw, np.empty((16, tiles, C), dtype))
    m = np.matmul(v, wg.filter_transform(g))
    z = wg.winograd_output(m, th, tw, np.empty((n, h, w, F), dtype))
    want = direct_conv(x, g, (h, w))
    tol = 1e-5 if dtype == np.float32 else 1e-13  # of the largest output
    np.testing.assert_allclose(z, want, rtol=0, atol=tol * max(1.0, np.abs(want).max()))
    # And the backward: dW and dx of sum(z * dz), against the direct sums' gradients.
    dz = rng.standard_normal(z.shape).astype(dtype)
    t = wa.winograd_output_adjoint(dz, th, tw, np.empty((16, tiles, F), dtype))
    dg = wa.filter_transform_adjoint(np.matmul(v.transpose(0, 2, 1), t))
    dv = np.matmul(t, wg.filter_transform(g).transpose(0, 2, 1))
    dx = wa.winograd_input_adjoint(dv, th, tw, np.empty_like(x))
    d64, xp = dz.astype(np.float64), x.astype(np.float64)
    want_dg, dxp = np.zeros(g.shape), np.zeros(xp.shape)
    for i in range(h):
        for j in range(w):
            want_dg += np.einsum("nabc,nf->abcf", xp[:, i:i + 3, j:j + 3], d64[:, i, j])
            dxp[:, i:i + 3, j:j + 3] += np.einsum("abcf,nf->nabc", g.astype(np.float64),
                                                  d64[:, i, j])
    want_dx = dxp
    np.testing.assert_allclose(dg, want_dg, rtol=0, atol=tol * max(1.0, np.abs(want_dg).max()))
    np.testing.assert_allclose(dx, want_dx, rtol=0, atol=tol * max(1.0, np.abs(want_dx).max()))


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_filter_transforms_keep_the_dtype(dtype):
    g = np.ones((3, 3, 2, 5), dtype)
    assert wg.filter_transform(g).dtype == dtype
    assert wg.filter_transform(g).shape == (16, 2, 5)
    assert wa.filter_transform_adjoint(np.ones((16, 2, 5), dtype)).dtype == dtype
