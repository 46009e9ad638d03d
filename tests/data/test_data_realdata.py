"""The reference datasets in $SCRATCHNET_DATA load exactly as they should.

Skipped, with the reason, when SCRATCHNET_DATA is unset or lacks the files. The
folder is read-only: nothing here may write to it (downloads are off or must fail).
"""

from __future__ import annotations

import numpy as np
import pytest
from readonly import run_with_read_only

from scratchnet.data import (
    DatasetNotFoundError,
    get_spec,
    load,
    load_mapping,
    read_idx,
    verify_file,
)

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def mnist_test(real_data):
    return load("mnist", "test", data_dir=real_data, download=False)


@pytest.fixture(scope="module")
def bymerge_test(real_data):
    return load("emnist-bymerge", "test", data_dir=real_data, download=False)


def _sums(real_data):
    for line in (real_data / "SHA256SUMS").read_text().splitlines():
        sha, name = line.split()
        yield real_data / name, sha


def test_registry_checksums_agree_with_the_reference_sums(real_data):
    listed = {p.name: sha for p, sha in _sums(real_data) if p.name.endswith(".gz")}
    registered = {f.name: f.sha256 for n in ("mnist", "emnist-bymerge", "emnist-byclass",
                                             "emnist-letters") for f in get_spec(n).files()}
    assert listed and all(registered[name] == sha for name, sha in listed.items())
    for path, sha in _sums(real_data):
        if path.suffix == ".gz":
            verify_file(path, sha)


def test_mnist_counts_and_labels(real_data, mnist_test):
    x, y = mnist_test
    assert x.shape == (10_000, 28, 28) and x.dtype == np.uint8
    assert y.dtype == np.int64 and (y.min(), y.max()) == (0, 9)
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    xt, yt = load("mnist", "train", data_dir=real_data, download=False)
    assert xt.shape == (60_000, 28, 28) and np.bincount(yt).min() == 5421


def test_bymerge_counts_labels_and_classes(real_data, bymerge_test):
    x, y = bymerge_test
    spec = get_spec("emnist-bymerge")
    assert x.shape == (116_323, 28, 28) and x.dtype == np.uint8
    assert y.dtype == np.int64 and (y.min(), y.max()) == (0, 46)
    counts = np.bincount(y, minlength=47)
    assert counts[:10].sum() == 57_527 and counts[10:].sum() == 58_796
    assert spec.class_names[counts.argmin()] == "Q" and counts.min() == 415
    assert spec.class_names[counts.argmax()] == "1" and counts.max() == 6_400
    assert spec.class_names == load_mapping(real_data / "emnist" / "emnist-bymerge-mapping.txt")


def test_byclass_counts_labels_and_classes(real_data):
    x, y = load("emnist-byclass", "test", data_dir=real_data, download=False)
    spec = get_spec("emnist-byclass")
    assert x.shape == (116_323, 28, 28) and (y.min(), y.max()) == (0, 61)
    counts = np.bincount(y, minlength=62)
    assert spec.class_names[counts.argmin()] == "j" and counts.min() == 317
    assert spec.class_names == load_mapping(real_data / "emnist" / "emnist-byclass-mapping.txt")


def test_class_names_match_every_mapping_file(real_data):
    for name in ("balanced", "bymerge", "byclass", "letters"):
        path = real_data / "emnist" / f"emnist-{name}-mapping.txt"
        assert get_spec(f"emnist-{name}").class_names == load_mapping(path), name


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def test_emnist_images_are_upright(mnist_test, bymerge_test):
    # MNIST is upright by definition. If load() did not undo EMNIST's transpose, the
    # transposed mean would be the better match, so this cannot pass by accident.
    mx, my = mnist_test
    ex, ey = bymerge_test
    for digit in range(10):  # class index == digit for the first ten EMNIST classes
        m = mx[my == digit].mean(axis=0)
        e = ex[ey == digit].mean(axis=0)
        upright, flipped = _corr(e, m), _corr(e.T, m)
        assert upright > flipped + 0.02, (digit, upright, flipped)
    seven = ex[ey == 7].mean(axis=0)
    assert _corr(seven, mx[my == 7].mean(axis=0)) > 0.4


def test_bymerge_cut_into_train_and_test(real_data, bymerge_test):
    x, y = bymerge_test
    a_x, a_y = load("emnist-bymerge", "test[:96323]", data_dir=real_data, download=False)
    b_x, b_y = load("emnist-bymerge", "test[96323:]", data_dir=real_data, download=False)
    # Sizes that add up to the split, and the parts in order equal to the whole split:
    # so the parts are complementary index ranges, i.e. disjoint sets of records.
    assert (len(a_x), len(b_x)) == (96_323, 20_000)
    assert np.array_equal(np.concatenate([a_x, b_x]), x)
    assert np.array_equal(np.concatenate([a_y, b_y]), y)
    assert not np.array_equal(a_x[-20_000:], b_x)  # not the same records twice


def test_letters_labels_are_present_but_images_are_not(real_data):
    # The 144-byte test-labels file is genuine: 20,800 labels sorted by class.
    labels = read_idx(real_data / "emnist" / "emnist-letters-test-labels-idx1-ubyte.gz")
    assert labels.shape == (20_800,) and (labels.min(), labels.max()) == (1, 26)
    assert np.all(np.diff(labels.astype(int)) >= 0)
    assert np.bincount(labels)[1:].tolist() == [800] * 26
    train = read_idx(real_data / "emnist" / "emnist-letters-train-labels-idx1-ubyte.gz")
    assert np.bincount(train)[1:].tolist() == [4_800] * 26
    with pytest.raises(DatasetNotFoundError, match="only the labels are present"):
        load("emnist-letters", "test", data_dir=real_data, download=False)


@pytest.mark.parametrize(
    ("name", "split"),
    [("emnist-balanced", "train"), ("emnist-digits", "test"), ("emnist-bymerge", "train"),
     ("emnist-mnist", "test")],
)
def test_absent_splits_fail_clearly(real_data, name, split):
    with pytest.raises(DatasetNotFoundError, match=f"{name} split '{split}' is not available"):
        load(name, split, data_dir=real_data, download=False)


def test_download_into_the_read_only_folder_is_refused(real_data, tmp_path):
    # The reference folder seen through a read-only mount: refused by the kernel for
    # root too, so this holds wherever the suite runs, and the reference folder itself
    # can never be written to by this test (its own permissions may allow it).
    view = tmp_path / "read-only-view"
    view.mkdir()
    code = (
        "import sys\n"
        "from scratchnet.data import DatasetNotFoundError, load\n"
        "try:\n"
        f"    load('emnist-digits', 'test', data_dir={str(view)!r})\n"
        "except DatasetNotFoundError as exc:\n"
        "    print(exc)\n"
        "    sys.exit(0)\n"
        "sys.exit('loaded or downloaded: expected a refusal')\n"
    )
    before = sorted(p.name for p in (real_data / "emnist").iterdir())
    result = run_with_read_only(real_data, code, mountpoint=view)
    assert result.returncode == 0, result.stderr
    assert "cannot write to the data folder" in result.stdout
    assert "read-only" in result.stdout.lower()
    assert "emnist-digits-test-images-idx3-ubyte.gz" in result.stdout
    assert sorted(p.name for p in (real_data / "emnist").iterdir()) == before
