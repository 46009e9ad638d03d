"""``scratchnet predict MODEL IMAGE...``: read handwritten characters with a saved model.

Each image goes through :func:`scratchnet.preprocess_image` and the model; the top-k
classes are printed as characters, with their probabilities::

    $ scratchnet predict digits.scratchnet my_digit.png      # the README's example
    my_digit.png: 3 99.6%, 2 0.2%, 9 0.1%, 8 <0.1%, 7 <0.1%

The characters come from the model's ``class_names`` (saved with the model when it was
set); a model without them is read by its output width (10 -> digits, 47 -> EMNIST
ByMerge/Balanced, ...) and the command says so. A folder stands for the images in it
(by file name ending, sorted), which are read and predicted ``--batch-size`` at a time.
An image that cannot be read is reported on stderr by name, the others are still
predicted, and the exit status is 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scratchnet.imageprep import IMAGE_SUFFIXES, ImageError, preprocess_image

__all__ = ["class_names_for", "image_paths", "model_input", "Prediction", "predict_files",
           "run"]

#: Output width -> the registry dataset whose classes a model of that width most likely has.
_BY_WIDTH = {10: "mnist", 47: "emnist-bymerge", 62: "emnist-byclass", 26: "emnist-letters"}
#: Image shapes a 28 x 28 model can take, as the data loads them ('lstm', 'conv2d', flat).
_INPUT_SHAPES = ((28, 28), (28, 28, 1), (784,))


class PredictError(Exception):
    """A problem with the model or the arguments: one line on stderr, exit status 2."""


@dataclass
class Prediction:
    """One image's top classes: ``(class index, name, probability)``, most likely first."""

    file: str
    top: list[tuple[int, str, float]] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"file": self.file, "top": [{"class": c, "name": n, "probability": p}
                                           for c, n, p in self.top]}

    def as_text(self) -> str:
        return f"{self.file}: " + ", ".join(f"{n} {_percent(p)}" for _, n, p in self.top)


def _percent(p: float) -> str:
    return f"{100 * p:.1f}%" if p >= 0.0005 else "<0.1%"  # not "0.0%": it is not zero


def image_paths(arguments: Sequence[str]) -> list[Path]:
    """The files the arguments name, each folder replaced by its images (sorted by name).

    Raises
    ------
    PredictError
        For a folder that holds no image files.
    """
    paths: list[Path] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            found = sorted(p for p in path.iterdir()
                           if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise PredictError(f"{path}: the folder holds no images (looked for "
                                   f"{', '.join(IMAGE_SUFFIXES)})")
            paths.extend(found)
        else:
            paths.append(path)  # preprocess_image names it if missing or not an image
    return paths


def class_names_for(model, width: int) -> tuple[list[str], str]:
    """The model's class names and where they came from, in words.

    The model's own ``class_names`` when it carries them; otherwise those of the
    registered dataset whose class count equals the output width; otherwise the indices.
    """
    from scratchnet.data import get_spec

    names = getattr(model, "class_names", None)
    if names is not None:
        if len(names) != width:
            raise PredictError(f"the model has {width} outputs but {len(names)} class names; "
                               "set model.class_names to one name per output and save again")
        return list(names), "the model's class names"
    if width in _BY_WIDTH:
        spec = get_spec(_BY_WIDTH[width])
        return list(spec.class_names), (
            f"the model carries no class names: its {width} outputs are read as "
            f"{spec.name}'s classes (set model.class_names before saving to choose)")
    return [str(i) for i in range(width)], (
        f"the model carries no class names and no dataset has {width} classes: printing "
        "class indices (set model.class_names before saving)")


def model_input(model, images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) preprocessed images in the layout the model takes.

    Raises
    ------
    PredictError
        If the model's input is not a 28 x 28 image (in any of its layouts).
    """
    shape = tuple(model.input_shape or ())
    if shape not in _INPUT_SHAPES:
        raise PredictError(
            f"the model takes inputs of shape {shape}, not a 28 x 28 image: predict reads "
            "characters for models trained on MNIST/EMNIST-sized inputs, of shape "
            + ", ".join(str(s) for s in _INPUT_SHAPES))
    return images.reshape((len(images), *shape))


def _probabilities(outputs: np.ndarray) -> np.ndarray:
    # A model that ends in softmax gives probabilities; one that ends in logits is
    # read through a softmax, so the percentages mean the same either way.
    outputs = outputs.astype(np.float64)
    if outputs.min() >= 0 and np.allclose(outputs.sum(axis=1), 1.0, atol=1e-3):
        return outputs
    shifted = np.exp(outputs - outputs.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _batches(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def predict_files(model, paths: Sequence[Path], like: str, top_k: int, batch_size: int,
                  names: list[str]) -> tuple[list[Prediction], list[tuple[str, str]]]:
    """Predict every readable image; returns (predictions, [(file, error message)])."""
    predictions, errors = [], []
    for batch in _batches(list(paths), batch_size):
        ready, images = [], []
        for path in batch:
            try:
                images.append(preprocess_image(path, like=like))
            except ImageError as err:
                errors.append((str(path), str(err)))
                continue
            ready.append(path)
        if not ready:
            continue
        probs = _probabilities(model.predict(model_input(model, np.stack(images)),
                                             batch_size=len(ready)))
        k = min(top_k, probs.shape[1])
        for path, row in zip(ready, probs, strict=True):
            order = np.argsort(-row, kind="stable")[:k]  # ties: the lower class first
            predictions.append(Prediction(str(path), [(int(c), names[c], float(row[c]))
                                                      for c in order]))
    return predictions, errors


def _load(model_path: str):
    from scratchnet import load_model

    try:
        return load_model(model_path)
    except (OSError, ValueError) as err:  # ModelFileError is a ValueError naming the file
        message = str(err)
        raise PredictError(message if model_path in message else f"{model_path}: {message}"
                           ) from None


def run(args: argparse.Namespace) -> int:
    """The ``predict`` command: returns the exit status (0, or 2 on any bad input)."""
    try:
        if args.top_k < 1:
            raise PredictError(f"--top-k must be at least 1, got {args.top_k}")
        if args.batch_size < 1:
            raise PredictError(f"--batch-size must be at least 1, got {args.batch_size}")
        paths = image_paths(args.images)
        model = _load(args.model)
        try:
            model_input(model, np.zeros((0, 28, 28), np.float32))  # the shape check, up front
            width = int(model.output_shape[-1])
            names, source = class_names_for(model, width)
        except PredictError as err:
            raise PredictError(f"{args.model}: {err}") from None
        # Ten classes are MNIST's digits; wider models were trained on EMNIST.
        like = args.like or ("mnist" if width == 10 else "emnist")
        predictions, errors = predict_files(model, paths, like, args.top_k, args.batch_size,
                                            names)
    except PredictError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if source != "the model's class names":
        print(f"note: {source}", file=sys.stderr)
    if args.like is None:
        print(f"note: images prepared like {like.upper()} (--like to choose)", file=sys.stderr)
    if args.json:
        json.dump({"model": args.model, "like": like, "class_names": source,
                   "predictions": [p.as_json() for p in predictions],
                   "errors": [{"file": f, "error": e} for f, e in errors]},
                  sys.stdout, indent=2)
        print()
    else:
        for p in predictions:
            print(p.as_text())
    for _, message in errors:
        print(f"error: {message}", file=sys.stderr)
    return 2 if errors else 0
