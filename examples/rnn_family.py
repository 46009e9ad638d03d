"""SimpleRNN vs LSTM vs GRU on handwritten characters read as sequences of rows.

Each 28x28 image is a sequence of 28 rows of 28 pixels, one row per step. Every model is
``Input((28, 28))`` -> ``SimpleRNN|LSTM|GRU(128)`` (or ``Bidirectional(LSTM(128))``) ->
``Dense(64, relu)`` -> ``Dense(n, softmax)``, trained with the same recipe (below) on the
same data and scored on the same test set. Run::

    python examples/rnn_family.py --dataset mnist                     # the study
    python examples/rnn_family.py --dataset mnist --quick             # smoke run
    python examples/rnn_family.py --models simplernn,lstm,gru,bilstm
    python examples/rnn_family.py --dataset emnist-bymerge \\
        --train-split 'test[:96323]' --test-split 'test[96323:]'

What you get, in ``--out`` (default ``results/rnn-family-<dataset>-<UTC time>/``):
everything ``compare.py`` writes (the table, ``report.md``, ``results.json``, accuracy and
loss curves with all models on shared axes, confusion matrices, per-class scores), plus
``gradient_norms.png`` (mean ||dL/dh_t|| over the steps t, on a fixed batch of training
images, after the first and the last epoch: how much of the loss's gradient reaches each
row's hidden state), ``predictions_<model>.png`` (test images with predicted and true
labels, mistakes marked) and a paragraph stating the result as measured. The folder is
written all or nothing, as compare.py's (``scratchnet.report.staged_folder``).

Exit status: 0 on success; 1 if the data cannot be loaded or training fails;
2 for bad arguments or an output folder that cannot be written.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from compare import (
    BATCH_SIZE,
    EPOCHS,
    INFERENCE_BATCH_SIZE,
    LEARNING_RATE,
    QUICK_EPOCHS,
    QUICK_TEST_SAMPLES,
    QUICK_TRAIN_SAMPLES,
    VALIDATION_SPLIT,
    add_common_arguments,
    check_splits,
    load_data,
    overlap_warning,
    run_staged,
)
from compare_report import ModelRun, markdown_report, summarize, terminal_table, write_figures
from rnn_family_report import (
    GradientNorms,
    gradient_norm_figure,
    prediction_grid,
    result_paragraph,
)

from scratchnet import Adam, Input, Sequential
from scratchnet.data import get_spec, normalize
from scratchnet.data.errors import (
    SplitError,
    UnknownDatasetError,
)
from scratchnet.layers import GRU, LSTM, Bidirectional, Dense, SimpleRNN
from scratchnet.plotting import save_figure
from scratchnet.report import environment, threads

UNITS = 128  # the recurrent layer's width in the study
DENSE_UNITS = 64
GRADIENT_SAMPLES = 128  # the fixed batch of training images the gradient norms are taken on

#: Model name -> its recurrent layer (a fresh one per call).
CELLS = {
    "simplernn": lambda: SimpleRNN(UNITS),
    "lstm": lambda: LSTM(UNITS),
    "gru": lambda: GRU(UNITS),
    "bilstm": lambda: Bidirectional(LSTM(UNITS)),
}
DEFAULT_MODELS = "simplernn,lstm,gru"
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "results"


def rnn_model(name: str, num_classes: int, seed: int) -> Sequential:
    """The study's model around the recurrent layer ``name``, compiled with the recipe."""
    model = Sequential([Input((28, 28)), CELLS[name](),
                        Dense(DENSE_UNITS, activation="relu"),
                        Dense(num_classes, activation="softmax")], name=name, seed=seed)
    model.compile(optimizer=Adam(LEARNING_RATE), loss="sparse_categorical_crossentropy")
    return model


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Train SimpleRNN, LSTM and GRU models on the same characters, "
                    "read row by row, and compare them.")
    parser.add_argument("--dataset", default="mnist", help="default: %(default)s")
    add_common_arguments(parser, "rnn-family")
    parser.add_argument("--models", default=DEFAULT_MODELS,
                        help=f"comma-separated, from {', '.join(CELLS)} (default: %(default)s)")
    parser.add_argument("--epochs", type=_positive, default=None,
                        help=f"default {EPOCHS}, or {QUICK_EPOCHS} with --quick")
    parser.add_argument("--batch-size", type=_positive, default=BATCH_SIZE,
                        help="default: %(default)s")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: first {QUICK_TRAIN_SAMPLES} training and "
                             f"{QUICK_TEST_SAMPLES} test samples, {QUICK_EPOCHS} epoch")
    args = parser.parse_args(argv)
    try:
        names = [m.strip().lower() for m in args.models.split(",") if m.strip()]
        unknown = [m for m in names if m not in CELLS]
        if unknown or not names:
            raise ValueError(f"unknown model(s) {', '.join(unknown) or '(none given)'}; "
                             f"choose from {', '.join(CELLS)}, e.g. --models {DEFAULT_MODELS}")
        args.models = list(dict.fromkeys(names))
        check_splits(args)
    except (UnknownDatasetError, SplitError, ValueError) as exc:
        parser.error(str(exc))
    if args.epochs is None:
        args.epochs = QUICK_EPOCHS if args.quick else EPOCHS
    if args.out is None:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        args.out = (DEFAULT_OUT
                    / f"rnn-family-{args.dataset}-{stamp}{'-quick' if args.quick else ''}")
    return args


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def train_and_test(name, x_train, y_train, x_test, y_test, num_classes, args):
    """Train one model with the recipe, record its gradient norms, predict the test set."""
    x = normalize(x_train, "lstm")
    n = min(len(x), args.batch_size)
    start = time.perf_counter()  # compile (or load) the kernels on a throwaway model
    throwaway = rnn_model(name, num_classes, args.seed)
    throwaway.fit(x[:n], y_train[:n], batch_size=args.batch_size, epochs=1, verbose=0)
    throwaway.predict(x[:n], batch_size=INFERENCE_BATCH_SIZE)
    warmup_time = time.perf_counter() - start
    model = rnn_model(name, num_classes, args.seed)
    print(f"\n== {name.upper()}: {model.count_params():,} parameters, {args.epochs} epoch(s) "
          f"(kernels ready in {warmup_time:.1f} s) ==", flush=True)
    k = min(GRADIENT_SAMPLES, len(x))
    norms = GradientNorms(x[:k], y_train[:k], {1, args.epochs})
    start = time.perf_counter()
    history = model.fit(x, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        validation_split=VALIDATION_SPLIT, seed=args.seed, verbose=1,
                        callbacks=[norms])
    fit_time = time.perf_counter() - start  # includes the two gradient-norm batches
    train_samples = math.floor(len(x) * (1 - VALIDATION_SPLIT))  # as fit splits
    del x
    x = normalize(x_test, "lstm")
    test_loss, _ = model.evaluate(x, y_test, batch_size=INFERENCE_BATCH_SIZE)
    start = time.perf_counter()
    probabilities = model.predict(x, batch_size=INFERENCE_BATCH_SIZE)
    inference_time = time.perf_counter() - start
    run = ModelRun(name, model.count_params(), history.history, fit_time, train_samples,
                   test_loss, inference_time, probabilities.argmax(axis=1), warmup_time)
    return run, norms.norms


