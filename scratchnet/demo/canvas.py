"""The sketchpad's drawing, as an image ``scratchnet.preprocess_image`` takes.

Gradio's sketchpad hands over an editor value, ``{"background", "layers", "composite"}``,
whose composite is RGBA with the untouched canvas transparent. ``preprocess_image``
reads such a drawing as it is (transparent pixels become paper), so the only question
left here is whether anything has been drawn yet.
"""

from __future__ import annotations

import numpy as np

__all__ = ["drawing"]


def drawing(value) -> np.ndarray | None:
    """The sketchpad's composite image; None while the canvas is empty.

    Parameters
    ----------
    value : dict or numpy.ndarray or None
        The sketchpad's value (``type="numpy"``): a dict whose ``"composite"`` is uint8
        (H, W, 4) RGBA, or that array itself.

    Returns
    -------
    numpy.ndarray or None
        The composite, (H, W, 4) uint8; None when there is none or every pixel is fully
        transparent (nothing drawn, or the canvas was cleared).
    """
    composite = value.get("composite") if isinstance(value, dict) else value
    if composite is None:
        return None
    rgba = np.asarray(composite)
    if rgba.ndim == 3 and rgba.shape[2] == 4 and not rgba[..., 3].any():
        return None
    return rgba
