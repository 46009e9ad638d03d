"""Winograd F(2x2, 3x3) against im2col + GEMM: the measurements behind its choices.

    python benchmarks/bench_winograd.py

Three tables, each on one thread (serial kernels, single-threaded BLAS), as a shard of a
data-parallel step runs, float32, the seed CNN's second convolution (13 x 13 in, the
10 x 10 its pool reads, F = 64) unless the row says otherwise:

1. forward and backward of one convolution by each method, for several input channel
   counts C: where Winograd starts to pay (``scratchnet.fast.winograd.MIN_CHANNELS``);
2. the input and output transforms with 16 planes of exactly N * 25 rows against
   ``plane_rows``' padded count: at batch sizes where a plane is a multiple of 4 KiB
   the unpadded planes share cache sets;
3. inference of the whole seed CNN (``predict``, both cores) by the inference chunk size
   (``scratchnet.fast.conv2d.WINOGRAD_CHUNK_BYTES``);
4. a first layer and its pool at inference (28 x 28 x C in, 32 filters, 13 x 13 out,
   18 samples, one thread): ``kernels.conv_pool``'s one pass against im2col + GEMM +
   pool, by C, up to where Winograd takes over.
"""

from __future__ import annotations

import argparse

import common
import numpy as np

F32 = np.float32


def _median_ms(fn, repeats: int) -> float:
    return 1e3 * common.median_time(fn, repeats)


def _conv(channels: int, winograd: bool):
    """A fast Conv2D runner (13 x 13 x channels -> 10 x 10 x 64, ReLU) by one method."""
    from scratchnet.fast import conv2d
    from scratchnet.layers import Conv2D

    layer = Conv2D(64, 3, activation="relu")
    layer.build((13, 13, channels), F32, np.random.default_rng(0))
    original = conv2d.applies
    conv2d.applies = lambda *args: winograd  # the runner decides when it is built
    try:
        runner = conv2d.FastConv2D(layer, layer.grads)
        runner.crop_output((10, 10, 64))
    finally:
        conv2d.applies = original
    return runner


def methods(channels=(4, 8, 16, 32, 64), n: int = 64, repeats: int = 15) -> list[list]:
    from scratchnet import blas
    from scratchnet.kernels.threads import serial_kernels

    rng = np.random.default_rng(0)
    rows = []
    with serial_kernels(), blas.single_threaded():
        for c in channels:
            x = rng.standard_normal((n, 13, 13, c)).astype(F32)
            dy = rng.standard_normal((n, 10, 10, 64)).astype(F32)
            times = {}
            for name in ("im2col", "winograd"):
                runner = _conv(c, name == "winograd")
                fwd = _median_ms(lambda r=runner, x=x: r.forward(x, True), repeats)

                def step(r=runner, x=x, dy=dy):
                    r.forward(x, True)
                    r.backward(dy)
                times[name] = (fwd, _median_ms(step, repeats) - fwd)
            (f0, b0), (f1, b1) = times["im2col"], times["winograd"]
            rows.append([c, f"{f0:.2f}", f"{f1:.2f}", f"{b0:.2f}", f"{b1:.2f}",
                         f"{(f0 + b0) / (f1 + b1):.2f}x"])
    return rows


def planes(batches=(36, 64, 128), repeats: int = 30) -> list[list]:
    from scratchnet import blas
    from scratchnet.kernels import winograd as k
    from scratchnet.kernels.threads import serial_kernels

    rng = np.random.default_rng(0)
    rows = []
    with serial_kernels(), blas.single_threaded():
        for n in batches:
            x = rng.standard_normal((n, 13, 13, 32)).astype(F32)
            z = np.empty((n, 10, 10, 64), F32)
            tiles = n * 25
            for label, rv, rm in (("N * 25", tiles, tiles),
                                  ("plane_rows", k.plane_rows(tiles, 128),
                                   k.plane_rows(tiles, 256))):
                V, M = np.zeros((16, rv, 32), F32), rng.standard_normal((16, rm, 64)).astype(F32)
                t_in = _median_ms(lambda V=V, x=x: k.winograd_input(x, 5, 5, V), repeats)
                t_out = _median_ms(lambda M=M, z=z: k.winograd_output(M, 5, 5, z), repeats)
                rows.append([n, label, f"{rv} / {rm}", f"{t_in:.3f}", f"{t_out:.3f}"])
    return rows


def chunks(sizes=(9, 12, 16, 18, 20, 26, 36), rounds: int = 3, repeats: int = 15) -> list[list]:
    from scratchnet.seed_models import seed_cnn

    x = np.random.default_rng(0).random((1024, 28, 28, 1), F32)
    model = seed_cnn(common.NUM_CLASSES)
    model.compile("adam")
    model.predict(x, batch_size=1024, verbose=0)  # builds the shards' runners too
    engine = model._engine
    rates = {size: [] for size in sizes}
    for _ in range(rounds):  # rounds alternate the sizes, so all see the same load
        for size in sizes:
            for runners in (engine.whole, *engine.shards):
                for r in runners:
                    if r.inference_chunk:
                        r.inference_chunk = size
            ms = _median_ms(lambda: model.predict(x, batch_size=1024, verbose=0), repeats)
            rates[size].append(1024 / ms * 1e3)
    return [[size, f"{np.median(v):,.0f}", f"{min(v):,.0f}-{max(v):,.0f}"]
            for size, v in rates.items()]


def one_pass(channels=(1, 2, 3, 4, 8, 12, 15), n: int = 18, repeats: int = 40) -> list[list]:
    from scratchnet import blas
    from scratchnet.fast import conv2d, runner_for
    from scratchnet.kernels.conv_pool import conv3x3_maxpool
    from scratchnet.kernels.threads import serial_kernels
    from scratchnet.layers import Conv2D, MaxPool2D

    rng = np.random.default_rng(0)
    rows = []
    with serial_kernels(), blas.single_threaded():
        for c in channels:
            conv = Conv2D(32, 3, activation="relu")
            conv.build((28, 28, c), F32, rng)
            pool = MaxPool2D(2)
            pool.build(conv.output_shape, F32)
            runner = conv2d.FastConv2D(conv, conv.grads)
            fpool = runner_for(pool, pool.grads)
            runner.crop_output(fpool.input_window())
            x = rng.standard_normal((n, 28, 28, c)).astype(F32)
            out = np.empty((n, 13, 13, 32), F32)
            fused = _median_ms(lambda x=x, out=out, w=conv.params["W"]:
                               conv3x3_maxpool(x, w, out), repeats)

            def plain(r=runner, x=x, p=fpool):  # im2col + GEMM, then the pool
                return p.forward(r._linear(x).reshape(len(x), 26, 26, 32), False)
            rows.append([c, f"{_median_ms(plain, repeats):.3f}", f"{fused:.3f}"])
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=15)
    args = p.parse_args(argv)
    print(common.md_table(["C", "forward im2col ms", "forward Winograd ms",
                           "backward im2col ms", "backward Winograd ms", "speed-up"],
                          methods(repeats=args.repeats)))
    print()
    print(common.md_table(["N", "rows per plane", "R (V / M)", "input transform ms",
                           "output transform ms"], planes(repeats=2 * args.repeats)))
    print()
    print(common.md_table(["inference chunk", "predict samples/s, median", "range"],
                          chunks(repeats=args.repeats)))
    print()
    print(common.md_table(["C", "im2col + GEMM + pool ms", "one pass ms"],
                          one_pass(repeats=2 * args.repeats)))
    print(f"\ncommit {common.git_revision()}, load average {common.loadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
