"""The two engines compute the same: every layer, the loss and both seed models, float64.

The reference engine runs each layer's textbook pair (scratchnet.reference); the fast
engine its numba runner (scratchnet.fast). They must agree to a relative error of 1e-12
(``rel_error``: max |a - b| over the largest magnitude) on outputs, on dx and on every
parameter gradient, for shapes drawn by hypothesis. Float64 leaves only the rounding of
differently ordered sums, far below that bound.
"""

import numpy as np
import pytest
from helpers import fast_runner
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from scratchnet import Input, Sequential
from scratchnet.fast import has_fast_path
from scratchnet.gradcheck import randomize_biases, rel_error
from scratchnet.layers import (
    LSTM,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Layer,
    MaxPool2D,
    ReLU,
    Reshape,
    Sigmoid,
    Softmax,
    Tanh,
)
from scratchnet.losses import SparseCategoricalCrossentropy
from scratchnet.seed_models import seed_cnn, seed_lstm

AGREE = 1e-12


def agree(a, b, what, scale=0.0):
    """``rel_error(a, b) <= AGREE``, the difference measured against the larger of a and
    b's magnitude and ``scale``.

    ``scale``: the magnitude of the terms a and b were summed from. A gradient whose terms
    cancel (a bias gradient summing to 0 in one order and to -5.6e-17 in another) has no
    magnitude of its own to measure rounding against.
    """
    assert a.shape == b.shape, f"{what}: shapes {a.shape} vs {b.shape}"
    err = rel_error(a, b)
    if scale > 0 and a.size:
        err = min(err, float(np.max(np.abs(a - b))) / scale)
    assert err <= AGREE, f"{what}: engines differ by {err:.3g}"


def run_both(layer, x, seed):
    """Forward in training and backward on both engines; returns both results."""
    g = None
    results = []
    for engine in ("reference", "fast"):
        layer.rng = np.random.default_rng(seed)  # the same dropout mask on both
        if engine == "reference":
            y = layer(x, training=True)
            g = np.random.default_rng(seed + 1).standard_normal(y.shape) if g is None else g
            dx = layer.backprop(g)
        else:
            runner = fast_runner(layer)
            y = runner.forward(x, True)
            dx = runner.backward(g)
        results.append((y.copy(), dx.copy(), {k: v.copy() for k, v in layer.grads.items()}))
    return results


def assert_engines_agree(layer, x, seed=0):
    (y0, dx0, g0), (y1, dx1, g1) = run_both(layer, x, seed)
    agree(y1, y0, "output")
    # dx and every parameter gradient are sums of products with the same upstream
    # gradients: the largest of them is the scale their rounding is measured against.
    scale = max(float(np.max(np.abs(v))) for v in (dx0, *g0.values()) if v.size)
    agree(dx1, dx0, "dx", scale)
    assert set(g0) == set(g1) == set(layer.params)
    for key in g0:
        agree(g1[key], g0[key], f"d{key}", scale)


def build(layer, shape, seed, random_biases=True):
    rng = np.random.default_rng(seed)
    layer.build(shape, np.float64, rng)
    if random_biases and "b" in layer.params:
        layer.params["b"][...] = rng.standard_normal(layer.params["b"].shape)
    return layer


seeds = st.integers(0, 2**16)
activations = st.sampled_from([None, "relu", "tanh", "sigmoid", "softmax"])


@given(n=st.integers(1, 6), d=st.integers(1, 8), units=st.integers(1, 8),
       extra=st.integers(0, 3), activation=activations, seed=seeds)
def test_dense(n, d, units, extra, activation, seed):
    shape = (extra, d) if extra else (d,)
    layer = build(Dense(units, activation=activation), shape, seed)
    assert_engines_agree(layer, np.random.default_rng(seed).standard_normal((n, *shape)), seed)


@settings(deadline=None)
@given(n=st.integers(1, 3), h=st.integers(1, 8), w=st.integers(1, 8), c=st.integers(1, 3),
       k=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       s=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       padding=st.sampled_from(["valid", "same"]), activation=activations, seed=seeds)
