"""The fair comparison: every framework in its own fresh process, alternated run by run.

Why. Measured in one process, two frameworks share the environment and two OpenMP
runtimes: a setting one of them makes (``OMP_WAIT_POLICY=PASSIVE``, which scratchnet's
import used to set) halved PyTorch's LSTM training (issue 17). So here:

- **Own process, own environment.** Each measurement is a fresh interpreter whose
  environment is the one ``run.py`` started with, minus the variables scratchnet used to
  set (``OMP_WAIT_POLICY``, ``OPENBLAS_THREAD_TIMEOUT``) and the thread-count variables
  ``run.py`` pins: every framework runs with its own defaults. A PyTorch or TensorFlow
  child never imports scratchnet (the data come as ``.npy`` files written once by the
  parent).
- **Same thread count**, set through each framework's own API: ``torch.set_num_threads``
  (and the inter-op count), TensorFlow's intra/inter-op threads, and for scratchnet
  numba's thread count, its shards (``parallel.set_workers``) and NumPy's OpenBLAS
  (``scratchnet.blas``). With ``--threads`` equal to the cores (the default, 2) that is
  scratchnet's own default.
- **Alternated.** A *round* runs every (model, mode) once per framework, the frameworks
  in an order that reverses every round (scratchnet, PyTorch, ...; then ..., PyTorch,
  scratchnet), so a busy moment of the shared machine hits both alike. Each round also
  measures the GEMM ceiling (below) in a child of its own.
- **Same real data**: EMNIST ByMerge's test split from ``SCRATCHNET_DATA`` (random values
  of the same shapes with ``--data random``, for smoke runs only).

The rows: the seed CNN and LSTM (``scratchnet.seed_models``), and the recurrent study's
GRU and SimpleRNN models (issue 12: ``Input((28, 28))``, the cell with 128 units,
``Dense(64, relu)``, ``Dense(47, softmax)``, Adam 1e-3; PyTorch: ``nn.GRU``, which is
Keras's ``reset_after=True`` formulation, and ``nn.RNN`` with tanh; ``bench_torch``).

In a child: ``warmup`` untimed runs, then ``repeats`` timed runs; a training run is
``steps`` steps of batch 128 with Adam, an inference run ``steps`` batches of 1024; the
child's figure is the median samples/s of its runs. A row's figure is the median over
rounds of those; the ratio is taken round by round (scratchnet over PyTorch in the same
round) and reported as median, min-max and interquartile range. *Peak RSS* is the
child's maximum resident memory (interpreter, framework, data and all: the kernel's
high-water mark ``VmHWM``, read before and after the runs; not ``ru_maxrss``, which
after fork and exec starts from the parent's peak), *peak above loaded* the
high-water mark of the timed runs above the RSS once data and model were loaded
(``common.PeakMemory``).

**The GEMM ceiling** (``gemm_child``): the float32 rate of NumPy's BLAS at each matrix
product the models need per batch (the convolutions' im2col GEMMs, the dense
layers', a recurrent layer's input projection and its per-step ``h @ U``, and their backward
twins; ``h @ U`` and its twins only for the T-1 steps whose h_{t-1} is not the zero
initial state), each timed two ways: the whole batch on one BLAS with ``threads`` threads, and
as scratchnet's shards run it, ``threads`` single-threaded GEMMs of 1/threads of the
batch at once. The faster of the two, summed over the model's GEMMs, is the time a
framework would need if it did nothing but matrix products at this BLAS's speed; its
inverse is the *GEMM-bound limit* (samples/s), and each framework's *% of the limit*
is its measured samples/s over that. Convolutions are counted at the outputs the model
needs: conv2's 10 x 10 of 11 x 11 (the last row and column fall outside the 'valid'
2x2 pool), conv1's weight gradient as the GEMM it is (scratchnet fuses it with the
ReLU), and the first layer's input gradient not at all.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import common

FRAMEWORKS = ("scratchnet", "pytorch", "tensorflow")
KINDS = ("cnn", "lstm", "gru", "simplernn")  # the seed models, then the recurrent study's
ROWS = tuple((kind, mode) for mode in ("train", "infer") for kind in KINDS)
KIND_NAMES = {"cnn": "CNN", "lstm": "LSTM", "gru": "GRU", "simplernn": "SimpleRNN"}
BATCH = {"train": 128, "infer": 1024}
# What scratchnet's import used to set (it sets nothing now): a child's environment is
# the parent's without them, and without the thread counts run.py pins.
SCRATCHNET_SET = ("OMP_WAIT_POLICY", "OPENBLAS_THREAD_TIMEOUT")
T, D, H = 28, 28, 128  # every recurrent model: 28 steps of 28 features, 128 units
GATES = {"lstm": 4, "gru": 3, "simplernn": 1}  # column blocks of W, U: 4H, 3H, H
# The dense head after the recurrent layer: the seed LSTM's H -> 47 (its dropout has no
# GEMM); the study's H -> 64 -> 47.
HEADS = {"lstm": ((H, 47),), "gru": ((H, 64), (64, 47)), "simplernn": ((H, 64), (64, 47))}


# -- which frameworks --------------------------------------------------------------------------
def available(framework: str) -> bool:
    import importlib.util

    module = {"scratchnet": "numba", "pytorch": "torch", "tensorflow": "tensorflow"}[framework]
    return importlib.util.find_spec(module) is not None


def child_env(base: dict | None = None) -> dict:
    """The environment of a fair child: ``base`` (default: this process's) minus what
    scratchnet used to set and the thread-count variables run.py pins."""
    env = dict(os.environ if base is None else base)
    for var in (*SCRATCHNET_SET, *common.THREAD_VARS):
        env.pop(var, None)
    return env


# -- the data, written once so that no child needs scratchnet to read it ------------------------
def write_data(folder: Path, source: str, sizes: dict) -> dict:
    """``sizes[kind]`` samples per model as .npy files in ``folder``; their paths."""
    import bench_models
    import numpy as np

    paths = {}
    for kind, n in sizes.items():
        x, y, used = bench_models.make_data(kind, n, source)
        px, py = folder / f"{kind}_x.npy", folder / f"{kind}_y.npy"
        np.save(px, x)
        np.save(py, y)
        paths[kind] = {"x": str(px), "y": str(py), "data": used}
    return paths


# -- one framework's workload, in its own child --------------------------------------------------
def _set_threads(framework: str, threads: int) -> None:
    if threads <= 0:
        return
    if framework == "scratchnet":
        import numba

        from scratchnet import blas, parallel

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        parallel.set_workers(threads)
        for lib in blas.libraries():
            lib.set(threads)
    elif framework == "pytorch":
        import torch

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(threads)
    else:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


def _workload(framework, kind, mode, batch, steps, x, y):
    if framework == "scratchnet":
        import bench_models

        return bench_models.ScratchnetWorkload(kind, mode, batch, steps, x, y)
    if framework == "pytorch":
        import bench_torch

        return bench_torch.TorchWorkload(kind, mode, batch, steps, x, y)
    import bench_keras

    return bench_keras.KerasWorkload(kind, mode, batch, steps, x, y)


def _before(what: str | None, threads: int) -> None:
    """What a child does before its framework starts (``bench_isolation``'s variants):
    ``'import'`` imports scratchnet and its seed models; ``'train'`` also trains one step
    of the seed LSTM at batch 128 on random values (which starts numba's thread pool)."""
    if not what:
        return
    import numpy as np

    import scratchnet.seed_models  # noqa: F401
    if what == "train":
        model = scratchnet.seed_models.seed_lstm(common.NUM_CLASSES)
        model.compile("adam")
        rng = np.random.default_rng(0)
        model.train_step(rng.random((128, 28, 28), dtype=np.float32),
                         rng.integers(0, common.NUM_CLASSES, 128))
    elif what != "import":
        raise ValueError(f"unknown 'before' step {what!r}")


def framework_child(framework: str, kind: str, mode: str, x_path: str, y_path: str,
                    batch: int, steps: int, warmup: int, repeats: int, threads: int,
                    workers: int | None = None, before: str | None = None,
                    serial: bool = False) -> dict:
    """In a fresh interpreter: one framework's samples/s and memory on one (model, mode).

    ``workers`` (scratchnet only): shards per batch, 1 to run batches whole; ``serial``
    (scratchnet only): every kernel without numba's thread pool
    (``kernels.threads.serial_kernels``). ``before``: see :func:`_before`.
    """
    import resource
    from contextlib import nullcontext

    import numpy as np

    _before(before, threads)
    _set_threads(framework, threads)
    if workers is not None:
        from scratchnet import parallel

        parallel.set_workers(workers)
    x, y = np.load(x_path), np.load(y_path)
    work = _workload(framework, kind, mode, batch, steps, x, y)
    if serial:
        from scratchnet.kernels.threads import serial_kernels
    # The peak of the setup (interpreter, framework, data, model), read before PeakMemory
    # resets the high-water mark. Not ru_maxrss: after a fork and exec it starts at the
    # parent's peak, so every child would report at least run.py's own memory.
    setup_kb = common._status_kb("VmHWM")
    with serial_kernels() if serial else nullcontext(), common.PeakMemory() as mem:
        for _ in range(warmup):
            work.run()
        times = [work.run() for _ in range(repeats)]
    rates = [work.samples / t for t in times]
    if setup_kb is not None and mem.method.startswith("VmHWM"):
        max_rss_mb, rss_method = max(setup_kb / 1024, mem.peak_mb), "VmHWM"
    else:
        max_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rss_method = "ru_maxrss (may include the parent's peak)"
    return {"samples_per_s": statistics.median(rates), "run_rates": rates,
            "max_rss_mb": max_rss_mb, "max_rss_method": rss_method,
            "peak_above_loaded_mb": mem.as_dict()["peak_above_before_mb"],
            "memory_method": mem.method, "params": work.params,
            "imported": sorted(m for m in ("scratchnet", "torch", "tensorflow")
                               if m in __import__("sys").modules)}


# -- the GEMM ceiling ----------------------------------------------------------------------------
def gemms(kind: str, mode: str, n: int) -> list[dict]:
    """The matrix products of one batch of ``n`` samples: ``(m, k) @ (k, p)``, ``count``
    times, ``split`` naming the dimension that scales with the batch ('m' or 'k')."""
    def g(name, m, k, p, split, count=1):
        return {"name": name, "m": m, "k": k, "p": p, "split": split, "count": count}

    if kind == "cnn":
        out = [g("conv1 forward", n * 26 * 26, 9, 32, "m"),
               g("conv2 forward", n * 10 * 10, 288, 64, "m"),
               g("dense1 forward", n, 1600, 128, "m"),
               g("dense2 forward", n, 128, 47, "m")]
        if mode == "train":
            out += [g("dense2 dW", 128, n, 47, "k"), g("dense2 dX", n, 47, 128, "m"),
                    g("dense1 dW", 1600, n, 128, "k"), g("dense1 dX", n, 128, 1600, "m"),
                    g("conv2 dW", 288, n * 100, 64, "k"), g("conv2 dcols", n * 100, 64, 288, "m"),
                    g("conv1 dW", 9, n * 26 * 26, 32, "k")]
        return out
    cols, heads = GATES[kind] * H, HEADS[kind]
    dense = [f"dense{i + 1} " if len(heads) > 1 else "dense " for i in range(len(heads))]
    out = [g(f"{kind} x @ W (all steps)", n * T, D, cols, "m"),
           g(f"{kind} h @ U (per step)", n, H, cols, "m", T - 1)]  # h_{-1} = 0: not step 0
    out += [g(name + "forward", n, i, o, "m") for name, (i, o) in zip(dense, heads, strict=True)]
    if mode == "train":
        for name, (i, o) in reversed(list(zip(dense, heads, strict=True))):
            out += [g(name + "dW", i, n, o, "k"), g(name + "dX", n, o, i, "m")]
        out += [g(f"{kind} dz @ U^T (per step)", n, cols, H, "m", T - 1),
                g(f"{kind} dU = h^T dz (all steps)", H, n * (T - 1), cols, "k"),
                g(f"{kind} dW = x^T dz (all steps)", D, n * T, cols, "k")]
    return out


def _time_gemm(m: int, k: int, p: int, copies: int, min_time: float, repeats: int) -> float:
    """Wall seconds of one (m, k) @ (k, p) float32 GEMM, run by ``copies`` threads at once
    (each on its own operands); median of ``repeats`` runs of enough calls."""
    import numpy as np

    rng = np.random.default_rng(0)
    ops = [(rng.random((m, k), dtype=np.float32), rng.random((k, p), dtype=np.float32),
            np.empty((m, p), dtype=np.float32)) for _ in range(copies)]
    a, b, c = ops[0]
    number = common.calibrate(lambda: np.matmul(a, b, out=c), min_time / 4, max_number=4096)

    def loop(i, barrier, out):
        a, b, c = ops[i]
        barrier.wait()
        start = time.perf_counter()
        for _ in range(number):
            np.matmul(a, b, out=c)
        out[i] = time.perf_counter() - start

    times = []
    for _ in range(repeats):
        out = [0.0] * copies
        if copies == 1:
            loop(0, threading.Barrier(1), out)
        else:
            barrier = threading.Barrier(copies)
            workers = [threading.Thread(target=loop, args=(i, barrier, out))
                       for i in range(copies)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
        times.append(max(out) / number)
    return statistics.median(times)


def gemm_child(rows: list, threads: int, min_time: float = 0.02, repeats: int = 5,
               batches: dict | None = None) -> dict:
    """In a fresh interpreter: every model GEMM's time, whole batch on ``threads``
    BLAS threads and as ``threads`` concurrent single-thread shards; the limits."""
    from scratchnet import blas

    threads = threads if threads > 0 else os.cpu_count() or 1
    libs = blas.libraries()
    for lib in libs:
        lib.set(threads)
    peak_n = 1024
    peak_s = _time_gemm(peak_n, peak_n, peak_n, 1, min_time, repeats)
    cache, result = {}, {"threads": threads, "blas": [Path(lib.path).name for lib in libs],
                         "peak_gflops": 2 * peak_n ** 3 / peak_s / 1e9, "rows": []}
    for kind, mode in rows:
        n = (batches or BATCH)[mode]
        parts, total = [], 0.0
        for spec in gemms(kind, mode, n):
            m, k, p = spec["m"], spec["k"], spec["p"]
            key = (m, k, p, spec["split"])
            if key not in cache:
                whole = _time_gemm(m, k, p, 1, min_time, repeats)
                shard = dict(m=m, k=k, p=p)
                shard[spec["split"]] = -(-shard[spec["split"]] // threads)
                if libs and threads > 1:
                    with blas.single_threaded():
                        sharded = _time_gemm(shard["m"], shard["k"], shard["p"], threads,
                                             min_time, repeats)
                else:
                    sharded = None
                cache[key] = (whole, sharded)
            whole, sharded = cache[key]
            best = min(t for t in (whole, sharded) if t is not None)
            flops = 2 * m * k * p
            total += spec["count"] * best
            parts.append({**spec, "whole_s": whole, "sharded_s": sharded, "best_s": best,
                          "gflops": flops / best / 1e9})
        result["rows"].append({"kind": kind, "mode": mode, "batch": n, "gemms": parts,
                               "gemm_s": total, "limit_samples_per_s": n / total,
                               "mflop_per_sample": sum(2 * g["m"] * g["k"] * g["p"]
                                                       * g["count"] for g in parts) / n / 1e6})
    return result


# -- the rounds ----------------------------------------------------------------------------------
def _spread(values: list[float]) -> dict:
    values = sorted(values)
    if len(values) >= 4:
        q1, _, q3 = statistics.quantiles(values, n=4)
    else:
        q1, q3 = values[0], values[-1]
    return {"median": statistics.median(values), "min": values[0], "max": values[-1],
            "q1": q1, "q3": q3, "n": len(values)}


def run(runs: int = 5, threads: int = 2, source: str = "auto", rows=ROWS,
        frameworks=None, train_steps: int = 10, infer_steps: int = 4, warmup: int = 2,
        repeats: int = 5, base_env: dict | None = None, gemm_min_time: float = 0.02,
        batch_override: dict | None = None, log=None) -> dict:
    """``runs`` rounds of every (model, mode) and framework, each in a fresh child."""
    frameworks = [fw for fw in (frameworks or FRAMEWORKS) if available(fw)]
    skipped = {fw: ("torch is not installed (pip install torch==2.13.0)" if fw == "pytorch"
                    else "TensorFlow is not installed (optional)")
               for fw in FRAMEWORKS if fw not in frameworks and fw != "scratchnet"}
    batches = {**BATCH, **(batch_override or {})}
    env = child_env(base_env)
    steps = {"train": train_steps, "infer": infer_steps}
    sizes = {}
    for kind, mode in rows:
        sizes[kind] = max(sizes.get(kind, 0), batches[mode] * steps[mode])
    samples = {fw: {r: [] for r in rows} for fw in frameworks}
    children = {fw: {r: [] for r in rows} for fw in frameworks}
    ceilings, loads = [], []
    with tempfile.TemporaryDirectory(prefix="scratchnet-fair-") as folder:
        data = write_data(Path(folder), source, sizes)
        for r in range(runs):
            loads.append(common.loadavg())
            order = frameworks if r % 2 == 0 else frameworks[::-1]
            for kind, mode in rows:
                for fw in order:
                    child = common.run_child(
                        "bench_fair", "framework_child",
                        {"framework": fw, "kind": kind, "mode": mode,
                         "x_path": data[kind]["x"], "y_path": data[kind]["y"],
                         "batch": batches[mode], "steps": steps[mode], "warmup": warmup,
                         "repeats": repeats, "threads": threads},
                        env=env, replace_env=True)
                    samples[fw][(kind, mode)].append(child["samples_per_s"])
                    children[fw][(kind, mode)].append(child)
                    if log:
                        log(f"round {r + 1}/{runs} {kind} {mode} {fw}: "
                            f"{child['samples_per_s']:,.0f} samples/s, load {common.loadavg()}")
            ceilings.append(common.run_child("bench_fair", "gemm_child",
                                             {"rows": [list(x) for x in rows],
                                              "threads": threads, "batches": batches,
                                              "min_time": gemm_min_time},
                                             env=env, replace_env=True))
        loads.append(common.loadavg())
    out_rows = []
    for i, (kind, mode) in enumerate(rows):
        limits = [c["rows"][i]["limit_samples_per_s"] for c in ceilings]
        row = {"kind": kind, "mode": mode, "batch": batches[mode], "data": data[kind]["data"],
               "gemm_limit": _spread(limits), "frameworks": {}}
        for fw in frameworks:
            kids = children[fw][(kind, mode)]
            rates = samples[fw][(kind, mode)]
            row["frameworks"][fw] = {
                "samples_per_s": _spread(rates),
                "pct_of_gemm_limit": _spread([100 * s / lim
                                              for s, lim in zip(rates, limits, strict=True)]),
                "max_rss_mb": _spread([k["max_rss_mb"] for k in kids]),
                "peak_above_loaded_mb": _spread([k["peak_above_loaded_mb"] for k in kids]),
                "params": kids[0]["params"], "imported": kids[0]["imported"],
                "per_round": rates}
            if fw != "scratchnet":
                ratios = [s / o for s, o in zip(samples["scratchnet"][(kind, mode)], rates,
                                                 strict=True)]
                row["frameworks"][fw]["scratchnet_over"] = _spread(ratios)
        out_rows.append(row)
    return {"rows": out_rows, "frameworks": frameworks, "skipped": skipped,
            "ceiling": ceilings, "loadavg_per_round": loads,
            "settings": {"runs": runs, "threads": threads, "warmup": warmup,
                         "repeats_per_child": repeats, "train_steps": train_steps,
                         "infer_steps": infer_steps, "dtype": "float32",
                         "env_removed": [*SCRATCHNET_SET, *common.THREAD_VARS]}}


# -- Markdown ------------------------------------------------------------------------------------
NAMES = {"scratchnet": "scratchnet", "pytorch": "PyTorch", "tensorflow": "TF/Keras"}


def to_markdown(result: dict) -> str:
    fws = result["frameworks"]
    others = [fw for fw in fws if fw != "scratchnet"]
    headers = ["model / mode", "batch"]
    for fw in fws:
        headers += [f"{NAMES[fw]} samples/s", f"{NAMES[fw]} peak RSS MB"]
    for fw in others:
        headers += [f"scratchnet / {NAMES[fw]} (median)", "min-max", "IQR"]
    headers += ["GEMM-bound limit"] + [f"{NAMES[fw]} % of limit" for fw in fws]
    lines = []
    for row in result["rows"]:
        line = [f"{KIND_NAMES[row['kind']]} {row['mode']}", row["batch"]]
        for fw in fws:
            f = row["frameworks"][fw]
            rss, above = f["max_rss_mb"]["median"], f["peak_above_loaded_mb"]["median"]
            line += [common.fmt_rate(f["samples_per_s"]["median"]),
                     f"{rss:,.0f} (+{above:,.0f})"]
        for fw in others:
            s = row["frameworks"][fw]["scratchnet_over"]
            line += [f"**{s['median']:.2f}x**", f"{s['min']:.2f}-{s['max']:.2f}",
                     f"{s['q1']:.2f}-{s['q3']:.2f}"]
        line.append(common.fmt_rate(row["gemm_limit"]["median"]))
        line += [f"{row['frameworks'][fw]['pct_of_gemm_limit']['median']:.0f}%" for fw in fws]
        lines.append(line)
    s = result["settings"]
    text = common.md_table(headers, lines, right=set(range(1, len(headers))))
    loads = result["loadavg_per_round"]
    text += (
        f"\n\n{s['runs']} rounds; in each, every framework ran each row in a fresh process "
        f"(own default environment, {s['threads']} threads), the order reversed every round; "
        f"a child's figure is the median of {s['repeats_per_child']} runs after "
        f"{s['warmup']} warm-up runs (training run: {s['train_steps']} steps; inference run: "
        f"{s['infer_steps']} batches). Samples/s: median over rounds. Ratio: per round, "
        "median and spread over rounds. Peak RSS: the child's maximum resident memory, "
        "(+ the peak of the timed runs above the loaded data and model). Data: "
        f"{result['rows'][0]['data'] if result['rows'] else '-'}. Load average (1, 5, 15 "
        f"min) at each round's start: {', '.join(str(x) for x in loads[:-1])}; at the end "
        f"{loads[-1]}.")
    for fw, why in result["skipped"].items():
        text += f"\n\n{NAMES[fw]} skipped: {why}."
    text += "\n\n" + ceiling_markdown(result)
    return text


def ceiling_markdown(result: dict) -> str:
    """The GEMM table of the first round's ceiling child, and the peak over rounds."""
    ceilings = result["ceiling"]
    peak = statistics.median(c["peak_gflops"] for c in ceilings)
    c0 = ceilings[0]
    rows = []
    for row in c0["rows"]:
        for g in row["gemms"]:
            rows.append([f"{KIND_NAMES[row['kind']]} {row['mode']}", g["name"],
                         f"({g['m']},{g['k']}) @ ({g['k']},{g['p']})", g["count"],
                         common.fmt_time(g["whole_s"]), common.fmt_time(g["sharded_s"]),
                         f"{g['gflops']:.0f}"])
    limits = "; ".join(
        f"{KIND_NAMES[r['kind']]} {r['mode']}: {r['mflop_per_sample']:.1f} MFLOP/sample, "
        f"GEMMs {common.fmt_time(r['gemm_s'])} per batch of {r['batch']}"
        for r in c0["rows"])
    return (f"**GEMM ceiling** (NumPy's BLAS, float32, {c0['threads']} threads): a 1024³ "
            f"GEMM runs at {peak:.0f} GFLOP/s (median over rounds). Per GEMM, first round "
            "('whole': one BLAS call on all threads; 'shards': one single-threaded call per "
            "thread on its share of the batch, at once; the faster counts):\n\n"
            + common.md_table(["row", "GEMM", "shape", "× per batch", "whole", "shards",
                               "GFLOP/s (faster)"], rows, right={3, 4, 5, 6})
            + f"\n\n{limits}.")
