"""scratchnet's benchmarks, one entry point: prints Markdown tables and writes JSON.

    python benchmarks/run.py                      # everything (about 10-20 minutes)
    python benchmarks/run.py --quick              # smoke run: few repeats, small sizes
    python benchmarks/run.py --sections kernels,e2e --threads 2

Sections (``--sections``, comma-separated; default all):

- ``kernels``: every numba kernel against its NumPy reference at the seed shapes;
- ``jit``: each kernel's JIT compile time, cold (empty numba cache) and warm;
- ``e2e``: training / inference samples/s and peak memory of the seed CNN and LSTM,
  side by side with PyTorch when torch is installed;
- ``profile``: each layer's share of a training step beside its GEMMs alone
  (``bench_profile.py``);
- ``epochs``: training time per epoch against dataset size (linearity);
- ``batches``: samples/s and peak memory against batch size, 32 to 1024;
- ``startup``: ``import scratchnet`` time, time to the first trained batch (cold / warm);
- ``data``: loading EMNIST ByMerge's test split (``bench_data.py``; needs the data).

Threads are pinned before NumPy, numba or torch load: ``OMP_NUM_THREADS``,
``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` and ``NUMBA_NUM_THREADS`` all get
``--threads`` (default 2), torch gets the same through ``set_num_threads`` and
``set_num_interop_threads``, and child processes inherit it all. The counts actually in
use, numba's threading layer and ``OMP_WAIT_POLICY`` are printed and recorded. See
benchmarks/README.md for how to read each table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

SECTIONS = ("kernels", "jit", "e2e", "profile", "epochs", "batches", "startup", "data")
RESULTS = Path(__file__).resolve().parent / "results"

# Settings per section: (full run, --quick run).
SETTINGS = {
    "kernels": ({"repeats": 15, "min_run_time": 0.02}, {"repeats": 3, "min_run_time": 0.005}),
    "jit": ({"kernels": None}, {"kernels": ["adam_update", "lstm_forward_step"]}),
    "e2e": ({"repeats": 10, "train_steps": 10, "infer_steps": 4, "warmup": 2,
             "memory_repeats": 3},
            {"repeats": 3, "train_steps": 3, "infer_steps": 1, "warmup": 1,
             "memory_repeats": 1}),
    "profile": ({"repeats": 30}, {"repeats": 5}),
    "epochs": ({"sizes": (2048, 4096, 8192, 16384), "repeats": 3},
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
                   help="threads for every pool: numba, BLAS, OpenMP, torch (0: leave as is)")
    p.add_argument("--omp-wait-policy", choices=("passive", "active"), default=None,
                   help="set OMP_WAIT_POLICY (default: leave the environment's)")
    p.add_argument("--threading-layer", choices=("omp", "tbb", "workqueue"), default=None,
                   help="set NUMBA_THREADING_LAYER (default: numba's choice)")
    p.add_argument("--models", default="cnn,lstm", help="seed models for e2e/epochs/batches")
    p.add_argument("--batch-modes", default="train",
                   help="modes for the batch-size sweep: train, infer or train,infer")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    p.add_argument("--data", choices=("auto", "real", "random"), default="auto",
                   help="EMNIST ByMerge from SCRATCHNET_DATA, or random values (default: auto)")
    p.add_argument("--repeats", type=int, default=None,
                   help="override the timed-run count of kernels, e2e, epochs and batches")
    p.add_argument("--json", default=str(RESULTS / "latest.json"), help="JSON output path")
    p.add_argument("--markdown", default=str(RESULTS / "latest.md"),
                   help="Markdown output path (the printed tables)")
    args = p.parse_args(argv)
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(args.sections) - set(SECTIONS))
    if unknown:
        p.error(f"unknown sections {unknown}; choose from {', '.join(SECTIONS)}")
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    args.batch_modes = [m.strip() for m in args.batch_modes.split(",") if m.strip()]
    return args


def _settings(section: str, args) -> dict:
    s = dict(SETTINGS[section][1 if args.quick else 0])
    if args.repeats is not None and "repeats" in s:
        s["repeats"] = args.repeats
    return s


def run_section(name: str, args, torch_module) -> tuple[dict, str]:
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
    if name == "e2e":
        import bench_models
        result = bench_models.run(kinds=args.models, torch=torch_module is not None,
                                  source=args.data, **s)
        if torch_module is None and not args.no_torch:
            result["note"] = ("PyTorch comparison skipped: torch is not installed "
                              "(pip install torch==2.13.0)")
        return result, bench_models.to_markdown(result)
    if name == "profile":
        import bench_profile
        results = bench_profile.run(models=args.models, repeats=s["repeats"])
        return {"models": results}, "\n\n".join(bench_profile.table(r) for r in results)
    if name == "epochs":
        import bench_scaling
        result = bench_scaling.epochs(kinds=args.models, source=args.data, **s)
        return result, bench_scaling.epochs_to_markdown(result)
    if name == "batches":
        import bench_scaling
        result = bench_scaling.batches(kinds=args.models, modes=args.batch_modes,
                                       source=args.data, **s)
        return result, bench_scaling.batches_to_markdown(result)
    if name == "startup":
        import bench_startup
        result = bench_startup.run(import_repeats=s["import_repeats"], kinds=args.models)
        return result, bench_startup.to_markdown(result)
    if name == "data":
        import bench_data
        rows = bench_data.run(repeats=s["repeats"])
        return {"rows": rows}, bench_data.to_markdown(rows)
    raise ValueError(name)


TITLES = {
    "kernels": "Kernel micro-benchmarks (numba vs NumPy reference, per call)",
    "jit": "JIT compile time per kernel (fresh interpreter, tiny shapes)",
    "e2e": "End-to-end throughput and peak memory",
    "profile": "Where a training step's time goes (bench_profile.py)",
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
    # Pin threads before NumPy (imported by common's helpers and everything after).
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import common

    common.ensure_paths()
    wait_policy_before = os.environ.get("OMP_WAIT_POLICY")
    notes = common.pin_threads(args.threads, args.omp_wait_policy, args.threading_layer)
    # numba's threading layer must start before torch loads its own OpenMP runtime
    # (see common.start_numba_threads): otherwise numba's parallel kernels crawl.
    common.start_numba_threads()
    torch_module = None
    if "e2e" in args.sections and not args.no_torch:
        torch_module = common.pin_torch_threads(args.threads)
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    command = "python benchmarks/run.py " + " ".join(sys.argv[1:] if argv is None else argv)
    report = {
        "started": started, "command": command.strip(), "quick": args.quick,
        "machine": common.machine_info(), "loadavg_start": common.loadavg(),
        "threads": common.thread_report(torch_module), "notes": notes, "sections": {},
    }
    report["threads"]["omp_wait_policy_origin"] = (
        "--omp-wait-policy" if args.omp_wait_policy
        else "environment" if wait_policy_before is not None
        else "scratchnet's default, set on import" if os.environ.get("OMP_WAIT_POLICY")
        else "unset")
    if torch_module is not None:
        report["machine"]["torch"] = torch_module.__version__
    m = report["machine"]
    header = [
        "# scratchnet benchmarks",
        "",
        f"- {started}, `{report['command']}`" + (" (quick: not for quoting)" if args.quick else ""),
        f"- machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}, NumPy {m['numpy']}, "
        f"numba {m['numba']}" + (f", torch {m['torch']}" if "torch" in m else "")
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
            result, text = run_section(name, args, torch_module)
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
