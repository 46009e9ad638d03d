"""An outside oracle: PyTorch's autograd against the reference pairs, in float64.

Run by ``test_against_torch.py`` in a child process, because the rest of the suite
never imports torch (its OpenMP runtime must not meet numba's in the test process).
Prints one line per case and exits non-zero on the first disagreement.
"""

import numpy as np
import torch
import torch.nn.functional as F

from scratchnet import reference as R

TOL = 1e-12


def rel_error(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(a - b), initial=0) / max(np.max(np.abs(a) + np.abs(b),
                                                                initial=0), 1e-30))


def compare(name, keys, ours, theirs):
    """Assert ``ours`` and ``theirs`` (lists of arrays named by ``keys``) agree to TOL."""
    for key, a, b in zip(keys.split(), ours, theirs, strict=True):
        err = rel_error(a, b)
        print(f"{name} {key}: {err:.1e}")
        if not err < TOL:
            raise SystemExit(f"{name}: {key} differs from PyTorch by {err:.2e}")


def leaves(*arrays):
    return [torch.tensor(a, requires_grad=True) for a in arrays]


def grads(y, g, tensors):
    y.backward(torch.tensor(g))
    return [t.grad.numpy() for t in tensors]


def conv_and_pool(rng):
    for (H, W_, kh, kw, s, padding) in [(6, 6, 3, 3, 1, "valid"), (7, 5, 3, 2, 2, "valid"),
                                         (7, 6, 3, 3, 2, "same"), (5, 5, 4, 4, 1, "same"),
                                         (6, 7, 2, 3, 3, "same")]:
        x, W, b = rng.standard_normal((2, H, W_, 3)), rng.standard_normal((kh, kw, 3, 4)), \
            rng.standard_normal(4)
        y, cache = R.conv2d_forward(x, W, b, (s, s), padding)
        g = rng.standard_normal(y.shape)
        tx, tW, tb = leaves(x, W, b)
        (_, top), (_, left) = (R.conv_output_size(n, k, s, padding)
                               for n, k in [(H, kh), (W_, kw)])
        bottom = max(((y.shape[1] - 1) * s + kh - H - top), 0)
        right = max(((y.shape[2] - 1) * s + kw - W_ - left), 0)
        xp = F.pad(tx.permute(0, 3, 1, 2), (left, right, top, bottom))
        ty = F.conv2d(xp, tW.permute(3, 2, 0, 1), tb, stride=s).permute(0, 2, 3, 1)
        compare(f"conv {H}x{W_} k{kh}x{kw} s{s} {padding}", "y dx dW db",
                [y, *R.conv2d_backward(g, cache)], [ty.detach().numpy(),
                                                    *grads(ty, g, [tx, tW, tb])])
        # Max-pool with the same geometry, on distinct values (PyTorch breaks ties its own way).
        x = rng.permutation(2 * H * W_ * 3).reshape(2, H, W_, 3) * 0.5
        y, cache = R.maxpool_forward(x, (kh, kw), (s, s), padding)
        g = rng.standard_normal(y.shape)
        (tx,) = leaves(x)
        xp = F.pad(tx.permute(0, 3, 1, 2), (left, right, top, bottom), value=-np.inf)
        ty = F.max_pool2d(xp, (kh, kw), stride=s).permute(0, 2, 3, 1)
        compare(f"maxpool {H}x{W_} k{kh}x{kw} s{s} {padding}", "y dx",
                [y, R.maxpool_backward(g, cache)], [ty.detach().numpy(), *grads(ty, g, [tx])])


def lstm(rng):
    N, T, D, H = 3, 5, 4, 3
    for return_sequences, initial_state in [(False, False), (True, True)]:
        x = rng.standard_normal((N, T, D))
        W, U, b = (rng.standard_normal(s) * 0.7 for s in [(D, 4 * H), (H, 4 * H), (4 * H,)])
        h0, c0 = (rng.standard_normal((N, H)) if initial_state else None for _ in range(2))
        y, cache = R.lstm_forward(x, W, U, b, return_sequences, h0, c0)
        g = rng.standard_normal(y.shape)
        # PyTorch's gate order [i | f | g | o] is Keras'; its weights are the transposes.
        net = torch.nn.LSTM(D, H, batch_first=True).double()
        tx, tW, tU, tb = leaves(x, W, U, b)
        params = {"weight_ih_l0": tW.T, "weight_hh_l0": tU.T, "bias_ih_l0": tb,
                  "bias_hh_l0": torch.zeros(4 * H, dtype=torch.float64)}
        state = None if h0 is None else (torch.tensor(h0)[None], torch.tensor(c0)[None])
        out, _ = torch.func.functional_call(net, params, (tx, state))
        ty = out if return_sequences else out[:, -1]
        compare(f"lstm return_sequences={return_sequences} h0/c0={initial_state}",
                "y dx dW dU db",
                [y, *R.lstm_backward(g, cache)],
                [ty.detach().numpy(), *grads(ty, g, [tx, tW, tU, tb])])


