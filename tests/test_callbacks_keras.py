"""The Keras 3 callbacks, each against sequences traced by hand from Keras 3.15's code:
EarlyStopping, ReduceLROnPlateau, LearningRateScheduler, CSVLogger, LambdaCallback,
TerminateOnNaN, and the hooks and logs fit gives them."""

import csv

import numpy as np
import pytest

from scratchnet import SGD, Adam, Input, Sequential
from scratchnet.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from scratchnet.layers import BatchNormalization, Dense
from scratchnet.optimizers import schedules

rng = np.random.default_rng(0)
X = rng.standard_normal((20, 4))
Y = rng.integers(0, 3, 20)


def model(lr=0.1, batchnorm=False):
    layers = [Input((4,)), Dense(5, activation="relu")]
    if batchnorm:
        layers.append(BatchNormalization())
    m = Sequential([*layers, Dense(3, activation="softmax")], seed=1, dtype="float64")
    m.compile(SGD(lr))
    return m


def drive(callback, values, monitor="val_loss", m=None):
    """Feed ``values`` of ``monitor`` to ``callback`` epoch by epoch, as fit would, until
    it stops training. Returns the model and the epochs run."""
    m = m or model()
    callback.set_model(m)
    m.stop_training = False
    callback.on_train_begin()
    ran = 0
    for epoch, value in enumerate(values):
        callback.on_epoch_end(epoch, {monitor: value})
        ran += 1
        if m.stop_training:
            break
    callback.on_train_end()
    return m, ran


# -- EarlyStopping -----------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, values, ran, stopped", [
    # best 0.9 at epoch 1; epochs 2 and 3 do not improve: wait 1, 2 = patience -> stop at 3
    ({"patience": 2}, [1.0, 0.9, 0.95, 0.92, 0.91], 4, 3),
    # 0.96 is not below 1.0 - 0.05: no improvement, wait 1 = patience -> stop at epoch 1
    ({"patience": 1, "min_delta": 0.05}, [1.0, 0.96, 0.9], 2, 1),
    ({"patience": 1, "min_delta": -0.05}, [1.0, 0.96, 0.9], 2, 1),  # its sign is ignored
    # 0.94 < 1.0 - 0.05 improves; 0.92 does not -> stop at 2
    ({"patience": 1, "min_delta": 0.05}, [1.0, 0.94, 0.92], 3, 2),
    # patience 0 stops at the first epoch that does not improve, never at epoch 0
    ({"patience": 0}, [1.0, 1.0], 2, 1),
    # a baseline never beaten: improvements do not reset the count, but (as Keras) an
    # improving epoch never stops training ...
    ({"patience": 2, "baseline": 0.5}, [1.0, 0.9, 0.8, 0.7, 0.6], 5, 0),
    # ... and the first bad epoch does, since the count started at the first epoch
    ({"patience": 2, "baseline": 0.5}, [1.0, 1.1, 1.2], 2, 1),
    # beating the baseline resets the count as usual
    ({"patience": 2, "baseline": 0.5}, [0.4, 0.45, 0.41, 0.42], 3, 2),
    # start_from_epoch: epochs 0 and 1 are not counted; the best is 3 (epoch 2)
    ({"patience": 1, "start_from_epoch": 2}, [5.0, 1.0, 3.0, 4.0, 6.0], 4, 3),
    ({"patience": 1}, [5.0, 1.0, 3.0, 4.0, 6.0], 3, 2),
])
def test_early_stopping_follows_keras_step_by_step(kwargs, values, ran, stopped):
    stopper = EarlyStopping(**kwargs)
    _, got = drive(stopper, values)
    assert (got, stopper.stopped_epoch) == (ran, stopped)


