"""Kernel results do not depend on whether numba compiled a kernel or loaded it from its
on-disk cache (issue 15, item 4: with ``fastmath={"contract"}`` LLVM fused a different
``a * b + c`` in each build, and the same LSTM training gave different weights).

Two fresh interpreters run the same fixed-seed float32 workload through the kernels: the
first with an empty ``NUMBA_CACHE_DIR`` (numba compiles every kernel), the second with that
directory, now warm (numba loads them). The SHA-256 digests of all outputs must be equal.
Only ``scratchnet.kernels`` is imported, so nothing else of scratchnet is involved.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# What every child script starts with (the family tests add their kernels after it): run a
# kernel on fixed-seed float32 arrays and fold every array it was given into the digest.
CHILD_PRELUDE = r"""
import hashlib, json
import numpy as np

rng = np.random.default_rng(20261204)
F = np.float32
digest, kernels = hashlib.sha256(), []

def run(kernel, *args):
    kernels.append(kernel)
    kernel(*args)
    for a in args:
        if isinstance(a, np.ndarray):
            digest.update(a.tobytes())
"""

# The child: a few LSTM training steps (forward over a short sequence, then BPTT), an
# inference pass, and one call of each other kernel, on fixed random float32 data.
CHILD = r"""
import hashlib, json
import numpy as np
from scratchnet.kernels import adam, bias_act, im2col, lstm, maxpool, small_k, softmax_ce

rng = np.random.default_rng(20261204)
F = np.float32
digest = hashlib.sha256()
kernels = []

def run(fn, *args):
    kernels.append(fn)
    fn(*args)

def keep(*arrays):
    for a in arrays:
        digest.update(np.ascontiguousarray(a).tobytes())

n, d, h, steps = 6, 5, 8, 4
W = (0.3 * rng.standard_normal((d, 4 * h))).astype(F)
U = (0.3 * rng.standard_normal((h, 4 * h))).astype(F)
xs = rng.standard_normal((steps, n, d)).astype(F)
m, v = np.zeros_like(W), np.zeros_like(W)
for variant in ("_parallel", "_serial"):
    forward = getattr(lstm, "lstm_forward_step" + variant)
    backward = getattr(lstm, "lstm_backward_step" + variant)
    infer = getattr(lstm, "lstm_infer_step" + variant)
    for it in range(3):  # a few training steps: forward, BPTT, an Adam update of W
        hs, cs, cache = [np.zeros((n, h), F)], [np.zeros((n, h), F)], []
        for t in range(steps):
            gates, c, tanh_c, hh = (np.empty((n, 4 * h), F), np.empty((n, h), F),
                                    np.empty((n, h), F), np.empty((n, h), F))
            run(forward, xs[t] @ W, hs[-1] @ U, cs[-1], gates, c, tanh_c, hh)
            cache.append((gates, cs[-1], tanh_c))
            hs.append(hh)
            cs.append(c)
        dh, dc = hs[-1] - 0.5, np.zeros((n, h), F)
        dW = np.zeros_like(W)
        for t in reversed(range(steps)):
            gates, c_prev, tanh_c = cache[t]
            dz, dc_prev = np.empty((n, 4 * h), F), np.empty((n, h), F)
            run(backward, dh, dc, gates, c_prev, tanh_c, dz, dc_prev)
            dW += xs[t].T @ dz
            dh, dc = dz @ U.T, dc_prev
            keep(dz, dc_prev)
        run(getattr(adam, "adam_update" + variant), W.reshape(-1), dW.reshape(-1),
            m.reshape(-1), v.reshape(-1), 1e-2, 0.9, 0.999, 1e-7)
        keep(W, m, v, *hs, *cs)
    c, hh = np.zeros((n, h), F), np.zeros((n, h), F)
    for t in range(steps):
        run(infer, xs[t] @ W + hh @ U, c, hh)
    keep(c, hh)

# One call of each other kernel, serial twins only: they share their per-row code with
# the parallel kernels, and each further compile costs seconds.
x = rng.standard_normal((2, 6, 6, 2)).astype(F)
cols = np.empty((2, 4, 4, 18), F)
run(im2col.im2col_serial, x, 3, 3, 1, 1, 0, 0, cols)
run(im2col.im2col_valid_serial, x, 3, 3, np.empty_like(cols))
dx = np.empty_like(x)
run(im2col.col2im_serial, cols, 3, 3, 1, 1, 0, 0, dx)
z = cols.reshape(-1, 18) @ rng.standard_normal((18, 4)).astype(F)
b = rng.standard_normal(4).astype(F)
run(bias_act.bias_relu_serial, z, b)
dy = rng.standard_normal(z.shape).astype(F)
dz, db = np.empty_like(dy), np.empty_like(b)
run(bias_act.relu_bias_backward_serial, dy, z, dz, db)
dW, db2 = np.empty((18, 4), F), np.empty_like(b)
run(small_k.relu_weight_grads_serial, dy, z, cols.reshape(-1, 18), dW, db2)
y, arg = np.empty((2, 2, 2, 4), F), np.empty((2, 2, 2, 4), np.int32)
run(maxpool.maxpool_forward_serial, z.reshape(2, 4, 4, 4), 2, 2, 2, 2, 0, 0, y, arg)
dpool = np.empty((2, 4, 4, 4), F)
run(maxpool.maxpool_backward_serial, y, arg, dpool)
logits = rng.standard_normal((5, 7)).astype(F)
grad = np.empty_like(logits)
losses = softmax_ce.softmax_cross_entropy(logits, np.arange(5) % 7, grad, 5)
kernels.append(softmax_ce.softmax_cross_entropy)
keep(cols, dx, z, dz, db, dW, db2, y, arg, dpool, losses, grad)

"""


# Appended to every child: the outputs' digest and the kernels' cache counters.
REPORT = r"""
unique = {id(k): k for k in kernels}.values()
print(json.dumps({
    "digest": digest.hexdigest(),
    "misses": sum(sum(k.stats.cache_misses.values()) for k in unique),
    "hits": sum(sum(k.stats.cache_hits.values()) for k in unique),
}))
"""


def run_child(child, cache_dir):
    """Run ``child`` (which fills ``digest`` and ``kernels``) in a fresh interpreter."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    done = subprocess.run([sys.executable, "-c", child + REPORT], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def assert_compiled_and_cached_agree(child, cache_dir):
    """``child`` gives the same digest compiling into an empty cache and loading from it."""
    compiled = run_child(child, cache_dir)  # empty cache directory: numba compiles
    loaded = run_child(child, cache_dir)  # the same directory, now warm: numba loads
    assert compiled["misses"] > 0 and compiled["hits"] == 0, compiled
    assert loaded["hits"] > 0 and loaded["misses"] == 0, loaded
    assert compiled["digest"] == loaded["digest"]


def test_compiled_and_cached_kernels_give_the_same_bits(tmp_path):
    assert_compiled_and_cached_agree(CHILD, tmp_path)
