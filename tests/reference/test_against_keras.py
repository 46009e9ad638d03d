"""Keras 3 itself as an outside oracle for sample/class weights, train_on_batch, fit's logs
and the callbacks' rules (see ``keras_oracle``).

Skipped, saying why, when keras or torch (its backend here) is not installed: neither is
a scratchnet dependency (``pip install ".[oracle]" torch==2.13.0``).
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ORACLE = Path(__file__).with_name("keras_oracle.py")


@pytest.mark.torch
@pytest.mark.skipif(importlib.util.find_spec("keras") is None
                    or importlib.util.find_spec("torch") is None,
                    reason="keras and torch are not installed (pip install keras "
                           "torch==2.13.0)")
def test_weights_on_batch_and_callbacks_agree_with_keras():
    # In a child process, with Keras's backend chosen in the child's environment only. The
    # file's text run with -c puts the repository root (cwd) first on sys.path, so this
    # tree's scratchnet is the one compared.
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    result = subprocess.run([sys.executable, "-c", ORACLE.read_text()], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.strip().endswith("all agree")
