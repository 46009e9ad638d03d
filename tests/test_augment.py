"""Data augmentation layers: their maps mean what the docs say, their backward passes the
finite-difference check, inference is the identity, and the draws follow the model's seed
whatever the number of workers."""

import json

import numpy as np
import pytest
from helpers import assert_gradients, fast_runner
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchnet import Input, Sequential, blas, parallel
from scratchnet.kernels.threads import serial_kernels
from scratchnet.layers import (
    Dense,
    Flatten,
    GaussianNoise,
    RandomDistortion,
    RandomElastic,
    RandomRotation,
    RandomShear,
    RandomTranslation,
    RandomZoom,
)
from scratchnet.reference.augment import affine_sample_forward, gaussian_smooth


def make_layers():
    """One of each, with ranges wide enough that every map is far from the identity."""
    return [RandomRotation(0.2), RandomTranslation(0.3, (-0.2, 0.4)), RandomZoom(0.3),
            RandomZoom((-0.2, 0.1), width_factor=0.4), RandomShear(0.4, 0.3),
            RandomElastic(3.0, 1.5), GaussianNoise(0.3),
            RandomDistortion(rotation=0.1, height_shift=0.1, width_shift=0.1, zoom=0.2,
                             shear=0.2, elastic_alpha=2.0, elastic_sigma=1.0),
            RandomDistortion(rotation=0.1)]


LAYER_NAMES = [type(layer).__name__ for layer in make_layers()]
shapes = st.tuples(st.integers(1, 3), st.integers(2, 7), st.integers(2, 7),
                   st.sampled_from([None, 1, 2]))


