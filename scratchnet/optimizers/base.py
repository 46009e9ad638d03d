"""The optimizer contract: update a list of parameter arrays in place from their gradients."""

from __future__ import annotations

import math
import numbers

import numpy as np


def _real(value) -> bool:
    """A Python or NumPy real number (np.float32(1e-3) included), not a bool or a string."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def positive_float(value, what: str) -> float:
    if not _real(value) or not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{what} must be a positive finite number, got {value!r}")
    return float(value)


def unit_interval(value, what: str) -> float:
    if not _real(value) or not 0 <= value < 1:
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

    # -- state, for a step's undo and for backups (scratchnet.backup) ---------------------
    def state_arrays(self) -> dict[str, np.ndarray]:
        """Every slot array, keyed ``'<name>/<parameter index>'`` (the live arrays)."""
        return {f"{name}/{i}": value for (name, i), value in self._slots.items()}

    def load_state(self, iterations: int, arrays: dict[str, np.ndarray]) -> None:
        """Set the step count and the slots (copied) to what :meth:`state_arrays` gave."""
        slots = {}
        for key, value in arrays.items():
            name, i = key.rsplit("/", 1)
            slots[(name, int(i))] = np.array(value, copy=True)
        self._slots = slots
        self.iterations = int(iterations)

    def apply(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """One step: update every array of ``params`` in place."""
        # Checked at every step, so a rate set after construction is checked too.
        self.learning_rate = positive_float(self.learning_rate,
                                            f"{type(self).__name__} learning_rate")
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
