"""The seed models as benchmark workloads: their data, scratchnet's timed runs, and one
configuration's samples/s and peak memory in a fresh interpreter.

A *run* is ``steps`` training steps (``model.train_step``, batch 128, Adam) or
inference over ``steps`` batches (``model.predict``, batch 1024), on float32 data.
``bench_fair`` compares frameworks with these workloads, each in its own process;
``bench_scaling`` uses ``measure_child`` for its batch-size sweep.

Memory (``measure_child``): the data are made and the model built first, then the peak
resident memory of the runs (warm-up included) is taken above the RSS at that point,
i.e. above the loaded dataset and model.

Data: EMNIST ByMerge's test split when it can be found (``SCRATCHNET_DATA``), otherwise
random values with the same shapes and 47 classes. scratchnet's timing does not depend
on the values, but PyTorch's CNN does: in one process, on the same model, its inference
ran at 5,300-5,800 samples/s on ByMerge and 9,000 on uniform random values (its first
conv and both max-pools were 2-7x slower on the real images; there were no subnormal
numbers, and flushing them changed nothing). So compare on real data.
"""

from __future__ import annotations

import statistics
import time

import common
import numpy as np

DEFAULT_BATCH = {"train": 128, "infer": 1024}


def make_data(kind: str, n: int, source: str = "auto", seed: int = 0):
    """``n`` samples for ``kind`` ('cnn': (n,28,28,1); the recurrent ones: (n,28,28)) float32,
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


#: The recurrent study's models (issue 12): ``Input((28, 28))``, the cell with 128 units,
#: ``Dense(64, relu)``, ``Dense(C, softmax)``, Adam 1e-3. Name -> the cell's layer class name.
STUDY_CELLS = {"gru": "GRU", "simplernn": "SimpleRNN"}
KINDS = ("cnn", "lstm", *STUDY_CELLS)


def build_scratchnet(kind: str):
    """The compiled seed model (``'cnn'``, ``'lstm'``) or study model (``'gru'``,
    ``'simplernn'``), float32, Adam."""
    from scratchnet.seed_models import seed_cnn, seed_lstm

    if kind in STUDY_CELLS:
        from scratchnet import Adam, Input, Sequential, layers

        model = Sequential([Input((28, 28)), getattr(layers, STUDY_CELLS[kind])(128),
                            layers.Dense(64, activation="relu"),
                            layers.Dense(common.NUM_CLASSES, activation="softmax")],
                           name=kind, seed=0)
        model.compile(optimizer=Adam(1e-3), loss="sparse_categorical_crossentropy")
    elif kind in ("cnn", "lstm"):
        model = (seed_cnn if kind == "cnn" else seed_lstm)(common.NUM_CLASSES)
        model.compile("adam")
    else:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {KINDS}")
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
