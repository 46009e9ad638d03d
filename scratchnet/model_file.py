"""Whole-model files: ``model.save('cnn.scratchnet')`` and ``scratchnet.load_model``.

A ``.scratchnet`` file is one zip archive (:mod:`scratchnet.archive`, written atomically)
holding everything needed to predict with the model, or to train it on from where it
stopped, bit for bit:

- ``config.json``: the format and scratchnet version; the model (name, seed, dtype,
  engine, input shape, and each layer as ``{"class_name", "config"}``); the compile
  configuration (optimizer with its learning rate or schedule, loss, metrics); the class
  names when known; and how many times ``fit`` has run (``fit_calls``: each ``fit``
  derives its shuffling and dropout streams from ``(seed, fit_calls)``);
- ``weights/<layer index>/<key>.npy``: every layer's ``params`` and ``state``, as
  :func:`scratchnet.saving.save_weights` keys them;
- ``optimizer/iterations.npy`` and ``optimizer/<slot>/<parameter index>.npy``: the
  optimizer's state (:meth:`~scratchnet.optimizers.base.Optimizer.get_state`).

Loading runs no code from the file: every ``class_name`` is looked up in fixed tables
(:mod:`scratchnet.registry`, where the convention for layers of your own is written).
Sizes are checked before anything is allocated: ``config.json`` against a megabyte, each
layer's weights against the sizes its configuration implies (``Layer.weight_shapes``)
before the layer is built, and every array against the built model's before it is read.
Anything wrong raises :class:`~scratchnet.archive.ModelFileError`, naming the path.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from scratchnet.archive import ModelFileError, open_archive, write_archive
from scratchnet.registry import known_names, lookup, serialize
from scratchnet.saving import assign_weights, weight_arrays, weight_limits

SUFFIX = ".scratchnet"
FORMAT = 1
KIND = "saved model (.scratchnet)"
#: Nested objects (a Bidirectional's layer, a schedule in an optimizer) go no deeper.
_MAX_DEPTH = 4
#: Every layer object costs memory and time before its weights can be checked, and a
#: megabyte of config could otherwise ask for tens of thousands of them.
MAX_LAYERS = 1000
#: Which config keys hold nested objects, and of what kind (registry's convention).
_NESTED = {"layer": "layer", "activation": "layer", "learning_rate": "schedule"}


# -- saving -----------------------------------------------------------------------------------
def save_model(model, path) -> Path:
    """Write ``model`` (architecture, compile configuration, weights, optimizer state and
    class names) to ``path``, a ``.scratchnet`` file, atomically. Returns the path.

    The file's permissions follow the umask. A layer, optimizer, loss, schedule or metric
    that cannot be described by its ``get_config`` (a lambda, say) is a TypeError naming it.
    """
    path = Path(path)
    if path.suffix != SUFFIX:
        raise ValueError(f"a whole model is saved as a {SUFFIX} file, got {path.name!r}: use "
                         f"model.save('{path.stem or 'model'}{SUFFIX}'), or "
                         "model.save_weights('weights.npz') for the weights alone")
    if not model.built:
        raise RuntimeError(f"model {model.name!r} has no weights yet: build or fit it first")
    config = _jsonable(model_config(model), "config")
    arrays = weight_arrays(model, "weights/")
    if model.optimizer is not None:
        arrays.update({f"optimizer/{k}": v for k, v in model.optimizer.get_state().items()})
    return write_archive(path, arrays, {"config": config})


def model_config(model) -> dict:
    """What ``config.json`` holds for ``model`` (see the module docstring)."""
    from scratchnet import __version__

    compiled = None
    if model.optimizer is not None:
        compiled = {"optimizer": serialize(model.optimizer),
                    "loss": serialize(model.compiled_loss),
                    "metrics": [_metric_config(m) for m in model.metrics],
                    "weighted_metrics": [_metric_config(m) for m in model.weighted_metrics]}
    names = model.class_names
    if names is not None:
        names = list(names)
        problem = class_names_problem(names, model.output_shape)
        if problem:
            raise TypeError(f"model {model.name!r}: {problem}")
    return {
        "format": FORMAT, "scratchnet_version": __version__,
        "model": {"class_name": "Sequential", "config": {
            "name": model.name, "seed": model.seed, "dtype": np.dtype(model.dtype).name,
            "engine": model.engine, "input_shape": list(model.input_shape),
            "layers": [serialize(layer) for layer in model.layers]}},
        "compile": compiled,
        "class_names": names,
        "fit_calls": model.fit_calls,
    }


def class_names_problem(names, output_shape) -> str | None:
    """Why ``names`` cannot be the class names of outputs ``output_shape``, or None.

    One name per output unit; a single sigmoid unit has two classes (0 and 1).
    """
    if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        return f"class_names must be a list of strings, got {_short(names)}"
    units = output_shape[-1] if output_shape else 1
    if len(names) != units and not (units == 1 and len(names) == 2):
        return (f"class_names has {len(names)} names for {units} output units; give one "
                "name per unit (two for a single sigmoid unit)")
    return None


def _metric_config(metric):
    if isinstance(metric, str):
        return metric
    if hasattr(metric, "get_config"):
        return serialize(metric)
    name = getattr(metric, "__name__", None)
    if not callable(metric) or not name or not name.isidentifier():
        raise TypeError(f"metric {metric!r} cannot be saved: use a named function (found "
                        "again through load_model's custom_objects) or a metric name")
    return {"function": name}


def _jsonable(value, where: str):
    """``value`` with NumPy scalars as Python numbers and tuples as lists, or a TypeError."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    raise TypeError(f"{where} = {value!r} cannot be saved as JSON: a get_config() must "
                    "return numbers, strings, bools, lists, dicts or None")


