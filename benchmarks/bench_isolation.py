"""Side effects between libraries in one process, measured in fresh processes, alternated.

``side_effect()``: PyTorch's seed-LSTM training (batch 128, Adam, 2 threads) in a
fresh process with the default environment, in four variants, one child each per
round, in an order that rotates every round:

- ``alone``: PyTorch only;
- ``import``: ``import scratchnet.seed_models`` first (issue 17's acceptance test: within
  10% of ``alone``);
- ``train``: scratchnet imported and one seed-LSTM step trained first, so numba's thread
  pool and scratchnet's BLAS control have started;
- ``old PASSIVE``: ``OMP_WAIT_POLICY=PASSIVE`` and ``OPENBLAS_THREAD_TIMEOUT=4`` exported,
  what ``import scratchnet`` used to set: shows the benchmark sees the effect issue 17
  reported.

``setting_cost()``: what dropping those two settings costs scratchnet itself: the seed
models' training rows of ``bench_fair`` with scratchnet's default data parallelism
(shards) and with ``set_workers(1)`` (whole batches, numba's pool and BLAS's threads
taking turns), each in the default environment and with the old settings exported;
and whole batches with every kernel serial (``serial_kernels``), which keeps numba's
pool asleep without any process-wide setting.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import bench_fair
import common

OLD = {"OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_THREAD_TIMEOUT": "4"}
VARIANTS = {"alone": (None, {}), "import": ("import", {}), "train": ("train", {}),
            "old PASSIVE": (None, OLD)}


def _rounds(runs, configs, data, threads, steps, warmup, repeats, base_env, log):
    """``configs``: name -> child kwargs (+ 'env' additions); rotated order every round."""
    env = bench_fair.child_env(base_env)
    names = list(configs)
    rates = {name: [] for name in names}
    loads = []
    for r in range(runs):
        loads.append(common.loadavg())
        k = r % len(names)
        for name in (*names[k:], *names[:k]):
            cfg = dict(configs[name])
            extra = cfg.pop("env", {})
            kind, mode = cfg.pop("kind"), cfg.pop("mode")
            child = common.run_child(
                "bench_fair", "framework_child",
                {"kind": kind, "mode": mode, "x_path": data[kind]["x"],
                 "y_path": data[kind]["y"], "batch": bench_fair.BATCH[mode],
                 "steps": steps[mode], "warmup": warmup, "repeats": repeats,
                 "threads": threads, **cfg},
                env={**env, **extra}, replace_env=True)
            rates[name].append(child["samples_per_s"])
            if log:
                log(f"round {r + 1}/{runs} {name}: {child['samples_per_s']:,.0f} samples/s, "
                    f"load {common.loadavg()}")
    loads.append(common.loadavg())
    return rates, loads


def side_effect(runs: int = 5, threads: int = 2, source: str = "auto", steps: int = 10,
                warmup: int = 2, repeats: int = 5, base_env: dict | None = None,
                log=None) -> dict:
    """PyTorch's LSTM training with and without scratchnet in the process first."""
    if not bench_fair.available("pytorch"):
        return {"skipped": "torch is not installed (pip install torch==2.13.0)"}
    configs = {name: {"framework": "pytorch", "kind": "lstm", "mode": "train",
                      "before": before, "env": env}
               for name, (before, env) in VARIANTS.items()}
    with tempfile.TemporaryDirectory(prefix="scratchnet-iso-") as folder:
        data = bench_fair.write_data(Path(folder), source, {"lstm": 128 * steps})
        rates, loads = _rounds(runs, configs, data, threads, {"train": steps}, warmup,
                               repeats, base_env, log)
    alone = rates["alone"]
    return {"variants": {name: {"samples_per_s": bench_fair._spread(v),
                                "over_alone": bench_fair._spread(
                                    [x / a for x, a in zip(v, alone, strict=True)]),
                                "per_round": v} for name, v in rates.items()},
            "loadavg_per_round": loads, "data": data["lstm"]["data"],
            "settings": {"runs": runs, "threads": threads, "steps": steps, "warmup": warmup,
                         "repeats_per_child": repeats}}


