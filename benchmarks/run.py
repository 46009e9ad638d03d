"""scratchnet's benchmarks, one entry point: prints Markdown tables and writes JSON.

    python benchmarks/run.py                      # everything
    python benchmarks/run.py --sections fair --runs 9   # the fair table alone
    python benchmarks/run.py --quick              # smoke run: few repeats, small sizes

Sections (``--sections``, comma-separated; default all):

- ``kernels``: every numba kernel against its NumPy reference at the seed shapes;
- ``jit``: each kernel's JIT compile time, cold (empty numba cache) and warm;
- ``fair``: training / inference samples/s and peak memory of the seed CNN and LSTM
  and the recurrent study's GRU and SimpleRNN models, each framework (scratchnet,
  PyTorch and TensorFlow when installed) in its own fresh process, alternated over
  ``--runs`` rounds, with the GEMM ceiling (``bench_fair.py``);
- ``isolation``: PyTorch's LSTM training with and without scratchnet in the process,
  and what scratchnet would gain from the thread settings it no longer makes
  (``bench_isolation.py``);
- ``profile``: each layer's share of a training step beside its GEMMs alone
  (``bench_profile.py``);
- ``lstm_profile``: one shard of the LSTM's training step against its GEMMs, public API
  only (``bench_lstm_profile.py``);
- ``engines``: training samples/s of the seed models on the reference engine beside the
  fast one (``bench_engines.py``; information, not a target);
- ``epochs``: training time per epoch against dataset size (linearity), plotted;
- ``batches``: samples/s and peak memory against batch size, 32 to 1024, plotted;
- ``startup``: ``import scratchnet`` time, time to the first trained batch (cold / warm);
- ``data``: loading EMNIST ByMerge's test split (``bench_data.py``; needs the data).

Threads are pinned before NumPy or numba load: ``OMP_NUM_THREADS``,
``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` and ``NUMBA_NUM_THREADS`` all get
``--threads`` (default 2) in this process and the children of the scratchnet-only
sections. The ``fair`` and ``isolation`` children instead get the environment this
command started with, minus those variables and ``OMP_WAIT_POLICY`` /
``OPENBLAS_THREAD_TIMEOUT``, and set the thread count through each framework's own API.
This process never imports torch. The counts actually in use and numba's threading
layer are printed and recorded. See benchmarks/README.md for how to read each table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

SECTIONS = ("kernels", "jit", "fair", "isolation", "profile", "lstm_profile", "engines",
            "epochs", "batches", "startup", "data")
SEED_KINDS = ("cnn", "lstm")  # every section's models
FAIR_KINDS = (*SEED_KINDS, "gru", "simplernn")  # bench_fair.KINDS: also the study's
RESULTS = Path(__file__).resolve().parent / "results"
PLOTS = Path(__file__).resolve().parent / "plots"

# Settings per section: (full run, --quick run).
SETTINGS = {
    "kernels": ({"repeats": 15, "min_run_time": 0.02}, {"repeats": 3, "min_run_time": 0.005}),
    "jit": ({"kernels": None}, {"kernels": ["adam_update", "lstm_forward_step"]}),
    "fair": ({"runs": 5, "repeats": 5, "train_steps": 10, "infer_steps": 4, "warmup": 2},
             {"runs": 2, "repeats": 1, "train_steps": 2, "infer_steps": 1, "warmup": 1,
              "gemm_min_time": 0.001}),
    "isolation": ({"runs": 5, "cost_runs": 3, "repeats": 5, "warmup": 2},
                  {"runs": 1, "cost_runs": 1, "repeats": 1, "warmup": 1}),
    "profile": ({"repeats": 30}, {"repeats": 5}),
    "lstm_profile": ({"repeats": 30}, {"repeats": 3}),
    "engines": ({"steps": 5, "repeats": 3}, {"steps": 1, "repeats": 1}),
    "epochs": ({"sizes": (10_000, 50_000, 100_000), "repeats": 2},
               {"sizes": (256, 512, 1024), "repeats": 1}),
    "batches": ({"sizes": (32, 64, 128, 256, 512, 1024), "samples_per_run": 2048, "repeats": 5},
                {"sizes": (32, 128, 512), "samples_per_run": 512, "repeats": 1}),
    "startup": ({"import_repeats": 5}, {"import_repeats": 2}),
    "data": ({"repeats": 5}, {"repeats": 1}),
}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="scratchnet benchmarks (see benchmarks/README.md)")
    p.add_argument("--sections", default=",".join(SECTIONS),
                   help=f"comma-separated subset of: {', '.join(SECTIONS)} (default: all)")
    p.add_argument("--quick", action="store_true", help="few repeats and small sizes (smoke run)")
    p.add_argument("--tiny", action="store_true",
                   help="kernel benchmarks at batch 2 instead of the seed shapes (tests only)")
    p.add_argument("--threads", type=int, default=2,
                   help="threads of every framework: numba, BLAS, OpenMP, torch (0: leave as is)")
    p.add_argument("--runs", type=int, default=None,
                   help="rounds of the fair and isolation sections (default 5; 2 with --quick)")
    p.add_argument("--threading-layer", choices=("omp", "tbb", "workqueue"), default=None,
                   help="set NUMBA_THREADING_LAYER (default: numba's choice)")
    p.add_argument("--models", default=None,
                   help="models: cnn, lstm (the seed models) and, in the fair section only, "
                        "gru, simplernn (the recurrent study's); default: all four in fair, "
                        "cnn,lstm elsewhere")
    p.add_argument("--modes", default="train,infer",
                   help="modes of the fair and isolation sections: train, infer or both")
    p.add_argument("--batch-modes", default="train",
                   help="modes for the batch-size sweep: train, infer or train,infer")
    p.add_argument("--no-torch", action="store_true",
                   help="leave PyTorch (and TensorFlow) out of the fair and isolation sections")
    p.add_argument("--data", choices=("auto", "real", "random"), default="auto",
                   help="EMNIST ByMerge from SCRATCHNET_DATA, or random values (default: auto)")
    p.add_argument("--repeats", type=int, default=None,
                   help="override the timed-run count of every section that has one")
    p.add_argument("--json", default=str(RESULTS / "latest.json"), help="JSON output path")
    p.add_argument("--markdown", default=str(RESULTS / "latest.md"),
                   help="Markdown output path (the printed tables)")
    p.add_argument("--plots", default=str(PLOTS),
                   help="folder for the scaling PNGs (default benchmarks/plots)")
    args = p.parse_args(argv)
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(args.sections) - set(SECTIONS))
    if unknown:
        p.error(f"unknown sections {unknown}; choose from {', '.join(SECTIONS)}")
    given = None if args.models is None else [m.strip() for m in args.models.split(",")
                                                if m.strip()]
    unknown = sorted(set(given or ()) - set(FAIR_KINDS))
    if unknown:
        p.error(f"unknown models {unknown}; choose from {', '.join(FAIR_KINDS)}")
    # The study's models have rows in the fair table only; the other sections measure the
    # seed models.
    args.fair_models = given or list(FAIR_KINDS)
    args.models = [m for m in given or SEED_KINDS if m in SEED_KINDS]
    args.batch_modes = [m.strip() for m in args.batch_modes.split(",") if m.strip()]
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    return args


def _rows(args, models=None) -> list[tuple[str, str]]:
    """The (model, mode) rows of the fair section (``models``: another section's)."""
    import bench_fair
    models = args.fair_models if models is None else models
    return [r for r in bench_fair.ROWS if r[0] in models and r[1] in args.modes]


def _settings(section: str, args) -> dict:
    s = dict(SETTINGS[section][1 if args.quick else 0])
    if args.repeats is not None and "repeats" in s:
        s["repeats"] = args.repeats
    if args.runs is not None and "runs" in s:
        s["runs"] = args.runs
    return s


def run_section(name: str, args) -> tuple[dict, str]:
    """Run one section; return its JSON-able result and its Markdown."""
    s = _settings(name, args)
    if name == "kernels":
        import bench_kernels
        result = bench_kernels.run(s["repeats"], s["min_run_time"], tiny=args.tiny)
        return result, bench_kernels.to_markdown(result)
    if name == "jit":
        import bench_kernels
        result = bench_kernels.jit(s["kernels"])
        return result, bench_kernels.jit_to_markdown(result)
    if name == "fair":
        import bench_fair
        frameworks = ["scratchnet"] if args.no_torch else None
        result = bench_fair.run(threads=args.threads, source=args.data,
                                rows=_rows(args),
                                frameworks=frameworks, base_env=args.start_env,
                                batch_override={"train": 16, "infer": 16} if args.tiny else None,
                                log=_log, **s)
        return result, bench_fair.to_markdown(result)
    if name == "isolation":
        import bench_isolation
        cost_runs = s.pop("cost_runs")
        if args.runs is not None:
            cost_runs = max(1, (args.runs + 1) // 2)
        result = {"side_effect": bench_isolation.side_effect(
                      threads=args.threads, source=args.data, base_env=args.start_env,
                      log=_log, **s) if not args.no_torch else {"skipped": "--no-torch"},
                  "setting_cost": bench_isolation.setting_cost(
                      threads=args.threads, source=args.data, base_env=args.start_env,
                      rows=([r for r in _rows(args, args.models) if r[1] == "train"]
                            or _rows(args, args.models)),
                      log=_log, **{**s, "runs": cost_runs})}
        return result, ("**PyTorch with and without scratchnet in the process**\n\n"
                        + bench_isolation.side_effect_markdown(result["side_effect"])
                        + "\n\n**What the dropped settings would give scratchnet**\n\n"
                        + bench_isolation.setting_cost_markdown(result["setting_cost"]))
    if name == "profile":
        import bench_profile
        results = bench_profile.run(models=args.models, repeats=s["repeats"])
        return {"models": results}, "\n\n".join(bench_profile.table(r) for r in results)
    if name == "lstm_profile":
        import bench_lstm_profile
        result = bench_lstm_profile.run(repeats=s["repeats"], source=args.data)
        return result, bench_lstm_profile.to_markdown(result)
    if name == "engines":
        import bench_engines
        result = bench_engines.run(kinds=args.models, **s)
        return result, bench_engines.to_markdown(result)
    if name == "epochs":
        import bench_scaling
        result = bench_scaling.epochs(kinds=args.models, source=args.data, **s)
        text = bench_scaling.epochs_to_markdown(result)
        if args.plots:
            import plot_scaling
            result["plot"] = plot_scaling.epochs_png(
                result, Path(args.plots) / "epochs.png", note=_plot_note(args))
            text += f"\n\nPlot: `{result['plot']}`"
        return result, text
    if name == "batches":
        import bench_scaling
        result = bench_scaling.batches(kinds=args.models, modes=args.batch_modes,
                                       source=args.data, **s)
        text = bench_scaling.batches_to_markdown(result)
        if args.plots:
            import plot_scaling
            result["plot"] = plot_scaling.batches_png(
                result, Path(args.plots) / "batches.png", note=_plot_note(args))
            text += f"\n\nPlot: `{result['plot']}`"
        return result, text
    if name == "startup":
        import bench_startup
        result = bench_startup.run(import_repeats=s["import_repeats"], kinds=args.models)
        return result, bench_startup.to_markdown(result)
    if name == "data":
        import bench_data
        rows = bench_data.run(repeats=s["repeats"])
        return {"rows": rows}, bench_data.to_markdown(rows)
    raise ValueError(name)


def _log(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def _plot_note(args) -> str:
    import common
    return (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load "
            f"{common.loadavg()[:1]}" + (", quick" if args.quick else ""))


TITLES = {
    "kernels": "Kernel micro-benchmarks (numba vs NumPy reference, per call)",
    "jit": "JIT compile time per kernel (fresh interpreter, tiny shapes)",
    "fair": "Fair comparison: each framework in its own process, alternated",
    "isolation": "Side effects between libraries in one process",
    "profile": "Where a training step's time goes (bench_profile.py)",
    "lstm_profile": "The LSTM's training step: h @ U and the rest (bench_lstm_profile.py)",
    "engines": "The reference engine beside the fast one (bench_engines.py)",
    "epochs": "Scaling: epoch time against dataset size",
    "batches": "Scaling: samples/s and peak memory against batch size",
    "startup": "Cost of starting",
    "data": "Data loading (bench_data.py)",
}


def _write(args, report: dict, markdown: list[str]) -> None:
    for path, content in ((args.json, json.dumps(report, indent=1, default=str)),
                          (args.markdown, "\n".join(markdown) + "\n")):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(content)


def main(argv=None) -> dict:
    args = parse_args(argv)
    args.start_env = dict(os.environ)  # the fair children's environment, before pinning
    # Pin threads before NumPy (imported by common's helpers and everything after).
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import common

    common.ensure_paths()
    notes = common.pin_threads(args.threads, threading_layer=args.threading_layer)
    common.start_numba_threads()
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    command = "python benchmarks/run.py " + " ".join(sys.argv[1:] if argv is None else argv)
    report = {
        "started": started, "command": command.strip(), "quick": args.quick,
        "machine": common.machine_info(), "loadavg_start": common.loadavg(),
        "threads": common.thread_report(), "notes": notes, "sections": {},
    }
    report["machine"].update(common.framework_versions())
    m = report["machine"]
    header = [
        "# scratchnet benchmarks",
        "",
        f"- {started}, `{report['command']}`" + (" (quick: not for quoting)" if args.quick else ""),
        f"- machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}, NumPy {m['numpy']}, "
        f"numba {m['numba']}" + (f", torch {m['torch']}" if m.get("torch") else "")
        + (f", TensorFlow {m['tensorflow']}" if m.get("tensorflow") else "")
        + f"; scratchnet at {m['git']}",
        f"- load average at start (1, 5, 15 min): {report['loadavg_start']}",
        common.format_thread_report(report["threads"]),
        *(f"- note: {n}" for n in notes),
    ]
    print("\n".join(header), flush=True)
    markdown = ["\n".join(header)]
    for name in args.sections:
        load_before = common.loadavg()
        start = time.perf_counter()
        try:
            result, text = run_section(name, args)
        except Exception as exc:  # one broken section must not lose the others
            result, text = {"error": f"{type(exc).__name__}: {exc}"}, f"error: {exc}"
        result["loadavg_before"], result["loadavg_after"] = load_before, common.loadavg()
        result["section_s"] = time.perf_counter() - start
        report["sections"][name] = result
        block = (f"\n## {TITLES[name]}\n\n_load average {load_before[0]:.2f} -> "
                 f"{result['loadavg_after'][0]:.2f}; took {result['section_s']:.0f} s_\n\n{text}")
        print(block, flush=True)
        markdown.append(block)
        _write(args, report, markdown)  # after every section, so a stopped run keeps its part
    report["loadavg_end"] = common.loadavg()
    _write(args, report, markdown)
    print(f"\nload average at end: {report['loadavg_end']}; JSON: {args.json}; "
          f"Markdown: {args.markdown}")
    return report


if __name__ == "__main__":
    main()
