"""RMSprop, Adagrad, AdamW, Nadam, clipping, weight decay, schedules and optimizer state.

Each update rule is checked against a sequence of steps computed here by hand, one scalar
at a time with the math module (not with the NumPy rules the optimizers call), and where
Keras's documentation gives a worked example, against its number.
"""

import math

import numpy as np
import pytest

from scratchnet.optimizers import (
    SGD,
    Adagrad,
    Adam,
    AdamW,
    Nadam,
    RMSprop,
    get_optimizer,
    schedules,
)

P0 = [1.0, -2.0, 0.5]


def run(opt, steps, dtype=np.float64):
    """``steps`` updates of p under the loss sum(p^2) (gradient 2p); the history of p."""
    p = np.array(P0, dtype=dtype)
    seen = []
    for _ in range(steps):
        opt.apply([p], [2 * p])
        seen.append(p.copy())
    return seen


def by_hand(step_fn, steps):
    """Apply ``step_fn(x, g, state, t) -> x`` to each scalar of P0 for ``steps`` steps."""
    out = []
    xs, states = list(P0), [{} for _ in P0]
    for t in range(1, steps + 1):
        xs = [step_fn(x, 2 * x, s, t) for x, s in zip(xs, states, strict=True)]
        out.append(list(xs))
    return out


def close(got, expected, rtol=1e-12):
    np.testing.assert_allclose(np.array(got), np.array(expected), rtol=rtol, atol=1e-15)


def test_rmsprop_matches_keras_docstring_example():
    # keras.optimizers.RMSprop docs: lr 0.1, var 10, loss var^2 / 2 -> 9.683772 after one step
    p = np.array([10.0])
    RMSprop(learning_rate=0.1).apply([p], [p.copy()])
    assert p[0] == pytest.approx(9.683772, abs=1e-6)


@pytest.mark.parametrize("momentum,centered", [(0.0, False), (0.5, False), (0.0, True),
                                               (0.5, True)])
def test_rmsprop_by_hand(momentum, centered):
    lr, rho, eps = 0.01, 0.9, 1e-7

    def step(x, g, s, t):
        s["v"] = rho * s.get("v", 0.0) + (1 - rho) * g * g
        denominator = s["v"] + eps
        if centered:
            s["a"] = rho * s.get("a", 0.0) + (1 - rho) * g
            denominator = s["v"] - s["a"] ** 2 + eps
        inc = lr * g / math.sqrt(denominator)
        if momentum:
            s["m"] = momentum * s.get("m", 0.0) + inc
            return x - s["m"]
        return x - inc

    close(run(RMSprop(lr, momentum=momentum, centered=centered), 4), by_hand(step, 4))


def test_adagrad_by_hand_starts_from_keras_accumulator():
    lr, eps = 0.1, 1e-7

    def step(x, g, s, t):
        s["acc"] = s.get("acc", 0.1) + g * g
        return x - lr * g / math.sqrt(s["acc"] + eps)

    close(run(Adagrad(lr), 4), by_hand(step, 4))


def adam_hand(lr, wd):
    b1, b2, eps = 0.9, 0.999, 1e-7

    def step(x, g, s, t):
        x = x - x * wd * lr
        s["m"] = s.get("m", 0.0) + (g - s.get("m", 0.0)) * (1 - b1)
        s["v"] = s.get("v", 0.0) + (g * g - s.get("v", 0.0)) * (1 - b2)
        alpha = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        return x - alpha * s["m"] / (math.sqrt(s["v"]) + eps)

    return step


def test_adamw_decays_before_the_adam_step_keras_default():
    assert AdamW().weight_decay == 0.004
    close(run(AdamW(0.01, weight_decay=0.1), 4), by_hand(adam_hand(0.01, 0.1), 4))
    close(run(Adam(0.01), 4), by_hand(adam_hand(0.01, 0.0), 4))


def test_nadam_by_hand():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-7
    u_products = {}

    def step(x, g, s, t):
        u_t = b1 * (1 - 0.5 * 0.96**t)
        u_next = b1 * (1 - 0.5 * 0.96 ** (t + 1))
        u_products.setdefault(t, (u_products.get(t - 1, 1.0)) * u_t)
        up = u_products[t]
        s["m"] = s.get("m", 0.0) + (g - s.get("m", 0.0)) * (1 - b1)
        s["v"] = s.get("v", 0.0) + (g * g - s.get("v", 0.0)) * (1 - b2)
        m_hat = u_next * s["m"] / (1 - up * u_next) + (1 - u_t) * g / (1 - up)
        v_hat = s["v"] / (1 - b2**t)
        return x - lr * m_hat / (math.sqrt(v_hat) + eps)

    close(run(Nadam(lr), 5), by_hand(step, 5))


def test_clipnorm_global_clipnorm_and_clipvalue():
    g1, g2 = np.array([3.0, 4.0]), np.array([12.0])  # norms 5 and 12, together 13
    for opt, e1, e2 in [
        (SGD(1.0, clipnorm=1.0), g1 / 5, g2 / 12),
        (SGD(1.0, global_clipnorm=1.0), g1 / 13, g2 / 13),
        (SGD(1.0, clipvalue=3.5), np.array([3.0, 3.5]), np.array([3.5])),
        (SGD(1.0, clipnorm=100.0), g1, g2),  # within the norm: unchanged
    ]:
        p1, p2 = np.zeros(2), np.zeros(1)
        grads = [g1.copy(), g2.copy()]
        opt.apply([p1, p2], grads)
        close(-p1, e1)
        close(-p2, e2)
        close(grads[0], g1)  # the model's gradients are not modified
    with pytest.raises(ValueError, match="at most one"):
        Adam(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="clipnorm"):
        RMSprop(clipnorm=-1.0)


