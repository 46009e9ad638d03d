"""What ``rnn_family.py`` adds to compare.py's report: dL/dh_t through time, the
test-prediction grids, and the paragraph that states the result.

The gradient norms are computed with the reference pairs (``scratchnet.reference``), on
a fixed batch of training images, by :func:`hidden_state_gradients`; the figures only
read the numbers it returns (and the images and labels), never a model.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from scratchnet.blas import single_threaded
from scratchnet.callbacks import Callback
from scratchnet.layers import GRU, LSTM, Bidirectional, SimpleRNN
from scratchnet.plotting import MODEL_COLORS, MODEL_MARKERS
from scratchnet.reference import gru_step_backward, lstm_step_backward, simple_rnn_step_backward

GRID_COLUMNS = 8
GRID_CORRECT = 16  # first correct test images shown
GRID_MISTAKES = 16  # first mistakes shown


# -- dL/dh_t, by the reference pairs -----------------------------------------------------------
def _step_norms(layer, dh_last):
    """BPTT through ``layer``'s last reference forward, recording mean_i ||dL_i/dh_t||.

    Only h_T reaches the loss (return_sequences=False), so dL/dh_t for t < T is what the
    recurrence carries back: exactly the step backward pairs' dh_prev.
    """
    steps = layer.cache["steps"]
    norms = np.empty(len(steps))
    dh, dc = dh_last, np.zeros_like(dh_last)
    for t in reversed(range(len(steps))):
        norms[t] = np.linalg.norm(dh, axis=1).mean()
        if isinstance(layer, LSTM):
            _, dh, dc, *_ = lstm_step_backward(dh, dc, steps[t])
        elif isinstance(layer, GRU):
            _, dh, *_ = gru_step_backward(dh, steps[t])
        else:
            _, dh, *_ = simple_rnn_step_backward(dh, steps[t])
    return norms


def hidden_state_gradients(model, x, y) -> list[float]:
    """mean over the batch of ||dL_i/dh_t|| for t = 1..T, L_i the sample's own loss.

    For a Bidirectional first layer, the forward copy's h_t (its time order is t's).
    Runs the model's layers through their reference forward (no dropout) and backward;
    nothing is updated.
    """
    rnn, *dense = model.layers
    cell = rnn.forward_layer if isinstance(rnn, Bidirectional) else rnn
    if not isinstance(cell, (SimpleRNN, GRU, LSTM)) or cell.return_sequences:
        raise ValueError("gradient norms need a recurrent first layer returning its last h")
    z = rnn.forward(x, False)
    for layer in dense[:-1]:
        z = layer(z, training=False)
    logits = dense[-1].forward(z, False)
    _, dlogits = model.loss.reference(logits, y)
    dz = dense[-1].backward(dlogits * len(x))  # per-sample losses: undo the batch mean
    for layer in reversed(dense[:-1]):
        dz = layer.backprop(dz)
    if isinstance(rnn, Bidirectional):
        dz = dz[:, :cell.units]  # concat: the forward copy's half
    return _step_norms(cell, dz).tolist()


class GradientNorms(Callback):
    """Records :func:`hidden_state_gradients` on a fixed batch after the chosen epochs."""

    def __init__(self, x, y, epochs):
        self.x, self.y, self.epochs = x, y, set(epochs)
        self.norms: dict[int, list[float]] = {}

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 in self.epochs:
            # The reference pairs' GEMMs are small (N = 128): on one BLAS thread they ran
            # 20x faster than on a busy machine's thread pool.
            with single_threaded():
                self.norms[epoch + 1] = hidden_state_gradients(self.model, self.x, self.y)


# -- figures -------------------------------------------------------------------------------------
def gradient_norm_figure(norms: dict[str, dict[int, list[float]]]) -> Figure:
    """One panel per recorded epoch: mean ||dL/dh_t|| against t, every model, log scale."""
    epochs = sorted({e for per_model in norms.values() for e in per_model})
    fig = Figure(figsize=(5.2 * len(epochs) + 1.5, 4.6), layout="constrained")
    axes = fig.subplots(1, len(epochs), sharey=True, squeeze=False)[0]
    for ax, epoch in zip(axes, epochs, strict=True):
        for i, (name, per_model) in enumerate(norms.items()):
            values = per_model.get(epoch)
            if values:
                t = np.arange(1, len(values) + 1)
                ax.semilogy(t, values, color=MODEL_COLORS[i % 5], marker=MODEL_MARKERS[i % 5],
                            markersize=3, label=name.upper())
        ax.set_title(f"after epoch {epoch}")
        ax.set_xlabel("time step t (image row)")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("mean ||dL/dh_t|| over a batch")
    axes[-1].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    fig.suptitle("How much of the loss's gradient reaches each step's hidden state")
    return fig


def prediction_grid(images, y_true, y_pred, class_names, title) -> Figure:
    """The first correct and the first wrong test predictions, mistakes framed in red."""
    right = np.flatnonzero(y_pred == y_true)[:GRID_CORRECT]
    wrong = np.flatnonzero(y_pred != y_true)[:GRID_MISTAKES]
    shown = np.concatenate([right, wrong])
    rows = max(1, -(-len(shown) // GRID_COLUMNS))
    fig = Figure(figsize=(1.35 * GRID_COLUMNS, 1.55 * rows + 0.6), layout="constrained")
    axes = fig.subplots(rows, GRID_COLUMNS, squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_axis_off()
    for ax, i in zip(axes.flat, shown, strict=False):
        ax.set_axis_on()
        ax.imshow(images[i], cmap="gray_r", interpolation="nearest")
        mistake = y_pred[i] != y_true[i]
        color = "#d62728" if mistake else "#2ca02c"
        ax.set_title(f"{'✗' if mistake else '✓'} pred {class_names[y_pred[i]]} / "
                     f"true {class_names[y_true[i]]}", fontsize=8, color=color)
        for spine in ax.spines.values():
            spine.set_edgecolor(color)
            spine.set_linewidth(2.5 if mistake else 1.0)
    fig.suptitle(f"{title}: first {len(right)} correct and first {len(wrong)} wrong test "
                 "images (red: mistakes)", fontsize=10)
    return fig


# -- the result in words ---------------------------------------------------------------
def result_paragraph(models: dict, norms: dict) -> str:
    """One paragraph stating what was measured: accuracies, times and the gradient norms."""
    order = sorted(models, key=lambda n: models[n]["test_accuracy"], reverse=True)
    parts = [", ".join(f"{n.upper()} {100 * models[n]['test_accuracy']:.2f}% (macro-F1 "
                       f"{models[n]['macro_f1']:.4f}, {models[n]['parameters']:,} parameters, "
                       f"fit {models[n]['fit_time_s']:.0f} s)" for n in order)]
    text = f"Measured test accuracy, best first: {parts[0]}."
    ratios = []
    for name, per_model in norms.items():
        epochs = sorted(per_model)
        if not epochs:
            continue
        last = per_model[epochs[-1]]
        ratios.append(f"{name.upper()} {last[0] / last[-1]:.2g}")
    if ratios:
        text += (" After the last recorded epoch, the gradient reaching the first row's hidden "
                 "state is this fraction of the one reaching the last row's (mean ||dL/dh_1|| / "
                 f"||dL/dh_T||): {', '.join(ratios)}; the smaller it is, the less the first "
                 "rows' pixels can teach the model.")
    return text
