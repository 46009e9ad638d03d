"""The SimpleRNN and GRU kernels give the same bits whether numba compiled them or loaded
them from its on-disk cache (they inline the LSTM kernels' sigmoid and tanh, so this also
covers those as inlined here).

Two fresh interpreters run the same fixed-seed float32 steps through every kernel: the first
with an empty ``NUMBA_CACHE_DIR`` (numba compiles), the second with that directory, now
warm (numba loads). The SHA-256 digests of all outputs must be equal. Only
``scratchnet.kernels`` is imported.
"""

from test_kernel_cache_reproducibility import CHILD_PRELUDE, assert_compiled_and_cached_agree

CHILD = CHILD_PRELUDE + r"""
from scratchnet.kernels import gru, simple_rnn

n, h = 16, 24
for act in range(4):
    zx, zh = (3 * rng.standard_normal((n, h))).astype(F), rng.standard_normal((n, h)).astype(F)
    for variant in ("_serial", "_parallel"):
        out, dz = np.empty((n, h), F), np.empty((n, h), F)
        run(getattr(simple_rnn, "simple_rnn_forward_step" + variant), zx, zh, act, out)
        run(getattr(simple_rnn, "simple_rnn_infer_step" + variant), zx + zh, act, out)
        run(getattr(simple_rnn, "simple_rnn_backward_step" + variant), zx, zh, out, act, dz)
zx, zh = (3 * rng.standard_normal((n, 3 * h))).astype(F), rng.standard_normal((n, 3 * h)).astype(F)
b1, h_prev = rng.standard_normal(3 * h).astype(F), np.tanh(rng.standard_normal((n, h))).astype(F)
for variant in ("_serial", "_parallel"):
    gates, a, hn = np.empty((n, 3 * h), F), np.empty((n, h), F), np.empty((n, h), F)
    run(getattr(gru, "gru_forward_step" + variant), zx, zh, b1, h_prev, gates, a, hn)
    run(getattr(gru, "gru_infer_step" + variant), zx, zh, b1, h_prev.copy())
    dzx, dzh, carry = np.empty((n, 3 * h), F), np.empty((n, 3 * h), F), np.empty((n, h), F)
    run(getattr(gru, "gru_backward_step" + variant), a, hn, a, gates, a, h_prev, dzx, dzh, carry)
"""


def test_compiled_and_cached_rnn_kernels_give_the_same_bits(tmp_path):
    assert_compiled_and_cached_agree(CHILD, tmp_path)
