"""Kernel micro-benchmarks of data augmentation (issue 14): the fused affine-sampling
kernels of ``scratchnet.kernels.affine_sample`` against their NumPy references, at the seed
CNN's input (batch 128 of 28 x 28 x 1), for an affine map alone and with an elastic
displacement field (``RandomDistortion`` with ``elastic_alpha > 0``).

The method is ``bench_kernels``'s (its ``run``, on these cases only)::

    python benchmarks/bench_augment_kernels.py            # prints a Markdown table
    python benchmarks/bench_augment_kernels.py --quick    # tiny shapes, one repeat
"""

from __future__ import annotations

import argparse
import sys

import bench_kernels
import common
import numpy as np
from bench_kernels import Case

F32 = np.float32


def augment_cases(tiny: bool = False) -> list[Case]:
    """Forward and backward, without and with a displacement field."""
    n = 2 if tiny else 128
    rng = np.random.default_rng(0)
    x = rng.random((n, 28, 28, 1), dtype=F32)
    dy = rng.standard_normal((n, 28, 28, 1), dtype=F32)
    # Rotations up to 11 degrees, shifts up to 2 pixels about the centre: a typical draw.
    theta = rng.uniform(-0.19, 0.19, n)
    m = np.zeros((n, 2, 3))
    m[:, 0, 0] = m[:, 1, 1] = np.cos(theta)
    m[:, 0, 1], m[:, 1, 0] = np.sin(theta), -np.sin(theta)
    m[:, :, 2] = 13.5 - m[:, :, :2] @ [13.5, 13.5] + rng.uniform(-2, 2, (n, 2))
    m = m.astype(F32)
    d = rng.uniform(-1.5, 1.5, (n, 28, 28, 2)).astype(F32)
    shape = f"({n},28,28,1)"
    cases = []
    for label, disp in (("affine", None), ("affine + elastic", d)):
        cases += [
            Case("affine_sample_forward", label, shape,
                 lambda disp=disp: (x, m, disp, F32(0), np.empty_like(x))),
            Case("affine_sample_backward", label, shape,
                 lambda disp=disp: (dy, m, disp, np.empty_like(x))),
        ]
    return cases


def run(repeats: int = 15, min_run_time: float = 0.02, tiny: bool = False) -> dict:
    """Time each augmentation kernel against its reference; rows as ``bench_kernels.run``'s."""
    return bench_kernels.run(repeats, min_run_time, tiny, cases=augment_cases(tiny))


if __name__ == "__main__":
    common.ensure_paths()  # this checkout's scratchnet, not an installed one
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny shapes, one repeat")
    args = parser.parse_args()
    result = run(repeats=1, min_run_time=0.0, tiny=True) if args.quick else run()
    print(bench_kernels.to_markdown(result))
    sys.exit(1 if result["errors"] else 0)
