"""Where a training step's time goes: every layer's forward and backward, the loss and
the optimizer, for the seed CNN and LSTM, with the share that is GEMM.

    python benchmarks/bench_profile.py --threads 2

A step runs in shards, one per core (``scratchnet.parallel``), so the profile has two
levels. The step: the whole ``train_step``, its shards (all at once), and what follows
them (summing the shards' gradients, the optimizer). One shard: its samples through the
same calls ``train_step`` makes, on one thread with serial kernels and single-threaded
BLAS, as a shard runs, but with the other cores idle, so its parts add up to a little
less than the shards take together (they share memory bandwidth). Each part's figure is
the median over many steps. The GEMM column prices each layer's matrix products alone,
at the shard's shapes and thread count, so "shard - GEMM" is the work a faster kernel
could still remove. With one worker (or no BLAS control) the shard is the whole batch.
"""

from __future__ import annotations

import argparse
import time
from contextlib import ExitStack

import common


def _gemm_shapes(model, batch: int) -> dict[str, list[tuple[tuple, tuple]]]:
    """The (A, B) operand shapes of every matrix product a training step makes, per layer."""
    shapes: dict[str, list[tuple[tuple, tuple]]] = {}
    for i, (layer, runner) in enumerate(zip(model.layers, model._engine.whole, strict=True)):
        kind = type(layer).__name__
        out = []
        if i in model._engine.trains_pooled:
            pass  # a first conv and its pool in one pass (kernels.conv_pool): no GEMM
        elif kind == "Conv2D" and runner.winograd is not None:
            # Winograd: 16 products per pass, one per cell of the 4 x 4 transform, as one
            # batched matmul of (16, tiles, .) stacks
            c, f = layer.input_shape[2], layer.filters
            tiles = batch * runner.winograd.th * runner.winograd.tw
            out = [((16, tiles, c), (16, c, f)), ((16, c, tiles), (16, tiles, f))]
            if i > 0:
                out.append(((16, tiles, f), (16, f, c)))
        elif kind == "Conv2D":
            kh, kw = layer.kernel_size
            h, w, _ = runner.computed_shape  # only what the next layer reads
            rows = batch * h * w
            k, f = kh * kw * layer.input_shape[2], layer.filters
            out = [((rows, k), (k, f)), ((k, rows), (rows, f))]
            if i > 0:
                out.append(((rows, f), (f, k)))
        elif kind == "Dense":
            d, u = layer.input_shape[-1], layer.units
            out = [((batch, d), (d, u)), ((d, batch), (batch, u))]
            if i > 0:
                out.append(((batch, u), (u, d)))
        elif kind == "LSTM":
            (t, d), h = layer.input_shape, layer.units
            out = [((t * batch, d + 1), (d + 1, 4 * h))]                # [x, 1] @ [W; b]
            out += [((batch, h), (h, 4 * h))] * (t - 1)          # h_{t-1} @ U, forward
            out += [((batch, 4 * h), (4 * h, h))] * (t - 1)      # dz_t @ U.T, backward
            out += [((d + 1, t * batch), (t * batch, 4 * h)),    # [dW; db]
                    ((h, (t - 1) * batch), ((t - 1) * batch, 4 * h))]  # dU, h_{-1} = 0
            if i > 0:
                out.append(((t * batch, 4 * h), (4 * h, d)))
        if out:
            shapes[layer.name] = out
    return shapes


def _shard_context(sharded: bool) -> ExitStack:
    """What a shard's thread runs under: serial kernels and one BLAS thread."""
    from scratchnet import blas
    from scratchnet.kernels.threads import serial_kernels

    stack = ExitStack()
    if sharded:
        stack.enter_context(serial_kernels())
        stack.enter_context(blas.single_threaded())
    return stack