def test_conv2d(n, h, w, c, k, s, padding, activation, seed):
    assume(padding == "same" or (k[0] <= h and k[1] <= w))
    layer = build(Conv2D(3, k, strides=s, padding=padding, activation=activation), (h, w, c), seed)
    assert_engines_agree(layer, np.random.default_rng(seed).standard_normal((n, h, w, c)), seed)


@given(n=st.integers(1, 3), h=st.integers(1, 8), w=st.integers(1, 8), c=st.integers(1, 3),
       pool=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       strides=st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))),
       padding=st.sampled_from(["valid", "same"]), seed=seeds)
def test_maxpool(n, h, w, c, pool, strides, padding, seed):
    assume(padding == "same" or (pool[0] <= h and pool[1] <= w))
    layer = build(MaxPool2D(pool, strides=strides, padding=padding), (h, w, c), seed)
    x = np.random.default_rng(seed).integers(-3, 4, (n, h, w, c)).astype(np.float64)  # ties
    assert_engines_agree(layer, x, seed)


@settings(deadline=None)
@given(n=st.integers(1, 4), t=st.integers(1, 6), d=st.integers(1, 5), units=st.integers(1, 6),
       return_sequences=st.booleans(), seed=seeds)
def test_lstm(n, t, d, units, return_sequences, seed):
    layer = build(LSTM(units, return_sequences=return_sequences), (t, d), seed)
    assert_engines_agree(layer, np.random.default_rng(seed).standard_normal((n, t, d)), seed)


@given(n=st.integers(1, 5), shape=st.lists(st.integers(1, 5), min_size=1, max_size=3),
       rate=st.floats(0.0, 0.9), seed=seeds)
def test_dropout(n, shape, rate, seed):
    layer = build(Dropout(rate), tuple(shape), seed)
    assert_engines_agree(layer, np.random.default_rng(seed).standard_normal((n, *shape)), seed)


@pytest.mark.parametrize("make", [Flatten, lambda: Reshape((-1, 2)), ReLU, Tanh, Sigmoid,
                                  Softmax])
@given(n=st.integers(1, 4), d=st.integers(1, 4), seed=seeds)
def test_layers_without_a_fast_path_run_their_reference_pair_on_both(make, n, d, seed):
    layer = build(make(), (2, d), seed)
    assert not has_fast_path(layer)
    assert_engines_agree(layer, np.random.default_rng(seed).standard_normal((n, 2, d)), seed)


@given(n=st.integers(1, 8), c=st.integers(2, 12), seed=seeds, weighted=st.booleans())
def test_softmax_cross_entropy(n, c, seed, weighted):
    rng = np.random.default_rng(seed)
    logits, labels = rng.standard_normal((n, c)), rng.integers(0, c, n)
    w = rng.uniform(0, 3, n) if weighted else None  # fit's sample_weight / class_weight
    loss = SparseCategoricalCrossentropy(from_logits=True)  # what a softmax model hands it
    fast = loss(logits, labels, sample_weight=w)
    reference = loss.reference(logits, labels, sample_weight=w)
    assert fast[0] == pytest.approx(reference[0], rel=AGREE, abs=1e-300)
    agree(fast[1], reference[1], "dlogits")


@given(n=st.integers(1, 8), c=st.integers(2, 12), seed=seeds)
def test_confident_rows_agree_to_ulps_of_the_gradients_scale(n, c, seed):
    """Logits 30 apart: softmax - onehot cancels in the textbook form, which the kernel
    avoids (it writes -r/(1+r) and log1p(r)), so tiny entries differ relatively; the two
    still agree to ulps of the gradient's scale 1/N, and the loss to ulps of 1."""
    rng = np.random.default_rng(seed)
    logits, labels = 30 * rng.standard_normal((n, c)), rng.integers(0, c, n)
    loss = SparseCategoricalCrossentropy(from_logits=True)  # what a softmax model hands it
    (l_fast, g_fast), (l_ref, g_ref) = loss(logits, labels), loss.reference(logits, labels)
    ulps = 8 * np.finfo(np.float64).eps  # a few units in the last place of 1
    np.testing.assert_allclose(g_fast, g_ref, rtol=0, atol=ulps / n)
    assert l_fast == pytest.approx(l_ref, rel=AGREE, abs=ulps)


