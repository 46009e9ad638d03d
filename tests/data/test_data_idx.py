"""IDX reader and writer: round trips, every element type, and hostile input."""

from __future__ import annotations

import gzip
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from scratchnet.data import IDXFormatError, read_idx, write_idx
from scratchnet.data.atomic import atomic_write
from scratchnet.data.idx import TYPE_CODES, parse_idx

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@settings(max_examples=60)
@given(
    array=st.sampled_from(DTYPES).flatmap(
        lambda dt: arrays(dt, array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5))
    ),
    compressed=st.booleans(),
    big_endian_input=st.booleans(),
)
def test_round_trip_over_dtypes_and_shapes(tmp_path_factory, array, compressed, big_endian_input):
    path = tmp_path_factory.mktemp("rt") / ("a.idx.gz" if compressed else "a.idx")
    if big_endian_input:
        array = array.astype(array.dtype.newbyteorder(">"))
    write_idx(path, array)
    back = read_idx(path)
    assert back.shape == array.shape
    assert back.dtype == array.dtype.newbyteorder("=")
    assert back.dtype.isnative
    # Bitwise equality, so NaN payloads and -0.0 must survive too.
    assert back.tobytes() == array.astype(back.dtype).tobytes()
    assert back.flags.writeable
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == compressed


@pytest.mark.parametrize(("code", "dtype"), sorted(TYPE_CODES.items()))
def test_reads_each_type_code_big_endian(code, dtype):
    values = np.array([[1, -2, 3], [4, 5, -6]]).astype(dtype.newbyteorder("="))
    if dtype.kind == "u":
        values = np.abs(values)
    raw = struct.pack(">HBBII", 0, code, 2, 2, 3) + values.astype(dtype).tobytes()
    np.testing.assert_array_equal(parse_idx(raw), values)


def test_header_layout_matches_mnist_convention(tmp_path):
    path = write_idx(tmp_path / "x", np.zeros((2, 28, 28), np.uint8))
    data = path.read_bytes()
    assert data[:4] == b"\x00\x00\x08\x03"  # the magic 0x00000803 of MNIST image files
    assert struct.unpack(">3I", data[4:16]) == (2, 28, 28)
    assert len(data) == 16 + 2 * 28 * 28


def test_reads_file_objects_and_gzip_without_suffix(tmp_path):
    a = np.arange(10, dtype=np.int16)
    write_idx(tmp_path / "x.gz", a)
    (tmp_path / "plain").write_bytes((tmp_path / "x.gz").read_bytes())  # gzip, no .gz name
    np.testing.assert_array_equal(read_idx(tmp_path / "plain"), a)
    with open(tmp_path / "x.gz", "rb") as fh:
        np.testing.assert_array_equal(read_idx(fh), a)


def test_multi_member_gzip_is_read_whole(tmp_path):
    raw = struct.pack(">HBBI", 0, 0x08, 1, 6) + bytes(range(6))
    (tmp_path / "m.gz").write_bytes(gzip.compress(raw[:7]) + gzip.compress(raw[7:]))
    np.testing.assert_array_equal(read_idx(tmp_path / "m.gz"), np.arange(6, dtype=np.uint8))


def _idx(shape=(3, 2), code=0x08, payload=None) -> bytes:
    head = struct.pack(f">HBB{len(shape)}I", 0, code, len(shape), *shape)
    if payload is None:
        payload = bytes(int(np.prod(shape)) * TYPE_CODES[code].itemsize)
    return head + payload


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"\x01\x00\x08\x01" + bytes(8), "two zero bytes"),
        (_idx(code=0x08)[:2] + b"\x07" + _idx()[3:], "unknown IDX element type code 0x07"),
        (_idx()[:2], "at least 4 header bytes, got 2"),
        (_idx()[:10], "need 12 header bytes, got 10"),
        (_idx(payload=bytes(5)), "promises 6 bytes after the 12-byte header, file has 5"),
        (_idx(payload=bytes(7)),
         "promises 6 bytes after the 12-byte header, file has at least 7"),
        (struct.pack(">HBB", 0, 8, 65) + struct.pack(">65I", *[1] * 65) + bytes(1),
         "declares 65 dimensions; NumPy arrays have at most 64"),
        (_idx(shape=(2,), code=0x0C, payload=bytes(7)), "promises 8 bytes"),
    ],
)
def test_bad_headers_and_sizes_name_the_file_and_byte_counts(tmp_path, data, fragment):
    path = tmp_path / "bad-file"
    path.write_bytes(data)
    with pytest.raises(IDXFormatError) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert fragment in str(info.value)


