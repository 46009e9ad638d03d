"""The engine switch: which implementation runs a model's layers.

``Sequential(..., engine="reference")`` runs every layer through its textbook pair
(``Layer.forward``/``Layer.backward``, i.e. ``scratchnet.reference``), one layer after
the other on the whole batch: the plain loop of a first course. ``engine="fast"`` (the
default) runs the same maths through ``scratchnet.fast``. Both fill the same
``layer.grads``, so the optimizer and the training loop do not know which ran.
"""

from __future__ import annotations

ENGINES = ("fast", "reference")


def check_engine(name) -> str:
    """Return ``name`` if it names an engine, else raise listing the valid ones."""
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; choose one of {ENGINES}")
    return name


def make_engine(name: str, model):
    """The engine ``name`` for a built ``model``."""
    if check_engine(name) == "reference":
        return ReferenceEngine(model)
    from scratchnet.fast.engine import FastEngine  # the kernels load only when used

    return FastEngine(model)


class ReferenceEngine:
    """Forward through each layer, the loss's textbook pair, then backward in reverse."""

    name = "reference"

    def __init__(self, model):
        missing = [f"{layer.name} ({type(layer).__name__})" for layer in model.layers
                   if not type(layer).has_reference()]
        if missing:
            raise TypeError(f"engine='reference' needs every layer's forward/backward pair; "
                            f"{', '.join(missing)} only have a fast implementation: use "
                            "engine='fast'")
        self.model = model

    def forward(self, x, training: bool, logits: bool):
        """The model's output on ``x``, or its logits (before a softmax that the loss fuses)."""
        layers = self.model.layers
        fused = self.model.fused_activation if logits else None
        for i, layer in enumerate(layers):
            last = i == len(layers) - 1
            if last and fused == "layer":
                break
            x = layer.forward(x, training)
            if layer.activation is not None and not (last and fused):
                x = layer.activation.forward(x, training)
        return x

    def gradients(self, x, y, training: bool = True, sample_weight=None):
        """Forward, loss and backward of one batch; fills every layer's ``grads``.

        Returns ``(mean loss, logits)``; ``sample_weight`` (N,) weighs each sample's loss.
        """
        layers, fused = self.model.layers, self.model.fused_activation
        logits = self.forward(x, training, logits=True)
        loss, dy = self.model.loss.reference(logits, y, sample_weight)
        for i in range(len(layers) - 1, -1, -1):
            layer, last = layers[i], i == len(layers) - 1
            if last and fused == "layer":
                continue
            if layer.activation is not None and not (last and fused):
                dy = layer.activation.backward(dy)
            dy = layer.backward(dy)
        return loss, logits
