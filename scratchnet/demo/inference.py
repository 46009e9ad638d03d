"""What the demo shows, computed without a browser: each model's best guesses and its time.

A :class:`DemoModel` is a trained model with the names of its classes and the way its
training images were framed (MNIST's or EMNIST's, see ``scratchnet.preprocess_image``).
:func:`predict` runs the model's own ``predict`` on one preprocessed 28 x 28 image and
times it; :func:`disagreements` lists the pairs of models whose best guesses differ.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["DemoModel", "Prediction", "disagreements", "framing_for", "predict", "predict_all",
           "top_k"]

#: The side of the images every demo model reads (MNIST's and EMNIST's 28 x 28).
SIDE = 28
_DIGITS = tuple("0123456789")


def framing_for(class_names: Sequence[str]) -> str:
    """``"mnist"`` for a digit classifier, else ``"emnist"``: how its training set framed ink.

    MNIST fits the ink in 20 x 20 and centres its mass; EMNIST fills the frame. A model reads
    a new image best when it is framed as its training images were.
    """
    return "mnist" if tuple(class_names) == _DIGITS else "emnist"


@dataclass(frozen=True)
class DemoModel:
    """A model the demo compares.

    Attributes
    ----------
    name : str
        Its title in the interface (unique among the demo's models).
    model : scratchnet.Sequential
        Input (28, 28) or (28, 28, 1), output (C,) probabilities (a final softmax).
    class_names : tuple of str, length C
        The character of each class.
    origin : str
        Where it came from (a file, the cache, trained just now), said in the interface.
    """

    name: str
    model: object
    class_names: tuple[str, ...]
    origin: str

    @property
    def framing(self) -> str:
        return framing_for(self.class_names)

    @classmethod
    def check(cls, name: str, model, class_names: Sequence[str] | None, origin: str
              ) -> DemoModel:
        """Wrap ``model`` after checking that the demo can feed and read it.

        A probe prediction on a blank image checks the output is a probability vector and
        compiles the model's kernels now, so the first timed prediction is not a compile.

        Raises
        ------
        ValueError
            Naming the model and what does not fit: an input other than 28 x 28, class
            names that do not match the output, outputs that are not probabilities.
        """
        shape = tuple(model.input_shape or ())
        if int(np.prod(shape, dtype=np.int64)) != SIDE * SIDE or shape[:2] != (SIDE, SIDE):
            raise ValueError(
                f"model {name!r} reads inputs of shape {shape}, but the demo draws 28 x 28 "
                "characters: give it a model whose input is (28, 28) or (28, 28, 1)")
        (classes,) = tuple(model.output_shape)
        names = tuple(str(c) for c in class_names) if class_names else tuple(
            str(i) for i in range(classes))
        if len(names) != classes:
            raise ValueError(
                f"model {name!r} has {classes} outputs but {len(names)} class names; "
                "save it with the class names of the data it learned")
        probe = model.predict(np.zeros((1, *shape), dtype=model.dtype))[0]
        if not (np.all(probe >= 0) and abs(float(probe.sum()) - 1.0) < 1e-3):
            raise ValueError(
                f"model {name!r} does not output probabilities (its outputs on a blank image "
                f"sum to {float(probe.sum()):.4g}); the demo needs a model ending in softmax")
        return cls(name, model, names, origin)


@dataclass(frozen=True)
class Prediction:
    """One model's answer for one image.

    Attributes
    ----------
    name : str
        The model's name.
    top : tuple of (str, float)
        The k most probable classes, best first: (class name, probability).
    seconds : float
        Wall time of the model's ``predict`` on this one image.
    """

    name: str
    top: tuple[tuple[str, float], ...]
    seconds: float

    @property
    def label(self) -> str:
        """The best guess."""
        return self.top[0][0]

    @property
    def confidence(self) -> float:
        return self.top[0][1]


def top_k(probabilities: np.ndarray, class_names: Sequence[str], k: int = 5
          ) -> tuple[tuple[str, float], ...]:
    """The ``k`` most probable classes of ``probabilities`` (C,), best first; ties by index."""
    order = np.argsort(-np.asarray(probabilities, dtype=np.float64), kind="stable")[:k]
    return tuple((class_names[i], float(probabilities[i])) for i in order)


def predict(entry: DemoModel, image: np.ndarray, k: int = 5) -> Prediction:
    """Run ``entry``'s model on one preprocessed image and time it.

    Parameters
    ----------
    image : numpy.ndarray, float32, shape (28, 28), values in [0, 1]
        As ``scratchnet.preprocess_image`` returns it, framed as ``entry.framing``.
    """
    x = np.asarray(image).reshape((1, *entry.model.input_shape))
    start = time.perf_counter()
    probabilities = entry.model.predict(x)[0]
    seconds = time.perf_counter() - start
    return Prediction(entry.name, top_k(probabilities, entry.class_names, k), seconds)


def disagreements(predictions: Sequence[Prediction]) -> list[tuple[int, int]]:
    """Every pair ``(i, j)``, ``i < j``, of predictions whose best guesses differ."""
    return [(i, j) for i in range(len(predictions)) for j in range(i + 1, len(predictions))
            if predictions[i].label != predictions[j].label]


def predict_all(entries: Sequence[DemoModel], image, k: int = 5
                ) -> tuple[dict[str, np.ndarray], list[Prediction]]:
    """Preprocess ``image`` once per framing the models need, then ask every model.

    Parameters
    ----------
    image : path or numpy.ndarray
        Anything ``scratchnet.preprocess_image`` takes: a file, or an (H, W) or
        (H, W, 3) uint8 picture of one character.

    Returns
    -------
    (dict, list of Prediction)
        The network inputs by framing (``"mnist"``/``"emnist"`` -> float32 (28, 28) in
        [0, 1]), in the models' order, and each model's prediction, in order.
    """
    from scratchnet import preprocess_image

    inputs = {f: preprocess_image(image, like=f)
              for f in dict.fromkeys(e.framing for e in entries)}
    return inputs, [predict(e, inputs[e.framing], k) for e in entries]
