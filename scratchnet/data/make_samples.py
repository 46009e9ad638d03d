"""Build the bundled samples ``mnist-sample`` and ``emnist-sample`` from the official files.

The samples ship inside the package (``scratchnet/data/samples/``) so that a fresh
install can train and test on real handwriting with no data folder and no network.
This script is how they were made; anyone with the official files can rebuild them
and get the same images, labels and order::

    python -m scratchnet.data.make_samples --source /path/to/datasets --out scratchnet/data/samples

What is drawn (seeded, so the result is the same on every run):

* ``mnist-sample``: 400 images of each digit from MNIST ``train`` (4,000) and 100 of
  each from ``t10k`` (1,000). MNIST's own split keeps the two parts apart.
* ``emnist-sample``: 100 images of each of the 47 ByMerge classes from ByMerge
  ``test[:96323]`` (4,700) and 25 of each from ``test[96323:]`` (1,175). Those are
  the project's EMNIST training and test ranges (see ``datasets/README.md``), so no
  sample test image is ever in the training range of a full ByMerge run.

Each class gets the same number of images (stratified, equal allocation), drawn
without replacement, and each part is then shuffled, so any leading slice holds
every class in about equal shares. Images and labels are stored as in the official
files (EMNIST images transposed), gzip-IDX written by :func:`scratchnet.data.write_idx`.

The script verifies the source files against their official SHA-256 first (through
:func:`scratchnet.data.load`) and prints the SHA-256 of every file it writes, both
of the ``.gz`` file and of the IDX bytes inside it: the registry pins the first
(what ``load`` verifies); the second does not depend on the zlib version that
compressed the file, so it is what a rebuild on another machine must reproduce.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .idx import write_idx
from .loading import load

__all__ = ["RAW_SHA256", "SAMPLES", "SampleSpec", "SamplePart", "SAMPLE_DIR", "build", "draw",
           "main"]

#: Where the package keeps the bundled files.
SAMPLE_DIR = Path(__file__).resolve().parent / "samples"
SEED = 20_161_116  # fixed: the samples must never change silently

#: SHA-256 of the IDX bytes inside each .gz file, as built on 2026-12-04. A rebuild must
#: reproduce these whatever zlib compressed it (the .gz values are in the registry).
RAW_SHA256 = {
    "mnist-sample-train-images-idx3-ubyte.gz":
        "04dd65afb6d3862ccb0558d4a3b262467dec6da5f73651dc06a7f3cc7b51ed20",
    "mnist-sample-train-labels-idx1-ubyte.gz":
        "0f6380f054e92f799c53b486ae8c049e07d8a773dd6ab40f3ca1546ba3b62eec",
    "mnist-sample-test-images-idx3-ubyte.gz":
        "2c1718e04803f398ca3daccc5c3bd94d4400d7953a2a98c5841716147163e889",
    "mnist-sample-test-labels-idx1-ubyte.gz":
        "4c9c087d49f0d346ddd6418f6189ced8c843f6beb8ef1d685e2bdefbfb14a252",
    "emnist-sample-train-images-idx3-ubyte.gz":
        "603addd2ab64d0cbb323e0dc4e0eb0aa898e9167ee14406cfafa95ebb3310839",
    "emnist-sample-train-labels-idx1-ubyte.gz":
        "ee72c6d047e8d6e6196a1a367961e4fb32dbc3c8a611f2900fd1dc3c7395fc70",
    "emnist-sample-test-images-idx3-ubyte.gz":
        "639a67a6142d05bd123caf84c27ee28860c4976261f97b1787a8af898fc5e670",
    "emnist-sample-test-labels-idx1-ubyte.gz":
        "88ced2056a021988211d47669d37c37b31fa9814e05d85bd425f2951e0b4488c",
}


@dataclass(frozen=True)
class SamplePart:
    """One part (train or test) of a sample: where it is drawn from and how many per class."""

    split: str           # the sample's split name
    source_split: str    # split string of the source dataset
    per_class: int


@dataclass(frozen=True)
class SampleSpec:
    """A bundled sample: its registry name, the dataset it is drawn from, and its parts."""

    name: str
    source: str
    transposed: bool
    parts: tuple[SamplePart, ...]

    def file_names(self, split: str) -> tuple[str, str]:
        """The image and label file names of one part."""
        return (f"{self.name}-{split}-images-idx3-ubyte.gz",
                f"{self.name}-{split}-labels-idx1-ubyte.gz")


SAMPLES = (
    SampleSpec("mnist-sample", "mnist", False, (
        SamplePart("train", "train", 400),
        SamplePart("test", "test", 100),
    )),
    SampleSpec("emnist-sample", "emnist-bymerge", True, (
        SamplePart("train", "test[:96323]", 100),
        SamplePart("test", "test[96323:]", 25),
    )),
)


def draw(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``per_class`` records of every class, drawn without replacement, shuffled.

    Parameters
    ----------
    labels : array of int, shape (N,)
        0-based labels of the source records.
    per_class : int
    rng : numpy.random.Generator

    Returns
    -------
    array of int64, shape (C * per_class,)
        Indices into ``labels``; each class appears ``per_class`` times.
    """
    picks = []
    for c in range(int(labels.max()) + 1):
        (members,) = np.nonzero(labels == c)
        if len(members) < per_class:
            raise ValueError(f"class {c} has {len(members)} records, fewer than {per_class}")
        picks.append(rng.choice(members, size=per_class, replace=False))
    return rng.permutation(np.concatenate(picks)).astype(np.int64)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build(source: str | Path | None, out: str | Path) -> list[tuple[str, str, str, int]]:
    """Write every sample into ``out``.

    Parameters
    ----------
    source
        Data folder with the official MNIST and EMNIST ByMerge test files (as for
        :func:`scratchnet.data.load`; None for the default lookup). Nothing is downloaded.
    out
        Destination folder (created if needed).

    Returns
    -------
    list of (file name, SHA-256 of the .gz, SHA-256 of the IDX bytes, size in bytes)
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    written = []
    for sample in SAMPLES:
        for part in sample.parts:
            images, labels = load(sample.source, part.source_split, data_dir=source,
                                  download=False)
            pick = draw(labels, part.per_class, rng)
            stored = images[pick]
            if sample.transposed:  # back to the official EMNIST layout
                stored = np.ascontiguousarray(stored.transpose(0, 2, 1))
            names = sample.file_names(part.split)
            for name, array in zip(names, (stored, labels[pick].astype(np.uint8)), strict=True):
                path = write_idx(out / name, array, compresslevel=9)
                raw = gzip.decompress(path.read_bytes())
                written.append((name, _sha256(path.read_bytes()), _sha256(raw),
                                path.stat().st_size))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scratchnet.data.make_samples",
        description="Rebuild the bundled samples from the official MNIST / EMNIST files.")
    parser.add_argument("--source", default=None,
                        help="data folder with the official files (default: $SCRATCHNET_DATA)")
    parser.add_argument("--out", default=str(SAMPLE_DIR), help="default: %(default)s")
    args = parser.parse_args(argv)
    written = build(args.source, args.out)
    width = max(len(name) for name, *_ in written)
    print(f"{'file':<{width}}  {'SHA-256 of the .gz file':<64}  {'SHA-256 of the IDX bytes':<64}"
          "  bytes")
    for name, gz_sha, raw_sha, size in written:
        print(f"{name:<{width}}  {gz_sha}  {raw_sha}  {size:,}")
    print(f"total {sum(w[3] for w in written):,} bytes in {args.out}")
    changed = [name for name, _, raw, _ in written if RAW_SHA256.get(name) != raw]
    if changed:
        print(f"warning: differs from the published sample: {', '.join(changed)}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
