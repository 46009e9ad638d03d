"""examples/compare.py end to end, as a user runs it: real data, real training, bad input.

The end-to-end runs use the real datasets found through ``SCRATCHNET_DATA`` and
skip, saying why, when they are absent. The bad-input cases need no data (except
the EMNIST Letters one, which checks the message for files the reference data
folder is known to lack) and fail before any training.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from scratchnet.data import get_spec, locate, parse_split

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = "examples/compare.py"  # relative to ROOT, as a user types it
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIGURES = {"accuracy.png", "loss.png", "per_class_accuracy.png", "confusion_cnn.png",
           "confusion_lstm.png", "confused_examples_cnn.png", "confused_examples_lstm.png"}


def run_compare(*args, data_dir=None, timeout=600):
    env = dict(os.environ)
    # The package of this checkout, not whichever one an editable install points at.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if data_dir is not None:
        env["SCRATCHNET_DATA"] = str(data_dir)
    return subprocess.run([sys.executable, SCRIPT, *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def real_data(name, *splits):
    """The SCRATCHNET_DATA folder if it holds every split named, else skip with the reason."""
    folder = os.environ.get("SCRATCHNET_DATA")
    if not folder:
        pytest.skip("SCRATCHNET_DATA is not set: no real datasets to run compare.py on")
    missing = [s for s in splits if not locate(name, s, folder).complete]
    if missing:
        pytest.skip(f"{name} split(s) {missing} not found in SCRATCHNET_DATA={folder}")
    return Path(folder)


def staging_leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if ".partial-" in p.name] if parent.exists() else []


def assert_nothing_written(parent: Path, out: Path):
    assert not out.exists(), f"{out} was created"
    assert not staging_leftovers(parent), "staging folders left behind"


# -- reading the table back --------------------------------------------------------------------
def terminal_rows(stdout: str) -> dict[str, list[str]]:
    """The printed comparison table as {row label: [cell per model]}."""
    lines = stdout.splitlines()
    rule = next(i for i, line in enumerate(lines) if re.fullmatch(r"-+( +-+)+", line))
    widths = [len(d) for d in lines[rule].split()]
    rows = {}
    for line in lines[rule + 1:]:
        if not line.strip():
            break
        cells, pos = [], 0
        for w in widths:
            cells.append(line[pos:pos + w].strip())
            pos += w + 2
        rows[cells[0]] = cells[1:]
    return rows


def markdown_rows(report: str, first_label: str) -> dict[str, list[str]]:
    """The Markdown table whose first data row starts with ``first_label``."""
    lines = report.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_label} |"))
    rows = {}
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


def number(cell: str) -> float:
    """'99.21%' -> 0.9921, '1,234' -> 1234, '12.3 s' -> 12.3, '98.10% (epoch 3)' -> 0.981."""
    text = cell.split(" (")[0].replace(",", "").removesuffix(" s")
    return float(text[:-1]) / 100 if text.endswith("%") else float(text)


def check_table_matches_json(rows: dict[str, list[str]], models: dict):
    # Each cell must be the JSON value rounded as displayed: within half a displayed unit.
    checks = {
        "parameters": ("parameters", 0.5), "training time": ("fit_time_s", 0.05),
        "training samples/s": ("train_samples_per_s", 0.5),
        "inference samples/s": ("inference_samples_per_s", 0.5),
        "test accuracy": ("test_accuracy", 5e-5), "test loss": ("test_loss", 5e-5),
        "macro-F1": ("macro_f1", 5e-5), "best validation accuracy": ("best_val_accuracy", 5e-5),
    }
    for label, (key, half_unit) in checks.items():
        for cell, s in zip(rows[label], models.values(), strict=True):
            assert abs(number(cell) - s[key]) <= half_unit + 1e-9, (label, cell, s[key])
    for cell, s in zip(rows["best validation accuracy"], models.values(), strict=True):
        assert cell.endswith(f"(epoch {s['best_val_epoch']})")
        assert s["best_val_accuracy"] == max(s["history"]["val_accuracy"])
    for cell, s in zip(rows["ambiguity-aware accuracy"], models.values(), strict=True):
        amb = s["ambiguity"]
        if amb["ambiguous_groups"]:
            assert abs(number(cell) - amb["ambiguous_accuracy"]) <= 5e-5 + 1e-9
        else:
            assert cell == "n/a"


def check_json_is_self_consistent(results: dict, n_classes: int):
    sizes = results["run"]["sizes"]
    for name, s in results["models"].items():
        cm = np.array(s["confusion_matrix"])
        assert cm.shape == (n_classes, n_classes) and cm.sum() == sizes["test"], name
        assert s["test_accuracy"] == pytest.approx(np.trace(cm) / cm.sum())
        np.testing.assert_allclose(s["per_class"]["recall"],
                                   np.diag(cm) / np.maximum(cm.sum(axis=1), 1))
        assert s["per_class"]["support"] == cm.sum(axis=1).tolist()
        epochs = results["run"]["recipe"]["epochs"]
        assert all(len(s["history"][k]) == epochs
                   for k in ("loss", "accuracy", "val_loss", "val_accuracy", "time"))
        assert s["train_samples_per_s"] == pytest.approx(
            sizes["train"] * epochs / s["fit_time_s"])
        assert s["ambiguity"]["accuracy"] == pytest.approx(s["test_accuracy"])


def check_figures(folder: Path):
    for name in FIGURES:
        path = folder / name
        assert path.read_bytes()[:8] == PNG_SIGNATURE, name
        image = imread(path)  # decodes the whole file: a truncated PNG fails here
        assert image.ndim == 3 and min(image.shape[:2]) >= 300, (name, image.shape)
        assert image[..., :3].std() > 0.05, f"{name} is blank"


def run_quick_and_check(tmp_path, name, train_split, test_split, data_dir):
    out = tmp_path / "results" / "quick"
    result = run_compare("--quick", "--dataset", name, "--train-split", train_split,
                         "--test-split", test_split, "--out", out, data_dir=data_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert {p.name for p in out.iterdir()} == FIGURES | {"report.md", "results.json"}
    assert not staging_leftovers(out.parent)

    results = json.loads((out / "results.json").read_text())
    models = results["models"]
    assert list(models) == ["cnn", "lstm"]
    spec = get_spec(name)
    check_json_is_self_consistent(results, spec.num_classes)
    assert results["run"]["sizes"] == {"train": 3600, "validation": 400, "test": 1000}

    # "Far above chance": chance is the better of guessing uniformly and always
    # answering the commonest test class.
    cm = np.array(models["cnn"]["confusion_matrix"])
    chance = max(1 / spec.num_classes, cm.sum(axis=1).max() / cm.sum())
    report = (out / "report.md").read_text()
    rows = terminal_rows(result.stdout)
    check_table_matches_json(rows, models)
    md = markdown_rows(report, "parameters")
    assert md == rows, "report.md's table differs from the printed one"
    check_figures(out)
    for needle in (f"`python examples/compare.py --quick --dataset {name}", f"`{name}`",
                   "numpy", "numba", "threads", "precision", "Quick smoke run"):
        assert needle in report, needle
    return results, chance, report


@pytest.mark.realdata
def test_quick_run_on_mnist_writes_a_complete_consistent_report(tmp_path):
    data_dir = real_data("mnist", "train", "test")
    results, chance, report = run_quick_and_check(tmp_path, "mnist", "train", "test", data_dir)
    models = results["models"]
    # After one epoch on 3,600 images the CNN is well past 60% and the LSTM past 30%
    # (measured: 82% and 42%); chance on MNIST's test set is 11%.
    assert models["cnn"]["test_accuracy"] > 5 * chance
    assert models["lstm"]["test_accuracy"] > 2.5 * chance
    # No two MNIST classes look alike: nothing may be merged.
    assert all(s["ambiguity"]["ambiguous_groups"] == [] for s in models.values())
    assert "every error is the models' own" in report


@pytest.mark.realdata
@pytest.mark.slow
def test_quick_run_on_the_bymerge_split_merges_the_look_alike_groups(tmp_path):
    data_dir = real_data("emnist-bymerge", "test")
    results, chance, report = run_quick_and_check(tmp_path, "emnist-bymerge", "test[:96323]",
                                                  "test[96323:]", data_dir)
    models = results["models"]
    for s in models.values():
        amb = s["ambiguity"]
        assert amb["ambiguous_groups"] == [["0", "O"], ["1", "I", "L"]]
        assert amb["ambiguous_accuracy"] > amb["accuracy"]
    # One epoch on 3,600 of 47 unbalanced classes (measured: CNN 35%, LSTM 15%);
    # chance is 6% (always answering '1').
    assert models["cnn"]["test_accuracy"] > 4 * chance
    assert models["lstm"]["test_accuracy"] > 2 * chance
    assert "{0, O}, {1, I, L}" in report


# The issue-4 targets: the seed recipe (10 epochs) must match Keras / PyTorch on the same data.
FULL_RUNS = [
    ("mnist", "train", "test", {"cnn": 0.990, "lstm": 0.982}),
    ("emnist-bymerge", "test[:96323]", "test[96323:]", {"cnn": 0.885, "lstm": 0.868}),
]


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize("name, train_split, test_split, targets", FULL_RUNS,
                         ids=[r[0] for r in FULL_RUNS])
def test_full_recipe_reaches_the_frameworks_accuracy(tmp_path, name, train_split, test_split,
                                                     targets):
    check_full_recipe(run_compare, tmp_path, name, train_split, test_split, targets)


def check_full_recipe(run, tmp_path, name, train_split, test_split, floors, *args):
    """Run a study script (``run``, as :func:`run_compare`) with its full recipe on real data;
    check its table against its JSON and each model's test accuracy against ``floors``."""
    data_dir = real_data(name, parse_split(train_split).base, parse_split(test_split).base)
    out = tmp_path / "full"
    result = run(*args, "--dataset", name, "--train-split", train_split, "--test-split",
                 test_split, "--out", out, data_dir=data_dir, timeout=None)
    assert result.returncode == 0, result.stderr[-3000:]
    models = json.loads((out / "results.json").read_text())["models"]
    check_table_matches_json(terminal_rows(result.stdout), models)
    for model, floor in floors.items():
        assert models[model]["test_accuracy"] >= floor, (model, models[model]["test_accuracy"])


