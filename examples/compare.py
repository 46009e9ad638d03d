"""CNN vs LSTM on handwritten characters: train both with scratchnet, compare them honestly.

The same 28x28 images are given to two models:

* the seed **CNN** sees each one as a picture, (28, 28, 1);
* the seed **LSTM** reads it as a sequence of 28 rows of 28 pixels, one row per step.

Both are trained with the same recipe (below) on the same data, then scored on the
same test set. Run::

    python examples/compare.py                      # EMNIST Letters, the full recipe
    python examples/compare.py --quick              # smoke run on the bundled sample, 1 epoch
    python examples/compare.py --dataset mnist
    python examples/compare.py --dataset emnist-bymerge \\
        --train-split 'test[:96323]' --test-split 'test[96323:]'

What you get, in ``--out`` (default ``results/compare-<dataset>-<UTC time>/``):
a comparison table (also printed), ``report.md`` (the table, per-class
precision/recall/F1, an ambiguity-aware accuracy, the command, data sizes and
library versions), ``results.json`` (every figure and the full training
history) and PNG figures (accuracy and loss per epoch, confusion matrices,
example images of the commonest mistakes, per-class accuracy).

The output folder is written all at once: everything goes to a hidden staging
folder beside ``--out``, renamed to ``--out`` only after the last file is
written, and deleted if anything fails (an error, Ctrl-C, or ``kill``). So
``--out`` either holds a complete report or does not exist; only an uncatchable
``kill -9`` can leave a hidden ``.<name>.partial-*`` folder behind. ``--out`` must
be new, or an empty folder.

Data: ``--quick`` trains on ``emnist-sample``, real EMNIST characters bundled with
scratchnet, so it needs no data folder and no network. Other datasets are looked up
in the data folder and downloaded when missing; a download of more than 100 MB is
done only after a yes at the terminal, or with ``--yes`` (a script without a terminal
is refused, with a message that names ``--yes``).

Exit status: 0 on success; 1 if the data cannot be loaded or training fails;
2 for bad arguments or an output folder that cannot be written.
"""

from __future__ import annotations

import argparse
import math
import shlex
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from compare_report import ModelRun, summarize, terminal_table, write_report

from scratchnet import Adam
from scratchnet.data import (
    download_dataset,
    download_size,
    get_spec,
    load,
    locate,
    missing_message,
    normalize,
    parse_split,
    resolve_data_dir,
)
from scratchnet.data.errors import (
    ChecksumMismatchError,
    DataDirNotWritableError,
    DatasetNotFoundError,
    DownloadError,
    IDXFormatError,
    SplitError,
    UnknownDatasetError,
)
from scratchnet.report import OutputFolderError, environment, staged_folder, threads
from scratchnet.seed_models import seed_cnn, seed_lstm

# --------------------------------------------------------------------------------------
# The recipe: the seed experiment's settings, used for both models. Change them here.
# --------------------------------------------------------------------------------------
EPOCHS = 10
BATCH_SIZE = 128
LEARNING_RATE = 1e-3          # Adam, Keras's default betas and epsilon
VALIDATION_SPLIT = 0.1        # the last 10% of the training split, held out before shuffling
SEED = 0                      # weights, shuffling and dropout masks
INFERENCE_BATCH_SIZE = 1024   # for test-set scoring and the inference-speed figure

# --quick: a smoke run that checks the whole pipeline, not a result.
QUICK_TRAIN_SAMPLES = 4000    # the first samples of the training split (before validation)
QUICK_TEST_SAMPLES = 1000     # the first samples of the test split
QUICK_EPOCHS = 1

DEFAULT_DATASET = "emnist-letters"   # the seed experiment's
QUICK_DATASET = "emnist-sample"      # bundled with scratchnet: no data folder, no network
ASK_ABOVE_BYTES = 100_000_000        # downloads larger than this need a yes (or --yes)

# Model name -> (builder, the input layout scratchnet.data.normalize gives it).
MODELS = {"cnn": (seed_cnn, "conv2d"), "lstm": (seed_lstm, "lstm")}
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "results"


