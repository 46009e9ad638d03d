"""The augmentation kernel gives the same bits whether numba compiled it or loaded it from
its on-disk cache: two fresh interpreters run the same fixed-seed float32 forward and
backward passes (with and without a displacement field), the first
with an empty ``NUMBA_CACHE_DIR``, the second with it warm. Only ``scratchnet.kernels``
is imported."""

from test_kernel_cache_reproducibility import CHILD_PRELUDE, assert_compiled_and_cached_agree

CHILD = CHILD_PRELUDE + r"""
from scratchnet.kernels import affine_sample

n, h, w, c = 5, 11, 9, 2
x = rng.standard_normal((n, h, w, c)).astype(F)
m = (np.array([[1, 0, 0], [0, 1, 0]]) + 0.3 * rng.standard_normal((n, 2, 3)) * [1, 1, 4]).astype(F)
d = (1.5 * rng.standard_normal((n, h, w, 2))).astype(F)
dy = rng.standard_normal(x.shape).astype(F)
# Serial twins only, as the main test: they run the parallel kernels' per-image code, and
# each further compile costs seconds.
for disp in (None, d):
    run(affine_sample.affine_sample_forward_serial, x, m, disp, F(0.5), np.empty_like(x))
run(affine_sample.affine_sample_backward_serial, dy, m, d, np.empty_like(x))
"""


def test_compiled_and_cached_augment_kernel_gives_the_same_bits(tmp_path):
    assert_compiled_and_cached_agree(CHILD, tmp_path)