def setting_cost(runs: int = 3, threads: int = 2, source: str = "auto",
                 rows=(("cnn", "train"), ("lstm", "train")), train_steps: int = 10,
                 infer_steps: int = 4,
                 warmup: int = 2, repeats: int = 5, base_env: dict | None = None,
                 log=None) -> dict:
    """scratchnet's samples/s with and without the old settings, sharded and whole."""
    configs = {}
    for kind, mode in rows:
        for workers in (None, 1):
            for label, env in (("default env", {}), ("old settings", OLD)):
                name = (f"{kind} {mode}, {'shards' if workers is None else 'set_workers(1)'}, "
                        f"{label}")
                configs[name] = {"framework": "scratchnet", "kind": kind, "mode": mode,
                                 "workers": workers, "env": env}
        configs[f"{kind} {mode}, set_workers(1) + serial kernels, default env"] = {
            "framework": "scratchnet", "kind": kind, "mode": mode, "workers": 1,
            "serial": True, "env": {}}
    steps = {"train": train_steps, "infer": infer_steps}
    sizes = {}
    for kind, mode in rows:
        sizes[kind] = max(sizes.get(kind, 0), bench_fair.BATCH[mode] * steps[mode])
    with tempfile.TemporaryDirectory(prefix="scratchnet-iso-") as folder:
        data = bench_fair.write_data(Path(folder), source, sizes)
        rates, loads = _rounds(runs, configs, data, threads, steps, warmup, repeats,
                               base_env, log)
    rows_out = []
    for name in configs:
        if not name.endswith("default env"):
            continue
        old = name.replace("default env", "old settings")
        row = {"config": name[:-len(", default env")],
               "default_env": bench_fair._spread(rates[name])}
        if old in rates:
            row["old_settings"] = bench_fair._spread(rates[old])
            row["default_over_old"] = bench_fair._spread(
                [a / b for a, b in zip(rates[name], rates[old], strict=True)])
        rows_out.append(row)
    return {"rows": rows_out, "loadavg_per_round": loads,
            "settings": {"runs": runs, "threads": threads, "repeats_per_child": repeats}}


def side_effect_markdown(result: dict) -> str:
    if "skipped" in result:
        return f"Import side effect: skipped, {result['skipped']}."
    rows = []
    for name, v in result["variants"].items():
        s, o = v["samples_per_s"], v["over_alone"]
        rows.append([name, common.fmt_rate(s["median"]),
                     f"{common.fmt_rate(s['min'])}-{common.fmt_rate(s['max'])}",
                     f"{o['median']:.2f}", f"{o['min']:.2f}-{o['max']:.2f}"])
    s = result["settings"]
    return (common.md_table(["PyTorch LSTM training, process", "samples/s (median)", "min-max",
                             "over alone (median, per round)", "min-max"], rows)
            + f"\n\n{s['runs']} rounds, one fresh process per variant and round, order rotated; "
            f"{s['threads']} threads; batch 128, a child's figure the median of "
            f"{s['repeats_per_child']} runs of {s['steps']} steps. Data: {result['data']}. "
            f"Load average per round: {', '.join(str(x) for x in result['loadavg_per_round'])}.")


def setting_cost_markdown(result: dict) -> str:
    rows = []
    for r in result["rows"]:
        d = r["default_env"]
        line = [r["config"], f"{common.fmt_rate(d['median'])} "
                f"({common.fmt_rate(d['min'])}-{common.fmt_rate(d['max'])})"]
        if "old_settings" in r:
            o, q = r["old_settings"], r["default_over_old"]
            line += [f"{common.fmt_rate(o['median'])} "
                     f"({common.fmt_rate(o['min'])}-{common.fmt_rate(o['max'])})",
                     f"{q['median']:.2f}", f"{q['min']:.2f}-{q['max']:.2f}"]
        else:
            line += ["–", "–", "–"]
        rows.append(line)
    s = result["settings"]
    return (common.md_table(["scratchnet", "default env: samples/s (min-max)",
                             "old settings exported", "default / old (median)", "min-max"],
                            rows)
            + f"\n\n{s['runs']} rounds, one fresh process per configuration and round, order "
            "rotated; old settings: OMP_WAIT_POLICY=PASSIVE, OPENBLAS_THREAD_TIMEOUT=4. Load "
            f"average per round: {', '.join(str(x) for x in result['loadavg_per_round'])}.")

