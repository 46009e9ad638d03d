"""examples/tune.py: an Optuna study whose trials run on a real Dask LocalCluster.

The cluster is a real ``dask.distributed.LocalCluster`` on 127.0.0.1 with two worker
processes of one thread each (never a mock); the trials are tiny (a few hundred bundled
EMNIST images, one epoch). Needs the ``[tune]`` extra; skipped, saying so, without it.
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import sys
import time

import pytest

pytest.importorskip("optuna", reason="needs the [tune] extra (optuna, dask, distributed)")
distributed = pytest.importorskip("distributed", reason="needs the [tune] extra")

import optuna  # noqa: E402
from test_compare import staging_leftovers  # noqa: E402
from test_rnn_family import ROOT, check_png  # noqa: E402

from scratchnet.data import load  # noqa: E402

TRAIN = 400  # bundled emnist-sample images the trials see (360 train, 40 validation)


@pytest.fixture(scope="module")
def tune():
    """examples/tune.py as a module; examples/ stays on sys.path while the module's tests
    run, so that the cluster's worker processes, which start with this path, import it
    too (run as a script, its functions travel to the workers by value instead)."""
    sys.path.insert(0, str(ROOT / "examples"))
    import tune as module

    yield module
    sys.path.remove(str(ROOT / "examples"))


@pytest.fixture(scope="module")
def cluster(tune):
    """Two single-threaded worker processes on 127.0.0.1, shut down at the end."""
    # distributed logs every worker start and stop at INFO, and warns when a closing
    # worker's connection drops: quiet here, in the test, not in the package.
    loggers = [logging.getLogger(n) for n in ("distributed", "tornado")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    local = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     host="127.0.0.1", dashboard_address=":0",
                                     silence_logs=logging.ERROR)
    client = distributed.Client(local)
    try:
        yield client, local
    finally:
        client.close()
        local.close()
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


@pytest.fixture(scope="module")
def data():
    x, y = load("emnist-sample", "train")
    return x[:TRAIN], y[:TRAIN]


def study_args(tmp_path, trials, resume=False):
    return argparse.Namespace(storage=f"sqlite:///{tmp_path / 'study.db'}", study_name="t",
                              resume=resume, seed=0, trials=trials, trial_epochs=1,
                              trial_samples=200, timeout=None)


def test_trials_run_on_the_cluster_workers_and_land_in_the_storage(tune, cluster, data,
                                                                    tmp_path):
    client, local = cluster
    args = study_args(tmp_path, trials=3)
    reports = tune.search(args, client, tune.open_study(args), data, 47)
    assert len(reports) == 3
    worker_addresses = set(client.scheduler_info()["workers"])
    assert {r["worker"] for r in reports} <= worker_addresses
    # What the workers told the storage, read back by a fresh handle on the same file.
    stored = optuna.load_study(study_name="t", storage=args.storage).get_trials()
    assert sorted(t.number for t in stored) == [0, 1, 2]
    assert all(t.state in tune.FINISHED for t in stored)
    assert {t.user_attrs["worker"] for t in stored} <= worker_addresses
    complete = [t for t in stored if t.state == optuna.trial.TrialState.COMPLETE]
    assert complete and all(0 <= t.value <= 1 for t in complete)
    assert all(t.intermediate_values for t in stored)  # each epoch reported to the pruner
    assert {t.params["optimizer"] for t in stored} <= set(tune.OPTIMIZERS)
    # The first trial is the study's fixed CNN+BN recipe, the baseline the search improves on.
    assert min(stored, key=lambda t: t.number).params == tune.BASELINE
    # Each worker opens its own sampler: they must not all draw the same configuration.
    assert len({tuple(sorted(t.params.items())) for t in stored}) == 3


def test_resume_runs_only_the_missing_trials_and_reruns_an_interrupted_one(tune, cluster,
                                                                            data, tmp_path):
    client, _ = cluster
    first = study_args(tmp_path, trials=2)
    tune.search(first, client, tune.open_study(first), data, 47)
    # An interrupted run leaves a trial RUNNING that nobody will finish.
    optuna.load_study(study_name="t", storage=first.storage).ask()
    with pytest.raises(FileExistsError, match="--resume"):
        tune.open_study(first)
    again = study_args(tmp_path, trials=3, resume=True)
    reports = tune.search(again, client, tune.open_study(again), data, 47)
    assert len(reports) == 1  # 2 finished + 1 = 3: the finished ones are not repeated
    trials = optuna.load_study(study_name="t", storage=first.storage).get_trials()
    states = [t.state.name for t in trials]
    assert states.count("FAIL") == 1 and trials[2].state.name == "FAIL"  # the stale one
    assert sum(s in ("COMPLETE", "PRUNED") for s in states) == 3
    assert tune.search(again, client, tune.open_study(again), data, 47) == []  # done


def test_the_retraining_keeps_its_best_epoch_and_decays_a_constant_rate(tune):
    from scratchnet.callbacks import EarlyStopping, ReduceLROnPlateau

    constant = tune.final_callbacks(tune.BASELINE, 15)
    assert [type(c) for c in constant] == [EarlyStopping, ReduceLROnPlateau]
    assert constant[0].restore_best_weights and constant[0].patience == 15  # never stops
    assert constant[1].monitor == "val_loss"  # validation data only
    scheduled = tune.final_callbacks({**tune.BASELINE, "schedule": "cosine"}, 15)
    assert [type(c) for c in scheduled] == [EarlyStopping]  # the schedule is the decay


def test_resume_without_a_study_says_so(tune, tmp_path):
    with pytest.raises(FileNotFoundError, match="leave out --resume"):
        tune.open_study(study_args(tmp_path, trials=1, resume=True))


def test_whole_run_writes_the_report_with_the_best_config_tested_once(tune, cluster,
                                                                      monkeypatch, tmp_path,
                                                                      capsys):
    client, _ = cluster
    monkeypatch.setitem(tune.QUICK, "train_samples", TRAIN)
    monkeypatch.setitem(tune.QUICK, "test_samples", 200)
    # The fixture's cluster, not a new one per test (a real one all the same).
    monkeypatch.setattr(tune, "connect", lambda args: (_Borrowed(client), None))
    out = tmp_path / "out"
    assert tune.main(["--quick", "--trials", "2", "--trial-samples", "200", "--out", str(out),
                      "--final-epochs", "2",
                      "--storage", f"sqlite:///{tmp_path / 'whole.db'}"]) == 0
    stdout = capsys.readouterr().out
    files = {p.name for p in out.iterdir()}
    assert files == {"report.md", "results.json", "trials.csv", "optimization_history.png",
                     "param_importances.png"}
    assert not staging_leftovers(tmp_path)
    results = json.loads((out / "results.json").read_text())
    best = results["best"]
    finished = [r for r in results["trials"] if r["state"] == "COMPLETE"]
    assert best["val_accuracy"] == max(r["val_accuracy"] for r in finished)
    assert 0 <= best["test_accuracy"] <= 1
    # The retraining keeps its best epoch on validation, and says which.
    val = best["final_history"]["val_accuracy"]
    assert len(val) == 2 and best["final_val_accuracy"] == max(val)
    assert val[best["final_best_epoch"] - 1] == max(val)
    assert f"test accuracy {best['test_accuracy']:.2%}" in stdout
    report = (out / "report.md").read_text()
    assert f"**{best['test_accuracy']:.2%}**" in report and "## All trials" in report
    assert len((out / "trials.csv").read_text().splitlines()) == 1 + len(results["trials"])
    check_png(out / "optimization_history.png")


class _Borrowed:
    """The fixture's client, which tune.tune must not close (the fixture does)."""

    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        return getattr(self._client, name)

    def close(self):
        pass


def test_an_unreachable_scheduler_is_a_clear_error_within_30_s(tune):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = argparse.Namespace(scheduler=f"tcp://127.0.0.1:{port}", workers=None)
    start = time.monotonic()
    with pytest.raises(tune.SchedulerUnreachable) as info:
        tune.connect(args)
    assert time.monotonic() - start < 30
    message = str(info.value)
    assert f"tcp://127.0.0.1:{port}" in message and "dask scheduler" in message
    assert "leave out --scheduler" in message
