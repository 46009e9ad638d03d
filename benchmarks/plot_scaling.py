"""PNG plots of the scaling sections (``bench_scaling``): they read the results only.

- ``epochs.png``: training time of one epoch against the number of samples, per seed
  model, with the least-squares line ``t = a + b n`` (a straight line through the origin
  is linear scaling);
- ``batches.png``: training time for 10,000 samples (left) and peak memory above the
  loaded data and model (right) against the batch size, per seed model.

matplotlib's object API with the Agg canvas, so no window and no global pyplot state.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

COLORS = {"cnn": "tab:blue", "lstm": "tab:orange"}


def _save(fig: Figure, path: str | Path) -> str:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    FigureCanvasAgg(fig)
    fig.savefig(tmp, dpi=110)
    tmp.replace(path)  # atomic: a reader never sees half a PNG
    return str(path)


def epochs_png(result: dict, path: str | Path, note: str = "") -> str:
    """Epoch time against dataset size; returns the path written."""
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.add_subplot()
    for m in result["models"]:
        ns = [r["samples"] for r in m["rows"]]
        ts = [r["median_s"] for r in m["rows"]]
        color = COLORS.get(m["kind"])
        ax.plot(ns, ts, "o", color=color,
                label=f"{m['kind'].upper()} ({1e6 * m['fit']['slope']:.0f} µs/sample)"
                if m["fit"]["slope"] is not None else m["kind"].upper())
        for r in m["rows"]:
            ax.vlines(r["samples"], r["min_s"], r["max_s"], color=color, alpha=0.5)
        fit = m["fit"]
        if fit["slope"] is not None:
            xs = [0, max(ns)]
            ax.plot(xs, [fit["intercept"] + fit["slope"] * x for x in xs], "-", color=color,
                    alpha=0.6)
    ax.set_xlabel("training samples (one epoch, batch 128)")
    ax.set_ylabel("seconds (median; bars: min-max)")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("scratchnet: epoch time against dataset size" + (f"\n{note}" if note else ""),
                 fontsize=10)
    return _save(fig, path)


def batches_png(result: dict, path: str | Path, note: str = "") -> str:
    """Training time per 10,000 samples and peak memory against batch size; returns the
    path written."""
    fig = Figure(figsize=(9.6, 4.0), layout="constrained")
    speed, memory = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for m in result["models"]:
        bs = [r["batch"] for r in m["rows"]]
        color = COLORS.get(m["kind"])
        label = f"{m['kind'].upper()} {m['mode']}"
        speed.plot(bs, [1e4 / r["samples_per_s"] for r in m["rows"]], "o-", color=color,
                   label=label)
        memory.plot(bs, [r["memory"]["peak_above_before_mb"] for r in m["rows"]], "o-",
                    color=color, label=label)
    batches = [r["batch"] for r in result["models"][0]["rows"]] if result["models"] else []
    # Time on a log axis (the batch doubles), memory on a linear one, where memory that
    # grows linearly with the batch is a straight line.
    speed.set_xscale("log", base=2)
    speed.set_xticks(batches)
    speed.get_xaxis().set_major_formatter("{x:.0f}")
    memory.set_xticks([b for b in batches if b >= 128 or b == batches[0]])
    for ax, ylabel in ((speed, "seconds per 10,000 samples (median)"),
                       (memory, "peak MB above loaded data and model")):
        ax.set_xlabel("batch size")
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("scratchnet: training against batch size" + (f" ({note})" if note else ""),
                 fontsize=10)
    return _save(fig, path)


def main(argv=None) -> None:
    """Redraw both plots from a run.py JSON: ``python plot_scaling.py RESULT.json [DIR]``."""
    import argparse
    import json

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("json", help="a JSON written by run.py with the epochs/batches sections")
    p.add_argument("folder", nargs="?", default=str(Path(__file__).resolve().parent / "plots"))
    args = p.parse_args(argv)
    report = json.loads(Path(args.json).read_text())
    note = f"{report['started'][:16]} UTC, load {report['loadavg_start'][:1]}"
    sections = report["sections"]
    if "epochs" in sections and "models" in sections["epochs"]:
        print(epochs_png(sections["epochs"], Path(args.folder) / "epochs.png", note))
    if "batches" in sections and "models" in sections["batches"]:
        print(batches_png(sections["batches"], Path(args.folder) / "batches.png", note))


if __name__ == "__main__":
    main()