def test_early_stopping_modes():
    stopper = EarlyStopping(monitor="val_accuracy", patience=1)  # auto: an accuracy -> max
    _, ran = drive(stopper, [0.5, 0.6, 0.55], "val_accuracy")
    assert stopper.direction == "max" and ran == 3 and stopper.best == 0.6
    stopper = EarlyStopping(monitor="score", mode="max", patience=0)
    assert drive(stopper, [1.0, 2.0, 1.5], "score")[1] == 3
    with pytest.raises(ValueError, match="cannot tell whether 'score'.*mode='max'"):
        EarlyStopping(monitor="score").set_model(model())
    with pytest.raises(ValueError, match="mode must be 'auto', 'min' or 'max'"):
        EarlyStopping(mode="up")
    with pytest.raises(ValueError, match="patience must be an integer >= 0"):
        EarlyStopping(patience=-1)
    with pytest.raises(KeyError, match="'val_loss', which is not in the logs"):
        drive(EarlyStopping(), [1.0], monitor="loss")


def scripted(values, key="score"):
    """A callback that writes ``values[epoch]`` into the logs, before the others read them."""
    return LambdaCallback(on_epoch_end=lambda epoch, logs: logs.__setitem__(key, values[epoch]))


@pytest.mark.parametrize("values, epochs, best, ran", [
    ([0.1, 0.5, 0.3, 0.2, 0.9, 1.0], 6, 1, 4),  # stops at epoch 3, restores epoch 1
    ([0.1, 0.5, 0.3], 3, 1, 3),  # runs to the end, still restores the best (as Keras)
])
def test_restore_best_weights_restores_the_best_epoch_bit_for_bit(values, epochs, best, ran):
    m = model(batchnorm=True)  # BatchNorm: its moving statistics are restored too
    seen = []
    keep = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(m.get_weights()))
    stopper = EarlyStopping(monitor="score", mode="max", patience=2, restore_best_weights=True)
    history = m.fit(X, Y, batch_size=8, epochs=epochs, verbose=0,
                    callbacks=[scripted(values), keep, stopper])
    assert len(history.history["loss"]) == ran and stopper.best_epoch == best
    final = m.get_weights()
    assert len(final) == 8  # two Dense kernels and biases, gamma, beta, mean, variance
    for a, b in zip(final, seen[best], strict=True):
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(final, seen[-1], strict=True))


def test_an_early_stopping_instance_can_be_reused():
    stopper = EarlyStopping(monitor="score", mode="min", patience=0)
    m = model()
    m.fit(X, Y, epochs=5, verbose=0, callbacks=[scripted([1, 2, 3, 4, 5]), stopper])
    assert stopper.stopped_epoch == 1
    history = m.fit(X, Y, epochs=3, verbose=0, callbacks=[scripted([3, 2, 1]), stopper])
    assert len(history.history["loss"]) == 3 and stopper.stopped_epoch == 0


# -- ReduceLROnPlateau -------------------------------------------------------------------------
def test_reduce_lr_on_plateau_follows_keras_with_cooldown_and_min_lr():
    m = model(lr=0.1)
    reducer = ReduceLROnPlateau(patience=2, factor=0.5, cooldown=1, min_lr=0.02)
    reducer.set_model(m)
    reducer.on_train_begin()
    rates, logged = [], []
    for epoch in range(9):
        logs = {"val_loss": 1.0}  # a plateau from the first epoch
        reducer.on_epoch_end(epoch, logs)
        logged.append(logs["learning_rate"])
        rates.append(m.optimizer.learning_rate)
    # epoch 0 sets the best; bad epochs count 1, 2 -> halve (epoch 2), a cooldown epoch
    # counts 1 as it ends (epoch 3), 2 -> halve (4) ... down to min_lr (6); at min_lr
    # (0.02 > float32(0.02), as Keras compares) the rate stays.
    assert rates == [0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02, 0.02]
    assert logged == [0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02]  # before reducing


def test_reduce_lr_on_plateau_resets_on_improvement_by_min_delta():
    m = model(lr=0.1)
    reducer = ReduceLROnPlateau(monitor="val_accuracy", patience=2, min_delta=0.01)
    drive(reducer, [0.5, 0.52, 0.525, 0.54, 0.545, 0.548], "val_accuracy", m)
    # 0.52 and 0.54 improve by more than 0.01; 0.525 does not (count 1); 0.545 (1), 0.548 (2)
    assert m.optimizer.learning_rate == pytest.approx(0.01)
    assert reducer.direction == "max"


