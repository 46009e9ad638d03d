"""The gradient report: every layer's hand-written backward pass against finite differences.

For each layer, draws random shapes and hyperparameters (strides, paddings, sequence
lengths, activations...), runs scratchnet.gradcheck.check_layer in float64, and prints
the largest relative error seen for the input and for each parameter; then the loss
and the seed architectures at small widths. The tests assert the same bound on
hypothesis-drawn cases; this report is the readable summary::

    python -m scratchnet gradcheck --trials 50
    python examples/gradient_report.py --trials 50      # the same
"""

from __future__ import annotations

import argparse

import numpy as np

from scratchnet import Input, Sequential
from scratchnet.gradcheck import check_layer, check_loss, check_model, randomize_biases
from scratchnet.layers import (
    LSTM,
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPool2D,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from scratchnet.losses import SparseCategoricalCrossentropy

ACTIVATIONS = [None, "relu", "tanh", "sigmoid", "softmax"]


def untied(rng, shape):
    """Values with no near-ties (gaps >> the finite-difference step), for max-pooling."""
    return rng.permutation(np.prod(shape)).reshape(shape) * 0.01 + rng.uniform(-1, 1)


def draw_case(kind, rng):
    """Return (layer, x) for one random configuration of ``kind``."""
    n = int(rng.integers(1, 4))
    if kind == "Dense":
        act = ACTIVATIONS[rng.integers(len(ACTIVATIONS))]
        return Dense(int(rng.integers(1, 6)), activation=act), rng.standard_normal(
            (n, int(rng.integers(1, 6))))
    if kind == "Conv2D":
        k, s = int(rng.integers(1, 4)), int(rng.integers(1, 3))
        size = int(rng.integers(k, 8))
        layer = Conv2D(int(rng.integers(1, 4)), k, strides=s,
                       padding=["valid", "same"][rng.integers(2)],
                       activation=[None, "relu"][rng.integers(2)])
        return layer, rng.standard_normal((n, size, size, int(rng.integers(1, 4))))
    if kind == "MaxPool2D":
        p, s = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        size = int(rng.integers(p, 8))
        layer = MaxPool2D(p, strides=s, padding=["valid", "same"][rng.integers(2)])
        return layer, untied(rng, (n, size, size, int(rng.integers(1, 4))))
    if kind == "LSTM":
        layer = LSTM(int(rng.integers(1, 6)), return_sequences=bool(rng.integers(2)))
        shape = (n, int(rng.integers(1, 7)), int(rng.integers(1, 5)))
        return layer, rng.standard_normal(shape)
    if kind == "Dropout":
        return Dropout(float(rng.uniform(0, 0.9))), rng.standard_normal((n, 7))
    if kind == "Flatten":
        return Flatten(), rng.standard_normal((n, 2, 3, 2))
    if kind == "BatchNormalization":  # a training batch needs two values per channel
        layer = BatchNormalization(center=bool(rng.integers(2)), scale=bool(rng.integers(2)))
        shape = [(n + 1, 5), (n, 3, 3, int(rng.integers(1, 4)))][rng.integers(2)]
        return layer, rng.standard_normal(shape) * 2 + 1
    activation = {"ReLU": ReLU, "Tanh": Tanh, "Sigmoid": Sigmoid, "Softmax": Softmax}[kind]
    x = rng.standard_normal((n, 6))
    x[np.abs(x) < 1e-3] = 0.5  # away from ReLU's kink
    return activation(), x


def seed_models():
    """The seed CNN and LSTM architectures at widths small enough for finite differences."""
    cnn = Sequential([Input((10, 10, 1)), Conv2D(2, 3, activation="relu"), MaxPool2D(),
                      Conv2D(3, 3, activation="relu"), MaxPool2D(), Dropout(0.25), Flatten(),
                      Dense(6, activation="relu"), Dropout(0.5),
                      Dense(5, activation="softmax")], dtype="float64")
    lstm = Sequential([Input((5, 3)), LSTM(4), Dropout(0.3), Dense(5, activation="softmax")],
                      dtype="float64")
    return {"seed CNN (small)": cnn, "seed LSTM (small)": lstm}


#: The largest relative error the tests accept.
BOUND = 1e-6
LAYERS = ("Dense", "Conv2D", "MaxPool2D", "LSTM", "Dropout", "Flatten",
          "BatchNormalization", "ReLU", "Tanh", "Sigmoid", "Softmax")


def collect(trials: int = 30, seed: int = 0) -> list[tuple[str, dict[str, float]]]:
    """Run every check; return ``[(what, {array: largest relative error})]`` in report order."""
    rng = np.random.default_rng(seed)
    rows = []
    for kind in LAYERS:
        worst: dict[str, float] = {}
        for trial in range(trials):
            layer, x = draw_case(kind, rng)
            for key, err in check_layer(layer, x, seed=trial).items():
                worst[key] = max(worst.get(key, 0.0), err)
        rows.append((kind, worst))

    loss_worst = 0.0
    fused = SparseCategoricalCrossentropy(from_logits=True)  # on logits, as a softmax model
    for _ in range(trials):
        n, c = int(rng.integers(1, 6)), int(rng.integers(2, 10))
        logits = rng.standard_normal((n, c)) * rng.uniform(0.1, 10)
        loss_worst = max(loss_worst, check_loss(fused, logits, rng.integers(0, c, n)))
    rows.append(("SoftmaxCrossEntropy", {"logits": loss_worst}))

    for name, model in seed_models().items():
        model.compile("adam")
        randomize_biases(model, rng)  # zero biases put ReLUs exactly on their kink
        worst = 0.0
        for trial in range(trials):
            x = rng.standard_normal((4, *model.input_shape))
            y = rng.integers(0, 5, 4)
            worst = max(worst, *check_model(model, x, y, seed=trial).values())
        rows.append((name, {"all parameters": worst}))
    return rows


def format_report(rows: list[tuple[str, dict[str, float]]], trials: int) -> str:
    """The Markdown table and the overall largest error."""
    lines = [f"Largest float64 relative error over {trials} random cases per layer "
             f"(bound in the tests: {BOUND:g})", "",
             "| layer | array | max relative error |", "|---|---|---:|"]
    for kind, worst in rows:
        lines += [f"| {kind} | {key} | {err:.1e} |" for key, err in sorted(worst.items())]
    lines += ["", f"largest of all: {largest(rows):.1e}"]
    return "\n".join(lines)


def largest(rows: list[tuple[str, dict[str, float]]]) -> float:
    return max(e for _, w in rows for e in w.values())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trials", type=int, default=30, help="random cases per layer")
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    """Print the report; exit status 1 if any error is over the bound."""
    rows = collect(args.trials, args.seed)
    print(format_report(rows, args.trials))
    return 0 if largest(rows) <= BOUND else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
