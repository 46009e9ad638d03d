"""Saved models (.scratchnet) under attack and under SIGKILL (issue 14): a hostile, damaged
or truncated file raises only ModelFileError, in bounded memory; a save killed at any
moment leaves the old model or the new one, and the next save removes its leftovers."""

import io
import json
import os
import random
import subprocess
import sys
import tracemalloc
import zipfile

import numpy as np
import pytest
from helpers import mini_lstm
from test_leftovers import killed_while
from test_model_files import lie_about_size, mutate, npy, valid_members, zip_of

from scratchnet import SGD, ModelFileError, load_model


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A trained, compiled model (momentum slots, Dropout, LSTM) and its file's bytes."""
    model = mini_lstm("float32")
    model.compile(SGD(0.1, momentum=0.9))
    rng = np.random.default_rng(0)
    model.fit(rng.standard_normal((8, 5, 3)), rng.integers(0, 5, 8), batch_size=4, verbose=0)
    model.class_names = list("abcde")
    path = model.save(tmp_path_factory.mktemp("model") / "m.scratchnet")
    return model, path.read_bytes()


# -- structural mutations of config.json ------------------------------------------------------
HOSTILE_VALUES = [None, True, -1, 0, 1.5, float("nan"), float("inf"), 10**9, 10**30, 2**63,
                  "x", "", [], {}, [10**9] * 3, [float("nan")], {"class_name": "Evil"},
                  {"class_name": "Evil", "config": {}}, {"class_name": "Dense", "config":
                  {"units": 10**9}}, {"class_name": "LSTM", "config": {"units": 10**7}},
                  "__import__('os').system('echo hi')", [[[[[]]]]]]


def _nodes(tree, path=()):
    """Every (path, value) in a JSON tree."""
    yield path, tree
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _nodes(value, (*path, key))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            yield from _nodes(value, (*path, i))


def _set(tree, path, value):
    for key in path[:-1]:
        tree = tree[key]
    tree[path[-1]] = value


def _delete(tree, path):
    for key in path[:-1]:
        tree = tree[key]
    del tree[path[-1]]


def mutate_config(members: dict, rng: random.Random) -> dict:
    config = json.loads(members["config.json"])
    nodes = [p for p, _ in _nodes(config) if p]
    kind = rng.randrange(6)
    if kind == 0:  # any node replaced by a hostile value
        _set(config, rng.choice(nodes), rng.choice(HOSTILE_VALUES))
    elif kind == 1:  # a key or list item removed
        _delete(config, rng.choice(nodes))
    elif kind == 2:  # a layer of another or of an unknown type
        layer = rng.choice(config["model"]["config"]["layers"])
        layer["class_name"] = rng.choice(["Conv2D", "GRU", "Dense", "Bidirectional", "Evil",
                                          "Layer", "Recurrent", "os.system", "Sequential"])
    elif kind == 3:  # a huge or impossible size where the model's sizes are
        where = rng.choice([("model", "config", "input_shape"),
                            ("model", "config", "layers", 0, "config", "units"),
                            ("model", "config", "layers", 2, "config", "units")])
        _set(config, where, rng.choice([[10**6, 10**6], [float("nan"), 3], [0, 3], 10**12,
                                        2**40, -5, 4.0, [5, 3, 10**9]]))
    elif kind == 4:  # a wrong JSON type for a whole section
        _set(config, (rng.choice(["model", "compile", "class_names", "fit_calls", "format"]),),
             rng.choice(HOSTILE_VALUES))
    else:  # not JSON at all, or nested beyond any parser
        return {**members, "config.json": rng.choice([b"{", b"\xff\xfe", b"[" * 100_000,
                                                      b"null", b"NaN"])}
    return {**members, "config.json": json.dumps(config).encode()}


