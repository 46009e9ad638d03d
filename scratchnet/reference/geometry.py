"""Convolution and pooling geometry shared by Conv2D and MaxPool2D, by Keras/TensorFlow's rules."""

import numbers

PADDINGS = ("valid", "same")


def conv_output_size(size, k, stride, padding):
    """Output length and padding-before along one axis.

    ``'valid'``: out = (size - k) // stride + 1, no padding.
    ``'same'``:  out = ceil(size / stride); the total padding
    ``max((out - 1) * stride + k - size, 0)`` is split with the odd cell after
    (bottom/right), so pad_before = total // 2.

    Parameters
    ----------
    size, k, stride : int
        Input length, window length and step along the axis.
    padding : {'valid', 'same'}

    Returns
    -------
    out : int
        Number of window positions.
    pad_before : int
        Cells of padding before the first input cell.
    """
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    if k < 1 or stride < 1:
        raise ValueError(f"window and stride must be at least 1, got k={k}, stride={stride}")
    if padding == "valid":
        if k > size:
            raise ValueError(f"window {k} is longer than the input's {size} cells with 'valid' "
                             "padding: use a smaller window or padding='same'")
        return (size - k) // stride + 1, 0
    out = -(-size // stride)
    return out, max((out - 1) * stride + k - size, 0) // 2


def padded_size(size, k, stride, padding):
    """Output length and the (before, after) padding that makes every window fit.

    After 'valid' padding, input cells past the last window are simply never read,
    so ``after`` is never negative.

    Returns
    -------
    out, pad_before, pad_after : int
    """
    out, before = conv_output_size(size, k, stride, padding)
    after = max((out - 1) * stride + k - size - before, 0)
    return out, before, after


def pair(value, name):
    """``value`` as an ``(int, int)`` pair: an int means the same on both axes."""
    if isinstance(value, numbers.Integral):
        return int(value), int(value)
    pair_ = tuple(value)
    if len(pair_) != 2 or not all(isinstance(v, numbers.Integral) for v in pair_):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return int(pair_[0]), int(pair_[1])
