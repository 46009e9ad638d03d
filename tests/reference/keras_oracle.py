"""An outside oracle: Keras 3 itself (on its PyTorch backend, in float64) against
scratchnet's sample and class weights, weighted metrics, train/test_on_batch, fit's logs,
and the step-by-step rules of EarlyStopping and ReduceLROnPlateau.

Run by ``test_against_keras.py`` in a child process whose environment sets
KERAS_BACKEND=torch (the test process never imports torch or keras). Prints one line per
case and exits non-zero on the first disagreement.
"""

import keras
import numpy as np
import torch

from scratchnet import SGD, Input, Sequential
from scratchnet.callbacks import EarlyStopping, ReduceLROnPlateau
from scratchnet.layers import Dense
from scratchnet.losses import SparseCategoricalCrossentropy

keras.backend.set_floatx("float64")
# Keras's weights and variables are float64 here, yet part of its step still runs in
# float32: its logged figures come out rounded to float32, and its gradients agree with
# scratchnet's float64 ones to ~5e-8 of their size. Everything is compared at 1e-6, far
# below what a wrong weighting or rule would change (percents). Training uses a learning
# rate exact in float32 (0.125), the variable Keras keeps it in.
TOL = LOGS = RATES = 1e-6


def check(name, ours, theirs, tol=TOL):
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    err = float(np.max(np.abs(ours - theirs), initial=0) /
                max(np.max(np.abs(ours) + np.abs(theirs), initial=0), 1e-30))
    print(f"{name}: {err:.1e}")
    if not err <= tol:
        raise SystemExit(f"{name}: scratchnet {ours} vs Keras {theirs} (error {err:.2e})")


def same(name, ours, theirs):
    print(f"{name}: {ours} vs {theirs}")
    if ours != theirs:
        raise SystemExit(f"{name}: scratchnet {ours} vs Keras {theirs}")


rng = np.random.default_rng(0)
x = rng.standard_normal((10, 4))
y = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 1])
w = rng.uniform(0, 2, 10)

# -- the weighted loss and its gradient against PyTorch's autograd ---------------------------
z = rng.standard_normal((7, 5))
labels, wz = rng.integers(0, 5, 7), rng.uniform(0, 2, 7)
zt = torch.tensor(z, requires_grad=True)
per_sample = torch.nn.functional.cross_entropy(zt, torch.tensor(labels), reduction="none")
((per_sample * torch.tensor(wz)).sum() / len(z)).backward()
value, grad = SparseCategoricalCrossentropy(from_logits=True)(z, labels, sample_weight=wz)
check("weighted crossentropy vs torch", value,
      ((per_sample * torch.tensor(wz)).sum() / len(z)).item())
check("weighted crossentropy gradient vs torch", grad, zt.grad.numpy())


# -- train_on_batch, test_on_batch, evaluate and fit --------------------------------------------
def pair(loss):
    ours = Sequential([Input((4,)), Dense(5, activation="relu"), Dense(3, activation="softmax")],
                      dtype="float64", seed=3)
    ours.compile(SGD(0.125), loss, metrics=["accuracy"], weighted_metrics=["accuracy"])
    ours.build((4,))
    theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="relu"),
                               keras.layers.Dense(3, activation="softmax")])
    theirs.compile(keras.optimizers.SGD(0.125), loss, metrics=["accuracy"],
                   weighted_metrics=["accuracy"])
    theirs.set_weights(ours.get_weights())
    return ours, theirs


def check_dicts(name, ours, theirs):
    same(f"{name} keys", sorted(ours), sorted(theirs))
    for key in ours:
        check(f"{name} {key}", ours[key], theirs[key], LOGS)


for loss, target in [("sparse_categorical_crossentropy", y),
                     ("categorical_crossentropy", np.eye(3)[y])]:
    for weights in ({"sample_weight": w}, {"class_weight": {0: 0.5, 2: 3.0}}):
        name = f"{loss} {next(iter(weights))}"
        ours, theirs = pair(loss)
        check_dicts(f"{name} train_on_batch",
                    ours.train_on_batch(x, target, return_dict=True, **weights),
                    theirs.train_on_batch(x, target, return_dict=True, **weights))
        for i, (a, b) in enumerate(zip(ours.get_weights(), theirs.get_weights(), strict=True)):
            check(f"{name} weights[{i}] after the step", a, b)
        check_dicts(f"{name} evaluate",
                    ours.evaluate(x, target, sample_weight=w, return_dict=True),
                    theirs.evaluate(x, target, sample_weight=w, return_dict=True, verbose=0))
        check_dicts(f"{name} test_on_batch",
                    ours.test_on_batch(x, target, sample_weight=w, return_dict=True),
                    theirs.test_on_batch(x, target, sample_weight=w, return_dict=True))

ours, theirs = pair("sparse_categorical_crossentropy")
kw = dict(sample_weight=w, batch_size=4, epochs=2, shuffle=False, verbose=0,
          validation_data=(x, y, w))
got, expected = ours.fit(x, y, **kw).history, theirs.fit(x, y, **kw).history
for key in expected:
    check(f"fit history {key}", got[key], expected[key], LOGS)
for i, (a, b) in enumerate(zip(ours.get_weights(), theirs.get_weights(), strict=True)):
    check(f"fit weights[{i}]", a, b)


# -- the callbacks' rules, fed the same sequences ----------------------------------------------
def drive(callback, model, values, monitor="val_loss"):
    """Epochs run, and the learning rate after each, as the callback decides."""
    callback.set_model(model)
    model.stop_training = False
    callback.on_train_begin()
    rates = []
    for epoch, value in enumerate(values):
        callback.on_epoch_end(epoch, {monitor: value})
        rates.append(float(model.optimizer.learning_rate))
        if model.stop_training:
            break
    return rates


SEQUENCES = [[1.0, 0.9, 0.95, 0.92, 0.91, 0.93], [1.0, 0.96, 0.9, 0.97, 0.99],
             [1.0, 0.94, 0.92, 0.9, 0.88], [1.0, 1.1, 1.2, 1.3], [0.4, 0.45, 0.41, 0.42, 0.5],
             [5.0, 1.0, 3.0, 4.0, 6.0, 7.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]]
STOPPING = [{"patience": 2}, {"patience": 1, "min_delta": 0.05}, {"patience": 0},
            {"patience": 2, "baseline": 0.5}, {"patience": 1, "start_from_epoch": 2},
            {"patience": 3, "baseline": 0.95, "min_delta": 0.01}]
for kwargs in STOPPING:
    for values in SEQUENCES:
        ours, theirs = pair("sparse_categorical_crossentropy")
        a, b = EarlyStopping(**kwargs), keras.callbacks.EarlyStopping(**kwargs)
        same(f"EarlyStopping{kwargs} on {values}",
             (len(drive(a, ours, values)), a.stopped_epoch, a.best),
             (len(drive(b, theirs, values)), b.stopped_epoch, b.best))
PLATEAU = [{"patience": 2, "factor": 0.5, "cooldown": 1, "min_lr": 0.02},
           {"patience": 1, "min_delta": 0.05}, {"patience": 0, "factor": 0.3},
           {"patience": 2, "cooldown": 2, "mode": "max"}]
for kwargs in PLATEAU:
    for values in SEQUENCES:
        ours, theirs = pair("sparse_categorical_crossentropy")
        check(f"ReduceLROnPlateau{kwargs} on {values}",
              drive(ReduceLROnPlateau(**kwargs), ours, values),
              drive(keras.callbacks.ReduceLROnPlateau(**kwargs), theirs, values), RATES)
print("all agree")