def mutate_members(members: dict, rng: random.Random) -> dict:
    members = dict(members)
    name = rng.choice(sorted(members))
    kind = rng.randrange(4)
    if kind == 0:  # a member missing
        del members[name]
    elif kind == 1 and name.endswith(".npy"):  # an array of another shape or dtype
        members[name] = npy(np.zeros(rng.choice([(2, 2), (10**5,), ()]),
                                     rng.choice([np.float64, np.int8, np.float32])))
    elif kind == 2:  # an extra member
        members[rng.choice(["weights/9/W.npy", "optimizer/m/99.npy", "optimizer/bogus.npy",
                            "notes.txt", "config2.json"])] = npy(np.ones(3, np.float32))
    else:  # a pickled object array
        members[name] = npy(np.array([None, "x"], object), allow_pickle=True)
    return members


def bomb(members: dict) -> bytes:
    """A weights member deflated from 64 MiB of zeros (65 KB in the file)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, data in members.items():
            if name == "weights/2/W.npy":
                zf.writestr(name, npy(np.zeros((4, 1 << 22), np.float32)))
            else:
                zf.writestr(name, data)
    return buf.getvalue()


def test_fuzz_only_model_file_errors_in_bounded_memory(saved, tmp_path):
    model, good = saved
    members = valid_members(good)
    bombed = bomb(members)
    rng = random.Random(14)
    path = tmp_path / "m.scratchnet"
    outcomes = {"ModelFileError": 0, "loaded": 0}
    kinds = [lambda: mutate(good, rng),
             lambda: zip_of(mutate_config(members, rng)),
             lambda: zip_of(mutate_members(members, rng)),
             lambda: lie_about_size(good, rng.choice([1 << 20, 1 << 31, 2**32 - 1]),
                                    rng.randrange(len(members))),
             lambda: bombed]
    weights = model.get_weights()
    peak = 0  # the most memory one load took beyond what was allocated before it
    tracemalloc.start()
    try:
        for i in range(600):
            path.write_bytes(rng.choices(kinds, weights=[8, 8, 4, 1, 1])[0]())
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            try:
                loaded = load_model(path)
            except ModelFileError as err:
                assert str(path) in str(err)
                outcomes["ModelFileError"] += 1
            else:  # a harmless mutation (a timestamp, a layer's name): the weights are exact
                outcomes["loaded"] += 1
                for a, b in zip(weights, loaded.get_weights(), strict=True):
                    np.testing.assert_array_equal(a, b, err_msg=f"mutation {i}")
            peak = max(peak, tracemalloc.get_traced_memory()[1] - before)
            loaded = None
    finally:
        tracemalloc.stop()
    print(f"600 mutated model files: {outcomes}; peak traced memory {peak / 1e6:.2f} MB")
    assert outcomes["ModelFileError"] >= 500
    assert peak < 8 << 20


@pytest.mark.parametrize("value, message", [
    (10**12, r"layer 2 \(Dense\) is configured for W of shape \(4, 1000000000000\)"),
    ("Evil", "unknown layer type 'Evil'"),
])
def test_a_config_that_does_not_match_its_weights_is_refused_before_building(
        saved, tmp_path, value, message):
    members = valid_members(saved[1])
    config = json.loads(members["config.json"])
    if isinstance(value, int):
        config["model"]["config"]["layers"][2]["config"]["units"] = value
    else:
        config["model"]["config"]["layers"][2]["class_name"] = value
    path = tmp_path / "m.scratchnet"
    path.write_bytes(zip_of({**members, "config.json": json.dumps(config).encode()}))
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match=message):
            load_model(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20


# -- killed while saving --------------------------------------------------------------------
SAVE_LOOP = """
    import itertools, os, sys
    from pathlib import Path
    import numpy as np
    from scratchnet import Input, Sequential
    from scratchnet.layers import Dense
    from scratchnet.optimizers import SGD

    # Each save writes version k everywhere: every weight, every slot and the step count.
    model = Sequential([Input((256,)), Dense(512), Dense(4)], engine="reference")
    model.compile(SGD(0.1, momentum=0.9), "mse", [])
    model.build()
    path = Path(sys.argv[1]) / "m.scratchnet"
    first = (os.getpid() % 1000) * 1000
    for k in itertools.count(first):
        model.set_weights([np.full(w.shape, k, w.dtype) for w in model.get_weights()])
        model.optimizer.set_state({"iterations": k, **{
            f"velocity/{i}": np.full(p.shape, k, p.dtype)
            for i, p in enumerate(model.parameters)}})
        model.save(path)
        if k == first + 2:
            print("ready", flush=True)  # the parent kills now: anywhere in a later save