def test_truncated_gzip_reports_promised_and_actual_bytes(tmp_path):
    data = gzip.compress(_idx(shape=(1000,), payload=np.random.default_rng(0).bytes(1000)))
    path = tmp_path / "t.gz"
    path.write_bytes(data[: len(data) // 2])
    # 8 header bytes + 1000 payload bytes promised; about half arrived.
    pattern = r"truncated gzip.*promises 1008 bytes.*ended after \d+"
    with pytest.raises(IDXFormatError, match=pattern):
        read_idx(path)


def test_corrupt_gzip_is_an_idx_format_error(tmp_path):
    data = bytearray(gzip.compress(_idx(shape=(100,))))
    data[12:20] = b"\xff" * 8  # garbage inside the deflate stream
    path = tmp_path / "c.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(IDXFormatError, match=str(path).replace(".", r"\.")):
        read_idx(path)


def test_text_file_is_rejected(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("this is not an IDX file\n")
    with pytest.raises(IDXFormatError, match="not an IDX file"):
        read_idx(path)


_VALID_RAW = _idx(shape=(4, 3), code=0x0B)
_VALID_GZ = gzip.compress(_VALID_RAW, mtime=0)


@settings(max_examples=150)
@given(
    base=st.sampled_from([_VALID_RAW, _VALID_GZ]),
    edits=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=4),
    cut=st.integers(0, 200),
    extra=st.binary(max_size=8),
)
def test_mutated_or_truncated_input_raises_only_idx_format_error(base, edits, cut, extra):
    data = bytearray(base)
    for pos, value in edits:
        if pos < len(data):
            data[pos] = value
    data = bytes(data[:cut]) + extra
    for swap in (False, True):
        try:
            arr = read_idx(_BytesFile(data), swap_last_axes=swap)
        except IDXFormatError:
            continue
        # Whatever was accepted is exactly what its (possibly mutated) header promises.
        assert arr.size * arr.itemsize == int(np.prod(arr.shape)) * arr.itemsize


class _BytesFile:
    def __init__(self, data: bytes) -> None:
        self._data, self._pos, self.name = data, 0, "<fuzz>"

    def read(self, n: int = -1) -> bytes:
        end = len(self._data) if n < 0 else self._pos + n
        out = self._data[self._pos : end]
        self._pos += len(out)
        return out


def test_write_rejects_unsupported_dtypes_without_touching_the_target(tmp_path):
    path = tmp_path / "x.gz"
    write_idx(path, np.arange(3, dtype=np.uint8))
    before = path.read_bytes()
    for bad in (np.arange(3, dtype=np.int64), np.array([1 + 2j]), np.array(["a"])):
        with pytest.raises(TypeError, match="IDX cannot store dtype"):
            write_idx(path, bad)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.gz"]


def test_atomic_write_leaves_old_content_when_interrupted(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_write(path) as fh:
        fh.write(b"half of the new")
        raise RuntimeError("interrupted")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]  # no temp file left behind


def test_gzip_output_is_deterministic(tmp_path):
    a = np.arange(100, dtype=np.float32)
    one = write_idx(tmp_path / "a.gz", a).read_bytes()
    two = write_idx(tmp_path / "b.gz", a).read_bytes()
    assert one == two


@settings(max_examples=40)
@given(
    array=st.sampled_from(DTYPES).flatmap(
        lambda dt: arrays(dt, array_shapes(min_dims=2, max_dims=4, min_side=0, max_side=5))
    ),
    compressed=st.booleans(),
)
def test_swap_last_axes_equals_numpy(tmp_path_factory, array, compressed):
    path = tmp_path_factory.mktemp("sw") / ("a.gz" if compressed else "a")
    write_idx(path, array)
    back = read_idx(path, swap_last_axes=True)
    assert back.flags.c_contiguous
    assert back.tobytes() == np.ascontiguousarray(array.swapaxes(-1, -2)).tobytes()


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float64])
def test_files_larger_than_one_decoding_chunk(tmp_path, dtype):
    # Several MB, so records straddle decompression chunks; written as two gzip
    # members split mid-record to exercise member boundaries as well.
    itemsize = np.dtype(dtype).itemsize
    rng = np.random.default_rng(0)
    array = rng.integers(0, 120, size=(4_999 // itemsize + 99, 28, 28)).astype(dtype)
    raw = write_idx(tmp_path / "a", array).read_bytes()
    assert len(raw) > 784 * 4096  # more than one decoding chunk (3.2 MB)
    cut = 16 + 784 * itemsize * 123 + 5
    members = [gzip.compress(part, compresslevel=1) for part in (raw[:cut], raw[cut:])]
    (tmp_path / "a.gz").write_bytes(b"".join(members))
    for name in ("a", "a.gz"):
        np.testing.assert_array_equal(read_idx(tmp_path / name), array)
        np.testing.assert_array_equal(
            read_idx(tmp_path / name, swap_last_axes=True), array.transpose(0, 2, 1)
        )


def test_swapping_a_1d_file_is_an_idx_format_error(tmp_path):
    path = write_idx(tmp_path / "labels.gz", np.arange(5, dtype=np.uint8))
    with pytest.raises(IDXFormatError, match="cannot swap the last two axes of a 1-D array"):
        read_idx(path, swap_last_axes=True)


def test_an_overlong_gzip_payload_is_refused_at_its_first_extra_byte(tmp_path, monkeypatch):
    """A small gzip of a valid header plus 256 MiB of zeros: not decompressed to count them."""
    from scratchnet.data import idx

    path = tmp_path / "long.gz"
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    with open(path, "wb") as f:
        f.write(deflate.compress(_idx(shape=(3, 2), payload=bytes(6))))
        for _ in range(256):
            f.write(deflate.compress(zeros))
        f.write(deflate.flush())
    assert path.stat().st_size < 1 << 20
    produced = []
    real = idx._gunzip_chunks

    def counting(*args):
        for chunk in real(*args):
            produced.append(len(chunk))
            yield chunk

    monkeypatch.setattr(idx, "_gunzip_chunks", counting)
    with pytest.raises(IDXFormatError, match="too long.*file has at least"):
        read_idx(path)
    assert sum(produced) <= 2 * idx._OUT_CHUNK  # not 256 MiB
