"""The optimizer contract: update a list of parameter arrays in place from their gradients.

One step (``apply``), in Keras 3's order:

1. the gradients are clipped (``clipnorm``, ``global_clipnorm`` or ``clipvalue``: at
   most one of them), into copies: the model's own gradients are left as they were;
2. the learning rate of this step is evaluated: a number, a schedule called at
   ``iterations`` (the count of steps already taken), or a callable of no arguments;
3. with ``weight_decay``, every parameter shrinks by ``p * weight_decay * lr`` (decoupled
   from the gradient, as AdamW);
4. the subclass's update rule runs on each parameter; then ``iterations`` counts the step.

The update rules themselves are written in ``scratchnet.reference.optimizers``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from scratchnet.optimizers.schedules import LearningRateSchedule
from scratchnet.reference import optimizers as rules


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


def _optional_positive(value, what: str) -> float | None:
    return None if value is None else positive_float(value, what)


class Optimizer:
    """Subclasses implement ``_update(i, param, grad, lr)`` for the i-th parameter.

    Parameters
    ----------
    learning_rate : float, LearningRateSchedule or callable
        A callable that is not a schedule is called with no arguments at every step
        (Keras's rule); a schedule is called with the step count.
    weight_decay : float, optional
        Decoupled weight decay: p <- p - p * weight_decay * lr before each update.
    clipnorm : float, optional
        Clip each gradient to this L2 norm.
    global_clipnorm : float, optional
        Scale all gradients together so that their joint L2 norm is at most this.
    clipvalue : float, optional
        Clip each gradient element to [-clipvalue, clipvalue].

    Per-parameter state (momenta) is created lazily with ``slot``, in the parameter's own
    dtype, so float32 training never holds float64 state. ``get_state``/``set_state``
    (or ``variables()``) expose it, with ``iterations``, for saving.
    """

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, global_clipnorm=None,
                 clipvalue=None):
        name = type(self).__name__
        self.iterations = 0
        self._slots: dict[tuple[str, int], np.ndarray] = {}
        self.learning_rate = learning_rate
        self.current_learning_rate()  # a clear error now, not at the first step
        self.weight_decay = (None if weight_decay is None or weight_decay == 0 else
                             positive_float(weight_decay, f"{name} weight_decay"))
        self.clipnorm = _optional_positive(clipnorm, f"{name} clipnorm")
        self.global_clipnorm = _optional_positive(global_clipnorm, f"{name} global_clipnorm")
        self.clipvalue = _optional_positive(clipvalue, f"{name} clipvalue")
        given = [k for k in ("clipnorm", "global_clipnorm", "clipvalue")
                 if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"{name}: set at most one of clipnorm, global_clipnorm and "
                             f"clipvalue (as Keras), got {given}")

    # -- the learning rate ------------------------------------------------------------------
    def current_learning_rate(self) -> float:
        """The learning rate of the next step, checked: it may have been set since
        construction (a callback's ``optimizer.learning_rate = ...``)."""
        lr = self.learning_rate
        if isinstance(lr, LearningRateSchedule):
            lr = lr(self.iterations)
        elif callable(lr):
            lr = lr()
        what = f"{type(self).__name__} learning_rate"
        if isinstance(self.learning_rate, LearningRateSchedule) or callable(self.learning_rate):
            what += f" (from {self.learning_rate!r} at step {self.iterations})"
        return positive_float(lr, what)

    # -- state --------------------------------------------------------------------------------
    def slot(self, name: str, i: int, like: np.ndarray, initial: float = 0.0) -> np.ndarray:
        key = (name, i)
        if key not in self._slots:
            self._slots[key] = np.full_like(like, initial)
        return self._slots[key]

    # -- state, for a step's undo, backups and saving --------------------------------------
    def state_arrays(self) -> dict[str, np.ndarray]:
        """Every state array, live (not copied): the slots keyed ``'<name>/<parameter
        index>'``, and a rule's scalar state as 0-d arrays by name (Nadam's
        ``'u_product'``). ``iterations`` is kept apart."""
        arrays = {f"{name}/{i}": value for (name, i), value in self._slots.items()}
        arrays.update(self._scalar_state())
        return arrays

    def load_state(self, iterations: int, arrays: dict[str, np.ndarray]) -> None:
        """Set the step count and the state (copied) to what :meth:`state_arrays` gave."""
        scalars = self._scalar_state()
        slots = {}
        for key, value in arrays.items():
            if key in scalars:
                scalars[key][...] = value
                continue
            name, sep, index = key.rpartition("/")
            if not sep or not index.isdigit():
                raise ValueError(f"{type(self).__name__}: unknown optimizer state {key!r}; "
                                 f"expected '<slot>/<parameter index>' or one of "
                                 f"{sorted(scalars)}")
            slots[(name, int(index))] = np.array(value, copy=True)
        self._slots = slots
        self.iterations = int(iterations)

    def get_state(self) -> dict[str, np.ndarray]:
        """``{'iterations': ..., **state_arrays()}``, copied: everything a resumed
        optimizer needs."""
        return {"iterations": np.array(self.iterations, dtype=np.int64),
                **{k: a.copy() for k, a in sorted(self.state_arrays().items())}}

    def set_state(self, state: dict) -> None:
        """Restore what :meth:`get_state` returned (for the same model's parameters)."""
        state = dict(state)
        if "iterations" not in state:
            raise ValueError(f"{type(self).__name__}.set_state: the state has no 'iterations'")
        self.load_state(int(state.pop("iterations")), state)

    def variables(self) -> list[np.ndarray]:
        """The state as a list, Keras-style: iterations first, then the rest by name."""
        return list(self.get_state().values())

    def _scalar_state(self) -> dict[str, np.ndarray]:
        """Subclass hook: the rule's scalar state as live 0-d arrays (Nadam's u_product)."""
        return {}

    # -- one step -------------------------------------------------------------------------------
    def apply(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """One step: update every array of ``params`` in place."""
        params, grads = list(params), list(grads)
        if len(params) != len(grads):
            raise ValueError(f"{type(self).__name__}: {len(params)} parameters but "
                             f"{len(grads)} gradients")
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            if not p.flags.c_contiguous or p.shape != g.shape or p.dtype != g.dtype:
                raise ValueError(
                    f"{type(self).__name__}: parameter {i} must be C-contiguous and match its "
                    f"gradient; got {p.shape} {p.dtype} vs gradient {g.shape} {g.dtype}"
                )
        grads = self._clip(grads)
        lr = self.current_learning_rate()
        self._begin_step()
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            if self.weight_decay is not None:
                p[...] = rules.decoupled_weight_decay(p, p.dtype.type(lr), self.weight_decay)
            self._update(i, p, g, lr)
        self.iterations += 1

    def _clip(self, grads):
        if self.clipnorm is not None:
            return [rules.clip_by_norm(g, self.clipnorm) for g in grads]
        if self.global_clipnorm is not None:
            return rules.clip_by_global_norm(grads, self.global_clipnorm)
        if self.clipvalue is not None:
            return [rules.clip_by_value(g, self.clipvalue) for g in grads]
        return grads

    def _begin_step(self) -> None:
        """Subclass hook: per-step state updated once before any parameter (Nadam)."""

    def _update(self, i: int, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        raise NotImplementedError

    # -- saving (scratchnet.registry's convention) --------------------------------------------
    def get_config(self) -> dict:
        """The constructor's arguments as JSON values; a schedule as its own config.

        Raises TypeError for a learning rate that is a plain function (it cannot be saved
        without its code): use a LearningRateSchedule with ``get_config``.
        """
        lr = self.learning_rate
        if isinstance(lr, LearningRateSchedule):
            from scratchnet.registry import serialize

            lr = serialize(lr)
        elif callable(lr):
            raise TypeError(f"{type(self).__name__}: the learning rate {lr!r} is a function, "
                            "which cannot be saved; use a LearningRateSchedule subclass with "
                            "get_config() (e.g. schedules.ExponentialDecay)")
        else:
            lr = float(lr)
        return {"learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm,
                "clipvalue": self.clipvalue}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(learning_rate={self.learning_rate!r})"
