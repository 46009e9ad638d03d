"""Where the seed LSTM's training step goes: its GEMMs, above all the per-step ``h @ U``,
against everything around them (issue 17, item 3).

Only the public API is used, so this stays valid while layers are refactored:
``model.train_step`` and ``model.compute_gradients`` for the model, and raw NumPy GEMMs
at the same shapes for the matrix products. One *shard* is what a core runs in a
training step at batch 128 on two cores: 64 samples, serial kernels
(``kernels.threads.serial_kernels``), single-threaded BLAS (``blas.single_threaded``),
whole batch (``parallel.set_workers(1)``) so that no second thread is involved.

The GEMMs of one shard's step, at 64 rows, T = 28 steps, D = 28 inputs, H = 128 units:

- forward: ``x @ W`` for all steps at once, (1792, 28) @ (28, 512); then per step
  ``h @ U``, (64, 128) @ (128, 512), 28 times (27 if the zero first state is skipped);
- backward: per step ``dz @ U^T``, (64, 512) @ (512, 128); the weight gradients
  ``dU = h^T dz`` and ``dW = x^T dz``, either per step (28 small GEMMs) or once over all
  steps; here both are timed and the cheaper counts;
- the Dense(47) head: forward, its weight and input gradients.

``shard step - all GEMMs`` is the time spent around the GEMMs: the gate kernels, Python
per step, the loss, dropout, the optimizer, allocations. The parts are *interleaved*:
each of ``repeats`` rounds times every part once, in an order rotated round by round,
and a part's share is the median over rounds of its time over the same round's step
(on a shared machine, parts timed minutes apart need not even add up). Each GEMM is
timed in a loop of as many calls as the step makes, on one thread (with the other core
idle on a quiet machine, so slightly faster than inside a real step, where the other
shard shares memory bandwidth).
"""

from __future__ import annotations

import statistics

import common
import numpy as np

T, D, H, C = 28, 28, 128, common.NUM_CLASSES


def _gemm(m, k, p, count, transpose_a=False):
    """A function running ``count`` (m, k) @ (k, p) float32 GEMMs, out= reused."""
    rng = np.random.default_rng(0)
    a = rng.random((k, m) if transpose_a else (m, k), dtype=np.float32)
    a = a.T if transpose_a else a
    b = rng.random((k, p), dtype=np.float32)
    c = np.empty((m, p), dtype=np.float32)

    def loop():
        for _ in range(count):
            np.matmul(a, b, out=c)
    return loop


def _interleaved(parts: dict, repeats: int) -> dict:
    """Per part, its seconds per call in each of ``repeats`` rounds; every round runs
    every part once (enough calls to last ~10 ms), in an order rotated round by round,
    so a busy moment of the machine hits all parts of a round alike."""
    numbers = {}
    for name, fn in parts.items():
        fn()  # warm
        numbers[name] = common.calibrate(fn, 0.01, max_number=1000)
    names = list(parts)
    times = {name: [] for name in names}
    for r in range(repeats):
        k = r % len(names)
        for name in (*names[k:], *names[:k]):
            times[name].append(common.time_run(parts[name], numbers[name]))
    return times


