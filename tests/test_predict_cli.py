"""``python -m scratchnet predict``: real image files of sample test characters, read by a
saved model in a fresh process, as a user would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from imagecases import confident, train_mlp, write_variants
from PIL import Image

from scratchnet import Input, Sequential, cli
from scratchnet.data import get_spec
from scratchnet.imageprep import preprocess_image
from scratchnet.layers import Dense, Flatten

ROOT = Path(__file__).resolve().parent.parent


def _run(*args):
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "scratchnet", "predict", *map(str, args)],
                          env=env, capture_output=True, text=True, timeout=300, cwd=ROOT,
                          stdin=subprocess.DEVNULL)


def _setup(dataset, folder: Path, class_names: bool):
    """A saved model and a folder of user versions of the test characters it reads well."""
    model, xt, yt = train_mlp(dataset)
    names = get_spec(dataset).class_names
    path = folder / f"{dataset}.scratchnet"
    model.class_names = list(names) if class_names else None
    try:
        model.save(path)
    finally:
        model.class_names = None  # the model is shared (imagecases.train_mlp caches it)
    images = folder / "images"
    expected = {}
    for i in confident(model, xt, yt, count=3):
        for file in write_variants(images, f"{dataset}_{i}", xt[i]).values():
            expected[str(file)] = names[yt[i]]
    return model, path, images, expected


@pytest.fixture(scope="module")
def mnist_case(tmp_path_factory):
    return _setup("mnist-sample", tmp_path_factory.mktemp("mnist"), class_names=True)


@pytest.fixture(scope="module")
def emnist_case(tmp_path_factory):
    return _setup("emnist-sample", tmp_path_factory.mktemp("emnist"), class_names=False)


# -- real images, through a fresh process -----------------------------------------------------
def test_a_folder_as_json_is_read_as_the_originals(mnist_case):
    model, path, images, expected = mnist_case
    result = _run(path, images, "--json", "--top-k", "3", "--batch-size", "7")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    out = json.loads(result.stdout)
    assert out["like"] == "mnist" and out["class_names"] == "the model's class names"
    assert out["errors"] == []
    got = {p["file"]: p["top"] for p in out["predictions"]}
    assert sorted(got) == sorted(expected)  # every image of the folder, by name order
    for file, top in got.items():
        assert len(top) == 3 and top[0]["name"] == expected[file], (file, top)
        probs = [t["probability"] for t in top]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
    # The probabilities are the model's own on the preprocessed image, in this process.
    files = sorted(expected)
    mine = model.predict(preprocess_image(files, like="mnist"))
    for file, row in zip(files, mine, strict=True):
        for t in got[file]:
            assert t["probability"] == pytest.approx(float(row[t["class"]]), abs=1e-6)


def test_files_as_text_without_class_names(emnist_case):
    _, path, images, expected = emnist_case
    files = sorted(expected)[:6]
    result = _run(path, *files)
    assert result.returncode == 0, result.stderr
    # No class names in the file: the 47 outputs are read as EMNIST ByMerge's, and said so;
    # the images are prepared like EMNIST, and that is said too.
    assert "emnist-bymerge" in result.stderr and "like EMNIST" in result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(files)
    for file, line in zip(files, lines, strict=True):
        head, tops = line.split(": ", 1)
        assert head == file
        assert len(tops.split(", ")) == 5
        assert tops.split(", ")[0].rsplit(" ", 1)[0] == expected[file], line


# -- bad input: exit status 2, the file named on stderr, no traceback -----------------------
def test_bad_images_are_named_and_the_rest_still_read(mnist_case, tmp_path):
    _, path, _, expected = mnist_case
    good = sorted(expected)[0]
    empty = tmp_path / "empty.png"
    empty.touch()
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((50, 50), 255, np.uint8)).save(blank)
    result = _run(path, empty, good, text, blank, tmp_path / "missing.png")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stdout.startswith(f"{good}: {expected[good]} ")
    for file, problem in ((empty, "empty"), (text, "not an image"), (blank, "all one colour"),
                          (tmp_path / "missing.png", "does not exist")):
        assert f"error: {file}: " in result.stderr and problem in result.stderr, file


def _main(capsys, *args):
    status = cli.main(["predict", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


def test_a_model_whose_input_is_not_28x28(tmp_path, capsys):
    model = Sequential([Input((32, 32, 1)), Flatten(), Dense(10, activation="softmax")],
                       seed=0)
    model.build()
    path = tmp_path / "svhn.scratchnet"
    model.save(path)
    image = tmp_path / "d.png"
    Image.fromarray(np.eye(28, dtype=np.uint8) * 255).save(image)
    status, out, err = _main(capsys, path, image)
    assert status == 2 and out == ""
    assert f"error: {path}: the model takes inputs of shape (32, 32, 1), not a 28 x 28" in err


def test_not_a_model_file_and_empty_folder(mnist_case, tmp_path, capsys):
    _, path, _, expected = mnist_case
    bogus = tmp_path / "bogus.scratchnet"
    bogus.write_bytes(b"not a zip")
    status, out, err = _main(capsys, bogus, sorted(expected)[0])
    assert status == 2 and out == "" and err.startswith(f"error: {bogus}: ")
    folder = tmp_path / "nothing"
    folder.mkdir()
    (folder / "readme.txt").write_text("no images here")
    status, out, err = _main(capsys, path, folder)
    assert status == 2 and f"{folder}: the folder holds no images" in err
    status, out, err = _main(capsys, path, sorted(expected)[0], "--top-k", "0")
    assert status == 2 and "--top-k must be at least 1" in err


def test_top_k_is_capped_and_logits_read_through_softmax(tmp_path, capsys):
    # A model ending in logits (no softmax), 3 classes, no names: indices are printed.
    model = Sequential([Input((28, 28)), Flatten(), Dense(3)], seed=0)
    model.build()
    path = tmp_path / "logits.scratchnet"
    model.save(path)
    image = tmp_path / "d.png"
    Image.fromarray(np.eye(28, dtype=np.uint8) * 255).save(image)
    status, out, err = _main(capsys, path, image, "--top-k", "9", "--json")
    assert status == 0, err
    (prediction,) = json.loads(out)["predictions"]
    assert [t["name"] for t in prediction["top"]] == [str(t["class"]) for t in prediction["top"]]
    assert len(prediction["top"]) == 3
    assert sum(t["probability"] for t in prediction["top"]) == pytest.approx(1.0)
    logits = model.predict(preprocess_image(image)[None]).astype(np.float64)[0]
    soft = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert [t["class"] for t in prediction["top"]] == list(np.argsort(-soft))
    assert "printing class indices" in err
