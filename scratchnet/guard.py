"""Undo for a training step that went non-finite, and a warning when training diverges.

``fit`` copies the parameters and the optimizer's slots into buffers allocated once
(a memcpy of the model and its momenta per step; benchmarks/README.md has the cost
against a step), runs the step, and checks the loss and the updated parameters. If
either is NaN or inf, :meth:`StepGuard.restore` puts back the weights, the slots and the
step count as they were after the last finite step: the error leaves a usable model.
"""

from __future__ import annotations

import math
import warnings

import numpy as np


class DivergenceWarning(UserWarning):
    """The training loss grew far above where it started: the learning rate is too high."""


#: A batch loss this many times the first batch's (or ln 2's, if larger) warns once.
DIVERGENCE_FACTOR = 100.0


class StepGuard:
    """Keeps one copy of the parameters and optimizer slots: those before the current step."""

    def __init__(self):
        self._buffers: list[np.ndarray] = []
        self._slot_keys: list[str] = []
        self._iterations = 0
        self._first_loss: float | None = None
        self._warned = False

    def _live(self, model) -> list[np.ndarray]:
        return [*model.parameters, *model.optimizer.state_arrays().values()]

    def save(self, model) -> None:
        """Copy the state before a step (reusing the buffers while the shapes stay)."""
        live = self._live(model)
        if len(live) != len(self._buffers) or any(
                a.shape != b.shape or a.dtype != b.dtype
                for a, b in zip(live, self._buffers, strict=True)):
            self._buffers = [np.empty_like(a) for a in live]
        for buf, a in zip(self._buffers, live, strict=True):
            np.copyto(buf, a)
        self._slot_keys = list(model.optimizer.state_arrays())
        self._iterations = model.optimizer.iterations

    def restore(self, model) -> None:
        """Put back what :meth:`save` copied; slots created by the failed step are dropped."""
        params = model.parameters
        for buf, p in zip(self._buffers[:len(params)], params, strict=True):
            np.copyto(p, buf)
        slots = dict(zip(self._slot_keys, self._buffers[len(params):], strict=True))
        model.optimizer.load_state(self._iterations, slots)

    @staticmethod
    def finite(loss: float, model) -> bool:
        """Whether the step's loss and the updated parameters are all finite.

        A sum per array is one read pass; it can overflow to inf only for weights near
        the dtype's maximum, which is divergence too.
        """
        if not math.isfinite(loss):
            return False
        with np.errstate(all="ignore"):  # inf + -inf: NaN is the answer, not a warning
            return all(np.isfinite(np.add.reduce(p, axis=None)) for p in model.parameters)

    def watch(self, loss: float, epoch: int, batch: int) -> None:
        """Warn once per fit when the loss has grown DIVERGENCE_FACTOR times its start."""
        if self._first_loss is None:
            self._first_loss = loss
            return
        limit = DIVERGENCE_FACTOR * max(self._first_loss, math.log(2))
        if not self._warned and loss > limit:
            self._warned = True
            warnings.warn(
                f"training is diverging: the loss rose from {self._first_loss:.4g} at the "
                f"first batch to {loss:.4g} at epoch {epoch + 1}, batch {batch + 1}; lower "
                "the learning rate (or add TerminateOnNaN to stop at the first NaN)",
                DivergenceWarning, stacklevel=4)
