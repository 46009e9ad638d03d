"""Does data augmentation help the seed CNN on handwritten characters? A measured answer.

The seed CNN is trained twice with compare.py's recipe (Adam 1e-3, batch 128, 10 epochs,
the last 10% of the training split held out for validation), from the same initial
weights: once on the images as they are, once behind augmentation layers that, in
training only, rotate, shift, zoom, shear and elastically distort each image (Simard et
al. 2003) and add Gaussian noise (``AUGMENTATION`` below). Both are scored on the same test
set. Run::

    python examples/augment.py                  # EMNIST ByMerge test[:96323] / test[96323:]
    python examples/augment.py --quick          # smoke run on the bundled sample, 1 epoch
    python examples/augment.py --dataset mnist --train-split train --test-split test

What you get, in ``--out`` (default ``results/augment-<dataset>-<UTC time>/``): the
summary table (also printed) with test accuracy, look-alike-aware accuracy and training
samples/s of both runs, ``report.md``, ``results.json``, ``augmented_samples.png`` (a grid
of training images through each augmentation layer alone and through all of them) and
compare.py's figures (learning curves, confusion matrices, per-class accuracy). The folder
is written all at once, as compare.py's: it holds a complete report or does not exist.

Data and exit status: as ``compare.py`` (which this study reuses for loading, downloads,
scoring and figures).
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

import compare
from compare_report import ModelRun, summarize, summary_table, terminal_table, write_figures
from matplotlib.figure import Figure

from scratchnet import Adam, plotting
from scratchnet.data import get_spec, normalize
from scratchnet.data.errors import (
    SplitError,
    UnknownDatasetError,
)
from scratchnet.layers import (
    GaussianNoise,
    RandomDistortion,
    RandomElastic,
    RandomRotation,
    RandomShear,
    RandomTranslation,
    RandomZoom,
)
from scratchnet.report import (
    environment,
    markdown_table,
    threads,
)
from scratchnet.seed_models import seed_cnn
from scratchnet.sequential import Input, Sequential

DEFAULT_DATASET = "emnist-bymerge"
DEFAULT_SPLITS = {"emnist-bymerge": ("test[:96323]", "test[96323:]")}  # issue 14's split
GRID_IMAGES = 10  # columns of the sample grid: the first training images
GRID_SEED = 2026  # the grid's own draw, apart from the training streams
COST_SAMPLES = 12_800  # images timed through the augmentation layers alone
# --quick: a smoke run of the whole pipeline, two models in about the time compare.py's
# --quick trains one.
QUICK_TRAIN_SAMPLES = 2000
QUICK_TEST_SAMPLES = 500


# The distortions, each as large as handwriting allows: a 6 must not turn into a 9, nor a
# character leave its 28 x 28 frame.
ROTATION = 0.03        # of a full turn: up to +-10.8 degrees
SHIFT = 0.08           # of the height and width: up to +-2.2 pixels
ZOOM = 0.1             # 0.9x to 1.1x, aspect kept
SHEAR = 0.1            # a slant of up to +-5.7 degrees
ELASTIC = (10.0, 3.0)  # alpha, sigma in pixels: milder than Simard et al.'s (34, 4)
NOISE = 0.05           # std, on pixels in [0, 1]


def augmentation() -> list:
    """The study's augmentation front: every distortion in one resampling (so the image is
    softened once, not five times), then noise."""
    return [RandomDistortion(rotation=ROTATION, height_shift=SHIFT, width_shift=SHIFT,
                             zoom=ZOOM, shear=SHEAR, elastic_alpha=ELASTIC[0],
                             elastic_sigma=ELASTIC[1]),
            GaussianNoise(NOISE)]


def single_layers() -> list:
    """The same distortions as separate layers, one per row of the sample grid."""
    return [RandomRotation(ROTATION), RandomTranslation(SHIFT, SHIFT), RandomZoom(ZOOM),
            RandomShear(SHEAR), RandomElastic(*ELASTIC), GaussianNoise(NOISE)]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Train the seed CNN with and without data augmentation and compare.")
    parser.add_argument("--dataset", default=None,
                        help=f"registered dataset (default: {DEFAULT_DATASET}, or "
                             f"{compare.QUICK_DATASET}, bundled, with --quick)")
    parser.add_argument("--train-split", default=None,
                        help="default: test[:96323] on emnist-bymerge, else train")
    parser.add_argument("--test-split", default=None,
                        help="default: test[96323:] on emnist-bymerge, else test")
    parser.add_argument("--epochs", type=compare._positive, default=None,
                        help=f"default {compare.EPOCHS}, or {compare.QUICK_EPOCHS} with --quick")
    parser.add_argument("--batch-size", type=compare._positive, default=compare.BATCH_SIZE)
    parser.add_argument("--seed", type=int, default=compare.SEED)
    parser.add_argument("--data-dir", default=None,
                        help="data folder (default: $SCRATCHNET_DATA, else the usual places)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder, new or empty "
                             "(default: results/augment-<dataset>-<UTC time>)")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: first {QUICK_TRAIN_SAMPLES} training and "
                             f"{QUICK_TEST_SAMPLES} test samples, {compare.QUICK_EPOCHS} epoch")
    parser.add_argument("--yes", action="store_true", help="download without asking")
    args = parser.parse_args(argv)
    args.default_dataset = args.dataset is None
    if args.dataset is None:
        args.dataset = compare.QUICK_DATASET if args.quick else DEFAULT_DATASET
    train, test = DEFAULT_SPLITS.get(args.dataset, ("train", "test"))
    args.train_split = args.train_split or train
    args.test_split = args.test_split or test
    try:
        compare.check_splits(args)
    except (UnknownDatasetError, SplitError, ValueError) as exc:
        parser.error(str(exc))
    if args.epochs is None:
        args.epochs = compare.QUICK_EPOCHS if args.quick else compare.EPOCHS
    if args.out is None:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        args.out = (compare.DEFAULT_OUT
                    / f"augment-{args.dataset}-{stamp}{'-quick' if args.quick else ''}")
    return args


def build_model(augmented: bool, num_classes: int, seed: int) -> Sequential:
    """The seed CNN, behind the augmentation front if ``augmented``, with the seed CNN's
    initial weights either way (the front has none), compiled with the recipe."""
    cnn = seed_cnn(num_classes, seed=seed)
    cnn.build()
    if augmented:
        weights = cnn.get_weights()
        cnn = Sequential([Input((28, 28, 1)), *augmentation(), *cnn.layers],
                         name="cnn_augmented", seed=seed)
        cnn.build()
        cnn.set_weights(weights)
    cnn.compile(optimizer=Adam(compare.LEARNING_RATE), loss="sparse_categorical_crossentropy")
    return cnn


def train_and_test(augmented, x_train, y_train, x_test, y_test, num_classes, args) -> ModelRun:
    """Train one model with the recipe (after a throwaway warm-up run) and predict the test set."""
    name = "augmented" if augmented else "plain"
    x = normalize(x_train, "conv2d")
    n = min(len(x), args.batch_size)
    start = time.perf_counter()  # numba compiles or loads its kernels: not in the timings
    warm = build_model(augmented, num_classes, args.seed)
    warm.fit(x[:n], y_train[:n], batch_size=args.batch_size, epochs=1, verbose=0)
    warm.predict(x[:n], batch_size=compare.INFERENCE_BATCH_SIZE)
    warmup_time = time.perf_counter() - start
    model = build_model(augmented, num_classes, args.seed)
    print(f"\n== CNN {'with' if augmented else 'without'} augmentation: {args.epochs} "
          f"epoch(s) (kernels ready in {warmup_time:.1f} s) ==", flush=True)
    start = time.perf_counter()
    history = model.fit(x, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        validation_split=compare.VALIDATION_SPLIT, seed=args.seed, verbose=1)
    fit_time = time.perf_counter() - start
    train_samples = math.floor(len(x) * (1 - compare.VALIDATION_SPLIT))  # as fit splits
    del x
    x = normalize(x_test, "conv2d")
    test_loss, _ = model.evaluate(x, y_test, batch_size=compare.INFERENCE_BATCH_SIZE)
    start = time.perf_counter()
    probabilities = model.predict(x, batch_size=compare.INFERENCE_BATCH_SIZE)
    inference_time = time.perf_counter() - start
    return ModelRun(name, model.count_params(), history.history, fit_time, train_samples,
                    test_loss, inference_time, probabilities.argmax(axis=1), warmup_time)


def augmentation_cost(x_train, batch_size: int) -> float:
    """Samples/s of the augmentation front alone, in training mode, batch by batch (fast
    engine: the model's own path), on the first COST_SAMPLES training images."""
    x = normalize(x_train[:COST_SAMPLES], "conv2d")
    front = Sequential([Input((28, 28, 1)), *augmentation()], seed=GRID_SEED)
    front.build()
    front(x[:batch_size], training=True)  # warm-up
    start = time.perf_counter()
    for lo in range(0, len(x), batch_size):
        front(x[lo:lo + batch_size], training=True)
    return len(x) / (time.perf_counter() - start)


def sample_grid(x_train, y_train, class_names) -> tuple[Figure, list[str]]:
    """Rows: the first GRID_IMAGES training images, then each distortion alone, then the
    study's front (all of them, the image sampled once)."""
    x = normalize(x_train[:GRID_IMAGES], "conv2d")
    layers = single_layers()
    rows = [("original", x)]
    for k, layer in enumerate(layers):
        front = Sequential([Input((28, 28, 1)), layer], seed=GRID_SEED + k)
        front.build()
        front.reseed(GRID_SEED + k)
        rows.append((type(layer).__name__, front(x, training=True)))
    front = Sequential([Input((28, 28, 1)), *augmentation()], seed=GRID_SEED)
    front.build()
    front.reseed(GRID_SEED)
    rows.append(("all (the study's)", front(x, training=True)))
    fig = Figure(figsize=(1.0 * GRID_IMAGES + 1.8, 1.0 * len(rows) + 0.8), layout="constrained")
    fig.suptitle("Training images through each distortion alone, and through all of them "
                 "(RandomDistortion + GaussianNoise, as trained)")
    axes = fig.subplots(len(rows), GRID_IMAGES, squeeze=False)
    for r, (label, images) in enumerate(rows):
        for c in range(GRID_IMAGES):
            ax = axes[r, c]
            ax.imshow(images[c, :, :, 0], cmap="gray_r", vmin=0, vmax=1,
                      interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(class_names[y_train[c]], fontsize=10)
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    return fig, [label for label, _ in rows]


def study(args, command: str, folder: Path) -> dict:
    started = datetime.now(UTC)
    env = environment(Path(__file__))
    spec = get_spec(args.dataset)
    x_train, y_train, x_test, y_test = compare.load_data(args)
    if args.quick:
        x_train, y_train = x_train[:QUICK_TRAIN_SAMPLES], y_train[:QUICK_TRAIN_SAMPLES]
        x_test, y_test = x_test[:QUICK_TEST_SAMPLES], y_test[:QUICK_TEST_SAMPLES]
    print(f"{args.dataset}: {len(x_train):,} training images ({args.train_split}), "
          f"{len(x_test):,} test images ({args.test_split}), {spec.num_classes} classes")
    warnings = compare.overlap_warning(spec, args)
    for warning in warnings:
        print(f"warning: {warning}")
    runs = {run.name: run for run in (
        train_and_test(augmented, x_train, y_train, x_test, y_test, spec.num_classes, args)
        for augmented in (False, True))}
    cost = augmentation_cost(x_train, args.batch_size)
    n_fit = runs["plain"].train_samples
    models = {name: summarize(run, y_test, spec.class_names) for name, run in runs.items()}
    results = {
        "run": {
            "command": command, "dataset": args.dataset, "data_note": compare.data_note(args),
            "class_names": list(spec.class_names), "train_split": args.train_split,
            "test_split": args.test_split, "quick": args.quick,
            "sizes": {"train": n_fit, "validation": len(x_train) - n_fit, "test": len(x_test)},
            "recipe": {"epochs": args.epochs, "batch_size": args.batch_size,
                       "learning_rate": compare.LEARNING_RATE,
                       "validation_split": compare.VALIDATION_SPLIT, "seed": args.seed},
            "augmentation": [{"layer": type(layer).__name__, **layer.get_config()}
                             for layer in augmentation()],
            "augmentation_only_samples_per_s": cost,
            "warnings": warnings,
            "started": started.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "environment": {**env, "threads": threads()},
        },
        "models": models,
    }
    figures = write_figures(folder, runs, models, x_test, y_test, spec.class_names)
    grid, labels = sample_grid(x_train, y_train, spec.class_names)
    plotting.save_figure(grid, folder / "augmented_samples.png")
    figures = {"augmented_samples.png": "Training images through each augmentation layer "
                                        f"({', '.join(labels[1:-1])}) and all of them",
               **figures}
    (folder / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (folder / "report.md").write_text(markdown(results, figures))
    return results


def markdown(results: dict, figures: dict[str, str]) -> str:
    run, models = results["run"], results["models"]
    plain, aug = models["plain"], models["augmented"]
    layers = ", ".join(f"{a['layer']}({', '.join(f'{k}={v}' for k, v in a.items() if k not in ('layer', 'fill_mode', 'fill_value'))})"  # noqa: E501
                       for a in run["augmentation"])
    gap = 100 * (aug["test_accuracy"] - plain["test_accuracy"])
    amb_gap = 100 * (aug["ambiguity"]["ambiguous_accuracy"]
                     - plain["ambiguity"]["ambiguous_accuracy"])
    slowdown = plain["train_samples_per_s"] / aug["train_samples_per_s"]
    sizes = run["sizes"]
    paragraph = (
        f"What was measured: the seed CNN trained for {run['recipe']['epochs']} epoch(s) on "
        f"{sizes['train']:,} images of {run['dataset']} ({run['train_split']}, the last "
        f"{sizes['validation']:,} held out for validation), batch {run['recipe']['batch_size']}, "
        f"Adam {run['recipe']['learning_rate']}, seed {run['recipe']['seed']}, from the same "
        f"initial weights twice: without augmentation, and behind {layers}, which act in "
        f"training only. Both were scored once on the {sizes['test']:,} test images "
        f"({run['test_split']}). Augmentation changed test accuracy by {gap:+.2f} points "
        f"and the look-alike-aware accuracy (look-alike groups such as o/O/0 scored as one "
        f"class) by {amb_gap:+.2f} points. Training samples/s is the training split times the "
        f"epochs over fit's wall time (validation included), on this machine "
        f"({run['environment'].get('cpu', 'CPU unknown')}, {run['environment']['threads']}): "
        f"augmentation made training {slowdown:.2f}x slower; the augmentation layers alone, in "
        f"training mode, ran at {run['augmentation_only_samples_per_s']:,.0f} samples/s. One "
        f"seed and one split: differences of a few tenths of a point are within what another "
        f"seed could give.")
    lines = ["# Data augmentation on the seed CNN", "", run["data_note"], "",
             markdown_table(*summary_table(models)), "", paragraph, ""]
    lines += [f"- warning: {w}" for w in run["warnings"]]
    lines += ["## Figures", ""]
    lines += [f"### {what}\n\n![{what}]({file})\n" for file, what in figures.items()]
    lines += ["## Command", "", f"    {run['command']}", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    command = shlex.join(["python", sys.argv[0] or "examples/augment.py", *argv])
    print(compare.data_note(args), flush=True)
    status, results = compare.run_staged(args, command, study)
    if status:
        return status
    print("\n" + terminal_table(results["models"]))
    print(f"augmentation layers alone: {results['run']['augmentation_only_samples_per_s']:,.0f}"
          " samples/s")
    print(f"\nreport: {args.out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
