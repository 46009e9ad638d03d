"""Max pooling: the tie and NaN rules, 'same' padding, overlapping windows, vs brute force."""

import numpy as np
from hypothesis import given

from scratchnet import reference as R

from .checks import image_geometry, seeds


def pool_2x2(values):
    """Pool one 2x2 single-channel image; return (y, dx) for dy = 1."""
    x = np.array(values, dtype=np.float64).reshape(1, 2, 2, 1)
    y, cache = R.maxpool_forward(x)
    return y.reshape(()), R.maxpool_backward(np.ones_like(y), cache).reshape(2, 2)


def test_ties_go_to_the_first_maximum_in_scan_order():
    y, dx = pool_2x2([[1, 1], [1, 1]])
    assert y == 1
    np.testing.assert_array_equal(dx, [[1, 0], [0, 0]])
    y, dx = pool_2x2([[0, 3], [3, 3]])
    np.testing.assert_array_equal(dx, [[0, 1], [0, 0]])
    y, dx = pool_2x2([[0, 2], [3, 3]])  # row r before column s
    np.testing.assert_array_equal(dx, [[0, 0], [1, 0]])


def test_nan_wins_and_its_gradient_goes_to_the_first_nan():
    y, dx = pool_2x2([[5, np.nan], [np.nan, 9]])
    assert np.isnan(y)
    np.testing.assert_array_equal(dx, [[0, 1], [0, 0]])
    y, dx = pool_2x2([[5, 1], [2, np.nan]])
    assert np.isnan(y)
    np.testing.assert_array_equal(dx, [[0, 0], [0, 1]])


def test_same_padding_never_wins():
    # 3x3 pooled by 3x3 windows with stride 2, 'same': one cell of -inf padding before and
    # after on each axis, so every window's FIRST scanned cell, (0, 0), is padding. Real
    # cells of -inf tie with the padding and must still take the gradient.
    for fill in [-5.0, -np.inf]:
        x = np.full((1, 3, 3, 1), fill)
        y, cache = R.maxpool_forward(x, pool_size=(3, 3), strides=(2, 2), padding="same")
        assert y.shape == (1, 2, 2, 1)
        np.testing.assert_array_equal(y, fill)
        dx = R.maxpool_backward(np.ones_like(y), cache)
        np.testing.assert_array_equal(dx.reshape(3, 3), [[1, 1, 0], [1, 1, 0], [0, 0, 0]])


def test_overlapping_windows_add_up_on_a_shared_winner():
    x = np.zeros((1, 4, 4, 1))
    x[0, 1, 2, 0] = 7.0
    y, cache = R.maxpool_forward(x, pool_size=(3, 3), strides=(1, 1))
    np.testing.assert_array_equal(y.reshape(2, 2), 7.0)
    dy = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 2, 2, 1)
    dx = R.maxpool_backward(dy, cache)
    assert dx[0, 1, 2, 0] == 10.0
    assert np.count_nonzero(dx) == 1


def brute_force(x, pool, strides, padding):
    """Scan each window cell by cell, in (r, s) order, exactly as the rules are stated."""
    ph, pw = pool
    sh, sw = strides
    N, H, W, C = x.shape
    Ho, top = R.conv_output_size(H, ph, sh, padding)
    Wo, left = R.conv_output_size(W, pw, sw, padding)
    y = np.empty((N, Ho, Wo, C))
    winners = np.empty((N, Ho, Wo, C, 2), dtype=int)
    for n, i, j, c in np.ndindex(N, Ho, Wo, C):
        best, at = None, None
        for r in range(ph):
            for s in range(pw):
                p, q = i * sh + r - top, j * sw + s - left
                if not (0 <= p < H and 0 <= q < W):
                    continue  # padding never wins
                v = x[n, p, q, c]
                if best is None or (not np.isnan(best) and (np.isnan(v) or v > best)):
                    best, at = v, (p, q)
        y[n, i, j, c], winners[n, i, j, c] = best, at
    return y, winners


@given(seed=seeds, geometry=image_geometry())
def test_agrees_with_a_cell_by_cell_scan(seed, geometry):
    # Few distinct values give many ties, -inf ties with 'same' padding, and a few NaNs
    # test the NaN rule.
    x_shape, pool, strides, padding = geometry
    rng = np.random.default_rng(seed)
    x = rng.choice([-np.inf, 0.0, 1.0, 2.0], x_shape)
    x[rng.random(x_shape) < 0.1] = np.nan
    y, cache = R.maxpool_forward(x, pool, strides, padding)
    y_scan, winners = brute_force(x, pool, strides, padding)
    np.testing.assert_array_equal(y, y_scan)  # NaN == NaN here
    dy = rng.standard_normal(y.shape)
    dx_scan = np.zeros_like(x)
    for (n, i, j, c), (p, q) in zip(np.ndindex(y.shape), winners.reshape(-1, 2), strict=True):
        dx_scan[n, p, q, c] += dy[n, i, j, c]
    np.testing.assert_allclose(R.maxpool_backward(dy, cache), dx_scan, rtol=1e-12, atol=0)
