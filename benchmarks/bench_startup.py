"""Cost of starting: the time to ``import scratchnet``, and to the first trained batch.

Import (``imports()``): each repeat is a fresh interpreter that imports NumPy, then
scratchnet (with ``scratchnet.models``); both times are taken inside the child, so the
scratchnet figure is what scratchnet adds on top of NumPy (numba's import included).
An empty child gives the bare interpreter start for comparison.

First trained batch (``first_batch()``): a fresh interpreter imports scratchnet, builds
and compiles a seed model, and runs one ``train_step`` at batch 128, then a second one
for comparison. *Cold* runs with an empty ``NUMBA_CACHE_DIR`` (so every kernel the step
needs is compiled), *warm* is a second interpreter on the same cache directory (the
kernels load from it). "total" counts from the child's first line of code; the child's
wall time from the parent (interpreter start included) is reported too.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time

import common


def noop_child() -> dict:
    """Nothing: its wall time is the bare cost of starting a child interpreter."""
    return {}


def import_child() -> dict:
    """Time ``import numpy``, then ``import scratchnet`` and ``scratchnet.models``."""
    t0 = time.perf_counter()
    import numpy  # noqa: F401

    t1 = time.perf_counter()
    import scratchnet  # noqa: F401
    import scratchnet.models  # noqa: F401

    t2 = time.perf_counter()
    return {"numpy_s": t1 - t0, "scratchnet_s": t2 - t1, "total_s": t2 - t0}


def first_batch_child(kind: str, batch: int = 128) -> dict:
    """Import, build, first and second training step of a seed model, timed."""
    t0 = time.perf_counter()
    import numpy as np

    from scratchnet.models import seed_cnn, seed_lstm

    t1 = time.perf_counter()
    rng = np.random.default_rng(0)
    shape = (batch, 28, 28, 1) if kind == "cnn" else (batch, 28, 28)
    x = rng.random(shape, dtype=np.float32)
    y = rng.integers(0, common.NUM_CLASSES, batch).astype(np.int64)
    model = (seed_cnn if kind == "cnn" else seed_lstm)(common.NUM_CLASSES)
    model.compile("adam")
    model.build()
    t2 = time.perf_counter()
    model.train_step(x, y)
    t3 = time.perf_counter()
    model.train_step(x, y)
    t4 = time.perf_counter()
    return {"import_s": t1 - t0, "build_s": t2 - t1, "first_step_s": t3 - t2,
            "second_step_s": t4 - t3, "total_s": t3 - t0}


def imports(repeats: int = 5) -> dict:
    """Median over ``repeats`` fresh interpreters of each import time."""
    children = [common.run_child("bench_startup", "import_child") for _ in range(repeats)]
    bare = [common.run_child("bench_startup", "noop_child")["child_wall_s"]
            for _ in range(repeats)]
    med = {key: statistics.median(c[key] for c in children)
           for key in ("numpy_s", "scratchnet_s", "total_s", "child_wall_s")}
    return {**med, "bare_interpreter_s": statistics.median(bare), "runs": repeats}


def first_batch(kinds=("cnn", "lstm")) -> dict:
    """Time to the first trained batch, cold and warm numba cache, for each model."""
    rows = []
    for kind in kinds:
        cache = tempfile.mkdtemp(prefix="bench-numba-cache-")
        try:
            env = {"NUMBA_CACHE_DIR": cache}
            cold = common.run_child("bench_startup", "first_batch_child", {"kind": kind}, env)
            warm = common.run_child("bench_startup", "first_batch_child", {"kind": kind}, env)
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        rows.append({"kind": kind, "cold": cold, "warm": warm})
    return {"rows": rows}


def run(import_repeats: int = 5, kinds=("cnn", "lstm")) -> dict:
    return {"import": imports(import_repeats), "first_batch": first_batch(kinds)}


def to_markdown(result: dict) -> str:
    imp = result["import"]
    f = common.fmt_time
    text = common.md_table(
        ["what (fresh interpreter)", f"median of {imp['runs']}"],
        [["bare interpreter start (child wall time)", f(imp["bare_interpreter_s"])],
         ["`import numpy`", f(imp["numpy_s"])],
         ["`import scratchnet` + `scratchnet.models`, after numpy", f(imp["scratchnet_s"])],
         ["child wall time, all included", f(imp["child_wall_s"])]])
    rows = []
    for r in result["first_batch"]["rows"]:
        for cond in ("cold", "warm"):
            c = r[cond]
            rows.append([r["kind"].upper(), "cold (empty numba cache)" if cond == "cold"
                         else "warm (numba cache filled)", f(c["import_s"]), f(c["build_s"]),
                         f(c["first_step_s"]), f(c["second_step_s"]), f(c["total_s"]),
                         f(c["child_wall_s"])])
    text += "\n\n" + common.md_table(
        ["model", "numba cache", "import", "build", "first step", "second step",
         "to first trained batch", "child wall"], rows, right=set(range(2, 8)))
    return text
