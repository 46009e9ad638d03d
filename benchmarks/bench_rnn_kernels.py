"""Kernel micro-benchmarks of the recurrent family: the SimpleRNN and GRU step kernels
against their NumPy references, at the shapes of the recurrent study.

The study's models read 28 rows of 28 pixels: N = 128 (training), T = 28, H = 128;
inference at N = 1024. Each step kernel is timed per sequence (T calls, as one forward
or backward pass of a layer makes). Method as ``bench_kernels``: one warm-up call, then
``repeats`` timed runs alternating kernel and reference, each run long enough for the
timer (``common.calibrate``); the per-sequence median is reported. Run::

    python benchmarks/bench_rnn_kernels.py            # prints a Markdown table
"""

from __future__ import annotations

import sys

import bench_kernels
import common
import numpy as np
from bench_kernels import Case

F32 = np.float32


def rnn_cases(tiny: bool = False) -> list[Case]:
    """SimpleRNN (tanh) and GRU step kernels at the study's shapes (``tiny``: batch 2)."""
    n = 2 if tiny else 128
    t_steps = 2 if tiny else 28
    h = 8 if tiny else 128
    infer_n = 2 if tiny else 1024
    rng = np.random.default_rng(0)

    def randn(*shape):
        return rng.standard_normal(shape).astype(F32)

    def rnn_fwd():
        zx, zh = randn(n, h), randn(n, h)
        return lambda: (zx.copy(), zh.copy(), 0, np.empty((n, h), F32))

    def rnn_infer():
        z = randn(infer_n, h)
        return lambda: (z.copy(), 0, np.empty((infer_n, h), F32))

    def rnn_bwd():
        dh, dy, hs = randn(n, h), randn(n, h), np.tanh(randn(n, h))
        return lambda: (dh.copy(), dy.copy(), hs.copy(), 0, np.empty((n, h), F32))

    def gru_fwd():
        zx, zh, b1, h_prev = randn(n, 3 * h), randn(n, 3 * h), randn(3 * h), randn(n, h)
        return lambda: (zx.copy(), zh.copy(), b1.copy(), h_prev.copy(),
                        np.empty((n, 3 * h), F32), np.empty((n, h), F32), np.empty((n, h), F32))

    def gru_infer():
        zx, zh, b1 = randn(infer_n, 3 * h), randn(infer_n, 3 * h), randn(3 * h)
        hs = np.tanh(randn(infer_n, h))
        return lambda: (zx.copy(), zh.copy(), b1.copy(), hs.copy())

    def gru_bwd():
        gates = 1 / (1 + np.exp(-randn(n, 3 * h)))
        gates[:, 2 * h:] = np.tanh(randn(n, h))
        dh_rec, carry, dy, a, h_prev = (randn(n, h) for _ in range(5))
        return lambda: (dh_rec.copy(), carry.copy(), dy.copy(), gates.copy(), a.copy(),
                        h_prev.copy(), np.empty((n, 3 * h), F32), np.empty((n, 3 * h), F32),
                        np.empty((n, h), F32))

    steps = f"x{t_steps} steps"
    return [
        Case("simple_rnn_forward_step", "simple_rnn", f"zx, zh ({n},{h}), tanh; {steps}",
             rnn_fwd(), calls=t_steps),
        Case("simple_rnn_backward_step", "simple_rnn", f"dh, dy, h ({n},{h}), tanh; {steps}",
             rnn_bwd(), calls=t_steps),
        Case("simple_rnn_infer_step", "simple_rnn (inference)", f"z ({infer_n},{h}); {steps}",
             rnn_infer(), calls=t_steps),
        Case("gru_forward_step", "gru", f"zx, zh ({n},{3 * h}), h ({n},{h}); {steps}",
             gru_fwd(), calls=t_steps),
        Case("gru_backward_step", "gru", f"gates ({n},{3 * h}), dh ({n},{h}); {steps}",
             gru_bwd(), calls=t_steps),
        Case("gru_infer_step", "gru (inference)", f"zx, zh ({infer_n},{3 * h}), "
             f"h ({infer_n},{h}); {steps}", gru_infer(), calls=t_steps),
    ]


def run(repeats: int = 15, min_run_time: float = 0.02, tiny: bool = False) -> dict:
    """Time every case's numba kernels and reference; rows as ``bench_kernels.run``'s."""
    return bench_kernels.run(repeats, min_run_time, tiny, cases=rnn_cases(tiny))


if __name__ == "__main__":
    common.ensure_paths()  # this checkout's scratchnet, not an installed one
    print(bench_kernels.to_markdown(run(tiny="--tiny" in sys.argv[1:])))
