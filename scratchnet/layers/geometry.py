"""Window geometry shared by Conv2D and MaxPool2D: padding names and input checks.

The output size and padding rule itself is :func:`scratchnet.reference.geometry.conv_output_size`
(Keras/TensorFlow's rules), re-exported here for the layers.
"""

from __future__ import annotations

from scratchnet.reference.geometry import conv_output_size

PADDINGS = ("valid", "same")

__all__ = ["PADDINGS", "check_image_shape", "check_padding", "conv_output_size"]


def check_padding(layer, padding) -> str:
    """Return ``padding`` lower-cased, or raise naming the layer if it is not valid/same."""
    p = padding.lower() if isinstance(padding, str) else padding
    if p not in PADDINGS:
        raise ValueError(f"{layer.name}: padding must be one of {PADDINGS}, got {padding!r}")
    return p


def check_image_shape(layer, input_shape, window: tuple[int, int], padding: str,
                      what: str) -> tuple[int, int, int]:
    """Validate an (H, W, C) sample shape against a (kh, kw) window; return (H, W, C)."""
    if len(input_shape) != 3 or min(input_shape) < 1:
        raise ValueError(f"{layer.name}: expected samples of shape (H, W, C) (input (N, H, W, C)), "
                         f"got sample shape {tuple(input_shape)}")
    H, W, C = input_shape
    if padding == "valid" and (window[0] > H or window[1] > W):
        raise ValueError(f"{layer.name}: {what} {window} is larger than the input's (H, W) = "
                         f"{(H, W)} with padding='valid'; expected {what} <= input "
                         f"(or padding='same')")
    return H, W, C