def study(args: argparse.Namespace, command: str, folder: Path) -> dict:
    """Load the data, train and test every model, and write the report into ``folder``."""
    started = datetime.now(UTC)
    env = environment(Path(__file__))
    spec = get_spec(args.dataset)
    x_train, y_train, x_test, y_test = load_data(args)
    print(f"{args.dataset}: {len(x_train):,} training images ({args.train_split}), "
          f"{len(x_test):,} test images ({args.test_split}), {spec.num_classes} classes")
    warnings = overlap_warning(spec, args)
    for warning in warnings:
        print(f"warning: {warning}")
    runs, norms = {}, {}
    for name in args.models:
        runs[name], norms[name] = train_and_test(name, x_train, y_train, x_test, y_test,
                                                 spec.num_classes, args)
    n_fit = next(iter(runs.values())).train_samples
    models = {name: summarize(run, y_test, spec.class_names) for name, run in runs.items()}
    for name, s in models.items():
        s["gradient_norms"] = {str(e): v for e, v in sorted(norms[name].items())}
    results = {
        "run": {
            "command": command, "working_directory": str(Path.cwd()),
            "dataset": args.dataset, "class_names": list(spec.class_names),
            "train_split": args.train_split, "test_split": args.test_split,
            "quick": args.quick,
            "sizes": {"train": n_fit, "validation": len(x_train) - n_fit, "test": len(x_test)},
            "recipe": {"epochs": args.epochs, "batch_size": args.batch_size,
                       "learning_rate": LEARNING_RATE, "validation_split": VALIDATION_SPLIT,
                       "seed": args.seed, "inference_batch_size": INFERENCE_BATCH_SIZE,
                       "architecture": f"Input((28, 28)) -> RNN({UNITS}) -> "
                                       f"Dense({DENSE_UNITS}, relu) -> Dense(n, softmax)",
                       "gradient_norm_samples": min(GRADIENT_SAMPLES, len(x_train))},
            "warnings": warnings,
            "started": started.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "environment": {**env, "threads": threads()},
        },
        "models": models,
    }
    write_study_report(folder, results, runs, norms, x_test, y_test)
    return results


