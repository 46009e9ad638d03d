"""ModelCheckpoint: Keras's file-name formatting, best-only saving in min and max modes,
whole-model files that load, weights-only files."""

import numpy as np
import pytest

from scratchnet import Input, ModelCheckpoint, Sequential, load_model
from scratchnet.callbacks import ModelCheckpoint as FromCallbacks
from scratchnet.layers import Dense, Dropout


def small_model():
    model = Sequential([Input((4,)), Dense(8, activation="relu"), Dropout(0.2),
                        Dense(3, activation="softmax")], seed=5, engine="reference")
    model.compile("sgd")
    return model


def data(n=24):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 4)).astype(np.float32), rng.integers(0, 3, n)


def test_it_is_found_in_callbacks_too():
    assert FromCallbacks is ModelCheckpoint


def test_fit_writes_one_formatted_whole_model_file_per_epoch(tmp_path):
    model = small_model()
    x, y = data()
    pattern = str(tmp_path / "ckpt" / "{epoch:02d}-{val_loss:.2f}.scratchnet")
    history = model.fit(x, y, epochs=3, batch_size=8, validation_split=0.25, verbose=0,
                        callbacks=[ModelCheckpoint(pattern)])
    losses = history.history["val_loss"]
    names = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert names == [f"{e + 1:02d}-{loss:.2f}.scratchnet" for e, loss in enumerate(losses)]
    last = load_model(tmp_path / "ckpt" / names[-1])
    np.testing.assert_array_equal(last.predict(x), model.predict(x))
    assert last.optimizer.iterations == model.optimizer.iterations and last.fit_calls == 1


def drive(checkpoint, model, values, key):
    """Run the callback's epoch hooks with ``key`` taking ``values`` in turn."""
    checkpoint.set_model(model)
    checkpoint.on_train_begin()
    for epoch, value in enumerate(values):
        checkpoint.on_epoch_begin(epoch)
        model.layers[0].params["b"][...] = epoch  # which epoch's weights a file holds
        checkpoint.on_epoch_end(epoch, {key: value, "loss": 1.0})


@pytest.mark.parametrize("mode, key, values, saved", [
    ("min", "val_loss", [0.9, 0.7, 0.8, 0.5, 0.5], [1, 2, 4]),
    ("auto", "val_loss", [0.9, 0.7, 0.8, 0.5, 0.5], [1, 2, 4]),
    ("max", "val_accuracy", [0.5, 0.4, 0.6, 0.6, 0.9], [1, 3, 5]),
    ("auto", "val_accuracy", [0.5, 0.4, 0.6, 0.6, 0.9], [1, 3, 5]),
])
def test_save_best_only_saves_when_the_monitor_improves(tmp_path, mode, key, values, saved):
    model = small_model()
    model.build()
    checkpoint = ModelCheckpoint(tmp_path / "{epoch}.scratchnet", monitor=key, mode=mode,
                                 save_best_only=True)
    drive(checkpoint, model, values, key)
    assert sorted(int(p.stem) for p in tmp_path.iterdir()) == saved
    best = values[saved[-1] - 1]
    assert checkpoint.best == best


def test_a_fixed_path_holds_the_best_model(tmp_path):
    model = small_model()
    model.build()
    checkpoint = ModelCheckpoint(tmp_path / "best.npz", monitor="val_loss",
                                 save_best_only=True, save_weights_only=True, verbose=1)
    drive(checkpoint, model, [0.9, 0.5, 0.7, 0.8], "val_loss")
    fresh = small_model()
    fresh.load_weights(tmp_path / "best.npz")
    np.testing.assert_array_equal(fresh.layers[0].params["b"], np.full(8, 1, np.float32))
    assert [p.name for p in tmp_path.iterdir()] == ["best.npz"]


def test_save_freq_in_batches(tmp_path):
    model = small_model()
    x, y = data(24)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[
        ModelCheckpoint(tmp_path / "e{epoch}-b{batch}.npz", save_weights_only=True,
                        save_freq=2)])
    # 3 batches per epoch, a save every 2nd batch counted across epochs: batches 2, 4, 6.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e1-b2.npz", "e2-b1.npz",
                                                          "e2-b3.npz"]


@pytest.mark.parametrize("kwargs, message", [
    ({"filepath": "m.keras"}, r"must end in \.scratchnet"),
    ({"filepath": "m.scratchnet", "save_weights_only": True}, r"must end in \.npz"),
    ({"filepath": "m.scratchnet", "mode": "lowest"}, "mode must be"),
    ({"filepath": "m.scratchnet", "save_freq": 0}, "save_freq"),
])
def test_bad_arguments_are_refused_with_the_fix(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ModelCheckpoint(**kwargs)


def test_a_missing_monitor_or_field_is_named(tmp_path):
    model = small_model()
    model.build()
    with pytest.raises(KeyError, match="'val_loss'.*validation data"):
        drive(ModelCheckpoint(tmp_path / "m.scratchnet", save_best_only=True), model, [1.0],
              "loss_only")
    with pytest.raises(ValueError, match="cannot fill filepath"):
        drive(ModelCheckpoint(tmp_path / "{val_auc}.scratchnet"), model, [1.0], "val_loss")
