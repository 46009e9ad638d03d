"""Sequential: parameter counts, summary, whole-model gradient checks, build and compile errors."""

import numpy as np
import pytest
from helpers import mini_cnn, mini_lstm

from scratchnet import Input, Sequential, SparseCategoricalCrossentropy, parallel
from scratchnet.gradcheck import check_model, randomize_biases
from scratchnet.layers import Conv2D, Dense, Softmax
from scratchnet.seed_models import seed_cnn, seed_lstm


def test_seed_models_count_what_keras_counts(capsys):
    assert seed_cnn(47).count_params() == 229_807
    assert seed_lstm(47).count_params() == 86_447
    text = seed_cnn(47).summary()
    assert "Total params: 229,807" in text and "(None, 5, 5, 64)" in text
    assert text in capsys.readouterr().out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_inference_pools_before_the_bias_and_relu_and_nothing_changes(dtype):
    model = seed_cnn(7, dtype=dtype)
    model.compile("adam")
    model.build()
    assert model._engine.pools_first == {0, 2}  # conv1 + pool1, conv2 + pool2
    rng = np.random.default_rng(0)
    randomize_biases(model, rng)
    n = min(r.inference_chunk for r in model._engine.whole if r.inference_chunk)
    x = rng.random((n, 28, 28, 1)).astype(dtype)  # one inference chunk
    h = x
    for runner in model._engine.whole:  # one at a time: bias and ReLU before each pool
        h = runner.forward(h, False)
    parallel.set_workers(1)  # the same GEMM shapes as above
    try:
        predicted = model.predict(x, batch_size=n)
    finally:
        parallel.set_workers(None)
    assert predicted.dtype == np.dtype(dtype)
    # Pooling first is exact (tests/test_fast_conv2d.py), but here each conv also computes
    # its pooled map in its own way (kernels.conv_pool, Winograd's fused max), whose sums
    # round differently from im2col + GEMM.
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(predicted, h, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype,tol", [("float64", 1e-12), ("float32", 2e-5)])
def test_a_conv_computes_only_what_its_pool_reads_and_nothing_changes(dtype, tol):
    model = seed_cnn(7, dtype=dtype)  # maps 26, 13, 11, 5: the pool reads 10 x 10 of 11
    model.compile("adam")
    model.build()
    conv1, conv2 = model._engine.whole[0], model._engine.whole[2]
    assert (conv1.computed_shape, conv2.computed_shape) == ((26, 26, 32), (10, 10, 64))
    assert model.layers[2].output_shape == (11, 11, 64)  # Keras's shapes, as summary() shows
    rng = np.random.default_rng(0)
    randomize_biases(model, rng)
    x, y = rng.random((5, 28, 28, 1)).astype(dtype), rng.integers(0, 7, 5)

    def run():
        model.reseed(0)
        loss, logits = model.compute_gradients(x, y)
        return loss, logits, [g.copy() for g in model.gradients]

    cropped = run()
    conv2.crop_output(None)  # the whole 11 x 11 map, which the pool also accepts
    whole = run()
    assert cropped[1].dtype == np.dtype(dtype)
    assert cropped[0] == pytest.approx(whole[0], rel=tol)
    np.testing.assert_allclose(cropped[1], whole[1], rtol=tol, atol=tol)
    for a, b in zip(cropped[2], whole[2], strict=True):
        np.testing.assert_allclose(a, b, rtol=tol * 10, atol=tol)


@pytest.mark.parametrize("engine", ["fast", "reference"])
@pytest.mark.parametrize("make", [mini_cnn, mini_lstm])
@pytest.mark.parametrize("seed", range(6))
def test_whole_model_gradients_through_the_loss(engine, make, seed):
    model = make(engine=engine)
    model.compile("adam")
    rng = np.random.default_rng(seed)
    randomize_biases(model, rng)  # zero biases can put a ReLU exactly on its kink
    x = rng.standard_normal((4, *model.input_shape))
    y = rng.integers(0, 5, 4)
    errors = check_model(model, x, y, training=True, seed=seed)
    assert len(errors) == len(model.parameters)
    assert max(errors.values()) <= 1e-6, errors


def test_model_with_logits_and_separate_softmax_layer():
    x = np.random.default_rng(0).standard_normal((3, 4))
    y = np.array([0, 2, 1])
    logits = Sequential([Input((4,)), Dense(3)], seed=1, dtype="float64")
    logits.compile("sgd", SparseCategoricalCrossentropy(from_logits=True))
    softmax = Sequential([Input((4,)), Dense(3), Softmax()], seed=1, dtype="float64")
    softmax.compile("sgd")
    assert max(check_model(softmax, x, y).values()) <= 1e-6
    # Same weights, same loss: the fused softmax layer is skipped in training only.
    np.testing.assert_allclose(logits.evaluate(x, y), softmax.evaluate(x, y))
    np.testing.assert_allclose(softmax.predict(x).sum(axis=1), 1.0)


def test_without_a_final_softmax_the_loss_takes_the_outputs_as_probabilities():
    # Keras's rule: from_logits=False means the outputs are probabilities. Only a model
    # that ends in the softmax hands the loss its logits instead.
    model = Sequential([Input((4,)), Dense(3)])
    model.compile("adam")
    assert model.fused_activation is None and not model.loss.from_logits


def test_build_errors_name_the_layer():
    model = Sequential([Input((4, 4, 1)), Conv2D(2, 5)])
    with pytest.raises(ValueError, match="conv2d"):
        model.build()
    with pytest.raises(ValueError, match="input shape"):
        Sequential([Dense(3)]).build()
    with pytest.raises(TypeError, match="Layer"):
        Sequential(["dense"])


def test_first_layer_skips_its_input_gradient():
    model = mini_cnn()
    model.build()
    assert model._engine.whole[0].need_input_grad is False
    assert all(runner.need_input_grad for runner in model._engine.whole[1:])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inference_runs_in_chunks_and_equals_one_pass(dtype):
    """A model with a Conv2D runs large inference batches in pieces of its chunk size."""
    parallel.set_workers(1)  # one shard: the layer watched below is the one that runs
    try:
        _check_inference_chunks(dtype)
    finally:
        parallel.set_workers(None)


def _check_inference_chunks(dtype):
    model = mini_cnn(dtype=np.dtype(dtype).name)
    model.compile("adam")  # the loss fuses the final softmax: logits() stops before it
    model.build()  # Conv2D sizes its chunk from its im2col rows
    runners = model._engine.whole
    chunk = min(r.inference_chunk for r in runners if r.inference_chunk)
    n = 2 * chunk + 37  # two full chunks and a ragged one
    x = np.random.default_rng(1).standard_normal((n, *model.input_shape)).astype(dtype)
    randomize_biases(model, np.random.default_rng(2))
    seen = []
    first = runners[0]
    pooled = first.pooled  # inference enters the network through conv1 + pool1
    first.pooled = lambda x, pool: seen.append(len(x)) or pooled(x, pool)
    chunked = model(x), model.logits(x, training=False)
    assert seen == [chunk, chunk, 37] * 2
    for runner in runners:  # the same network in one pass
        runner.inference_chunk = None
    whole = model(x), model.logits(x, training=False)
    assert seen[6:] == [n, n]
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for a, b in zip(chunked, whole, strict=True):
        assert a.dtype == dtype and a.shape == b.shape == (n, 5)
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    assert not np.allclose(chunked[0], chunked[1])  # probabilities, then logits
