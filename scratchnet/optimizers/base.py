"""The optimizer contract: update a list of parameter arrays in place from their gradients."""

from __future__ import annotations

import numpy as np


def positive_float(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{what} must be a positive number, got {value!r}")
    return float(value)


def unit_interval(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"{what} must be in [0, 1), got {value!r}")
    return float(value)


class Optimizer:
    """Subclasses implement ``_update(i, param, grad)`` for the i-th parameter.

    Per-parameter state (momenta) is created lazily with ``slot``, in the
    parameter's own dtype, so float32 training never holds float64 state.
    """

    def __init__(self, learning_rate: float):
        self.learning_rate = positive_float(learning_rate, f"{type(self).__name__} learning_rate")
        self.iterations = 0
        self._slots: dict[tuple[str, int], np.ndarray] = {}

    def slot(self, name: str, i: int, like: np.ndarray) -> np.ndarray:
        key = (name, i)
        if key not in self._slots:
            self._slots[key] = np.zeros_like(like)
        return self._slots[key]

    def apply(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """One step: update every array of ``params`` in place."""
        self.iterations += 1
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            if not p.flags.c_contiguous or p.shape != g.shape or p.dtype != g.dtype:
                raise ValueError(
                    f"{type(self).__name__}: parameter {i} must be C-contiguous and match its "
                    f"gradient; got {p.shape} {p.dtype} vs gradient {g.shape} {g.dtype}"
                )
            self._update(i, p, g)

    def _update(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        raise NotImplementedError
