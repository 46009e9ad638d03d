"""Compile every kernel ahead of time, so that no later run waits for numba.

numba compiles a kernel the first time it runs with a new dtype and keeps the
result in its on-disk cache. :func:`warmup` runs the seed models through every path
a user's run takes, through the public API only, so it follows whatever kernels the
models use without a list to keep up to date:

* ``fit`` with a validation split, at batch 128 with a last batch under 16 (a large
  batch runs in shards on serial kernels, a small one whole on parallel kernels);
* ``evaluate`` and ``predict``, at a large and a small batch.

Command line: ``python -m scratchnet warmup [--dtype float32]``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from scratchnet import compile_notice
from scratchnet.compile_notice import Compile
from scratchnet.seed_models import seed_cnn, seed_lstm

__all__ = ["DTYPES", "MODELS", "WarmupResult", "warmup"]

DTYPES = ("float32", "float64")
#: model name -> (builder, the shape of one sample)
MODELS = {"cnn": (seed_cnn, (28, 28, 1)), "lstm": (seed_lstm, (28, 28))}
_CLASSES = 10
_SAMPLES = 150          # fit: 135 training (batches 128 + 7) and 15 validation samples
_BATCH = 128
_SMALL = 8              # under the shard threshold: the batch runs whole


@dataclass
class WarmupResult:
    """What :func:`warmup` compiled and how long it took."""

    seconds: float
    compiles: list[Compile]


def _steps(model, x: np.ndarray, y: np.ndarray) -> list[tuple[str, Callable[[], object]]]:
    return [
        ("fit", lambda: model.fit(x, y, batch_size=_BATCH, epochs=1, validation_split=0.1,
                                  verbose=0)),
        ("evaluate", lambda: model.evaluate(x, y, batch_size=_BATCH)),
        ("predict", lambda: model.predict(x, batch_size=1024)),
        ("predict, small batch", lambda: model.predict(x[:_SMALL], batch_size=_SMALL)),
    ]


def warmup(dtypes: Sequence[str] = DTYPES, models: Sequence[str] = tuple(MODELS),
           progress: bool = True) -> WarmupResult:
    """Run the seed models once per dtype so that numba compiles (and caches) their kernels.

    Parameters
    ----------
    dtypes : sequence of str
        ``"float32"`` and/or ``"float64"``.
    models : sequence of str
        Names from :data:`MODELS`.
    progress : bool
        Show a progress bar on stderr (one step per model, dtype and phase, with the
        kernel being compiled).

    Returns
    -------
    WarmupResult
        Every kernel specialization compiled (none when the cache was already warm).
    """
    bad = [d for d in dtypes if d not in DTYPES] + [m for m in models if m not in MODELS]
    if bad:
        raise ValueError(f"unknown dtype or model {', '.join(bad)}; dtypes: "
                         f"{', '.join(DTYPES)}; models: {', '.join(MODELS)}")
    rng = np.random.default_rng(0)
    plan = [(d, m) for d in dtypes for m in models]
    # A bar on a terminal; in a log (not a terminal) one line per model and dtype instead
    # of a stream of carriage-return updates.
    lines = progress and not sys.stderr.isatty()
    bar = tqdm(total=4 * len(plan), desc="warmup", unit="step",
               disable=not progress or lines, leave=True)

    def label(kernel: str) -> None:
        bar.set_postfix_str(f"compiling {kernel.rsplit('.', 1)[-1]}", refresh=True)

    start = time.perf_counter()
    with compile_notice.quiet(), compile_notice.record(on_start=label) as compiles:
        for dtype, name in plan:
            builder, shape = MODELS[name]
            x = rng.random((_SAMPLES, *shape)).astype(dtype)
            y = rng.integers(0, _CLASSES, _SAMPLES)
            model = builder(_CLASSES, dtype=dtype)
            model.compile("adam", "sparse_categorical_crossentropy")
            t0, n0 = time.perf_counter(), len(compiles)
            for phase, run in _steps(model, x, y):
                bar.set_description(f"warmup {name.upper()} {dtype} {phase}")
                run()
                bar.update()
            if lines:
                print(f"warmup {name.upper()} {dtype}: {len(compiles) - n0} kernels compiled, "
                      f"{time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    bar.set_postfix_str("")
    bar.close()
    return WarmupResult(time.perf_counter() - start, list(compiles))
