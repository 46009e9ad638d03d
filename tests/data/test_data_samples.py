"""The bundled samples: real images shipped in the package, verified, balanced, disjoint.

(That a non-editable install carries them is shown by tests/test_first_contact.py, which
installs a fresh clone and trains on them.)

The offline tests need no data folder. The real-data ones rebuild the samples from the
reference files and find every sample image in the part of the source it must come from.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from scratchnet.data import DatasetNotFoundError, get_spec, load, read_idx, register, unregister
from scratchnet.data.make_samples import RAW_SHA256, SAMPLE_DIR, SAMPLES, build
from scratchnet.data.paths import bundled_dir

NAMES = ["mnist-sample", "emnist-sample"]
MAX_BYTES = 5_000_000


def _row_hashes(images: np.ndarray) -> list[bytes]:
    return [hashlib.sha1(img.tobytes()).digest() for img in images]


def test_samples_are_small_and_listed_with_their_checksums():
    files = sorted(SAMPLE_DIR.glob("*.gz"))
    assert len(files) == 8
    assert sum(p.stat().st_size for p in files) <= MAX_BYTES
    sums = dict(reversed(line.split("  ")) for line in
                (SAMPLE_DIR / "SHA256SUMS").read_text().splitlines())
    for path in files:
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        assert sums[path.name] == actual, path.name
    registered = {f.name: f.sha256 for n in NAMES for f in get_spec(n).files()}
    assert registered == sums
    assert set(RAW_SHA256) == set(sums)
    licence = (SAMPLE_DIR / "LICENSE.md").read_text()
    for needle in ("LeCun", "Cortes", "Burges", "Cohen", "Special Database 19",
                   "arXiv:1702.05373", "Attribution-Share Alike 3.0"):
        assert needle in licence, needle


@pytest.mark.parametrize("name", NAMES)
def test_sample_loads_from_the_package_whatever_the_data_folder(name, tmp_path, monkeypatch):
    monkeypatch.delenv("SCRATCHNET_DATA", raising=False)
    spec = get_spec(name)
    empty = tmp_path / "no-data-here"
    parts = {}
    for split in ("train", "test"):
        x, y = load(name, split, data_dir=empty, download=False)
        assert x.dtype == np.uint8 and x.shape == (spec.split(split).count, 28, 28)
        counts = np.bincount(y, minlength=spec.num_classes)
        assert counts.min() == counts.max() == len(y) // spec.num_classes  # balanced
        assert 20 < x.mean() < 60  # dark background, white strokes: real handwriting
        # Shuffled, not sorted by class: the first quarter already holds every class.
        assert len(np.unique(y[: len(y) // 4])) == spec.num_classes
        parts[split] = x
    assert not empty.exists()  # nothing created, nothing downloaded
    assert not set(_row_hashes(parts["train"])) & set(_row_hashes(parts["test"]))


def test_emnist_sample_is_upright_like_the_full_dataset():
    # Stored transposed as in the official files; load() returns it upright, so the
    # mean image of the digit 7 has its bar on top (rows 4-9) and not on the left.
    x, y = load("emnist-sample", "train")
    seven = x[y == 7].astype(float).mean(axis=0)
    assert seven[4:9, 6:22].mean() > seven[6:22, 4:9].mean()
    raw = read_idx(SAMPLE_DIR / "emnist-sample-train-images-idx3-ubyte.gz")
    assert np.array_equal(raw.transpose(0, 2, 1), x)


def test_a_bundled_sample_whose_files_are_missing_says_to_reinstall(tmp_path):
    spec = get_spec("mnist-sample")
    broken = type(spec)(**{**spec.__dict__, "name": "broken-sample",
                           "bundled": "no-such-folder"})
    register(broken)
    try:
        with pytest.raises(DatasetNotFoundError, match="reinstall scratchnet"):
            load("broken-sample", "test", data_dir=tmp_path)
        assert list(tmp_path.iterdir()) == []
    finally:
        unregister("broken-sample")
    assert bundled_dir(spec) == SAMPLE_DIR


# -- rebuilt from the reference files ------------------------------------------------------
@pytest.mark.realdata
def test_rebuilding_gives_the_same_samples(real_data, tmp_path):
    written = build(real_data, tmp_path)
    for name, gz_sha, raw_sha, _ in written:
        assert raw_sha == RAW_SHA256[name], name
        # The .gz bytes depend on zlib as well; on this machine they match too.
        if gz_sha != hashlib.sha256((SAMPLE_DIR / name).read_bytes()).hexdigest():
            pytest.fail(f"{name}: same IDX content but different gzip bytes (another zlib?)")


@pytest.mark.realdata
@pytest.mark.parametrize("sample", SAMPLES, ids=[s.name for s in SAMPLES])
def test_every_sample_image_comes_from_its_source_range(real_data, sample):
    for part in sample.parts:
        x, y = load(sample.name, part.split)
        src_x, src_y = load(sample.source, part.source_split, data_dir=real_data,
                            download=False)
        index = {h: i for i, h in enumerate(_row_hashes(src_x))}
        found = [index.get(h) for h in _row_hashes(x)]
        assert None not in found, f"{sample.name} {part.split}: an image not in {part.source_split}"
        assert np.array_equal(src_y[found], y)  # labels kept with their images
        assert len(set(found)) == len(found)  # drawn without replacement
    # Disjoint sources: MNIST's train and t10k files, or ByMerge test[:96323] and [96323:].
    assert sample.parts[0].source_split != sample.parts[1].source_split
