"""The recurrent runners' shared input projection (scratchnet/fast/projection.py): all steps
at once for training, a block of steps at a time for inference, with the same numbers."""

import numpy as np
import pytest
from helpers import fast_runner

import scratchnet.fast.projection as projection
from scratchnet.fast.projection import InputProjection, projected_steps
from scratchnet.layers import GRU


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("block_bytes", [1, 3 * 5 * 4 * 8, 1 << 22])  # 1 step, 3 (+ a tail), all
def test_projection_blocks_equal_the_definition(go_backwards, block_bytes):
    rng = np.random.default_rng(0)
    x, W, b = rng.standard_normal((5, 7, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)
    xs = x[:, ::-1] if go_backwards else x
    want = np.einsum("ntd,dc->tnc", xs, W) + b
    steps = [zx.copy() for zx in projected_steps(xs, W, b, block_bytes)]
    assert len(steps) == 7
    np.testing.assert_allclose(np.stack(steps), want, rtol=1e-13, atol=1e-14)
    full = InputProjection(7, 5, 3, 4, np.float64)
    out = np.empty((7, 5, 4))
    full.forward(xs, W, b, out)
    np.testing.assert_allclose(out, want, rtol=1e-13, atol=1e-14)
    dz = rng.standard_normal((7, 5, 4))
    dW, db = np.empty((3, 4)), np.empty(4)
    full.weight_grads(dz, dW, db)
    np.testing.assert_allclose(dW, np.einsum("ntd,tnc->dc", xs, dz), rtol=1e-12)
    np.testing.assert_allclose(db, dz.sum(axis=(0, 1)), rtol=1e-12)
    dx = full.input_grad(dz, W, go_backwards)
    want_dx = np.einsum("tnc,dc->ntd", dz, W)
    np.testing.assert_allclose(dx, want_dx[:, ::-1] if go_backwards else want_dx, rtol=1e-12)


def test_gru_inference_in_blocks_equals_the_reference(monkeypatch):
    rng = np.random.default_rng(1)
    layer = GRU(4, return_sequences=True)
    layer.build((9, 3), np.float64, rng)
    layer.params["b"][...] = rng.standard_normal(layer.params["b"].shape)
    x = rng.standard_normal((6, 9, 3))
    want = layer(x)
    # 2 steps a block: four blocks of 2 and a tail of 1.
    monkeypatch.setattr(projection.projected_steps, "__defaults__", (2 * 6 * 12 * 8,))
    np.testing.assert_allclose(fast_runner(layer).forward(x, False), want, rtol=1e-12,
                               atol=1e-14)
