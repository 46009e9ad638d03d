"""Hyperparameter search for the CNN of the MLP-vs-CNN study, with Optuna, on Dask workers.

Each trial trains a CNN (two ``Conv2D`` blocks and a hidden ``Dense``, as
``scratchnet.seed_models.cnn_batchnorm``) with hyperparameters drawn by Optuna's TPE
sampler, on the training split minus its last 10 % (the validation part), and reports
its validation accuracy after every epoch; a trial below the median of earlier trials at
the same epoch is pruned (``MedianPruner``). The search space: learning rate, optimizer
(SGD with momentum 0.9, Adam, Adagrad, RMSprop), schedule (none, ExponentialDecay,
InverseTimeDecay, CosineDecay), the two dropout rates, L2 strength, batch size, the
convolutions' and the hidden Dense's widths, and BatchNormalization on or off (and its
momentum).

The best trial is chosen on validation accuracy alone. Its configuration is then
trained once more with the full recipe (``--final-epochs`` on the whole training split,
the same validation part held out) and scored once on the test split. Run::

    python examples/tune.py --quick                   # smoke run: local cluster, < 1 min
    python examples/tune.py --dataset emnist-bymerge \\
        --train-split 'test[:96323]' --test-split 'test[96323:]' \\
        --trials 40 --trial-samples 30000 --trial-epochs 4
    python examples/tune.py ... --resume              # continue an interrupted study
    python examples/tune.py ... --scheduler tcp://10.0.0.5:8786 \\
        --storage sqlite:////shared/nfs/studies.db    # trials on a Dask cluster

Where the trials run: without ``--scheduler``, on a ``dask.distributed.LocalCluster``
of one single-threaded worker process per core (``--workers``); with it, on the
workers of that Dask scheduler. Each trial opens the study in ``--storage`` (an Optuna
RDB URL; default: an SQLite file under ``results/``), so the workers must all reach it
(an SQLite file on a shared file system, or a PostgreSQL/MySQL server). The training
images are sent to the workers by the client, so they need scratchnet, optuna and
NumPy installed but no data folder.

Output, in ``--out`` (default ``results/tune-<dataset>-<UTC time>/``), written all or
nothing like compare.py's: ``report.md`` (the best configuration, its validation and test
accuracy, the study's size and wall time, and a table of all trials),
``trials.csv``, ``results.json``, ``optimization_history.png`` and
``param_importances.png``. The study itself stays in ``--storage``: ``--resume``
continues it up to ``--trials`` finished trials (complete or pruned) without repeating
any; trials that were running when it was interrupted are marked failed and run again.

Needs the ``[tune]`` extra: ``pip install "scratchnet[tune]"``. Exit status: 0 on
success; 1 if the data cannot be loaded, the scheduler cannot be reached or training
fails; 2 for bad arguments or an output folder that cannot be written.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shlex
import signal
import sys
import time
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path

try:
    import optuna
    from dask.distributed import Client, LocalCluster, as_completed, get_worker
except ImportError as exc:  # the [tune] extra is optional: say how to get it
    sys.exit(f"error: examples/tune.py needs {exc.name}, from scratchnet's [tune] extra: "
             'pip install "scratchnet[tune]" (or: pip install optuna dask distributed)')

import compare
from compare_report import _count
from tune_report import history_figure, importance_figure, trials_table

from scratchnet import Input, Sequential, layers
from scratchnet.blas import single_threaded
from scratchnet.callbacks import Callback, EarlyStopping, ReduceLROnPlateau
from scratchnet.data import get_spec, normalize
from scratchnet.data.errors import (
    ChecksumMismatchError,
    DatasetNotFoundError,
    IDXFormatError,
    SplitError,
    UnknownDatasetError,
)
from scratchnet.kernels.threads import serial_kernels
from scratchnet.optimizers import SGD, Adagrad, Adam, RMSprop
from scratchnet.optimizers.schedules import CosineDecay, ExponentialDecay, InverseTimeDecay
from scratchnet.parallel import set_workers, workers
from scratchnet.regularizers import L2
from scratchnet.report import OutputFolderError, environment, staged_folder

# --------------------------------------------------------------------------------------
# The search space and the study's defaults.
# --------------------------------------------------------------------------------------
OPTIMIZERS = {"sgd": lambda lr: SGD(lr, momentum=0.9), "adam": Adam, "adagrad": Adagrad,
              "rmsprop": RMSprop}
SCHEDULES = ("none", "exponential", "inverse_time", "cosine")
EXPONENTIAL_RATE_PER_EPOCH = 0.75   # ExponentialDecay: the rate after e epochs is 0.75**e
INVERSE_TIME_RATE_PER_EPOCH = 0.5   # InverseTimeDecay: lr / (1 + 0.5 e)
COSINE_FLOOR = 0.01  # CosineDecay ends at 1 % of the rate (scratchnet refuses a rate of 0)
BATCH_SIZES = (64, 128, 256)
DENSE_UNITS = (128, 256)
FILTERS = (32, 48, 64)  # the first Conv2D's filters; the second has twice as many
# BatchNormalization's momentum: Keras's 0.99, or 0.9 (PyTorch's 0.1). At 0.99 the moving
# statistics still hold a third of their initial values after 100 steps, so a short trial's
# validation (which uses them) scores BatchNorm far below what it reaches in a full run.
BN_MOMENTA = (0.99, 0.9)
VALIDATION_SPLIT = compare.VALIDATION_SPLIT  # the last 10 % of the training split

TRIALS = 30
PLATEAU_FACTOR = 0.3   # the retraining's ReduceLROnPlateau (configurations with no schedule)
PLATEAU_PATIENCE = 2
TRIAL_EPOCHS = 4
FINAL_EPOCHS = 10
STARTUP_TRIALS = 5   # TPE samples at random first; the pruner waits for as many trials
CONNECT_TIMEOUT = 10  # seconds to reach a --scheduler before giving up
QUICK = {"dataset": "emnist-sample", "trials": 4, "trial_samples": 1500, "trial_epochs": 1,
         "final_epochs": 1, "train_samples": 3000, "test_samples": 1000}
DEFAULT_OUT = compare.DEFAULT_OUT
DEFAULT_STORAGE = f"sqlite:///{DEFAULT_OUT / 'tune-studies.db'}"
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
#: The study's first trial is the MLP-vs-CNN study's fixed CNN+BN recipe (the smallest L2
#: stands for none), so the search starts from the known baseline rather than from chance.
BASELINE = {"optimizer": "adam", "learning_rate": 1e-3, "schedule": "none", "batch_size": 128,
            "batchnorm": True, "dropout_conv": 0.25, "dropout_dense": 0.5, "l2": 1e-7,
            "dense_units": 128, "filters": 32, "bn_momentum": 0.99}


def suggest(trial) -> dict:
    """Draw one configuration. The space is flat (every parameter in every trial), so the
    parameter importances compare all of them on every completed trial."""
    return {
        "optimizer": trial.suggest_categorical("optimizer", list(OPTIMIZERS)),
        "learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-1, log=True),
        "schedule": trial.suggest_categorical("schedule", list(SCHEDULES)),
        "batch_size": trial.suggest_categorical("batch_size", list(BATCH_SIZES)),
        "batchnorm": trial.suggest_categorical("batchnorm", [True, False]),
        "dropout_conv": trial.suggest_float("dropout_conv", 0.0, 0.5),
        "dropout_dense": trial.suggest_float("dropout_dense", 0.0, 0.6),
        "l2": trial.suggest_float("l2", 1e-7, 1e-3, log=True),
        "dense_units": trial.suggest_categorical("dense_units", list(DENSE_UNITS)),
        "filters": trial.suggest_categorical("filters", list(FILTERS)),
        "bn_momentum": trial.suggest_categorical("bn_momentum", list(BN_MOMENTA)),
    }


def learning_rate(config: dict, steps_per_epoch: int, epochs: int):
    """The configured schedule (or the plain rate), in optimizer steps."""
    lr, name = config["learning_rate"], config["schedule"]
    if name == "exponential":
        return ExponentialDecay(lr, steps_per_epoch, EXPONENTIAL_RATE_PER_EPOCH)
    if name == "inverse_time":
        return InverseTimeDecay(lr, steps_per_epoch, INVERSE_TIME_RATE_PER_EPOCH)
    if name == "cosine":
        return CosineDecay(lr, steps_per_epoch * epochs, alpha=COSINE_FLOOR)
    return lr


def build_model(config: dict, num_classes: int, steps_per_epoch: int, epochs: int,
                seed: int = 0) -> Sequential:
    """The CNN of ``config``, compiled: cnn_batchnorm's shape with the drawn settings."""
    bn = config["batchnorm"]

    def block(layer):
        # Before a BatchNormalization the bias is redundant (its beta takes that role).
        return [layer, layers.BatchNormalization(momentum=config["bn_momentum"])] if bn else [layer]

    reg = L2(config["l2"])
    stack = [Input((28, 28, 1))]
    for filters in (config["filters"], 2 * config["filters"]):
        stack += block(layers.Conv2D(filters, 3, use_bias=not bn, kernel_regularizer=reg))
        stack += [layers.Activation("relu"), layers.MaxPool2D()]
    stack += [layers.Dropout(config["dropout_conv"]), layers.Flatten()]
    stack += block(layers.Dense(config["dense_units"], use_bias=not bn, kernel_regularizer=reg))
    stack += [layers.Activation("relu"), layers.Dropout(config["dropout_dense"]),
              layers.Dense(num_classes, activation="softmax")]
    model = Sequential(stack, name="cnn_tuned", seed=seed)
    optimizer = OPTIMIZERS[config["optimizer"]](learning_rate(config, steps_per_epoch, epochs))
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return model