def parse_args(argv=None, *, models=MODELS, default_models="cnn,lstm",
               default_dataset=DEFAULT_DATASET, prefix="compare",
               description="Train the seed CNN and LSTM on the same characters and compare "
                           "them.") -> argparse.Namespace:
    """The command line shared by compare.py and the studies built on it (mlp_vs_cnn.py).

    ``models`` is the table ``--models`` chooses from, ``prefix`` names the default
    output folder ``results/<prefix>-<dataset>-<UTC time>``.
    """
    parser = argparse.ArgumentParser(
        description=description,
        epilog="Example: %(prog)s --dataset emnist-bymerge --train-split 'test[:96323]' "
               "--test-split 'test[96323:]'")
    parser.add_argument("--dataset", default=None,
                        help=f"registered dataset name (default: {default_dataset}, or "
                             f"{QUICK_DATASET}, bundled with scratchnet, with --quick); "
                             "`python -m scratchnet.data list` shows them")
    add_common_arguments(parser, prefix)
    parser.add_argument("--models", default=default_models,
                        help=f"comma-separated, from {', '.join(models)} (default: %(default)s)")
    parser.add_argument("--epochs", type=_positive, default=None,
                        help=f"default {EPOCHS}, or {QUICK_EPOCHS} with --quick")
    parser.add_argument("--batch-size", type=_positive, default=BATCH_SIZE,
                        help="default: %(default)s")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: first {QUICK_TRAIN_SAMPLES} training and "
                             f"{QUICK_TEST_SAMPLES} test samples, {QUICK_EPOCHS} epoch")
    args = parser.parse_args(argv)
    args.default_dataset = args.dataset is None
    if args.dataset is None:
        args.dataset = QUICK_DATASET if args.quick else default_dataset
    try:
        _check_choices(args, models)
    except (UnknownDatasetError, SplitError, ValueError) as exc:
        parser.error(str(exc))
    if args.epochs is None:
        args.epochs = QUICK_EPOCHS if args.quick else EPOCHS
    if args.out is None:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        args.out = DEFAULT_OUT / f"{prefix}-{args.dataset}-{stamp}{'-quick' if args.quick else ''}"
    return args


def add_common_arguments(parser: argparse.ArgumentParser, prefix: str) -> None:
    """The flags every study on these characters takes: the splits, the seed, where the
    data are, where the report goes (``results/<prefix>-<dataset>-<UTC time>``) and
    ``--yes`` for downloads."""
    parser.add_argument("--train-split", default="train",
                        help="split to train on, TFDS-style slices allowed, e.g. 'test[:96323]'")
    parser.add_argument("--test-split", default="test",
                        help="split to test on, e.g. 'test[96323:]'")
    parser.add_argument("--seed", type=int, default=SEED, help="default: %(default)s")
    parser.add_argument("--data-dir", default=None,
                        help="data folder (default: $SCRATCHNET_DATA, else the usual places)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder, new or empty "
                             f"(default: results/{prefix}-<dataset>-<UTC time>)")
    # load_data reads it: every study that loads through it asks before a large download.
    parser.add_argument("--yes", action="store_true",
                        help=f"download missing data without asking, even above "
                             f"{ASK_ABOVE_BYTES // 1_000_000} MB (for scripts)")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _check_choices(args: argparse.Namespace, models=MODELS) -> None:
    """Reject unknown names and malformed or out-of-range splits before any work is done."""
    names = [m.strip().lower() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in names if m not in models]
    if unknown or not names:
        raise ValueError(f"unknown model(s) {', '.join(unknown) or '(none given)'}; "
                         f"choose from {', '.join(models)}, e.g. --models {','.join(models)}")
    args.models = list(dict.fromkeys(names))  # keep the order given, drop repeats
    check_splits(args)


def check_splits(args: argparse.Namespace) -> None:
    """Raise (UnknownDatasetError, SplitError, ValueError) for an unknown dataset or a
    malformed or out-of-range split, before any work is done."""
    spec = get_spec(args.dataset)
    for split in (args.train_split, args.test_split):
        selection = parse_split(split)
        selection.resolve(spec.split(selection.base).count)  # bounds, from the registry


