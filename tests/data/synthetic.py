"""Small synthetic datasets laid out exactly like the official files, for offline tests."""

from __future__ import annotations

import gzip
import hashlib
import io
import struct
import zipfile

import numpy as np

from scratchnet.data import ArchiveSpec, DatasetSpec, FileSpec, SplitSpec


def idx_bytes(array: np.ndarray, compress: bool = True) -> bytes:
    """IDX encoding of a uint8 array, gzipped like the official files."""
    raw = struct.pack(f">HBB{array.ndim}I", 0, 0x08, array.ndim, *array.shape) + array.tobytes()
    return gzip.compress(raw, mtime=0) if compress else raw


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Split:
    """One synthetic split: the upright truth and the file bytes as stored."""

    def __init__(self, n: int, num_classes: int, *, transposed: bool, offset: int, seed: int):
        rng = np.random.default_rng(seed)
        self.images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)  # upright truth
        self.labels = rng.integers(0, num_classes, size=n).astype(np.int64)  # 0-based truth
        stored = self.images.transpose(0, 2, 1) if transposed else self.images
        self.image_file = idx_bytes(np.ascontiguousarray(stored))
        self.label_file = idx_bytes((self.labels + offset).astype(np.uint8))


def make_dataset(
    name: str,
    *,
    n: dict[str, int] | None = None,
    num_classes: int = 5,
    transposed: bool = True,
    offset: int = 0,
    mirrors: tuple[str, ...] = (),
    archive_urls: tuple[str, ...] = (),
) -> tuple[DatasetSpec, dict[str, Split]]:
    """A registry entry for a synthetic dataset plus its splits' data."""
    n = n or {"train": 40, "test": 30}
    splits, specs = {}, {}
    for i, (split, count) in enumerate(n.items()):
        data = Split(count, num_classes, transposed=transposed, offset=offset, seed=i)
        splits[split] = data
        specs[split] = SplitSpec(
            images=FileSpec(f"{name}-{split}-images-idx3-ubyte.gz", sha(data.image_file)),
            labels=FileSpec(f"{name}-{split}-labels-idx1-ubyte.gz", sha(data.label_file)),
            count=count,
        )
    spec = DatasetSpec(
        name=name,
        subdir="emnist" if transposed else "mnist",
        splits=specs,
        class_names=tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ"[:num_classes]),
        label_offset=offset,
        transposed=transposed,
        mirrors=mirrors,
        archive=ArchiveSpec(urls=archive_urls) if archive_urls else None,
    )
    return spec, splits


class _Unseekable(io.RawIOBase):
    """A write-only stream without seek, so zipfile writes data descriptors."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.buffer += b
        return len(b)


def make_zip(
    members: dict[str, bytes], *, descriptors: bool = False, stored: frozenset[str] = frozenset()
) -> bytes:
    """A zip laid out like NIST's gzip.zip (members under ``gzip/``).

    ``descriptors`` streams the zip so each deflated member has a data descriptor
    (sizes after the data, as streaming zip writers produce); ``stored`` members
    are not compressed.
    """
    sink = _Unseekable() if descriptors else io.BytesIO()
    with zipfile.ZipFile(sink, "w") as zf:
        for name, data in members.items():
            method = zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED
            zf.writestr(zipfile.ZipInfo(name, (2017, 3, 1, 0, 0, 0)), data, compress_type=method)
    return bytes(sink.buffer) if descriptors else sink.getvalue()
