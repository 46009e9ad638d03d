"""Whole-model files (issue 14): model.save / scratchnet.load_model.

Loaded in a fresh process, a model predicts bit for bit as the saved one, and one more
epoch of training after the load equals one more epoch without it (weights and optimizer
state); custom layers round-trip by name; permissions follow the umask.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import scratchnet
from scratchnet import Input, ModelFileError, Sequential, load_model, register_layer
from scratchnet.layers import (
    GRU,
    LSTM,
    Activation,
    BatchNormalization,
    Bidirectional,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Layer,
    MaxPool2D,
    Reshape,
    SimpleRNN,
)
from scratchnet.optimizers import SGD, Adam, Nadam, RMSprop, schedules

ROOT = Path(__file__).resolve().parents[1]


def cnn(dtype):
    model = Sequential([
        Input((8, 8, 1)),
        Conv2D(4, 3, activation="relu", kernel_regularizer="l2"), BatchNormalization(),
        MaxPool2D(), Dropout(0.25), Flatten(),
        Dense(6, use_bias=False), BatchNormalization(momentum=0.9), Activation("relu"),
        Dropout(0.5), Dense(3, activation="softmax"),
    ], seed=7, dtype=dtype)
    lr = schedules.ExponentialDecay(1e-2, decay_steps=3, decay_rate=0.5)
    model.compile(Adam(lr), "sparse_categorical_crossentropy", ["accuracy"])
    return model


def rnn(dtype):
    model = Sequential([
        Input((6, 4)),
        Bidirectional(GRU(5, return_sequences=True), merge_mode="sum"),
        LSTM(4, recurrent_regularizer="l1"), Dropout(0.3), Dense(3, activation="softmax"),
    ], seed=11, dtype=dtype)
    model.compile(Nadam(3e-3, clipnorm=1.0), "sparse_categorical_crossentropy",
                  ["accuracy", "sparse_top_k_categorical_accuracy"])
    return model


MODELS = {"cnn": (cnn, (8, 8, 1)), "rnn": (rnn, (6, 4))}
CASES = [(name, dtype) for name in MODELS for dtype in ("float32", "float64")]

CHILD = """
    import sys
    from pathlib import Path
    import numpy as np
    from scratchnet import load_model

    folder = Path(sys.argv[1])
    for case in sys.argv[2:]:
        model = load_model(folder / f"{case}.scratchnet")
        with np.load(folder / f"{case}-data.npz") as data:
            x, y = data["x"], data["y"]
        out = {"pred": model.predict(x)}
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
        out.update({f"w{i}": w for i, w in enumerate(model.get_weights())})
        out.update({f"opt:{k}": v for k, v in model.optimizer.get_state().items()})
        np.savez(folder / f"{case}-child.npz", **out)
