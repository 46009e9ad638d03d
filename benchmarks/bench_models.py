"""End-to-end: training and inference samples/s of the seed CNN and LSTM, their peak
memory, and the same models in PyTorch when torch is installed.

Throughput (``run()``): in this process, one *run* is ``steps`` training steps
(``model.train_step``, batch 128, Adam) or inference over ``steps`` batches
(``model.predict``, batch 1024), on float32 data. After warm-up runs (JIT, caches,
buffers), ``repeats`` runs are timed; the figure is samples per run / run time, median
over runs. With torch, scratchnet and PyTorch alternate run by run (and swap who goes
first every run), so slow phases of a shared machine hit both alike; the ratio column
is scratchnet / PyTorch samples/s (> 1: scratchnet is faster).

Memory (``measure_child`` in a fresh interpreter per configuration, so one run's
allocations cannot hide another's): the data are made and the model built first, then
the peak resident memory of the runs (warm-up included) is taken above the RSS at that
point, i.e. above the loaded dataset and model, as issue 5's memory rule is stated.
That child also times its runs: the "alone" columns, each framework in a process of its
own. Compare them with the same-process figures: two frameworks in one process bring
two OpenMP runtimes and thread pools, which can slow each other down.

Data: EMNIST ByMerge's test split when it can be found (``SCRATCHNET_DATA``), otherwise
random values with the same shapes and 47 classes. scratchnet's timing does not depend
on the values, but PyTorch's CNN does: in one process, on the same model, its inference
ran at 5,300-5,800 samples/s on ByMerge and 9,000 on uniform random values (its first
conv and both max-pools were 2-7x slower on the real images; there were no subnormal
numbers, and flushing them changed nothing). So compare ratios on real data, as issue 5's
reference figures are.
"""

from __future__ import annotations

import statistics
import time

import common
import numpy as np

# Issue 5's reference figures (samples/s, 2 threads, median of 10 runs), printed as
# targets beside the measurements: PyTorch 2.13 CPU, TensorFlow 2.21 / Keras 3, target.
REFERENCE = {
    ("cnn", "train"): (3533, 6582, 6700),
    ("cnn", "infer"): (4757, 26845, 24000),
    ("lstm", "train"): (8466, 6376, 8500),
    ("lstm", "infer"): (29211, 22109, 29000),
}
DEFAULT_BATCH = {"train": 128, "infer": 1024}


def make_data(kind: str, n: int, source: str = "auto", seed: int = 0):
    """``n`` samples for the seed ``kind`` ('cnn': (n,28,28,1), 'lstm': (n,28,28)) float32,
    int64 labels in [0, 47). ``source``: 'real', 'random', or 'auto' (real if found).

    Returns ``(x, y, source_used)``.
    """
    if source in ("auto", "real"):
        try:
            from scratchnet.data import load, locate, normalize

            if locate("emnist-bymerge", "test").complete:
                images, labels = load("emnist-bymerge", f"test[:{n}]", download=False)
                if len(images) == n:
                    layout = "conv2d" if kind == "cnn" else "lstm"
                    return normalize(images, layout), labels.astype(np.int64), "emnist-bymerge"
        except Exception as exc:  # fall back to random data, but say why when asked
            if source == "real":
                raise RuntimeError(f"real data requested but not loadable: {exc}") from exc
        if source == "real":
            raise RuntimeError("real data requested: set SCRATCHNET_DATA to the datasets folder")
    rng = np.random.default_rng(seed)
    shape = (n, 28, 28, 1) if kind == "cnn" else (n, 28, 28)
    x = rng.random(shape, dtype=np.float32)
    y = rng.integers(0, common.NUM_CLASSES, n).astype(np.int64)
    return x, y, "random"


def build_scratchnet(kind: str):
    """The compiled seed model (float32, Adam)."""
    from scratchnet.models import seed_cnn, seed_lstm

    model = (seed_cnn if kind == "cnn" else seed_lstm)(common.NUM_CLASSES)
    model.compile("adam")
    model.build()
    return model


class ScratchnetWorkload:
    """One timed run = ``steps`` training steps, or ``predict`` over ``steps`` batches."""

    framework = "scratchnet"

    def __init__(self, kind: str, mode: str, batch: int, steps: int, x, y):
        self.kind, self.mode, self.batch, self.steps = kind, mode, batch, steps
        self.samples = batch * steps
        self.x, self.y = x[:self.samples], y[:self.samples]
        self.model = build_scratchnet(kind)
        self.params = self.model.count_params()

    def run(self) -> float:
        """One run; returns its wall time in seconds."""
        b = self.batch
        start = time.perf_counter()
        if self.mode == "train":
            for s in range(self.steps):
                self.model.train_step(self.x[s * b:(s + 1) * b], self.y[s * b:(s + 1) * b])
        else:
            self.model.predict(self.x, batch_size=b)
        return time.perf_counter() - start


def _workload(framework, kind, mode, batch, steps, x, y):
    if framework == "scratchnet":
        return ScratchnetWorkload(kind, mode, batch, steps, x, y)
    import bench_torch

    return bench_torch.TorchWorkload(kind, mode, batch, steps, x, y)


def _rates(samples: int, times: list[float]) -> dict:
    rates = [samples / t for t in times]
    return {"samples_per_s": statistics.median(rates), "min_samples_per_s": min(rates),
            "max_samples_per_s": max(rates), "runs": len(times),
            "median_run_s": statistics.median(times)}


