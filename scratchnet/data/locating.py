"""Finding a split's files in the data folder, and explaining when they are missing."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .paths import ENV_VAR, find_file, resolve_data_dir, search_folders
from .registry import DatasetSpec, FileSpec, get_spec
from .slicing import parse_split

__all__ = ["SplitFiles", "locate", "missing_message", "not_found_message", "data_dir_origin"]


@dataclass(frozen=True)
class SplitFiles:
    """Where the files of one official split are, if found.

    Attributes
    ----------
    spec, split
        The dataset and official split name.
    root
        The data folder searched.
    images, labels
        The paths found, or None.
    """

    spec: DatasetSpec
    split: str
    root: Path
    images: Path | None
    labels: Path | None

    @property
    def complete(self) -> bool:
        """True when both files were found."""
        return self.images is not None and self.labels is not None

    def missing(self) -> list[FileSpec]:
        """The official files not found."""
        s = self.spec.split(self.split)
        return [f for f, p in ((s.images, self.images), (s.labels, self.labels)) if p is None]


def locate(name: str, split: str, data_dir: str | os.PathLike[str] | None = None) -> SplitFiles:
    """Find the files of an official split (no download, no verification).

    Parameters
    ----------
    name
        Registered dataset name.
    split
        Official split name or a sliced split string (the slice is ignored).
    data_dir
        Data folder; default as in :func:`scratchnet.data.paths.resolve_data_dir`.
    """
    spec = get_spec(name)
    base = parse_split(split).base
    s = spec.split(base)
    root = resolve_data_dir(data_dir)
    return SplitFiles(
        spec, base, root, find_file(spec, s.images, root), find_file(spec, s.labels, root)
    )


def data_dir_origin(data_dir: str | os.PathLike[str] | None) -> str:
    """Say which rule chose the data folder, for messages."""
    if data_dir is not None:
        return "the data_dir argument"
    if os.environ.get(ENV_VAR):
        return f"${ENV_VAR}"
    return "the default (no data_dir argument, no $SCRATCHNET_DATA)"


def not_found_message(found: SplitFiles, origin: str, reason: str) -> str:
    """The full explanation for a split whose files are not all present (see load)."""
    spec, split = found.spec, found.split
    s = spec.split(split)
    lines = [f"{spec.name} split {split!r} is not available locally."]
    lines.append("Expected files (the official .gz, or the same name without .gz):")
    for f, p in ((s.images, found.images), (s.labels, found.labels)):
        lines.append(f"  {f.name:<48} {'found: ' + str(p) if p else 'MISSING'}")
    if found.images is None and found.labels is not None:
        lines.append("  (only the labels are present: the images are needed to load this split)")
    lines.append(f"Looked in (data folder chosen by {origin}):")
    lines += [f"  {folder}" for folder in search_folders(spec, found.root)]
    lines.append(reason)
    target = found.root / spec.subdir
    if spec.mirrors:
        lines.append("To fetch the files by hand, download:")
        lines += [f"  {spec.mirrors[0]}{f.name}" for f in found.missing()]
        if len(spec.mirrors) > 1:
            lines.append(f"  (or the same names from {', '.join(spec.mirrors[1:])})")
    elif spec.archive is not None:
        a = spec.archive
        size = f", {a.size / 1e6:.0f} MB" if a.size else ""
        lines.append(f"To fetch the files by hand, download NIST's archive ({a.urls[0]}{size}")
        if a.sha256:
            lines.append(f"  SHA-256 {a.sha256})")
        lines.append(
            "  and copy these members out of it: "
            + ", ".join(a.member_prefix + f.name for f in found.missing())
        )
    lines.append(
        f"Put them in {target} (or any folder, flat or in a '{spec.subdir}/' sub-folder) and "
        f"point scratchnet at that folder with load(..., data_dir=FOLDER) or "
        f"`export {ENV_VAR}=FOLDER`; `python -m scratchnet.data list` shows what it finds."
    )
    return "\n".join(lines)


def missing_message(
    name: str, split: str, data_dir: str | os.PathLike[str] | None, reason: str
) -> str:
    """Explain that a split is not available: files, folders searched, where to get them.

    Parameters
    ----------
    name, split
        Dataset and (official or sliced) split.
    data_dir
        As given to :func:`load` (None for the default lookup).
    reason
        Why it could not be obtained (e.g. the download error), shown as is.
    """
    return not_found_message(locate(name, split, data_dir), data_dir_origin(data_dir), reason)
