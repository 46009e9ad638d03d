"""Bidirectional: how the outputs of a forward and a backward recurrent layer are merged.

The backward layer reads the sequence from its last step (``go_backwards=True``), so its
sequence output is in reversed time order; ``reverse_time`` puts it back in forward
order before the merge, as Keras's ``Bidirectional`` does.
"""

import numpy as np

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def reverse_time(y):
    """(N, T, H) -> the same steps in the opposite order (its own backward, too)."""
    return y[:, ::-1]


def merge_forward(y_fwd, y_bwd, mode="concat"):
    """Merge the two directions' outputs, of shape (N, ..., H) each.

    Parameters
    ----------
    y_fwd, y_bwd : ndarray, shape (N, ..., H), in forward time order
    mode : {'concat', 'sum', 'mul', 'ave', None}
        None keeps both: the result is the list ``[y_fwd, y_bwd]``.

    Returns
    -------
    y : ndarray, shape (N, ..., 2H) for 'concat', (N, ..., H) otherwise
    cache : dict
    """
    if mode == "concat":
        y = np.concatenate([y_fwd, y_bwd], axis=-1)
    elif mode == "sum":
        y = y_fwd + y_bwd
    elif mode == "mul":
        y = y_fwd * y_bwd
    elif mode == "ave":
        y = (y_fwd + y_bwd) / 2
    elif mode is None:
        y = [y_fwd, y_bwd]
    else:
        raise ValueError(f"unknown merge mode {mode!r}; choose one of {MERGE_MODES}")
    return y, {"mode": mode, "y_fwd": y_fwd, "y_bwd": y_bwd}


def merge_backward(dy, cache):
    """Split dL/dy back into the two directions' gradients.

    Returns
    -------
    dy_fwd, dy_bwd : ndarray, shape (N, ..., H)
    """
    mode = cache["mode"]
    if mode == "concat":
        H = cache["y_fwd"].shape[-1]
        return dy[..., :H], dy[..., H:]
    if mode == "sum":
        return dy, dy
    if mode == "mul":
        # In the forward pass this was y = y_fwd * y_bwd.
        return dy * cache["y_bwd"], dy * cache["y_fwd"]
    if mode == "ave":
        return dy / 2, dy / 2
    return dy[0], dy[1]  # mode None: one gradient per output
