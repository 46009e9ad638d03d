"""The augmentation layers compute the same on both engines (the pattern of
test_engine_agreement.py): each layer alone, forward and dx, on hypothesis shapes, and a
model with an augmentation front, its logits and every gradient. float64, rel_error 1e-12."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_augment import LAYER_NAMES, make_layers
from test_engine_agreement import AGREE, agree, assert_engines_agree, build

from scratchnet import Input, Sequential
from scratchnet.fast import has_fast_path
from scratchnet.layers import Dense, Flatten, GaussianNoise, RandomDistortion, RandomZoom


@pytest.mark.parametrize("index", range(len(LAYER_NAMES)), ids=LAYER_NAMES)
@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, 4), h=st.integers(1, 9), w=st.integers(1, 9),
       c=st.sampled_from([None, 1, 3]), seed=st.integers(0, 2**16))
def test_each_layer_agrees(index, n, h, w, c, seed):
    shape = (h, w) if c is None else (h, w, c)
    layer = build(make_layers()[index], shape, seed)
    assert has_fast_path(layer)
    assert_engines_agree(layer, np.random.default_rng(seed).standard_normal((n, *shape)), seed)


def test_a_model_with_an_augmentation_front_agrees_on_logits_and_gradients():
    results = []
    for engine in ("reference", "fast"):
        model = Sequential([
            Input((10, 9, 1)),
            RandomDistortion(0.1, 0.1, 0.1, 0.2, 0.2, elastic_alpha=3.0, elastic_sigma=2.0),
            RandomZoom(0.2), GaussianNoise(0.1), Flatten(), Dense(5, activation="softmax"),
        ], seed=3, dtype="float64", engine=engine)
        model.compile("adam")
        rng = np.random.default_rng(0)
        x, y = rng.random((40, 10, 9, 1)), rng.integers(0, 5, 40)  # 40: two shards on 2 cores
        model.build_for(x)
        model.reseed(5)  # the same distortions on both
        loss, logits = model.compute_gradients(x, y)
        results.append((loss, logits.copy(), [g.copy() for g in model.gradients]))
    (l0, z0, g0), (l1, z1, g1) = results
    assert l1 == pytest.approx(l0, rel=AGREE)
    agree(z1, z0, "logits")
    for a, b in zip(g1, g0, strict=True):
        agree(a, b, "gradient")
