"""TFDS-style split strings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet.data import SplitError, parse_split


@pytest.mark.parametrize(
    ("text", "n", "expected"),
    [
        ("train", 100, slice(0, 100)),
        ("test[:96323]", 116_323, slice(0, 96_323)),
        ("test[96323:]", 116_323, slice(96_323, 116_323)),
        ("train[:10%]", 60_000, slice(0, 6_000)),
        ("train[-5000:]", 60_000, slice(55_000, 60_000)),
        ("train[10%:20%]", 1_000, slice(100, 200)),
        ("train[-10%:]", 1_000, slice(900, 1_000)),
        ("train[:]", 7, slice(0, 7)),
        ("train[:50%]", 5, slice(0, 3)),  # 2.5 rounds half up to 3
        ("train[:33%]", 10, slice(0, 3)),  # 3.3 rounds to nearest
        ("train[-100%:]", 10, slice(0, 10)),
    ],
)
def test_resolve(text, n, expected):
    assert parse_split(text).resolve(n) == expected


@pytest.mark.parametrize(
    "text",
    ["", "test[", "test]", "test[1:2:3]", "test[a:]", "[1:2]", "test[ 1:]", "test[10]",
     "test[1.5:]", "test[:10%%]", "test[1:]x", "train+test", "te st"],
)
def test_malformed_strings_are_rejected(text):
    with pytest.raises(SplitError, match="malformed split"):
        parse_split(text)


def test_non_string_is_rejected():
    with pytest.raises(SplitError, match="must be a string"):
        parse_split(3)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("test[:101%]", "outside -100%..100%"),
        ("test[:200]", "index 200 is outside the split, which has 100 records"),
        ("test[-101:]", "index -101 is outside"),
        ("test[50:50]", "selects no records"),
        ("test[60:40]", "selects no records"),
    ],
)
def test_out_of_range_or_empty_selections_are_errors(text, fragment):
    with pytest.raises(SplitError, match=fragment.replace("(", r"\(").replace("%", "%")):
        parse_split(text).resolve(100)


@given(n=st.integers(1, 10**6), cut=st.integers(1, 10**6))
def test_complementary_slices_partition_the_split(n, cut):
    cut = cut % n or 1
    if cut >= n:
        return
    a = parse_split(f"test[:{cut}]").resolve(n)
    b = parse_split(f"test[{cut}:]").resolve(n)
    assert a.stop == b.start and a.start == 0 and b.stop == n


@given(n=st.integers(1, 10**6), pct=st.integers(1, 99))
def test_percent_slices_partition_the_split(n, pct):
    a, b = f"train[:{pct}%]", f"train[{pct}%:]"
    try:
        sa, sb = parse_split(a).resolve(n), parse_split(b).resolve(n)
    except SplitError:
        return  # one side empty for tiny n: an error, never a silent empty array
    assert sa.stop == sb.start and sa.stop - sa.start + sb.stop - sb.start == n
    assert abs(sa.stop - pct * n / 100) <= 0.5
