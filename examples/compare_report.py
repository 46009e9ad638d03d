"""What ``compare.py`` writes: the summary table, report.md, results.json and the figures.

``compare.py`` trains the models and hands over one :class:`ModelRun` per model;
this module scores the runs (with ``scratchnet.metrics``), draws them (with
``scratchnet.plotting``) and writes everything into the output folder. Every
number in the table, the report and the JSON comes from :func:`summarize`, so
they cannot disagree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scratchnet import metrics, plotting
from scratchnet.report import markdown_table, text_table

TOP_PAIRS = 10        # most-confused pairs listed (and their share of all errors)
EXAMPLE_PAIRS = 8     # pairs shown as image grids
EXAMPLES_PER_PAIR = 8
#: How each model sees a 28x28 character, for the report's first paragraph.
INPUT_VIEW = {"cnn": "sees each character as a 28x28 image",
              "lstm": "reads each one as a sequence of 28 rows of 28 pixels, one row per step",
              "mlp": "sees the 784 pixels as a flat vector, with no notion of which are neighbours",
              "cnn_bn": "sees each character as a 28x28 image, with BatchNormalization after "
                        "each convolution and the hidden Dense layer"}


@dataclass
class ModelRun:
    """One trained and tested model, as ``compare.py`` measured it.

    Attributes
    ----------
    name : str
        ``'cnn'`` or ``'lstm'``.
    parameters : int
        Trainable parameters.
    history : dict str -> list of float
        ``fit``'s per-epoch 'loss', 'accuracy', 'val_loss', 'val_accuracy', 'time'.
    fit_time : float
        Wall time of ``fit`` in seconds (includes the per-epoch validation, as Keras's does).
    train_samples : int
        Samples trained on per epoch (the training split minus the validation part).
    test_loss : float
        Mean cross-entropy on the test set.
    inference_time : float
        Wall time of ``predict`` on the whole test set, in seconds.
    y_pred : ndarray of int64, shape (N_test,)
        Predicted class of every test image.
    warmup_time : float
        Seconds spent compiling (or loading) the numba kernels before the timed
        run, kept out of ``fit_time`` and ``inference_time``.
    non_trainable : int
        Values in the layers' non-trainable state (BatchNormalization's moving mean
        and variance), saved with the weights but not counted in ``parameters``.
    """

    name: str
    parameters: int
    history: dict
    fit_time: float
    train_samples: int
    test_loss: float
    inference_time: float
    y_pred: np.ndarray
    warmup_time: float = 0.0
    non_trainable: int = 0


def summarize(run: ModelRun, y_test: np.ndarray, class_names) -> dict:
    """Score one run: every figure the table, report and JSON show, as plain JSON types."""
    cm = metrics.confusion_matrix(y_test, run.y_pred, len(class_names))
    precision, recall, f1, support = metrics.precision_recall_f1(cm)
    amb = metrics.ambiguity_summary(cm, class_names)
    pairs = metrics.most_confused_pairs(cm, TOP_PAIRS)
    group_of = {c: g.label for g in amb.ambiguous + amb.similar for c in g.classes}

    def shared_group(t, p):
        """The look-alike group holding both classes, or None: such an error is the data's."""
        g = group_of.get(t)
        return g if g is not None and group_of.get(p) == g else None

    val = run.history.get("val_accuracy") or []
    best = int(np.argmax(val)) if val else None
    epochs = len(run.history.get("loss", []))
    return {
        "parameters": run.parameters,
        "non_trainable_parameters": run.non_trainable,
        "epochs": epochs,
        "fit_time_s": run.fit_time,
        "warmup_time_s": run.warmup_time,
        "train_samples_per_s": run.train_samples * epochs / run.fit_time,
        "inference_time_s": run.inference_time,
        "inference_samples_per_s": len(y_test) / run.inference_time,
        "test_accuracy": metrics.accuracy(cm),
        "test_loss": run.test_loss,
        "macro_f1": metrics.macro_f1(cm),
        "best_val_accuracy": None if best is None else float(val[best]),
        "best_val_epoch": None if best is None else best + 1,
        "ambiguity": amb.to_dict(),
        "most_confused": [
            {"true": class_names[t], "pred": class_names[p], "count": n,
             "share_of_errors": n / amb.errors,
             "look_alike_group": shared_group(t, p)}
            for t, p, n in pairs
        ],
        "top_pairs_share_of_errors": sum(n for _, _, n in pairs) / amb.errors if amb.errors else 0,
        "per_class": {
            "class": list(class_names), "precision": precision.tolist(),
            "recall": recall.tolist(), "f1": f1.tolist(), "support": support.tolist(),
        },
        "confusion_matrix": cm.tolist(),
        "history": run.history,
    }


