"""A new user's first run: a fresh clone, no data folder, no network, `compare.py --quick`.

The clone is made of the files git would hand out (tracked, plus new files not
ignored), copied to a temporary folder. scratchnet is then installed from it the
ordinary, non-editable way (``pip install --no-deps --target``: this environment's
NumPy, numba and matplotlib serve as the dependencies), so the run uses the installed
copy, package data and all, not the source tree. ``SCRATCHNET_DATA`` is unset, the
numba cache is empty, and every HTTP(S) request goes to a closed local port, so any
attempt to download fails at once. Nothing is written into this checkout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_compare import FIGURES, check_figures, check_json_is_self_consistent

ROOT = Path(__file__).resolve().parent.parent
CLOSED_PORT_PROXY = "http://127.0.0.1:9"  # the discard port: nothing listens, refused at once


def clone_files(dest: Path) -> Path:
    """Copy the files a fresh clone of this checkout would hold into ``dest``."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: cannot tell which files a clone holds")
    listing = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True, check=True).stdout.decode()
    for name in filter(None, listing.split("\0")):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).write_bytes(src.read_bytes())
    return dest


def install(clone: Path, target: Path) -> Path:
    """``pip install`` the clone (not editable) into ``target``; return ``target``."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "-q", "--target", str(target),
         str(clone)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return target


def offline_env(site: Path, numba_cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SCRATCHNET_DATA", "NO_PROXY", "no_proxy", "PYTHONPATH")}
    env.update({
        "PYTHONPATH": str(site),
        "NUMBA_CACHE_DIR": str(numba_cache),
        "SCRATCHNET_CACHE_DIR": str(numba_cache.parent / "scratchnet-cache"),
        "HTTP_PROXY": CLOSED_PORT_PROXY, "HTTPS_PROXY": CLOSED_PORT_PROXY,
        "http_proxy": CLOSED_PORT_PROXY, "https_proxy": CLOSED_PORT_PROXY,
    })
    return env


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    return clone_files(tmp_path_factory.mktemp("fresh-clone"))


@pytest.fixture(scope="module")
def site(clone, tmp_path_factory) -> Path:
    return install(clone, tmp_path_factory.mktemp("site-packages"))


def test_quick_compare_on_a_fresh_clone_without_data_or_network(clone, site, tmp_path):
    env = offline_env(site, tmp_path / "numba-cache")
    result = subprocess.run([sys.executable, "examples/compare.py", "--quick"], cwd=clone,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    first = result.stdout.splitlines()[0]
    assert first.startswith("Data: emnist-sample, the sample of real handwriting bundled"), first
    (out,) = (clone / "results").glob("compare-emnist-sample-*-quick")
    assert {p.name for p in out.iterdir()} == FIGURES | {"report.md", "results.json"}
    results = json.loads((out / "results.json").read_text())
    check_json_is_self_consistent(results, 47)
    assert results["run"]["sizes"] == {"train": 3600, "validation": 400, "test": 1000}
    report = (out / "report.md").read_text()
    assert "bundled with scratchnet" in report and "Quick smoke run" in report
    check_figures(out)
    # What the script imported (its sys.path starts with examples/, not the clone's root):
    # the installed copy, not the clone's source.
    where = subprocess.run([sys.executable, "-c", "import scratchnet; print(scratchnet.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert where.stdout.startswith(str(site)), where
    # The kernels compiled from scratch (empty cache): one line said so, once.
    assert result.stderr.count("compiling kernels for float32, first run only") == 1
    # Nothing went to a data folder: the clone's datasets/ holds only what git gave it.
    assert sorted(p.name for p in (clone / "datasets").iterdir()) == [".gitignore", "README.md"]


def test_default_letters_run_without_a_terminal_refuses_the_big_download(clone, site,
                                                                          tmp_path):
    env = offline_env(site, tmp_path / "numba-cache")
    data = tmp_path / "empty-data"
    result = subprocess.run(
        [sys.executable, "examples/compare.py", "--data-dir", str(data), "--out",
         str(tmp_path / "out")], cwd=clone, env=env, capture_output=True, text=True,
        timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 1, result.stderr
    for needle in ("emnist-letters-train-images-idx3-ubyte.gz", "562 MB", "--yes",
                   "The 'test' split is missing too: emnist-letters-test-images-idx3-ubyte.gz",
                   "emnist-sample", "--dataset mnist"):
        assert needle in result.stderr, needle
    assert "Traceback" not in result.stderr
    assert not data.exists() and not (tmp_path / "out").exists()


# -- the question itself, in-process -----------------------------------------------------------
@pytest.fixture
def compare(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "examples"))
    import compare

    return compare


class _Tty:
    def isatty(self):
        return True


def test_a_terminal_is_asked_and_a_no_refuses(compare, tmp_path, monkeypatch):
    args = compare.parse_args(["--data-dir", str(tmp_path)])
    monkeypatch.setattr(sys, "stdin", _Tty())
    monkeypatch.setattr(sys, "stderr", _Tty())
    questions = []
    with pytest.raises(compare.DownloadRefused, match="you answered no"):
        compare.confirm_download(args, ask=lambda q: questions.append(q) or "n")
    assert "download 562 MB? [y/N]" in questions[0]  # NIST's archive, streamed once
    assert compare.confirm_download(args, ask=lambda q: "y") is True


def test_with_yes_a_failed_download_suggests_the_sample(compare, tmp_path, monkeypatch,
                                                        capsys):
    # In-process, with the download failing at once (as offline, minus the retries'
    # back-off): the run exits 1, names the files, and offers the two ways out.
    def offline(*args, **kwargs):
        raise compare.DownloadError("<urlopen error [Errno 111] Connection refused>")

    monkeypatch.setattr(compare, "download_dataset", offline)
    data, out = tmp_path / "empty-data", tmp_path / "out"
    assert compare.main(["--yes", "--data-dir", str(data), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    for needle in ("Download failed", "Connection refused",
                   "emnist-letters-train-images-idx3-ubyte.gz", "emnist-sample",
                   "--dataset mnist"):
        assert needle in err, needle
    assert not data.exists() and not out.exists()


def test_small_downloads_and_yes_are_not_asked(compare, tmp_path):
    def never(question):
        raise AssertionError(f"asked: {question}")

    mnist = compare.parse_args(["--dataset", "mnist", "--data-dir", str(tmp_path)])
    assert compare.confirm_download(mnist, ask=never) is False  # 11 MB: load() fetches it
    yes = compare.parse_args(["--yes", "--data-dir", str(tmp_path)])
    assert compare.confirm_download(yes, ask=never) is True
    assert compare.confirm_download(compare.parse_args(["--quick"]), ask=never) is False