class PruneOnValidation(Callback):
    """Report each epoch's validation accuracy to the Optuna trial; stop a weak trial.

    Optuna's pruner decides (``trial.should_prune``); training then stops at the end of
    the epoch and the caller raises ``optuna.TrialPruned``.
    """

    def __init__(self, trial):
        self.trial = trial
        self.pruned_at = None

    def on_epoch_end(self, epoch, logs=None):
        self.trial.report(float(logs["val_accuracy"]), epoch + 1)
        if self.trial.should_prune():
            self.pruned_at = epoch + 1
            self.model.stop_training = True


def split_validation(x, y):
    """The training part and the validation part (the last 10 %), as ``fit`` splits."""
    n_fit = math.floor(len(x) * (1 - VALIDATION_SPLIT))
    return (x[:n_fit], y[:n_fit]), (x[n_fit:], y[n_fit:])


def train(config: dict, data, num_classes: int, epochs: int, seed: int, callbacks=(),
          samples: int | None = None, one_core: bool = True):
    """Train ``config`` on the training part (its first ``samples``); returns (model, history).

    ``one_core``, for trials: scratchnet's data parallelism and BLAS threads would otherwise
    compete with the other workers' trials on the same machine.
    """
    (x_fit, y_fit), val = split_validation(*data)
    if samples:
        x_fit, y_fit = x_fit[:samples], y_fit[:samples]
    steps = math.ceil(len(x_fit) / config["batch_size"])
    model = build_model(config, num_classes, steps, epochs, seed)
    with _one_core() if one_core else nullcontext():
        history = model.fit(normalize(x_fit, "conv2d"), y_fit, batch_size=config["batch_size"],
                            epochs=epochs, validation_data=(normalize(val[0], "conv2d"), val[1]),
                            seed=seed, verbose=0 if one_core else 1, callbacks=list(callbacks))
    return model, history


