"""Shared plumbing for the benchmarks: thread pinning, timing, fresh subprocesses, memory, tables.

Nothing heavy is imported at module level, so ``run.py`` can pin the thread counts
*before* NumPy, numba or torch load (their thread pools read the environment once,
when they start).

Children: ``run_child("bench_models", "measure_child", {...})`` runs
``bench_models.measure_child(**kwargs)`` in a fresh interpreter that inherits this
process's environment (so the same thread pinning), with ``benchmarks/`` and the
repository root on ``sys.path``; the child prints its result as one JSON line, which
comes back as a dict. Fresh interpreters are how the benchmarks measure things a
running process cannot: peak memory of one configuration, import time, and JIT
compilation with an empty numba cache.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
CHILD_MARK = "BENCH_CHILD_JSON "
NUM_CLASSES = 47  # EMNIST ByMerge, as the seed models are trained


def ensure_paths() -> None:
    """Put the repository root (so the checkout's scratchnet is measured) and benchmarks/
    first on ``sys.path``."""
    for path in (str(BENCH_DIR), str(REPO)):
        if path in sys.path:
            sys.path.remove(path)
        sys.path.insert(0, path)


# -- threads -----------------------------------------------------------------------------------
def pin_threads(threads: int, threading_layer: str | None = None) -> list[str]:
    """Set the thread-count variables of every pool (OpenMP, OpenBLAS, MKL, numba).

    Must run before NumPy is imported to take full effect; returns notes about anything
    that was already loaded (and so is only partly pinned). ``threads <= 0`` leaves the
    environment as it is. ``threading_layer`` sets ``NUMBA_THREADING_LAYER`` (``omp``,
    ``tbb``, ``workqueue``).
    """
    notes = []
    if threads > 0:
        late = [m for m in ("numpy", "numba", "torch") if m in sys.modules]
        if late:
            notes.append(f"{', '.join(late)} already imported: their thread pools may not "
                         "follow the pinned counts")
        for var in THREAD_VARS:
            os.environ[var] = str(threads)
        if "numba" in sys.modules:  # too late for NUMBA_NUM_THREADS, but the count can drop
            import numba
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    if threading_layer:
        os.environ["NUMBA_THREADING_LAYER"] = threading_layer
    return notes


def framework_versions() -> dict:
    """Installed versions of the optional frameworks, read without importing them."""
    from importlib import metadata

    out = {}
    for key, dist in (("torch", "torch"), ("tensorflow", "tensorflow")):
        try:
            out[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[key] = None
    return out


def start_numba_threads() -> str:
    """Run one tiny parallel kernel, so numba loads and starts its threading layer now
    (and can report which layer it is). Returns the layer's name.

    In a process that also uses torch, start it before importing torch: on the
    reference machine, when torch (which brings its own OpenMP runtime) was imported
    *before* numba's first parallel kernel, numba's ``omp`` layer ran the LSTM's per-step
    kernels about 40x slower for the whole process. The benchmarks never mix the two in
    one process any more (``bench_fair``).
    """
    import numba
    import numpy as np

    from scratchnet.kernels.adam import adam_update_parallel as adam_update  # the pool itself

    a = np.zeros(4, dtype=np.float32)
    adam_update(a, a.copy(), a.copy(), a.copy(), 0.1, 0.9, 0.999, 1e-7)
    return numba.threading_layer()


def env_threads() -> int:
    """The pinned thread count, as inherited through the environment (0: not pinned)."""
    try:
        return int(os.environ.get("OMP_NUM_THREADS", "0"))
    except ValueError:
        return 0


def pin_torch_threads(threads: int):
    """Import torch (if installed) and give it the same thread counts; None without torch."""
    try:
        import torch
    except ImportError:
        return None
    if threads > 0:
        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(threads)
        except RuntimeError:  # only allowed once, before torch's first parallel work
            pass
    return torch


def thread_report(torch_module=None) -> dict:
    """The thread counts actually in use, per pool, plus the variables that set them."""
    import numba

    from scratchnet import blas, parallel

    start_numba_threads()
    report = {
        "env": {var: os.environ.get(var) for var in
                (*THREAD_VARS, "OMP_WAIT_POLICY", "OPENBLAS_THREAD_TIMEOUT",
                 "NUMBA_THREADING_LAYER")},
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY") or "unset (runtime default)",
        "numba_threads": numba.get_num_threads(),
        "numba_threading_layer": numba.threading_layer(),
        "blas": None,
        "torch_threads": None,
        "torch_interop_threads": None,
        # scratchnet's data parallelism: shards per large batch, and whether it can hold
        # BLAS to one thread inside them (without that it runs batches whole).
        "workers": parallel.workers(),
        "min_shard": parallel.MIN_SHARD,
        "blas_control": [Path(lib.path).name for lib in blas.libraries()],
    }
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        report["blas"] = "threadpoolctl not installed"
    else:
        report["blas"] = [
            {"library": p.get("internal_api"), "file": Path(p.get("filepath", "")).name,
             "threads": p.get("num_threads"), "threading_layer": p.get("threading_layer")}
            for p in threadpool_info()
        ]
    if torch_module is not None:
        report["torch_threads"] = torch_module.get_num_threads()
        report["torch_interop_threads"] = torch_module.get_num_interop_threads()
    return report


def format_thread_report(t: dict) -> str:
    """One line per pool, for the printed header."""
    origin = f" (from {t['omp_wait_policy_origin']})" if t.get("omp_wait_policy_origin") else ""
    lines = [f"- numba: {t['numba_threads']} threads, threading layer "
             f"`{t['numba_threading_layer']}`; OMP_WAIT_POLICY: {t['omp_wait_policy']}{origin}"]
    if isinstance(t["blas"], list):
        for p in t["blas"]:
            lines.append(f"- {p['library']} ({p['file']}): {p['threads']} threads"
                         + (f", {p['threading_layer']}" if p.get("threading_layer") else ""))
    else:
        lines.append(f"- BLAS threads: unknown ({t['blas']})")
    if t.get("workers") is not None:
        control = ", ".join(t["blas_control"]) or "none found, so batches run whole"
        lines.append(f"- scratchnet data parallelism: {t['workers']} shards per batch of "
                     f">= {t['workers'] * t['min_shard']} samples; BLAS held to 1 thread "
                     f"in them via: {control}")
    if t["torch_threads"] is not None:
        lines.append(f"- torch: {t['torch_threads']} intra-op, "
                     f"{t['torch_interop_threads']} inter-op threads")
    lines.append("- env: " + ", ".join(f"{k}={v}" for k, v in t["env"].items() if v is not None))
    return "\n".join(lines)


# -- the machine ---------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not on Linux
        return []


def git_revision() -> str:
    """HEAD's short hash, with '+dirty' when scratchnet/ has uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "scratchnet"], cwd=REPO,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def machine_info() -> dict:
    import numba
    import numpy as np

    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "platform": platform.platform(),
        "git": git_revision(),
    }


