"""PyTorch as an outside oracle for SimpleRNN, GRU, the LSTM's options and Bidirectional
(see ``torch_rnn_oracle``): the reference pairs against autograd, and the layers' weights
copied into ``nn.RNN``/``nn.GRU``/``nn.LSTM`` as their docstrings say.

Skipped, saying why, when torch is not installed (``pip install torch==2.13.0``).
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ORACLE = Path(__file__).with_name("torch_rnn_oracle.py")


@pytest.mark.torch
@pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                    reason="torch is not installed (pip install torch==2.13.0)")
def test_recurrent_family_agrees_with_pytorch():
    # In a child process, so torch never loads in the test process; -c puts the
    # repository root (cwd) first on sys.path, so this tree's scratchnet is compared, and
    # this folder follows it for the oracle's shared helpers (torch_oracle.compare).
    path = os.pathsep.join(filter(None, [str(ORACLE.parent), os.environ.get("PYTHONPATH")]))
    result = subprocess.run([sys.executable, "-c", ORACLE.read_text()], cwd=REPO_ROOT,
                            env={**os.environ, "PYTHONPATH": path},
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.strip().endswith("all agree")
