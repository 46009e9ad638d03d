"""What ``tune.py`` writes: the table of trials, the two figures and report.md.

The figures are drawn here from the trials' plain records (no ``pyplot``, so no global
backend or current figure is touched), and the parameter importances come from
Optuna's PED-ANOVA evaluator, which needs no other package.
"""

from __future__ import annotations

import numpy as np
import optuna
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from scratchnet.plotting import MODEL_COLORS
from scratchnet.report import markdown_table

#: PED-ANOVA compares the best 10 % of trials with all of them: with fewer completed trials
#: than this the "best 10 %" is one trial and the ranking says nothing.
MIN_TRIALS_FOR_IMPORTANCE = 5
STATE_STYLE = {"COMPLETE": (MODEL_COLORS[0], "o"), "PRUNED": ("0.55", "x"),
               "FAIL": (MODEL_COLORS[3], "v")}


def trials_table(trials) -> list[dict]:
    """One plain record per trial: number, state, validation accuracy, epochs, params."""
    rows = []
    for t in trials:
        last_epoch = max(t.intermediate_values, default=None)
        rows.append({
            "number": t.number, "state": t.state.name,
            "val_accuracy": t.value,
            # A pruned trial's last reported figure: where it stood when it was stopped.
            "last_val_accuracy": t.intermediate_values.get(last_epoch),
            "epochs": last_epoch, "worker": t.user_attrs.get("worker"),
            "seconds": t.user_attrs.get("seconds"),
            "diverged": bool(t.user_attrs.get("diverged")),
            "error": t.user_attrs.get("error"),
            **{k: t.params.get(k) for k in sorted(t.params)},
        })
    return rows


def history_figure(rows: list[dict]) -> Figure:
    """Validation accuracy of every trial in order, and the best so far.

    Completed trials at their best epoch; pruned ones at the figure they were stopped on.
    """
    fig = Figure(figsize=(8.5, 4.8), layout="constrained")
    ax = fig.add_subplot()
    for state, (color, marker) in STATE_STYLE.items():
        pts = [(r["number"], r["val_accuracy"] if state == "COMPLETE"
                else r["last_val_accuracy"]) for r in rows if r["state"] == state]
        pts = [(n, v) for n, v in pts if v is not None]
        if pts:
            n, v = zip(*pts, strict=True)
            label = {"COMPLETE": "complete", "PRUNED": "pruned (last reported epoch)",
                     "FAIL": "failed"}[state]
            ax.plot(n, v, marker, color=color, markersize=7, linestyle="none",
                    label=f"{label} ({len(pts)})", zorder=3, clip_on=False)
    done = [(r["number"], r["val_accuracy"]) for r in rows if r["state"] == "COMPLETE"]
    if done:
        n, v = zip(*sorted(done), strict=True)
        ax.step(n, np.maximum.accumulate(v), where="post", color=MODEL_COLORS[1],
                label="best so far")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    ax.set_xlabel("trial")
    ax.set_ylabel("validation accuracy")
    ax.set_title("Optimization history")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, borderaxespad=0.0)
    return fig


def importances(study) -> dict[str, float] | str:
    """PED-ANOVA importance of each parameter for validation accuracy, or why there is none."""
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) < MIN_TRIALS_FOR_IMPORTANCE:
        return (f"{len(complete)} completed trial(s): too few to rank the parameters\n"
                f"(at least {MIN_TRIALS_FOR_IMPORTANCE} needed)")
    # PED-ANOVA: which parameters set the top 10 % of trials apart. Unlike fANOVA and
    # mean decrease in impurity, it needs no scikit-learn.
    evaluator = optuna.importance.PedAnovaImportanceEvaluator()
    return optuna.importance.get_param_importances(study, evaluator=evaluator)


def importance_figure(study) -> Figure:
    """Horizontal bars: each parameter's importance for validation accuracy."""
    values = importances(study)
    fig = Figure(figsize=(7.5, 4.6), layout="constrained")
    ax = fig.add_subplot()
    n = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
    ax.set_title(f"Parameter importance for validation accuracy (PED-ANOVA, {n} trials)")
    if isinstance(values, str):
        ax.text(0.5, 0.5, values, ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    names = list(values)[::-1]
    ax.barh(names, [values[n] for n in names], color=MODEL_COLORS[0])
    for y, n in enumerate(names):
        ax.text(values[n], y, f" {values[n]:.2f}", va="center", fontsize=9)
    ax.set_xlim(0, max(values.values()) * 1.15 or 1)
    ax.set_xlabel("importance (normalised to sum to 1)")
    ax.grid(axis="x", alpha=0.3)
    return fig


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def markdown(results: dict) -> str:
    """The whole report.md."""
    run, study, best = results["run"], results["study"], results["best"]
    rows = results["trials"]
    cols = ["number", "state", "val_accuracy", "last_val_accuracy", "epochs", "seconds",
            *(k for k in (rows[0] if rows else {}) if k not in {
                "number", "state", "val_accuracy", "last_val_accuracy", "epochs", "seconds",
                "worker", "diverged", "error"}), "worker", "error"]
    table = markdown_table(cols, [[_fmt(r[c]) for c in cols] for r in rows],
                           "rlrrrr" + "l" * (len(cols) - 6))
    states = study["states"]
    span = study["trials_wall_time_s"]
    config = ", ".join(f"{k}={_fmt(v)}" for k, v in best["config"].items())
    quick = ["> **Quick smoke run** (`--quick`): a handful of tiny trials; the figures show "
             "that the pipeline works, not a tuned model.", ""] if run["quick"] else []
    return "\n".join([
        f"# Hyperparameter search on {run['dataset']}", "", *quick,
        f"The study `{run['study_name']}` holds {study['trials']} trials "
        f"({states['COMPLETE']} complete, {states['PRUNED']} pruned, {states['FAIL']} failed); "
        f"{study['trials_run_now']} ran in this session, on {run['scheduler']}, in "
        f"{study['search_wall_time_s']:.0f} s of wall time"
        + (f" ({span:.0f} s from the first trial's start to the last one's end, over "
           "every session)" if span is not None else "") + ". "
        f"Each trial trained for up to {run['trial_epochs']} epoch(s) on "
        + (f"the first {run['trial_samples']:,} images of" if run["trial_samples"] else "all of")
        + f" the training part of `{run['train_split']}` and was scored on its last 10 % "
        "(the validation part) after every epoch.", "",
        f"The best trial by validation accuracy, number {best['trial']} "
        f"({best['val_accuracy']:.2%}), has the configuration {config}. Retrained on the "
        f"whole training part for {run['final_epochs']} epoch(s) "
        f"({best['final_fit_time_s']:.0f} s; validation accuracy "
        f"{best['final_val_accuracy']:.2%} at its best, epoch {best['final_best_epoch']}, "
        "whose weights were kept), it scored "
        f"**{best['test_accuracy']:.2%}** on `{run['test_split']}`, evaluated once, after the "
        "choice was made.", "",
        "![optimization history](optimization_history.png)", "",
        "![parameter importances](param_importances.png)", "",
        "## All trials", "", table, "",
        "## How this was run", "",
        f"- Command: `{run['command']}`",
        f"- Storage: `{run['storage']}`; started {run['started']}, finished "
        f"{run['finished']} (UTC)",
        *(f"- {k}: {v}" for k, v in run["environment"].items()), ""])
