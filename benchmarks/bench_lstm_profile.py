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
per step, the loss, dropout, the optimizer, allocations. Every figure is the *fastest*
of ``repeats`` runs (as ``timeit`` reports): a difference of two parts is only
meaningful when both are measured at their least disturbed, and on a shared machine the
medians of parts taken at different moments need not even add up. Each GEMM is timed in
a loop of as many calls as the step makes, on one thread, with the other core idle if
the machine is quiet (so slightly faster than inside a real step, where the other shard
shares memory bandwidth).
"""

from __future__ import annotations

import common
import numpy as np

T, D, H, C = 28, 28, 128, common.NUM_CLASSES


def _best_time(fn, repeats: int, number: int = 1) -> float:
    fn()  # warm
    return min(common.time_run(fn, number) for _ in range(repeats))


def _gemm_loop(m, k, p, count, repeats, transpose_a=False):
    """Seconds for ``count`` (m, k) @ (k, p) float32 GEMMs in a Python loop, out= reused."""
    rng = np.random.default_rng(0)
    a = rng.random((k, m) if transpose_a else (m, k), dtype=np.float32)
    a = a.T if transpose_a else a
    b = rng.random((k, p), dtype=np.float32)
    c = np.empty((m, p), dtype=np.float32)

    def loop():
        for _ in range(count):
            np.matmul(a, b, out=c)
    number = common.calibrate(loop, 0.01, max_number=1000)
    return _best_time(loop, repeats, number)


def run(rows: int = 64, repeats: int = 30, source: str = "auto") -> dict:
    """Time one shard's training step and its GEMMs; return the breakdown."""
    import bench_models

    from scratchnet import blas, parallel
    from scratchnet.kernels.threads import serial_kernels

    x, y, used = bench_models.make_data("lstm", 2 * rows, source)
    model = bench_models.build_scratchnet("lstm")
    result = {"rows": rows, "data": used, "loadavg_before": common.loadavg()}

    # The sharded step at 2 x rows, as training runs it (numba's thread count = workers).
    result["sharded_step_s"] = _best_time(lambda: model.train_step(x, y), repeats)
    result["sharded_workers"] = parallel.workers()

    parallel.set_workers(1)
    xs, ys = x[:rows], y[:rows]
    try:
        with blas.single_threaded(), serial_kernels():
            result["shard_step_s"] = _best_time(lambda: model.train_step(xs, ys), repeats)
            grads = getattr(model, "compute_gradients", None)
            result["shard_gradients_s"] = (
                _best_time(lambda: grads(xs, ys, training=True), repeats)
                if grads is not None else None)
            result["shard_predict_s"] = _best_time(
                lambda: model.predict(xs, batch_size=rows), repeats)
            g = {}
            g["x @ W, all steps"] = _gemm_loop(rows * T, D, 4 * H, 1, repeats)
            g["h @ U, per step (x28)"] = _gemm_loop(rows, H, 4 * H, T, repeats)
            g["dz @ U^T, per step (x28)"] = _gemm_loop(rows, 4 * H, H, T, repeats)
            per_step_du = _gemm_loop(H, rows, 4 * H, T, repeats, transpose_a=True)
            once_du = _gemm_loop(H, rows * T, 4 * H, 1, repeats, transpose_a=True)
            g["dU = h^T dz (cheaper of per step / once)"] = min(per_step_du, once_du)
            per_step_dw = _gemm_loop(D, rows, 4 * H, T, repeats, transpose_a=True)
            once_dw = _gemm_loop(D, rows * T, 4 * H, 1, repeats, transpose_a=True)
            g["dW = x^T dz (cheaper of per step / once)"] = min(per_step_dw, once_dw)
            g["dense: forward, dW, dX"] = (_gemm_loop(rows, H, C, 1, repeats)
                                           + _gemm_loop(H, rows, C, 1, repeats, True)
                                           + _gemm_loop(rows, C, H, 1, repeats))
            result["dU_per_step_vs_once_s"] = [per_step_du, once_du]
            result["dW_per_step_vs_once_s"] = [per_step_dw, once_dw]
            # One h @ U call alone, and the same call allocating its result (no out=).
            a = np.random.default_rng(1).random((rows, H), dtype=np.float32)
            u = np.random.default_rng(2).random((H, 4 * H), dtype=np.float32)
            result["h_at_U_one_call_s"] = _best_time(lambda: np.matmul(a, u), repeats, 200)
    finally:
        parallel.set_workers(None)
    result["gemms_s"] = g
    result["all_gemms_s"] = sum(g.values())
    result["loadavg_after"] = common.loadavg()
    return result


def to_markdown(r: dict) -> str:
    step = r["shard_step_s"]
    rows = [[f"shard step: `train_step` on {r['rows']} samples, 1 thread", common.fmt_time(step),
             "100%"]]
    if r.get("shard_gradients_s") is not None:
        rows.append(["  of which forward + loss + backward (`compute_gradients`)",
                     common.fmt_time(r["shard_gradients_s"]),
                     f"{100 * r['shard_gradients_s'] / step:.0f}%"])
        opt = step - r["shard_gradients_s"]
        rows.append(["  of which the optimizer and the step's bookkeeping (difference)",
                     common.fmt_time(opt), f"{100 * opt / step:.0f}%"])
    for name, t in r["gemms_s"].items():
        rows.append([f"GEMM {name}", common.fmt_time(t), f"{100 * t / step:.0f}%"])
    rest = step - r["all_gemms_s"]
    rows += [["**all GEMMs**", f"**{common.fmt_time(r['all_gemms_s'])}**",
              f"**{100 * r['all_gemms_s'] / step:.0f}%**"],
             ["**around the GEMMs** (step - all GEMMs)", f"**{common.fmt_time(rest)}**",
              f"**{100 * rest / step:.0f}%**"]]
    hu = r["gemms_s"]["h @ U, per step (x28)"]
    return (common.md_table(["part (one shard, seed LSTM)", "fastest run",
                             "share of the shard step"], rows)
            + f"\n\nOne `h @ U` call ({r['rows']}, 128) @ (128, 512): "
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
