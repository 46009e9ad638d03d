"""Turning uint8 images into the float32 inputs the models expect."""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = ["normalize"]



def normalize(
    images: np.ndarray, layout: Literal["conv2d", "lstm"] = "conv2d"
) -> np.ndarray:
    """Scale uint8 pixels to float32 in [0, 1] and shape them for a model.

    Parameters
    ----------
    images
        uint8, shape (N, H, W), as returned by :func:`scratchnet.data.load`.
    layout
        ``"conv2d"``: channels-last (N, H, W, 1) for Conv2D.
        ``"lstm"``: (N, H, W), i.e. a sequence of H time steps of W features.

    Returns
    -------
    numpy.ndarray
        float32, C-contiguous, values ``pixel / 255`` (0 maps to 0.0, 255 to 1.0).

    Raises
    ------
    TypeError
        If ``images`` is not uint8 (scaling other dtypes by 1/255 would be wrong).
    ValueError
        If ``images`` is not 3-D or ``layout`` is unknown.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"normalize expects uint8 images, got {images.dtype}")
    if images.ndim != 3:
        raise ValueError(f"normalize expects images of shape (N, H, W), got {images.shape}")
    if layout not in ("conv2d", "lstm"):
        raise ValueError(f"layout must be 'conv2d' or 'lstm', got {layout!r}")
    # Division (not multiplication by 1/255) gives the correctly rounded float32
    # of every pixel / 255, and exactly 0.0 and 1.0 at the ends.
    out = np.divide(images, np.float32(255), dtype=np.float32)
    return out[..., np.newaxis] if layout == "conv2d" else out