def final_callbacks(config: dict, epochs: int) -> list:
    """What the retraining of the best configuration adds to it; all of it decided on
    validation data only.

    - The weights of the epoch best on validation are the ones tested: a long retraining
      may go past its best.
    - A configuration without a schedule also gets ``ReduceLROnPlateau`` on the validation
      loss. A trial is a few epochs, too short for a constant rate to plateau, so the
      search does not see what a decay is worth; over the retraining's many epochs a
      constant rate stalls (the training loss stops falling) where a lower one would not.
    """
    callbacks = [EarlyStopping(monitor="val_accuracy", patience=epochs,
                               restore_best_weights=True)]
    if config["schedule"] == "none":
        callbacks.append(ReduceLROnPlateau(monitor="val_loss", factor=PLATEAU_FACTOR,
                                           patience=PLATEAU_PATIENCE,
                                           min_lr=config["learning_rate"] / 100))
    return callbacks


@contextmanager
def _one_core():
    """No data parallelism, one BLAS thread and serial numba kernels for the block
    (scratchnet's own settings): without the last, each worker's whole-batch kernels
    would wake numba's pool, two threads per worker on a core each worker already fills."""
    before = workers()
    set_workers(1)
    try:
        with single_threaded(), serial_kernels():
            yield
    finally:
        set_workers(before)


