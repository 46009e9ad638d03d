"""SimpleRNN (Elman) as one time step forward and backward, plus the loops over time (BPTT).

Keras layout: W (D, H), U (H, H), b (H,); h_t = act(x_t @ W + h_{t-1} @ U + b).
"""

import numpy as np

from .activations import (
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    tanh_backward,
    tanh_forward,
)

#: The cell activations Keras's SimpleRNN is used with: name -> (forward, backward).
ACTIVATIONS = {
    "tanh": (tanh_forward, tanh_backward),
    "relu": (relu_forward, relu_backward),
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "linear": (lambda z: (z, None), lambda dy, cache: dy),
}


def simple_rnn_step_forward(x_t, h_prev, W, U, b, activation="tanh"):
    """One step: h = act(x_t @ W + h_prev @ U + b).

    Parameters
    ----------
    x_t : ndarray, shape (N, D)
    h_prev : ndarray, shape (N, H)
    W : ndarray, shape (D, H)
    U : ndarray, shape (H, H)
    b : ndarray, shape (H,)
    activation : {'tanh', 'relu', 'sigmoid', 'linear'}

    Returns
    -------
    h : ndarray, shape (N, H)
    cache : dict
    """
    act_forward, _ = ACTIVATIONS[activation]
    h, act_cache = act_forward(x_t @ W + h_prev @ U + b)
    return h, {"x_t": x_t, "h_prev": h_prev, "W": W, "U": U, "activation": activation,
               "act": act_cache}


def simple_rnn_step_backward(dh, cache):
    """Gradients of one step.

    Parameters
    ----------
    dh : ndarray, shape (N, H)
        dL/dh of this step: from the output and from step t+1.

    Returns
    -------
    dx_t : ndarray, shape (N, D)
    dh_prev : ndarray, shape (N, H)
    dW, dU, db : shapes of W, U, b
    """
    _, act_backward = ACTIVATIONS[cache["activation"]]
    # In the forward pass this was h = act(z); so dz = dh * act'(z).
    dz = act_backward(dh, cache["act"])
    # In the forward pass this was z = x_t @ W + h_prev @ U + b.
    return (dz @ cache["W"].T, dz @ cache["U"].T, cache["x_t"].T @ dz, cache["h_prev"].T @ dz,
            dz.sum(axis=0))


def simple_rnn_forward(x, W, U, b, activation="tanh", return_sequences=False,
                       go_backwards=False, h0=None):
    """Run ``simple_rnn_step_forward`` over the T steps of x.

    Parameters
    ----------
    x : ndarray, shape (N, T, D)
    W, U, b, activation : as in ``simple_rnn_step_forward``
    return_sequences : bool
        Return every step's h, or only the last one.
    go_backwards : bool
        Read x from its last step to its first; the outputs stay in that processing
        order (as Keras: only ``Bidirectional`` flips them back).
    h0 : ndarray, shape (N, H), default zeros

    Returns
    -------
    y : ndarray, shape (N, T, H) if return_sequences else (N, H)
    cache : dict with the step caches; ``cache["final_state"]`` is ``(h_T,)``
    """
    N, T, _ = x.shape
    if T < 1:
        raise ValueError(f"a SimpleRNN needs at least one time step, got x of shape {x.shape}")
    h = np.zeros((N, U.shape[0]), dtype=x.dtype) if h0 is None else h0
    xs = x[:, ::-1] if go_backwards else x
    hs, steps = [], []
    for t in range(T):
        h, step = simple_rnn_step_forward(xs[:, t], h, W, U, b, activation)
        hs.append(h)
        steps.append(step)
    y = np.stack(hs, axis=1) if return_sequences else h
    return y, {"steps": steps, "return_sequences": return_sequences,
               "go_backwards": go_backwards, "final_state": (h,)}


def simple_rnn_backward_with_state(dy, cache, dh_last=None):
    """BPTT that also returns dL/dh0: run the step backward T times and add up dW, dU, db.

    Parameters
    ----------
    dy : ndarray, shape (N, T, H) or (N, H), as the forward's y
    dh_last : ndarray, shape (N, H), optional
        dL/dh_T through the returned final state (``return_state``), if any.

    Returns
    -------
    dx : ndarray, shape (N, T, D)
    dh0 : ndarray, shape (N, H)
    dW, dU, db : shapes of W, U, b
    """
    steps = cache["steps"]
    T = len(steps)
    if cache["return_sequences"]:
        dy_seq = dy
    else:  # only the last step's h was the output
        dy_seq = np.zeros((dy.shape[0], T, dy.shape[1]), dtype=dy.dtype)
        dy_seq[:, -1] = dy
    dh_next = np.zeros_like(dy_seq[:, 0]) if dh_last is None else dh_last  # via step t+1
    dW = dU = db = 0
    dxs = [None] * T
    for t in reversed(range(T)):
        dxs[t], dh_next, dW_t, dU_t, db_t = simple_rnn_step_backward(dy_seq[:, t] + dh_next,
                                                                     steps[t])
        dW, dU, db = dW + dW_t, dU + dU_t, db + db_t
    dx = np.stack(dxs, axis=1)
    # In the forward pass this was xs = x[:, ::-1]; so dx = dxs[:, ::-1].
    return (dx[:, ::-1] if cache["go_backwards"] else dx), dh_next, dW, dU, db


def simple_rnn_backward(dy, cache):
    """BPTT: ``simple_rnn_backward_with_state`` without the initial state's gradient.

    Returns
    -------
    dx : ndarray, shape (N, T, D)
    dW, dU, db : shapes of W, U, b
    """
    dx, _, dW, dU, db = simple_rnn_backward_with_state(dy, cache)
    return dx, dW, dU, db
