"""The suite's own options: selecting by marker never pulls the slow tests in."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _pytest(*args: str) -> subprocess.CompletedProcess:
    # One process (-n 0): these runs check selection, not the suite's two workers.
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "0",
                           "-q", "-rs", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.slow
@pytest.mark.realdata
def test_a_slow_test_runs_only_with_runslow(request):
    # The probe of the test below: it fails if it ever runs without --runslow.
    assert request.config.getoption("--runslow")


def test_marker_selection_skips_slow_tests_unless_runslow():
    here = "tests/test_test_options.py"
    result = _pytest(here, "-m", "realdata")  # selects the probe above, by a marker
    assert result.returncode == 0, result.stdout[-2000:]
    assert "1 skipped" in result.stdout and "run with --runslow" in result.stdout
    result = _pytest(here, "-m", "realdata", "--runslow")
    assert result.returncode == 0, result.stdout[-2000:]
    assert "1 passed" in result.stdout
