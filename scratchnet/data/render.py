"""A PNG grid of samples labelled with their characters, for eyeballing data."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .atomic import atomic_write

__all__ = ["save_grid"]


def save_grid(
    images: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    ncols: int | None = None,
) -> Path:
    """Draw ``images`` in a grid, each titled with its class name, and save a PNG.

    Parameters
    ----------
    images
        uint8, shape (N, H, W), drawn as they are (row 0 at the top), white ink
        on black as in MNIST.
    labels
        int, shape (N,), 0-based indices into ``class_names``.
    class_names
        Character(s) of each class.
    path
        Output PNG; written atomically.
    title
        Figure title.
    ncols
        Columns; default ``ceil(sqrt(N))``.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    # The object-oriented Agg API draws without pyplot, so it neither needs a
    # display nor changes the backend of a program that imports scratchnet.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = len(images)
    if n == 0 or len(labels) != n:
        raise ValueError(f"need as many labels as images (>0), got {n} and {len(labels)}")
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(ncols * 0.9, nrows * 1.05 + (0.4 if title else 0)), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < n:
            ax.imshow(images[i], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_title(class_names[int(labels[i])], fontsize=10, pad=2)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    path = Path(path)
    with atomic_write(path) as fh:
        fig.savefig(fh, format="png")
    return path
