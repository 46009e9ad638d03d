"""Finite-difference gradient checking, in float64.

A layer maps x to y. We check its backward pass on the scalar ``L = sum(y * g)``
for a fixed random upstream gradient ``g`` (so ``dL/dy = g``): the analytic
``dL/dx = layer.backprop(g)`` must match the central difference

    dL/dx[i] ~ (L(x + eps e_i) - L(x - eps e_i)) / (2 eps)

for every element of the input and of every parameter. The comparison uses

    rel_error(a, b) = max|a - b| / max(max(|a| + |b|), tiny)

which is 0 when both are 0, instead of 0/0.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

TINY = 1e-30


def rel_error(a: np.ndarray, b: np.ndarray, floor: float = 0.0) -> float:
    """Largest absolute difference, relative to the largest magnitude: never 0/0.

    ``floor``: differences up to this size count as 0. A finite-difference check passes
    :func:`fd_rounding`, the part of a central difference that float64 rounding alone can
    make up; a gradient far smaller than the loss (an initial state seen through several
    saturated steps) is otherwise compared with that rounding, not with its own error.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    scale = max(float(np.max(np.abs(a) + np.abs(b))), TINY)
    return float(max(float(np.max(np.abs(a - b))) - floor, 0.0) / scale)


def fd_rounding(magnitude: float, eps: float = 1e-6) -> float:
    """What float64 rounding alone can add to a central difference of step ``eps``.

    Each of the two losses ``(L(x + eps) - L(x - eps)) / (2 eps)`` subtracts is rounded
    to within a few ulp of the magnitude of the terms it sums, ``magnitude`` (for
    ``L = sum(y * g)``, ``sum(|y * g|)``), and the difference divides that by 2 eps.
    """
    return float(np.finfo(np.float64).eps * magnitude / eps)


def numerical_gradient(f: Callable[[], float], arr: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of the scalar ``f()`` with respect to ``arr``.

    ``arr`` is perturbed in place, one element at a time, and restored exactly.
    """
    if arr.dtype != np.float64:
        raise TypeError(f"gradient checks run in float64, got {arr.dtype}")
    grad = np.zeros_like(arr)
    flat, gflat = arr.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat, arr):
        raise ValueError("numerical_gradient needs a contiguous array to perturb in place")
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * eps)
    return grad


def check_layer(layer, x: np.ndarray, *, training: bool = True, seed: int = 0,
                eps: float = 1e-6, engine: str = "reference",
                need_input_grad: bool = True) -> dict[str, float]:
    """Relative error of ``layer``'s backward pass, for its input and every parameter.

    Forward passes run in training mode by default, as backward needs their caches
    (a layer's fast inference path may keep none). The layer's RNG is re-seeded before
    every forward, so a stochastic layer (Dropout) sees the same fixed mask in every
    evaluation.

    Parameters
    ----------
    layer : Layer
        Built (or buildable) for float64 inputs of ``x.shape[1:]``.
    x : ndarray, float64, shape (N, ...)
    engine : {'reference', 'fast'}
        Check the layer's reference pair (``forward``/``backward`` and its activation),
        or its fast implementation (``scratchnet.fast``).
    need_input_grad : bool
        False checks the fast path of a model's first layer, which skips dL/dx.

    Returns
    -------
    dict
        ``{'x': err, 'W': err, ...}``; ``'x'`` is absent if the layer skips its input gradient.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    if not layer.built:
        layer.build(x.shape[1:], np.float64, np.random.default_rng(seed))
    if engine == "fast":
        from scratchnet.fast import runner_for

        runner = runner_for(layer, layer.grads)
        runner.need_input_grad = need_input_grad
        forward, backward = runner.forward, runner.backward
    elif engine == "reference":
        forward, backward = layer, layer.backprop
    else:
        raise ValueError(f"unknown engine {engine!r}; choose 'reference' or 'fast'")

    def run(training_=training):
        layer.rng = np.random.default_rng(seed + 1)
        return forward(x, training_)

    y = run()
    g = np.random.default_rng(seed + 2).standard_normal(y.shape)
    dx = backward(g)
    analytic = {k: v.copy() for k, v in layer.grads.items()}
    if dx is not None:
        analytic["x"] = dx.copy()

    def loss() -> float:
        return float(np.sum(run() * g))

    floor = fd_rounding(float(np.sum(np.abs(run() * g))), eps)
    errors = {}
    for key in analytic:
        arr = x if key == "x" else layer.params[key]
        errors[key] = rel_error(analytic[key], numerical_gradient(loss, arr, eps), floor)
    return errors


def check_loss(loss_fn, logits: np.ndarray, labels: np.ndarray, eps: float = 1e-6) -> float:
    """Relative error of a loss's fused gradient with respect to its logits (N, C)."""
    logits = np.ascontiguousarray(logits, dtype=np.float64)
    _, analytic = loss_fn(logits, labels)
    numeric = numerical_gradient(lambda: loss_fn(logits, labels)[0], logits, eps)
    return rel_error(analytic, numeric)


def check_model(model, x: np.ndarray, y: np.ndarray, *, training: bool = True, seed: int = 0,
                eps: float = 1e-6) -> dict[str, float]:
    """Relative error of a compiled float64 model's gradients, end to end through its loss.

    Returns ``{'layer/param': err, ...}`` for every trainable array. Every evaluation
    re-seeds the model, so dropout masks are the same in each; the numerical loss is
    the one ``compute_gradients`` reports, so a sharded batch is checked as it runs.

    Biases start at zero, so when dropout zeroes a whole input row a ReLU sits exactly
    on its kink (z + b = 0), where no finite difference agrees with any derivative.
    Use ``randomize_biases`` first to check away from kinks.
    """
    def loss() -> float:
        # The very path whose gradients are checked: a batch large enough runs in
        # shards (scratchnet.parallel).
        model.reseed(seed)
        return model.compute_gradients(x, y, training)[0]

    model.build_for(x)  # building hands out init streams, so it must precede reseed
    model.reseed(seed)
    model.compute_gradients(x, y, training)
    analytic = {name: g.copy() for (name, _), g in
                zip(model.named_parameters(), model.gradients, strict=True)}
    return {name: rel_error(analytic[name], numerical_gradient(loss, p, eps))
            for name, p in model.named_parameters()}


def randomize_biases(model, rng: np.random.Generator, scale: float = 0.5) -> None:
    """Give every bias (parameters named 'b') random values in place, away from zero."""
    model.build_for(np.zeros((1, *model.input_shape), dtype=model.dtype or np.float64))
    for name, p in model.named_parameters():
        if name.endswith("/b"):
            p[...] = rng.choice([-1, 1], p.shape) * rng.uniform(0.1, 1, p.shape) * scale
