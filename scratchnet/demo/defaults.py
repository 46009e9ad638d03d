"""The demo's default models: the seed CNN and LSTM, trained briefly on a bundled sample.

Without ``--models`` the demo still has something to show, with no data folder and no
network: the two seed architectures learn the sample that ships with scratchnet
(``mnist-sample``: 4,000 training digits) for a few epochs, seconds to tens of seconds
on two cores. The trained models are saved in scratchnet's cache folder and loaded from
there the next time; the file name carries the recipe and scratchnet's version, so a
changed recipe trains afresh instead of loading a stale model. The interface says which
happened, and each model's accuracy on the sample's test images, measured at start.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .inference import DemoModel

__all__ = ["RECIPES", "SAMPLES", "Recipe", "cache_path", "default_models"]

#: The bundled samples the default models can learn (scratchnet/data/samples).
SAMPLES = ("mnist-sample", "emnist-sample")


@dataclass(frozen=True)
class Recipe:
    """How one default model is made: a seed architecture, its input layout, its epochs."""

    name: str
    architecture: str  # a function of scratchnet.seed_models
    layout: str  # scratchnet.data.normalize's layout: "conv2d" or "lstm"
    epochs: int
    batch_size: int = 64
    seed: int = 0
    split: str = "train"  # of the sample, in scratchnet.data.load's slice syntax

    def key(self, sample: str) -> str:
        """A short digest of everything that changes the trained weights."""
        from scratchnet import __version__

        text = f"{__version__}|{sample}|{self!r}"
        return hashlib.sha256(text.encode()).hexdigest()[:12]


# The LSTM gets more epochs than the CNN: it learns the sample more slowly per epoch
# but each of its epochs is cheaper.
RECIPES = (Recipe("cnn", "seed_cnn", "conv2d", epochs=3),
           Recipe("lstm", "seed_lstm", "lstm", epochs=6))


def cache_path(recipe: Recipe, sample: str, folder: Path | None = None) -> Path:
    """Where ``recipe`` trained on ``sample`` is cached (``<cache>/demo/...scratchnet``)."""
    if folder is None:
        from scratchnet.data import cache_dir

        folder = cache_dir() / "demo"
    return Path(folder) / f"{sample}-{recipe.name}-{recipe.key(sample)}.scratchnet"


def _epochs(recipe: Recipe) -> str:
    return f"{recipe.epochs} epoch{'' if recipe.epochs == 1 else 's'}"


def _accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(model.predict(x, batch_size=256).argmax(axis=1) == y))


def _train(recipe: Recipe, sample: str, class_names: tuple[str, ...]):
    from scratchnet import seed_models
    from scratchnet.data import load, normalize

    x, y = load(sample, recipe.split)
    model = getattr(seed_models, recipe.architecture)(len(class_names), seed=recipe.seed)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(normalize(x, recipe.layout), y, batch_size=recipe.batch_size,
              epochs=recipe.epochs, verbose=0)
    model.class_names = class_names
    return model, len(x)


def default_models(sample: str = "mnist-sample", folder: Path | None = None,
                   log: Callable[[str], None] | None = None,
                   recipes: tuple[Recipe, ...] = RECIPES) -> tuple[list[DemoModel], str]:
    """Load the default models from the cache, or train and cache them.

    Parameters
    ----------
    sample : {"mnist-sample", "emnist-sample"}
        What they learn.
    folder : path, optional
        The cache folder (default: ``scratchnet.data.cache_dir() / "demo"``).
    log : callable, optional
        Receives a line per step (default: print to stderr).
    recipes : tuple of Recipe
        The models (default :data:`RECIPES`).

    Returns
    -------
    (list of DemoModel, str)
        The models, and one sentence for the interface saying where they came from.
    """
    import scratchnet
    from scratchnet.data import get_spec, load, normalize

    if sample not in SAMPLES:
        raise ValueError(f"unknown sample {sample!r}: choose one of {', '.join(SAMPLES)}")
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    class_names = tuple(get_spec(sample).class_names)
    x_test, y_test = load(sample, "test")
    entries, how = [], []
    for recipe in recipes:
        path = cache_path(recipe, sample, folder)
        model = None
        if path.exists():
            try:
                model = scratchnet.load_model(path)
            except scratchnet.ModelFileError as exc:
                log(f"scratchnet demo: the cached {recipe.name} is unreadable ({exc}); "
                    "training it again")
        if model is not None:
            origin = f"loaded from the cache {path} ({_epochs(recipe)} on {sample})"
            how.append("loaded")
        else:
            log(f"scratchnet demo: training the default {recipe.name} on {sample} "
                f"({_epochs(recipe)})...")
            start = time.perf_counter()
            model, n = _train(recipe, sample, class_names)
            seconds = time.perf_counter() - start
            origin = (f"trained just now on {sample} ({n:,} images, {_epochs(recipe)}, "
                      f"{seconds:.1f} s)")
            how.append("trained")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                model.save(path)
                origin += f", cached in {path}"
            except OSError as exc:
                origin += f", not cached ({exc.strerror or exc})"
        accuracy = _accuracy(model, normalize(x_test, recipe.layout), y_test)
        origin += f"; {accuracy:.1%} of the sample's {len(y_test):,} test images right"
        entries.append(DemoModel.check(recipe.name, model, class_names, origin))
    if set(how) == {"trained"}:
        verb = "were trained just now on"
    elif set(how) == {"loaded"}:
        verb = "were loaded from the cache, trained earlier on"
    else:
        verb = "were trained just now or loaded from the cache (each card says which), on"
    summary = (f"No --models given: the seed CNN and LSTM {verb} the bundled {sample}, a "
               "small sample, so they are weaker than models trained on the full dataset.")
    return entries, summary
