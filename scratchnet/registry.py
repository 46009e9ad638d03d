"""Names for everything a saved model is rebuilt from: fixed tables, never code from the file.

A saved model (:mod:`scratchnet.model_file`) describes each object as Keras does,
``{"class_name": "Dense", "config": {...}}``, and loading looks ``class_name`` up in one
of the tables below, then calls ``cls(**config)``. Nothing is imported by a name read
from the file, nothing is unpickled or evaluated: a name that is not in the table is a
:class:`~scratchnet.archive.ModelFileError` saying to register it.

The convention every layer follows (built-in, and your own)
-----------------------------------------------------------
- ``get_config()`` returns the constructor's keyword arguments as JSON values (ints,
  floats, strings, bools, lists, None, nested ``{"class_name", "config"}`` dicts), such
  that ``type(layer)(**layer.get_config())`` makes an equal, unbuilt layer. Start from
  ``super().get_config()`` (which holds ``name``, and ``input_shape``, ``activation`` and
  the regularizers when given) and add the layer's own arguments.
- ``weight_shapes(input_shape)`` returns ``{key: shape}`` of every array ``build`` would
  create in ``params`` and ``state``, without creating them: loading compares these with
  the sizes the file declares before allocating anything, so that a hostile file cannot
  make a small config allocate gigabytes. A layer without parameters of its own inherits
  ``{}``; a layer that creates arrays and does not define it is built unchecked (which
  only your own files should be given to).
- A layer of your own registers by name, ``@scratchnet.register_layer`` (its class name)
  or ``@scratchnet.register_layer("Name")``, or is passed to
  ``load_model(path, custom_objects={"Name": cls})``.

The other kinds follow the same pattern with ``get_config``: optimizers (including a
learning-rate schedule as ``learning_rate``), losses, regularizers, schedules, and metrics
(a ``TopK`` instance, a metric name, or a function found by its ``__name__`` in
``custom_objects``). scratchnet's layers take no initializer arguments (they use Keras's
defaults), so there is no initializer table.
"""

from __future__ import annotations

import functools

KINDS = ("layer", "optimizer", "loss", "regularizer", "schedule", "metric")

#: Layers registered with :func:`register_layer`, by name.
_CUSTOM_LAYERS: dict[str, type] = {}
#: And the name each registered class is saved under.
_NAMES: dict[type, str] = {}


@functools.cache  # the tables are fixed once their modules are imported
def _builtin(kind: str) -> dict[str, type]:
    """The built-in table of ``kind``: every public class of its module, by class name."""
    if kind == "layer":
        from scratchnet import layers
        from scratchnet.layers import Layer

        return {name: obj for name in layers.__all__
                if isinstance(obj := getattr(layers, name), type) and issubclass(obj, Layer)
                and obj not in (Layer, layers.Recurrent)}
    if kind == "optimizer":
        from scratchnet import optimizers

        return {c.__name__: c for c in (optimizers.SGD, optimizers.Adam, optimizers.AdamW,
                                        optimizers.Adagrad, optimizers.Nadam,
                                        optimizers.RMSprop)}
    if kind == "loss":
        from scratchnet import losses

        return {c.__name__: c for c in (losses.SparseCategoricalCrossentropy,
                                        losses.CategoricalCrossentropy,
                                        losses.BinaryCrossentropy, losses.MeanSquaredError,
                                        losses.MeanAbsoluteError)}
    if kind == "regularizer":
        from scratchnet.regularizers import L1, L1L2, L2

        return {"L1": L1, "L2": L2, "L1L2": L1L2}
    if kind == "schedule":
        from scratchnet.optimizers.schedules import (
            CosineDecay,
            ExponentialDecay,
            InverseTimeDecay,
            PiecewiseConstantDecay,
        )

        return {c.__name__: c for c in (CosineDecay, ExponentialDecay, InverseTimeDecay,
                                        PiecewiseConstantDecay)}
    if kind == "metric":
        from scratchnet.training_metrics import TopK

        return {"TopK": TopK}
    raise ValueError(f"unknown kind {kind!r}; one of {KINDS}")


def register_layer(cls_or_name=None):
    """Register a Layer subclass by name, so that saved models holding it load.

    Use as ``@register_layer`` (the class's own name), ``@register_layer("Name")``, or
    call ``register_layer(MyLayer)``. A built-in layer's name cannot be taken.
    """
    def register(cls, name=None):
        from scratchnet.layers import Layer

        if not (isinstance(cls, type) and issubclass(cls, Layer)):
            raise TypeError(f"register_layer registers Layer subclasses, got {cls!r}")
        name = cls.__name__ if name is None else name
        if not isinstance(name, str) or not name:
            raise TypeError(f"register_layer: the name must be a non-empty string, got {name!r}")
        builtin = _builtin("layer")
        if name in builtin and builtin[name] is not cls:
            raise ValueError(f"register_layer: {name!r} is a built-in layer; register "
                             f"{cls.__name__} under another name, e.g. "
                             f"@register_layer('My{name}')")
        _CUSTOM_LAYERS[name] = cls  # re-registering (a notebook cell run twice) replaces
        _NAMES[cls] = name
        return cls

    if cls_or_name is None:
        return register
    if isinstance(cls_or_name, str):
        return lambda cls: register(cls, cls_or_name)
    return register(cls_or_name)


def registered_name(obj) -> str:
    """The name ``obj``'s class is saved under (its registered name, or its class name)."""
    return _NAMES.get(type(obj), type(obj).__name__)


def lookup(kind: str, name, custom_objects=None):
    """The class (or, for metrics, function) saved as ``name``; None if unknown.

    ``custom_objects`` (``{name: class or function}``, as Keras's) comes first, then the
    registered layers, then the built-in table.
    """
    if not isinstance(name, str):
        return None
    custom = dict(custom_objects or {})
    if name in custom:
        return custom[name]
    if kind == "layer" and name in _CUSTOM_LAYERS:
        return _CUSTOM_LAYERS[name]
    return _builtin(kind).get(name)


def known_names(kind: str, custom_objects=None) -> list[str]:
    """Every name :func:`lookup` would find for ``kind``, for messages."""
    extra = list(_CUSTOM_LAYERS) if kind == "layer" else []
    return sorted({*_builtin(kind), *extra, *(custom_objects or {})})


def serialize(obj) -> dict:
    """``{"class_name": ..., "config": obj.get_config()}``, or a TypeError naming the fix."""
    get_config = getattr(obj, "get_config", None)
    if get_config is None:
        raise TypeError(f"{obj!r} cannot be saved: its class {type(obj).__name__} has no "
                        "get_config(); give it one that returns its constructor's arguments")
    return {"class_name": registered_name(obj), "config": get_config()}


__all__ = ["KINDS", "known_names", "lookup", "register_layer", "registered_name", "serialize"]
