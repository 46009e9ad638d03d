"""Inputs as Keras takes them (issue 16): any real numeric array or list, converted to the
model's dtype once at fit/evaluate/predict/__call__; layers stay strict; and progress
output that suits a log file."""

import io
import sys

import numpy as np
import pytest

from scratchnet import Input, Sequential, inputs
from scratchnet.layers import Dense

REAL_DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
               "uint16", "uint32", "uint64", "bool"]


def model(dtype=None):
    m = Sequential([Input((4,)), Dense(3, activation="softmax")], seed=1, dtype=dtype)
    m.compile("adam")
    return m


def data(dtype, n=12):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2 if dtype == "bool" else 100, (n, 4)).astype(dtype)
    return x, rng.integers(0, 3, n)


@pytest.mark.parametrize("dtype", REAL_DTYPES)
def test_every_real_dtype_is_converted_to_the_model_dtype(dtype):
    x, y = data(dtype)
    m = model("float32")
    expected = m.predict(x.astype(np.float32))
    assert m.predict(x).dtype == np.float32
    np.testing.assert_array_equal(m.predict(x), expected)
    np.testing.assert_array_equal(m(x), expected)
    assert m.evaluate(x, y) == m.evaluate(x.astype(np.float32), y)
    m.fit(x, y, epochs=1, verbose=0, validation_data=(x, y))


def test_lists_are_taken_as_arrays():
    x, y = data("float32")
    m = model()
    np.testing.assert_array_equal(m.predict(x.tolist()), m.predict(x))
    m.fit(x.tolist(), y.tolist(), verbose=0)


def test_float64_model_takes_float32_data():
    x, y = data("float32")
    m = model("float64")
    m.fit(x, y, verbose=0)
    assert m.predict(x).dtype == np.float64
    np.testing.assert_array_equal(m.predict(x), m.predict(x.astype(np.float64)))


def test_unbuilt_model_keeps_float_data_dtype_and_makes_integers_float32():
    assert model().predict(data("float64")[0]).dtype == np.float64
    assert model().predict(data("uint8")[0]).dtype == np.float32


def test_conversion_happens_once_not_per_batch(monkeypatch):
    x, y = data("uint8", 40)
    m = model("float32")
    m.predict(x[:2])  # build
    conversions = []
    real = inputs.as_model_input

    def spy(model, x, *args, **kwargs):
        out = real(model, x, *args, **kwargs)
        conversions.append(out is not x)
        return out

    monkeypatch.setattr(inputs, "as_model_input", spy)
    monkeypatch.setattr("scratchnet.sequential.as_model_input", spy)  # Sequential.__call__
    m.predict(x, batch_size=4)
    m.fit(x, y, batch_size=4, verbose=0)
    m.evaluate(x, y, batch_size=4)
    assert len(conversions) > 3  # predict's batches went through __call__ too...
    assert sum(conversions) == 3  # ...but only the three boundaries converted anything


def test_layers_called_directly_stay_strict():
    layer = Dense(3)
    layer.build((4,), np.float32)
    with pytest.raises(TypeError, match="expected float32 input, got uint8"):
        layer(np.zeros((2, 4), np.uint8))


@pytest.mark.parametrize("x, fragment", [
    (np.zeros((2, 4), complex), "complex.*x.real"),
    (np.array([[1, 2, 3, "a"]] * 2), "dtype <U.*not a real number"),
    (np.array([[object()] * 4] * 2), "object.*np.stack"),
])
def test_non_real_arrays_are_refused(x, fragment):
    with pytest.raises(TypeError, match=fragment):
        model().predict(x)


def test_a_missing_batch_axis_shows_the_fix():
    x, _ = data("float32")
    with pytest.raises(ValueError, match=r"ONE sample.*x\[None\] \(shape \(1, 4\)\)"):
        model().predict(x[0])


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_no_progress_bar_in_a_log_but_one_line_per_epoch(monkeypatch, capsys):
    x, y = data("float32", 400)
    m = model()
    log = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    m.fit(x, y, batch_size=4, epochs=3, verbose=1)
    m.evaluate(x, y, batch_size=4, verbose=1)
    m.predict(x, batch_size=4, verbose=1)
    assert "\r" not in log.getvalue()
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" - ")[0] for line in lines] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]


def test_a_terminal_still_gets_its_progress_bar(monkeypatch):
    x, y = data("float32", 40)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    model().fit(x, y, batch_size=4, epochs=1, verbose=1)
    assert "\r" in terminal.getvalue()