def run_trial(storage: str, study_name: str, data, num_classes: int, epochs: int,
              samples: int | None, seed: int, index: int) -> dict:
    """One trial of the study, run on a Dask worker: ask, train, tell (through the storage).

    ``index`` counts the trials this study has started: each one gets a sampler seeded
    with it, or every worker's sampler would draw the same random start-up configuration.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=study_name, storage=storage,
                              sampler=sampler(seed * 1_000_003 + index), pruner=pruner())
    trial = study.ask()
    try:
        worker = get_worker().address
    except ValueError:  # not on a Dask worker (called directly)
        worker = "local"
    trial.set_user_attr("worker", worker)
    config = suggest(trial)
    start = time.perf_counter()
    prune = PruneOnValidation(trial)
    try:
        _, history = train(config, data, num_classes, epochs, seed + trial.number, [prune],
                           samples)
    except FloatingPointError as exc:  # diverged: as weak as a trial gets
        trial.set_user_attr("diverged", str(exc)[:200])
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        return {"number": trial.number, "worker": worker, "state": "PRUNED"}
    except Exception as exc:
        # Recorded in the study (and the trials table) rather than ending the whole search.
        error = f"{type(exc).__name__}: {exc}"[:300]
        trial.set_user_attr("error", error)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        return {"number": trial.number, "worker": worker, "state": "FAIL", "error": error}
    trial.set_user_attr("seconds", time.perf_counter() - start)
    if prune.pruned_at is not None:
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        return {"number": trial.number, "worker": worker, "state": "PRUNED"}
    value = max(history.history["val_accuracy"])
    study.tell(trial, value)
    return {"number": trial.number, "worker": worker, "state": "COMPLETE", "value": value}


def sampler(seed: int):
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=STARTUP_TRIALS)


def pruner():
    return optuna.pruners.MedianPruner(n_startup_trials=STARTUP_TRIALS, n_warmup_steps=0)


# --------------------------------------------------------------------------------------
# The command line, the cluster and the study.
# --------------------------------------------------------------------------------------
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Search the CNN's hyperparameters with Optuna on Dask workers, then "
                    "retrain the best configuration and test it once.")
    parser.add_argument("--dataset", default=None,
                        help=f"default: mnist, or {QUICK['dataset']} (bundled) with --quick")
    compare.add_common_arguments(parser, "tune")
    parser.add_argument("--trials", type=_positive, default=None,
                        help=f"finished trials the study should hold (default {TRIALS})")
    parser.add_argument("--trial-epochs", type=_positive, default=None,
                        help=f"epochs per trial (default {TRIAL_EPOCHS})")
    parser.add_argument("--trial-samples", type=_positive, default=None,
                        help="train each trial on the first N images of the training part "
                             "(default: all of it)")
    parser.add_argument("--final-epochs", type=_positive, default=None,
                        help=f"epochs of the best configuration's retraining "
                             f"(default {FINAL_EPOCHS})")
    parser.add_argument("--timeout", type=_positive, default=None,
                        help="seconds after which no new trial starts (running ones finish; "
                             "--resume continues later)")
    parser.add_argument("--scheduler", default=None,
                        help="address of a Dask scheduler, e.g. tcp://10.0.0.5:8786 "
                             "(default: a local cluster)")
    parser.add_argument("--workers", type=_positive, default=None,
                        help="local cluster: worker processes (default: one per core)")
    parser.add_argument("--storage", default=DEFAULT_STORAGE,
                        help="Optuna RDB storage URL every worker reaches "
                             "(default: %(default)s)")
    parser.add_argument("--study-name", default=None,
                        help="default: tune-<dataset>[-quick]")
    parser.add_argument("--resume", action="store_true",
                        help="continue the study of that name in --storage")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: {QUICK['trials']} trials of {QUICK['trial_epochs']} "
                             f"epoch on {QUICK['trial_samples']} images, local cluster")
    args = parser.parse_args(argv)
    defaults = {"trials": TRIALS, "trial_epochs": TRIAL_EPOCHS, "final_epochs": FINAL_EPOCHS,
                "trial_samples": None, "dataset": "mnist"}
    for key, default in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, QUICK[key] if args.quick else default)
    args.default_dataset = False
    args.models = "cnn"  # compare._check_choices reads it; the splits are what it checks
    try:
        compare._check_choices(args)
    except (UnknownDatasetError, SplitError, ValueError) as exc:
        parser.error(str(exc))
    if args.study_name is None:
        args.study_name = f"tune-{args.dataset}{'-quick' if args.quick else ''}"
    if args.out is None:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        args.out = DEFAULT_OUT / f"tune-{args.dataset}-{stamp}{'-quick' if args.quick else ''}"
    return args


def _positive(text: str) -> int:
    return compare._positive(text)


class SchedulerUnreachable(ConnectionError):
    """The Dask scheduler given with --scheduler did not answer in time."""


def connect(args):
    """A Dask client: on ``--scheduler``, or on a new local cluster. Returns (client, cluster)."""
    if args.scheduler:
        try:
            return Client(args.scheduler, timeout=CONNECT_TIMEOUT), None
        except (OSError, TimeoutError) as exc:
            raise SchedulerUnreachable(
                f"cannot reach the Dask scheduler at {args.scheduler} within "
                f"{CONNECT_TIMEOUT} s ({exc}). Start one there with `dask scheduler` and "
                "workers with `dask worker tcp://HOST:8786`, or leave out --scheduler to run "
                "the trials on this machine.") from exc
    n = args.workers or max(1, len(_cores()))
    # silence_logs: the workers' start/stop chatter, and the nanny's warning when a
    # worker busy with numba takes more than a few seconds to exit, would bury the trials.
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=":0", silence_logs=logging.ERROR)
    return Client(cluster), cluster


def _cores():
    return os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count())


def open_study(args):
    """Create the study (or, with --resume, load it and fail its interrupted trials)."""
    storage = optuna.storages.RDBStorage(
        args.storage, engine_kwargs={"connect_args": {"timeout": 60}}
        if args.storage.startswith("sqlite") else {})
    exists = args.study_name in {s.study_name for s in optuna.get_all_study_summaries(storage)}
    if exists and not args.resume:
        raise FileExistsError(
            f"the study {args.study_name!r} already exists in {args.storage}: pass --resume "
            "to continue it, or --study-name for a new one")
    if args.resume and not exists:
        raise FileNotFoundError(
            f"no study {args.study_name!r} in {args.storage} to resume: leave out --resume "
            "to start it")
    study = optuna.create_study(study_name=args.study_name, storage=storage,
                                direction="maximize", sampler=sampler(args.seed),
                                pruner=pruner(), load_if_exists=True)
    if not exists:
        study.enqueue_trial(BASELINE)
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        # Left running by an interrupted run: no one will finish it, so it is run again.
        storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)
    return study


def load_data(args):
    x_train, y_train, x_test, y_test = compare.load_data(argparse.Namespace(
        **{**vars(args), "quick": False}))
    if args.quick:
        x_train, y_train = x_train[:QUICK["train_samples"]], y_train[:QUICK["train_samples"]]
        x_test, y_test = x_test[:QUICK["test_samples"]], y_test[:QUICK["test_samples"]]
    return x_train, y_train, x_test, y_test


def missing(args, study) -> int:
    """How many more finished (complete or pruned) trials the study needs."""
    return max(0, args.trials - len(study.get_trials(deepcopy=False, states=FINISHED)))


def _wait_until_claimed(study, future, poll: float = 0.05) -> None:
    """Return once no enqueued trial waits (the first task has taken the baseline), or the
    task has ended. Two workers asking at once could both take the one waiting trial:
    SQLite does not lock the row between reading it and marking it running."""
    waiting = (optuna.trial.TrialState.WAITING,)
    while study.get_trials(deepcopy=False, states=waiting) and not future.done():
        time.sleep(poll)


def search(args, client, study, data, num_classes) -> list[dict]:
    """Run the trials still missing on the cluster's workers; returns what each reported."""
    done = len(study.get_trials(deepcopy=False, states=FINISHED))
    todo = missing(args, study)
    print(f"study {args.study_name!r} in {args.storage}: {done} finished trial(s), "
          f"running {todo} more on {len(client.scheduler_info()['workers'])} worker(s)",
          flush=True)
    if not todo:
        return []
    remote = client.scatter(data, broadcast=True)

    started = len(study.get_trials(deepcopy=False))  # failed ones too: fresh seeds on resume

    def submit():
        nonlocal started
        started += 1
        return client.submit(run_trial, args.storage, args.study_name, remote, num_classes,
                             args.trial_epochs, args.trial_samples, args.seed, started - 1,
                             pure=False)

    # As many trials in flight as there are workers, one more each time one ends: a trial
    # asks the study for its parameters when it starts, so TPE sees every finished trial,
    # and at --timeout no queued trial is left to cancel.
    deadline = time.monotonic() + args.timeout if args.timeout else math.inf
    slots = max(1, len(client.scheduler_info()["workers"]))
    first = [submit()]
    _wait_until_claimed(study, first[0])
    pending = as_completed(first + [submit() for _ in range(min(slots, todo) - 1)])
    submitted, reports = min(slots, todo), []
    for future in pending:
        r = future.result()
        reports.append(r)
        value = f" val_accuracy {r['value']:.4f}" if "value" in r else f" {r.get('error', '')}"
        print(f"trial {r['number']}: {r['state']}{value} on {r['worker']}", flush=True)
        if submitted < todo and time.monotonic() < deadline:
            pending.add(submit())
            submitted += 1
    if submitted < todo:
        print(f"--timeout reached: {todo - submitted} trial(s) not started; --resume runs them",
              flush=True)
    return reports