def sample(n, h, w, c, seed, dtype=np.float64):
    shape = (n, h, w) if c is None else (n, h, w, c)
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("index", range(len(LAYER_NAMES)), ids=LAYER_NAMES)
@settings(max_examples=6, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_backward_passes_the_gradient_check_for_a_fixed_draw(index, shape, seed):
    layer = make_layers()[index]
    assert_gradients(layer, sample(*shape, seed), seed=seed)


@pytest.mark.parametrize("index", range(len(LAYER_NAMES)), ids=LAYER_NAMES)
@settings(max_examples=2, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_fast_runner_passes_the_gradient_check(index, shape, seed):
    # Serial kernels (bit-identical to the pool's): hundreds of tiny calls, none worth a pool.
    layer = make_layers()[index]
    with serial_kernels():
        assert_gradients(layer, sample(*shape, seed), seed=seed, engine="fast")


@pytest.mark.parametrize("index", range(len(LAYER_NAMES)), ids=LAYER_NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inference_is_the_identity_on_both_engines(index, dtype):
    layer = make_layers()[index]
    x = sample(4, 6, 5, 1, 0, dtype)
    layer.build(x.shape[1:], dtype, np.random.default_rng(0))
    assert layer(x, training=False) is x
    assert layer.backprop(x) is x
    assert fast_runner(layer).forward(x, False) is x
    y = layer(x, training=True)
    assert y.dtype == dtype and y.shape == x.shape and not np.array_equal(y, x)


def only(layer, x, seed=0):
    layer.build(x.shape[1:], x.dtype, np.random.default_rng(seed))
    return layer(x, training=True)


def test_a_quarter_turn_is_numpys_counter_clockwise_rot90():
    x = sample(2, 5, 5, 3, 1)
    y = only(RandomRotation((0.25, 0.25)), x)
    np.testing.assert_allclose(y, np.rot90(x, 1, axes=(1, 2)), atol=1e-12)


def test_positive_shifts_move_the_picture_down_and_right_and_fill_with_zero():
    x = sample(2, 5, 6, None, 2)
    y = only(RandomTranslation((0.2, 0.2), (1 / 3, 1 / 3)), x)  # 1 row, 2 columns
    expected = np.zeros_like(x)
    expected[:, 1:, 2:] = x[:, :-1, :-2]
    np.testing.assert_allclose(y, expected, atol=1e-12)


def test_a_zoom_of_plus_one_reads_twice_as_far_from_the_centre():
    x = sample(1, 5, 5, None, 3)
    y = only(RandomZoom((1.0, 1.0)), x)  # centre (2, 2): output (1, 1) reads (0, 0)
    assert y[0, 2, 2] == pytest.approx(x[0, 2, 2])
    assert y[0, 1, 1] == pytest.approx(x[0, 0, 0])
    assert y[0, 0, 0] == 0  # reads (-2, -2): outside, the fill


def test_shear_slides_rows_in_proportion_to_their_height():
    x = sample(1, 5, 7, None, 4)
    y = only(RandomShear((0.5, 0.5), 0.0), x)  # row u from the centre reads columns v + u/2
    np.testing.assert_allclose(y[0, 2], x[0, 2])
    np.testing.assert_allclose(y[0, 4, :-1], x[0, 4, 1:])  # u = 2: one column to the right


def test_fill_value_is_what_outside_reads():
    x = np.ones((1, 4, 4), np.float32)
    y = only(RandomTranslation((0.5, 0.5), 0.0, fill_value=-1.0), x)
    np.testing.assert_array_equal(y[0, :2], -1)
    np.testing.assert_array_equal(y[0, 2:], 1)


def test_bilinear_weights_interpolate_between_neighbours():
    x = np.arange(12.0).reshape(1, 3, 4, 1)
    m = np.array([[[1, 0, 0.25], [0, 1, 0.5]]])  # a quarter row down, half a column right
    y, _ = affine_sample_forward(x, m)
    # x[r, s] = 4 r + s is linear, so bilinear sampling reproduces it where in bounds.
    np.testing.assert_allclose(y[0, :2, :3, 0], (4 * (np.arange(2)[:, None] + 0.25)
                                                 + np.arange(3) + 0.5))


def test_elastic_smoothing_matches_scipy():
    ndimage = pytest.importorskip("scipy.ndimage")
    f = np.random.default_rng(5).uniform(-1, 1, (2, 2, 9, 31))
    for sigma in (0.7, 4.0, 12.0):  # kernel radius under, near and over the plane's size
        np.testing.assert_allclose(
            gaussian_smooth(f, sigma),
            ndimage.gaussian_filter(f, (0, 0, sigma, sigma), mode="reflect", truncate=4.0),
            atol=1e-12)


@pytest.mark.parametrize("index", range(len(LAYER_NAMES)), ids=LAYER_NAMES)
def test_get_config_rebuilds_the_same_layer(index):
    layer = make_layers()[index]
    config = json.loads(json.dumps(layer.get_config()))  # as a saved model holds it
    twin = type(layer)(**config)
    assert twin.get_config() == config
    x = sample(3, 6, 5, 1, 0)
    np.testing.assert_array_equal(only(layer, x, seed=7), only(twin, x, seed=7))


@pytest.mark.parametrize("make, match", [
    (lambda: RandomRotation(-0.1), "factor as one number must be >= 0"),
    (lambda: RandomRotation((0.2, 0.1)), "lower <= upper"),
    (lambda: RandomRotation("big"), "must be a number or a pair"),
    (lambda: RandomTranslation(1.5, 0.1), r"within \[-1, 1\]"),
    (lambda: RandomZoom((-1.0, 0.2)), "above -1"),
    (lambda: RandomElastic(-1.0, 2.0), "alpha must be a finite number >= 0"),
    (lambda: RandomElastic(1.0, 0.0), "sigma must be a finite number > 0"),
    (lambda: GaussianNoise(float("nan")), "stddev must be a finite number"),
    (lambda: RandomRotation(0.1, fill_mode="reflect"), "only fill_mode='constant'"),
    (lambda: RandomRotation(0.1, activation="relu"), "takes no activation"),
])
def test_bad_hyperparameters_are_refused_with_the_fix(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_non_image_input_is_refused_with_the_shapes_it_takes():
    with pytest.raises(ValueError, match=r"samples of shape \(H, W\) or \(H, W, C\)"):
        RandomRotation(0.1).build((10,), np.float32)
    layer = RandomZoom(0.1)
    layer.build((4, 4), np.float32)
    with pytest.raises(TypeError, match="astype"):
        layer(np.zeros((2, 4, 4)), training=True)


def model(workers_seed=3):
    return Sequential([Input((8, 8, 1)), RandomDistortion(0.05, 0.1, 0.1, 0.1, 0.1, 2.0, 1.5),
                       RandomRotation(0.05), RandomElastic(2.0, 2.0), GaussianNoise(0.1),
                       Flatten(), Dense(4, activation="softmax")],
                      seed=workers_seed, dtype="float64")


def train(make, workers):
    parallel.set_workers(workers)
    try:
        m = make()
        m.compile("adam")
        rng = np.random.default_rng(0)
        x = rng.random((70, 8, 8, 1))
        m.fit(x, rng.integers(0, 4, 70), batch_size=48, epochs=2, verbose=0, seed=4)
        return [p.copy() for p in m.parameters]
    finally:
        parallel.set_workers(None)


@pytest.mark.skipif(not blas.controllable(), reason="no OpenBLAS whose thread count can be "
                    "set: batches never run in shards here")
def test_same_seed_gives_bit_identical_training_and_shards_draw_as_the_whole_batch():
    one = train(model, 1)
    np.testing.assert_array_equal(np.concatenate([p.ravel() for p in train(model, 1)]),
                                  np.concatenate([p.ravel() for p in one]))
    for workers in (2, 3):
        for a, b in zip(train(model, workers), one, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


def test_fit_draws_new_distortions_each_step_and_none_at_predict():
    m = Sequential([Input((6, 6)), RandomRotation(0.3)], seed=1)
    x = np.random.default_rng(0).random((2, 6, 6)).astype(np.float32)
    m.build()
    first, second = m(x, training=True), m(x, training=True)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(m.predict(x), x)


def test_a_saved_model_with_an_augmentation_front_loads_and_trains_on_alike(tmp_path):
    import scratchnet

    def fitted(m):
        m.fit(x, y, batch_size=32, epochs=1, verbose=0)
        return [p.copy() for p in m.parameters]

    rng = np.random.default_rng(0)
    x, y = rng.random((64, 8, 8, 1), dtype=np.float32), rng.integers(0, 4, 64)
    m = Sequential([Input((8, 8, 1)), *make_layers()[4:], Flatten(),
                    Dense(4, activation="softmax")], seed=2)
    m.compile("adam")
    m.fit(x, y, batch_size=32, epochs=1, verbose=0)
    m.save(tmp_path / "aug.scratchnet")
    loaded = scratchnet.load_model(tmp_path / "aug.scratchnet")
    assert [type(a).__name__ for a in loaded.layers] == [type(a).__name__ for a in m.layers]
    assert [a.get_config() for a in loaded.layers] == [a.get_config() for a in m.layers]
    np.testing.assert_array_equal(loaded.predict(x), m.predict(x))
    for a, b in zip(fitted(loaded), fitted(m), strict=True):  # same draws after the load
        np.testing.assert_array_equal(a, b)
