"""float32 in, float32 out: no forward or backward silently upcasts (and float64 stays float64)."""

import numpy as np
import pytest

from scratchnet import reference as R


def cases(dtype):
    """(name, forward thunk, backward) for every pair, on small inputs of ``dtype``."""
    rng = np.random.default_rng(0)

    def a(*shape):
        return rng.standard_normal(shape).astype(dtype)

    img, kernel, bias = a(2, 5, 5, 3), a(3, 3, 3, 4), a(4)
    keep = rng.random((2, 3, 4)) >= 0.5
    return [
        ("dense", lambda: R.dense_forward(a(2, 3, 4), a(4, 5), a(5)), R.dense_backward),
        ("conv2d", lambda: R.conv2d_forward(img, kernel, bias, (2, 2), "same"),
         R.conv2d_backward),
        ("conv2d_naive", lambda: R.conv2d_forward_naive(img, kernel, bias, (2, 1), "same"),
         R.conv2d_backward_naive),
        ("maxpool", lambda: R.maxpool_forward(img, (2, 2), None, "same"), R.maxpool_backward),
        ("dropout", lambda: R.dropout_forward(a(2, 3, 4), keep, 0.3), R.dropout_backward),
        ("dropout0", lambda: R.dropout_forward(a(2, 3, 4), keep, 0.0), R.dropout_backward),
        ("reshape", lambda: R.reshape_forward(img, (-1, 3)), R.reshape_backward),
        ("flatten", lambda: R.flatten_forward(img), R.flatten_backward),
        ("relu", lambda: R.relu_forward(a(3, 4)), R.relu_backward),
        ("tanh", lambda: R.tanh_forward(a(3, 4)), R.tanh_backward),
        ("sigmoid", lambda: R.sigmoid_forward(a(3, 4)), R.sigmoid_backward),
        ("softmax", lambda: R.softmax_forward(a(3, 4)), R.softmax_backward),
        ("lstm", lambda: R.lstm_forward(a(2, 3, 4), a(4, 8), a(2, 8), a(8), True),
         R.lstm_backward),
        ("lstm_last", lambda: R.lstm_forward(a(2, 3, 4), a(4, 8), a(2, 8), a(8), False,
                                             a(2, 2), a(2, 2)), R.lstm_backward),
    ]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_pair_keeps_the_dtype(dtype):
    for name, forward, backward in cases(dtype):
        y, cache = forward()
        assert y.dtype == dtype, f"{name} forward gave {y.dtype}"
        grads = backward(np.ones_like(y), cache)
        for g in grads if isinstance(grads, tuple) else (grads,):
            assert g.dtype == dtype, f"{name} backward gave {g.dtype}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lstm_step_and_loss_keep_the_dtype(dtype):
    rng = np.random.default_rng(1)
    x, h, c = (rng.standard_normal((2, k)).astype(dtype) for k in (3, 4, 4))
    W, U, b = (rng.standard_normal(s).astype(dtype) for s in [(3, 16), (4, 16), (16,)])
    h1, c1, cache = R.lstm_step_forward(x, h, c, W, U, b)
    assert h1.dtype == c1.dtype == dtype
    for g in R.lstm_step_backward(np.ones_like(h1), np.ones_like(c1), cache):
        assert g.dtype == dtype
    loss, cache = R.softmax_cross_entropy_forward(rng.standard_normal((3, 4)).astype(dtype),
                                                  np.array([0, 3, 1]))
    assert isinstance(loss, float)
    # dloss may arrive as a NumPy float64 scalar; the gradient must still be in the dtype.
    assert R.softmax_cross_entropy_backward(np.float64(1.0), cache).dtype == dtype
