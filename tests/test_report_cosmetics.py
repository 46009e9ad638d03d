"""The quick-run report reads right: one-epoch curves, '1 epoch', one figure per time,
no empty columns, whole markers at 0% and 100%."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scratchnet import plotting
from scratchnet.data import get_spec

ROOT = Path(__file__).resolve().parent.parent
ONE_EPOCH = {"loss": [2.3], "accuracy": [0.46], "val_loss": [1.9], "val_accuracy": [0.46]}


@pytest.fixture
def compare_report(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "examples"))
    import compare_report

    return compare_report


def test_one_epoch_training_and_validation_points_differ_and_models_do_not_overlap():
    fig = plotting.accuracy_curves({"CNN": ONE_EPOCH, "LSTM": ONE_EPOCH})
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    for model in ("CNN", "LSTM"):
        val, train = lines[f"{model} validation"], lines[f"{model} training"]
        assert val.get_marker() not in (None, "None", "")
        assert val.get_markerfacecolor() != train.get_markerfacecolor()  # filled vs hollow
    # Same value, same epoch, two models: side by side, not on top of each other.
    assert lines["CNN validation"].get_xdata()[0] != lines["LSTM validation"].get_xdata()[0]
    assert all(abs(line.get_xdata()[0] - 1) < 0.1 for line in lines.values())


def test_per_class_markers_at_0_and_100_percent_are_not_clipped():
    scores = {"CNN": np.array([0.0, 1.0, 0.5]), "LSTM": np.array([1.0, 0.0, 0.2])}
    fig = plotting.per_class_accuracy(scores, ["a", "b", "c"])
    lines = fig.axes[0].get_lines()
    assert lines and not any(line.get_clip_on() for line in lines)


def _summary(compare_report, names, y_pred, y_test, fit_time):
    history = {"loss": [1.0], "accuracy": [0.5], "val_loss": [0.9], "val_accuracy": [0.6],
               "time": [fit_time]}
    run = compare_report.ModelRun("cnn", 1000, history, fit_time, 900, 0.4, 0.5, y_pred)
    return compare_report.summarize(run, y_test, names)


def test_prose_and_table_give_the_same_times_and_epoch_is_singular(compare_report):
    names = get_spec("mnist").class_names
    y_test = np.repeat(np.arange(10), 5)
    y_pred = np.roll(y_test, 3)
    models = {"cnn": _summary(compare_report, names, y_pred, y_test, 2.66),
              "lstm": _summary(compare_report, names, y_test, y_test, 1.34)}
    lead = " ".join(compare_report._lead(models))
    assert "trained in 2.7 s" in lead and "trained in 1.3 s" in lead
    headers, rows, _ = compare_report.summary_table(models)
    assert dict((r[0], r[1:]) for r in rows)["training time"] == ["2.7 s", "1.3 s"]
    assert compare_report._count(1, "epoch") == "1 epoch"
    assert compare_report._count(10, "epoch") == "10 epochs"


@pytest.mark.parametrize(("dataset", "column"), [("mnist-sample", False),
                                                 ("emnist-sample", True)])
def test_look_alike_column_only_where_the_dataset_has_look_alikes(compare_report, dataset,
                                                                  column):
    names = get_spec(dataset).class_names
    y_test = np.repeat(np.arange(len(names)), 4)
    y_pred = np.roll(y_test, 5)
    models = {"cnn": _summary(compare_report, names, y_pred, y_test, 1.0)}
    text = "\n".join(compare_report._pairs_section(models))
    assert ("look-alike group" in text) is column
    table = [line for line in text.splitlines() if line.startswith("| 1 |")]
    assert table and all(line.count("|") == (7 if column else 6) for line in table)

