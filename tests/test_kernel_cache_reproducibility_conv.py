"""The Winograd and one-pass conv kernels give the same bits whether numba compiled them
or loaded them from its on-disk cache: two fresh interpreters run the same fixed-seed
float32 calls, the first with an empty ``NUMBA_CACHE_DIR``, the second with it warm. A
file of its own, so that the test run can place its cold compiles on the other worker.
Only ``scratchnet.kernels`` is imported."""

from test_kernel_cache_reproducibility import CHILD_PRELUDE, assert_compiled_and_cached_agree

CHILD = CHILD_PRELUDE + r"""
from scratchnet.kernels import winograd, winograd_adjoint
x = rng.standard_normal((2, 8, 8, 3)).astype(F)
m = rng.standard_normal((16, 18, 4)).astype(F)
planes, conv = np.empty((16, 18, 3), F), np.empty((2, 6, 6, 4), F)
pooled, tplanes, dx = np.empty((2, 3, 3, 4), F), np.empty((16, 18, 4), F), np.empty_like(x)
run(winograd.winograd_input_serial, x, 3, 3, planes)
run(winograd.winograd_output_serial, m, 3, 3, conv)
run(winograd.winograd_output_pool_serial, m, 3, 3, pooled)
run(winograd_adjoint.winograd_output_adjoint_serial, conv, 3, 3, tplanes)
run(winograd_adjoint.winograd_input_adjoint_serial, planes, 3, 3, dx)  # run() digests

from scratchnet.kernels import conv_pool
for channels in (1, 2):  # the one-channel path and the general one
    x = rng.standard_normal((2, 8, 7, channels)).astype(F)
    W = rng.standard_normal((3, 3, channels, 4)).astype(F)
    out = np.empty((2, 3, 2, 4), F)
    run(conv_pool.conv3x3_maxpool_serial, x, W, out)
x1, W9 = rng.standard_normal((2, 8, 7)).astype(F), rng.standard_normal((9, 4)).astype(F)
b, arg = rng.standard_normal(4).astype(F), np.empty((2, 3, 2, 4), np.uint8)
run(conv_pool.conv3x3_relu_maxpool, x1, W9, b, out, arg)  # training, one channel
dW, db = np.empty_like(W9), np.empty_like(b)
run(conv_pool.conv3x3_maxpool_grads, x1, arg, out, dW, db)  # out as the gradient
"""


def test_compiled_and_cached_conv_kernels_give_the_same_bits(tmp_path):
    assert_compiled_and_cached_agree(CHILD, tmp_path)
