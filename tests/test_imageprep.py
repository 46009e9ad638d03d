"""preprocess_image on real images made from MNIST/EMNIST test characters.

The bundled samples make these run everywhere; with SCRATCHNET_DATA, the MNIST
fixed-point check also runs on the full official test set.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from imagecases import LIKE, confident, train_mlp, variants, write_variants
from PIL import Image

import scratchnet
from scratchnet import imageprep
from scratchnet.data import load
from scratchnet.imageprep import ImageError, preprocess_image


def _trained(dataset):
    """(dataset, model, test images, labels, indices of confident test characters)."""
    model, xt, yt = train_mlp(dataset)
    return dataset, model, xt, yt, confident(model, xt, yt, count=4)


@pytest.fixture(scope="module")
def mnist_trained():
    return _trained("mnist-sample")


@pytest.fixture(scope="module")
def emnist_trained():
    return _trained("emnist-sample")


@pytest.fixture(params=["mnist", "emnist"])
def trained(request):
    return request.getfixturevalue(f"{request.param}_trained")


# -- each user version of a test character is read as the original --------------------------
def test_real_image_files_are_predicted_as_the_originals(trained, tmp_path):
    dataset, model, xt, yt, picked = trained
    like = LIKE[dataset]
    for i in picked:
        paths = write_variants(tmp_path, f"{dataset}_{i}", xt[i])
        batch = preprocess_image(list(paths.values()), like=like)
        assert batch.shape == (len(paths), 28, 28) and batch.dtype == np.float32
        assert 0.0 <= batch.min() and batch.max() == 1.0
        predicted = model.predict(batch).argmax(axis=1)
        wrong = {name: int(p) for name, p in zip(paths, predicted, strict=True) if p != yt[i]}
        assert not wrong, f"{dataset} test image {i} (label {yt[i]}) misread as {wrong}"
        # Not merely the same class: the same picture, up to the resampling of the 4x
        # bicubic enlargement and JPEG's losses (measured: at most 0.08 on 40 characters
        # of each sample, where two different test characters are 0.17 to 0.22 apart).
        reference = preprocess_image(xt[i], like=like)
        for name, image in zip(paths, batch, strict=True):
            assert np.abs(image - reference).mean() < 0.1, name


def test_arrays_give_what_their_files_give(tmp_path):
    x, _ = load("mnist-sample", "test")
    paths = write_variants(tmp_path, "d", x[3])
    arrays = variants(x[3])
    for name, pixels in arrays.items():
        if paths[name].suffix == ".png":  # lossless: the same pixels, the same result
            np.testing.assert_array_equal(preprocess_image(pixels),
                                          preprocess_image(paths[name]), err_msg=name)


def test_inverted_padded_and_shifted_are_exactly_the_original():
    # Whole-pixel moves and inversion lose nothing: the output is bit for bit the same
    # (through the colour path, up to one grey level: the luma weights' rounding can tip
    # a value lying exactly between two levels).
    x, _ = load("mnist-sample", "test")
    for ink in x[:20]:
        want = preprocess_image(ink)
        for name, pixels in variants(ink).items():
            got = preprocess_image(pixels)
            if name in ("inverted", "padded", "shifted"):
                np.testing.assert_array_equal(got, want, err_msg=name)
            elif name.startswith("rgba"):
                np.testing.assert_allclose(got, want, rtol=0, atol=1.01 / 255, err_msg=name)


def test_a_4x_pixel_replica_shrinks_back_exactly():
    # Area resampling of each 4x4 block of equal pixels returns that pixel.
    x, _ = load("mnist-sample", "test")
    for ink in x[:20]:
        big = np.kron(ink, np.ones((4, 4), dtype=np.uint8))
        np.testing.assert_array_equal(preprocess_image(big), preprocess_image(ink))


# -- already in dataset form: (nearly) a fixed point ----------------------------------------
def _fixed_point_check(x: np.ndarray, monkeypatch) -> None:
    # Raw digits come back close: only the faintest edge pixels go.
    raw = preprocess_image(x)
    assert np.abs(raw - x / np.float32(255)).mean() < 0.01
    # With no faint cut, every digit normalised as MNIST says (its ink spans 20 px and
    # reaches 255: 8977 of t10k's 10000) and with no lone ink pixel (which preprocess_image
    # leaves out of the box, as noise; 50 of the 8977) comes back bit for bit. The crop,
    # the 20-px scale and the whole-pixel centre-of-mass shift (ties included) are MNIST's.
    monkeypatch.setattr(imageprep, "FAINT", 1e-9)
    span = np.array([max(np.ptp(np.flatnonzero(im.any(axis=a))) + 1 for a in (0, 1))
                     for im in x])
    lone = np.array([((im > 0) & ~imageprep._has_neighbour(im > 0)).any() for im in x])
    normal = (x.max(axis=(1, 2)) == 255) & (span == 20) & ~lone
    assert normal.mean() > 0.8
    np.testing.assert_array_equal(preprocess_image(x[normal]), x[normal] / np.float32(255))


def test_an_mnist_digit_is_its_own_preprocessing(monkeypatch):
    x, _ = load("mnist-sample", "test")
    _fixed_point_check(x, monkeypatch)


# The bundled sample's digits are checked the same way in the default run; all of t10k
# is opt-in (--runslow).
@pytest.mark.slow
@pytest.mark.realdata
def test_an_mnist_digit_is_its_own_preprocessing_on_all_of_t10k(monkeypatch):
    if not os.environ.get("SCRATCHNET_DATA"):
        pytest.skip("SCRATCHNET_DATA is not set (the official MNIST test set lives there)")
    x, _ = load("mnist", "test", data_dir=os.environ["SCRATCHNET_DATA"])
    _fixed_point_check(x, monkeypatch)


def test_emnist_output_is_upright_and_close_to_the_dataset(emnist_trained):
    _, model, xt, yt, _ = emnist_trained
    out = preprocess_image(xt, like="emnist")
    ref = xt / np.float32(255)
    # Oriented as scratchnet.data loads EMNIST (upright), not as its files store it.
    assert np.abs(out - ref).mean() < 0.05
    assert np.abs(out - ref).mean() < 0.5 * np.abs(out - ref.transpose(0, 2, 1)).mean()
    # The small model reads them as well as the dataset's own images (EMNIST's blurred
    # edges are partly cut as background, so not every uncertain guess stays the same).
    accuracy = [(model.predict(x).argmax(axis=1) == yt).mean() for x in (out, ref)]
    assert accuracy[0] > accuracy[1] - 0.03, accuracy


def test_like_picks_the_datasets_geometry():
    x, _ = load("mnist-sample", "test")
    for ink in x[:20]:
        for like, side in (("mnist", 20), ("emnist", 24)):
            out = preprocess_image(ink, like=like)
            rows = np.flatnonzero(out.any(axis=1))
            cols = np.flatnonzero(out.any(axis=0))
            assert side <= max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= side + 1
            if like == "emnist":  # the box is centred, to within the anti-aliased fringe
                assert abs((rows[0] + rows[-1]) / 2 - 13.5) <= 1.0
                assert abs((cols[0] + cols[-1]) / 2 - 13.5) <= 1.0
            else:
                grid = np.arange(28)
                com = out.sum(1) @ grid / out.sum(), out.sum(0) @ grid / out.sum()
                assert all(abs(c - 14) <= 0.5 + 1e-9 for c in com), com


# -- layouts and dtypes ----------------------------------------------------------------------
def test_dtypes_and_layouts_agree():
    x, _ = load("mnist-sample", "test")
    ink = x[7]
    want = preprocess_image(ink)
    same = {
        "float64": ink / 255.0,
        "float32": (ink / np.float32(255)).astype(np.float32),
        "uint16": ink.astype(np.uint16) * 257,
        "channel": ink[..., None],
        "rgb": np.repeat(ink[..., None], 3, axis=2),
    }
    for name, pixels in same.items():
        np.testing.assert_allclose(preprocess_image(pixels), want, atol=1 / 255, err_msg=name)
    binary = preprocess_image(ink > 127)
    assert binary.shape == (28, 28) and binary.max() == 1.0
    # Batches: a 3-D array of gray images, a 4-D array, and a list of mixed layouts.
    batch = preprocess_image(x[:5])
    assert batch.shape == (5, 28, 28)
    np.testing.assert_array_equal(batch[2], preprocess_image(x[2]))
    np.testing.assert_array_equal(preprocess_image(x[:5, ..., None]), batch)
    mixed = preprocess_image([x[0], np.dstack([x[1]] * 3), x[2] / 255.0])
    np.testing.assert_allclose(mixed, batch[:3], atol=1 / 255)


def test_sixteen_bit_and_exif_rotated_files(tmp_path):
    x, _ = load("mnist-sample", "test")
    ink = x[11]
    want = preprocess_image(ink)
    sixteen = tmp_path / "deep.png"
    Image.fromarray(ink.astype(np.uint16) * 257).save(sixteen)
    np.testing.assert_array_equal(preprocess_image(sixteen), want)
    # A phone stores the sensor's pixels and an EXIF tag saying how to turn them: here
    # the pixels are the digit turned 90 degrees anticlockwise, and tag 6 ("turn 90
    # degrees clockwise to show") turns them back.
    photo = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.rot90(255 - np.kron(ink, np.ones((8, 8), np.uint8)), k=1)).save(
        photo, quality=95, exif=exif)
    assert np.abs(preprocess_image(photo) - want).mean() < 0.02


@pytest.mark.parametrize("mode, suffix", [("1", "png"), ("L", "png"), ("P", "png"),
                                          ("LA", "png"), ("RGBA", "png"), ("I;16", "tif"),
                                          ("I", "tif"), ("CMYK", "tif"), ("RGB", "bmp")])
def test_every_pixel_format_read_and_reduced(tmp_path, mode, suffix):
    # 1120 px tall: above MAX_SIDE, so each format also goes through the reduction.
    x, _ = load("mnist-sample", "test")
    big = np.kron(255 - x[0], np.ones((40, 40), np.uint8))
    image = Image.fromarray(big.astype(np.uint16) * 257) if mode == "I;16" else (
        Image.fromarray(big).convert(mode))
    path = tmp_path / f"digit.{suffix}"
    image.save(path)
    assert Image.open(path).mode == mode
    tolerance = 0.01 if mode == "1" else 1e-6  # 1-bit: the edges' grey levels are lost
    assert np.abs(preprocess_image(path) - preprocess_image(x[0])).mean() < tolerance


def test_a_photo_sized_file_is_reduced_first(tmp_path):
    x, _ = load("mnist-sample", "test")
    ink = np.kron(255 - x[5], np.ones((40, 40), np.uint8))  # 1120 px tall
    canvas = np.full((2400, 1800), 255, np.uint8)
    canvas[700:1820, 300:1420] = ink
    path = tmp_path / "photo.png"
    Image.fromarray(canvas).save(path)
    assert np.abs(preprocess_image(path) - preprocess_image(x[5])).mean() < 0.02


def test_deterministic_and_no_side_effects(tmp_path):
    x, _ = load("emnist-sample", "test")
    paths = write_variants(tmp_path, "e", x[0])
    image = variants(x[0])["rgb_paper"]
    before = image.copy()
    first = preprocess_image(list(paths.values()), like="emnist")
    second = preprocess_image(list(paths.values()), like="emnist")
    assert first.tobytes() == second.tobytes()
    preprocess_image(image)
    np.testing.assert_array_equal(image, before)  # the input is not modified


def test_exported_from_the_package():
    assert scratchnet.preprocess_image is preprocess_image
    assert issubclass(scratchnet.ImageError, ValueError)


# -- bad input: one exception type, naming the image and what to do ------------------------
@pytest.mark.parametrize("content, match", [
    (b"", "empty"),
    (b"hello, not an image\n", "not an image file"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "damaged or truncated|not an image"),
])
def test_bad_files_are_named(tmp_path, content, match):
    path = tmp_path / "digit.png"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=match) as info:
        preprocess_image(path)
    assert str(path) in str(info.value)


def test_truncated_png_is_named(tmp_path):
    x, _ = load("mnist-sample", "test")
    path = tmp_path / "cut.png"
    Image.fromarray(np.kron(x[0], np.ones((8, 8), np.uint8))).save(path)
    path.write_bytes(path.read_bytes()[:400])
    with pytest.raises(ImageError, match="cut.png"):
        preprocess_image(path)


def test_all_one_colour(tmp_path):
    path = tmp_path / "blank.png"
    Image.fromarray(np.full((40, 30, 3), 200, np.uint8)).save(path)
    with pytest.raises(ImageError, match=f"{path}: the image is all one colour"):
        preprocess_image(path)
    with pytest.raises(ImageError, match="image 1 of the batch: the image is all one colour"):
        preprocess_image([np.eye(28), np.zeros((28, 28))])
    clear = np.zeros((28, 28, 4), np.uint8)  # fully transparent
    with pytest.raises(ImageError, match="all one colour"):
        preprocess_image(clear)


def test_missing_path_and_folder(tmp_path):
    with pytest.raises(ImageError, match="does not exist"):
        preprocess_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="is a folder"):
        preprocess_image(Path(tmp_path))


@pytest.mark.parametrize("pixels, match", [
    (np.full((28, 28), 2.0), r"float pixels must lie in \[0, 1\].*divide by 255"),
    (np.where(np.eye(28) > 0, np.nan, 0.5), "NaN or inf"),
    (np.eye(28, dtype=np.int64), "dtype int64 is not a pixel type"),
    (np.zeros((28, 28, 2), np.uint8), "2 channels"),
    (np.zeros(28, np.uint8), "not an image"),
    (np.zeros((0, 28), np.uint8), "no pixels"),
    ([], "the batch is empty"),
])
def test_bad_arrays(pixels, match):
    with pytest.raises(ImageError, match=match):
        preprocess_image(pixels)


def test_unknown_like():
    with pytest.raises(ValueError, match="like must be one of"):
        preprocess_image(np.eye(28), like="kmnist")