# -- the summary table (terminal and report.md) ---------------------------------------------
def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _seconds(x: float) -> str:
    """A duration as the table shows it, so that prose and table give the same figure."""
    return f"{x:.1f} s"


def _count(n: int, noun: str) -> str:
    """'1 epoch', '10 epochs'."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def summary_table(models: dict) -> tuple[list[str], list[list[str]], str]:
    """The comparison table: one row per figure, one column per model.

    Returns ``(headers, rows, align)`` for :func:`scratchnet.report.text_table` and
    :func:`scratchnet.report.markdown_table`.
    """
    def row(label, fmt):
        return [label, *(fmt(s) for s in models.values())]

    def ambiguous(s):
        a = s["ambiguity"]
        return _pct(a["ambiguous_accuracy"]) if a["ambiguous_groups"] else "n/a"

    def best_val(s):
        if s["best_val_accuracy"] is None:
            return "n/a"
        return f"{_pct(s['best_val_accuracy'])} (epoch {s['best_val_epoch']})"

    rows = [
        row("parameters", lambda s: f"{s['parameters']:,}"),
        row("training time", lambda s: _seconds(s["fit_time_s"])),
        row("training samples/s", lambda s: f"{s['train_samples_per_s']:,.0f}"),
        row("inference samples/s", lambda s: f"{s['inference_samples_per_s']:,.0f}"),
        row("test accuracy", lambda s: _pct(s["test_accuracy"])),
        row("ambiguity-aware accuracy", ambiguous),
        row("test loss", lambda s: f"{s['test_loss']:.4f}"),
        row("macro-F1", lambda s: f"{s['macro_f1']:.4f}"),
        row("best validation accuracy", best_val),
    ]
    headers = ["", *(name.upper() for name in models)]
    return headers, rows, "l" + "r" * len(models)


def terminal_table(models: dict) -> str:
    """The summary table as aligned text."""
    return text_table(*summary_table(models))


# -- figures ---------------------------------------------------------------------------------
def write_figures(folder: Path, runs: dict[str, ModelRun], models: dict, x_test: np.ndarray,
                  y_test: np.ndarray, class_names) -> dict[str, str]:
    """Draw every figure into ``folder``. Returns ``{file name: what it shows}``."""
    histories = {name.upper(): run.history for name, run in runs.items()}
    figures = {
        "accuracy.png": ("Validation and training accuracy per epoch",
                         plotting.accuracy_curves(histories)),
        "loss.png": ("Validation and training loss per epoch", plotting.loss_curves(histories)),
        "per_class_accuracy.png": (
            "Test accuracy on each class, both models",
            plotting.per_class_accuracy(
                {n.upper(): np.array(s["per_class"]["recall"]) for n, s in models.items()},
                class_names)),
    }
    for name, run in runs.items():
        s = models[name]
        cm = np.array(s["confusion_matrix"])
        figures[f"confusion_{name}.png"] = (
            f"{name.upper()} confusion matrix",
            plotting.confusion_matrix_figure(
                cm, class_names,
                f"{name.upper()}: confusion matrix, normalised per true class "
                f"(test accuracy {_pct(s['test_accuracy'])})"))
        pairs = metrics.most_confused_pairs(cm, EXAMPLE_PAIRS)
        # summarize listed the same pairs first, with their look-alike group if any.
        notes = ["(look-alikes)" if p["look_alike_group"] else ""
                 for p in s["most_confused"][:len(pairs)]]
        figures[f"confused_examples_{name}.png"] = (
            f"{name.upper()}: test images of its most-confused pairs",
            plotting.confused_examples(
                x_test, y_test, run.y_pred, pairs, class_names,
                f"{name.upper()}: the {len(pairs)} most frequent mistakes, with test images",
                per_pair=EXAMPLES_PER_PAIR, notes=notes))
    for file, (_, fig) in figures.items():
        plotting.save_figure(fig, folder / file)
    return {file: what for file, (what, _) in figures.items()}


# -- report.md ---------------------------------------------------------------------------------
def _lead(models: dict) -> list[str]:
    """Plain-language sentences that say what the table means."""
    names = list(models)
    lines = []
    if len(names) == 2:
        a, b = names
        sa, sb = models[a], models[b]
        ahead, behind = (a, b) if sa["test_accuracy"] >= sb["test_accuracy"] else (b, a)
        gap = 100 * (models[ahead]["test_accuracy"] - models[behind]["test_accuracy"])
        lines.append(
            f"The {ahead.upper()} reaches {_pct(models[ahead]['test_accuracy'])} test accuracy "
            f"and the {behind.upper()} {_pct(models[behind]['test_accuracy'])}: the "
            f"{ahead.upper()} is {gap:.2f} points ahead. The {a.upper()} has "
            f"{sa['parameters']:,} parameters and trained in {_seconds(sa['fit_time_s'])}; the "
            f"{b.upper()} has {sb['parameters']:,} and trained in {_seconds(sb['fit_time_s'])}.")
    for name, s in models.items():
        amb = s["ambiguity"]
        if amb["ambiguous_groups"]:
            groups = ", ".join("{" + ", ".join(g) + "}" for g in amb["ambiguous_groups"])
            lines.append(
                f"Scoring the look-alike groups {groups} as single classes lifts the "
                f"{name.upper()} from {_pct(amb['accuracy'])} to "
                f"{_pct(amb['ambiguous_accuracy'])}: {100 * amb['ambiguous_share_of_errors']:.0f}%"
                f" of its {amb['errors']:,} errors are between characters written identically.")
    return lines


def _ambiguity_section(models: dict) -> list[str]:
    first = next(iter(models.values()))["ambiguity"]
    out = ["## Which errors are the models', and which are the dataset's", ""]
    if not first["ambiguous_groups"] and not first["similar_groups"]:
        return out + ["No two classes of this dataset are characters written identically "
                      "({0, O, o}, {1, I, l, L}, {5, S}, {2, Z}), so every error is the "
                      "models' own: the ambiguity-aware accuracy equals the plain accuracy.", ""]
    out += [
        "Some characters are written identically by hand (a round 0 and an O; a stroke 1, "
        "an I and an l), so no model can separate them from the pixels. The "
        "*ambiguity-aware accuracy* scores each such group as one class. {5, S} and {2, Z} "
        "are often but not always written alike, so they get their own line.", ""]
    amb_groups = ", ".join("{" + ", ".join(g) + "}" for g in first["ambiguous_groups"]) or "-"
    sim_groups = ", ".join("{" + ", ".join(g) + "}" for g in first["similar_groups"]) or "-"
    headers = ["", *(n.upper() for n in models)]
    rows = [
        ["plain test accuracy", *(_pct(s["ambiguity"]["accuracy"]) for s in models.values())],
        ["errors", *(f"{s['ambiguity']['errors']:,}" for s in models.values())],
        [f"accuracy merging {amb_groups}",
         *(_pct(s["ambiguity"]["ambiguous_accuracy"]) for s in models.values())],
        ["share of errors inside those groups",
         *(f"{100 * s['ambiguity']['ambiguous_share_of_errors']:.1f}%" for s in models.values())],
        [f"accuracy also merging {sim_groups}",
         *(_pct(s["ambiguity"]["all_groups_accuracy"]) for s in models.values())],
        ["share of errors inside all these groups",
         *(f"{100 * s['ambiguity']['all_groups_share_of_errors']:.1f}%" for s in models.values())],
        [f"share of errors in the {TOP_PAIRS} most-confused pairs",
         *(f"{100 * s['top_pairs_share_of_errors']:.1f}%" for s in models.values())],
    ]
    out += [markdown_table(headers, rows, "l" + "r" * len(models)), ""]
    group_rows = [[label, *(f"{s['ambiguity']['group_errors'][label]:,}" for s in models.values())]
                  for label in first["group_errors"]]
    out += ["Errors inside each group (true class and prediction both in it):", "",
            markdown_table(["group", *(n.upper() for n in models)], group_rows,
                           "l" + "r" * len(models)), ""]
    return out


def _pairs_section(models: dict) -> list[str]:
    out = ["## The most frequent mistakes", ""]
    amb = next(iter(models.values()))["ambiguity"]
    # A dataset with no look-alike classes (MNIST) gets no column that could only be empty.
    groups = bool(amb["ambiguous_groups"] or amb["similar_groups"])
    headers = ["#", "true", "predicted", "count", "share of errors"]
    headers += ["look-alike group"] if groups else []
    for name, s in models.items():
        rows = [[str(i), p["true"], p["pred"], f"{p['count']:,}",
                 f"{100 * p['share_of_errors']:.1f}%",
                 *([p["look_alike_group"] or ""] if groups else [])]
                for i, p in enumerate(s["most_confused"], 1)]
        out += [f"### {name.upper()}", ""]
        if not rows:
            out += ["No errors.", ""]
            continue
        out += [markdown_table(headers, rows, "rllrr" + ("l" if groups else "")), "",
                f"![{name.upper()} confusion matrix](confusion_{name}.png)", "",
                f"![{name.upper()} mistakes](confused_examples_{name}.png)", ""]
    return out


def _per_class_section(models: dict, class_names) -> list[str]:
    headers = ["class", "support"]
    align = "lr"
    for name in models:
        headers += [f"{name.upper()} precision", f"{name.upper()} recall", f"{name.upper()} F1"]
        align += "rrr"
    first = next(iter(models.values()))["per_class"]
    rows = []
    for i, c in enumerate(class_names):
        row = [f"`{c}`", f"{first['support'][i]:,}"]
        for s in models.values():
            pc = s["per_class"]
            row += [f"{pc['precision'][i]:.3f}", f"{pc['recall'][i]:.3f}", f"{pc['f1'][i]:.3f}"]
        rows.append(row)
    return ["## Per class", "",
            "Recall is the accuracy on the class's own test images; precision is how often "
            "a prediction of the class is right.", "",
            "![per-class accuracy](per_class_accuracy.png)", "",
            markdown_table(headers, rows, align), ""]


def markdown_report(results: dict, figures: dict[str, str]) -> str:
    """The whole report.md, from the results dict that also becomes results.json."""
    run, models = results["run"], results["models"]
    names = " vs ".join(n.upper() for n in models)
    sizes = run["sizes"]
    out = [f"# {names} on {run['dataset']}", ""]
    recipe = run["recipe"]
    if run["quick"]:
        out += [f"> **Quick smoke run** (`--quick`): {sizes['train'] + sizes['validation']:,} "
                f"training images and {_count(recipe['epochs'], 'epoch')}. The figures show "
                "that the pipeline works, not how good the models are.", ""]
    if run.get("data_note"):
        out += [f"> {run['data_note']}", ""]
    for w in run["warnings"]:
        out += [f"> **Warning:** {w}", ""]
    who = "Each model was" if len(models) > 1 else f"The {names} was"
    views = "; ".join(f"the {n.upper()} {INPUT_VIEW[n]}" for n in models if n in INPUT_VIEW)
    out += [
        f"{who} trained with scratchnet on {'the same ' if len(models) > 1 else ''}"
        f"{sizes['train']:,} images of "
        f"`{run['train_split']}` ({sizes['validation']:,} more, the last "
        f"{recipe['validation_split']:.0%}, held out for validation) and tested on the "
        f"{sizes['test']:,} images of `{run['test_split']}`. "
        + (views[0].upper() + views[1:] + "." if views else ""), "",
        *(line + "\n" for line in _lead(models)),
        "## Results", "",
        markdown_table(*summary_table(models)), "",
        "Training time is the wall time of `fit`, including the validation after each epoch; "
        "samples/s counts training samples times epochs. Inference is `predict` on the test "
        f"set in batches of {recipe['inference_batch_size']}. Neither includes compiling the "
        "numba kernels, done first on one batch of a throwaway model ("
        + ", ".join(f"{n.upper()} {_seconds(s['warmup_time_s'])}" for n, s in models.items())
        + ").", "",
        "![accuracy per epoch](accuracy.png)", "",
        "![loss per epoch](loss.png)", "",
        "Training figures are averaged over each epoch while the model is still learning (and "
        "with dropout on); validation figures are measured at the end of the epoch, without "
        "dropout. That is why validation can score better than training.", "",
        *_ambiguity_section(models),
        *_pairs_section(models),
        *_per_class_section(models, run["class_names"]),
        "## How this was run", "",
        f"- Command: `{run['command']}` (in `{run['working_directory']}`)",
        f"- Dataset: `{run['dataset']}`, {len(run['class_names'])} classes; training split "
        f"`{run['train_split']}` ({sizes['train'] + sizes['validation']:,} images: "
        f"{sizes['train']:,} training, {sizes['validation']:,} validation), test split "
        f"`{run['test_split']}` ({sizes['test']:,} images)",
        f"- Recipe: {_count(recipe['epochs'], 'epoch')}, batch {recipe['batch_size']}, Adam "
        f"(learning rate {recipe['learning_rate']:g}), validation_split "
        f"{recipe['validation_split']:g}, seed {recipe['seed']}",
        f"- Started {run['started']}, finished {run['finished']} (UTC)",
        *(f"- {k}: {v}" for k, v in run["environment"].items()),
        "", "Files in this folder:", "",
        "- `report.md`: this report; `results.json`: every figure above, the full per-epoch "
        "history, per-class scores and confusion matrix of each model",
        *(f"- `{file}`: {what}" for file, what in figures.items()),
        "",
    ]
    return "\n".join(out)


def write_report(folder: Path, results: dict, runs: dict[str, ModelRun], x_test: np.ndarray,
                 y_test: np.ndarray, extra_figures=None, sections=()) -> None:
    """Write report.md, results.json and every figure into ``folder``.

    A study built on compare.py adds its own: ``extra_figures`` maps a file name to
    ``(what it shows, Figure)``, ``sections`` are Markdown lines appended to the report,
    and ``results["result"]``, if present, is a paragraph placed under the title.
    """
    figures = write_figures(folder, runs, results["models"], x_test, y_test,
                            results["run"]["class_names"])
    for file, (what, fig) in (extra_figures or {}).items():
        plotting.save_figure(fig, folder / file)
        figures[file] = what
    report = markdown_report(results, figures)
    if results.get("result"):
        title, rest = report.split("\n\n", 1)
        report = f"{title}\n\n{results['result']}\n\n{rest}"
    if sections:
        report = report.rstrip("\n") + "\n\n" + "\n".join(sections) + "\n"
    (folder / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (folder / "report.md").write_text(report)
