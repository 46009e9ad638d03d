"""Where data files are looked for and where downloads go.

One data folder is used, chosen in this order:

1. the ``data_dir`` argument;
2. the ``SCRATCHNET_DATA`` environment variable;
3. the ``datasets/`` folder of a source checkout (the repository root holding
   ``pyproject.toml`` next to the ``scratchnet`` package), whose data files are
   git-ignored;
4. otherwise ``<user cache folder>/datasets`` (see
   :func:`scratchnet.data.checksums.cache_dir`).

The bundled samples (``mnist-sample``, ``emnist-sample``) are the exception: their
files ship inside the package and are always read from there.

Inside it, each file may sit flat or in the dataset's sub-folder (``mnist/`` or
``emnist/``), gzipped (``*.gz``, the official form) or uncompressed (the same
name without ``.gz``). Downloads go to the sub-folder.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .checksums import cache_dir
from .errors import DataDirNotWritableError
from .registry import DatasetSpec, FileSpec

__all__ = [
    "ENV_VAR",
    "source_checkout_datasets_dir",
    "default_data_dir",
    "resolve_data_dir",
    "candidate_paths",
    "find_file",
    "search_folders",
    "bundled_dir",
    "ensure_writable_dir",
]

ENV_VAR = "SCRATCHNET_DATA"


def source_checkout_datasets_dir() -> Path | None:
    """The ``datasets/`` folder of the source checkout this package runs from, if any."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "datasets").is_dir():
        return root / "datasets"
    return None


def default_data_dir() -> Path:
    """The data folder used when neither ``data_dir`` nor ``$SCRATCHNET_DATA`` is given."""
    return source_checkout_datasets_dir() or cache_dir() / "datasets"


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Apply the lookup order: argument, then ``$SCRATCHNET_DATA``, then the default."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    if env := os.environ.get(ENV_VAR):
        return Path(env).expanduser()
    return default_data_dir()


def bundled_dir(spec: DatasetSpec) -> Path | None:
    """The package folder holding a bundled sample's files, or None for other datasets."""
    if spec.bundled is None:
        return None
    return Path(__file__).resolve().parent / spec.bundled


def search_folders(spec: DatasetSpec, root: Path) -> list[Path]:
    """The folders searched for ``spec``'s files: the sub-folder first, then the root.

    A bundled sample is looked for only in the package (see :func:`bundled_dir`).
    """
    if (bundled := bundled_dir(spec)) is not None:
        return [bundled]
    return [root / spec.subdir, root]


def candidate_paths(spec: DatasetSpec, file: FileSpec, root: Path) -> list[Path]:
    """Every path at which ``file`` is accepted, in order of preference.

    The gzipped official file comes first because only it can be checked against
    the official SHA-256.
    """
    raw = file.name.removesuffix(".gz")
    names = [file.name, raw] if raw != file.name else [file.name]
    return [folder / n for n in names for folder in search_folders(spec, root)]


def find_file(spec: DatasetSpec, file: FileSpec, root: Path) -> Path | None:
    """The first existing candidate path of ``file`` under ``root``, or None."""
    for path in candidate_paths(spec, file, root):
        if path.is_file():
            return path
    return None


def ensure_writable_dir(folder: Path) -> Path:
    """Create ``folder`` if needed and prove that files can be written in it.

    Raises
    ------
    DataDirNotWritableError
        With the folder, the reason and how to choose another folder.
    """
    # Respect a folder marked read-only even when running as root (for whom the
    # kernel ignores permission bits): it was made read-only on purpose.
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if existing.is_dir() and not existing.stat().st_mode & 0o222:
        raise DataDirNotWritableError(
            f"cannot write to the data folder {folder}: {existing} is read-only.\n"
            f"Choose a writable folder with load(..., data_dir=...) or by setting "
            f"{ENV_VAR}, or copy the files there by hand."
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder, prefix=".scratchnet-write-test-"):
            pass
    except OSError as exc:
        raise DataDirNotWritableError(
            f"cannot write to the data folder {folder}: {exc.strerror or exc}.\n"
            f"Choose a writable folder with load(..., data_dir=...) or by setting "
            f"{ENV_VAR}, or copy the files there by hand."
        ) from exc
    return folder