"""


def _version(path) -> int:
    """The one version a saved file holds throughout, or an assertion error."""
    model = load_model(path)
    k = model.optimizer.iterations
    state = model.optimizer.get_state()
    for array in [*model.get_weights(), *(v for key, v in state.items() if key != "iterations")]:
        assert np.all(array == k), f"a mix of versions: {np.unique(array)[:5]} and {k}"
    return k


def test_a_save_killed_at_any_moment_leaves_the_old_or_the_new_model(tmp_path):
    versions, parts_seen = set(), 0
    for kill in range(30):
        killed_while(SAVE_LOOP, tmp_path)
        versions.add(_version(tmp_path / "m.scratchnet"))
        parts = [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")]
        assert len(parts) <= 1, parts  # the earlier kills' leftovers were removed
        parts_seen += len(parts)
        if kill >= 5 and parts_seen >= 2:
            break
    print(f"{kill + 1} kills, {parts_seen} left a half-written .part file")
    assert parts_seen >= 1 and len(versions) == kill + 1
    model = load_model(tmp_path / "m.scratchnet")
    model.save(tmp_path / "m.scratchnet")  # this save cleans the last kill's leftover
    assert [p.name for p in tmp_path.iterdir()] == ["m.scratchnet"]


def test_a_failed_save_keeps_the_old_file_and_leaves_nothing(saved, tmp_path):
    model, good = saved
    path = tmp_path / "m.scratchnet"
    path.write_bytes(good)
    model.class_names = [1, 2]  # not strings: refused while writing the config
    try:
        with pytest.raises(TypeError, match="class_names"):
            model.save(path)
    finally:
        model.class_names = list("abcde")
    assert path.read_bytes() == good and os.listdir(tmp_path) == ["m.scratchnet"]


def test_loading_never_imports_or_runs_what_the_file_names(saved, tmp_path):
    """A layer type naming a module path is just an unknown name: nothing is imported."""
    members = valid_members(saved[1])
    config = json.loads(members["config.json"])
    config["model"]["config"]["layers"][0]["class_name"] = "smtplib.SMTP"
    path = tmp_path / "m.scratchnet"
    path.write_bytes(zip_of({**members, "config.json": json.dumps(config).encode()}))
    code = ("import sys; from scratchnet import load_model, ModelFileError\n"
            "try: load_model(sys.argv[1])\nexcept ModelFileError as e: print(e)\n"
            "print('smtplib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                         text=True, timeout=120).stdout.splitlines()
    assert "unknown layer type 'smtplib.SMTP'" in out[0] and out[1] == "False"


def test_sizes_of_a_valid_file_are_what_the_model_holds(saved):
    model, good = saved
    arrays = sum(w.nbytes for w in model.get_weights()) + sum(
        v.nbytes for v in model.optimizer.get_state().values())
    # The file is its arrays, small headers and the config: nothing hidden, nothing pickled.
    assert arrays < len(good) < arrays + 64 * 1024


def test_a_config_asking_for_thousands_of_layers_is_refused_before_making_them(saved,
                                                                               tmp_path):
    from scratchnet.model_file import MAX_LAYERS

    members = valid_members(saved[1])
    config = json.loads(members["config.json"])
    layers = config["model"]["config"]["layers"]
    layers[1:1] = [{"class_name": "Dropout", "config": {"rate": 0.1}}] * MAX_LAYERS
    path = tmp_path / "m.scratchnet"
    path.write_bytes(zip_of({**members, "config.json": json.dumps(config).encode()}))
    with pytest.raises(ModelFileError, match=f"{MAX_LAYERS + 3} layers; a model file holds 1 "
                       f"to {MAX_LAYERS}"):
        load_model(path)