def overlap_warning(spec, args: argparse.Namespace) -> list[str]:
    """Warn when test images are also training images (the test figures would flatter)."""
    a, b = parse_split(args.train_split), parse_split(args.test_split)
    if a.base != b.base:
        return []
    n = spec.split(a.base).count
    (a0, a1), (b0, b1) = ((r.start, r.stop) for r in (a.resolve(n), b.resolve(n)))
    if args.quick:  # only the first samples of each selection are used
        a1, b1 = min(a1, a0 + QUICK_TRAIN_SAMPLES), min(b1, b0 + QUICK_TEST_SAMPLES)
    shared = max(0, min(a1, b1) - max(a0, b0))
    if not shared:
        return []
    return [f"the test split {args.test_split!r} shares {shared:,} images with the training "
            f"split {args.train_split!r}; test figures overstate how well the models generalise"]


def data_note(args) -> str:
    """One sentence on where the data come from, first printed line and report."""
    spec = get_spec(args.dataset)
    if spec.bundled is None:
        return f"Data: {args.dataset} from the data folder {resolve_data_dir(args.data_dir)}."
    sizes = ", ".join(f"{s.count:,} {name}" for name, s in spec.splits.items())
    chosen = "the default for --quick" if args.default_dataset else "chosen with --dataset"
    return (f"Data: {args.dataset}, the sample of real handwriting bundled with scratchnet "
            f"({sizes} images, {spec.num_classes} classes; {chosen}); no data folder or "
            "network needed. Pass --dataset to use another (`python -m scratchnet.data list`).")


class DownloadRefused(Exception):
    """A large download was not confirmed (no to the prompt, or no terminal and no --yes)."""


def _needed_splits(args) -> str | None:
    """The official split both selections come from, or None for all of them."""
    bases = {parse_split(s).base for s in (args.train_split, args.test_split)}
    return bases.pop() if len(bases) == 1 else None


def confirm_download(args, ask=input) -> bool:
    """Ask before a download of more than ASK_ABOVE_BYTES; refuse without a terminal or --yes.

    Returns
    -------
    bool
        True if a large download was agreed to (the caller then fetches every
        missing file in one pass: EMNIST's archive is streamed once, not per split).

    Raises
    ------
    DownloadRefused
        With the message to print: what is missing, how big it is, and the ways out.
    """
    split = _needed_splits(args)
    size = download_size(args.dataset, split, args.data_dir) or 0
    if size <= ASK_ABOVE_BYTES:
        return False
    if args.yes:
        return True
    question = (f"{args.dataset} is not in {resolve_data_dir(args.data_dir)}: download "
                f"{size / 1e6:,.0f} MB?")
    if sys.stdin.isatty() and sys.stderr.isatty():
        answer = ask(f"{question} [y/N] ")
        if answer.strip().lower() in ("y", "yes"):
            return True
        reason = "Not downloading: you answered no."
    else:
        reason = (f"Not downloading {size / 1e6:,.0f} MB without a terminal to ask: "
                  "pass --yes to allow it.")
    raise DownloadRefused(_missing(args, split, reason) + "\n" + alternatives(args))


def _missing(args, split: str | None, reason: str) -> str:
    """The full explanation for the first split with missing files, and a line for the others."""
    bases = [split] if split else list(dict.fromkeys(
        parse_split(s).base for s in (args.train_split, args.test_split)))
    gaps = [(b, locate(args.dataset, b, args.data_dir).missing()) for b in bases]
    gaps = [(b, files) for b, files in gaps if files] or gaps[:1]
    text = missing_message(args.dataset, gaps[0][0], args.data_dir, reason)
    for base, files in gaps[1:]:
        text += (f"\nThe {base!r} split is missing too: "
                 + ", ".join(f.name for f in files) + " (same source, same folder).")
    return text


def fetch(args) -> None:
    """Download every missing file the run needs in one pass, with a progress bar."""
    split = _needed_splits(args)
    try:
        download_dataset(args.dataset, split, args.data_dir)
    except (DownloadError, DataDirNotWritableError) as exc:
        raise DatasetNotFoundError(_missing(args, split, f"Download failed: {exc}")) from exc


