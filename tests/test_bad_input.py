"""Every bad input of issue 15 (and issue 16's refused arrays, issue 13's toolkit) in one table:
the call, the exception type, and a fragment of its message that names the problem."""

import struct

import numpy as np
import pytest

from scratchnet import SGD, Adam, Input, Sequential
from scratchnet.archive import ModelFileError
from scratchnet.callbacks import BackupAndRestore, EarlyStopping
from scratchnet.data import IDXFormatError, read_idx
from scratchnet.layers import BatchNormalization, Dense


def model():
    m = Sequential([Input((4,)), Dense(3, activation="softmax")], seed=1)
    m.compile("adam")
    return m


X = np.random.default_rng(0).random((10, 4), dtype=np.float32)
Y = np.arange(10) % 3


def with_nan(i, value=np.nan):
    x = X.copy()
    x[i, 2] = value
    return x


def idx_with_dims(folder, ndim):
    path = folder / "deep-idx3-ubyte"
    path.write_bytes(struct.pack(f">HBB{ndim}I", 0, 8, ndim, *[1] * ndim) + b"\x00")
    return path


def later_learning_rate():
    m = model()
    m.fit(X, Y, verbose=0)
    m.optimizer.learning_rate = float("nan")
    m.fit(X, Y, verbose=0)


def npy_weights(folder):
    np.save(folder / "w.npy", np.zeros(3))
    model().load_weights(folder / "w.npy")


def bn_model():
    m = Sequential([Input((4,)), Dense(3), BatchNormalization(), Dense(3, activation="softmax")])
    m.compile("adam")
    return m


def diverging_fit():
    m = Sequential([Input((4,)), Dense(3, activation="softmax")], seed=1)
    m.compile(Adam(learning_rate=1e300))
    m.fit(X, Y, verbose=0)


