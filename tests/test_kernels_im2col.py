"""im2col/col2im: the parallel kernels, their serial twins and the dispatchers agree bit for
bit, equal the NumPy references to a stated tolerance, and the references are right."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from scratchnet.kernels import im2col as im2col_module
from scratchnet.kernels.im2col import (
    NARROW_RUN,
    col2im,
    col2im_parallel,
    col2im_reference,
    col2im_serial,
    im2col,
    im2col_parallel,
    im2col_reference,
    im2col_serial,
    im2col_valid,
    im2col_valid_parallel,
    im2col_valid_reference,
    im2col_valid_serial,
)

# Hypothesis example counts come from the conftest profile: 25 by default, more with
# HYPOTHESIS_PROFILE=thorough.
DTYPES = [np.float32, np.float64]
# im2col copies values: any difference at all is a bug.
COPY_TOL = {np.float32: 0.0, np.float64: 0.0}
# col2im sums at most kh*kw <= 16 values per cell; another order would round each sum
# differently by a few ulp of its largest term.
SUM_TOL = {np.float32: 1e-5, np.float64: 1e-13}
IM2COL = [im2col_parallel, im2col_serial, im2col]  # kernel, twin, dispatcher
IM2COL_VALID = [im2col_valid_parallel, im2col_valid_serial, im2col_valid]
COL2IM = [col2im_parallel, col2im_serial, col2im]
IDS = ["parallel", "serial", "dispatcher"]


def conv_output_size(size, k, stride, padding):
    """Output length and padding before, by Keras's rules (the odd 'same' cell goes after)."""
    if padding == "valid":
        return (size - k) // stride + 1, 0
    out = -(-size // stride)
    return out, max((out - 1) * stride + k - size, 0) // 2


@st.composite
def geometries(draw):
    """(N, H, W, C), (kh, kw), (sh, sw), padding: small, and valid for that padding."""
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 7)), draw(st.integers(1, 7)),
             draw(st.integers(1, 4)))
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(st.sampled_from(["valid", "same"]))
    if padding == "valid":
        assume(k[0] <= shape[1] and k[1] <= shape[2])
    return shape, k, s, padding


def plan(shape, k, s, padding):
    """Output size and leading padding, by the layer's (Keras) rules."""
    Ho, pt = conv_output_size(shape[1], k[0], s[0], padding)
    Wo, pl = conv_output_size(shape[2], k[1], s[1], padding)
    return Ho, Wo, pt, pl


def naive_im2col(x, kh, kw, sh, sw, pt, pl, Ho, Wo):
    """The definition, one element at a time."""
    N, H, W, C = x.shape
    cols = np.zeros((N, Ho, Wo, kh * kw * C), dtype=x.dtype)
    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                for a in range(kh):
                    for b in range(kw):
                        r, q = i * sh - pt + a, j * sw - pl + b
                        if 0 <= r < H and 0 <= q < W:
                            cols[n, i, j, (a * kw + b) * C:(a * kw + b + 1) * C] = x[n, r, q]
    return cols


@pytest.mark.parametrize("kernel", IM2COL, ids=IDS)
@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None)
@given(geo=geometries(), seed=st.integers(0, 2**16))
def test_im2col_equals_reference(kernel, dtype, geo, seed):
    shape, (kh, kw), (sh, sw), padding = geo
    Ho, Wo, pt, pl = plan(*geo)
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    # NaN-filled buffers: every element must be written, padding included.
    out = np.full((shape[0], Ho, Wo, kh * kw * shape[3]), np.nan, dtype=dtype)
    ref = np.full_like(out, np.nan)
    got = kernel(x, kh, kw, sh, sw, pt, pl, out)
    im2col_reference(x, kh, kw, sh, sw, pt, pl, ref)
    assert got is out and out.dtype == dtype
    tol = COPY_TOL[dtype]
    np.testing.assert_allclose(out, ref, rtol=tol, atol=tol)
    np.testing.assert_array_equal(ref, naive_im2col(x, kh, kw, sh, sw, pt, pl, Ho, Wo))