def profile(model_name: str, batch: int = 128, repeats: int = 30) -> dict:
    import numpy as np

    from scratchnet import parallel
    from scratchnet.seed_models import seed_cnn, seed_lstm

    rng = np.random.default_rng(0)
    if model_name == "cnn":
        model, x = seed_cnn(common.NUM_CLASSES), rng.random((batch, 28, 28, 1), np.float32)
    else:
        model, x = seed_lstm(common.NUM_CLASSES), rng.random((batch, 28, 28), np.float32)
    y = rng.integers(0, common.NUM_CLASSES, batch)
    model.compile("adam")
    model.reseed(0)
    for _ in range(3):
        model.train_step(x, y)

    # The step as it runs: its shards at once, then the gradient sum and the optimizer.
    steps, grads, updates = [], [], []
    for _ in range(repeats):
        start = time.perf_counter()
        model.compute_gradients(x, y)
        middle = time.perf_counter()
        model.optimizer.apply(model.parameters, model.gradients)
        steps.append(time.perf_counter() - start)
        grads.append(middle - start)
        updates.append(time.perf_counter() - middle)

    # One shard, part by part.
    bounds = parallel.shard_bounds(batch)
    shard = batch if bounds is None else bounds[1]
    xs, ys = x[:shard], y[:shard]
    parts: dict[str, list[float]] = {}

    def clock(name, fn, *args, **kwargs):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        parts.setdefault(name, []).append(time.perf_counter() - start)
        return result

    last = len(model.layers) - 1
    shard_times = []
    # One shard's runners of the fast engine, as a sharded step runs them.
    runners = model._engine.whole if bounds is None else model._engine.shards[0]
    pooled = model._engine.trains_pooled
    with _shard_context(bounds is not None):
        for _ in range(repeats + 2):
            start = time.perf_counter()
            h, i = xs, 0
            while i <= last:
                layer, runner = model.layers[i], runners[i]
                if i in pooled:  # a first conv and its pool in one pass, as the engine runs it
                    name = f"{layer.name} + {model.layers[i + 1].name}"
                    h = clock(f"{name} forward", runner.pooled_training, h, runners[i + 1])
                    i += 2
                    continue
                # The model's fused softmax: the last layer stops at its logits.
                h = clock(f"{layer.name} forward", runner.forward, h, True, i != last)
                i += 1
            _, g = clock("loss", model.loss, h, ys, batch_size=batch)
            i = last
            while i >= 0:
                layer, runner = model.layers[i], runners[i]
                if i - 1 in pooled:
                    name = f"{model.layers[i - 1].name} + {layer.name}"
                    g = clock(f"{name} backward", runners[i - 1].pooled_backward, g)
                    i -= 2
                    continue
                g = clock(f"{layer.name} backward", runner.backward, g, i != last)
                i -= 1
            shard_times.append(time.perf_counter() - start)

        gemm = {}
        for name, pairs in _gemm_shapes(model, shard).items():
            total = 0.0
            for a_shape, b_shape in pairs:
                a = rng.random(a_shape, np.float32)
                b = rng.random(b_shape, np.float32)
                c = np.empty((*a_shape[:-1], b_shape[-1]), np.float32)  # stacks too
                total += common.median_time(lambda a=a, b=b, c=c: np.matmul(a, b, out=c), 15)
            gemm[name] = total

    def median(v):
        v = sorted(v[2:] if len(v) > repeats else v)  # the shard's first two runs warm it
        return v[len(v) // 2]

    step = median(steps)
    return {"model": model_name, "batch": batch, "shards": 1 if bounds is None else len(bounds) - 1,
            "shard_batch": shard, "step_s": step, "samples_per_s": batch / step,
            "gradients_s": median(grads), "optimizer_s": median(updates),
            "shard_s": median(shard_times),
            "parts_s": {name: median(v) for name, v in parts.items()}, "gemm_s": gemm,
            "gemm_total_s": sum(gemm.values()), "loadavg": common.loadavg()}


def table(result: dict) -> str:
    step, shard = result["step_s"], result["shard_s"]
    n, b = result["shards"], result["shard_batch"]
    text = common.md_table(["the step", "median", "share of step"], [
        [f"train_step, batch {result['batch']}", common.fmt_time(step), "100%"],
        [f"its {n} shard(s), at once, with the loss" if n > 1 else "forward, loss, backward",
         common.fmt_time(result["gradients_s"]), f"{100 * result['gradients_s'] / step:.1f}%"],
        ["optimizer (after the gradient sum)", common.fmt_time(result["optimizer_s"]),
         f"{100 * result['optimizer_s'] / step:.1f}%"],
    ], right={1, 2})
    rows = [[name, common.fmt_time(t), f"{100 * t / shard:.1f}%"]
            for name, t in sorted(result["parts_s"].items(), key=lambda kv: -kv[1])]
    gemm_rows = [[f"GEMMs of {name}", common.fmt_time(t), f"{100 * t / shard:.1f}%"]
                 for name, t in result["gemm_s"].items()]
    text += "\n\n" + common.md_table(
        [f"one shard ({b} samples, one thread)", "median", "share of shard"], rows, right={1, 2})
    text += "\n\n" + common.md_table(["GEMM alone, same shapes and threads", "median",
                                      "share of shard"], gemm_rows, right={1, 2})
    text += (f"\n\n{result['model']}: step {common.fmt_time(step)} "
             f"({result['samples_per_s']:,.0f} samples/s); one shard of {b} alone "
             f"{common.fmt_time(shard)}, of which all GEMMs alone "
             f"{common.fmt_time(result['gemm_total_s'])} "
             f"({100 * result['gemm_total_s'] / shard:.0f}%); "
             f"load average {result['loadavg']}")
    return text


def run(models=("cnn", "lstm"), repeats: int = 30) -> list[dict]:
    return [profile(m, repeats=repeats) for m in models]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--models", default="cnn,lstm")
    args = parser.parse_args(argv)
    common.pin_threads(args.threads)
    common.ensure_paths()
    for result in run(args.models.split(","), args.repeats):
        print(table(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
