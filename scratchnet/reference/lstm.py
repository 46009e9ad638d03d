"""LSTM as one time step forward and backward, plus the loops over time (BPTT).

Keras layout: W (D, 4H), U (H, 4H), b (4H,), gate columns in the order [i | f | g | o].
"""

import numpy as np

from .activations import sigmoid


def lstm_step_forward(x_t, h_prev, c_prev, W, U, b):
    """One LSTM step.

    Parameters
    ----------
    x_t : ndarray, shape (N, D)
    h_prev, c_prev : ndarray, shape (N, H)
    W : ndarray, shape (D, 4H)
    U : ndarray, shape (H, 4H)
    b : ndarray, shape (4H,)

    Returns
    -------
    h, c : ndarray, shape (N, H)
    cache : dict
    """
    H = h_prev.shape[1]
    z = x_t @ W + h_prev @ U + b                          # (N, 4H)
    i = sigmoid(z[:, :H])                                 # input gate
    f = sigmoid(z[:, H:2 * H])                            # forget gate
    g = np.tanh(z[:, 2 * H:3 * H])                        # candidate cell
    o = sigmoid(z[:, 3 * H:])                             # output gate
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    h = o * tanh_c
    cache = {"x_t": x_t, "h_prev": h_prev, "c_prev": c_prev, "W": W, "U": U,
             "i": i, "f": f, "g": g, "o": o, "tanh_c": tanh_c}
    return h, c, cache


def lstm_step_backward(dh, dc, cache):
    """Gradients of one LSTM step.

    Parameters
    ----------
    dh : ndarray, shape (N, H)
        dL/dh of this step (from the output and from step t+1).
    dc : ndarray, shape (N, H)
        dL/dc arriving from step t+1 only; the path through h is added here.

    Returns
    -------
    dx_t : ndarray, shape (N, D)
    dh_prev, dc_prev : ndarray, shape (N, H)
    dW : ndarray, shape (D, 4H)
    dU : ndarray, shape (H, 4H)
    db : ndarray, shape (4H,)
    """
    i, f, g, o, tanh_c = cache["i"], cache["f"], cache["g"], cache["o"], cache["tanh_c"]
    # In the forward pass this was h = o * tanh(c); so c also gets dh * o * tanh'(c).
    do = dh * tanh_c
    dc_total = dc + dh * o * (1 - tanh_c * tanh_c)
    # In the forward pass this was c = f * c_prev + i * g.
    df = dc_total * cache["c_prev"]
    dc_prev = dc_total * f
    di = dc_total * g
    dg = dc_total * i
    # The gates were sigmoid (i, f, o) and tanh (g) of the columns of z.
    dz = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g * g),
                         do * o * (1 - o)], axis=1)
    # In the forward pass this was z = x_t @ W + h_prev @ U + b.
    dx_t = dz @ cache["W"].T
    dh_prev = dz @ cache["U"].T
    dW = cache["x_t"].T @ dz
    dU = cache["h_prev"].T @ dz
    db = dz.sum(axis=0)
    return dx_t, dh_prev, dc_prev, dW, dU, db


def lstm_forward(x, W, U, b, return_sequences=False, h0=None, c0=None, go_backwards=False):
    """Run ``lstm_step_forward`` over the T steps of x.

    Parameters
    ----------
    x : ndarray, shape (N, T, D)
    W, U, b : as in ``lstm_step_forward``
    return_sequences : bool
        Return every step's h, or only the last one.
    h0, c0 : ndarray, shape (N, H), default zeros
    go_backwards : bool
        Read x from its last step to its first; the outputs stay in that processing
        order (as Keras: only ``Bidirectional`` flips them back).

    Returns
    -------
    y : ndarray, shape (N, T, H) if return_sequences else (N, H)
    cache : dict with the step caches; ``cache["final_state"]`` is ``(h_T, c_T)``
    """
    N, T, _ = x.shape
    if T < 1:
        raise ValueError(f"an LSTM needs at least one time step, got x of shape {x.shape}")
    H = U.shape[0]
    h = np.zeros((N, H), dtype=x.dtype) if h0 is None else h0
    c = np.zeros((N, H), dtype=x.dtype) if c0 is None else c0
    xs = x[:, ::-1] if go_backwards else x
    hs, steps = [], []
    for t in range(T):
        h, c, step = lstm_step_forward(xs[:, t, :], h, c, W, U, b)
        hs.append(h)
        steps.append(step)
    y = np.stack(hs, axis=1) if return_sequences else h
    return y, {"steps": steps, "return_sequences": return_sequences,
               "go_backwards": go_backwards, "final_state": (h, c)}


def lstm_backward_with_state(dy, cache, dh_last=None, dc_last=None):
    """BPTT that also returns dL/dh0 and dL/dc0 (for an initial state given to the forward).

    Parameters
    ----------
    dy : ndarray, shape (N, T, H) or (N, H), as the forward's y
    dh_last, dc_last : ndarray, shape (N, H), optional
        dL/dh_T and dL/dc_T through the returned final states (``return_state``), if any.

    Returns
    -------
    dx : ndarray, shape (N, T, D)
    dh0, dc0 : ndarray, shape (N, H)
    dW, dU, db : shapes of W, U, b
    """
    steps = cache["steps"]
    T = len(steps)
    if cache["return_sequences"]:
        dy_seq = dy
    else:
        # Only the last step's h was the output.
        dy_seq = np.zeros((dy.shape[0], T, dy.shape[1]), dtype=dy.dtype)
        dy_seq[:, -1, :] = dy
    zeros = np.zeros_like(dy_seq[:, 0, :])
    dh_next = zeros if dh_last is None else dh_last       # dL/dh_t via step t+1
    dc_next = zeros if dc_last is None else dc_last       # dL/dc_t via step t+1
    dW = dU = db = 0
    dxs = [None] * T
    for t in reversed(range(T)):
        dxs[t], dh_next, dc_next, dW_t, dU_t, db_t = lstm_step_backward(
            dy_seq[:, t, :] + dh_next, dc_next, steps[t])
        dW, dU, db = dW + dW_t, dU + dU_t, db + db_t
    dx = np.stack(dxs, axis=1)
    # In the forward pass this was xs = x[:, ::-1]; so dx = dxs[:, ::-1].
    if cache.get("go_backwards"):
        dx = dx[:, ::-1]
    return dx, dh_next, dc_next, dW, dU, db


def lstm_backward(dy, cache):
    """Backpropagation through time: run the step backward T times and add up dW, dU, db.

    Parameters
    ----------
    dy : ndarray, shape (N, T, H) or (N, H), as the forward's y

    Returns
    -------
    dx : ndarray, shape (N, T, D)
    dW, dU, db : shapes of W, U, b
    """
    dx, _, _, dW, dU, db = lstm_backward_with_state(dy, cache)
    return dx, dW, dU, db