def test_reduce_lr_on_plateau_changes_the_rate_fit_trains_with():
    m = model(lr=0.1)
    history = m.fit(X, Y, epochs=4, verbose=0, callbacks=[
        scripted([1.0, 1.0, 1.0, 1.0]), ReduceLROnPlateau("score", mode="min", patience=1)])
    # each epoch logs the rate it ran with; from epoch 1 on, each ends by dividing it by 10
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.01, 0.001])
    assert m.optimizer.learning_rate == pytest.approx(1e-4)


@pytest.mark.parametrize("make", [
    lambda: ReduceLROnPlateau(monitor="loss"),
    lambda: LearningRateScheduler(lambda epoch, lr: lr),
])
@pytest.mark.parametrize("rate", [schedules.ExponentialDecay(0.1, 10, 0.5), lambda: 0.1])
def test_a_learning_rate_schedule_is_refused_before_training(make, rate):
    m = Sequential([Input((4,)), Dense(3, activation="softmax")])
    m.compile(SGD(rate))
    with pytest.raises(TypeError, match="is not settable.*compile with a float learning_rate"):
        m.fit(X, Y, verbose=0, callbacks=[make()])
    assert m.optimizer.iterations == 0


def test_reduce_lr_on_plateau_refuses_bad_arguments():
    with pytest.raises(ValueError, match="factor must be in \\(0, 1\\)"):
        ReduceLROnPlateau(factor=1.0)
    with pytest.raises(ValueError, match="min_lr must be a finite number >= 0.0"):
        ReduceLROnPlateau(min_lr=-1)
    with pytest.raises(ValueError, match="cooldown must be an integer >= 0"):
        ReduceLROnPlateau(cooldown=0.5)


# -- LearningRateScheduler ---------------------------------------------------------------------
def test_learning_rate_scheduler_sets_the_rate_of_each_epoch():
    m = model(lr=0.1)
    halve = LearningRateScheduler(lambda epoch, lr: lr if epoch == 0 else lr / 2)
    history = m.fit(X, Y, epochs=3, verbose=0, callbacks=[halve])
    assert history.history["learning_rate"] == [0.1, 0.05, 0.025]
    # Keras's older one-argument form
    m = model(lr=0.1)
    history = m.fit(X, Y, epochs=2, verbose=0,
                    callbacks=[LearningRateScheduler(lambda epoch: 0.2 / (epoch + 1))])
    assert history.history["learning_rate"] == [0.2, 0.1]


def test_the_scheduled_rate_is_the_one_the_steps_use():
    a, b = model(lr=0.1), model(lr=0.03)
    a.fit(X, Y, epochs=2, seed=4, verbose=0,
          callbacks=[LearningRateScheduler(lambda epoch, lr: 0.03)])
    b.fit(X, Y, epochs=2, seed=4, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)


@pytest.mark.parametrize("value", [0.0, -0.1, float("nan"), "0.1", None])
def test_a_schedule_that_returns_no_rate_is_refused(value):
    m = model()
    with pytest.raises(ValueError, match="must return the new learning rate"):
        m.fit(X, Y, verbose=0, callbacks=[LearningRateScheduler(lambda epoch, lr: value)])


# -- CSVLogger ---------------------------------------------------------------------------------
def read_rows(path, sep=","):
    with open(path, newline="") as f:
        return list(csv.reader(f, delimiter=sep))


