"""GRU as one time step forward and backward, plus the loops over time (BPTT).

Two formulations, both Keras 3's, with gate columns in the order [z | r | h] (update
gate, reset gate, candidate):

- ``reset_after=True`` (Keras 3's default, the one cuDNN and PyTorch use),
  ``gru_step_forward``/``gru_step_backward``: W (D, 3H), U (H, 3H), b (2, 3H) with b[0]
  the input bias and b[1] the recurrent bias; the reset gate multiplies ``h_prev @ U_h``;
- ``reset_after=False`` (Keras 2's default),
  ``gru_reset_before_step_forward``/``gru_reset_before_step_backward``: one bias b (3H,);
  the reset gate multiplies h_prev *before* the recurrent product, ``(r * h_prev) @ U_h``.
"""

import numpy as np

from .activations import sigmoid


def gru_step_forward(x_t, h_prev, W, U, b):
    """One GRU step (reset gate applied after the recurrent product).

    Parameters
    ----------
    x_t : ndarray, shape (N, D)
    h_prev : ndarray, shape (N, H)
    W : ndarray, shape (D, 3H)
    U : ndarray, shape (H, 3H)
    b : ndarray, shape (2, 3H)

    Returns
    -------
    h : ndarray, shape (N, H)
    cache : dict
    """
    H = h_prev.shape[1]
    zx = x_t @ W + b[0]                                   # (N, 3H) input projection
    zh = h_prev @ U + b[1]                                # (N, 3H) recurrent projection
    z = sigmoid(zx[:, :H] + zh[:, :H])                    # update gate
    r = sigmoid(zx[:, H:2 * H] + zh[:, H:2 * H])          # reset gate
    hh = np.tanh(zx[:, 2 * H:] + r * zh[:, 2 * H:])       # candidate
    h = z * h_prev + (1 - z) * hh
    cache = {"x_t": x_t, "h_prev": h_prev, "W": W, "U": U, "z": z, "r": r, "hh": hh,
             "zh_h": zh[:, 2 * H:]}
    return h, cache


def gru_step_backward(dh, cache):
    """Gradients of one GRU step.

    Parameters
    ----------
    dh : ndarray, shape (N, H)
        dL/dh of this step: from the output and from step t+1.

    Returns
    -------
    dx_t : ndarray, shape (N, D)
    dh_prev : ndarray, shape (N, H)
    dW : ndarray, shape (D, 3H)
    dU : ndarray, shape (H, 3H)
    db : ndarray, shape (2, 3H)
    """
    z, r, hh, h_prev = cache["z"], cache["r"], cache["hh"], cache["h_prev"]
    # In the forward pass this was h = z * h_prev + (1 - z) * hh.
    dz = dh * (h_prev - hh)
    dhh = dh * (1 - z)
    # hh = tanh(a_h) with a_h = zx_h + r * zh_h.
    da_h = dhh * (1 - hh * hh)
    dr = da_h * cache["zh_h"]
    # z and r were sigmoids of their pre-activations.
    da_z = dz * z * (1 - z)
    da_r = dr * r * (1 - r)
    dzx = np.concatenate([da_z, da_r, da_h], axis=1)      # dL/d(x_t @ W + b[0])
    dzh = np.concatenate([da_z, da_r, da_h * r], axis=1)  # dL/d(h_prev @ U + b[1])
    # In the forward pass these were zx = x_t @ W + b[0] and zh = h_prev @ U + b[1];
    # h_prev also reached h directly, through z * h_prev.
    dx_t = dzx @ cache["W"].T
    dh_prev = dh * z + dzh @ cache["U"].T
    dW = cache["x_t"].T @ dzx
    dU = h_prev.T @ dzh
    db = np.stack([dzx.sum(axis=0), dzh.sum(axis=0)])
    return dx_t, dh_prev, dW, dU, db


def gru_reset_before_step_forward(x_t, h_prev, W, U, b):
    """One GRU step with the reset gate applied before the recurrent product.

    Parameters
    ----------
    x_t : ndarray, shape (N, D)
    h_prev : ndarray, shape (N, H)
    W : ndarray, shape (D, 3H)
    U : ndarray, shape (H, 3H)
    b : ndarray, shape (3H,)

    Returns
    -------
    h : ndarray, shape (N, H)
    cache : dict
    """
    H = h_prev.shape[1]
    zx = x_t @ W + b                                      # (N, 3H) input projection
    zh = h_prev @ U[:, :2 * H]                            # (N, 2H) recurrent part of z, r
    z = sigmoid(zx[:, :H] + zh[:, :H])                    # update gate
    r = sigmoid(zx[:, H:2 * H] + zh[:, H:])               # reset gate
    rh = r * h_prev                                       # the reset state
    hh = np.tanh(zx[:, 2 * H:] + rh @ U[:, 2 * H:])       # candidate
    h = z * h_prev + (1 - z) * hh
    cache = {"x_t": x_t, "h_prev": h_prev, "W": W, "U": U, "z": z, "r": r, "rh": rh, "hh": hh}
    return h, cache


