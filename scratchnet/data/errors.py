"""Exceptions raised by :mod:`scratchnet.data`.

Every failure a user can cause or meet (a bad file, a missing dataset, a typo in a
split name, a failed download) has its own exception type, so callers can catch
exactly what they expect and the message can say how to fix it.
"""

from __future__ import annotations


class DataError(Exception):
    """Base of every error below: ``except DataError`` catches any data-layer failure."""


class IDXFormatError(DataError, ValueError):
    """A file is not valid IDX: bad magic, unknown type code, wrong payload size, bad gzip."""


class UnknownDatasetError(DataError, KeyError):
    """The dataset name is not in the registry."""

    def __str__(self) -> str:
        # KeyError.__str__ would wrap the whole message in quotes.
        return str(self.args[0]) if self.args else ""


class SplitError(DataError, ValueError):
    """A split string is malformed, names an unknown split, or selects nothing valid."""


class ChecksumMismatchError(DataError, ValueError):
    """A file's SHA-256 differs from the official value."""


class DatasetNotFoundError(DataError, FileNotFoundError):
    """The files of a dataset split are not available locally and could not be downloaded."""


class DownloadError(DataError, OSError):
    """A download failed on every URL and retry (offline, HTTP error, timeout, bad checksum)."""


class DataDirNotWritableError(DataError, PermissionError):
    """The folder that downloads would go to cannot be created or written."""
