"""The two engines side by side: training samples/s of the seed models, fast vs reference.

The reference engine (``Sequential(engine="reference")``) runs each layer's plain-NumPy
pair (``scratchnet/reference/``), one layer after another on the whole batch; the fast
engine is the default. This is information for readers of the reference path, not a
target: how much the kernels, buffers and shards buy on this machine.

    python benchmarks/bench_engines.py [--steps 5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import common

BATCH = 128


def measure(kind: str, engine: str, steps: int, repeats: int, warmup: int = 1) -> dict:
    """Median training samples/s of the seed ``kind`` ('cnn'/'lstm') on ``engine``, float32."""
    from bench_models import make_data

    from scratchnet.seed_models import seed_cnn, seed_lstm

    x, y, used = make_data(kind, BATCH * steps)
    model = (seed_cnn if kind == "cnn" else seed_lstm)(common.NUM_CLASSES, engine=engine)
    model.compile("adam")

    def run() -> float:
        start = time.perf_counter()
        for s in range(steps):
            model.train_step(x[s * BATCH:(s + 1) * BATCH], y[s * BATCH:(s + 1) * BATCH])
        return time.perf_counter() - start

    for _ in range(warmup):
        run()
    times = [run() for _ in range(repeats)]
    rates = [BATCH * steps / t for t in times]
    return {"kind": kind, "engine": engine, "batch": BATCH, "steps": steps, "data": used,
            "samples_per_s": statistics.median(rates), "min": min(rates), "max": max(rates)}


def run(kinds=("cnn", "lstm"), steps: int = 5, repeats: int = 3) -> dict:
    rows = [measure(kind, engine, steps, repeats) for kind in kinds
            for engine in ("fast", "reference")]
    return {"rows": rows}


def to_markdown(result: dict) -> str:
    by = {(r["kind"], r["engine"]): r for r in result["rows"]}
    table = []
    for kind in dict.fromkeys(r["kind"] for r in result["rows"]):
        fast, ref = by[(kind, "fast")], by[(kind, "reference")]
        table.append([kind, common.fmt_rate(fast["samples_per_s"]),
                      common.fmt_rate(ref["samples_per_s"]),
                      common.fmt_ratio(fast["samples_per_s"] / ref["samples_per_s"])])
    return ("### Engines: training samples/s, batch 128, float32 (information, not a target)\n\n"
            + common.md_table(["model", "fast", "reference", "fast / reference"], table,
                              right={1, 2, 3}))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    common.ensure_paths()
    print(to_markdown(run(steps=args.steps, repeats=args.repeats)))
