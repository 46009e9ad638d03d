"""Small helpers shared by tests."""

import numpy as np

from scratchnet.gradcheck import check_layer

GRAD_TOL = 1e-6


def assert_gradients(layer, x, training=False, seed=0, tol=GRAD_TOL):
    """Run the float64 gradient check and assert every relative error is within ``tol``."""
    errors = check_layer(layer, x, training=training, seed=seed)
    assert errors, "the check compared nothing"
    bad = {k: v for k, v in errors.items() if not v <= tol}
    assert not bad, f"{layer!r}: relative errors above {tol}: {bad} (all: {errors})"
    return errors


def randn(rng, shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)
