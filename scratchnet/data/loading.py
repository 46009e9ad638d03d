"""``load``: a dataset split as upright uint8 images and 0-based int64 labels."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .checksums import verify_file
from .download import DownloadOptions, download_file, extract_zip_members
from .errors import (
    DataDirNotWritableError,
    DatasetNotFoundError,
    DownloadError,
    IDXFormatError,
)
from .idx import read_idx
from .locating import SplitFiles, data_dir_origin, locate, not_found_message
from .paths import bundled_dir, ensure_writable_dir, find_file, resolve_data_dir
from .registry import DatasetSpec, FileSpec, get_spec
from .slicing import parse_split

__all__ = ["load", "download_dataset", "download_size", "IMAGE_SHAPE"]

#: Height and width of every image in the registry.
IMAGE_SHAPE = (28, 28)


def download_dataset(
    name: str,
    split: str | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    options: DownloadOptions | None = None,
) -> list[Path]:
    """Download and verify the missing files of one split, or of every split.

    Files already present are kept as they are (check them with ``load`` or
    ``python -m scratchnet.data list``). New files go to the dataset's sub-folder
    of the data folder and appear there only once verified.

    Parameters
    ----------
    name
        Registered dataset name.
    split
        Official split name (a slice is ignored), or None for all splits.
    data_dir
        Data folder; default as in :func:`scratchnet.data.paths.resolve_data_dir`.
    options
        Timeouts, retries, progress bar (:class:`DownloadOptions`).

    Returns
    -------
    list of pathlib.Path
        The paths of the files downloaded (empty if nothing was missing).

    Raises
    ------
    DataDirNotWritableError
        If the destination folder cannot be written.
    DownloadError
        If a file could not be downloaded and verified from any source.
    """
    spec = get_spec(name)
    splits = list(spec.splits) if split is None else [parse_split(split).base]
    root = resolve_data_dir(data_dir)
    missing = [f for f in spec.files(splits) if find_file(spec, f, root) is None]
    if not missing:
        return []
    if spec.bundled is not None:
        raise DownloadError(
            f"{spec.name} ships inside the scratchnet package and cannot be downloaded; "
            f"its files are missing from {bundled_dir(spec)}: reinstall scratchnet "
            "(pip install --force-reinstall scratchnet, or a fresh checkout)")
    target = root / spec.subdir
    # Folders this call creates; a failed download removes them again if still empty,
    # so an offline attempt leaves no trace.
    created = [p for p in (target, *target.parents) if not p.exists()]
    ensure_writable_dir(target)
    try:
        if spec.mirrors:
            return [
                download_file(spec.source_urls(f), target / f.name, f.sha256, options)
                for f in missing
            ]
        if spec.archive is not None:
            prefix = spec.archive.member_prefix
            members = {prefix + f.name: (target / f.name, f.sha256) for f in missing}
            return extract_zip_members(spec.archive.urls, members, options)
        raise DownloadError(f"{spec.name} has no download source; copy its files in by hand")
    except BaseException:
        for folder in created:  # deepest first
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise


def download_size(
    name: str, split: str | None = None, data_dir: str | os.PathLike[str] | None = None
) -> int | None:
    """Bytes :func:`download_dataset` would fetch for the missing files of a split.

    0 when nothing is missing (or for a bundled sample, which is never downloaded).
    For a dataset served as one archive (EMNIST) it is the whole archive, which the
    downloader streams through to reach the members. None if a size is not recorded.
    """
    spec = get_spec(name)
    splits = list(spec.splits) if split is None else [parse_split(split).base]
    root = resolve_data_dir(data_dir)
    missing = [f for f in spec.files(splits) if find_file(spec, f, root) is None]
    if not missing or spec.bundled is not None:
        return 0
    if spec.mirrors:
        sizes = [f.size for f in missing]
        return None if None in sizes else sum(sizes)
    return spec.archive.size if spec.archive is not None else 0


def _verify(spec: DatasetSpec, file: FileSpec, path: Path) -> None:
    # The official checksums are of the .gz files; an uncompressed copy cannot be
    # checked against them and is instead validated structurally by _check_arrays.
    if path.name == file.name:
        verify_file(path, file.sha256)


def _check_arrays(
    spec: DatasetSpec, found: SplitFiles, images: np.ndarray, labels: np.ndarray
) -> None:
    expected = spec.split(found.split).count
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise IDXFormatError(
            f"{found.images}: expected uint8 images of shape (N, 28, 28), "
            f"got {images.dtype} {images.shape}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise IDXFormatError(f"{found.labels}: expected uint8 labels of shape (N,), got "
                             f"{labels.dtype} {labels.shape}")
    if len(images) != expected or len(labels) != expected:
        raise IDXFormatError(
            f"{spec.name} {found.split!r} has {expected} records officially, but "
            f"{found.images} holds {len(images)} images and {found.labels} {len(labels)} labels"
        )
    lo, hi = int(labels.min()), int(labels.max())
    first, last = spec.label_offset, spec.label_offset + spec.num_classes - 1
    if lo < first or hi > last:
        raise IDXFormatError(
            f"{found.labels}: labels span {lo}..{hi}, but {spec.name} stores {first}..{last}"
        )


def load(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    verify: bool = True,
    *,
    download_options: DownloadOptions | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load a dataset split.

    Parameters
    ----------
    name
        One of :func:`scratchnet.data.dataset_names`, e.g. ``"mnist"`` or
        ``"emnist-bymerge"``.
    split
        ``"train"``, ``"test"``, or a TFDS-style slice of one of them:
        ``"test[:96323]"``, ``"test[96323:]"``, ``"train[:10%]"``, ``"train[-5000:]"``.
    data_dir
        Data folder. Default: ``$SCRATCHNET_DATA``, else the source checkout's
        ``datasets/``, else a user cache folder.
    download
        Fetch missing files (verified) into the data folder.
    verify
        Check gzipped files against their official SHA-256 (cached per file,
        size and mtime, so this costs nothing after the first time). A mismatch
        raises :class:`ChecksumMismatchError`; pass False to skip the check.
    download_options
        Timeouts, retries and progress bar for downloads.

    Returns
    -------
    images : numpy.ndarray
        uint8, shape (N, 28, 28), C-contiguous, upright (EMNIST files store
        images transposed; they are transposed back here).
    labels : numpy.ndarray
        int64, shape (N,), 0-based: ``class_names[labels[i]]`` is the
        character of image i (EMNIST Letters stores 1..26; it becomes 0..25).

    Raises
    ------
    UnknownDatasetError, SplitError
        For an unknown dataset, an unknown split or a malformed slice.
    DatasetNotFoundError
        If files are missing and could not be downloaded; the message lists
        the files, the folders searched, where to fetch them and how to point
        scratchnet at them.
    ChecksumMismatchError
        If a file is not the official one (and ``verify`` is True).
    IDXFormatError
        If a file is not valid IDX or does not match the dataset's size.
    """
    spec = get_spec(name)
    selection = parse_split(split)
    spec.split(selection.base)  # unknown split names fail before any file access
    found = locate(name, selection.base, data_dir)
    if not found.complete:
        origin = data_dir_origin(data_dir)
        if not download:
            raise DatasetNotFoundError(
                not_found_message(found, origin, "Not downloading, because download=False.")
            )
        try:
            download_dataset(name, selection.base, found.root, options=download_options)
        except (DownloadError, DataDirNotWritableError) as exc:
            raise DatasetNotFoundError(
                not_found_message(found, origin, f"Download failed: {exc}")
            ) from exc
        found = locate(name, selection.base, found.root)
    assert found.images is not None and found.labels is not None  # download() ensured it
    s = spec.split(selection.base)
    if verify:
        _verify(spec, s.images, found.images)
        _verify(spec, s.labels, found.labels)
    # EMNIST is transposed back while decoding, record by record (no extra copy).
    # A file of the wrong rank fails here or in _check_arrays, as IDXFormatError.
    images = read_idx(found.images, swap_last_axes=spec.transposed)
    labels = read_idx(found.labels)
    _check_arrays(spec, found, images, labels)
    cut = selection.resolve(len(labels))
    images, labels = images[cut], labels[cut]
    if not selection.is_whole:
        images = images.copy()  # a slice must not keep the whole split alive
    labels = labels.astype(np.int64)
    if spec.label_offset:
        labels -= spec.label_offset
    return images, labels