def loss_and_activations(rng):
    z = rng.standard_normal((6, 5)) * 3
    labels = rng.integers(0, 5, 6)
    loss, cache = R.softmax_cross_entropy_forward(z, labels)
    (tz,) = leaves(z)
    tl = F.cross_entropy(tz, torch.tensor(labels))
    compare("softmax cross-entropy", "loss dlogits",
            [loss, R.softmax_cross_entropy_backward(1.0, cache)],
            [tl.item(), *grads(tl, 1.0, [tz])])
    for name, fn in [("relu", torch.relu), ("tanh", torch.tanh), ("sigmoid", torch.sigmoid),
                     ("softmax", lambda t: torch.softmax(t, -1))]:
        x = rng.standard_normal((4, 5)) * 5
        y, cache = getattr(R, f"{name}_forward")(x)
        g = rng.standard_normal(y.shape)
        (tx,) = leaves(x)
        ty = fn(tx)
        compare(name, "y dx", [y, getattr(R, f"{name}_backward")(g, cache)],
                [ty.detach().numpy(), *grads(ty, g, [tx])])


def batchnorm(rng):
    # PyTorch normalises a training batch with the biased variance, as Keras does.
    for shape in [(6, 3), (3, 4, 5, 2)]:
        x, g = rng.standard_normal(shape) * 2 + 1, rng.standard_normal(shape)
        gamma, beta = rng.standard_normal(shape[-1]), rng.standard_normal(shape[-1])
        y, cache = R.batchnorm_forward(x, gamma, beta, 1e-3)
        tx, tg, tb = leaves(x, gamma, beta)
        channels_first = tx.movedim(-1, 1)
        ty = F.batch_norm(channels_first, None, None, tg, tb, training=True,
                          eps=1e-3).movedim(1, -1)
        compare(f"batchnorm {shape}", "y dx dgamma dbeta",
                [y, *R.batchnorm_backward(g, cache)],
                [ty.detach().numpy(), *grads(ty, g, [tx, tg, tb])])


def keras_losses(rng):
    z = rng.standard_normal((5, 4)) * 2
    labels = rng.integers(0, 4, 5)
    onehot = np.eye(4)[labels]
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    loss, cache = R.softmax_categorical_crossentropy_forward(z, R.smooth_labels(onehot, 0.1))
    (tz,) = leaves(z)
    tl = F.cross_entropy(tz, torch.tensor(labels), label_smoothing=0.1)
    compare("categorical crossentropy, logits, smoothing 0.1", "loss dz",
            [loss, R.softmax_categorical_crossentropy_backward(1.0, cache)],
            [tl.item(), *grads(tl, 1.0, [tz])])
    loss, cache = R.categorical_crossentropy_forward(p, onehot)
    (tp,) = leaves(p)
    tl = -(torch.tensor(onehot) * torch.log(tp / tp.sum(1, keepdim=True))).sum(1).mean()
    compare("categorical crossentropy, probabilities", "loss dp",
            [loss, R.categorical_crossentropy_backward(1.0, cache)],
            [tl.item(), *grads(tl, 1.0, [tp])])
    t = rng.integers(0, 2, (5, 4)).astype(float)
    s = 1 / (1 + np.exp(-z))
    for name, ours, theirs, arg in [
        ("binary crossentropy", R.binary_crossentropy_forward, F.binary_cross_entropy, s),
        ("binary crossentropy, logits", R.sigmoid_binary_crossentropy_forward,
         F.binary_cross_entropy_with_logits, z),
        ("mse", R.mse_forward, F.mse_loss, z),
        ("mae", R.mae_forward, F.l1_loss, z),
    ]:
        loss, cache = ours(arg, t)
        backward = getattr(R, ours.__name__.replace("_forward", "_backward"))
        (ta,) = leaves(arg)
        tl = theirs(ta, torch.tensor(t))
        compare(name, "loss dinput", [loss, backward(1.0, cache)],
                [tl.item(), *grads(tl, 1.0, [ta])])


if __name__ == "__main__":
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    conv_and_pool(rng)
    lstm(rng)
    loss_and_activations(rng)
    batchnorm(rng)
    keras_losses(rng)
    print("all agree")