@pytest.mark.realdata
def test_default_dataset_missing_from_the_reference_folder_names_files_and_folder(tmp_path):
    data_dir = real_data("emnist-bymerge", "test")  # the reference folder: Letters images absent
    if locate("emnist-letters", "train", data_dir).complete:
        pytest.skip("EMNIST Letters is present in SCRATCHNET_DATA, so the default run would work")
    out = tmp_path / "out"
    result = run_compare("--out", out, data_dir=data_dir, timeout=120)
    assert result.returncode == 1
    assert "emnist-letters-train-images-idx3-ubyte.gz" in result.stderr
    assert str(data_dir) in result.stderr
    assert "Traceback" not in result.stderr
    assert_nothing_written(tmp_path, out)


@pytest.mark.parametrize("args, message", [
    (["--dataset", "emnist-nope"], "unknown dataset 'emnist-nope'; known datasets: mnist"),
    (["--models", "cnn,gru"], "unknown model(s) gru; choose from cnn, lstm"),
    (["--models", ","], "unknown model(s) (none given)"),
    (["--train-split", "train[:abc]"], "malformed split 'train[:abc]'"),
    (["--dataset", "mnist", "--test-split", "valid"], "mnist has no split 'valid'"),
    (["--dataset", "mnist", "--test-split", "test[:20000]"], "outside the split"),
    (["--epochs", "0"], "must be a positive integer"),
])
def test_bad_arguments_exit_2_with_a_clear_message_before_any_work(tmp_path, args, message):
    check_refused(run_compare, tmp_path, args, message)