def test_csv_logger_writes_keras_header_and_a_row_per_epoch(tmp_path):
    path = tmp_path / "log.csv"
    m = model()
    history = m.fit(X, Y, epochs=2, validation_split=0.25, verbose=0,
                    callbacks=[CSVLogger(path)]).history
    header, *rows = read_rows(path)
    assert header == ["epoch", *sorted(history)]
    assert [row[0] for row in rows] == ["0", "1"]
    for row in rows:
        for key, value in zip(header[1:], row[1:], strict=True):
            assert float(value) == history[key][int(row[0])]  # every digit kept
    # append keeps the rows and writes no second header
    m.fit(X, Y, epochs=1, validation_split=0.25, verbose=0,
          callbacks=[CSVLogger(path, append=True)])
    header2, *rows2 = read_rows(path)
    assert header2 == header and rows2[:2] == rows and len(rows2) == 3
    # without append the file starts afresh
    m.fit(X, Y, epochs=1, validation_split=0.25, verbose=0, callbacks=[CSVLogger(path)])
    assert len(read_rows(path)) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.csv"]  # no temporary left


def test_csv_logger_separator_new_file_in_append_mode_and_column_mismatch(tmp_path):
    path = tmp_path / "log.tsv"
    m = model()
    m.fit(X, Y, epochs=1, verbose=0, callbacks=[CSVLogger(path, separator="\t", append=True)])
    header, row = read_rows(path, "\t")
    assert header == ["epoch", "accuracy", "learning_rate", "loss", "time"] and row[0] == "0"
    with pytest.raises(ValueError, match="has the columns .* append to another file"):
        m.fit(X, Y, epochs=1, validation_split=0.25, verbose=0,
              callbacks=[CSVLogger(path, separator="\t", append=True)])
    assert len(read_rows(path, "\t")) == 2  # the file as it was
    with pytest.raises(ValueError, match="separator must be one character"):
        CSVLogger(path, separator=", ")


# -- LambdaCallback, TerminateOnNaN, and what fit hands the callbacks --------------------------
def test_lambda_callback_hooks_run_in_keras_order():
    calls = []
    cb = LambdaCallback(
        on_train_begin=lambda logs: calls.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: calls.append(f"epoch_begin {epoch}"),
        on_train_batch_begin=lambda batch, logs: calls.append(f"batch_begin {batch}"),
        on_batch_end=lambda batch, logs: calls.append(f"batch_end {batch}"),
        on_epoch_end=lambda epoch, logs: calls.append(f"epoch_end {epoch}"),
        on_train_end=lambda logs: calls.append("train_end"))
    model().fit(X, Y, batch_size=10, epochs=1, verbose=0, callbacks=[cb])
    assert calls == ["train_begin", "epoch_begin 0", "batch_begin 0", "batch_end 0",
                     "batch_begin 1", "batch_end 1", "epoch_end 0", "train_end"]
    with pytest.raises(TypeError, match="unknown hooks \\['on_epoch_ends'\\]"):
        LambdaCallback(on_epoch_ends=print)
    with pytest.raises(TypeError, match="on_epoch_end must be a function"):
        LambdaCallback(on_epoch_end=3)


def test_history_records_what_the_callbacks_add_and_params_are_keras():
    seen = {}

    class Probe(Callback):
        def on_train_begin(self, logs=None):
            seen.update(self.params)

        def on_epoch_end(self, epoch, logs=None):
            logs["extra"] = epoch * 2.0

    history = model().fit(X, Y, batch_size=8, epochs=2, verbose=0, callbacks=[Probe()])
    assert history.history["extra"] == [0.0, 2.0]
    assert seen == {"verbose": 0, "epochs": 2, "steps": 3}
    assert history.history["learning_rate"] == [0.1, 0.1]


def overflowing():
    m = Sequential([Input((4,)), Dense(3, activation="softmax")], seed=1, dtype="float32")
    m.compile(Adam(1e300))  # inf in float32: the first step makes the weights inf
    return m


def test_terminate_on_nan_stops_or_raises(capsys):
    m = overflowing()
    history = m.fit(X, Y, batch_size=4, epochs=3, verbose=0, callbacks=[TerminateOnNaN()])
    assert history.epoch == [] and m.stop_training and m.optimizer.iterations == 0
    assert "Batch 0: Invalid loss, terminating training" in capsys.readouterr().err
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 0"):
        overflowing().fit(X, Y, batch_size=4, epochs=3, verbose=0,
                          callbacks=[TerminateOnNaN(raise_error=True)])
