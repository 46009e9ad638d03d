"""Kernel micro-benchmarks of the training toolkit (issue 13): the BatchNormalization
kernels of ``scratchnet.kernels.batchnorm`` against their NumPy references, at the shapes
of the issue's CNN with BatchNorm (batch 128 on 28 x 28 images).

The method is ``bench_kernels``'s (one warm-up call, then ``repeats`` alternating timed
runs, each long enough for ``min_run_time``; per-call medians); this file only adds the
cases, so that ``bench_kernels`` stays as it is:

    python benchmarks/bench_toolkit_kernels.py            # prints a Markdown table
    python benchmarks/bench_toolkit_kernels.py --quick    # tiny shapes, one repeat

BN1 sees conv1's output as (86528, 32) rows, BN2 conv2's as (15488, 64), BN3 the
Dense(128)'s as (128, 128).
"""

from __future__ import annotations

import argparse
import sys

import bench_kernels
import numpy as np
from bench_kernels import Case

F32 = np.float32


def toolkit_cases(tiny: bool = False) -> list[Case]:
    """The BatchNormalization kernels at the CNN+BN's three normalised layers."""
    n = 2 if tiny else 128
    rng = np.random.default_rng(0)
    shapes = [("bn1 after conv1", n * 26 * 26, 32), ("bn2 after conv2", n * 11 * 11, 64),
              ("bn3 after dense", n, 128)]
    cases = []
    for label, m, c in shapes:
        x = rng.standard_normal((m, c)).astype(F32)
        dy = rng.standard_normal((m, c)).astype(F32)
        mean, inv_std = rng.standard_normal(c), rng.uniform(0.5, 2, c)
        gamma, beta = np.ones(c, F32), np.zeros(c, F32)
        shape = f"({m:,}, {c})"
        cases += [
            Case("batchnorm_moments", label, shape,
                 lambda x=x, mean=mean, c=c: (x, mean, np.empty(c), np.empty(c))),
            Case("batchnorm_normalize", label, shape,
                 lambda x=x, mean=mean, s=inv_std, g=gamma, b=beta: (
                     x, mean.astype(F32), s.astype(F32), g, b, np.empty_like(x))),
            Case("batchnorm_grad_sums", label, shape,
                 lambda x=x, dy=dy, mean=mean, s=inv_std, c=c: (
                     dy, x, mean, s, np.empty(c), np.empty(c))),
            Case("batchnorm_input_grad", label, shape,
                 lambda x=x, dy=dy, mean=mean, s=inv_std, g=gamma, c=c, m=m: (
                     dy, x, mean.astype(F32), s.astype(F32), g, np.ones(c, F32),
                     np.ones(c, F32), F32(m), np.empty_like(x))),
        ]
    return cases


def run(repeats: int = 15, min_run_time: float = 0.02, tiny: bool = False) -> dict:
    """Time each toolkit kernel against its reference; rows as ``bench_kernels.run``'s."""
    return bench_kernels.run(repeats, min_run_time, tiny, cases=toolkit_cases(tiny))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny shapes, one repeat")
    args = parser.parse_args()
    result = run(repeats=1, min_run_time=0.0, tiny=True) if args.quick else run()
    print(bench_kernels.to_markdown(result))
    sys.exit(1 if result["errors"] else 0)
