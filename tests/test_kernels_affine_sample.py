"""The augmentation kernel (affine map + bilinear sampling): the parallel kernel, its serial
twin and the dispatcher agree bit for bit; they equal the kernel module's NumPy reference
and the textbook pair in scratchnet.reference.augment to a stated tolerance, NaN and inf
included; the backward is the forward's transpose."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchnet.kernels import affine_sample as K
from scratchnet.reference.augment import affine_sample_backward, affine_sample_forward

DTYPES = [np.float32, np.float64]
# The forward adds the same four terms in the same order as both references: any
# difference would be a bug, but a compiler may fuse a multiply-add on some machine, so a
# few ulp are allowed. The backward adds up to 4 * (output pixels) terms in another order.
TOL = {np.float32: 1e-5, np.float64: 1e-12}
FORWARD = [K.affine_sample_forward_parallel, K.affine_sample_forward_serial,
           K.affine_sample_forward]
BACKWARD = [K.affine_sample_backward_parallel, K.affine_sample_backward_serial,
            K.affine_sample_backward]
IDS = ["parallel", "serial", "dispatcher"]


def case(seed, n, h, w, c, dtype, elastic, scale=0.4):
    """x, random maps near the identity (some points fall outside), a displacement or None."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h, w, c)).astype(dtype)
    m = np.tile(np.array([[1.0, 0, 0], [0, 1.0, 0]]), (n, 1, 1))
    m += scale * rng.standard_normal((n, 2, 3)) * [1, 1, max(h, w)]
    d = 1.5 * rng.standard_normal((n, h, w, 2)) if elastic else None
    return x, m.astype(dtype), None if d is None else d.astype(dtype)


def assert_close(got, want, dtype, what):
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{what}: NaN where")
    scale = np.abs(np.nan_to_num(want, posinf=0, neginf=0)).max(initial=1.0)
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL[dtype] * scale, err_msg=what)


def forward_all(x, m, d, fill):
    out = [f(x, m, d, x.dtype.type(fill), np.full_like(x, np.nan)) for f in FORWARD]
    ref = K.affine_sample_forward_reference(x, m, d, x.dtype.type(fill), np.empty_like(x))
    textbook, cache = affine_sample_forward(x, m, d, fill)
    return out, ref, textbook, cache


shapes = st.tuples(st.integers(1, 4), st.integers(1, 8), st.integers(1, 8), st.integers(1, 3))


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=15, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**16), elastic=st.booleans(),
       fill=st.sampled_from([0.0, -0.5]))
def test_forward_and_backward_equal_both_references(dtype, shape, seed, elastic, fill):
    x, m, d = case(seed, *shape, dtype, elastic)
    out, ref, textbook, cache = forward_all(x, m, d, fill)
    for got, name in zip(out, IDS, strict=True):
        np.testing.assert_array_equal(got, out[0], err_msg=f"forward {name} vs parallel")
    assert_close(out[0], ref, dtype, "forward vs kernel reference")
    assert_close(out[0], textbook, dtype, "forward vs scratchnet.reference")
    dy = np.random.default_rng(seed + 1).standard_normal(x.shape).astype(dtype)
    back = [f(dy, m, d, np.full_like(x, np.nan)) for f in BACKWARD]
    for got, name in zip(back, IDS, strict=True):
        np.testing.assert_array_equal(got, back[0], err_msg=f"backward {name} vs parallel")
    assert_close(back[0], K.affine_sample_backward_reference(dy, m, d, np.empty_like(x)),
                 dtype, "backward vs kernel reference")
    assert_close(back[0], affine_sample_backward(dy, cache), dtype,
                 "backward vs scratchnet.reference")


@pytest.mark.parametrize("elastic", [False, True])
def test_backward_is_the_transpose_of_the_forward(elastic):
    # <forward(x), dy> = <x, backward(dy)> for fill 0: the definition of the transpose.
    x, m, d = case(3, 3, 6, 5, 2, np.float64, elastic)
    dy = np.random.default_rng(4).standard_normal(x.shape)
    y = K.affine_sample_forward(x, m, d, 0.0, np.empty_like(x))
    dx = K.affine_sample_backward(dy, m, d, np.empty_like(x))
    assert np.vdot(y, dy) == pytest.approx(np.vdot(x, dx), rel=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("elastic", [False, True])
def test_nan_and_inf_in_images_and_maps_behave_as_in_the_references(dtype, elastic):
    x, m, d = case(5, 4, 7, 6, 2, dtype, elastic)
    m[:3] = [[1, 0, 0], [0, 1, 0]]  # identity maps read the non-finite pixels below ...
    if elastic:
        d[:3] = 0
    x[0, 2, 3, 1] = np.nan
    x[1, 0, 0, 0] = np.inf
    x[2, 4, 4, 0] = -np.inf
    m[3, 0, 2] = np.nan  # a whole image's map: every point reads the fill
    if elastic:
        d[1, 1, 1, 0] = np.inf  # one point outside: the fill
    out, ref, textbook, cache = forward_all(x, m, d, 0.25)
    for got in out:
        np.testing.assert_array_equal(got, out[0])
    assert_close(out[0], ref, dtype, "forward vs kernel reference")
    assert_close(out[0], textbook, dtype, "forward vs scratchnet.reference")
    # ... with weight 1 at their own pixel, and 0 at the pixels before them (0 * inf = NaN).
    assert np.isnan(out[0][0, 2, 3, 1]) and np.isnan(out[0][0, 1, 3, 1])
    assert out[0][1, 0, 0, 0] == np.inf and out[0][2, 4, 4, 0] == -np.inf
    assert np.isnan(out[0][2, 3, 4, 0])
    np.testing.assert_array_equal(out[0][3], dtype(0.25))
    dy = np.random.default_rng(6).standard_normal(x.shape).astype(dtype)
    dy[0, 1, 1, 0] = np.nan
    back = [f(dy, m, d, np.empty_like(x)) for f in BACKWARD]
    for got in back:
        np.testing.assert_array_equal(got, back[0])
    assert_close(back[0], K.affine_sample_backward_reference(dy, m, d, np.empty_like(x)),
                 dtype, "backward vs kernel reference")
    assert_close(back[0], affine_sample_backward(dy, cache), dtype,
                 "backward vs scratchnet.reference")
    np.testing.assert_array_equal(back[0][3], 0)  # read nothing, so nothing flows back
