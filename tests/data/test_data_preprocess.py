"""normalize: uint8 images to float32 model inputs."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnet.data import normalize


def test_conv2d_and_lstm_layouts():
    x = np.arange(2 * 28 * 28, dtype=np.int64).reshape(2, 28, 28).astype(np.uint8)
    conv, seq = normalize(x, "conv2d"), normalize(x, "lstm")
    assert conv.shape == (2, 28, 28, 1) and seq.shape == (2, 28, 28)
    assert conv.dtype == seq.dtype == np.float32
    assert conv.flags.c_contiguous and seq.flags.c_contiguous
    np.testing.assert_array_equal(conv[..., 0], seq)


def test_values_are_exactly_pixel_over_255():
    x = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    out = normalize(x, "lstm")
    np.testing.assert_array_equal(out.ravel(), (np.arange(256) / 255).astype(np.float32))
    assert out.min() == 0.0 and out.max() == 1.0


def test_bad_input():
    with pytest.raises(TypeError, match="uint8"):
        normalize(np.zeros((1, 28, 28), np.float32))
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        normalize(np.zeros((28, 28), np.uint8))
    with pytest.raises(ValueError, match="layout"):
        normalize(np.zeros((1, 28, 28), np.uint8), "dense")