def models(make, dtype="float64"):
    """The same seed model on each engine: same seed, so the same initial weights."""
    return [make(7, seed=3, dtype=dtype, engine=engine) for engine in ("reference", "fast")]


@pytest.mark.parametrize("make, shape", [(seed_cnn, (28, 28, 1)), (seed_lstm, (28, 28))])
def test_seed_models_agree_on_loss_logits_and_every_gradient(make, shape):
    reference, fast = models(make)
    rng = np.random.default_rng(0)
    x, y = rng.random((40, *shape)), rng.integers(0, 7, 40)  # 40: two shards on 2 cores
    for model in (reference, fast):
        model.compile("adam")
        randomize_biases(model, np.random.default_rng(1))
    results = []
    for model in (reference, fast):
        model.reseed(5)  # the same dropout masks
        loss, logits = model.compute_gradients(x, y)
        results.append((loss, logits.copy(), [g.copy() for g in model.gradients]))
    (l0, z0, g0), (l1, z1, g1) = results
    assert l1 == pytest.approx(l0, rel=AGREE)
    agree(z1, z0, "logits")
    for (name, _), a, b in zip(fast.named_parameters(), g1, g0, strict=True):
        agree(a, b, f"d{name}")
    for model in (reference, fast):  # and inference, in chunks and shards on the fast one
        model.reseed(5)
    agree(fast.predict(x, batch_size=40), reference.predict(x, batch_size=40), "predict")


@pytest.mark.parametrize("make, shape", [(seed_cnn, (28, 28, 1)), (seed_lstm, (28, 28))])
def test_seed_models_train_alike_on_both_engines(make, shape):
    """Two epochs of Adam: float64 rounding differences stay at rounding size."""
    rng = np.random.default_rng(2)
    x, y = rng.random((48, *shape)), rng.integers(0, 7, 48)
    weights = []
    for model in models(make):
        model.compile("adam")
        model.fit(x, y, batch_size=24, epochs=2, verbose=0, seed=1)
        weights.append(model.parameters)
    for a, b in zip(*weights, strict=True):
        assert rel_error(a, b) <= 1e-9


class Scale(Layer):
    """A user-written layer with only the reference pair: y = x * w, one weight per feature."""

    def _build(self, input_shape, rng):
        self.params["w"] = rng.standard_normal(input_shape[-1:]).astype(self.dtype)
        return input_shape

    def forward(self, x, training):
        self.cache = x
        return x * self.params["w"]

    def backward(self, dy):
        x = self.backward_cache()
        self.store_grads(w=(dy * x).reshape(-1, x.shape[-1]).sum(axis=0))
        return dy * self.params["w"]


def test_a_user_layer_with_only_the_reference_pair_trains_on_the_fast_engine():
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 6)), rng.integers(0, 3, 64)
    weights = []
    for engine in ("reference", "fast"):
        model = Sequential([Input((6,)), Dense(8, activation="relu"), Scale(),
                            Dense(3, activation="softmax")], seed=0, dtype="float64",
                           engine=engine)
        model.compile("adam")
        model.fit(x, y, batch_size=32, epochs=3, verbose=0)  # 32 samples: in shards
        weights.append(model.parameters)
    assert not has_fast_path(model.layers[1])
    for a, b in zip(*weights, strict=True):
        assert rel_error(a, b) <= 1e-9


def test_a_layer_without_a_reference_pair_is_refused_by_the_reference_engine():
    class FastOnly(Layer):
        pass

    assert not FastOnly.has_reference() and Dense.has_reference()
    model = Sequential([Input((4,)), FastOnly(), Dense(2, activation="softmax")],
                       engine="reference")
    with pytest.raises(TypeError, match=r"fastonly \(FastOnly\) only have a fast "
                                        r"implementation: use engine='fast'"):
        model.build()


def test_an_unknown_engine_is_named_with_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown engine 'numba'; choose one of "
                                         r"\('fast', 'reference'\)"):
        Sequential([Dense(2)], engine="numba")