def alternatives(args) -> str:
    """What to run instead when the chosen dataset cannot be had."""
    return ("Without it: `python examples/compare.py --quick` trains on emnist-sample, real "
            "EMNIST characters bundled with scratchnet (no download), and "
            "`python examples/compare.py --dataset mnist` uses MNIST (an 11 MB download).")


def load_data(args):
    """Load both splits as upright uint8 images and int64 labels (subsets with --quick)."""
    if confirm_download(args):
        fetch(args)
    x_train, y_train = load(args.dataset, args.train_split, data_dir=args.data_dir)
    x_test, y_test = load(args.dataset, args.test_split, data_dir=args.data_dir)
    if args.quick:
        x_train, y_train = x_train[:QUICK_TRAIN_SAMPLES], y_train[:QUICK_TRAIN_SAMPLES]
        x_test, y_test = x_test[:QUICK_TEST_SAMPLES], y_test[:QUICK_TEST_SAMPLES]
    return x_train, y_train, x_test, y_test


def build_model(name: str, num_classes: int, seed: int, models=MODELS):
    """A model of the table ``models``, compiled with the recipe's optimizer and loss."""
    model = models[name][0](num_classes, seed=seed)
    model.compile(optimizer=Adam(LEARNING_RATE), loss="sparse_categorical_crossentropy")
    return model


def warm_up(name, x_train, y_train, num_classes, args, models=MODELS) -> float:
    """Run one batch through a throwaway copy of the model; return the seconds it took.

    numba compiles each kernel on first use (or loads it from its on-disk cache),
    which can take longer than an epoch of a small run. Doing that here, with the
    batch sizes the timed run uses, keeps it out of the training and inference
    times. The throwaway model has its own random streams, so the real run is
    unaffected.
    """
    n = min(len(x_train), args.batch_size)
    x = normalize(x_train[:n], models[name][1])
    model = build_model(name, num_classes, args.seed, models)
    start = time.perf_counter()
    model.fit(x, y_train[:n], batch_size=args.batch_size, epochs=1, verbose=0)
    model.predict(x, batch_size=INFERENCE_BATCH_SIZE)
    return time.perf_counter() - start


def train_and_test(name, x_train, y_train, x_test, y_test, num_classes, args,
                   models=MODELS) -> ModelRun:
    """Build one model of ``models``, train it with the recipe, and predict the test set."""
    layout = models[name][1]
    warmup_time = warm_up(name, x_train, y_train, num_classes, args, models)
    model = build_model(name, num_classes, args.seed, models)
    print(f"\n== {name.upper()}: {model.count_params():,} parameters, {args.epochs} epoch(s) "
          f"(kernels ready in {warmup_time:.1f} s) ==", flush=True)
    x = normalize(x_train, layout)
    start = time.perf_counter()
    history = model.fit(x, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        validation_split=VALIDATION_SPLIT, seed=args.seed, verbose=1)
    fit_time = time.perf_counter() - start
    train_samples = math.floor(len(x) * (1 - VALIDATION_SPLIT))  # as fit splits
    del x  # free the float training copy before making the test one
    x = normalize(x_test, layout)
    test_loss, _ = model.evaluate(x, y_test, batch_size=INFERENCE_BATCH_SIZE)
    start = time.perf_counter()
    probabilities = model.predict(x, batch_size=INFERENCE_BATCH_SIZE)
    inference_time = time.perf_counter() - start
    return ModelRun(name, model.count_params(), history.history, fit_time, train_samples,
                    test_loss, inference_time, probabilities.argmax(axis=1), warmup_time,
                    sum(v.size for layer in model.layers for v in layer.state.values()))


def compare(args: argparse.Namespace, command: str, folder: Path) -> dict:
    """Load the data, train and test every model, and write the report into ``folder``."""
    results, runs, x_test, y_test = train_all(args, command)
    write_report(folder, results, runs, x_test, y_test)
    return results