TABLE = [
    # item 1: non-finite inputs name the first bad sample and the fix
    ("fit NaN", lambda f: model().fit(with_nan(7), Y, verbose=0), ValueError,
     "sample 7 is the first"),
    ("evaluate inf", lambda f: model().evaluate(with_nan(3, np.inf), Y), ValueError,
     "sample 3 is the first"),
    ("predict NaN", lambda f: model().predict(with_nan(0)), ValueError, "Clean them or drop"),
    ("validation NaN", lambda f: model().fit(X, Y, validation_data=(with_nan(2), Y),
                                             verbose=0), ValueError, "validation x holds NaN"),
    # item 2: batch sizes and empty data in predict/evaluate
    ("predict batch_size=-1", lambda f: model().predict(X, batch_size=-1), ValueError,
     "batch_size must be an integer >= 1, got -1"),
    ("evaluate batch_size=-5", lambda f: model().evaluate(X, Y, batch_size=-5), ValueError,
     "batch_size must be an integer >= 1, got -5"),
    ("predict batch_size=0", lambda f: model().predict(X, batch_size=0), ValueError,
     "batch_size must be an integer >= 1, got 0"),
    ("evaluate empty", lambda f: model().evaluate(X[:0], Y[:0]), ValueError,
     "evaluate: x has no samples"),
    ("predict empty", lambda f: model().predict(X[:0]), ValueError,
     "predict: x has no samples"),
    # item 3: a non-finite step
    ("diverging fit", lambda f: diverging_fit(), FloatingPointError,
     "weights are those of the last finite step"),
    # item 5: backups
    ("save_freq=0", lambda f: BackupAndRestore(f, save_freq=0), ValueError,
     "save_freq must be 'epoch' or a positive integer"),
    # item 8: model files
    ("weights from a text file", lambda f: (f / "t.npz").write_text("hi") and
     model().load_weights(f / "t.npz"), ModelFileError, "does not start as a zip archive"),
    ("weights file missing", lambda f: model().load_weights(f / "none.npz"), ModelFileError,
     "no such file"),
    # item 10: an overlong IDX payload
    ("IDX payload too long", lambda f: (f / "l-idx1-ubyte").write_bytes(
        b"\x00\x00\x08\x01\x00\x00\x00\x02" + bytes(5)) and read_idx(f / "l-idx1-ubyte"),
     IDXFormatError, "too long"),
    # item 11: the unclear errors
    ("fit(x, None)", lambda f: model().fit(X, None), TypeError, "y is None"),
    ("4-item validation_data", lambda f: model().fit(X, Y, validation_data=(X, Y, Y, Y)),
     ValueError, "validation_data must be a pair (x_val, y_val) or a triple (x_val, y_val, "
     "sample_weight_val), got a tuple of 4 items"),
    ("validation_split='0.1'", lambda f: model().fit(X, Y, validation_split="0.1"),
     TypeError, "validation_split must be a number in [0, 1), got '0.1' (str)"),
    ("epochs=inf", lambda f: model().fit(X, Y, epochs=float("inf")), TypeError,
     "epochs must be an integer >= 0, got inf"),
    ("Input negative", lambda f: Input((28, -1)), ValueError,
     "Input shape must be a non-empty tuple of positive integers"),
    ("Input zero", lambda f: Input((0,)), ValueError, "positive integers"),
    ("IDX > 64 dims", lambda f: read_idx(idx_with_dims(f, 65)), IDXFormatError,
     "deep-idx3-ubyte: the IDX header declares 65 dimensions"),
    ("load_weights(.npy)", npy_weights, ModelFileError, "w.npy: is a single .npy array"),
    ("batch_size=2.9", lambda f: model().fit(X, Y, batch_size=2.9), TypeError,
     "batch_size must be an integer >= 1, got 2.9"),
    ("fit on empty data", lambda f: model().fit(X[:0], Y[:0]), ValueError,
     "fit: x has no samples"),
    ("split leaves nothing", lambda f: model().fit(X[:1], Y[:1], validation_split=0.5),
     ValueError, "leaves no training samples"),
    ("Adam('0.1')", lambda f: Adam("0.1"), ValueError,
     "Adam learning_rate must be a positive finite number, got '0.1'"),
    ("SGD(momentum=1)", lambda f: SGD(momentum=np.float32(1)), ValueError,
     "SGD momentum must be in [0, 1)"),
    ("learning rate set later", lambda f: later_learning_rate(), ValueError,
     "learning_rate must be a positive finite number, got nan"),
    # issue 13: the toolkit's bad input not tested beside its module
    ("BatchNorm trailing batch of one", lambda f: bn_model().fit(X[:9], Y[:9], batch_size=4,
                                                                 verbose=0), ValueError,
     "needs more than one value per channel, got a batch of 1: use a batch_size of 2"),
    ("BatchNorm train_on_batch of one", lambda f: bn_model().train_on_batch(X[:1], Y[:1]),
     ValueError, "got a batch of 1"),
    ("class_weight of a missing class", lambda f: model().fit(X, Y, class_weight={3: 2.0}),
     ValueError, "class_weight names classes [3] that the data lacks"),
    ("negative sample_weight", lambda f: model().fit(X, Y, sample_weight=-np.ones(10)),
     ValueError, "sample_weight must be finite and >= 0: weight 0 is -1.0"),
    ("EarlyStopping on an unknown figure", lambda f: model().fit(
        X, Y, verbose=0, callbacks=[EarlyStopping(monitor="val_acc")]), ValueError,
     "cannot tell whether 'val_acc' should be minimized or maximized"),
    # issue 16: arrays that are not real numbers, and a missing batch axis
    ("complex x", lambda f: model().predict(X.astype(complex)), TypeError, "x.real"),
    ("object x", lambda f: model().predict(X.astype(object)), TypeError, "not a real number"),
    ("string x", lambda f: model().predict(X.astype(str)), TypeError, "parse the strings"),
    ("one sample", lambda f: model().predict(X[0]), ValueError, "pass x[None]"),
]


@pytest.mark.parametrize("call, error, fragment", [row[1:] for row in TABLE],
                         ids=[row[0] for row in TABLE])
def test_bad_input_gets_a_clear_error(tmp_path, call, error, fragment):
    with pytest.raises(error) as info:
        call(tmp_path)
    assert fragment in str(info.value)


def test_numpy_scalars_are_accepted_where_numbers_are():
    m = Sequential([Input((np.int64(4),)), Dense(3, activation="softmax")], seed=1)
    m.compile(Adam(np.float32(1e-3), beta_1=np.float32(0.9), epsilon=np.float64(1e-7)))
    m.fit(X, Y, batch_size=np.int32(4), epochs=np.int64(2), validation_split=np.float32(0.2),
          verbose=0)
    assert m.predict(X, batch_size=np.uint8(3)).shape == (10, 3)
    assert len(m.evaluate(X, Y, batch_size=np.int16(5))) == 2
