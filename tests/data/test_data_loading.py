"""load() on synthetic files: layouts, orientation, labels, verification, bad input."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
from readonly import run_with_read_only

from scratchnet.data import (
    ChecksumMismatchError,
    DataDirNotWritableError,
    DatasetNotFoundError,
    IDXFormatError,
    SplitError,
    UnknownDatasetError,
    download_dataset,
    load,
    locate,
    register,
    resolve_data_dir,
    unregister,
)

from .synthetic import idx_bytes, make_dataset


@pytest.fixture
def dataset(request):
    """A registered synthetic EMNIST-style dataset (transposed files, labels from 1)."""
    spec, splits = make_dataset("test-local", offset=1)
    register(spec)
    request.addfinalizer(lambda: unregister(spec.name))
    return spec, splits


def _write(folder: Path, spec, splits, split="test", compress=True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    s, data = spec.split(split), splits[split]
    for f, content in ((s.images, data.image_file), (s.labels, data.label_file)):
        name = f.name if compress else f.name.removesuffix(".gz")
        (folder / name).write_bytes(content if compress else gzip.decompress(content))
    return folder


@pytest.mark.parametrize("layout", ["flat", "subfolder"])
@pytest.mark.parametrize("compress", [True, False])
def test_layouts_and_compression(tmp_path, dataset, layout, compress):
    spec, splits = dataset
    folder = tmp_path / "emnist" if layout == "subfolder" else tmp_path
    _write(folder, spec, splits, compress=compress)
    images, labels = load("test-local", "test", data_dir=tmp_path, download=False)
    assert images.dtype == np.uint8 and images.shape == (30, 28, 28)
    assert images.flags.c_contiguous and images.flags.writeable
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(images, splits["test"].images)  # upright
    np.testing.assert_array_equal(labels, splits["test"].labels)  # stored 1.., returned 0..


def test_data_dir_lookup_order(tmp_path, monkeypatch, dataset):
    spec, splits = dataset
    _write(tmp_path / "env", spec, splits)
    monkeypatch.setenv("SCRATCHNET_DATA", str(tmp_path / "env"))
    assert resolve_data_dir() == tmp_path / "env"
    assert resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert locate("test-local", "test").images == tmp_path / "env" / spec.split("test").images.name
    assert load("test-local", "test[:3]", download=False)[0].shape == (3, 28, 28)
    monkeypatch.delenv("SCRATCHNET_DATA")
    repo = Path(__file__).resolve().parents[2]
    assert resolve_data_dir() == repo / "datasets"  # running from a source checkout


def test_slices(tmp_path, dataset):
    spec, splits = dataset
    _write(tmp_path, spec, splits, split="train")
    full_x, full_y = load("test-local", "train", data_dir=tmp_path, download=False)
    head_x, head_y = load("test-local", "train[:25%]", data_dir=tmp_path, download=False)
    tail_x, tail_y = load("test-local", "train[10:]", data_dir=tmp_path, download=False)
    last_x, _ = load("test-local", "train[-5:]", data_dir=tmp_path, download=False)
    assert len(head_x) == 10 and len(tail_x) == 30
    np.testing.assert_array_equal(np.concatenate([head_x, tail_x]), full_x)
    np.testing.assert_array_equal(np.concatenate([head_y, tail_y]), full_y)
    np.testing.assert_array_equal(last_x, full_x[-5:])
    assert tail_x.base is None or tail_x.base.shape[0] == 30  # does not pin the full split


def test_checksum_mismatch_and_verify_false(tmp_path, dataset):
    spec, splits = dataset
    _write(tmp_path, spec, splits)
    name = spec.split("test").labels.name
    tampered = splits["test"].labels.copy()
    tampered[0] = (tampered[0] + 1) % 5
    (tmp_path / name).write_bytes(idx_bytes((tampered + 1).astype(np.uint8)))
    with pytest.raises(ChecksumMismatchError, match=f"{name} has SHA-256"):
        load("test-local", "test", data_dir=tmp_path, download=False)
    _, labels = load("test-local", "test", data_dir=tmp_path, download=False, verify=False)
    assert labels[0] == tampered[0]


def test_uncompressed_files_are_checked_structurally(tmp_path, dataset):
    spec, splits = dataset
    _write(tmp_path, spec, splits, compress=False)
    raw = tmp_path / spec.split("test").images.name.removesuffix(".gz")
    raw.write_bytes(raw.read_bytes()[:-28 * 28])  # one image short, header unchanged
    with pytest.raises(IDXFormatError, match="promises 23520 bytes.*file has 22736"):
        load("test-local", "test", data_dir=tmp_path, download=False)


def test_wrong_record_count_or_label_range(tmp_path, dataset):
    spec, splits = dataset
    _write(tmp_path, spec, splits)
    labels = tmp_path / spec.split("test").labels.name
    labels.write_bytes(idx_bytes(np.full(30, 9, np.uint8)))  # labels 9 > 5 classes
    with pytest.raises(IDXFormatError, match="labels span 9..9, but test-local stores 1..5"):
        load("test-local", "test", data_dir=tmp_path, download=False, verify=False)
    labels.write_bytes(idx_bytes(np.ones(29, np.uint8)))
    with pytest.raises(IDXFormatError, match="has 30 records officially.*29 labels"):
        load("test-local", "test", data_dir=tmp_path, download=False, verify=False)


def test_non_idx_file(tmp_path, dataset):
    spec, splits = dataset
    _write(tmp_path, spec, splits)
    (tmp_path / spec.split("test").images.name).write_bytes(b"<html>404</html>")
    with pytest.raises(IDXFormatError, match="not an IDX file"):
        load("test-local", "test", data_dir=tmp_path, download=False, verify=False)


def test_unknown_names_and_malformed_slices(tmp_path, dataset):
    with pytest.raises(UnknownDatasetError, match="unknown dataset 'emnist-bogus'"):
        load("emnist-bogus", data_dir=tmp_path)
    with pytest.raises(SplitError, match="has no split 'valid'"):
        load("test-local", "valid", data_dir=tmp_path)
    with pytest.raises(SplitError, match="malformed split 'test\\[:5'"):
        load("test-local", "test[:5", data_dir=tmp_path)
    spec, splits = dataset
    _write(tmp_path, spec, splits)
    with pytest.raises(SplitError, match="index 31 is outside the split, which has 30 records"):
        load("test-local", "test[:31]", data_dir=tmp_path)


def test_missing_files_without_download(tmp_path, dataset):
    spec, splits = dataset
    folder = _write(tmp_path / "emnist", spec, splits)
    (folder / spec.split("test").images.name).unlink()
    with pytest.raises(DatasetNotFoundError) as info:
        load("test-local", "test", data_dir=tmp_path, download=False)
    message = str(info.value)
    assert "test-local-test-images-idx3-ubyte.gz" in message and "MISSING" in message
    assert "only the labels are present" in message
    assert "download=False" in message
    assert str(tmp_path / "emnist") in message and "SCRATCHNET_DATA" in message


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_unwritable_data_folder(tmp_path, dataset):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(DataDirNotWritableError, match="read-only"):
            download_dataset("test-local", "test", data_dir=locked)
        with pytest.raises(DatasetNotFoundError, match="cannot write to the data folder"):
            load("test-local", "test", data_dir=locked)
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


def test_read_only_mount_is_refused_for_root_too(tmp_path):
    # Permission bits do not stop root; a read-only mount does (see tests/readonly.py).
    locked = tmp_path / "locked"
    locked.mkdir()
    code = (
        "from scratchnet.data import DataDirNotWritableError, download_dataset\n"
        "try:\n"
        f"    download_dataset('mnist', 'test', data_dir={str(locked)!r})\n"
        "except DataDirNotWritableError as exc:\n"
        "    print(exc)\n"
        "else:\n"
        "    raise SystemExit('the download was not refused')\n"
    )
    result = run_with_read_only(locked, code)
    assert result.returncode == 0, result.stderr
    assert f"cannot write to the data folder {locked / 'mnist'}" in result.stdout
    assert "Read-only file system" in result.stdout
    assert list(locked.iterdir()) == []