"""


def run_child(code: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_a_fresh_process_predicts_and_trains_on_bit_for_bit(tmp_path):
    expected = {}
    for name, dtype in CASES:
        make, shape = MODELS[name]
        rng = np.random.default_rng(3)
        x = rng.standard_normal((40, *shape)).astype(dtype)
        y = rng.integers(0, 3, 40)
        model = make(dtype)
        model.class_names = ["zero", "one", "two"]
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
        case = f"{name}-{dtype}"
        model.save(tmp_path / f"{case}.scratchnet")
        np.savez(tmp_path / f"{case}-data.npz", x=x, y=y)
        pred = model.predict(x)
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)  # the epoch the child repeats
        expected[case] = {"pred": pred,
                          **{f"w{i}": w for i, w in enumerate(model.get_weights())},
                          **{f"opt:{k}": v for k, v in model.optimizer.get_state().items()}}
    result = run_child(CHILD, tmp_path, *expected)
    assert result.returncode == 0, result.stderr[-3000:]
    for case, want in expected.items():
        with np.load(tmp_path / f"{case}-child.npz") as got:
            assert sorted(got.files) == sorted(want), case
            for key, value in want.items():
                assert got[key].dtype == value.dtype, (case, key)
                np.testing.assert_array_equal(got[key], value, err_msg=f"{case} {key}")
        loaded = load_model(tmp_path / f"{case}.scratchnet")
        assert loaded.class_names == ["zero", "one", "two"]
        assert loaded.fit_calls == 1 and loaded.optimizer.iterations == 3


def test_the_loaded_model_keeps_its_configuration(tmp_path):
    model = rnn("float64")
    model.build()
    model.save(tmp_path / "m.scratchnet")
    loaded = load_model(tmp_path / "m.scratchnet")
    assert [layer.get_config() for layer in loaded.layers] == \
        [layer.get_config() for layer in model.layers]
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.metrics == model.metrics and loaded.loss.get_config() == \
        model.loss.get_config()
    assert (loaded.name, loaded.seed, loaded.dtype, loaded.engine, loaded.input_shape) == \
        (model.name, model.seed, model.dtype, model.engine, model.input_shape)
    assert loaded.class_names is None and loaded.fit_calls == 0


LAYERS = [
    (lambda: Dense(3, activation="tanh", kernel_regularizer=scratchnet.regularizers.L1L2(
        0.1, 0.2), bias_regularizer="l2"), (5,)),
    (lambda: Dense(2, use_bias=False), (4, 3)),
    (lambda: Conv2D(2, (3, 2), strides=(2, 1), padding="same", activation="sigmoid"),
     (6, 5, 2)),
    (lambda: BatchNormalization(axis=1, center=False, epsilon=1e-2), (3, 4)),
    (lambda: MaxPool2D(3, strides=1, padding="same"), (5, 5, 2)),
    (lambda: Dropout(0.4), (3,)), (lambda: Flatten(), (2, 3)),
    (lambda: Reshape((3, -1)), (6,)), (lambda: Activation("softmax"), (4,)),
    (lambda: Activation("linear"), (4,)),
    (lambda: SimpleRNN(3, activation="relu", go_backwards=True), (4, 2)),
    (lambda: GRU(3, return_sequences=True), (4, 2)), (lambda: LSTM(3), (4, 2)),
    (lambda: Bidirectional(LSTM(2, return_sequences=True)), (4, 3)),
]


@pytest.mark.parametrize("make, shape", LAYERS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_every_layer_rebuilds_from_its_config_and_knows_its_weight_shapes(make, shape):
    layer = make()
    config = layer.get_config()
    twin = type(layer)(**{**config, **_rebuilt(config)})
    assert twin.get_config() == config
    predicted = layer.weight_shapes(shape)
    layer.build(shape, np.float64, np.random.default_rng(0))
    assert predicted == {k: v.shape for k, v in {**layer.params, **layer.state}.items()}


def _rebuilt(config):
    """The nested objects of a config, rebuilt as load_model does (through a file)."""
    out = {}
    from scratchnet.model_file import _Loader

    loader = _Loader(Path("x"), None, None)
    for key, value in config.items():
        out[key] = loader.nested(key, value, key, 0)
    return out


@pytest.mark.parametrize("optimizer", [
    SGD(0.1, momentum=0.9, nesterov=True, clipvalue=0.5),
    RMSprop(learning_rate=schedules.PiecewiseConstantDecay([2, 4], [0.1, 0.05, 0.01]),
            momentum=0.5, centered=True),
    scratchnet.AdamW(schedules.CosineDecay(1e-3, 10, warmup_target=1e-2, warmup_steps=2)),
    scratchnet.Adagrad(schedules.InverseTimeDecay(0.1, 2, 0.5, staircase=True),
                       global_clipnorm=2.0),
], ids=lambda o: type(o).__name__)
def test_optimizers_and_schedules_round_trip(tmp_path, optimizer):
    model = Sequential([Input((3,)), Dense(2, activation="softmax")], seed=1)
    model.compile(optimizer, scratchnet.CategoricalCrossentropy(label_smoothing=0.1),
                  ["categorical_accuracy"])
    x = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[np.arange(8) % 2]
    model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    model.save(tmp_path / "m.scratchnet")
    loaded = load_model(tmp_path / "m.scratchnet")
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.compiled_loss.get_config() == {"from_logits": False, "label_smoothing": 0.1}
    for key, value in model.optimizer.get_state().items():
        np.testing.assert_array_equal(loaded.optimizer.get_state()[key], value)


# -- custom layers ----------------------------------------------------------------------------
@register_layer
class Scale(Layer):
    """y = x * s, one learnt scale per feature (a custom layer for the round trip)."""

    def __init__(self, init=1.0, **kwargs):
        super().__init__(**kwargs)
        self.init = float(init)

    def get_config(self):
        return {**super().get_config(), "init": self.init}

    def weight_shapes(self, input_shape):
        return {"s": (input_shape[-1],)}

    def _build(self, input_shape, rng):
        self.params["s"] = np.full(input_shape[-1], self.init, self.dtype)
        return input_shape

    def forward(self, x, training):
        self.cache = x
        return x * self.params["s"]

    def backward(self, dy):
        self.store_grads(s=(dy * self.cache).reshape(-1, dy.shape[-1]).sum(axis=0))
        return dy * self.params["s"]


@register_layer("scratchnet_tests>Shift")
class Shift(Layer):
    """y = x + 1, no parameters (registered under a name of its own)."""

    def forward(self, x, training):
        return x + 1

    def backward(self, dy):
        return dy


class Unregistered(Shift):
    pass


def custom_model(extra=None):
    return Sequential([Input((4,)), Scale(0.5), Shift(), *(extra or []), Dense(2)], seed=2,
                      engine="reference")


def test_custom_layers_round_trip_by_registered_name(tmp_path):
    model = custom_model()
    model.compile(SGD(0.1), "mse", [])
    x = np.random.default_rng(1).standard_normal((6, 4)).astype(np.float32)
    model.fit(x, np.ones((6, 2), np.float32), batch_size=3, epochs=1, verbose=0)
    model.save(tmp_path / "c.scratchnet")
    loaded = load_model(tmp_path / "c.scratchnet")
    assert [type(layer) for layer in loaded.layers] == [Scale, Shift, Dense]
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.layers[0].init == 0.5


def test_an_unregistered_layer_names_its_type_and_the_fix(tmp_path):
    model = custom_model([Unregistered()])
    model.build()
    model.save(tmp_path / "u.scratchnet")
    with pytest.raises(ModelFileError, match=r"unknown layer type 'Unregistered'.*"
                       r"register_layer.*custom_objects") as info:
        load_model(tmp_path / "u.scratchnet")
    assert str(tmp_path / "u.scratchnet") in str(info.value)
    loaded = load_model(tmp_path / "u.scratchnet", custom_objects={"Unregistered": Unregistered})
    assert type(loaded.layers[2]) is Unregistered
    with pytest.raises(ModelFileError, match="not a Layer"):
        load_model(tmp_path / "u.scratchnet", custom_objects={"Unregistered": print})


def test_register_layer_refuses_builtin_names_and_non_layers():
    with pytest.raises(ValueError, match="built-in layer"):
        register_layer("Dense")(Scale)
    with pytest.raises(TypeError, match="Layer subclasses"):
        register_layer(int)


def test_metric_functions_come_back_through_custom_objects(tmp_path):
    def hits(y_true, scores, from_logits=False):
        return float((scores.argmax(-1) == y_true).sum())

    model = Sequential([Input((3,)), Dense(2, activation="softmax")])
    model.compile("sgd", metrics=[hits])
    model.build()
    model.save(tmp_path / "f.scratchnet")
    with pytest.raises(ModelFileError, match="'hits'.*custom_objects"):
        load_model(tmp_path / "f.scratchnet")
    assert load_model(tmp_path / "f.scratchnet", custom_objects={"hits": hits}).metrics == [hits]


# -- what cannot be saved, and file names -----------------------------------------------------
def test_what_cannot_be_saved_is_refused_before_writing(tmp_path):
    model = Sequential([Input((3,)), Dense(2)])
    with pytest.raises(RuntimeError, match="build or fit"):
        model.save(tmp_path / "m.scratchnet")
    model.compile(SGD(schedules.LambdaSchedule(lambda step: 0.1)), "mse", [])
    model.build()
    with pytest.raises(TypeError, match="wraps a function.*get_config"):
        model.save(tmp_path / "m.scratchnet")
    model.compile(SGD(0.1), "mse", [lambda y, s, from_logits=False: 0.0])
    with pytest.raises(TypeError, match="named function"):
        model.save(tmp_path / "m.scratchnet")
    assert list(tmp_path.iterdir()) == []


def test_other_suffixes_are_refused_with_the_right_call(tmp_path):
    model = Sequential([Input((3,)), Dense(2)])
    model.build()
    with pytest.raises(ValueError, match=r"\.scratchnet file.*model\.save\('m\.scratchnet'\).*"
                       "save_weights"):
        model.save(tmp_path / "m.keras")
    model.save_weights(tmp_path / "w.npz")
    with pytest.raises(ModelFileError, match="weights file.*load_weights"):
        load_model(tmp_path / "w.npz")
    (tmp_path / "w.scratchnet").write_bytes((tmp_path / "w.npz").read_bytes())
    with pytest.raises(ModelFileError, match="has no config.json"):
        load_model(tmp_path / "w.scratchnet")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_files_get_the_umask_permissions(tmp_path):
    model = Sequential([Input((3,)), Dense(2)])
    model.build()
    want = 0o666 & ~_umask()
    for path in (model.save(tmp_path / "m.scratchnet"), model.save_weights(tmp_path / "w.npz")):
        assert path.stat().st_mode & 0o777 == want, path


def test_class_names_are_one_per_output_unit(tmp_path):
    model = Sequential([Input((3,)), Dense(2, activation="softmax")])
    model.build()
    model.class_names = ["a", "b", "c"]
    with pytest.raises(TypeError, match="3 names for 2 output units"):
        model.save(tmp_path / "m.scratchnet")
    binary = Sequential([Input((3,)), Dense(1, activation="sigmoid")])
    binary.build()
    binary.class_names = ["no", "yes"]  # a single sigmoid unit: two classes
    assert load_model(binary.save(tmp_path / "b.scratchnet")).class_names == ["no", "yes"]