def run(rows: int = 64, repeats: int = 30, source: str = "auto") -> dict:
    """Time one shard's training step and its GEMMs, interleaved; return the breakdown."""
    import bench_models

    from scratchnet import blas, parallel
    from scratchnet.kernels.threads import serial_kernels

    x, y, used = bench_models.make_data("lstm", 2 * rows, source)
    model = bench_models.build_scratchnet("lstm")
    result = {"rows": rows, "data": used, "loadavg_before": common.loadavg(),
              "repeats": repeats}
    # The sharded step at 2 x rows, as training runs it (numba's thread count = workers).
    sharded = _interleaved({"step": lambda: model.train_step(x, y)}, repeats)
    result["sharded_step_s"] = statistics.median(sharded["step"])
    result["sharded_workers"] = parallel.workers()

    parallel.set_workers(1)
    xs, ys = x[:rows], y[:rows]
    parts = {"step": lambda: model.train_step(xs, ys),
             "predict": lambda: model.predict(xs, batch_size=rows)}
    grads = getattr(model, "compute_gradients", None)
    if grads is not None:
        parts["gradients"] = lambda: grads(xs, ys, training=True)
    gemms = {
        "x @ W, all steps": _gemm(rows * T, D, 4 * H, 1),
        "h @ U, per step (x28)": _gemm(rows, H, 4 * H, T),
        "dz @ U^T, per step (x28)": _gemm(rows, 4 * H, H, T),
        "dU = h^T dz, per step (x28)": _gemm(H, rows, 4 * H, T, transpose_a=True),
        "dU = h^T dz, once": _gemm(H, rows * T, 4 * H, 1, transpose_a=True),
        "dW = x^T dz, per step (x28)": _gemm(D, rows, 4 * H, T, transpose_a=True),
        "dW = x^T dz, once": _gemm(D, rows * T, 4 * H, 1, transpose_a=True),
        "dense forward": _gemm(rows, H, C, 1),
        "dense dW": _gemm(H, rows, C, 1, transpose_a=True),
        "dense dX": _gemm(rows, C, H, 1),
    }
    a = np.random.default_rng(1).random((rows, H), dtype=np.float32)
    u = np.random.default_rng(2).random((H, 4 * H), dtype=np.float32)
    parts["h @ U allocating"] = lambda: np.matmul(a, u)
    try:
        with blas.single_threaded(), serial_kernels():
            t = _interleaved({**parts, **gemms}, repeats)
    finally:
        parallel.set_workers(None)
    # Per round: the model's GEMMs, each weight gradient the cheaper way of that round.
    table = {
        "x @ W, all steps": t["x @ W, all steps"],
        "h @ U, per step (x28)": t["h @ U, per step (x28)"],
        "dz @ U^T, per step (x28)": t["dz @ U^T, per step (x28)"],
        "dU = h^T dz (cheaper of per step / once)": [
            min(p, o) for p, o in zip(t["dU = h^T dz, per step (x28)"],
                                      t["dU = h^T dz, once"], strict=True)],
        "dW = x^T dz (cheaper of per step / once)": [
            min(p, o) for p, o in zip(t["dW = x^T dz, per step (x28)"],
                                      t["dW = x^T dz, once"], strict=True)],
        "dense: forward, dW, dX": [sum(v) for v in zip(t["dense forward"], t["dense dW"],
                                                       t["dense dX"], strict=True)],
    }
    all_gemms = [sum(v) for v in zip(*table.values(), strict=True)]
    step = t["step"]

    def share(values):
        return statistics.median(v / s for v, s in zip(values, step, strict=True))

    med = statistics.median
    result.update({
        "shard_step_s": med(step),
        "shard_gradients_s": med(t["gradients"]) if "gradients" in t else None,
        "gradients_share": share(t["gradients"]) if "gradients" in t else None,
        "shard_predict_s": med(t["predict"]),
        "gemms_s": {k: med(v) for k, v in table.items()},
        "gemm_shares": {k: share(v) for k, v in table.items()},
        "all_gemms_s": med(all_gemms), "all_gemms_share": share(all_gemms),
        "rest_share": share([s - g for s, g in zip(step, all_gemms, strict=True)]),
        "rest_s": med([s - g for s, g in zip(step, all_gemms, strict=True)]),
        "h_at_U_one_call_s": med(t["h @ U allocating"]),
        "dU_per_step_vs_once_s": [med(t["dU = h^T dz, per step (x28)"]),
                                  med(t["dU = h^T dz, once"])],
        "dW_per_step_vs_once_s": [med(t["dW = x^T dz, per step (x28)"]),
                                  med(t["dW = x^T dz, once"])],
        "loadavg_after": common.loadavg(),
    })
    return result


def to_markdown(r: dict) -> str:
    step = r["shard_step_s"]

    def pct(x):
        return f"{100 * x:.0f}%"
    rows = [[f"shard step: `train_step` on {r['rows']} samples, 1 thread", common.fmt_time(step),
             "100%"]]
    if r.get("shard_gradients_s") is not None:
        rows.append(["  of which forward + loss + backward (`compute_gradients`)",
                     common.fmt_time(r["shard_gradients_s"]), pct(r["gradients_share"])])
        rows.append(["  of which the optimizer and the step's bookkeeping (the rest)", "",
                     pct(1 - r["gradients_share"])])
    for name, t in r["gemms_s"].items():
        rows.append([f"GEMM {name}", common.fmt_time(t), pct(r["gemm_shares"][name])])
    rows += [["**all GEMMs**", f"**{common.fmt_time(r['all_gemms_s'])}**",
              f"**{pct(r['all_gemms_share'])}**"],
             ["**around the GEMMs** (step - all GEMMs)", f"**{common.fmt_time(r['rest_s'])}**",
              f"**{pct(r['rest_share'])}**"]]
    hu = r["gemms_s"]["h @ U, per step (x28)"]
    return (common.md_table(["part (one shard, seed LSTM)", "median",
                             "share of the step (median per round)"], rows)
            + f"\n\n{r['repeats']} rounds, every part once per round in a rotated order. "
            f"One `h @ U` call ({r['rows']}, 128) @ (128, 512): "
            f"{common.fmt_time(hu / T)} in the loop with out=, "
            f"{common.fmt_time(r['h_at_U_one_call_s'])} allocating its result; "
            f"{2 * r['rows'] * H * 4 * H / (hu / T) / 1e9:.0f} GFLOP/s. dU per step / once: "
            f"{common.fmt_time(r['dU_per_step_vs_once_s'][0])} / "
            f"{common.fmt_time(r['dU_per_step_vs_once_s'][1])}; dW per step / once: "
            f"{common.fmt_time(r['dW_per_step_vs_once_s'][0])} / "
            f"{common.fmt_time(r['dW_per_step_vs_once_s'][1])}. Inference of the same "
            f"{r['rows']} samples (`predict`): {common.fmt_time(r['shard_predict_s'])}. "
            f"The whole sharded step at batch {2 * r['rows']} on "
            f"{r['sharded_workers']} workers: {common.fmt_time(r['sharded_step_s'])}. "
            f"Data: {r['data']}; load average {r['loadavg_before']} -> {r['loadavg_after']}.")
