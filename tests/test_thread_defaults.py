"""Importing and using scratchnet changes no environment variable of the process.

Thread-pool settings such as ``OMP_WAIT_POLICY`` or ``OPENBLAS_THREAD_TIMEOUT`` are
read by every library in the process (PyTorch's OpenMP runtime, NumPy's OpenBLAS), so
scratchnet must leave them as the user set them, or unset. Each check runs in a fresh
interpreter, because the environment is read and written process-wide.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Import scratchnet, then train one sharded step and one whole-batch step of a small
# conv model (which starts numba's thread pool and takes control of BLAS's thread count),
# and print the environment before and after as JSON.
SCRIPT = """
import json, os
before = dict(os.environ)
import numpy as np
import scratchnet
from scratchnet import layers, parallel
model = scratchnet.Sequential([
    scratchnet.Input((6, 6, 1)), layers.Conv2D(4, 3, activation="relu"), layers.MaxPool2D(),
    layers.Flatten(), layers.Dense(3, activation="softmax")])
model.compile("adam")
x = np.random.default_rng(0).random((64, 6, 6, 1), dtype=np.float32)
y = np.arange(64) % 3
model.train_step(x, y)
parallel.set_workers(1)
model.train_step(x, y)
print(json.dumps({"before": before, "after": dict(os.environ)}))
"""


def environments(**overrides) -> tuple[dict, dict]:
    env = dict(os.environ)
    for key in ("OMP_WAIT_POLICY", "OPENBLAS_THREAD_TIMEOUT"):
        env.pop(key, None)
    env.update(overrides)
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return result["before"], result["after"]


def test_importing_and_training_change_no_environment_variable():
    before, after = environments()
    assert after == before
    assert "OMP_WAIT_POLICY" not in after and "OPENBLAS_THREAD_TIMEOUT" not in after


def test_a_users_settings_are_left_as_they_are():
    mine = {"OMP_WAIT_POLICY": "ACTIVE", "OPENBLAS_THREAD_TIMEOUT": "7", "OMP_NUM_THREADS": "2"}
    before, after = environments(**mine)
    assert after == before
    assert {k: after[k] for k in mine} == mine
