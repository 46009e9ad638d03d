"""Ctrl-C during fit is always a clean KeyboardInterrupt (issue 15, item 6).

A SIGINT arriving while numba kernels run (in the main thread or the shard threads)
used to surface now and then as ``SystemError: CPUDispatcher(...) returned a result
with an exception set``.
"""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from scratchnet import interrupt

ROOT = Path(__file__).resolve().parents[1]

WORKER = textwrap.dedent("""
    import sys
    import numpy as np
    from scratchnet.seed_models import seed_cnn

    rng = np.random.default_rng(0)
    x = rng.random((512, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, len(x))
    model = seed_cnn(10)
    model.compile("adam")
    model.fit(x[:64], y[:64], batch_size=32, verbose=0)  # kernels loaded before the signals
    for run in range(int(sys.argv[1])):
        print("training", flush=True)
        try:
            model.fit(x, y, batch_size=64, epochs=1000, verbose=0)
            print("finished", flush=True)
        except KeyboardInterrupt:
            print("KeyboardInterrupt", flush=True)
        except BaseException as err:
            print(f"{type(err).__name__}: {err}".replace("\\n", " "), flush=True)
""")

RUNS = 20


def test_sigint_at_random_points_is_always_a_clean_keyboard_interrupt(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    pick = random.Random(int.from_bytes(os.urandom(4), "little"))
    proc = subprocess.Popen([sys.executable, str(script), str(RUNS)], stdout=subprocess.PIPE,
                            text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    outcomes = []
    try:
        for _ in range(RUNS):
            assert proc.stdout.readline().strip() == "training"
            time.sleep(pick.uniform(0.001, 0.4))
            proc.send_signal(signal.SIGINT)
            outcomes.append(proc.stdout.readline().strip())
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
    assert outcomes == ["KeyboardInterrupt"] * RUNS


def test_a_sigint_is_deferred_to_the_check_and_the_handler_restored():
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), interrupt.deferred_sigint():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)  # the handler has run by now, and only recorded the signal
        np.zeros(3).sum()
        interrupt.check()
        raise AssertionError("not reached")
    assert signal.getsignal(signal.SIGINT) is before


def test_ctrl_c_in_compare_exits_130_saying_interrupted(tmp_path):
    """compare.py, interrupted while it trains: exit 130, "interrupted", nothing left behind."""
    folder = os.environ.get("SCRATCHNET_DATA")
    if not folder or not (Path(folder) / "mnist").is_dir():
        pytest.skip("SCRATCHNET_DATA with mnist is needed for compare.py --quick --dataset mnist")
    pick = random.Random(int.from_bytes(os.urandom(4), "little"))
    for run in range(2):
        out = tmp_path / f"report{run}"
        proc = subprocess.Popen(
            [sys.executable, "examples/compare.py", "--quick", "--dataset", "mnist", "--out",
             str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"})
        while "== CNN" not in (line := proc.stdout.readline()):
            assert line, proc.communicate()
        time.sleep(pick.uniform(0.2, 2.0))  # inside the CNN's or the LSTM's fit
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130 and "interrupted" in err, err[-2000:]
        assert "Traceback" not in err and "SystemError" not in err
        assert not out.exists() and not [p for p in tmp_path.iterdir() if "partial" in p.name]