@pytest.mark.parametrize("kernel", IM2COL, ids=IDS)
@pytest.mark.parametrize("kw,C", [(3, 1), (7, 1), (3, 2), (3, 3), (2, 5), (4, 4)])
@pytest.mark.parametrize("padding,strides", [("valid", (1, 1)), ("same", (2, 3))])
def test_both_copy_orders_equal_the_definition(kernel, kw, C, padding, strides):
    # kw*C below NARROW_RUN copies column by column, from it on window row by window row.
    assert NARROW_RUN == 10, "the cases straddle NARROW_RUN: move them with it"
    shape, k = (2, 9, 11, C), (3, kw)
    Ho, Wo, pt, pl = plan(shape, k, strides, padding)
    x = np.random.default_rng(kw * C).standard_normal(shape).astype(np.float32)
    out = np.full((2, Ho, Wo, 3 * kw * C), np.nan, dtype=np.float32)
    kernel(x, 3, kw, *strides, pt, pl, out)
    np.testing.assert_array_equal(out, naive_im2col(x, 3, kw, *strides, pt, pl, Ho, Wo))
    # A top-left crop of the output (a Conv2D computing only what its pool reads).
    crop = np.full((2, Ho - 1, Wo - 1, 3 * kw * C), np.nan, dtype=np.float32)
    kernel(x, 3, kw, *strides, pt, pl, crop)
    np.testing.assert_array_equal(crop, out[:, :-1, :-1])


@pytest.mark.parametrize("kernel", COL2IM, ids=IDS)
@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None)
@given(geo=geometries(), seed=st.integers(0, 2**16))
def test_col2im_equals_reference(kernel, dtype, geo, seed):
    shape, (kh, kw), (sh, sw), padding = geo
    Ho, Wo, pt, pl = plan(*geo)
    cols = np.random.default_rng(seed).standard_normal(
        (shape[0], Ho, Wo, kh * kw * shape[3])).astype(dtype)
    out = np.full(shape, np.nan, dtype=dtype)
    ref = np.full(shape, np.nan, dtype=dtype)
    got = kernel(cols, kh, kw, sh, sw, pt, pl, out)
    col2im_reference(cols, kh, kw, sh, sw, pt, pl, ref)
    assert got is out and out.dtype == dtype
    tol = SUM_TOL[dtype]
    np.testing.assert_allclose(out, ref, rtol=tol, atol=tol * np.abs(cols).max())


@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None)
@given(geo=geometries(), seed=st.integers(0, 2**16))
def test_twins_and_dispatchers_are_bit_identical_to_parallel_kernels(dtype, geo, seed):
    shape, (kh, kw), (sh, sw), padding = geo
    Ho, Wo, pt, pl = plan(*geo)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    cols = rng.standard_normal((shape[0], Ho, Wo, kh * kw * shape[3])).astype(dtype)
    for kernels, a, out_shape in ((IM2COL, x, cols.shape), (COL2IM, cols, x.shape)):
        want, *got = (kernel(a, kh, kw, sh, sw, pt, pl, np.full(out_shape, np.nan, dtype=dtype))
                      for kernel in kernels)
        for g in got:
            assert np.array_equal(g, want)


@settings(deadline=None)
@given(geo=geometries(), seed=st.integers(0, 2**16))
def test_col2im_reference_is_the_adjoint_of_im2col(geo, seed):
    """<im2col(x), c> = <x, col2im(c)>: col2im is exactly im2col's backward pass."""
    shape, (kh, kw), (sh, sw), padding = geo
    Ho, Wo, pt, pl = plan(*geo)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    c = rng.standard_normal((shape[0], Ho, Wo, kh * kw * shape[3]))
    lhs = np.sum(im2col_reference(x, kh, kw, sh, sw, pt, pl, np.empty_like(c)) * c)
    rhs = np.sum(x * col2im_reference(c, kh, kw, sh, sw, pt, pl, np.empty_like(x)))
    assert lhs == pytest.approx(rhs, rel=1e-12, abs=1e-12)


