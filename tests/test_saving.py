"""save_weights / load_weights: exact round trip, atomic writes, no pickle, clear mismatches."""

import numpy as np
import pytest
from helpers import mini_cnn, mini_lstm


def trained(make, seed=0):
    model = make("float32")
    model.seed = seed
    model.compile("adam")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((16, *model.input_shape)).astype(np.float32)
    model.fit(x, rng.integers(0, 5, 16), epochs=1, verbose=0)
    return model, x


@pytest.mark.parametrize("make", [mini_cnn, mini_lstm])
def test_round_trip_is_exact(make, tmp_path):
    model, x = trained(make)
    model.save_weights(tmp_path / "w.npz")
    fresh = make("float32")
    fresh.seed = 99  # different initial weights
    fresh.load_weights(tmp_path / "w.npz")
    for a, b in zip(model.parameters, fresh.parameters, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict(x), fresh.predict(x))
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]  # no temporary left behind


def test_file_is_plain_npz_without_pickles(tmp_path):
    model, _ = trained(mini_lstm)
    path = model.save_weights(tmp_path / "w.npz")
    with np.load(path, allow_pickle=False) as data:
        assert "layers" in data.files and all(data[k].dtype != object for k in data.files)


def test_mismatches_are_refused_and_change_nothing(tmp_path):
    model, _ = trained(mini_lstm)
    model.save_weights(tmp_path / "w.npz")
    other = mini_cnn("float32")
    with pytest.raises(ValueError, match="saved layers do not match"):
        other.load_weights(tmp_path / "w.npz")
    wide = mini_lstm("float64")
    before = [p.copy() for p in (wide.build() or wide.parameters)]
    with pytest.raises(ValueError, match="float32 in the file but .* float64"):
        wide.load_weights(tmp_path / "w.npz")
    for a, b in zip(before, wide.parameters, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=".npz"):
        model.save_weights(tmp_path / "w.pkl")


def test_interrupted_save_keeps_the_previous_file(tmp_path, monkeypatch):
    model, _ = trained(mini_lstm)
    path = model.save_weights(tmp_path / "w.npz")
    before = path.read_bytes()

    def write_half_then_fail(f, array, **kwargs):
        f.write(b"half an array")
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        model.save_weights(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]
