"""MLP vs CNN with BatchNormalization on handwritten characters: the baselines of the study.

Two fixed recipes (issue 13), trained with scratchnet on the same images and scored on
the same test set:

* **MLP**: ``Flatten``, ``Dense(512, relu)``, ``Dropout(0.2)``, ``Dense(256, relu)``,
  ``Dropout(0.2)``, ``Dense(n, softmax)`` (``scratchnet.seed_models.mlp_baseline``);
* **CNN_BN**: two ``Conv2D`` / ``BatchNormalization`` / ``relu`` / ``MaxPool2D`` blocks,
  ``Dropout(0.25)``, ``Dense(128)`` / ``BatchNormalization`` / ``relu`` / ``Dropout(0.5)``,
  ``Dense(n, softmax)`` (``scratchnet.seed_models.cnn_batchnorm``).

Both: Adam 1e-3, batch 128, 10 epochs, validation_split 0.1, seed 0. Run::

    python examples/mlp_vs_cnn.py --dataset mnist
    python examples/mlp_vs_cnn.py --dataset emnist-bymerge \\
        --train-split 'test[:96323]' --test-split 'test[96323:]'
    python examples/mlp_vs_cnn.py --quick          # smoke run on the bundled mnist-sample

What you get, in ``--out`` (default ``results/mlp-vs-cnn-<dataset>-<UTC time>/``):
everything ``compare.py`` writes (the table, ``report.md``, ``results.json``, accuracy and
loss curves, confusion matrices, per-class precision/recall/F1, the most-confused pairs
with test images), plus ``predictions_<model>.png`` (a grid of test predictions, mistakes
marked), ``parameters_vs_accuracy.png`` and a paragraph stating what was measured. The
folder is written all or nothing (``scratchnet.report.staged_folder``), and the command
line, data loading and exit statuses are compare.py's.
"""

from __future__ import annotations

import sys
from pathlib import Path

import compare
from compare_report import _count, write_report
from rnn_family_report import prediction_grid

from scratchnet.plotting import parameters_vs_accuracy
from scratchnet.seed_models import cnn_batchnorm, mlp_baseline

#: Model name -> (builder, the input layout scratchnet.data.normalize gives it).
MODELS = {"mlp": (mlp_baseline, "conv2d"), "cnn_bn": (cnn_batchnorm, "conv2d")}
QUICK_DATASET = "mnist-sample"


def parse_args(argv=None):
    """compare.py's command line, over this study's two models; --quick uses mnist-sample."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--quick" in argv and not any(a == "--dataset" or a.startswith("--dataset=")
                                     for a in argv):
        argv += ["--dataset", QUICK_DATASET]
    return compare.parse_args(
        argv, models=MODELS, default_models=",".join(MODELS), default_dataset="mnist",
        prefix="mlp-vs-cnn",
        description="Train the MLP and the CNN with BatchNormalization baselines on the same "
                    "characters and compare them.")


def total_parameters(s: dict) -> int:
    """Trainable and non-trainable (BatchNormalization's moving statistics) together."""
    return s["parameters"] + s["non_trainable_parameters"]


def result_paragraph(results: dict) -> str:
    """One paragraph stating what was measured, every figure read from ``results``."""
    run, models = results["run"], results["models"]
    sizes = run["sizes"]
    order = sorted(models, key=lambda n: models[n]["test_accuracy"], reverse=True)
    per_model = []
    for name in order:
        s = models[name]
        worst = s["most_confused"][0] if s["most_confused"] else None
        mistake = (f"its commonest mistake {worst['true']} read as {worst['pred']} "
                   f"({worst['count']:,} times)" if worst else "no mistakes")
        per_model.append(
            f"the {name.upper()} ({total_parameters(s):,} parameters, "
            f"{s['non_trainable_parameters']:,} of them non-trainable) reached "
            f"{s['test_accuracy']:.2%} test accuracy and macro-F1 {s['macro_f1']:.4f}, best "
            f"validation accuracy {s['best_val_accuracy']:.2%} at epoch {s['best_val_epoch']}, "
            f"after {s['fit_time_s']:.1f} s of training; {mistake}")
    a, b = order[0], order[-1]
    gap = 100 * (models[a]["test_accuracy"] - models[b]["test_accuracy"])
    ratio = total_parameters(models[a]) / total_parameters(models[b])
    return (f"Measured on {run['dataset']}, trained on {sizes['train']:,} images of "
            f"`{run['train_split']}` ({sizes['validation']:,} held out for validation) and "
            f"tested once on the {sizes['test']:,} images of `{run['test_split']}`, "
            f"{_count(run['recipe']['epochs'], 'epoch')} at seed {run['recipe']['seed']}: "
            + "; ".join(per_model)
            + f". The {a.upper()} is {gap:.2f} points ahead, with {ratio:.2f} times as many "
            f"parameters as the {b.upper()}.")


def study(args, command: str, folder: Path) -> dict:
    """Train and test both baselines, then write compare.py's report plus this study's."""
    results, runs, x_test, y_test = compare.train_all(args, command, MODELS)
    models, class_names = results["models"], results["run"]["class_names"]
    if len(models) > 1:
        results["result"] = result_paragraph(results)
    extra = {"parameters_vs_accuracy.png": (
        "test accuracy against parameter count",
        parameters_vs_accuracy({n.upper(): (total_parameters(s), s["test_accuracy"])
                                for n, s in models.items()}))}
    for name, r in runs.items():
        extra[f"predictions_{name}.png"] = (
            f"{name.upper()}: a grid of test images, predicted / true",
            prediction_grid(x_test, y_test, r.y_pred, class_names, name.upper()))
    sections = ["## Size against accuracy", "",
                "![parameters against accuracy](parameters_vs_accuracy.png)", "",
                "## Sample predictions", "",
                *(f"![{n.upper()} predictions](predictions_{n}.png)\n" for n in runs)]
    write_report(folder, results, runs, x_test, y_test, extra, sections)
    return results


def main(argv=None) -> int:
    return compare.main(argv, parse=parse_args, study=study, script="examples/mlp_vs_cnn.py")


if __name__ == "__main__":
    sys.exit(main())