def write_study_report(folder, results, runs, norms, x_test, y_test) -> None:
    """compare.py's report and figures, plus this study's figures and paragraph."""
    class_names = results["run"]["class_names"]
    figures = write_figures(folder, runs, results["models"], x_test, y_test, class_names)
    save_figure(gradient_norm_figure(norms), folder / "gradient_norms.png")
    figures["gradient_norms.png"] = "mean ||dL/dh_t|| against t, after the first and last epoch"
    for name, run in runs.items():
        save_figure(prediction_grid(x_test, y_test, run.y_pred, class_names, name.upper()),
                    folder / f"predictions_{name}.png")
        figures[f"predictions_{name}.png"] = f"{name.upper()}: test images, predicted / true"
    paragraph = result_paragraph(results["models"], norms)
    results["result"] = paragraph
    report = markdown_report(results, figures)
    title, rest = report.split("\n\n", 1)
    k = results["run"]["recipe"]["gradient_norm_samples"]
    extra = [
        "## Gradient through time", "",
        f"For a fixed batch of {k} training images, the mean over the batch of ||dL/dh_t||, "
        "the gradient of each image's own loss with respect to the hidden state after row t, "
        "computed with the reference step pairs (`scratchnet.reference`). Only the last "
        "hidden state feeds the classifier, so everything that reaches an earlier row comes "
        "back through the recurrence. For BILSTM, the forward copy's hidden states.", "",
        "![gradient norms through time](gradient_norms.png)", "",
        "## Test predictions", "",
        *(f"![{n.upper()} predictions](predictions_{n}.png)\n" for n in runs),
    ]
    body = "\n".join([
        title, "", "Every model reads each image as a sequence of 28 rows of 28 pixels: "
        f"{results['run']['recipe']['architecture']}.", "", paragraph, "", rest.rstrip(),
        "", *extra, ""])
    (folder / "report.md").write_text(body)
    (folder / "results.json").write_text(json.dumps(results, indent=1) + "\n")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    command = shlex.join(["python", sys.argv[0] or "examples/rnn_family.py", *argv])
    status, results = run_staged(args, command, study)
    if status:
        return status
    print("\n" + terminal_table(results["models"]))
    print("\n" + results["result"])
    for warning in results["run"]["warnings"]:
        print(f"warning: {warning}")
    print(f"\nreport: {args.out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