def train_all(args: argparse.Namespace, command: str, models=MODELS):
    """Load the data, train and test every model of ``args.models`` (from the table ``models``).

    Returns
    -------
    results : dict
        The run's description and :func:`compare_report.summarize`'s figures per model
        (what results.json holds).
    runs : dict name -> ModelRun
    x_test : ndarray of uint8, shape (N, 28, 28)
    y_test : ndarray of int64, shape (N,)
    """
    started = datetime.now(UTC)
    env = environment(Path(__file__))  # now: the code revision and machine load of this run
    spec = get_spec(args.dataset)
    note = data_note(args)
    x_train, y_train, x_test, y_test = load_data(args)
    print(f"{args.dataset}: {len(x_train):,} training images ({args.train_split}), "
          f"{len(x_test):,} test images ({args.test_split}), {spec.num_classes} classes")
    warnings = overlap_warning(spec, args)
    for warning in warnings:
        print(f"warning: {warning}")
    runs = {name: train_and_test(name, x_train, y_train, x_test, y_test, spec.num_classes, args,
                                 models)
            for name in args.models}
    n_fit = next(iter(runs.values())).train_samples
    results = {
        "run": {
            "command": command,
            "working_directory": str(Path.cwd()),
            "dataset": args.dataset,
            "data_note": note,
            "class_names": list(spec.class_names),
            "train_split": args.train_split,
            "test_split": args.test_split,
            "quick": args.quick,
            "sizes": {"train": n_fit, "validation": len(x_train) - n_fit, "test": len(x_test)},
            "recipe": {"epochs": args.epochs, "batch_size": args.batch_size,
                       "learning_rate": LEARNING_RATE, "validation_split": VALIDATION_SPLIT,
                       "seed": args.seed, "inference_batch_size": INFERENCE_BATCH_SIZE},
            "warnings": warnings,
            "started": started.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "environment": {**env, "threads": threads()},  # threading layer known by now
        },
        "models": {name: summarize(run, y_test, spec.class_names) for name, run in runs.items()},
    }
    return results, runs, x_test, y_test


def run_staged(args, command: str, study, hint_alternatives: bool = False):
    """Run ``study(args, command, folder)`` into a staged ``args.out``, all or nothing.

    Returns ``(exit status, results)``: 0 and what ``study`` returned; 2 (an unusable
    ``--out``), 1 (the data cannot be had or training failed) or 130 (interrupted), with
    the error on stderr and None. ``hint_alternatives``: on a dataset that is missing,
    also say what to run instead (compare.py's own alternatives). Shared by the studies
    built on this one (rnn_family.py, augment.py).
    """
    try:
        with staged_folder(args.out) as folder:  # fails before any work if --out is unusable
            return 0, study(args, command, folder)
    except OutputFolderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2, None
    except (DatasetNotFoundError, DownloadRefused, ChecksumMismatchError, IDXFormatError,
            SplitError, FloatingPointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        if (hint_alternatives and isinstance(exc, DatasetNotFoundError)
                and get_spec(args.dataset).bundled is None):
            print(alternatives(args), file=sys.stderr)
        print(f"(nothing was written to {args.out})", file=sys.stderr)
        return 1, None
    except KeyboardInterrupt:
        print(f"\ninterrupted; nothing was written to {args.out}", file=sys.stderr)
        return 130, None


def main(argv=None, *, parse=parse_args, study=compare, script="examples/compare.py") -> int:
    """Run ``study(args, command, folder)`` into a staged ``--out``; the exit status.

    ``parse`` and ``study`` let a study built on this one (mlp_vs_cnn.py) keep the same
    command line, all-or-nothing output folder and error handling.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse(argv)
    # Turn `kill` (SIGTERM) into an exception too, so the staging folder is removed.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    # The command as typed (script path as given), so it can be re-run from the same folder.
    command = shlex.join(["python", sys.argv[0] or script, *argv])
    print(data_note(args), flush=True)  # first: the reader knows at once what is trained on
    status, results = run_staged(args, command, study, hint_alternatives=True)
    if status:
        return status
    print("\n" + terminal_table(results["models"]))
    if results.get("result"):
        print("\n" + results["result"])
    for warning in results["run"]["warnings"]:
        print(f"warning: {warning}")
    print(f"\nreport: {args.out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