def tune(args, command: str, folder: Path) -> dict:
    """Search, retrain the best configuration, test it once, write the report."""
    started = datetime.now(UTC)
    env = environment(Path(__file__))
    spec = get_spec(args.dataset)
    study = open_study(args)  # first: an existing study without --resume costs no work
    x_train, y_train, x_test, y_test = load_data(args)
    print(f"{args.dataset}: {len(x_train):,} training images ({args.train_split}), "
          f"{len(x_test):,} test images ({args.test_split}), {spec.num_classes} classes",
          flush=True)
    t0 = time.perf_counter()
    reports = []
    if missing(args, study):  # no cluster needed when a resumed study is already complete
        client, cluster = connect(args)
        try:
            reports = search(args, client, study, (x_train, y_train), spec.num_classes)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    search_time = time.perf_counter() - t0
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise RuntimeError(f"no trial of {args.study_name!r} completed: nothing to retrain")
    best = study.best_trial  # by validation accuracy only
    config = suggest(optuna.trial.FixedTrial(best.params))
    print(f"\nbest: trial {best.number}, validation accuracy {best.value:.4f}: {config}\n"
          f"retraining it for {_count(args.final_epochs, 'epoch')} on the whole training part",
          flush=True)
    t0 = time.perf_counter()
    model, history = train(config, (x_train, y_train), spec.num_classes, args.final_epochs,
                           args.seed, callbacks=final_callbacks(config, args.final_epochs),
                           one_core=False)
    best_epoch = int(max(range(len(history.history["val_accuracy"])),
                         key=history.history["val_accuracy"].__getitem__)) + 1
    final_time = time.perf_counter() - t0
    _, test_accuracy = model.evaluate(normalize(x_test, "conv2d"), y_test, batch_size=1024)
    rows = trials_table(trials)
    results = {
        "run": {"command": command, "dataset": args.dataset, "train_split": args.train_split,
                "test_split": args.test_split, "quick": args.quick,
                "study_name": args.study_name, "storage": args.storage,
                "scheduler": args.scheduler or "local cluster",
                "trials_requested": args.trials, "trial_epochs": args.trial_epochs,
                "trial_samples": args.trial_samples, "final_epochs": args.final_epochs,
                "seed": args.seed, "started": started.isoformat(timespec="seconds"),
                "finished": datetime.now(UTC).isoformat(timespec="seconds"),
                "environment": env},
        "study": {"trials": len(trials),
                  "states": {s: sum(r["state"] == s for r in rows)
                             for s in ("COMPLETE", "PRUNED", "FAIL", "RUNNING")},
                  "trials_run_now": len(reports), "search_wall_time_s": search_time,
                  "trials_wall_time_s": _study_span(trials)},
        "best": {"trial": best.number, "config": config, "val_accuracy": best.value,
                 "final_val_accuracy": max(history.history["val_accuracy"]),
                 "final_best_epoch": best_epoch,
                 "final_fit_time_s": final_time, "test_accuracy": float(test_accuracy),
                 "final_history": history.history},
        "trials": rows,
    }
    write_report(folder, results, study)
    return results