# -- timing ------------------------------------------------------------------------------------
def calibrate(fn, min_time: float, max_number: int = 1 << 16) -> int:
    """How many calls of ``fn`` one timed run needs to last at least ``min_time`` seconds
    (so timer resolution and call overhead do not dominate a microsecond kernel)."""
    number = 1
    while number < max_number:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            break
        number = min(max_number, max(2 * number, int(number * min_time / max(elapsed, 1e-9))))
    return number


def time_run(fn, number: int = 1) -> float:
    """Seconds per call, over one run of ``number`` calls."""
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def median_time(fn, repeats: int) -> float:
    """Seconds per call of ``fn()``: the median of ``repeats`` timed calls after one untimed."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def summary(times: list[float]) -> dict:
    """Median, min and max of a list of timings (seconds), and how many there were."""
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
            "runs": len(times)}


# -- memory (in a child process) ---------------------------------------------------------------
def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_mb() -> float:
    """Resident memory now, MB (VmRSS; falls back to ru_maxrss off Linux)."""
    kb = _status_kb("VmRSS")
    if kb is None:
        import resource
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024


class PeakMemory:
    """Peak resident memory of a stretch of code, above the RSS when it started.

    On Linux the kernel's high-water mark (VmHWM) is reset at the start by writing 5 to
    /proc/self/clear_refs, so the peak covers exactly the measured stretch, not the
    setup before it. Where that is impossible, ``ru_maxrss`` (the whole process's peak)
    stands in, which can only overstate the figure; ``method`` says which was used.
    """

    def __enter__(self):
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            self.method = "VmHWM reset at start"
        except OSError:
            self.method = "ru_maxrss (process lifetime)"
        self.start_mb = rss_mb()
        return self

    def __exit__(self, *exc):
        kb = _status_kb("VmHWM") if self.method.startswith("VmHWM") else None
        if kb is None:
            import resource
            kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self.peak_mb = kb / 1024
        self.delta_mb = max(self.peak_mb - self.start_mb, 0.0)
        return False

    def as_dict(self) -> dict:
        return {"rss_before_mb": round(self.start_mb, 1), "peak_rss_mb": round(self.peak_mb, 1),
                "peak_above_before_mb": round(self.delta_mb, 1), "method": self.method}


# -- children ----------------------------------------------------------------------------------
def run_child(module: str, func: str, kwargs: dict | None = None, env: dict | None = None,
              timeout: float = 900, replace_env: bool = False) -> dict:
    """Run ``module.func(**kwargs)`` in a fresh interpreter; return its JSON-able result.

    ``env`` adds to (or, with a None value, removes from) this process's environment;
    with ``replace_env`` it is the child's whole environment instead.
    The wall time of the whole child, interpreter start included, is added as
    ``child_wall_s``. A failing child raises RuntimeError with its stderr.
    """
    child_env = {} if replace_env else dict(os.environ)
    for key, value in (env or {}).items():
        if value is None:
            child_env.pop(key, None)
        else:
            child_env[key] = str(value)
    child_env["PYTHONPATH"] = os.pathsep.join(
        [str(BENCH_DIR), str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
    code = (f"import common, json; common.child_main({module!r}, {func!r}, "
            f"json.loads({json.dumps(json.dumps(kwargs or {}))}))")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], env=child_env, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - start
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(CHILD_MARK)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"child {module}.{func}({kwargs}) failed (exit {proc.returncode}):\n"
                           f"{proc.stderr.strip()[-2000:]}")
    result = json.loads(lines[-1][len(CHILD_MARK):])
    result["child_wall_s"] = wall
    return result


def child_main(module: str, func: str, kwargs: dict) -> None:
    """Entry point inside a child: call the function and print its result for the parent."""
    import importlib

    result = getattr(importlib.import_module(module), func)(**kwargs)
    print(CHILD_MARK + json.dumps(result), flush=True)


# -- output ------------------------------------------------------------------------------------
def md_table(headers: list[str], rows: list[list], right: set[int] | None = None) -> str:
    """A Markdown table; columns whose index is in ``right`` are right-aligned."""
    right = set(range(1, len(headers))) if right is None else right
    out = ["| " + " | ".join(headers) + " |",
           "| " + " | ".join("---:" if i in right else "---" for i in range(len(headers))) + " |"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def fmt_time(seconds: float | None) -> str:
    """Seconds in the most readable unit (µs, ms or s)."""
    if seconds is None:
        return "–"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def fmt_rate(x: float | None) -> str:
    return "–" if x is None else f"{x:,.0f}"


def fmt_ratio(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}x"
