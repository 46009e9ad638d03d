"""Every data-layer exception shares one base, and keeps its built-in meaning too."""

import pytest

from scratchnet.data import errors, load


@pytest.mark.parametrize(("name", "builtin"), [
    ("IDXFormatError", ValueError), ("UnknownDatasetError", KeyError),
    ("SplitError", ValueError), ("ChecksumMismatchError", ValueError),
    ("DatasetNotFoundError", FileNotFoundError), ("DownloadError", OSError),
    ("DataDirNotWritableError", PermissionError),
])
def test_each_error_is_a_data_error_and_its_builtin(name, builtin):
    cls = getattr(errors, name)
    assert issubclass(cls, errors.DataError) and issubclass(cls, builtin)


def test_a_typo_is_caught_as_data_error():
    with pytest.raises(errors.DataError, match="mnsit"):
        load("mnsit", "train", download=False)