def _study_span(trials) -> float | None:
    """Seconds from the first trial's start to the last one's end, over every session."""
    starts = [t.datetime_start for t in trials if t.datetime_start]
    ends = [t.datetime_complete for t in trials if t.datetime_complete]
    return (max(ends) - min(starts)).total_seconds() if starts and ends else None


def write_report(folder: Path, results: dict, study) -> None:
    from tune_report import markdown

    from scratchnet.plotting import save_figure
    figures = {"optimization_history.png": history_figure(results["trials"]),
               "param_importances.png": importance_figure(study)}
    for name, fig in figures.items():
        save_figure(fig, folder / name)
    header = list(results["trials"][0]) if results["trials"] else []
    lines = [",".join(header)] + [",".join(_csv(r[k]) for k in header)
                                 for r in results["trials"]]
    (folder / "trials.csv").write_text("\n".join(lines) + "\n")
    (folder / "results.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    (folder / "report.md").write_text(markdown(results))


def _csv(value) -> str:
    text = "" if value is None else str(value)
    return f'"{text}"' if "," in text else text


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # tune.py prints each trial itself
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    command = shlex.join(["python", sys.argv[0] or "examples/tune.py", *argv])
    try:
        with staged_folder(args.out) as folder:
            results = tune(args, command, folder)
    except (OutputFolderError, FileExistsError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (SchedulerUnreachable, DatasetNotFoundError, ChecksumMismatchError, IDXFormatError,
            SplitError, FloatingPointError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        print(f"(nothing was written to {args.out})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\ninterrupted; nothing was written to {args.out}; the finished trials are "
              f"kept in {args.storage}: continue with --resume", file=sys.stderr)
        return 130
    b, s = results["best"], results["study"]
    print(f"\nstudy: {s['trials']} trials ({s['states']['COMPLETE']} complete, "
          f"{s['states']['PRUNED']} pruned), search wall time {s['search_wall_time_s']:.0f} s")
    print(f"best configuration (trial {b['trial']}, validation accuracy "
          f"{b['val_accuracy']:.2%}): {b['config']}")
    print(f"retrained for {_count(results['run']['final_epochs'], 'epoch')} in "
          f"{b['final_fit_time_s']:.0f} s: test accuracy {b['test_accuracy']:.2%}")
    print(f"\nreport: {args.out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
