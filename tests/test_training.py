"""fit / evaluate / predict: determinism, dtypes, Keras semantics, callbacks and bad input."""

import numpy as np
import pytest
from helpers import mini_cnn, mini_lstm

from scratchnet import Callback, EarlyStopping, Input, Sequential
from scratchnet.layers import Dense


def toy_data(model, n=64, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *model.input_shape)).astype(dtype)
    y = (x.reshape(n, -1).sum(axis=1) > 0).astype(np.int64) + 2 * (x.reshape(n, -1)[:, 0] > 0)
    return x, y


def train(make, seed, dtype="float32", epochs=2):
    model = make(dtype)
    model.seed = seed
    model.compile("adam")
    x, y = toy_data(model, dtype=np.dtype(dtype))
    model.fit(x, y, batch_size=16, epochs=epochs, validation_split=0.25, verbose=0)
    return model


@pytest.mark.parametrize("make", [mini_cnn, mini_lstm])
def test_same_seed_gives_bit_identical_weights(make):
    a, b, c = train(make, 7), train(make, 7), train(make, 8)
    for pa, pb in zip(a.parameters, b.parameters, strict=True):
        np.testing.assert_array_equal(pa, pb)
    assert any(not np.array_equal(pa, pc) for pa, pc in zip(a.parameters, c.parameters,
                                                            strict=True))


@pytest.mark.parametrize("make", [mini_cnn, mini_lstm])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_flows_through_activations_gradients_and_parameters(make, dtype):
    model = train(make, 0, np.dtype(dtype).name, epochs=1)
    x, y = toy_data(model, 8, dtype=dtype)
    assert model.predict(x).dtype == dtype
    h = x
    for layer in model.layers:
        h = layer(h, training=True)
        assert h.dtype == dtype, layer
    model.compute_gradients(x, y)
    for array in (*model.parameters, *model.gradients):
        assert array.dtype == dtype
    assert all(s.dtype == dtype for s in model.optimizer._slots.values())


def test_training_reduces_the_loss_and_history_has_keras_keys():
    model = mini_cnn("float32")
    model.compile("adam")
    x, y = toy_data(model, 256)
    history = model.fit(x, y, batch_size=32, epochs=8, validation_split=0.25, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy",
                                    "learning_rate", "time"}
    assert history.history["learning_rate"] == [1e-3] * 8  # as Keras 3 logs it
    assert len(history.history["loss"]) == 8 and history.epoch == list(range(8))
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_validation_split_holds_out_the_last_fraction():
    model = mini_lstm("float32")
    model.compile("adam")
    x, y = toy_data(model, 40)
    history = model.fit(x, y, batch_size=8, epochs=1, validation_split=0.25, verbose=0)
    # Validation runs on the final weights of the epoch, on x[30:] exactly.
    val_loss, val_acc = model.evaluate(x[30:], y[30:])
    assert history.history["val_loss"][0] == pytest.approx(val_loss)
    assert history.history["val_accuracy"][0] == pytest.approx(val_acc)


def test_progress_line_per_epoch(capsys):
    model = mini_lstm("float32")
    model.compile("adam")
    x, y = toy_data(model, 32)
    model.fit(x, y, batch_size=8, epochs=2, validation_data=(x, y), verbose=2)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 2 and out[1].startswith("Epoch 2/2 - ")
    assert "loss: " in out[0] and "val_accuracy: " in out[0]


def test_predict_and_evaluate_run_in_batches():
    model = mini_cnn("float32")
    model.compile("adam")
    x, y = toy_data(model, 37)
    probs = model.predict(x, batch_size=10)
    assert probs.shape == (37, 5)
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(probs, model.predict(x, batch_size=37), rtol=1e-5, atol=1e-7)
    loss, acc = model.evaluate(x, y, batch_size=10)
    assert acc == np.mean(probs.argmax(axis=1) == y)
    assert model.evaluate(x, y, return_dict=True)["loss"] == pytest.approx(loss, rel=1e-5)


def test_nan_input_names_the_first_bad_sample():
    model = mini_lstm("float32")
    model.compile("adam")
    x, y = toy_data(model, 40)
    x[21, 0, 0] = np.nan
    x[30] = np.inf
    for call in (lambda: model.fit(x, y, batch_size=10, epochs=1, verbose=0),
                 lambda: model.evaluate(x, y), lambda: model.predict(x)):
        with pytest.raises(ValueError, match=r"sample 21 is the first of 2 .*Clean them or drop"):
            call()


def test_callbacks_see_every_hook_and_can_stop_training():
    calls = []

    class Recorder(Callback):
        def on_train_begin(self, logs=None):
            calls.append("train_begin")

        def on_epoch_begin(self, epoch, logs=None):
            calls.append(f"epoch_begin {epoch}")

        def on_batch_end(self, batch, logs=None):
            calls.append(f"batch {batch}")
            if batch == 1:
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            calls.append(f"epoch_end {epoch}")

        def on_train_end(self, logs=None):
            calls.append("train_end")

    model = mini_lstm("float32")
    model.compile("adam")
    x, y = toy_data(model, 40)
    model.fit(x, y, batch_size=10, epochs=3, verbose=0, callbacks=[Recorder()])
    assert calls == ["train_begin", "epoch_begin 0", "batch 0", "batch 1", "epoch_end 0",
                     "train_end"]


def test_early_stopping():
    model = mini_lstm("float32")
    model.compile("sgd")  # a tiny learning rate on noise: val_loss cannot keep improving
    x, y = toy_data(model, 40)
    stopper = EarlyStopping(monitor="val_loss", patience=0, min_delta=10.0)
    history = model.fit(x, y, epochs=10, validation_split=0.5, verbose=0, callbacks=[stopper])
    assert len(history.history["loss"]) == 2 and stopper.stopped_epoch == 1


def test_bad_input_gets_clear_errors():
    model = Sequential([Input((4,)), Dense(3, activation="softmax")])
    x = np.zeros((5, 4), np.float32)
    with pytest.raises(RuntimeError, match="compiled"):
        model.fit(x, np.zeros(5, int))
    model.compile("adam")
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        model.fit(x, np.array([0, 1, 2, 3, 0]), verbose=0)
    with pytest.raises(ValueError, match="5 samples but its labels have 4"):
        model.fit(x, np.zeros(4, int), verbose=0)
    with pytest.raises(ValueError, match=r"shape \(None, 4\)"):
        model.predict(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(x, np.zeros(5, int), validation_split=1.0)