def check_refused(run, tmp_path, args, message):
    """A study script (``run``, as :func:`run_compare`) given ``args`` exits 2 with
    ``message``, no traceback, and writes nothing."""
    out = tmp_path / "out"
    result = run(*args, "--out", out, timeout=120)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert_nothing_written(tmp_path, out)


def test_unwritable_output_folder_exits_2_and_creates_nothing(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = blocker / "nested" / "out"
    result = run_compare("--dataset", "mnist", "--out", out, timeout=120)
    assert result.returncode == 2
    assert f"cannot write the output folder {out}" in result.stderr
    assert blocker.read_text() == "not a folder"


def test_non_empty_output_folder_is_refused_and_left_alone(tmp_path):
    out = tmp_path / "previous"
    out.mkdir()
    (out / "report.md").write_text("an older result")
    result = run_compare("--dataset", "mnist", "--out", out, timeout=120)
    assert result.returncode == 2
    assert "already exists and is not empty" in result.stderr
    assert [p.name for p in out.iterdir()] == ["report.md"]
    assert (out / "report.md").read_text() == "an older result"
    assert not staging_leftovers(tmp_path)


def test_data_not_found_and_not_downloadable_exits_1_naming_files_and_folder(tmp_path):
    # A data folder that is a file: the files cannot be there, and the download
    # cannot be saved, so this fails the same way offline or online.
    blocker = tmp_path / "data-is-a-file"
    blocker.write_text("")
    out = tmp_path / "results" / "run"
    result = run_compare("--dataset", "mnist", "--data-dir", blocker, "--out", out,
                         timeout=120)
    assert result.returncode == 1, result.stderr
    for needle in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", str(blocker),
                   "not available locally"):
        assert needle in result.stderr, needle
    assert "Traceback" not in result.stderr
    # Not even the results/ parent created for --out survives.
    assert_nothing_written(tmp_path, out)
    assert not (tmp_path / "results").exists()


