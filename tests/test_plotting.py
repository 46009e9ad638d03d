"""scratchnet.plotting: every figure renders to a valid PNG, with readable, non-overlapping text."""

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.image import imread

from scratchnet import plotting
from scratchnet.data import get_spec

BYCLASS = get_spec("emnist-byclass").class_names   # 62 classes: the densest tick labels


def histories(epochs):
    rng = np.random.default_rng(0)
    return {name: {"loss": list(rng.uniform(0.1, 1, epochs)),
                   "accuracy": list(rng.uniform(0.5, 1, epochs)),
                   "val_loss": list(rng.uniform(0.1, 1, epochs)),
                   "val_accuracy": list(rng.uniform(0.5, 1, epochs))} for name in ("CNN", "LSTM")}


def draw(fig):
    """Lay the figure out as it will be saved, and return the renderer."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def assert_no_overlap(labels, renderer, what):
    boxes = [t.get_window_extent(renderer) for t in labels if t.get_text()]
    assert boxes, f"no {what}"
    for a, b in zip(boxes, boxes[1:], strict=False):
        assert not a.overlaps(b), f"{what} overlap: {a} and {b}"


def test_learning_curves_show_both_models_on_whole_epochs(tmp_path):
    for epochs in (1, 10):
        fig = plotting.accuracy_curves(histories(epochs))
        ax = fig.axes[0]
        assert sorted(line.get_label() for line in ax.lines) == [
            "CNN training", "CNN validation", "LSTM training", "LSTM validation"]
        assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "accuracy"
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert all(float(t).is_integer() for t in ticks) and 1 in ticks
    fig = plotting.loss_curves(histories(3))
    assert fig.axes[0].get_ylabel() == "cross-entropy loss"
    plotting.save_figure(fig, tmp_path / "loss.png")
    assert imread(tmp_path / "loss.png").shape[2] in (3, 4)


def test_confusion_matrix_has_every_character_as_a_tick_and_no_label_overlaps(tmp_path):
    n = len(BYCLASS)
    cm = np.random.default_rng(1).integers(0, 5, (n, n)) + np.diag(np.full(n, 200))
    fig = plotting.confusion_matrix_figure(cm, BYCLASS, "CNN")
    ax = fig.axes[0]
    renderer = draw(fig)
    for axis in (ax.xaxis, ax.yaxis):
        ticks = axis.get_major_ticks()
        # Labelled on both sides (x: top and bottom), every character, none overlapping.
        for side in ("label1", "label2") if axis is ax.xaxis else ("label1",):
            labels = [getattr(t, side) for t in ticks]
            assert [t.get_text() for t in labels] == list(BYCLASS)
            assert_no_overlap(labels, renderer, f"{axis.axis_name} tick {side}s")
    # Rows are normalised: each true class's shares add up to one.
    np.testing.assert_allclose(ax.images[0].get_array().sum(axis=1), 1.0)
    plotting.save_figure(fig, tmp_path / "cm.png")
    assert imread(tmp_path / "cm.png").shape[0] >= 600


def test_small_confusion_matrix_labels_each_cell_with_its_percentage():
    cm = np.array([[9, 1], [0, 10]])
    texts = {t.get_text() for t in plotting.confusion_matrix_figure(cm, "01", "t").axes[0].texts}
    assert texts == {"90.0", "10.0", "100.0"}  # the empty cell stays blank


def test_per_class_accuracy_ticks_do_not_overlap_and_the_legend_stays_off_the_points():
    rng = np.random.default_rng(2)
    scores = {"CNN": rng.uniform(0.3, 1, len(BYCLASS)), "LSTM": rng.uniform(0.3, 1, len(BYCLASS))}
    fig = plotting.per_class_accuracy(scores, BYCLASS)
    ax = fig.axes[0]
    renderer = draw(fig)
    assert_no_overlap(ax.get_xticklabels(), renderer, "class labels")
    legend = ax.get_legend().get_window_extent(renderer)
    assert legend.x0 >= ax.get_window_extent(renderer).x1  # beside the plotting area
    assert legend.x1 <= fig.bbox.x1 + 1  # and not cut off
    assert not ax.title.get_window_extent(renderer).overlaps(legend)


def test_confused_examples_label_each_row_with_true_and_predicted_characters():
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)
    y_true = np.array([0] * 10 + [1] * 10)
    y_pred = np.array([1] * 3 + [0] * 7 + [0] * 2 + [1] * 8)
    fig = plotting.confused_examples(images, y_true, y_pred, [(0, 1, 3), (1, 0, 2)], ["O", "0"],
                                     "mistakes", per_pair=4, notes=["(look-alikes)", ""])
    axes = np.array(fig.axes).reshape(2, 4)
    assert axes[0, 0].get_ylabel() == "true O\npred 0\n3 times\n(look-alikes)"
    assert axes[1, 0].get_ylabel() == "true 0\npred O\n2 times"
    # Only as many images as there are mistakes of that kind.
    assert [len(ax.images) for ax in axes[0]] == [1, 1, 1, 0]
    assert [len(ax.images) for ax in axes[1]] == [1, 1, 0, 0]
    empty = plotting.confused_examples(images, y_true, y_true, [], ["O", "0"], "none")
    assert empty.axes[0].get_ylabel() == "no errors"


@pytest.mark.parametrize("call", [
    lambda: plotting.confusion_matrix_figure(np.eye(3, dtype=int), "ab", "t"),
    lambda: plotting.per_class_accuracy({"CNN": np.ones(3)}, "ab"),
    lambda: plotting.confused_examples(np.zeros((2, 28)), [0, 1], [0, 1], [], "ab", "t"),
])
def test_mismatched_shapes_are_rejected(call):
    with pytest.raises(ValueError):
        call()
