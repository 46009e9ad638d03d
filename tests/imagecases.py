"""Real images for the prediction tests, made from MNIST/EMNIST test digits.

A small MLP is trained on a bundled sample (a few seconds); the test characters it reads
correctly and confidently are then written as the files a user would have: dark ink on
white paper, on a larger canvas, off centre, drawn 4x larger, in colour, with an alpha
channel, as JPEG. Shared by tests/test_imageprep.py and tests/test_predict_cli.py.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image

from scratchnet import Adam, Input, Sequential
from scratchnet.data import get_spec, load, normalize
from scratchnet.layers import Dense, Flatten

#: dataset -> the ``like`` its images were built by.
LIKE = {"mnist-sample": "mnist", "emnist-sample": "emnist"}


@functools.cache  # trained once per test run, shared by the test modules (do not train it)
def train_mlp(dataset: str, epochs: int = 8):
    """An MLP on ``dataset``'s train split; returns (model, test images uint8, labels)."""
    x, y = load(dataset, "train")
    classes = get_spec(dataset).num_classes
    model = Sequential([Input((28, 28)), Flatten(), Dense(128, activation="relu"),
                        Dense(classes, activation="softmax")], seed=0)
    model.compile(Adam(2e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(normalize(x, "lstm"), y, batch_size=64, epochs=epochs, verbose=0)
    xt, yt = load(dataset, "test")
    return model, xt, yt


def confident(model, images: np.ndarray, labels: np.ndarray, count: int, margin: float = 0.9):
    """Indices of ``count`` test images read correctly with probability above ``margin``,
    of different classes where possible (so the checks cover several characters)."""
    probs = model.predict(normalize(images, "lstm"))
    good = np.flatnonzero((probs.argmax(axis=1) == labels) & (probs.max(axis=1) > margin))
    picked, seen = [], set()
    for i in good:
        if labels[i] not in seen:
            picked.append(int(i))
            seen.add(labels[i])
        if len(picked) == count:
            break
    assert len(picked) == count, f"only {len(picked)} confident test images"
    return picked


def _upscale(ink: np.ndarray, factor: int) -> np.ndarray:
    """A smooth 4x enlargement (bicubic, as a scanner at higher resolution would see it)."""
    img = Image.fromarray(ink)
    return np.asarray(img.resize((ink.shape[1] * factor, ink.shape[0] * factor),
                                 Image.Resampling.BICUBIC))


def _on_canvas(ink: np.ndarray, shape: tuple[int, int], at: tuple[int, int]) -> np.ndarray:
    canvas = np.zeros(shape, dtype=np.uint8)
    canvas[at[0]:at[0] + ink.shape[0], at[1]:at[1] + ink.shape[1]] = ink
    return canvas


def _shift_to_corner(ink: np.ndarray) -> np.ndarray:
    """The same 28 x 28 frame with the character moved to its top-left corner."""
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return np.roll(ink, (-rows[0], -cols[0]), axis=(0, 1))


def _paper(ink: np.ndarray, paper=(245, 240, 225), pen=(25, 35, 120)) -> np.ndarray:
    """Coloured pen on coloured paper, mixed by the ink's coverage (RGB uint8)."""
    a = ink[..., None] / 255.0
    return np.round(np.array(paper) * (1 - a) + np.array(pen) * a).astype(np.uint8)


def _photo(ink: np.ndarray) -> np.ndarray:
    """A phone photo: paper lit from the left (0.92 down to 0.62), grain (sigma 0.02, fixed
    seed), a pen at 0.15, the character 4x larger and off centre."""
    a = _on_canvas(_upscale(ink, 4), (400, 300), (100, 120)) / 255.0
    paper = np.linspace(0.92, 0.62, 300)[None, :] + np.random.default_rng(0).normal(
        0, 0.02, (400, 300))
    return np.clip(np.round(255 * (paper * (1 - a) + 0.15 * a)), 0, 255).astype(np.uint8)


def variants(ink: np.ndarray) -> dict[str, np.ndarray]:
    """The user's versions of one dataset image (uint8 (28, 28), light ink on 0).

    Every value is a uint8 array: (H, W) gray, (H, W, 3) RGB or (H, W, 4) RGBA.
    """
    big = _upscale(ink, 4)
    return {
        "inverted": 255 - ink,
        "padded": _on_canvas(ink, (90, 70), (31, 21)),
        "shifted": _shift_to_corner(ink),
        "scaled4x": big,
        "inverted_padded_shifted_4x": 255 - _on_canvas(big, (300, 400), (10, 270)),
        "rgb_paper": _paper(_on_canvas(big, (200, 160), (60, 5))),
        # Dark ink drawn on a transparent canvas (a sketchpad's export).
        "rgba_transparent": np.dstack([np.zeros((28, 28, 3), np.uint8), ink]),
        "rgba_opaque": np.dstack([np.repeat((255 - ink)[..., None], 3, axis=2),
                                  np.full((28, 28), 255, np.uint8)]),
        "photo": _photo(ink),
    }


def write_variants(folder: Path, stem: str, ink: np.ndarray) -> dict[str, Path]:
    """Write every variant as PNG, except the photo as JPEG (quality 85), and the combined
    one as JPEG too (quality 75); name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    made = variants(ink)
    for name, pixels in made.items():
        paths[name] = folder / f"{stem}_{name}.{'jpg' if name == 'photo' else 'png'}"
        Image.fromarray(pixels).save(paths[name], **({"quality": 85} if name == "photo" else {}))
    paths["jpeg_q75"] = folder / f"{stem}_jpeg_q75.jpg"
    Image.fromarray(made["inverted_padded_shifted_4x"]).save(paths["jpeg_q75"], quality=75)
    return paths
