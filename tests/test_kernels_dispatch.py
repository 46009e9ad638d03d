"""Each dispatcher ``foo`` picks ``foo_parallel`` or ``foo_serial`` by the size threshold of
its module, and always the twin on a thread inside ``serial_kernels()``; it returns what
the kernel returns. (That the two give the same bits is tested in each kernel's file.)"""

import numpy as np
import pytest

from scratchnet.kernels import (
    adam,
    bias_act,
    conv_pool,
    im2col,
    lstm,
    maxpool,
    small_k,
    winograd,
    winograd_adjoint,
)
from scratchnet.kernels.threads import serial_kernels

# (module, dispatcher, number of arguments, index of the argument whose size is the work,
#  threshold on that size; 1: no threshold, the pool whenever the thread may use it)
FAMILIES = [
    (im2col, "im2col", 8, 0, 1),
    (im2col, "im2col_valid", 4, 0, 1),
    (im2col, "col2im", 8, 0, 1),
    (conv_pool, "conv3x3_maxpool", 3, 0, bias_act.PARALLEL_MIN_ELEMENTS),
    (winograd, "winograd_input", 4, 0, bias_act.PARALLEL_MIN_ELEMENTS),
    (winograd, "winograd_output", 4, 0, bias_act.PARALLEL_MIN_ELEMENTS),
    (winograd, "winograd_output_pool", 4, 0, bias_act.PARALLEL_MIN_ELEMENTS),
    (winograd_adjoint, "winograd_output_adjoint", 4, 0,
     bias_act.PARALLEL_MIN_ELEMENTS),
    (winograd_adjoint, "winograd_input_adjoint", 4, 0,
     bias_act.PARALLEL_MIN_ELEMENTS),
    (maxpool, "maxpool_forward", 9, 0, 1),
    (maxpool, "maxpool_backward", 3, 0, 1),
    (bias_act, "bias_relu", 2, 0, bias_act.PARALLEL_MIN_ELEMENTS),
    (bias_act, "bias_add", 2, 0, bias_act.PARALLEL_MIN_ELEMENTS),
    (bias_act, "relu_bias_backward", 4, 0, bias_act.PARALLEL_MIN_ELEMENTS),
    (bias_act, "column_sums", 2, 0, bias_act.PARALLEL_MIN_ELEMENTS),
    (small_k, "relu_weight_grads", 5, 0, bias_act.PARALLEL_MIN_ELEMENTS),
    (lstm, "lstm_forward_step", 7, 2, lstm.PARALLEL_MIN_CELLS),
    (lstm, "lstm_infer_step", 3, 1, lstm.PARALLEL_MIN_CELLS),
    (lstm, "lstm_backward_step", 7, 3, lstm.PARALLEL_MIN_CELLS),
    (adam, "adam_update", 8, 0, adam.PARALLEL_MIN_ELEMENTS),
]


@pytest.mark.parametrize("module,name,nargs,work_arg,threshold", FAMILIES,
                         ids=[f[1] for f in FAMILIES])
def test_dispatcher_picks_by_size_and_thread(monkeypatch, module, name, nargs, work_arg,
                                             threshold):
    calls = []
    for variant in ("_parallel", "_serial"):
        monkeypatch.setattr(module, name + variant,
                            lambda *args, v=variant: calls.append((v, args)) or v)

    def call(size):
        args = [object()] * nargs
        args[work_arg] = np.empty(size, np.float32)
        result = getattr(module, name)(*args)
        variant, seen = calls.pop()
        assert seen == tuple(args)  # the arguments are passed on as they are
        assert result in (None, variant)  # in-place kernels return nothing, others their result
        return variant

    assert call(threshold) == "_parallel"
    if threshold > 1:
        assert call(threshold - 1) == "_serial"
    with serial_kernels():
        assert call(threshold) == "_serial"
    assert call(threshold) == "_parallel"  # leaving the block restores the thread's choice