def test_clipping_on_every_optimizer_keeps_dtype():
    for cls in (SGD, Adam, AdamW, RMSprop, Adagrad, Nadam):
        for kw in ({"clipnorm": 0.5}, {"global_clipnorm": 0.5}, {"clipvalue": 0.1}):
            p = np.ones(3, np.float32)
            cls(**kw).apply([p], [np.full(3, 10.0, np.float32)])
            assert p.dtype == np.float32 and np.all(p < 1)


def test_schedules_follow_keras_formulas():
    e = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert e(0) == 0.1 and e(10) == pytest.approx(0.05) and e(5) == pytest.approx(0.1 * 0.5**0.5)
    es = schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True)
    assert es(9) == 0.1 and es(10) == pytest.approx(0.05)
    i = schedules.InverseTimeDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert i(10) == pytest.approx(0.1 / 1.5) and i(5) == pytest.approx(0.1 / 1.25)
    assert schedules.InverseTimeDecay(0.1, 10, 0.5, staircase=True)(19) == pytest.approx(0.1 / 1.5)
    pw = schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    assert [pw(s) for s in (0, 10, 11, 20, 21, 1000)] == [1.0, 1.0, 0.5, 0.5, 0.1, 0.1]
    c = schedules.CosineDecay(0.1, decay_steps=100, alpha=0.1)
    assert c(0) == pytest.approx(0.1) and c(100) == pytest.approx(0.01) == c(500)
    assert c(50) == pytest.approx(0.1 * (0.9 * 0.5 + 0.1))
    w = schedules.CosineDecay(0.0, decay_steps=100, warmup_target=0.2, warmup_steps=10)
    assert w(0) == 0.0 and w(5) == pytest.approx(0.1) and w(10) == pytest.approx(0.2)
    assert w(60) == pytest.approx(0.1) and w(110) == pytest.approx(0.0, abs=1e-15)


def test_schedule_is_evaluated_at_the_iteration_count_before_each_step():
    seen = []
    opt = SGD(schedules.LambdaSchedule(lambda step: seen.append(step) or 0.1 / (step + 1)))
    got = run(opt, 3)
    assert seen[-3:] == [0, 1, 2] and seen[0] == 0 and opt.iterations == 3
    x, expected = np.array(P0), []
    for t in range(3):
        x = x - 0.1 / (t + 1) * 2 * x
        expected.append(x)
    close(got, expected)
    # Keras: a plain callable is called with no arguments
    opt = Adam(lambda: 0.01)
    assert opt.current_learning_rate() == 0.01


def test_learning_rate_set_later_is_checked_at_the_next_step_and_numpy_scalars_accepted():
    opt = SGD(np.float32(0.1), momentum=np.float64(0.9))
    assert opt.learning_rate == np.float32(0.1)
    opt.learning_rate = -1.0
    with pytest.raises(ValueError, match="learning_rate must be a positive finite number"):
        run(opt, 1)
    opt.learning_rate = schedules.LambdaSchedule(lambda s: -s)
    with pytest.raises(ValueError, match="at step 0"):
        run(opt, 1)


def test_state_round_trips_and_resumes_identically():
    a = Nadam(0.01)
    run(a, 3)
    state = a.get_state()
    assert int(state["iterations"]) == 3 and "m/0" in state and "u_product" in state
    assert len(a.variables()) == len(state)
    b = Nadam(0.01)
    b.set_state(state)
    pa, pb = np.array([0.3, 0.2, -0.1]), np.array([0.3, 0.2, -0.1])
    a.apply([pa], [2 * pa])
    b.apply([pb], [2 * pb])
    assert np.array_equal(pa, pb)
    assert b.u_product == a.u_product and b.iterations == a.iterations == 4


def test_unknown_optimizer_lists_valid_names():
    with pytest.raises(ValueError, match=r"'adagrad'.*'rmsprop'"):
        get_optimizer("adadelta")
    assert isinstance(get_optimizer("RMSprop"), RMSprop)
    assert isinstance(get_optimizer("adamw"), AdamW)
    with pytest.raises(ValueError, match="unknown learning-rate schedule.*ExponentialDecay"):
        schedules.get_schedule("StepDecay")
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.ExponentialDecay(0.1, 0, 0.5)


def test_state_arrays_are_live_and_load_state_undoes_a_step():
    """What a step's undo does (copy state_arrays before, load_state after): the next
    step then repeats the undone one exactly, Nadam's scalar state included."""
    opt = Nadam(0.01)
    run(opt, 2)
    p = np.array([0.3, -0.2, 0.1])
    live = opt.state_arrays()
    assert set(live) == {"m/0", "v/0", "u_product"} and live["u_product"].shape == ()
    saved, iterations = {k: v.copy() for k, v in live.items()}, opt.iterations
    before = p.copy()
    opt.apply([p], [2 * p])
    first = p.copy()
    assert opt.state_arrays()["u_product"] != saved["u_product"]
    p[...] = before
    opt.load_state(iterations, saved)
    opt.apply([p], [2 * p])
    assert np.array_equal(p, first)
    with pytest.raises(ValueError, match="unknown optimizer state 'velocity'"):
        opt.load_state(0, {"velocity": np.zeros(3)})
    with pytest.raises(ValueError, match="positive finite"):
        SGD(float("inf"))
