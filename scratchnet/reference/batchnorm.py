"""Batch normalization over the last axis: every other axis is a batch of samples.

For a Dense layer's output (N, C) the statistics are over the N samples; for a conv's
(N, H, W, C) over all N*H*W positions, one mean and variance per channel.
"""

import numpy as np


def batchnorm_forward(x, gamma, beta, epsilon):
    """Training: normalise with the batch's own statistics.

    Parameters
    ----------
    x : ndarray, shape (..., C)
    gamma, beta : ndarray, shape (C,), or None (scale=False / center=False)
    epsilon : float

    Returns
    -------
    y : ndarray, shape of x
    cache : dict with ``x``, ``mean``, ``var`` (the biased batch variance, as Keras uses
        both to normalise and to update its moving variance), ``gamma`` and ``epsilon``
    """
    axes = tuple(range(x.ndim - 1))
    mean = x.mean(axis=axes)                         # mu    (C,)
    var = ((x - mean) ** 2).mean(axis=axes)          # var   (C,), divided by m, not m - 1
    x_hat = (x - mean) / np.sqrt(var + epsilon)      # x_hat (..., C)
    y = x_hat
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return y, {"x": x, "mean": mean, "var": var, "gamma": gamma, "epsilon": epsilon,
               "has_beta": beta is not None}


def batchnorm_backward(dy, cache):
    """The full chain rule through x_hat, var and mean (not the collapsed one-line form).

    With m values per channel, the forward was, per channel:
        mu = sum(x) / m;  var = sum((x - mu)^2) / m;  x_hat = (x - mu) / sqrt(var + eps)
        y = gamma x_hat + beta
    Each x reaches the loss three ways: through x_hat directly, through var and through mu.

    Returns
    -------
    dx : ndarray, shape of x
    dgamma, dbeta : ndarray, shape (C,), or None where the forward had none
    """
    x, mean, var, gamma, eps = (cache["x"], cache["mean"], cache["var"], cache["gamma"],
                                cache["epsilon"])
    axes = tuple(range(x.ndim - 1))
    m = x.size // x.shape[-1]
    inv_std = 1.0 / np.sqrt(var + eps)
    x_mu = x - mean
    x_hat = x_mu * inv_std
    # y = gamma x_hat + beta; so dbeta = sum(dy), dgamma = sum(dy x_hat), dx_hat = dy gamma.
    dbeta = dy.sum(axis=axes) if cache["has_beta"] else None
    dgamma = (dy * x_hat).sum(axis=axes) if gamma is not None else None
    dx_hat = dy * gamma if gamma is not None else dy
    # x_hat = (x - mu) (var + eps)^(-1/2); so, holding x - mu fixed,
    # dvar = sum(dx_hat (x - mu)) * (-1/2) (var + eps)^(-3/2).
    dvar = (dx_hat * x_mu).sum(axis=axes) * -0.5 * inv_std**3
    # mu enters x_hat as -mu inv_std, and var as sum(-2 (x - mu)) / m; so
    # dmu = sum(-dx_hat inv_std) + dvar * sum(-2 (x - mu)) / m. (The second sum is 0
    # in exact arithmetic: the simplified form drops it; the full form keeps it.)
    dmu = (-dx_hat * inv_std).sum(axis=axes) + dvar * (-2.0 * x_mu).sum(axis=axes) / m
    # x enters x_hat as x inv_std, var as (x - mu)^2 / m and mu as x / m; so
    dx = dx_hat * inv_std + dvar * 2.0 * x_mu / m + dmu / m
    return dx, dgamma, dbeta


def batchnorm_inference_forward(x, gamma, beta, moving_mean, moving_var, epsilon):
    """Inference: normalise with the moving statistics, an affine map per channel.

    y = gamma (x - moving_mean) / sqrt(moving_var + eps) + beta. Shapes as in
    :func:`batchnorm_forward`; the cache holds ``x_hat``, ``inv_std`` and ``gamma``.
    """
    inv_std = 1.0 / np.sqrt(moving_var + epsilon)
    x_hat = (x - moving_mean) * inv_std
    y = x_hat
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return y, {"x_hat": x_hat, "inv_std": inv_std, "gamma": gamma, "has_beta": beta is not None}


def batchnorm_inference_backward(dy, cache):
    """Through the fixed affine map: the statistics are constants here.

    Returns ``dx``, ``dgamma``, ``dbeta`` as :func:`batchnorm_backward`.
    """
    axes = tuple(range(dy.ndim - 1))
    gamma = cache["gamma"]
    dbeta = dy.sum(axis=axes) if cache["has_beta"] else None
    dgamma = (dy * cache["x_hat"]).sum(axis=axes) if gamma is not None else None
    dx_hat = dy * gamma if gamma is not None else dy
    return dx_hat * cache["inv_std"], dgamma, dbeta
