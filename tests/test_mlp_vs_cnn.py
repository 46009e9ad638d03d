"""examples/mlp_vs_cnn.py: the MLP and CNN+BatchNorm baselines, end to end.

A fast in-process run on small synthetic data checks the whole report (every file, the
table against the JSON, the paragraph's figures, the parameter counts); the full
recipe's accuracy floors (issue 13) are slow real-data tests, never in the default run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.image import imread
from test_compare import (
    check_full_recipe,
    check_json_is_self_consistent,
    check_refused,
    check_table_matches_json,
    markdown_rows,
    staging_leftovers,
    terminal_rows,
)
from test_rnn_family import ROOT, check_png

SCRIPT = "examples/mlp_vs_cnn.py"
MODELS = ["mlp", "cnn_bn"]
FIGURES = ({"accuracy.png", "loss.png", "per_class_accuracy.png",
            "parameters_vs_accuracy.png"}
           | {f"{kind}_{m}.png" for m in MODELS
              for kind in ("confusion", "confused_examples", "predictions")})


def run_study(*args, data_dir=None, timeout=900):
    env = dict(os.environ, PYTHONPATH=str(ROOT))  # this tree's scratchnet
    if data_dir is not None:
        env["SCRATCHNET_DATA"] = str(data_dir)
    return subprocess.run([sys.executable, SCRIPT, *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def study(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "examples"))
    import compare
    import mlp_vs_cnn

    return compare, mlp_vs_cnn


def test_the_study_on_small_synthetic_data_writes_a_complete_consistent_report(
        study, monkeypatch, tmp_path, capsys):
    compare, mlp_vs_cnn = study
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 300)
    # Each class lights a different block: learnable by both models in two epochs.
    images = rng.integers(0, 60, (300, 28, 28)).astype(np.uint8)
    for i, c in enumerate(labels):
        images[i, 2 * c + 4: 2 * c + 8, 6:22] = 250
    data = images[:240], labels[:240], images[240:], labels[240:]
    monkeypatch.setattr(compare, "load_data", lambda args: data)
    out = tmp_path / "out"
    assert mlp_vs_cnn.main(["--quick", "--epochs", "2", "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert {p.name for p in out.iterdir()} == FIGURES | {"report.md", "results.json"}
    assert not staging_leftovers(tmp_path)
    results = json.loads((out / "results.json").read_text())
    assert list(results["models"]) == MODELS
    assert results["run"]["dataset"] == "mnist-sample"  # --quick's default
    assert results["run"]["sizes"] == {"train": 216, "validation": 24, "test": 60}
    check_json_is_self_consistent(results, 10)
    rows = terminal_rows(stdout)
    check_table_matches_json(rows, results["models"])
    report = (out / "report.md").read_text()
    assert markdown_rows(report, "parameters") == rows
    # The counts on 10 classes: the CNN's 448 are BatchNormalization's moving
    # mean and variance (2 x (32 + 64 + 128)).
    models = results["models"]
    assert (models["mlp"]["parameters"], models["mlp"]["non_trainable_parameters"]) == \
        (535_818, 0)
    assert (models["cnn_bn"]["parameters"], models["cnn_bn"]["non_trainable_parameters"]) == \
        (225_930 - 448, 448)
    paragraph = results["result"]
    assert paragraph in report and paragraph in stdout
    for name, s in models.items():  # every figure in the paragraph is the JSON's
        assert f"{s['test_accuracy']:.2%} test accuracy" in paragraph, name
        assert f"{s['parameters'] + s['non_trainable_parameters']:,} parameters" in paragraph
        assert f"macro-F1 {s['macro_f1']:.4f}" in paragraph
    for needle in ("## Size against accuracy", "predictions_cnn_bn.png",
                   "![parameters against accuracy]", "Quick smoke run", "precision"):
        assert needle in report, needle
    for name in FIGURES:
        if name.startswith("confused_examples"):  # one row per mistaken pair: may be short
            image = imread(out / name)
            assert image.ndim == 3 and image[..., :3].std() > 0.05, name
        else:
            check_png(out / name)


@pytest.mark.parametrize("args, message", [
    (["--models", "mlp,lstm"], "unknown model(s) lstm; choose from mlp, cnn_bn"),
    (["--dataset", "mnist", "--test-split", "test[:20000]"], "outside the split"),
])
def test_bad_arguments_exit_2_before_any_work(tmp_path, args, message):
    check_refused(run_study, tmp_path, args, message)


# Issue 13's floors: test accuracy at seed 0 with the full recipe (10 epochs).
FULL_RUNS = [
    ("mnist", "train", "test", {"mlp": 0.980, "cnn_bn": 0.992}),
    ("emnist-bymerge", "test[:96323]", "test[96323:]", {"mlp": 0.864, "cnn_bn": 0.890}),
]


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize("name, train_split, test_split, floors", FULL_RUNS,
                         ids=[r[0] for r in FULL_RUNS])
def test_full_recipe_reaches_the_accuracy_floors(tmp_path, name, train_split, test_split,
                                                 floors):
    check_full_recipe(run_study, tmp_path, name, train_split, test_split, floors)