def test_same_padding_is_asymmetric_like_keras():
    """H = W = 4, k = 3, s = 2: total padding 1, and Keras puts the odd cell after."""
    x = np.arange(16, dtype=np.float64).reshape(1, 4, 4, 1)
    Ho, pt = conv_output_size(4, 3, 2, "same")  # out 2, total pad 1 -> 0 before, 1 after
    assert (Ho, pt) == (2, 0)
    cols = im2col(x, 3, 3, 2, 2, pt, pt, np.empty((1, 2, 2, 9)))
    np.testing.assert_array_equal(cols[0, 0, 0], [0, 1, 2, 4, 5, 6, 8, 9, 10])
    np.testing.assert_array_equal(cols[0, 1, 1], [10, 11, 0, 14, 15, 0, 0, 0, 0])


# -- the valid case's own kernels (stride 1, every window inside x) ----------------------------
@st.composite
def valid_geometries(draw):
    """(N, H, W, C), (kh, kw), (Ho, Wo): a 'valid' convolution or a top-left crop of it."""
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 7)), draw(st.integers(1, 7)),
             draw(st.integers(1, 5)))
    k = (draw(st.integers(1, shape[1])), draw(st.integers(1, shape[2])))
    out = (draw(st.integers(1, shape[1] - k[0] + 1)), draw(st.integers(1, shape[2] - k[1] + 1)))
    return shape, k, out


@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None)
@given(geo=valid_geometries(), seed=st.integers(0, 2**16))
def test_im2col_valid_equals_the_definition_and_its_variants_agree_bit_for_bit(dtype, geo,
                                                                                 seed):
    shape, (kh, kw), (Ho, Wo) = geo
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    out_shape = (shape[0], Ho, Wo, kh * kw * shape[3])
    want = naive_im2col(x, kh, kw, 1, 1, 0, 0, Ho, Wo)
    np.testing.assert_array_equal(
        im2col_valid_reference(x, kh, kw, np.full(out_shape, np.nan, dtype)), want)
    for kernel in IM2COL_VALID:
        out = np.full(out_shape, np.nan, dtype=dtype)  # every element must be written
        assert kernel(x, kh, kw, out) is out
        np.testing.assert_array_equal(out, want)  # a copy: exact, NaN-free


@pytest.mark.parametrize("kw,C", [(3, 1), (7, 1), (3, 2), (3, 3), (2, 5), (4, 4)])
def test_im2col_valid_both_copy_orders_equal_the_definition(kw, C):
    assert NARROW_RUN == 10, "the cases straddle NARROW_RUN: move them with it"
    x = np.random.default_rng(kw * C).standard_normal((2, 9, 11, C)).astype(np.float32)
    Ho, Wo = 9 - 3 + 1, 11 - kw + 1
    for kernel in IM2COL_VALID:
        for ho, wo in ((Ho, Wo), (Ho - 1, Wo - 1)):  # the full output and a crop
            out = np.full((2, ho, wo, 3 * kw * C), np.nan, dtype=np.float32)
            kernel(x, 3, kw, out)
            np.testing.assert_array_equal(out, naive_im2col(x, 3, kw, 1, 1, 0, 0, ho, wo))


@pytest.mark.parametrize("geo,valid", [
    (((2, 6, 6, 1), 3, 3, 1, 1, 0, 0, (2, 4, 4)), True),    # 'valid', stride 1
    (((2, 6, 6, 1), 3, 3, 1, 1, 0, 0, (2, 3, 2)), True),    # a crop of it
    (((2, 6, 6, 1), 3, 3, 1, 1, 1, 1, (2, 6, 6)), False),   # 'same': padding
    (((2, 6, 6, 1), 3, 3, 2, 1, 0, 0, (2, 2, 4)), False),   # a stride
    (((2, 6, 6, 1), 3, 3, 1, 1, 0, 0, (2, 5, 4)), False),   # windows past the edge
])
def test_im2col_hands_only_the_valid_case_to_the_valid_kernels(monkeypatch, geo, valid):
    x_shape, kh, kw, sh, sw, pt, pl, out_nhw = geo
    calls = []
    monkeypatch.setattr(im2col_module, "im2col_valid", lambda *a: calls.append("valid"))
    for name in ("im2col_parallel", "im2col_serial"):
        monkeypatch.setattr(im2col_module, name, lambda *a: calls.append("general"))
    out = np.empty((*out_nhw, kh * kw * x_shape[3]), np.float32)
    im2col(np.zeros(x_shape, np.float32), kh, kw, sh, sw, pt, pl, out)
    assert calls == ["valid" if valid else "general"]
