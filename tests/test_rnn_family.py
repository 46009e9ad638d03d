"""examples/rnn_family.py: the SimpleRNN/LSTM/GRU study, end to end.

A fast in-process run on small synthetic data checks the whole pipeline (every file,
the table against the JSON, the gradient norms); a --quick run on real MNIST runs it as a
user does; the full recipe's accuracy floors are slow real-data tests, never in the
default run.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread
from test_compare import (
    check_full_recipe,
    check_json_is_self_consistent,
    check_refused,
    check_table_matches_json,
    markdown_rows,
    real_data,
    staging_leftovers,
    terminal_rows,
)

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = "examples/rnn_family.py"


def figures(models):
    return ({"accuracy.png", "loss.png", "per_class_accuracy.png", "gradient_norms.png"}
            | {f"{kind}_{m}.png" for m in models
               for kind in ("confusion", "confused_examples", "predictions")})


def run_study(*args, data_dir=None, timeout=900):
    env = dict(os.environ, PYTHONPATH=str(ROOT))  # this tree's scratchnet, not an installed one
    if data_dir is not None:
        env["SCRATCHNET_DATA"] = str(data_dir)
    return subprocess.run([sys.executable, SCRIPT, *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def check_png(path):
    image = imread(path)  # decodes the whole file: a truncated PNG fails here
    assert image.ndim == 3 and min(image.shape[:2]) >= 300, (path.name, image.shape)
    assert image[..., :3].std() > 0.05, f"{path.name} is blank"


@pytest.fixture
def study(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "examples"))
    import rnn_family

    return rnn_family


def test_the_study_on_small_synthetic_data_writes_a_complete_consistent_report(
        study, monkeypatch, tmp_path, capsys):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 260)
    # Each class lights a different band of rows: learnable, and read row by row.
    images = rng.integers(0, 60, (260, 28, 28)).astype(np.uint8)
    for i, c in enumerate(labels):
        images[i, 2 * c + 4: 2 * c + 8] = 250
    data = images[:200], labels[:200], images[200:], labels[200:]
    monkeypatch.setattr(study, "load_data", lambda args: data)
    models = ["gru", "bilstm"]  # a cell, and a Bidirectional (every cell: the quick MNIST run)
    out = tmp_path / "out"
    assert study.main(["--quick", "--epochs", "2", "--models", ",".join(models),
                       "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert {p.name for p in out.iterdir()} == figures(models) | {"report.md", "results.json"}
    assert not staging_leftovers(tmp_path)
    results = json.loads((out / "results.json").read_text())
    assert list(results["models"]) == models
    assert results["run"]["sizes"] == {"train": 180, "validation": 20, "test": 60}
    check_json_is_self_consistent(results, 10)
    rows = terminal_rows(stdout)
    check_table_matches_json(rows, results["models"])
    report = (out / "report.md").read_text()
    assert markdown_rows(report, "parameters") == rows
    expected = {"gru": 69_578, "bilstm": 177_866}
    for name, s in results["models"].items():
        assert s["parameters"] == expected[name]
        assert set(s["gradient_norms"]) == {"1", "2"}
        for norms in s["gradient_norms"].values():
            assert len(norms) == 28 and all(np.isfinite(norms)) and min(norms) > 0
    assert results["result"] in report and results["result"] in stdout
    assert "Measured test accuracy, best first" in results["result"]
    for needle in ("## Gradient through time", "![gradient norms through time]",
                   "predictions_gru.png", "Quick smoke run", "Dense(64, relu)"):
        assert needle in report, needle
    for name in figures(models):
        check_png(out / name)


def test_a_large_download_without_a_terminal_is_refused_cleanly(study, tmp_path, monkeypatch,
                                                                capsys):
    # compare.load_data asks before NIST's 562 MB archive; with no terminal and no --yes
    # it refuses, and the study says so and exits 1 (it once crashed here: no --yes flag).
    monkeypatch.setattr(sys, "stdin", io.StringIO())  # not a terminal
    data, out = tmp_path / "empty-data", tmp_path / "out"
    assert study.main(["--dataset", "emnist-letters", "--data-dir", str(data),
                       "--out", str(out)]) == 1
    err = capsys.readouterr().err
    for needle in ("562 MB", "--yes", f"(nothing was written to {out})"):
        assert needle in err, needle
    assert not data.exists() and not out.exists()


def test_gradient_norms_are_the_reference_bptt(study):
    """dL/dh_T from the classifier, then each reference step's dh_prev: checked against a
    central difference of the loss in h_t, perturbing the hidden state mid-sequence."""
    from rnn_family_report import hidden_state_gradients

    from scratchnet.reference import gru_step_forward

    model = study.rnn_model("gru", 3, seed=0)
    model.build()
    rng = np.random.default_rng(1)
    x, y = rng.random((2, 28, 28)).astype(np.float32), np.array([0, 2])
    norms = hidden_state_gradients(model, x, y)
    assert len(norms) == 28
    # Loss of sample 0 as a function of h_t (t = 20, 1-based) in float64.
    gru, dense1, dense2 = model.layers
    p = {k: v.astype(np.float64) for k, v in gru.params.items()}
    x0 = x[:1].astype(np.float64)

    def loss_from(t, h):
        for s in range(t, 28):
            h, _ = gru_step_forward(x0[:, s], h, p["W"], p["U"], p["b"])
        z = np.maximum(h @ dense1.params["W"] + dense1.params["b"], 0)
        logits = z @ dense2.params["W"] + dense2.params["b"]
        logits = logits - logits.max()
        return float(np.log(np.exp(logits).sum()) - logits[0, y[0]])

    h = np.zeros((1, 128))
    for s in range(20):
        h, _ = gru_step_forward(x0[:, s], h, p["W"], p["U"], p["b"])
    grad = np.zeros(128)
    for j in range(128):
        e = np.zeros((1, 128))
        e[0, j] = 1e-6
        grad[j] = (loss_from(20, h + e) - loss_from(20, h - e)) / 2e-6
    single = hidden_state_gradients(model, x[:1], y[:1])
    assert single[19] == pytest.approx(np.linalg.norm(grad), rel=1e-3)  # float32 model


# The same pipeline runs on synthetic data above in the default run; on real MNIST, opt-in.
@pytest.mark.slow
@pytest.mark.realdata
def test_quick_run_on_mnist(tmp_path):
    data_dir = real_data("mnist", "train", "test")
    out = tmp_path / "quick"
    result = run_study("--quick", "--dataset", "mnist", "--out", out, data_dir=data_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    models = json.loads((out / "results.json").read_text())["models"]
    assert list(models) == ["simplernn", "lstm", "gru"]
    check_table_matches_json(terminal_rows(result.stdout), models)
    # One epoch on 3,600 images: every model well above MNIST's 11% chance (measured:
    # SimpleRNN 64%, LSTM 41%, GRU 36%).
    for name, s in models.items():
        assert s["test_accuracy"] > 0.25, (name, s["test_accuracy"])


@pytest.mark.parametrize("args, message", [
    (["--models", "simplernn,tcn"], "unknown model(s) tcn; choose from simplernn, lstm, gru"),
    (["--models", ","], "unknown model(s) (none given)"),
    (["--dataset", "mnist", "--test-split", "test[:20000]"], "outside the split"),
    (["--epochs", "0"], "must be a positive integer"),
])
def test_bad_arguments_exit_2_before_any_work(tmp_path, args, message):
    check_refused(run_study, tmp_path, args, message)


# The floors: test accuracy at seed 0 with the full recipe (10 epochs).
FULL_RUNS = [
    ("mnist", "train", "test", {"simplernn": 0.960, "gru": 0.980, "lstm": 0.980}),
    ("emnist-bymerge", "test[:96323]", "test[96323:]", {"simplernn": 0.795, "gru": 0.870}),
]


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize("name, train_split, test_split, floors", FULL_RUNS,
                         ids=[r[0] for r in FULL_RUNS])
def test_full_recipe_reaches_the_accuracy_floors(tmp_path, name, train_split, test_split,
                                                 floors):
    check_full_recipe(run_study, tmp_path, name, train_split, test_split, floors,
                      "--models", ",".join(floors))
