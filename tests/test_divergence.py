"""A non-finite step leaves the weights and optimizer of the last finite step;
TerminateOnNaN stops instead of raising; divergence warns (issue 15, item 3)."""

import warnings

import numpy as np
import pytest
from helpers import mini_cnn

from scratchnet import Adam
from scratchnet.callbacks import Callback, TerminateOnNaN
from scratchnet.guard import DivergenceWarning


def data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 12, 12, 1)).astype(np.float32), rng.integers(0, 5, n)


class Blowup(Callback):
    """After ``at`` batches, record the weights and optimizer, then set a rate that overflows."""

    def __init__(self, at):
        self.at, self.done, self.kept = at, 0, None

    def on_batch_end(self, batch, logs=None):
        self.done += 1
        if self.done == self.at:
            opt = self.model.optimizer
            self.kept = ([p.copy() for p in self.model.parameters],
                         {k: v.copy() for k, v in opt.state_arrays().items()}, opt.iterations)
            opt.learning_rate = 1e300  # float32 weights overflow to inf at the next step


def assert_kept(model, kept):
    params, slots, iterations = kept
    for a, b in zip(params, model.parameters, strict=True):
        np.testing.assert_array_equal(a, b)
    live = model.optimizer.state_arrays()
    assert live.keys() == slots.keys() and model.optimizer.iterations == iterations
    for key, value in slots.items():
        np.testing.assert_array_equal(value, live[key])


def test_floating_point_error_leaves_the_last_finite_step():
    x, y = data()
    model = mini_cnn("float32")
    model.compile(Adam())
    blowup = Blowup(5)
    with pytest.raises(FloatingPointError, match=r"weights became NaN or inf at epoch 2, "
                                                 r"batch 2 of 4.*last finite step"):
        model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[blowup])
    assert_kept(model, blowup.kept)
    assert all(np.isfinite(p).all() for p in model.parameters)


def test_nan_loss_raises_with_the_weights_before_it(monkeypatch):
    x, y = data()
    model = mini_cnn("float32")
    model.compile("adam")
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    kept = ([p.copy() for p in model.parameters],
            {k: v.copy() for k, v in model.optimizer.state_arrays().items()},
            model.optimizer.iterations)
    class NanLoss:
        """The model's loss, reporting NaN: everything else is the loss's own."""

        def __init__(self, loss):
            self.loss = loss

        def __call__(self, z, t, **kw):
            return np.nan, self.loss(z, t, **kw)[1]

        def __getattr__(self, name):
            return getattr(self.loss, name)

    monkeypatch.setattr(model, "loss", NanLoss(model.loss))
    with pytest.raises(FloatingPointError, match="loss became nan at epoch 1, batch 1 of 4"):
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert_kept(model, kept)


def test_terminate_on_nan_stops_without_raising(capsys):
    x, y = data()
    model = mini_cnn("float32")
    model.compile("adam")
    blowup = Blowup(3)
    history = model.fit(x, y, batch_size=16, epochs=5, verbose=0,
                        callbacks=[blowup, TerminateOnNaN()])
    assert model.stop_training and history.epoch == []  # stopped inside the first epoch
    assert "Invalid loss, terminating training" in capsys.readouterr().err
    assert_kept(model, blowup.kept)


def test_the_first_step_failing_leaves_no_optimizer_slots():
    x, y = data()
    model = mini_cnn("float32")
    model.compile(Adam(learning_rate=1e300))
    with pytest.raises(FloatingPointError, match="batch 1 of"):
        model.fit(x, y, batch_size=16, verbose=0)
    assert model.optimizer.iterations == 0 and model.optimizer.state_arrays() == {}


def test_a_diverging_run_warns_once():
    x, y = data(256)
    model = mini_cnn("float32")
    model.compile(Adam(learning_rate=1e3))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.fit(x, y, batch_size=16, epochs=2, verbose=0)
        except FloatingPointError:
            pass  # may go non-finite too; the warning must have come first
    diverging = [w for w in caught if issubclass(w.category, DivergenceWarning)]
    assert len(diverging) == 1 and "lower the learning rate" in str(diverging[0].message)


def test_a_well_behaved_run_does_not_warn():
    x, y = data(256)
    model = mini_cnn("float32")
    model.compile("adam")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)
        model.fit(x, y, batch_size=16, epochs=2, verbose=0)


def test_numpy_scalars_and_a_later_learning_rate_are_checked():
    x, y = data()
    model = mini_cnn("float32")
    model.compile(Adam(np.float32(1e-3), beta_1=np.float64(0.9)))
    model.fit(x, y, batch_size=16, verbose=0)
    model.optimizer.learning_rate = -0.1
    before = [p.copy() for p in model.parameters]
    with pytest.raises(ValueError, match="learning_rate must be a positive finite number"):
        model.fit(x, y, batch_size=16, verbose=0)
    for a, b in zip(before, model.parameters, strict=True):
        np.testing.assert_array_equal(a, b)
