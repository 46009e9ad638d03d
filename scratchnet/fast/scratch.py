"""Scratch arrays a runner reuses from call to call, a few shapes at a time.

A large batch at inference runs in chunks of one size and a last, smaller one; a fit
alternates training batches with validation chunks. Keeping the arrays of the last two
shapes means neither pattern allocates on every call: a fresh array costs the
allocation and, on its first write, a page fault per page.
"""

from __future__ import annotations

import numpy as np


class Scratch:
    """Named scratch arrays, at most ``keep`` shapes per name (the oldest goes first)."""

    def __init__(self, keep: int = 2):
        self.keep = keep
        self._arrays: dict[str, dict[tuple, np.ndarray]] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype, zeros: bool = False) -> np.ndarray:
        """An array of ``shape`` and ``dtype`` under ``name``: the same one as last time for
        this shape, else a new one (zero-filled if ``zeros``; otherwise uninitialised)."""
        key = (tuple(shape), np.dtype(dtype))
        arrays = self._arrays.setdefault(name, {})
        a = arrays.pop(key, None)
        if a is None:
            while len(arrays) >= self.keep:
                arrays.pop(next(iter(arrays)))
            a = (np.zeros if zeros else np.empty)(shape, dtype)
        arrays[key] = a  # now the most recent
        return a
