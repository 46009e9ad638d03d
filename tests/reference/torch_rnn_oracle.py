"""PyTorch as an outside oracle for the recurrent family, in float64.

Run by ``test_against_torch_rnn.py`` in a child process (the rest of the suite never
imports torch). Two kinds of check:

- the reference pairs (SimpleRNN with tanh and relu, GRU) against ``nn.RNN``/``nn.GRU``
  and autograd: outputs, dx, every weight and dL/dh0;
- the layers' documented weight mapping: a SimpleRNN, GRU, LSTM and Bidirectional layer's
  weights copied into PyTorch's modules exactly as their docstrings say give the same
  outputs (also go_backwards, and the reverse direction of ``bidirectional=True``).

Prints one line per case and exits non-zero on the first disagreement.
"""

import numpy as np
import torch
from torch_oracle import compare  # this folder's other oracle: same tolerance and report

from scratchnet import reference as R
from scratchnet.layers import GRU, LSTM, Bidirectional, SimpleRNN


def gru_perm(H):
    """Column blocks [r | z | h] of scratchnet's [z | r | h]: PyTorch's gate order."""
    return np.concatenate([np.arange(H, 2 * H), np.arange(H), np.arange(2 * H, 3 * H)])


def torch_weights(kind, W, U, b):
    """The layer docstrings' mapping from scratchnet's (W, U, b) to PyTorch's four tensors."""
    t = torch.tensor
    if kind == "gru":
        P = gru_perm(U.shape[0])
        return t(W[:, P].T), t(U[:, P].T), t(b[0, P]), t(b[1, P])
    return t(W.T), t(U.T), t(b), torch.zeros(len(b), dtype=torch.float64)


def reference_pairs(rng):
    N, T, D, H = 3, 5, 4, 3
    for kind, act in [("rnn", "tanh"), ("rnn", "relu"), ("gru", None)]:
        for return_sequences in (False, True):
            x = rng.standard_normal((N, T, D))
            k = 3 if kind == "gru" else 1
            W, U = rng.standard_normal((D, k * H)) * 0.6, rng.standard_normal((H, k * H)) * 0.6
            b = rng.standard_normal((2, 3 * H) if kind == "gru" else H)
            h0 = rng.standard_normal((N, H))
            if kind == "gru":
                y, cache = R.gru_forward(x, W, U, b, return_sequences, h0=h0)
                dx, dh0, dW, dU, db = R.gru_backward_with_state(g := rng.standard_normal(
                    y.shape), cache)
                net = torch.nn.GRU(D, H, batch_first=True).double()
            else:
                y, cache = R.simple_rnn_forward(x, W, U, b, act, return_sequences, h0=h0)
                g = rng.standard_normal(y.shape)
                dx, dh0, dW, dU, db = R.simple_rnn_backward_with_state(g, cache)
                net = torch.nn.RNN(D, H, nonlinearity=act, batch_first=True).double()
            tx, th0 = (torch.tensor(a, requires_grad=True) for a in (x, h0))
            tW, tU, tbi, tbh = (p.requires_grad_() for p in torch_weights(kind, W, U, b))
            params = {"weight_ih_l0": tW, "weight_hh_l0": tU, "bias_ih_l0": tbi,
                      "bias_hh_l0": tbh}
            out, _ = torch.func.functional_call(net, params, (tx, th0[None]))
            ty = out if return_sequences else out[:, -1]
            ty.backward(torch.tensor(g))
            if kind == "gru":
                P = gru_perm(H)
                theirs_W, theirs_U = tW.grad.numpy().T[:, P], tU.grad.numpy().T[:, P]
                theirs_b = np.stack([tbi.grad.numpy()[P], tbh.grad.numpy()[P]])
            else:
                theirs_W, theirs_U = tW.grad.numpy().T, tU.grad.numpy().T
                theirs_b = tbi.grad.numpy()
            compare(f"{kind} {act or 'reset_after'} return_sequences={return_sequences}",
                    "y dx dh0 dW dU db", [y, dx, dh0, dW, dU, db],
                    [ty.detach().numpy(), tx.grad.numpy(), th0.grad.numpy(), theirs_W,
                     theirs_U, theirs_b])


def load(module, suffix, kind, layer):
    """Copy ``layer``'s weights into ``module``'s tensors of direction ``suffix``."""
    p = layer.params
    if kind == "lstm":
        tensors = (torch.tensor(p["W"].T), torch.tensor(p["U"].T), torch.tensor(p["b"]),
                   torch.zeros(len(p["b"]), dtype=torch.float64))
    else:
        tensors = torch_weights(kind, p["W"], p["U"], p["b"])
    with torch.no_grad():
        for name, value in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), tensors,
                               strict=True):
            getattr(module, f"{name}_l0{suffix}").copy_(value)


def layers_with_copied_weights(rng):
    N, T, D, H = 4, 6, 3, 5
    x = rng.standard_normal((N, T, D))
    tx = torch.tensor(x)
    makers = {"rnn": (SimpleRNN, lambda: torch.nn.RNN(D, H, batch_first=True)),
              "gru": (GRU, lambda: torch.nn.GRU(D, H, batch_first=True)),
              "lstm": (LSTM, lambda: torch.nn.LSTM(D, H, batch_first=True))}
    for kind, (Layer, Module) in makers.items():
        for go_backwards in (False, True):
            layer = Layer(H, return_sequences=True, go_backwards=go_backwards)
            layer.build((T, D), np.float64, np.random.default_rng(1))
            for arr in layer.params.values():  # biases too, so every mapping matters
                arr[...] = 0.5 * rng.standard_normal(arr.shape)
            module = Module().double()
            load(module, "", kind, layer)
            with torch.no_grad():
                out = module(tx.flip(1) if go_backwards else tx)[0].numpy()
            compare(f"{Layer.__name__} layer, weights copied, go_backwards={go_backwards}",
                    "y", [layer(x)], [out])
        bi = Bidirectional(Layer(H, return_sequences=True))
        bi.build((T, D), np.float64, np.random.default_rng(2))
        for arr in bi.params.values():
            arr[...] = 0.5 * rng.standard_normal(arr.shape)
        module = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[kind](
            D, H, batch_first=True, bidirectional=True).double()
        load(module, "", kind, bi.forward_layer)
        load(module, "_reverse", kind, bi.backward_layer)
        with torch.no_grad():
            out = module(tx)[0].numpy()
        compare(f"Bidirectional({Layer.__name__}) vs bidirectional=True, weights copied", "y",
                [bi(x)], [out])


if __name__ == "__main__":
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    reference_pairs(rng)
    layers_with_copied_weights(rng)
    print("all agree")
