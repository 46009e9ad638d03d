"""The suite's own options: selecting by marker never pulls the slow tests in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _pytest(*args, data_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SCRATCHNET_DATA": str(data_dir)}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                           "-rs", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_marker_selection_skips_slow_tests_unless_runslow(tmp_path):
    # An empty data folder: any real-data test that did run would skip for lack of data,
    # so the reason printed tells which rule skipped it.
    result = _pytest("tests/test_compare.py", "-m", "realdata and slow", data_dir=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "3 skipped" in result.stdout
    assert result.stdout.count("run with --runslow") == 2  # grouped: 1 + 2 parametrized
    assert "SCRATCHNET_DATA" not in result.stdout.split("short test summary")[-1]
    # With --runslow the same tests are selected and get as far as looking for data.
    result = _pytest("tests/test_compare.py", "-m", "realdata and slow", "--runslow",
                     data_dir=tmp_path)
    assert "run with --runslow" not in result.stdout
    assert "not found in SCRATCHNET_DATA" in result.stdout
