"""PyTorch's autograd as an outside oracle for the reference pairs (see ``torch_oracle``).

Skipped, saying why, when torch is not installed (it is not a scratchnet dependency:
``pip install torch==2.13.0``).
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ORACLE = Path(__file__).with_name("torch_oracle.py")


@pytest.mark.torch
@pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                    reason="torch is not installed (pip install torch==2.13.0)")
def test_reference_agrees_with_pytorch_autograd():
    # In a child process: the rest of the suite never imports torch. Running the file's
    # text with -c puts the repository root (cwd) first on sys.path, so this tree's
    # scratchnet is the one compared.
    result = subprocess.run([sys.executable, "-c", ORACLE.read_text()], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.strip().endswith("all agree")
