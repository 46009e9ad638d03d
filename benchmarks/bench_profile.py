"""Where a training step's time goes: every layer's forward and backward, the loss and
the optimizer, for the seed CNN and LSTM, with the share that is GEMM.

    python benchmarks/bench_profile.py --threads 2

Each part is timed around the model's own calls (the same ones ``train_step`` makes),
many steps in a row; the table gives each part's median and its share of the step. The
GEMM column prices the matrix products of each layer alone, at the same shapes and
thread count, so "step - GEMM" is the work a faster kernel could still remove.
"""

from __future__ import annotations

import argparse
import time

import common


def _time(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def _gemm_shapes(model, batch: int) -> dict[str, list[tuple[tuple, tuple]]]:
    """The (A, B) operand shapes of every matrix product a training step makes, per layer."""
    shapes: dict[str, list[tuple[tuple, tuple]]] = {}
    for i, layer in enumerate(model.layers):
        kind = type(layer).__name__
        out = []
        if kind == "Conv2D":
            kh, kw = layer.kernel_size
            rows = batch * layer.output_shape[0] * layer.output_shape[1]
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
                    ((h, t * batch), (t * batch, 4 * h))]        # dU
            if i > 0:
                out.append(((t * batch, 4 * h), (4 * h, d)))
        if out:
            shapes[layer.name] = out
    return shapes


def profile(model_name: str, batch: int = 128, repeats: int = 30) -> dict:
    import numpy as np

    from scratchnet.models import seed_cnn, seed_lstm

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

    parts: dict[str, list[float]] = {}
    steps = []

    def clock(name, fn, *args, **kwargs):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        parts.setdefault(name, []).append(time.perf_counter() - start)
        return result

    last = len(model.layers) - 1
    for _ in range(repeats):
        start = time.perf_counter()
        h = x
        for i, layer in enumerate(model.layers):  # the model's fused softmax: logits only
            h = clock(f"{layer.name} forward", layer, h, training=True,
                      apply_activation=i != last)
        _, g = clock("loss", model.loss, h, y)
        for i in range(last, -1, -1):
            layer = model.layers[i]
            g = clock(f"{layer.name} backward", layer.backprop, g, through_activation=i != last)
        clock("optimizer", model.optimizer.apply, model.parameters, model.gradients)
        steps.append(time.perf_counter() - start)

    gemm = {}
    for name, pairs in _gemm_shapes(model, batch).items():
        total = 0.0
        for a_shape, b_shape in pairs:
            a = rng.random(a_shape, np.float32)
            b = rng.random(b_shape, np.float32)
            c = np.empty((a_shape[0], b_shape[1]), np.float32)
            total += _time(lambda a=a, b=b, c=c: np.matmul(a, b, out=c), 15)
        gemm[name] = total

    step = sorted(steps)[len(steps) // 2]
    rows = {name: sorted(v)[len(v) // 2] for name, v in parts.items()}
    return {"model": model_name, "batch": batch, "step_s": step, "samples_per_s": batch / step,
            "parts_s": rows, "gemm_s": gemm, "gemm_total_s": sum(gemm.values()),
            "loadavg": common.loadavg()}


def table(result: dict) -> str:
    step = result["step_s"]
    rows = [[name, common.fmt_time(t), f"{100 * t / step:.1f}%"]
            for name, t in sorted(result["parts_s"].items(), key=lambda kv: -kv[1])]
    gemm_rows = [[f"GEMMs of {name}", common.fmt_time(t), f"{100 * t / step:.1f}%"]
                 for name, t in result["gemm_s"].items()]
    text = common.md_table(["part of a training step", "median", "share of step"],
                           rows, right={1, 2})
    text += "\n\n" + common.md_table(["GEMM alone, same shapes", "median", "share of step"],
                                     gemm_rows, right={1, 2})
    text += (f"\n\n{result['model']}: step {common.fmt_time(step)} "
             f"({result['samples_per_s']:,.0f} samples/s); all GEMMs alone "
             f"{common.fmt_time(result['gemm_total_s'])} "
             f"({100 * result['gemm_total_s'] / step:.0f}% of the step); "
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