def measure_child(framework: str, kind: str, mode: str, batch: int, steps: int,
                  repeats: int, warmup: int = 1, source: str = "auto") -> dict:
    """In a fresh interpreter: samples/s and the peak memory of one configuration."""
    common.start_numba_threads()  # before torch, as in run.py
    if framework == "pytorch":
        common.pin_torch_threads(common.env_threads())
    x, y, used = make_data(kind, batch * steps, source)
    work = _workload(framework, kind, mode, batch, steps, x, y)
    with common.PeakMemory() as mem:
        for _ in range(warmup):
            work.run()
        times = [work.run() for _ in range(repeats)]
    return {"framework": framework, "kind": kind, "mode": mode, "batch": batch,
            "steps": steps, "data": used, "data_mb": round((x.nbytes + y.nbytes) / 2**20, 1),
            **_rates(work.samples, times), "memory": mem.as_dict()}


def run(kinds=("cnn", "lstm"), modes=("train", "infer"), repeats: int = 10,
        train_steps: int = 10, infer_steps: int = 4, warmup: int = 2, torch: bool = True,
        memory: bool = True, memory_repeats: int = 2, source: str = "auto") -> dict:
    """Throughput of every (model, mode), alternating with PyTorch when available, and
    peak memory from one child per (framework, model, mode)."""
    import bench_torch

    use_torch = torch and bench_torch.available()
    note = None
    if torch and not use_torch:
        note = "PyTorch comparison skipped: torch is not installed (pip install torch==2.13.0)"
    elif not torch:
        note = "PyTorch comparison not requested (--no-torch)"
    frameworks = ["scratchnet", "pytorch"] if use_torch else ["scratchnet"]
    rows = []
    for kind in kinds:
        for mode in modes:
            batch = DEFAULT_BATCH[mode]
            steps = train_steps if mode == "train" else infer_steps
            x, y, used = make_data(kind, batch * steps, source)
            works = [_workload(fw, kind, mode, batch, steps, x, y) for fw in frameworks]
            for work in works:
                for _ in range(warmup):
                    work.run()
            times = {w.framework: [] for w in works}
            for r in range(repeats):
                for work in (works if r % 2 == 0 else works[::-1]):
                    times[work.framework].append(work.run())
            row = {"kind": kind, "mode": mode, "batch": batch, "steps_per_run": steps,
                   "samples_per_run": batch * steps, "data": used,
                   "reference_issue5": dict(zip(("pytorch", "tensorflow", "target"),
                                                REFERENCE[(kind, mode)], strict=True))}
            for work in works:
                row[work.framework] = {**_rates(work.samples, times[work.framework]),
                                       "params": work.params}
            if use_torch:
                row["ratio_scratchnet_over_pytorch"] = (row["scratchnet"]["samples_per_s"]
                                                        / row["pytorch"]["samples_per_s"])
            if memory:
                for fw in frameworks:
                    try:
                        alone = common.run_child(
                            "bench_models", "measure_child",
                            {"framework": fw, "kind": kind, "mode": mode, "batch": batch,
                             "steps": steps, "repeats": memory_repeats, "source": source})
                        row[fw]["memory"] = alone["memory"]
                        row[fw]["alone_samples_per_s"] = alone["samples_per_s"]
                    except RuntimeError as exc:
                        row[fw]["memory"] = {"error": str(exc)[-500:]}
            rows.append(row)
            del works
    return {"rows": rows, "torch": use_torch, "note": note,
            "settings": {"repeats": repeats, "warmup_runs": warmup, "train_steps": train_steps,
                         "infer_steps": infer_steps, "dtype": "float32",
                         "memory_repeats": memory_repeats}}


def _peak(row: dict, fw: str) -> str:
    mem = row.get(fw, {}).get("memory")
    if not mem:
        return "–"
    if "error" in mem:
        return "error"
    return f"{mem['peak_above_before_mb']:,.0f}"


def _alone(row: dict, fw: str) -> str:
    return common.fmt_rate(row.get(fw, {}).get("alone_samples_per_s"))


def to_markdown(result: dict) -> str:
    torch = result["torch"]
    headers = ["model", "mode", "batch", "scratchnet samples/s", "alone", "peak MB"]
    if torch:
        headers += ["PyTorch samples/s", "alone", "PyTorch peak MB", "scratchnet / PyTorch"]
    headers += ["ref. PyTorch (issue 5)", "ref. TF/Keras (issue 5)", "target (issue 5)"]
    rows = []
    for r in result["rows"]:
        ref = r["reference_issue5"]
        line = [r["kind"].upper(), r["mode"], r["batch"],
                common.fmt_rate(r["scratchnet"]["samples_per_s"]), _alone(r, "scratchnet"),
                _peak(r, "scratchnet")]
        if torch:
            line += [common.fmt_rate(r["pytorch"]["samples_per_s"]), _alone(r, "pytorch"),
                     _peak(r, "pytorch"),
                     f"**{common.fmt_ratio(r['ratio_scratchnet_over_pytorch'])}**"]
        line += [f"{ref['pytorch']:,}", f"{ref['tensorflow']:,}", f"≥ {ref['target']:,}"]
        rows.append(line)
    text = common.md_table(headers, rows, right=set(range(2, len(headers))))
    if result["rows"]:
        r0 = result["rows"][0]
        s = result["settings"]
        text += (f"\n\nMedian of {s['repeats']} runs after {s['warmup_runs']} warm-up runs; a "
                 f"training run is {s['train_steps']} steps, an inference run "
                 f"{s['infer_steps']} batches. Data: {r0['data']}. Peak MB: peak RSS of the "
                 "runs above the RSS once data and model were loaded, and \"alone\": "
                 f"samples/s in that same fresh process (median of {s['memory_repeats']} "
                 "runs), with no other framework loaded. "
                 "The reference columns are issue 5's figures, not measurements of this run.")
    if result["note"]:
        text += f"\n\n{result['note']}"
    return text
