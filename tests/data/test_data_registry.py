"""The dataset registry: names, counts, classes, checksums, mapping files."""

from __future__ import annotations

import re

import pytest

from scratchnet.data import (
    DatasetSpec,
    SplitError,
    UnknownDatasetError,
    dataset_names,
    get_spec,
    parse_mapping,
)

EXPECTED = {
    # name: (train count, test count, number of classes)
    "mnist": (60_000, 10_000, 10),
    "emnist-balanced": (112_800, 18_800, 47),
    "emnist-letters": (124_800, 20_800, 26),
    "emnist-byclass": (697_932, 116_323, 62),
    "emnist-bymerge": (697_932, 116_323, 47),
    "emnist-digits": (240_000, 40_000, 10),
    "emnist-mnist": (60_000, 10_000, 10),
}


def test_every_required_dataset_is_registered():
    assert set(EXPECTED) <= set(dataset_names())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_counts_classes_and_files(name):
    spec = get_spec(name)
    train, test, classes = EXPECTED[name]
    assert (spec.split("train").count, spec.split("test").count) == (train, test)
    assert spec.num_classes == classes == len(set(spec.class_names))
    assert spec.transposed == name.startswith("emnist-")
    for f in spec.files():
        assert f.name.endswith("-ubyte.gz")
        assert f.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", f.sha256), f
        assert f.sha256_source in ("SHA256SUMS", "notwa/mnists")
    assert spec.mirrors or spec.archive is not None  # something to download from


def test_official_file_names():
    m = get_spec("mnist")
    assert m.split("test").images.name == "t10k-images-idx3-ubyte.gz"
    assert m.split("train").labels.name == "train-labels-idx1-ubyte.gz"
    e = get_spec("emnist-bymerge").split("test")
    assert e.images.name == "emnist-bymerge-test-images-idx3-ubyte.gz"
    assert e.labels.name == "emnist-bymerge-test-labels-idx1-ubyte.gz"


def test_class_names_are_characters():
    assert "".join(get_spec("emnist-byclass").class_names) == (
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    )
    assert "".join(get_spec("emnist-bymerge").class_names[36:]) == "abdefghnqrt"
    assert get_spec("emnist-balanced").class_names == get_spec("emnist-bymerge").class_names
    letters = get_spec("emnist-letters")
    assert letters.label_offset == 1
    assert letters.class_names[0] == "Aa" and letters.class_names[-1] == "Zz"


def test_no_two_files_share_a_checksum():
    hashes = [f.sha256 for n in EXPECTED for f in get_spec(n).files() if f.sha256]
    assert len(hashes) == len(set(hashes)) == 28


def test_unknown_names_give_the_known_ones():
    known = "unknown dataset 'emnist'; known datasets: mnist"
    with pytest.raises(UnknownDatasetError, match=known):
        get_spec("emnist")
    splits = "has no split 'validation'; its splits are 'train', 'test'"
    with pytest.raises(SplitError, match=splits):
        get_spec("mnist").split("validation")
    assert isinstance(get_spec("mnist"), DatasetSpec)


def test_parse_mapping_handles_crlf_and_letters_format():
    assert parse_mapping("0 48\r\n1 49\r\n2 65\r\n") == ("0", "1", "A")
    assert parse_mapping("1 65 97\r\n2 66 98\r\n") == ("Aa", "Bb")


@pytest.mark.parametrize("text", ["", "0 48\n2 49\n", "0\n", "0 x\n"])
def test_parse_mapping_rejects_malformed_text(text):
    with pytest.raises(ValueError, match="mapping"):
        parse_mapping(text)


def test_datasets_readme_lists_every_file_with_its_registered_checksum():
    from pathlib import Path

    readme = Path(__file__).resolve().parents[2] / "datasets" / "README.md"
    row = r"\| `([\w.-]+-ubyte\.gz)` \| [^|]+ \| `([0-9a-f]{64})` \|"
    listed = dict(re.findall(row, readme.read_text()))
    registered = {f.name: f.sha256 for n in EXPECTED for f in get_spec(n).files()}
    assert listed == registered
