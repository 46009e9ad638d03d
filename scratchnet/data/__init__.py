"""scratchnet.data: MNIST and EMNIST, loaded correctly, fast, safely and offline.

This package stands apart from the rest of scratchnet: it imports nothing from it.

Quick start::

    from scratchnet.data import load, normalize, get_spec

    x, y = load("emnist-bymerge", "test[:96323]")   # uint8 (N, 28, 28), int64 (N,)
    x = normalize(x, "conv2d")                       # float32 (N, 28, 28, 1) in [0, 1]
    names = get_spec("emnist-bymerge").class_names   # names[y[i]] is a character

    x, y = load("mnist-sample", "train")   # bundled with the package: no folder, no network

Command line: ``python -m scratchnet.data list | download NAME | show NAME``.
"""

from .checksums import cache_dir, sha256_file, verify_file
from .download import DownloadOptions, download_file, extract_zip_members
from .errors import (
    ChecksumMismatchError,
    DataDirNotWritableError,
    DataError,
    DatasetNotFoundError,
    DownloadError,
    IDXFormatError,
    SplitError,
    UnknownDatasetError,
)
from .idx import read_idx, write_idx
from .loading import download_dataset, download_size, load
from .locating import SplitFiles, locate, missing_message
from .paths import default_data_dir, resolve_data_dir
from .preprocess import normalize
from .registry import (
    ArchiveSpec,
    DatasetSpec,
    FileSpec,
    SplitSpec,
    dataset_names,
    get_spec,
    load_mapping,
    parse_mapping,
    register,
    unregister,
)
from .slicing import parse_split

__all__ = [
    "ArchiveSpec",
    "ChecksumMismatchError",
    "DataError",
    "DataDirNotWritableError",
    "DatasetNotFoundError",
    "DatasetSpec",
    "DownloadError",
    "DownloadOptions",
    "FileSpec",
    "IDXFormatError",
    "SplitError",
    "SplitFiles",
    "SplitSpec",
    "UnknownDatasetError",
    "cache_dir",
    "dataset_names",
    "default_data_dir",
    "download_dataset",
    "download_file",
    "download_size",
    "extract_zip_members",
    "get_spec",
    "load",
    "load_mapping",
    "locate",
    "missing_message",
    "normalize",
    "parse_mapping",
    "parse_split",
    "read_idx",
    "register",
    "resolve_data_dir",
    "sha256_file",
    "unregister",
    "verify_file",
    "write_idx",
]