# -- the pieces, in-process and without training ----------------------------------------------
@pytest.fixture(scope="module")
def compare_modules():
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import compare
        import compare_report
        yield compare, compare_report
    finally:
        sys.path.remove(str(ROOT / "examples"))


@pytest.mark.parametrize("train, test, quick, shared", [
    ("test[:5000]", "test[5000:]", False, 0),
    ("train", "test", False, 0),
    ("test[:6000]", "test[5000:]", False, 1000),
    ("test[:6000]", "test[5000:]", True, 0),        # quick trains on test[0:4000] only
    ("test[:6000]", "test[3000:]", True, 1000),     # ... and tests on test[3000:4000]
    ("test", "test", False, 10000),
])
def test_overlapping_train_and_test_splits_are_flagged(compare_modules, train, test, quick,
                                                       shared):
    compare, _ = compare_modules
    args = compare.parse_args(["--dataset", "mnist", "--train-split", train,
                               "--test-split", test, *(["--quick"] if quick else [])])
    warnings = compare.overlap_warning(get_spec("mnist"), args)
    assert bool(warnings) == bool(shared)
    if shared:
        assert f"shares {shared:,} images" in warnings[0]


def test_report_from_synthetic_runs_states_the_ambiguity_figures(compare_modules, tmp_path):
    _, report = compare_modules
    names = get_spec("emnist-bymerge").class_names
    o, zero, one, i_cap = names.index("O"), names.index("0"), names.index("1"), names.index("I")
    y_test = np.repeat(np.arange(len(names)), 10)                      # 470 test images
    y_pred = y_test.copy()
    y_pred[y_test == o] = zero                                           # 10 O -> 0
    y_pred[np.flatnonzero(y_test == i_cap)[:4]] = one                    # 4 I -> 1
    y_pred[np.flatnonzero(y_test == names.index("A"))[:6]] = names.index("H")  # 6 real errors
    history = {"loss": [1.0, 0.5], "accuracy": [0.6, 0.8], "val_loss": [0.7, 0.6],
               "val_accuracy": [0.7, 0.75], "time": [1.0, 1.0]}
    runs = {"cnn": report.ModelRun("cnn", 1000, history, 2.0, 900, 0.4, 0.5, y_pred)}
    models = {"cnn": report.summarize(runs["cnn"], y_test, names)}
    s = models["cnn"]
    assert s["test_accuracy"] == pytest.approx(450 / 470)
    assert s["ambiguity"]["ambiguous_accuracy"] == pytest.approx(464 / 470)
    assert s["ambiguity"]["ambiguous_share_of_errors"] == pytest.approx(14 / 20)
    assert s["best_val_accuracy"] == 0.75 and s["best_val_epoch"] == 2
    assert s["train_samples_per_s"] == pytest.approx(900 * 2 / 2.0)
    assert [(p["true"], p["pred"], p["count"], p["look_alike_group"])
            for p in s["most_confused"]] == [("O", "0", 10, "{0, O}"), ("A", "H", 6, None),
                                             ("I", "1", 4, "{1, I, L}")]
    results = {"run": {
        "command": "python examples/compare.py", "working_directory": str(ROOT),
        "dataset": "emnist-bymerge", "class_names": list(names), "train_split": "test[:96323]",
        "test_split": "test[96323:]", "quick": False,
        "sizes": {"train": 900, "validation": 100, "test": len(y_test)},
        "recipe": {"epochs": 2, "batch_size": 128, "learning_rate": 1e-3,
                   "validation_split": 0.1, "seed": 0, "inference_batch_size": 1024},
        "warnings": [], "started": "t0", "finished": "t1", "environment": {"python": "3"}},
        "models": models}
    report.write_report(tmp_path, results, runs, np.zeros((len(y_test), 28, 28), np.uint8),
                        y_test)
    md = (tmp_path / "report.md").read_text()
    assert "lifts the CNN from 95.74% to 98.72%: 70% of its 20 errors" in md
    assert "| share of errors inside those groups | 70.0% |" in md
    assert "| 1 | O | 0 | 10 | 50.0% | {0, O} |" in md
    assert json.loads((tmp_path / "results.json").read_text())["models"]["cnn"] == s
    assert {"accuracy.png", "confusion_cnn.png", "confused_examples_cnn.png"} <= {
        p.name for p in tmp_path.iterdir()}