# -- loading ----------------------------------------------------------------------------------
def load_model(path, custom_objects=None):
    """Rebuild the model saved by ``model.save(path)``: compiled, with its weights, its
    optimizer's state and its class names, ready to predict or to train on.

    Parameters
    ----------
    path : path to a ``.scratchnet`` file
    custom_objects : {name: class or function}, optional
        Layers, optimizers, losses, regularizers, schedules or metric functions of your
        own, by the name they were saved under (layers can also be registered once with
        ``@scratchnet.register_layer``).

    Raises
    ------
    ModelFileError (a ValueError)
        Naming the path and the problem: not a model file, damaged, truncated or hostile,
        or naming a type that is not registered. Nothing from the file is run.
    """
    path = Path(path)
    if path.suffix != SUFFIX:
        hint = (": it looks like a weights file; rebuild the model in code and call "
                "model.load_weights(path)" if path.suffix == ".npz" else "")
        raise ModelFileError(path, f"is not a {SUFFIX} file{hint}")
    if custom_objects is not None and not (isinstance(custom_objects, Mapping) and all(
            isinstance(k, str) for k in custom_objects)):
        raise TypeError(f"custom_objects must be a dict of name -> class or function, got "
                        f"{custom_objects!r}")
    with open_archive(path, KIND) as archive:
        return _Loader(path, archive, custom_objects).load()


