"""python -m scratchnet.data: list, download, show."""

from __future__ import annotations

import subprocess
import sys

import matplotlib.image
import pytest

from scratchnet.data import register, unregister
from scratchnet.data.cli import main

from .synthetic import make_dataset, make_zip


@pytest.fixture
def served_dataset(http_server, request):
    spec, splits = make_dataset("test-cli", archive_urls=(http_server.url("/gzip.zip"),))
    members = {}
    for split, data in splits.items():
        s = spec.split(split)
        members["gzip/" + s.images.name] = data.image_file
        members["gzip/" + s.labels.name] = data.label_file
    http_server.add("/gzip.zip", make_zip(members))
    register(spec)
    request.addfinalizer(lambda: unregister(spec.name))
    return spec, splits


def test_download_list_show(tmp_path, capsys, served_dataset):
    spec, _ = served_dataset
    assert main(["list", "--data-dir", str(tmp_path)]) == 0
    assert "test-cli          test         30       5  absent" in capsys.readouterr().out

    assert main(["download", "test-cli", "--split", "test", "--data-dir", str(tmp_path)]) == 0
    assert "downloaded and verified" in capsys.readouterr().out
    assert main(["list", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "test-cli          test         30       5  verified" in out
    assert "test-cli          train        40       5  absent" in out

    png = tmp_path / "grid.png"
    args = ["show", "test-cli", "--split", "test[:12]", "--n", "9", "--out", str(png)]
    assert main([*args, "--data-dir", str(tmp_path), "--no-download"]) == 0
    pixels = matplotlib.image.imread(png)
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100


def test_failed_download_exits_1_with_guidance(tmp_path, capsys, http_server, request):
    spec, _ = make_dataset("test-cli-gone", archive_urls=(http_server.url("/nothing.zip"),))
    register(spec)
    request.addfinalizer(lambda: unregister(spec.name))
    args = ["download", "test-cli-gone", "--retries", "0", "--data-dir", str(tmp_path)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "test-cli-gone split 'train' is not available locally" in err
    assert "HTTP 404" in err and http_server.url("/nothing.zip") in err


def test_errors_exit_1_with_a_message(tmp_path, capsys):
    assert main(["show", "nope", "--data-dir", str(tmp_path)]) == 1
    assert "unknown dataset 'nope'" in capsys.readouterr().err
    assert main(["show", "mnist", "--split", "test[", "--data-dir", str(tmp_path)]) == 1
    assert "malformed split" in capsys.readouterr().err
    assert main(["show", "mnist", "--no-download", "--data-dir", str(tmp_path)]) == 1
    assert "mnist split 'test' is not available locally" in capsys.readouterr().err


def test_module_entry_point(tmp_path):
    command = ["list", "--no-verify", "--data-dir", str(tmp_path)]
    result = subprocess.run(
        [sys.executable, "-m", "scratchnet.data", *command],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "emnist-bymerge" in result.stdout and "absent" in result.stdout
