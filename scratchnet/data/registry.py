"""The dataset registry: official files, checksums, sizes, classes and sources.

Every dataset scratchnet can load is described by one :class:`DatasetSpec`.
The registry is a plain dict, so tests and users can register their own entries
(for example one that points at a local mirror with its own checksums) through
:func:`register`.

Where the SHA-256 values come from
----------------------------------
``SHA256SUMS``
    The reference data folder's ``SHA256SUMS`` (MNIST, and the EMNIST ByMerge and
    ByClass test splits and Letters labels), whose README states they match the
    official distributions.
``make_samples``
    The bundled samples (``mnist-sample``, ``emnist-sample``): computed here from
    files that had first been verified against the official values above, by
    :mod:`scratchnet.data.make_samples`, which anyone can re-run.
``notwa/mnists``
    The published hash table ``mnists/hashes.py`` of the MIT-licensed
    ``notwa/mnists`` package, which lists every member of NIST's ``gzip.zip``.
    Every value of that table that can be checked here (the 14 files above)
    agrees with ``SHA256SUMS``; the Balanced, Digits and EMNIST-MNIST train
    values also agree with a second public project that pinned them after
    CRC-checked extraction from the NIST archive.
No checksum in this module was computed from an unofficial copy or guessed. A
file whose checksum is unknown would carry ``sha256=None``; see
:mod:`scratchnet.data.checksums` for how such files are treated.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import SplitError, UnknownDatasetError

__all__ = [
    "FileSpec",
    "SplitSpec",
    "ArchiveSpec",
    "DatasetSpec",
    "REGISTRY",
    "get_spec",
    "register",
    "unregister",
    "dataset_names",
    "parse_mapping",
    "load_mapping",
]


@dataclass(frozen=True)
class FileSpec:
    """One official data file.

    Attributes
    ----------
    name
        Official file name, always the gzipped one (``*-ubyte.gz``); the raw,
        uncompressed name is the same without ``.gz``.
    sha256
        Official SHA-256 of the ``.gz`` file (lower-case hex), or None if no
        published value is known.
    size
        Size in bytes of the ``.gz`` file, or None if not recorded.
    sha256_source
        Where ``sha256`` was taken from (see the module docstring).
    """

    name: str
    sha256: str | None
    size: int | None = None
    sha256_source: str = ""


@dataclass(frozen=True)
class SplitSpec:
    """The image and label files of one official split and its record count."""

    images: FileSpec
    labels: FileSpec
    count: int


@dataclass(frozen=True)
class ArchiveSpec:
    """A zip archive that holds the data files as members (NIST's ``gzip.zip``).

    Attributes
    ----------
    urls
        Where to fetch the archive, tried in order.
    member_prefix
        Folder of the data files inside the archive (``"gzip/"`` for NIST).
    sha256, size
        Of the whole archive, for documentation and manual downloads. The
        downloader streams the archive and keeps only the requested members, so it
        verifies each member against its own checksum instead.
    """

    urls: tuple[str, ...]
    member_prefix: str = "gzip/"
    sha256: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """Everything scratchnet knows about one dataset.

    Attributes
    ----------
    name
        Registry key, e.g. ``"emnist-bymerge"``.
    subdir
        Conventional sub-folder of a data folder (``"mnist"`` or ``"emnist"``).
    splits
        ``{"train": SplitSpec, "test": SplitSpec}``.
    class_names
        One string per class, indexed by the 0-based label ``load`` returns.
    label_offset
        Subtracted from stored labels to make them 0-based (1 for EMNIST Letters).
    transposed
        True when the files store each image transposed (all of EMNIST).
    mirrors
        Base URLs (ending in ``/``) from which single files can be fetched by name.
    archive
        The archive holding the files, for datasets not served file by file.
    mapping_file
        Name of the official ``label -> character`` mapping file, if any.
    homepage, licence, citation
        Provenance, shown by the CLI and the error messages.
    bundled
        For a sample shipped inside the package: the sub-folder of the
        ``scratchnet.data`` package that holds its files. They are found there
        whatever the data folder, and never downloaded.
    """

    name: str
    subdir: str
    splits: dict[str, SplitSpec]
    class_names: tuple[str, ...]
    label_offset: int = 0
    transposed: bool = False
    mirrors: tuple[str, ...] = ()
    archive: ArchiveSpec | None = None
    mapping_file: str | None = None
    homepage: str = ""
    licence: str = ""
    citation: str = ""
    notes: tuple[str, ...] = field(default=())
    bundled: str | None = None

    @property
    def num_classes(self) -> int:
        """Number of classes (length of ``class_names``)."""
        return len(self.class_names)

    def split(self, split: str) -> SplitSpec:
        """Return the :class:`SplitSpec` of an official split, with a clear error otherwise."""
        try:
            return self.splits[split]
        except KeyError:
            raise SplitError(
                f"{self.name} has no split {split!r}; its splits are "
                f"{', '.join(repr(s) for s in self.splits)}"
            ) from None

    def files(self, splits: Iterable[str] | None = None) -> list[FileSpec]:
        """The files of the given splits (all splits by default), images before labels."""
        names = list(self.splits) if splits is None else list(splits)
        return [f for s in names for f in (self.split(s).images, self.split(s).labels)]

    def source_urls(self, file: FileSpec) -> list[str]:
        """URLs a person can fetch ``file`` (or the archive holding it) from by hand."""
        if self.mirrors:
            return [base + file.name for base in self.mirrors]
        if self.archive is not None:
            return list(self.archive.urls)
        return []


def parse_mapping(text: str) -> tuple[str, ...]:
    """Parse an EMNIST ``*-mapping.txt`` into class names.

    Each line is ``label code [code ...]`` with decimal character codes, e.g.
    ``10 65`` (label 10 is ``A``) or, for Letters, ``1 65 97`` (label 1 is
    ``A`` and ``a``). Line ends may be CRLF.

    Returns
    -------
    tuple of str
        Class names in label order; a name joins all characters of its line
        (``"A"``, or ``"Aa"`` for Letters).

    Raises
    ------
    ValueError
        If a line is malformed or the labels are not consecutive.
    """
    rows: list[tuple[int, str]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        try:
            label, *codes = (int(f) for f in fields)
            if not codes:
                raise ValueError("no character code")
            rows.append((label, "".join(chr(c) for c in codes)))
        except ValueError as exc:
            raise ValueError(f"mapping line {lineno} is malformed ({exc}): {line!r}") from None
    labels = [label for label, _ in rows]
    if not labels or labels != list(range(labels[0], labels[0] + len(labels))):
        raise ValueError(f"mapping labels must be consecutive, got {labels[:5]}...")
    return tuple(name for _, name in rows)


def load_mapping(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """Read and parse a ``*-mapping.txt`` file (see :func:`parse_mapping`)."""
    return parse_mapping(Path(path).read_text(encoding="ascii"))


# --- class names, transcribed from the official *-mapping.txt files -------------------
_DIGITS = tuple("0123456789")
_UPPER = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_LOWER = tuple("abcdefghijklmnopqrstuvwxyz")
# Balanced and ByMerge merge 15 lower-case letters that look like their capitals
# (c i j k l m o p s u v w x y z) into the capital class.
_MERGED = _DIGITS + _UPPER + tuple("abdefghnqrt")
_LETTERS = tuple(u + lo for u, lo in zip(_UPPER, _LOWER, strict=True))

# --- sources --------------------------------------------------------------------------
_MNIST_MIRRORS = (
    # PyTorch's maintained S3 mirror (what torchvision uses), then Google's CVDF mirror,
    # then the original host, which has been intermittently unavailable.
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
_NIST_ARCHIVE = ArchiveSpec(
    urls=(
        "https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip",
        "https://www.itl.nist.gov/iaui/vip/cs_links/EMNIST/gzip.zip",
    ),
    member_prefix="gzip/",
    # Published by several independent projects that pin the NIST archive.
    sha256="fb9bb67e33772a9cc0b895e4ecf36d2cf35be8b709693c3564cea2a019fcda8e",
    size=561_753_746,
)
_MNIST_LICENCE = "CC BY-SA 3.0 (as usually distributed)"
_MNIST_CITATION = (
    "Y. LeCun, L. Bottou, Y. Bengio, P. Haffner. Gradient-based learning applied to "
    "document recognition. Proc. IEEE 86(11):2278-2324, 1998."
)
_EMNIST_LICENCE = "NIST public data (NIST Special Database 19 terms; see the NIST EMNIST page)"
_EMNIST_CITATION = (
    "G. Cohen, S. Afshar, J. Tapson, A. van Schaik. EMNIST: an extension of MNIST to "
    "handwritten letters. arXiv:1702.05373, 2017."
)
_SUMS = "SHA256SUMS"
_NOTWA = "notwa/mnists"

# --- official SHA-256 values (see the module docstring for their sources) ---------------
# (file name, sha256, size in bytes or None, source)
_EMNIST_FILES: dict[str, tuple[str, int | None, str]] = {
    "emnist-balanced-train-images-idx3-ubyte.gz": (
        "74295e75e4e9fa2c102147460ee7eb763653d5132d883a84fb88932bfb8d2db4", None, _NOTWA),
    "emnist-balanced-train-labels-idx1-ubyte.gz": (
        "b46d41e5156a0a8aaaa4d18979fdd1588850fa8571018acffd5d93b325a7d6ed", None, _NOTWA),
    "emnist-balanced-test-images-idx3-ubyte.gz": (
        "117fc12b015e37ea98bfb2cbba3f77c3782c056cdbd219b87abfc8661d7135db", None, _NOTWA),
    "emnist-balanced-test-labels-idx1-ubyte.gz": (
        "a67cac948379b67270b9a4d0a01c8ec661598accf2f2b1964340b7c83cb175cd", None, _NOTWA),
    "emnist-byclass-train-images-idx3-ubyte.gz": (
        "9e21987f03a6eb8b870187e785883ddad96947299587908f1a7ec2ca0f4be5f0", None, _NOTWA),
    "emnist-byclass-train-labels-idx1-ubyte.gz": (
        "f7ef403d48dc18a89dae0d83d11ee69cecb6e1c12c3a961d03712e495c02a8fa", None, _NOTWA),
    "emnist-byclass-test-images-idx3-ubyte.gz": (
        "5ec835bd5d5b1a66378a132e727fef20fe994b3cc666899befcca5ac766f50cd", 28_908_322, _SUMS),
    "emnist-byclass-test-labels-idx1-ubyte.gz": (
        "501e305eeeacb093b162592d80e8a2632040872360fa6d85cfcb2200d91ca92a", 81_839, _SUMS),
    "emnist-bymerge-train-images-idx3-ubyte.gz": (
        "39bf8c68037dad40db35348895f7e4e056e8c0a005ab78869c9fbc2c96e947be", None, _NOTWA),
    "emnist-bymerge-train-labels-idx1-ubyte.gz": (
        "2c47293b9e62d6abf6ad05fbf67e40baa32adfd380b8d7b44dcc35534b64e1f1", None, _NOTWA),
    "emnist-bymerge-test-images-idx3-ubyte.gz": (
        "5e5815ec1b522089134435f7c55e75a00960b58414793593ffff23efc0821683", 28_905_295, _SUMS),
    "emnist-bymerge-test-labels-idx1-ubyte.gz": (
        "8bda1516255683ba9071e141947ca0c91a911176065cdd6259b0b4d8dc5b5f35", 79_351, _SUMS),
    "emnist-digits-train-images-idx3-ubyte.gz": (
        "f7c95004d14d81af89522e67d8f0c781dfb3bd544181c81bfe1eb6b41c35b726", None, _NOTWA),
    "emnist-digits-train-labels-idx1-ubyte.gz": (
        "6638a6ff5fe2eefd9cca2471995b46c82986b8e4b2a70d2f5ce8e05d7edb319e", None, _NOTWA),
    "emnist-digits-test-images-idx3-ubyte.gz": (
        "20ebe43509264f7639d37c835a3f0b009e90b29e00a099a03101abe1644a3f63", None, _NOTWA),
    "emnist-digits-test-labels-idx1-ubyte.gz": (
        "bad1834c45d5988e270b99d43b13edc3fd898f658ffbc2caf2846ef27f7b05b0", None, _NOTWA),
    "emnist-letters-train-images-idx3-ubyte.gz": (
        "6288f418a917e007bf5fddb823a2dc7a5c6a35031401b93292a539cb12bd881f", None, _NOTWA),
    "emnist-letters-train-labels-idx1-ubyte.gz": (
        "9759af91ea6bccdf07a6040fd085861f2ec88e37f7c3f5760f6feb57106fbe5c", 79_283, _SUMS),
    "emnist-letters-test-images-idx3-ubyte.gz": (
        "50f0e93d75b99b463e9760b8345866f22587fa2c2fba472730a5ba09c693412d", None, _NOTWA),
    # 144 bytes for 20,800 labels: the official test labels are sorted by class
    # (800 x 'A', then 800 x 'B', ...), which gzip compresses to almost nothing.
    "emnist-letters-test-labels-idx1-ubyte.gz": (
        "924955c31fe7fd809b7303b5c0141282955f4b8390c74cdfd5d80435e0f4b4cb", 144, _SUMS),
    "emnist-mnist-train-images-idx3-ubyte.gz": (
        "5f9942f441031c0f1f2e4d162059fd6e19ea808b34c328b6d16cab0ed24c78f2", None, _NOTWA),
    "emnist-mnist-train-labels-idx1-ubyte.gz": (
        "00c6d3c2342fdffb1711e0b5656cac4ce5862d2826399d383a9bac07d612e9f8", None, _NOTWA),
    "emnist-mnist-test-images-idx3-ubyte.gz": (
        "b25640fa9e356c618132f5df347c95ef5bae6d9c2596be1de40f7e0ae1c3eac6", None, _NOTWA),
    "emnist-mnist-test-labels-idx1-ubyte.gz": (
        "bcc5385d38f083dba046f5f756e99b32f5ea7fad122c6243c71c2239873065ca", None, _NOTWA),
}
_MNIST_FILES: dict[str, tuple[str, int | None, str]] = {
    "train-images-idx3-ubyte.gz": (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9_912_422, _SUMS),
    "train-labels-idx1-ubyte.gz": (
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28_881, _SUMS),
    "t10k-images-idx3-ubyte.gz": (
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1_648_877, _SUMS),
    "t10k-labels-idx1-ubyte.gz": (
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4_542, _SUMS),
}


def _file(table: dict[str, tuple[str, int | None, str]], name: str) -> FileSpec:
    sha, size, source = table[name]
    return FileSpec(name=name, sha256=sha, size=size, sha256_source=source)


def _emnist(
    split_name: str, classes: tuple[str, ...], counts: tuple[int, int], **kw
) -> DatasetSpec:
    splits = {}
    for split, count in zip(("train", "test"), counts, strict=True):
        stem = f"emnist-{split_name}-{split}"
        splits[split] = SplitSpec(
            images=_file(_EMNIST_FILES, f"{stem}-images-idx3-ubyte.gz"),
            labels=_file(_EMNIST_FILES, f"{stem}-labels-idx1-ubyte.gz"),
            count=count,
        )
    return DatasetSpec(
        name=f"emnist-{split_name}",
        subdir="emnist",
        splits=splits,
        class_names=classes,
        transposed=True,
        archive=_NIST_ARCHIVE,
        mapping_file=f"emnist-{split_name}-mapping.txt",
        homepage="https://www.nist.gov/itl/products-and-services/emnist-dataset",
        licence=_EMNIST_LICENCE,
        citation=_EMNIST_CITATION,
        **kw,
    )


REGISTRY: dict[str, DatasetSpec] = {}


def register(spec: DatasetSpec, *, replace: bool = False) -> DatasetSpec:
    """Add ``spec`` to the registry (tests use this to point at a local server).

    Raises
    ------
    ValueError
        If the name is taken and ``replace`` is False.
    """
    if spec.name in REGISTRY and not replace:
        raise ValueError(f"dataset {spec.name!r} is already registered (pass replace=True)")
    REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a dataset from the registry (no error if absent)."""
    REGISTRY.pop(name, None)


def dataset_names() -> list[str]:
    """Registered dataset names, in registration order."""
    return list(REGISTRY)


def get_spec(name: str) -> DatasetSpec:
    """Return the :class:`DatasetSpec` registered as ``name``.

    Raises
    ------
    UnknownDatasetError
        If ``name`` is not registered; the message lists the known names.
    """
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownDatasetError(
            f"unknown dataset {name!r}; known datasets: {', '.join(REGISTRY)}"
        ) from None


register(
    DatasetSpec(
        name="mnist",
        subdir="mnist",
        splits={
            "train": SplitSpec(
                _file(_MNIST_FILES, "train-images-idx3-ubyte.gz"),
                _file(_MNIST_FILES, "train-labels-idx1-ubyte.gz"),
                60_000,
            ),
            "test": SplitSpec(
                _file(_MNIST_FILES, "t10k-images-idx3-ubyte.gz"),
                _file(_MNIST_FILES, "t10k-labels-idx1-ubyte.gz"),
                10_000,
            ),
        },
        class_names=_DIGITS,
        mirrors=_MNIST_MIRRORS,
        homepage="http://yann.lecun.com/exdb/mnist/",
        licence=_MNIST_LICENCE,
        citation=_MNIST_CITATION,
    )
)
register(_emnist("balanced", _MERGED, (112_800, 18_800)))
register(
    _emnist(
        "letters",
        _LETTERS,
        (124_800, 20_800),
        label_offset=1,
        notes=(
            "Stored labels are 1..26; load() returns 0..25. Class names join the upper- "
            "and lower-case letter that share a class ('Aa').",
            "The official test split is sorted by class (800 per letter, A first), so "
            "any contiguous slice of it, e.g. 'test[:10%]', holds only a few letters.",
        ),
    )
)
register(
    _emnist(
        "byclass",
        _DIGITS + _UPPER + _LOWER,
        (697_932, 116_323),
    )
)
register(
    _emnist(
        "bymerge",
        _MERGED,
        (697_932, 116_323),
        notes=("Same 47 classes as Balanced, but unbalanced.",),
    )
)
register(_emnist("digits", _DIGITS, (240_000, 40_000)))
register(_emnist("mnist", _DIGITS, (60_000, 10_000)))


# --- the bundled samples (see scratchnet/data/make_samples.py and samples/LICENSE.md) -----
_SAMPLED = "make_samples"
_SAMPLE_FILES: dict[str, tuple[str, int | None, str]] = {
    "mnist-sample-train-images-idx3-ubyte.gz": (
        "adeb3b32e324576f7e076eb4775ef91a7be4f57f6b0aa10f8440e30d5325c0ee", 648_716, _SAMPLED),
    "mnist-sample-train-labels-idx1-ubyte.gz": (
        "a42cdeaa8a60d9fdcdf2e0fecdc35946da18a2e5bab6ddd68eb555bb894fbe8f", 2_057, _SAMPLED),
    "mnist-sample-test-images-idx3-ubyte.gz": (
        "34a8212dcfc9d5e7a60ea7f423b4dd7ca1b3cc76e7cb02a98ba3ffe91ce411fb", 160_788, _SAMPLED),
    "mnist-sample-test-labels-idx1-ubyte.gz": (
        "7a139418e937fff20b8db859ee4b9d842ad6604eb215963e6aceb328a2c6e335", 524, _SAMPLED),
    "emnist-sample-train-images-idx3-ubyte.gz": (
        "88769c974ed5400d472a96173e564eff415c4367228da9043c2c02d37a7ff3d1", 1_174_258,
        _SAMPLED),
    "emnist-sample-train-labels-idx1-ubyte.gz": (
        "f9e5a433a62bad1994e3f08a00cdcc97adac2064ae5f8c137bd41506452dfc57", 3_396, _SAMPLED),
    "emnist-sample-test-images-idx3-ubyte.gz": (
        "026cb37af8303a0643a9d58baa81128f16ee92052715d51d66e0ca73ad82dc01", 296_203, _SAMPLED),
    "emnist-sample-test-labels-idx1-ubyte.gz": (
        "b68d80981709c41a02905b471a6cb329b8bf41d5030fac5b4129344b9af96595", 883, _SAMPLED),
}


def _sample(name: str, classes: tuple[str, ...], counts: tuple[int, int], **kw) -> DatasetSpec:
    splits = {
        split: SplitSpec(
            images=_file(_SAMPLE_FILES, f"{name}-{split}-images-idx3-ubyte.gz"),
            labels=_file(_SAMPLE_FILES, f"{name}-{split}-labels-idx1-ubyte.gz"),
            count=count,
        )
        for split, count in zip(("train", "test"), counts, strict=True)
    }
    return DatasetSpec(name=name, subdir="samples", splits=splits, class_names=classes,
                       bundled="samples", **kw)


register(
    _sample(
        "mnist-sample",
        _DIGITS,
        (4_000, 1_000),
        homepage="http://yann.lecun.com/exdb/mnist/",
        licence=_MNIST_LICENCE,
        citation=_MNIST_CITATION,
        notes=(
            "Bundled with scratchnet: 400 images per digit from MNIST train and 100 per "
            "digit from t10k, shuffled (scratchnet/data/make_samples.py).",
            "Attribution and terms: scratchnet/data/samples/LICENSE.md.",
        ),
    )
)
register(
    _sample(
        "emnist-sample",
        _MERGED,
        (4_700, 1_175),
        transposed=True,
        homepage="https://www.nist.gov/itl/products-and-services/emnist-dataset",
        licence=_EMNIST_LICENCE,
        citation=_EMNIST_CITATION,
        notes=(
            "Bundled with scratchnet: the 47 ByMerge classes, 100 images each from ByMerge "
            "test[:96323] (train) and 25 each from test[96323:] (test), shuffled "
            "(scratchnet/data/make_samples.py); no overlap with either range's other part.",
            "Attribution and terms: scratchnet/data/samples/LICENSE.md.",
        ),
    )
)