class _Loader:
    """One load: reads and checks ``config.json``, rebuilds, then reads the arrays."""

    def __init__(self, path: Path, archive, custom_objects):
        self.path, self.archive, self.custom = path, archive, dict(custom_objects or {})

    def fail(self, problem: str):
        return ModelFileError(self.path, problem)

    def load(self):
        from scratchnet.inputs import check_input_shape
        from scratchnet.sequential import Sequential

        if "config.json" not in self.archive.members():
            raise self.fail("has no config.json, so it is not a saved model (weights saved "
                            "with save_weights load with model.load_weights)")
        stray = [name for name in self.archive.members() if name != "config.json" and not (
            name.startswith(("weights/", "optimizer/")) and name.endswith(".npy"))]
        if stray:
            raise self.fail(f"has unexpected members {sorted(stray)[:5]}; a model file holds "
                            "config.json, weights/*.npy and optimizer/*.npy")
        config = self.archive.read_json("config")
        top = self.field(config, "config.json", dict)
        fmt = top.get("format")
        if fmt != FORMAT:
            raise self.fail(f"has format {fmt!r}; this scratchnet reads format {FORMAT} "
                            "(a file written by a newer scratchnet, or not a model file)")
        spec = self.field(top.get("model"), "model", dict)
        if spec.get("class_name") != "Sequential":
            raise self.fail(f"model class {spec.get('class_name')!r} is not Sequential, the "
                            "only model scratchnet saves")
        mc = self.field(spec.get("config"), "model.config", dict)
        layer_specs = self.field(mc.get("layers"), "model.config.layers", list)
        if not 1 <= len(layer_specs) <= MAX_LAYERS:
            raise self.fail(f"model.config.layers holds {len(layer_specs)} layers; a model "
                            f"file holds 1 to {MAX_LAYERS}")
        if mc.get("dtype") not in ("float32", "float64"):
            raise self.fail(f"model dtype must be 'float32' or 'float64', got "
                            f"{_short(mc.get('dtype'))}")
        layers = [self.make("layer", s, f"layer {i}") for i, s in enumerate(layer_specs)]
        try:
            model = Sequential(layers, name=self.field(mc.get("name"), "model name", str),
                               seed=self.integer(mc.get("seed"), "model seed", 0),
                               dtype=mc.get("dtype"), engine=mc.get("engine"))
            input_shape = check_input_shape(mc.get("input_shape"))
        except (TypeError, ValueError) as err:
            raise self.fail(f"bad model configuration: {err}") from None
        self.build(model, input_shape)
        self.compile(model, top.get("compile"))
        self.read_arrays(model)
        names = top.get("class_names")
        problem = None if names is None else class_names_problem(names, model.output_shape)
        if problem:
            raise self.fail(problem)
        model.class_names = names
        model.fit_calls = self.integer(top.get("fit_calls"), "fit_calls", 0)
        return model

    # -- objects from their configs ---------------------------------------------------------
    def make(self, kind: str, spec, where: str, depth: int = 0):
        """The object ``{"class_name", "config"}`` describes, looked up in kind's tables."""
        if depth > _MAX_DEPTH:
            raise self.fail(f"{where}: objects nested more than {_MAX_DEPTH} deep")
        if not (isinstance(spec, dict) and isinstance(spec.get("class_name"), str)
                and set(spec) <= {"class_name", "config"}):
            raise self.fail(f"{where} must be {{'class_name': str, 'config': {{...}}}}, got "
                            f"{_short(spec)}")
        name = spec["class_name"]
        cls = lookup(kind, name, self.custom)
        if cls is None:
            how = ("decorate its class with @scratchnet.register_layer, or pass "
                   if kind == "layer" else "pass ")
            raise self.fail(f"{where}: unknown {kind} type {name!r}; to load a {kind} of your "
                            f"own, {how}load_model(path, custom_objects={{{name!r}: "
                            f"YourClass}}) (known: {', '.join(known_names(kind, self.custom))})")
        base = _base_class(kind)
        if not isinstance(cls, type) or (base is not None and not issubclass(cls, base)):
            raise self.fail(f"{where}: {name!r} names {cls!r}, which is not a "
                            f"{base.__name__ if base else 'class'}")
        config = self.field(spec.get("config", {}), f"{where} config", dict)
        if kind == "layer" and not isinstance(config.get("name", ""), str):
            raise self.fail(f"{where}: the layer name must be a string, got "
                            f"{_short(config['name'])}")
        kwargs = {key: self.nested(key, value, f"{where}.{key}", depth)
                  for key, value in config.items()}
        try:
            return cls(**kwargs)
        except Exception as err:  # noqa: BLE001 - any constructor's refusal, with its reason
            raise self.fail(f"{where}: {name}(**config) refused the saved configuration: "
                            f"{type(err).__name__}: {err}") from None

    def nested(self, key: str, value, where: str, depth: int):
        kind = _NESTED.get(key) or ("regularizer" if key.endswith("_regularizer") else None)
        if kind is None or not isinstance(value, dict):
            return value
        made = self.make(kind, value, where, depth + 1)
        if key == "activation":
            from scratchnet.layers import Layer

            # An activation is built outside the weight checks: it must create no arrays.
            if type(made)._build is not Layer._build:
                raise self.fail(f"{where}: {value['class_name']!r} is not an elementwise "
                                "layer without parameters, so it cannot be an activation")
        return made

    def field(self, value, what: str, typ):
        if not isinstance(value, typ):
            raise self.fail(f"{what} must be a {typ.__name__}, got {_short(value)}")
        return value

    def integer(self, value, what: str, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(f"{what} must be an integer >= {minimum}, got {_short(value)}")
        return value

    # -- building: sizes checked against the file before anything is allocated --------------
    def build(self, model, input_shape) -> None:
        itemsize = model.dtype.itemsize

        def check(i, layer, shape):
            shapes = layer.weight_shapes(shape)
            for key, dims in (shapes or {}).items():
                member = f"weights/{i}/{key}"
                need = math.prod(dims) * itemsize
                have = self.archive.declared(member)
                if have is None:
                    raise self.fail(f"has no {member}.npy for layer {i} ({type(layer).__name__})")
                if self.archive.compressed(member):
                    raise self.fail(f"member {member}.npy is compressed; scratchnet writes "
                                    "model files uncompressed (so that sizes can be checked)")
                if need > have:
                    raise self.fail(
                        f"layer {i} ({type(layer).__name__}) is configured for {key} of shape "
                        f"{tuple(dims)}, {need} bytes, but the file's {member}.npy holds "
                        f"{have}: the configuration does not match the weights")

        try:
            model.build(input_shape, before_layer=check)
        except ModelFileError:
            raise
        except Exception as err:  # noqa: BLE001 - any layer's refusal of the saved shapes
            raise self.fail(f"the saved layers do not fit together: {type(err).__name__}: "
                            f"{err}") from None

    def compile(self, model, spec) -> None:
        if spec is None:
            return
        spec = self.field(spec, "compile", dict)
        optimizer = self.make("optimizer", spec.get("optimizer"), "optimizer")
        loss = self.make("loss", spec.get("loss"), "loss")
        metrics = [self.metric(m, f"metric {i}") for i, m in
                   enumerate(self.field(spec.get("metrics", []), "metrics", list))]
        weighted = [self.metric(m, f"weighted metric {i}") for i, m in
                    enumerate(self.field(spec.get("weighted_metrics", []), "weighted_metrics",
                                         list))]
        try:
            model.compile(optimizer, loss, metrics, weighted_metrics=weighted or None)
        except (TypeError, ValueError) as err:
            raise self.fail(f"cannot compile the saved configuration: {err}") from None

    def metric(self, spec, where: str):
        if isinstance(spec, str):
            return spec
        if isinstance(spec, dict) and set(spec) == {"function"}:
            fn = self.custom.get(spec["function"]) if isinstance(spec["function"], str) else None
            if not callable(fn):
                raise self.fail(f"{where}: the metric function {_short(spec['function'])} is "
                                "not in custom_objects; pass load_model(path, custom_objects="
                                "{name: function})")
            return fn
        return self.make("metric", spec, where)

    # -- arrays: weights and optimizer state --------------------------------------------------
    def read_arrays(self, model) -> None:
        params = model.parameters
        limits = weight_limits(model, "weights/")
        if model.optimizer is not None:
            scalars = model.optimizer._scalar_state()
            for key in self.archive.names():
                rest = key.removeprefix("optimizer/")
                if rest == key:
                    continue
                slot, _, index = rest.rpartition("/")
                if rest == "iterations" or rest in scalars:
                    limits[key] = 16
                elif slot and index.isdigit() and int(index) < len(params):
                    limits[key] = params[int(index)].size * 16
        arrays, _ = self.archive.read_all(limits, default_limit=0)
        weights = {k: v for k, v in arrays.items() if k.startswith("weights/")}
        state = {k.removeprefix("optimizer/"): v for k, v in arrays.items()
                 if k.startswith("optimizer/")}
        stray = sorted(set(arrays) - set(weights) - {f"optimizer/{k}" for k in state})
        if stray:
            raise self.fail(f"has unexpected members {stray}")
        if model.optimizer is None and state:
            raise self.fail("holds optimizer state but no compile configuration")
        assign_weights(model, weights, self.path, "weights/")
        if model.optimizer is not None:
            self.restore_optimizer(model.optimizer, params, state)

    def restore_optimizer(self, optimizer, params, state) -> None:
        iterations = state.pop("iterations", None)
        if not (isinstance(iterations, np.ndarray) and iterations.shape == ()
                and iterations.dtype.kind in "iu" and int(iterations) >= 0):
            raise self.fail(f"optimizer/iterations must be one integer >= 0, got "
                            f"{_short(iterations)}")
        scalars = optimizer._scalar_state()
        for key, value in state.items():
            slot, _, index = key.rpartition("/")
            if key in scalars:
                like = scalars[key]
            elif slot and index.isdigit() and int(index) < len(params):
                like = params[int(index)]
            else:
                raise self.fail(f"optimizer/{key} is no state of {type(optimizer).__name__} "
                                f"for a model of {len(params)} parameter arrays")
            if value.shape != like.shape or value.dtype != like.dtype:
                raise self.fail(f"optimizer/{key} is {value.shape} {value.dtype}, the model "
                                f"needs {like.shape} {like.dtype}")
        optimizer.set_state({"iterations": int(iterations), **state})


def _base_class(kind: str):
    if kind == "layer":
        from scratchnet.layers import Layer

        return Layer
    if kind == "optimizer":
        from scratchnet.optimizers import Optimizer

        return Optimizer
    if kind == "loss":
        from scratchnet.losses import Loss

        return Loss
    if kind == "regularizer":
        from scratchnet.regularizers import Regularizer

        return Regularizer
    if kind == "schedule":
        from scratchnet.optimizers.schedules import LearningRateSchedule

        return LearningRateSchedule
    return None  # metrics: a TopK, or a class of your own with __call__


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


__all__ = ["SUFFIX", "load_model", "model_config", "save_model"]
