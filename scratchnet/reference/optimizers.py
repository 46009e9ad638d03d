"""The optimizers' update rules and gradient clipping, in Keras 3's form, as plain NumPy.

Each rule maps (parameter, gradient, slots, hyperparameters) to the new parameter and
slots, without touching its inputs; ``scratchnet.optimizers`` writes the results back in
place. ``lr`` is the learning rate of this step (a schedule already evaluated) and ``t``
the 1-based step count (Keras's ``iterations + 1``).
"""

import numpy as np


def sgd_step(p, g, velocity, lr, momentum, nesterov):
    """v' = momentum v - lr g;  p' = p + v'  (Nesterov: p' = p + momentum v' - lr g).

    ``velocity`` is None when momentum is 0: then p' = p - lr g.
    """
    if velocity is None:
        return p - lr * g, None
    velocity = momentum * velocity - lr * g
    if nesterov:
        return p + momentum * velocity - lr * g, velocity
    return p + velocity, velocity


def adam_step(p, g, m, v, lr, t, beta_1, beta_2, epsilon):
    """m' = m + (g - m)(1 - b1);  v' = v + (g^2 - v)(1 - b2);
    p' = p - alpha m' / (sqrt(v') + eps)  with  alpha = lr sqrt(1 - b2^t) / (1 - b1^t)."""
    alpha = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    m = m + (g - m) * (1 - beta_1)
    v = v + (g * g - v) * (1 - beta_2)
    return p - alpha * m / (np.sqrt(v) + epsilon), m, v


def rmsprop_step(p, g, velocity, momentum_slot, average_grad, lr, rho, momentum, epsilon):
    """Keras's RMSprop (epsilon inside the square root):

    velocity' = rho velocity + (1 - rho) g^2
    centered:   average_grad' = rho average_grad + (1 - rho) g,
                denominator = velocity' - average_grad'^2 + eps
    otherwise:  denominator = velocity' + eps
    increment = lr g / sqrt(denominator)
    momentum > 0: momentum_slot' = momentum momentum_slot + increment;  p' = p - momentum_slot'
    otherwise:    p' = p - increment

    ``momentum_slot`` / ``average_grad`` are None when momentum is 0 / not centered.
    """
    velocity = rho * velocity + (1 - rho) * g * g
    if average_grad is not None:
        average_grad = rho * average_grad + (1 - rho) * g
        denominator = velocity - average_grad * average_grad + epsilon
    else:
        denominator = velocity + epsilon
    increment = lr * g / np.sqrt(denominator)
    if momentum_slot is not None:
        momentum_slot = momentum * momentum_slot + increment
        return p - momentum_slot, velocity, momentum_slot, average_grad
    return p - increment, velocity, None, average_grad


def adagrad_step(p, g, accumulator, lr, epsilon):
    """accumulator' = accumulator + g^2;  p' = p - lr g / sqrt(accumulator' + eps).

    Keras starts the accumulator at ``initial_accumulator_value`` (0.1), not 0.
    """
    accumulator = accumulator + g * g
    return p - lr * g / np.sqrt(accumulator + epsilon), accumulator


def nadam_momentum_cache(t, beta_1):
    """Keras 3's Nadam momentum schedule: u_t = beta_1 (1 - 0.5 * 0.96^t)."""
    return beta_1 * (1.0 - 0.5 * 0.96**t)


def nadam_step(p, g, m, v, u_product, lr, t, beta_1, beta_2, epsilon):
    """Keras 3's Nadam. ``u_product`` = u_1 u_2 ... u_t, already including this step's u_t
    (the optimizer multiplies it in once per step, before updating any parameter).

    m' = m + (g - m)(1 - b1);  v' = v + (g^2 - v)(1 - b2)
    m_hat = u_{t+1} m' / (1 - u_product u_{t+1}) + (1 - u_t) g / (1 - u_product)
    v_hat = v' / (1 - b2^t)
    p' = p - lr m_hat / (sqrt(v_hat) + eps)
    """
    u_t, u_next = nadam_momentum_cache(t, beta_1), nadam_momentum_cache(t + 1, beta_1)
    m = m + (g - m) * (1 - beta_1)
    v = v + (g * g - v) * (1 - beta_2)
    m_hat = u_next * m / (1 - u_product * u_next) + (1 - u_t) * g / (1 - u_product)
    v_hat = v / (1 - beta_2**t)
    return p - lr * m_hat / (np.sqrt(v_hat) + epsilon), m, v


def decoupled_weight_decay(p, lr, weight_decay):
    """p' = p - p * weight_decay * lr: applied before the update rule (AdamW's decoupling)."""
    return p - p * weight_decay * lr


def clip_by_norm(g, clipnorm):
    """g * clipnorm / max(||g||, clipnorm): g itself when its L2 norm is within clipnorm."""
    norm = np.sqrt(np.sum(g * g))
    return g * clipnorm / np.maximum(norm, clipnorm)


def clip_by_global_norm(grads, clipnorm):
    """Every g * clipnorm / max(N, clipnorm), N the L2 norm of all the gradients together."""
    total = np.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads))
    scale = clipnorm / max(total, clipnorm)
    return [g * g.dtype.type(scale) for g in grads]


def clip_by_value(g, clipvalue):
    """Each element clipped to [-clipvalue, clipvalue]."""
    return np.clip(g, -clipvalue, clipvalue)
