"""examples/augment.py end to end, as a user runs it: the quick run on the bundled sample
(always), and the full study on EMNIST ByMerge (opt-in: ``--runslow`` with the data)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.image import imread
from test_compare import (
    check_json_is_self_consistent,
    check_table_matches_json,
    real_data,
    staging_leftovers,
    terminal_rows,
)

from scratchnet.data import get_spec

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent
SCRIPT = "examples/augment.py"
FIGURES = {"augmented_samples.png", "accuracy.png", "loss.png", "per_class_accuracy.png",
           "confusion_plain.png", "confusion_augmented.png", "confused_examples_plain.png",
           "confused_examples_augmented.png"}


def run_study(*args, data_dir=None, timeout=600):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if data_dir is not None:
        env["SCRATCHNET_DATA"] = str(data_dir)
    return subprocess.run([sys.executable, SCRIPT, *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def check_report(out, result, n_classes):
    assert result.returncode == 0, result.stderr[-3000:]
    assert {p.name for p in out.iterdir()} == FIGURES | {"report.md", "results.json"}
    assert not staging_leftovers(out.parent)
    results = json.loads((out / "results.json").read_text())
    models = results["models"]
    assert list(models) == ["plain", "augmented"]
    check_json_is_self_consistent(results, n_classes)
    check_table_matches_json(terminal_rows(result.stdout), models)
    assert results["run"]["augmentation_only_samples_per_s"] > 0
    assert [a["layer"] for a in results["run"]["augmentation"]] == ["RandomDistortion",
                                                                    "GaussianNoise"]
    grid = imread(out / "augmented_samples.png")
    assert grid.shape[0] > 400 and grid.shape[1] > 600 and grid.std() > 0.05  # drawn, not blank
    report = (out / "report.md").read_text()
    assert "What was measured" in report and "![" in report
    return results, report


def test_quick_run_writes_the_whole_report(tmp_path):
    out = tmp_path / "results" / "quick"
    result = run_study("--quick", "--out", out)
    results, _ = check_report(out, result, get_spec("emnist-sample").num_classes)
    assert results["run"]["sizes"] == {"train": 1800, "validation": 200, "test": 500}
    plain, augmented = results["models"]["plain"], results["models"]["augmented"]
    # One epoch on 1,800 images: the plain CNN is well above chance (about 1/47; measured
    # 12%), the augmented one, on harder images, at least below the loss of a uniform guess.
    assert plain["test_accuracy"] > 0.08
    assert augmented["test_loss"] < np.log(47)
    assert augmented["parameters"] == plain["parameters"]


def test_a_bad_split_is_refused_before_any_work(tmp_path):
    out = tmp_path / "out"
    result = run_study("--quick", "--train-split", "train[:99999999]", "--out", out, timeout=60)
    assert result.returncode == 2 and "train" in result.stderr
    assert not out.exists()


@pytest.mark.realdata
@pytest.mark.slow
def test_full_study_on_bymerge(tmp_path):
    data_dir = real_data("emnist-bymerge", "test")
    out = tmp_path / "full"
    result = run_study("--out", out, data_dir=data_dir, timeout=None)
    results, report = check_report(out, result, get_spec("emnist-bymerge").num_classes)
    models = results["models"]
    assert results["run"]["sizes"] == {"train": 86690, "validation": 9633, "test": 20000}
    for s in models.values():
        # The seed CNN reaches 88.5% on this split without augmentation (test_compare's
        # target); with it, it must stay a working classifier of the same league.
        assert s["test_accuracy"] > 0.85
        amb = s["ambiguity"]
        assert amb["ambiguous_accuracy"] > amb["accuracy"]
        assert len(s["history"]["loss"]) == 10
    cm = np.array(models["augmented"]["confusion_matrix"])
    assert cm.sum() == 20000
    assert "test[:96323]" in report and "test[96323:]" in report
