"""Data-parallel steps: shards must compute what the whole batch computes."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import numba
import numpy as np
import pytest
from helpers import mini_cnn, mini_lstm

from scratchnet import blas, parallel
from scratchnet.fast.runner import ReferenceRunner
from scratchnet.gradcheck import check_model, randomize_biases
from scratchnet.kernels.threads import serial_kernels, use_pool
from scratchnet.seed_models import seed_cnn, seed_lstm

needs_blas_control = pytest.mark.skipif(
    not blas.controllable(), reason="no OpenBLAS whose thread count can be set: "
    "batches never run in shards here")


@pytest.fixture
def workers():
    """Set the number of workers for one test, then restore the default."""
    yield parallel.set_workers
    parallel.set_workers(None)


def data(model, n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *model.input_shape)).astype(model.dtype or np.float64)
    return x, rng.integers(0, model.output_shape[-1] if model.built else 5, n)


def gradients(make, dtype, n):
    """(loss, logits, grads) of one training compute_gradients call, dropout on, seed 0."""
    model = make(dtype)
    model.compile("adam")
    x, y = data(model, n)
    model.build_for(x)
    randomize_biases(model, np.random.default_rng(1))
    model.reseed(0)
    loss, logits = model.compute_gradients(x, y, training=True)
    return loss, logits, [g.copy() for g in model.gradients]


@needs_blas_control
@pytest.mark.parametrize("make", [mini_cnn, mini_lstm])
@pytest.mark.parametrize("dtype,tol", [("float64", 1e-12), ("float32", 2e-5)])
@pytest.mark.parametrize("n", [2 * parallel.MIN_SHARD, 37])
def test_two_shards_compute_the_whole_batch_gradient_with_its_dropout_masks(
        workers, make, dtype, tol, n):
    # The shards take their rows of the batch's dropout draw, so with the same seed the
    # sharded step is the whole-batch step, up to rounding.
    workers(1)
    whole = gradients(make, dtype, n)
    workers(2)
    assert parallel.shard_bounds(n) == [0, n // 2, n]
    loss, logits, grads = gradients(make, dtype, n)
    assert logits.dtype == np.dtype(dtype) and logits.shape == whole[1].shape
    assert loss == pytest.approx(whole[0], rel=tol)
    np.testing.assert_allclose(logits, whole[1], rtol=tol, atol=tol)
    for g, g_whole in zip(grads, whole[2], strict=True):
        assert g.dtype == np.dtype(dtype)
        np.testing.assert_allclose(g, g_whole, rtol=tol * 10, atol=tol)


@needs_blas_control
@pytest.mark.parametrize("make", [seed_cnn, seed_lstm])
def test_one_two_and_three_workers_train_alike_from_one_seed(workers, make):
    weights = {}
    for n in (1, 2, 3):
        workers(n)
        model = make(5, input_shape=(12, 12, 1) if make is seed_cnn else (12, 12),
                     dtype="float64")
        model.compile("adam")
        rng = np.random.default_rng(0)
        x = rng.random((70, *model.input_shape))
        model.fit(x, rng.integers(0, 5, 70), batch_size=48, epochs=2, verbose=0, seed=4)
        weights[n] = [p.copy() for p in model.parameters]
    for n in (2, 3):
        for a, b in zip(weights[n], weights[1], strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


@needs_blas_control
@pytest.mark.parametrize("make", [mini_cnn, mini_lstm])
@pytest.mark.parametrize("seed", range(3))
def test_sharded_gradients_pass_the_finite_difference_check(workers, make, seed):
    # With dropout on: the check differentiates exactly the sharded loss.
    workers(2)
    model = make()
    model.compile("adam")
    rng = np.random.default_rng(seed)
    randomize_biases(model, rng)
    x = rng.standard_normal((2 * parallel.MIN_SHARD + 3, *model.input_shape))
    y = rng.integers(0, 5, len(x))
    assert parallel.shard_bounds(len(x)) is not None
    errors = check_model(model, x, y, training=True, seed=seed)
    assert len(errors) == len(model.parameters)
    assert max(errors.values()) <= 1e-6, errors


@needs_blas_control
def test_the_shards_take_different_rows_of_the_dropout_draw(workers):
    workers(2)
    model = mini_lstm()
    model.compile("adam")
    x, y = data(model, 2 * parallel.MIN_SHARD)
    x[parallel.MIN_SHARD:] = x[:parallel.MIN_SHARD]  # both shards see the same samples
    model.build_for(x)
    model.reseed(0)
    _, logits = model.compute_gradients(x, y)
    half = parallel.MIN_SHARD
    assert not np.array_equal(logits[:half], logits[half:])
    # Every draw was consumed, and a shard has no stream of its own to repeat.
    for runners in model._engine.shards:
        assert all(r.drawn is None for r in runners)
        assert all(r.impl.rng is None for r in runners if isinstance(r, ReferenceRunner))


@needs_blas_control
@pytest.mark.parametrize("make", [seed_cnn, seed_lstm])
def test_same_seed_and_workers_give_bit_identical_training(workers, make):
    workers(2)
    weights = []
    for _ in range(2):
        model = make(5, input_shape=(12, 12, 1) if make is seed_cnn else (12, 12))
        model.compile("adam")
        rng = np.random.default_rng(0)
        x = rng.random((70, *model.input_shape), np.float32)
        model.fit(x, rng.integers(0, 5, 70), batch_size=32, epochs=2, verbose=0, seed=4)
        weights.append([p.copy() for p in model.parameters])
    for a, b in zip(*weights, strict=True):
        assert a.dtype == np.float32
        np.testing.assert_array_equal(a, b)


@needs_blas_control
@pytest.mark.parametrize("make", [seed_cnn, seed_lstm])
def test_sharded_inference_equals_whole_batch_inference(workers, make):
    model = make(7)
    rng = np.random.default_rng(0)
    x = rng.random((300, *model.input_shape), np.float32)
    workers(1)
    whole = model.predict(x, batch_size=300)
    workers(2)
    assert parallel.shard_bounds(300) == [0, 150, 300]
    sharded = model.predict(x, batch_size=300)
    assert sharded.dtype == np.float32
    np.testing.assert_allclose(sharded, whole, rtol=1e-5, atol=1e-7)


def test_small_batches_and_one_worker_run_whole(workers):
    workers(2)
    assert parallel.shard_bounds(2 * parallel.MIN_SHARD - 1) is None
    workers(1)
    assert parallel.shard_bounds(1000) is None
    workers(3)
    if blas.controllable():
        assert parallel.shard_bounds(100) == [0, 33, 66, 100]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_set_workers_rejects_impossible_counts(bad):
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        parallel.set_workers(bad)


def test_a_shards_reference_runner_shares_parameters_and_owns_everything_else():
    model = mini_cnn()
    model.build()
    conv = model.layers[0]
    twin = ReferenceRunner(conv, {k: np.zeros_like(g) for k, g in conv.grads.items()}).impl
    assert twin is not conv
    assert all(twin.params[k] is conv.params[k] for k in conv.params)
    assert all(twin.grads[k] is not conv.grads[k] for k in conv.grads)
    assert twin.activation is not conv.activation and twin.rng is None
    assert ReferenceRunner(conv, conv.grads).impl is conv  # a whole batch's runs the layer


def compiled_cnn(n):
    """A compiled mini CNN and a batch of ``n`` samples for it."""
    model = mini_cnn()
    model.compile("adam")
    return (model, *data(model, n))


@needs_blas_control
def test_three_shards_and_a_shard_error_leaves_blas_as_it_was(workers):
    workers(3)
    model, x, y = compiled_cnn(40)
    before = blas.threads()
    model.compute_gradients(x, y)  # three shards, summed in order
    assert blas.threads() == before

    def fail(*args, **kwargs):
        raise FloatingPointError("shard 2 failed")

    model._engine.shards[2][-1].forward = fail  # only the last shard, in a pool thread
    with pytest.raises(FloatingPointError, match="shard 2 failed"):
        model.compute_gradients(x, y)
    assert blas.threads() == before


@needs_blas_control
def test_single_threaded_blas_is_restored():
    before = blas.threads()
    with blas.single_threaded():
        assert blas.threads() == 1
    assert blas.threads() == before


def test_serial_kernels_is_per_thread():
    seen = {}
    with serial_kernels():
        seen["inside"] = use_pool()
        other = threading.Thread(target=lambda: seen.setdefault("other", use_pool()))
        other.start()
        other.join()
    assert seen == {"inside": False, "other": True}
    assert use_pool() and not use_pool(10, threshold=11)


def test_openblas_is_found_among_the_mapped_libraries(tmp_path):
    lib = tmp_path / "libscipy_openblas64_-abc.so"
    lib.write_bytes(b"")
    other = tmp_path / "libm.so.6"
    other.write_bytes(b"")
    maps = tmp_path / "maps"
    maps.write_text(
        f"7f00-7f01 r-xp 00000000 08:01 42   {lib}\n"
        f"7f01-7f02 r--p 00001000 08:01 42   {lib}\n"
        f"7f02-7f03 r-xp 00000000 08:01 43   {other}\n"
        "7f03-7f04 rw-p 00000000 00:00 0\n"                      # anonymous: no path
        "7f04-7f05 r-xp 00000000 08:01 44   /gone/libopenblas.so (deleted)\n")
    assert blas._mapped_libraries(str(maps)) == [str(lib)]
    assert blas._mapped_libraries(str(tmp_path / "absent")) == []


@needs_blas_control
def test_bad_labels_of_a_sharded_batch_are_reported_for_the_whole_batch(workers):
    workers(2)
    model, x, y = compiled_cnn(40)
    with pytest.raises(ValueError, match=r"labels must have shape \(40,\), got \(39,\)"):
        model.compute_gradients(x, y[:39])


@needs_blas_control
@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="one core: batches run whole")
def test_a_sharded_step_never_starts_numbas_thread_pool():
    """Shards run serial kernels, so numba's pool (its OpenMP runtime) must stay unstarted:
    once started, its threads slowed PyTorch's LSTM training in the same process to 55%."""
    code = (
        "import numpy as np, numba\n"
        "from scratchnet import parallel\n"
        "from scratchnet.seed_models import seed_lstm\n"
        "assert parallel.shard_bounds(32) is not None  # the default workers: shards\n"
        "m = seed_lstm(5); m.compile('adam'); rng = np.random.default_rng(0)\n"
        "m.train_step(rng.random((32, 28, 28), dtype=np.float32), rng.integers(0, 5, 32))\n"
        "try:\n"
        "    print('started', numba.threading_layer())\n"
        "except ValueError:\n"
        "    print('not started')\n"
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=root, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "not started"
