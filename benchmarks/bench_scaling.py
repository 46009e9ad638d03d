"""Scaling: training time per epoch against dataset size, and samples/s and peak memory
against batch size.

Dataset size (``epochs()``): ``model.fit(x[:n], y[:n], batch_size=128, epochs=1)`` for
each size n, in this process, after a warm-up fit; sizes are interleaved within each
repeat, in an order rotated between repeats, so load changes hit all sizes alike;
median per size. An epoch should cost a
fixed time per sample, so the table gives µs/sample per size, and the linearity figures
are a least-squares line ``t = a + b n`` (R² near 1 and a small intercept ``a`` mean
linear) and the largest size's time per sample over the smallest's (1.0 = linear).

Batch size (``batches()``): one fresh interpreter per (model, mode, batch), each timing
runs of about the same number of samples and taking the peak resident memory above the
loaded data and model (as in ``bench_models``). Memory should grow at most linearly with
the batch: the table gives MB per sample of batch, and a least-squares slope.
"""

from __future__ import annotations

import math
import statistics
import time

import bench_models
import common


def linear_fit(xs: list[float], ys: list[float]) -> dict:
    """Least-squares ``y = intercept + slope x`` and its R²."""
    n = len(xs)
    if n < 2:
        return {"slope": None, "intercept": None, "r2": None}
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    intercept = my - slope * mx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    return {"slope": slope, "intercept": intercept,
            "r2": 1 - ss_res / ss_tot if ss_tot > 0 else 1.0}


def epochs(kinds=("cnn", "lstm"), sizes=(2048, 4096, 8192, 16384), repeats: int = 3,
           batch: int = 128, source: str = "auto") -> dict:
    """Seconds per training epoch (``fit``, one epoch) against the number of samples."""
    results = []
    for kind in kinds:
        x, y, used = bench_models.make_data(kind, max(sizes), source)
        model = bench_models.build_scratchnet(kind)
        model.fit(x[:2 * batch], y[:2 * batch], batch_size=batch, epochs=1, verbose=0)  # warm-up
        times = {n: [] for n in sizes}
        for r in range(repeats):
            k = r % len(sizes)  # rotate the order, so no size always runs first or last
            for n in (*sizes[k:], *sizes[:k]):
                start = time.perf_counter()
                model.fit(x[:n], y[:n], batch_size=batch, epochs=1, verbose=0)
                times[n].append(time.perf_counter() - start)
        rows = [{"samples": n, **common.summary(times[n]),
                 "us_per_sample": 1e6 * statistics.median(times[n]) / n} for n in sizes]
        fit = linear_fit([r["samples"] for r in rows], [r["median_s"] for r in rows])
        results.append({
            "kind": kind, "batch": batch, "data": used, "rows": rows, "fit": fit,
            "per_sample_ratio_largest_over_smallest": rows[-1]["us_per_sample"]
            / rows[0]["us_per_sample"],
        })
    return {"models": results, "settings": {"repeats": repeats, "sizes": list(sizes)}}


def epochs_to_markdown(result: dict) -> str:
    parts = []
    for m in result["models"]:
        rows = [[f"{r['samples']:,}", f"{r['median_s']:.2f}", f"{r['us_per_sample']:.0f}",
                 f"{1e6 / r['us_per_sample']:,.0f}"] for r in m["rows"]]
        fit = m["fit"]
        parts.append(
            f"**{m['kind'].upper()}** (batch {m['batch']}, data: {m['data']})\n\n"
            + common.md_table(["samples", "epoch (s, median)", "µs / sample", "samples/s"], rows)
            + (f"\n\nLinearity: t = {fit['intercept']:.3f} s + {1e6 * fit['slope']:.0f} µs × n, "
               f"R² = {fit['r2']:.4f}; time/sample at the largest size over the smallest: "
               f"{m['per_sample_ratio_largest_over_smallest']:.2f} (1.00 = linear)."
               if fit["slope"] is not None else ""))
    return "\n\n".join(parts)


def batches(kinds=("cnn", "lstm"), modes=("train",), sizes=(32, 64, 128, 256, 512, 1024),
            samples_per_run: int = 2048, repeats: int = 5, source: str = "auto") -> dict:
    """samples/s and peak memory per batch size, one fresh interpreter per point."""
    results, errors = [], []
    for kind in kinds:
        for mode in modes:
            rows = []
            for batch in sizes:
                steps = max(1, math.ceil(samples_per_run / batch))
                try:
                    child = common.run_child(
                        "bench_models", "measure_child",
                        {"framework": "scratchnet", "kind": kind, "mode": mode, "batch": batch,
                         "steps": steps, "repeats": repeats, "source": source})
                except RuntimeError as exc:
                    errors.append(f"{kind} {mode} batch {batch}: {str(exc)[-500:]}")
                    continue
                rows.append({"batch": batch, "steps_per_run": steps,
                             "samples_per_s": child["samples_per_s"], "runs": child["runs"],
                             "memory": child["memory"], "data": child["data"]})
            fit = linear_fit([r["batch"] for r in rows],
                             [r["memory"]["peak_above_before_mb"] for r in rows])
            results.append({"kind": kind, "mode": mode, "rows": rows, "memory_fit": fit})
    return {"models": results, "errors": errors,
            "settings": {"repeats": repeats, "samples_per_run": samples_per_run,
                         "sizes": list(sizes)}}


def batches_to_markdown(result: dict) -> str:
    parts = []
    for m in result["models"]:
        rows = [[r["batch"], common.fmt_rate(r["samples_per_s"]),
                 f"{r['memory']['peak_above_before_mb']:,.0f}",
                 f"{r['memory']['peak_above_before_mb'] / r['batch']:.2f}"] for r in m["rows"]]
        fit = m["memory_fit"]
        parts.append(
            f"**{m['kind'].upper()} {m['mode']}**\n\n"
            + common.md_table(["batch", "samples/s", "peak MB", "peak MB / sample"], rows)
            + (f"\n\nPeak memory ≈ {fit['intercept']:.0f} MB + {fit['slope']:.3f} MB × batch "
               f"(R² = {fit['r2']:.3f})." if fit["slope"] is not None else ""))
    parts += [f"- error: {e}" for e in result["errors"]]
    return "\n\n".join(parts)
