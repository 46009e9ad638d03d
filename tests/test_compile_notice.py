"""The compile notice: one line while kernels compile from scratch, nothing on a warm cache."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
from numba.core import event

from scratchnet import compile_notice

ROOT = Path(__file__).resolve().parent.parent
LINE = "compiling kernels for float32, first run only"

CHILD = """
import numpy as np
import scratchnet
from scratchnet.seed_models import seed_lstm
model = seed_lstm(5)
model.compile("adam", "sparse_categorical_crossentropy")
x = np.random.default_rng(0).random((40, 28, 28), dtype=np.float32)
model.fit(x, np.arange(40) % 5, batch_size=32, epochs=1, verbose=0)
model.predict(x)
print("done")
"""


def _run_child(cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True,
                          text=True, timeout=300)


def test_cold_cache_says_so_once_and_warm_cache_says_nothing(tmp_path):
    cache = tmp_path / "numba-cache"
    cold = _run_child(cache)
    assert cold.returncode == 0 and cold.stdout.strip() == "done", cold.stderr[-2000:]
    assert cold.stderr.count(LINE) == 1, cold.stderr
    warm = _run_child(cache)
    assert warm.returncode == 0, warm.stderr[-2000:]
    assert "compiling" not in warm.stderr, warm.stderr


# -- the listener itself, fed with numba-style events ------------------------------------------
def _event(kind: str, module: str, dtype) -> event.Event:
    func = types.FunctionType(compile("def f(): pass", module, "exec").co_consts[0],
                              {"__name__": module})
    dispatcher = types.SimpleNamespace(py_func=func)
    args = (types.SimpleNamespace(dtype=dtype), types.SimpleNamespace())
    status = event.EventStatus.START if kind == "start" else event.EventStatus.END
    return event.Event("numba:compile", status, data={"dispatcher": dispatcher, "args": args})


def _compile(notice, module, dtype, seconds):
    notice.on_start(_event("start", module, dtype))
    time.sleep(seconds)
    notice.on_end(_event("end", module, dtype))


def test_line_appears_during_a_long_compile_once_per_dtype(capsys):
    notice = compile_notice._Notice(threshold=0.05)
    notice.on_start(_event("start", "scratchnet.kernels.x", np.dtype("float32")))
    time.sleep(0.3)
    # Printed by the timer while the compile is still running.
    assert capsys.readouterr().err == compile_notice.message("float32") + "\n"
    notice.on_end(_event("end", "scratchnet.kernels.x", np.dtype("float32")))
    _compile(notice, "scratchnet.kernels.y", np.dtype("float32"), 0.1)
    assert capsys.readouterr().err == ""  # once per dtype
    _compile(notice, "scratchnet.kernels.y", np.dtype("float64"), 0.1)
    assert capsys.readouterr().err == compile_notice.message("float64") + "\n"


def test_short_compiles_add_up_and_other_libraries_are_ignored(capsys):
    notice = compile_notice._Notice(threshold=0.2)
    for _ in range(3):
        _compile(notice, "someone_else.kernels", np.dtype("float32"), 0.1)
    assert capsys.readouterr().err == ""
    _compile(notice, "scratchnet.a", np.dtype("float32"), 0.12)
    assert capsys.readouterr().err == ""  # 0.12 s so far: under the threshold
    _compile(notice, "scratchnet.b", np.dtype("float32"), 0.12)
    assert capsys.readouterr().err.count("first run only") == 1


def test_quiet_mutes_the_installed_listener(capsys):
    compile_notice.install()
    listener = compile_notice._listener
    with compile_notice.quiet():
        assert listener.muted == 1
    assert listener.muted == 0


def test_import_scratchnet_loads_no_numba_and_the_notice_arrives_with_it():
    code = ("import sys, scratchnet\n"
            "from scratchnet import compile_notice as c\n"
            "assert 'numba' not in sys.modules and c._listener is None\n"
            "import numba\n"
            "assert c._listener is not None and c._hook is None\n"
            "assert c._hook not in sys.meta_path\n"
            "print('ok')\n")
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.stdout.strip() == "ok", result.stderr
