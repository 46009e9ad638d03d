"""Figures for comparing trained classifiers: learning curves, confusions, per-class scores.

Every function takes plain data (training histories as dicts of per-epoch lists,
NumPy arrays, class names) and returns a :class:`matplotlib.figure.Figure`; none
looks inside a model. Figures are built with the object-oriented API on their own
``Figure`` (no ``pyplot``), so nothing depends on, or changes, a global backend or
the current figure, and saving a PNG uses matplotlib's Agg renderer. Save with
:func:`save_figure`.

Models keep one colour across all figures (the order they are given in), so a
reader can follow "the blue one" from the accuracy curves to the per-class plot.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

__all__ = [
    "accuracy_curves",
    "confused_examples",
    "confusion_matrix_figure",
    "loss_curves",
    "parameters_vs_accuracy",
    "per_class_accuracy",
    "save_figure",
]

#: One colour per model, in the order the models are given (colour-blind-safe Tableau pair).
MODEL_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd")
MODEL_MARKERS = ("o", "s", "^", "D", "v")

History = Mapping[str, Sequence[float]]


def _color(i: int) -> str:
    return MODEL_COLORS[i % len(MODEL_COLORS)]


def _curves(histories: Mapping[str, History], key: str, label: str, title: str,
            percent: bool = False) -> Figure:
    fig = Figure(figsize=(8.5, 4.8), layout="constrained")
    ax = fig.add_subplot()
    # Each model's points sit a little to the side of the epoch (a dodge), so that two
    # models' points with about the same value do not hide each other.
    dodge = 0.04
    for i, (name, h) in enumerate(histories.items()):
        shift = (i - (len(histories) - 1) / 2) * dodge
        for k, style, what in ((f"val_{key}", "-", "validation"), (key, "--", "training")):
            values = h.get(k)
            if not values:
                continue
            epochs = np.arange(1, len(values) + 1) + shift
            # Markers keep a one-epoch run (a single point, no line) visible; filled for
            # validation and hollow for training, so the two still differ without lines.
            ax.plot(epochs, values, style, color=_color(i), marker=MODEL_MARKERS[i % 5],
                    markersize=6, markeredgewidth=1.5,
                    markerfacecolor=_color(i) if what == "validation" else "white",
                    label=f"{name} {what}", clip_on=False, zorder=3)
    n = max((len(h.get(k) or []) for h in histories.values() for k in (key, f"val_{key}")),
            default=1)
    # Whole epochs only, and room either side so that one or two epochs still read as such.
    ax.set_xlim(0.5, n + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.set_xlabel("epoch")
    ax.set_ylabel(label)
    ax.set_title(title)
    if percent:
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    ax.grid(alpha=0.3)
    # Outside the axes: curves of any shape stay fully visible.
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, borderaxespad=0.0)
    return fig


def accuracy_curves(histories: Mapping[str, History]) -> Figure:
    """Validation (solid, filled markers) and training (dashed, hollow) accuracy per epoch.

    All models on one plot.

    Parameters
    ----------
    histories : mapping model name -> history
        A history maps ``'accuracy'`` and ``'val_accuracy'`` to per-epoch lists
        (``History.history`` from ``fit``); a missing key is skipped.
    """
    return _curves(histories, "accuracy", "accuracy",
                   "Accuracy per epoch (validation: solid, filled; training: dashed, hollow)",
                   percent=True)


def loss_curves(histories: Mapping[str, History]) -> Figure:
    """Validation (solid, filled markers) and training (dashed, hollow) loss per epoch."""
    return _curves(histories, "loss", "cross-entropy loss",
                   "Loss per epoch (validation: solid, filled; training: dashed, hollow)")


def _tick_fontsize(n: int) -> float:
    # 10 classes read well at 11 pt; 47 or 62 single characters need ~7 pt to stay apart.
    return float(np.clip(11 - (n - 10) * 0.09, 6.5, 11))


def confusion_matrix_figure(cm: np.ndarray, class_names: Sequence[str], title: str) -> Figure:
    """The row-normalised confusion matrix: each true class's predictions as fractions.

    Parameters
    ----------
    cm : array of int, shape (C, C)
        Counts, rows true classes, columns predictions.
    class_names : sequence of str, length C
        Tick labels (the characters).
    title : str

    Notes
    -----
    The colour scale is square-root (``PowerNorm(0.5)``) so that the 1-5 %
    confusions that matter stand out next to a diagonal near 100 %. With at most
    15 classes every non-zero cell is also labelled with its percentage.
    """
    cm = np.asarray(cm)
    n = len(class_names)
    if cm.shape != (n, n):
        raise ValueError(f"confusion matrix of shape {cm.shape} for {n} class names")
    rows = cm.sum(axis=1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros(cm.shape), where=rows > 0)
    side = float(np.clip(0.19 * n + 3.0, 6.0, 13.5))
    fig = Figure(figsize=(side + 1.2, side), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(frac, cmap="Blues", norm=PowerNorm(0.5, vmin=0.0, vmax=1.0),
                      interpolation="nearest")
    ticks = np.arange(n)
    size = _tick_fontsize(n)
    ax.set_xticks(ticks, labels=list(class_names), fontsize=size)
    ax.set_yticks(ticks, labels=list(class_names), fontsize=size)
    ax.tick_params(top=True, labeltop=True, bottom=True, labelbottom=True, length=2)
    # Faint cell borders help the eye follow a row across 47 columns.
    ax.set_xticks(ticks[:-1] + 0.5, minor=True)
    ax.set_yticks(ticks[:-1] + 0.5, minor=True)
    ax.grid(which="minor", color="0.85", linewidth=0.4)
    ax.tick_params(which="minor", length=0)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    if n <= 15:
        for (i, j), value in np.ndenumerate(frac):
            if cm[i, j]:
                ax.text(j, i, f"{100 * value:.1f}", ha="center", va="center", fontsize=8,
                        color="white" if value > 0.5 else "black")
    bar = fig.colorbar(image, ax=ax, shrink=0.8, ticks=[0, 0.01, 0.05, 0.1, 0.25, 0.5, 1])
    bar.ax.set_yticklabels(["0", "1%", "5%", "10%", "25%", "50%", "100%"])
    bar.set_label("share of the true class (square-root scale)")
    return fig


def confused_examples(images: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray,
                      pairs: Sequence[tuple[int, int, int]], class_names: Sequence[str],
                      title: str, per_pair: int = 8,
                      notes: Sequence[str] | None = None) -> Figure:
    """Example images of the most-confused pairs: one row per (true, predicted) pair.

    Parameters
    ----------
    images : array of uint8 or float, shape (N, H, W)
        Upright images, as ``scratchnet.data.load`` returns them.
    y_true, y_pred : array of int, shape (N,)
    pairs : sequence of (true class, predicted class, count)
        As :func:`scratchnet.metrics.most_confused_pairs` returns them.
    class_names : sequence of str
    title : str
    per_pair : int
        Images per row at most; the first ones in data order, so a run is repeatable.
    notes : sequence of str, optional
        One per pair, shown under its row label (e.g. that the two are written alike);
        empty strings add nothing.
    """
    images, y_true, y_pred = np.asarray(images), np.asarray(y_true), np.asarray(y_pred)
    if images.ndim != 3 or not len(images) == len(y_true) == len(y_pred):
        raise ValueError(f"need images (N, H, W) and N labels and predictions, got "
                         f"{images.shape}, {y_true.shape}, {y_pred.shape}")
    rows = max(len(pairs), 1)
    fig = Figure(figsize=(1.0 * per_pair + 2.0, 1.05 * rows + 0.9), layout="constrained")
    fig.suptitle(title)
    axes = np.atleast_2d(fig.subplots(rows, per_pair, squeeze=False))
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
    if not pairs:
        axes[0, 0].set_ylabel("no errors", rotation=0, ha="right", va="center")
        return fig
    notes = list(notes) if notes is not None else [""] * len(pairs)
    if len(notes) != len(pairs):
        raise ValueError(f"{len(notes)} notes for {len(pairs)} pairs")
    for row, ((t, p, count), note) in enumerate(zip(pairs, notes, strict=True)):
        (idx,) = np.nonzero((y_true == t) & (y_pred == p))
        for col, i in enumerate(idx[:per_pair]):
            axes[row, col].imshow(images[i], cmap="gray_r", interpolation="nearest")
        label = f"true {class_names[t]}\npred {class_names[p]}\n{count} times"
        axes[row, 0].set_ylabel(label + (f"\n{note}" if note else ""), rotation=0, ha="right",
                                va="center", fontsize=10, labelpad=8)
    return fig


def per_class_accuracy(scores: Mapping[str, np.ndarray], class_names: Sequence[str]) -> Figure:
    """Each model's accuracy on each true class (its recall), side by side.

    Parameters
    ----------
    scores : mapping model name -> array of float, shape (C,)
    class_names : sequence of str, length C

    Notes
    -----
    Drawn as dots rather than bars, because the y axis starts near the lowest
    score, not at 0 (bars from a cut-off baseline would exaggerate differences).
    """
    n = len(class_names)
    fig = Figure(figsize=(float(np.clip(0.28 * n + 2.5, 8.5, 20.0)), 4.8), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(n)
    width = 0.5 / max(len(scores), 1)
    low = 1.0
    for i, (name, values) in enumerate(scores.items()):
        values = np.asarray(values, dtype=float)
        if values.shape != (n,):
            raise ValueError(f"{name}: {values.shape[0]} scores for {n} classes")
        offset = (i - (len(scores) - 1) / 2) * width
        # clip_on=False: a class at 0% or 100% sits on the frame; its marker stays whole.
        ax.plot(x + offset, values, MODEL_MARKERS[i % 5], color=_color(i), markersize=5,
                label=f"{name} (class mean {values.mean():.1%})", clip_on=False, zorder=3)
        low = min(low, float(values.min()))
    ax.set_xticks(x, labels=list(class_names), fontsize=_tick_fontsize(n) + 1)
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_ylim(max(0.0, low - 0.05), 1.005)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    ax.grid(axis="y", alpha=0.3)
    ax.grid(axis="x", alpha=0.12)
    ax.set_xlabel("true class")
    ax.set_ylabel("accuracy on the class (recall)")
    ax.set_title("Per-class test accuracy")
    # Outside the axes, so it can hide no point.
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, borderaxespad=0.0)
    return fig


def parameters_vs_accuracy(points: Mapping[str, tuple[int, float]]) -> Figure:
    """Each model's test accuracy against its parameter count, log-scaled counts.

    Parameters
    ----------
    points : mapping model name -> (parameters, test accuracy)
        Parameters as the model holds them (trainable and non-trainable); accuracy in [0, 1].
    """
    fig = Figure(figsize=(7.0, 4.6), layout="constrained")
    ax = fig.add_subplot()
    counts = [n for n, _ in points.values()]
    accs = [a for _, a in points.values()]
    for i, (name, (n, acc)) in enumerate(points.items()):
        ax.plot(n, acc, MODEL_MARKERS[i % 5], color=_color(i), markersize=10, clip_on=False,
                zorder=3, label=f"{name}: {n:,} parameters, {acc:.2%}")
        ax.annotate(name, (n, acc), textcoords="offset points", xytext=(8, 6), fontsize=10)
    ax.set_xscale("log")
    # A decade either side of the models (at least), so that two close points stay apart.
    ax.set_xlim(min(counts) / 3, max(counts) * 3)
    spread = max(max(accs) - min(accs), 0.01)
    ax.set_ylim(max(0.0, min(accs) - spread), min(1.0, max(accs) + spread))
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    ax.grid(alpha=0.3, which="both")
    ax.set_xlabel("parameters (log scale)")
    ax.set_ylabel("test accuracy")
    ax.set_title("Test accuracy against model size")
    ax.legend(loc="lower right", fontsize=9)
    return fig


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 110) -> None:
    """Write ``fig`` as a PNG at ``path``."""
    fig.savefig(path, dpi=dpi, format="png")
