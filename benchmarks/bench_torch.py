"""The seed models and the recurrent study's models in PyTorch, for the fair comparison.

Same layer sizes as ``scratchnet.seed_models`` and ``bench_models.build_scratchnet``;
channels-first for the CNN, as PyTorch's convolutions want (the input is transposed
once, before timing). Adam with Keras's
epsilon (1e-7), CrossEntropyLoss on logits, and inference under
``torch.inference_mode()`` with the softmax applied, as scratchnet's ``predict`` does.

PyTorch's LSTM keeps two bias vectors (``b_ih`` and ``b_hh``) where Keras keeps one, so
its seed LSTM has 86,959 parameters instead of 86,447; the extra 512 are an addition
per gate, negligible in time. The recurrent study's models (issue 12: the cell with 128
units, ``Linear(128, 64)`` + ReLU, ``Linear(64, C)``) use ``nn.GRU``, which is Keras's
``GRU(reset_after=True)`` (the same two bias rows, so the same 71,983 parameters for 47
classes), and ``nn.RNN`` (tanh), which again keeps a second bias vector: 128 parameters
more than Keras's SimpleRNN. torch is imported only inside these functions: it is an
optional benchmark dependency (``pip install torch==2.13.0``).
"""

from __future__ import annotations

import time

import common


def available() -> bool:
    """True when torch can be imported."""
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def build(kind: str, num_classes: int = common.NUM_CLASSES):
    """The seed CNN or LSTM, or the study's GRU or SimpleRNN model, as a torch
    ``nn.Module`` (float32, on the CPU)."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    if kind == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Dropout(0.25), nn.Flatten(),
            nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(128, num_classes),
        )
    if kind == "lstm":
        class SeedLSTM(nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = nn.LSTM(28, 128, batch_first=True)
                self.drop = nn.Dropout(0.3)
                self.fc = nn.Linear(128, num_classes)

            def forward(self, x):
                _, (h, _) = self.lstm(x)
                return self.fc(self.drop(h[-1]))

        return SeedLSTM()
    if kind in ("gru", "simplernn"):
        class StudyRNN(nn.Module):
            def __init__(self):
                super().__init__()
                # nn.GRU is Keras's GRU(reset_after=True); nn.RNN's default is tanh.
                cell = nn.GRU if kind == "gru" else nn.RNN
                self.rnn = cell(28, 128, batch_first=True)
                self.fc1 = nn.Linear(128, 64)
                self.fc2 = nn.Linear(64, num_classes)

            def forward(self, x):
                _, h = self.rnn(x)
                return self.fc2(torch.relu(self.fc1(h[-1])))

        return StudyRNN()
    raise ValueError(f"unknown model kind {kind!r}")


def to_tensors(kind: str, x, y):
    """NumPy data (channels-last for the CNN) as torch tensors in the layout torch wants."""
    import numpy as np
    import torch

    if kind == "cnn":
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y.astype(np.int64))


class TorchWorkload:
    """One timed run = ``steps`` training steps, or inference over ``steps`` batches."""

    framework = "pytorch"

    def __init__(self, kind: str, mode: str, batch: int, steps: int, x, y):
        import torch

        self.torch = torch
        self.kind, self.mode, self.batch, self.steps = kind, mode, batch, steps
        self.samples = batch * steps
        self.x, self.y = to_tensors(kind, x[:self.samples], y[:self.samples])
        self.model = build(kind)
        self.params = sum(p.numel() for p in self.model.parameters())
        if mode == "train":
            self.model.train()
            self.loss = torch.nn.CrossEntropyLoss()
            self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3, eps=1e-7)
        else:
            self.model.eval()

    def run(self) -> float:
        """One run; returns its wall time in seconds."""
        torch, b = self.torch, self.batch
        start = time.perf_counter()
        if self.mode == "train":
            for s in range(self.steps):
                self.opt.zero_grad(set_to_none=True)
                loss = self.loss(self.model(self.x[s * b:(s + 1) * b]), self.y[s * b:(s + 1) * b])
                loss.backward()
                self.opt.step()
        else:
            with torch.inference_mode():
                for s in range(self.steps):
                    torch.softmax(self.model(self.x[s * b:(s + 1) * b]), dim=1)
        return time.perf_counter() - start