def gru_reset_before_step_backward(dh, cache):
    """Gradients of one ``gru_reset_before_step_forward`` step.

    Parameters
    ----------
    dh : ndarray, shape (N, H)
        dL/dh of this step: from the output and from step t+1.

    Returns
    -------
    dx_t : ndarray, shape (N, D)
    dh_prev : ndarray, shape (N, H)
    dW : ndarray, shape (D, 3H)
    dU : ndarray, shape (H, 3H)
    db : ndarray, shape (3H,)
    """
    z, r, hh, h_prev, U = cache["z"], cache["r"], cache["hh"], cache["h_prev"], cache["U"]
    H = h_prev.shape[1]
    # In the forward pass this was h = z * h_prev + (1 - z) * hh.
    dz = dh * (h_prev - hh)
    # hh = tanh(a_h) with a_h = zx_h + rh @ U_h.
    da_h = dh * (1 - z) * (1 - hh * hh)
    drh = da_h @ U[:, 2 * H:].T
    # rh = r * h_prev.
    dr = drh * h_prev
    # z and r were sigmoids of zx + h_prev @ U_zr.
    da_z = dz * z * (1 - z)
    da_r = dr * r * (1 - r)
    da_zr = np.concatenate([da_z, da_r], axis=1)
    dzx = np.concatenate([da_zr, da_h], axis=1)           # dL/d(x_t @ W + b)
    # h_prev reached h three ways: directly (z * h_prev), through the gates' recurrent
    # product (h_prev @ U_zr), and through the reset state (r * h_prev).
    dh_prev = dh * z + da_zr @ U[:, :2 * H].T + drh * r
    dU = np.concatenate([h_prev.T @ da_zr, cache["rh"].T @ da_h], axis=1)
    return dzx @ cache["W"].T, dh_prev, cache["x_t"].T @ dzx, dU, dzx.sum(axis=0)


def gru_forward(x, W, U, b, return_sequences=False, go_backwards=False, h0=None,
                reset_after=True):
    """Run ``gru_step_forward`` (or, with ``reset_after=False``,
    ``gru_reset_before_step_forward``) over the T steps of x.

    Parameters
    ----------
    x : ndarray, shape (N, T, D)
    W, U, b : as in the step function; b (2, 3H) or, with ``reset_after=False``, (3H,)
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
        raise ValueError(f"a GRU needs at least one time step, got x of shape {x.shape}")
    step_forward = gru_step_forward if reset_after else gru_reset_before_step_forward
    h = np.zeros((N, U.shape[0]), dtype=x.dtype) if h0 is None else h0
    xs = x[:, ::-1] if go_backwards else x
    hs, steps = [], []
    for t in range(T):
        h, step = step_forward(xs[:, t], h, W, U, b)
        hs.append(h)
        steps.append(step)
    y = np.stack(hs, axis=1) if return_sequences else h
    return y, {"steps": steps, "return_sequences": return_sequences,
               "go_backwards": go_backwards, "final_state": (h,), "reset_after": reset_after}


def gru_backward_with_state(dy, cache, dh_last=None):
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
    step_backward = gru_step_backward if cache["reset_after"] else gru_reset_before_step_backward
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
        dxs[t], dh_next, dW_t, dU_t, db_t = step_backward(dy_seq[:, t] + dh_next, steps[t])
        dW, dU, db = dW + dW_t, dU + dU_t, db + db_t
    dx = np.stack(dxs, axis=1)
    # In the forward pass this was xs = x[:, ::-1]; so dx = dxs[:, ::-1].
    return (dx[:, ::-1] if cache["go_backwards"] else dx), dh_next, dW, dU, db


def gru_backward(dy, cache):
    """BPTT: ``gru_backward_with_state`` without the initial state's gradient.

    Returns
    -------
    dx : ndarray, shape (N, T, D)
    dW, dU, db : shapes of W, U, b
    """
    dx, _, dW, dU, db = gru_backward_with_state(dy, cache)
    return dx, dW, dU, db
