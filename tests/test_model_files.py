"""Hostile and damaged weights files: one exception type naming the path, sizes checked
before anything is read, bounded memory (issue 15, item 8)."""

import io
import random
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest
from helpers import mini_lstm

from scratchnet.archive import ModelFileError, read_archive, write_archive


@pytest.fixture(scope="module")
def model_and_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    model = mini_lstm("float32")
    model.build()
    path = model.save_weights(folder / "w.npz")
    return model, path.read_bytes()


def fresh():
    model = mini_lstm("float32")
    model.seed = 5
    model.build()
    return model


def zip_of(members, compression=zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def npy(array, allow_pickle=False) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def valid_members(good: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(good)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def set_flag(data: bytes, flag: int) -> bytes:
    """Set a general-purpose flag bit on every local and central header."""
    out = bytearray(data)
    for sig, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (i := out.find(sig, start)) >= 0:
            out[i + offset] |= flag
            start = i + 4
    return bytes(out)


def lie_about_size(data: bytes, size: int, which: int = 0) -> bytes:
    """Make member ``which`` declare ``size`` uncompressed bytes (local and central)."""
    out = bytearray(data)
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        i, start = -1, 0
        for _ in range(which + 1):
            i = out.find(sig, start)
            start = i + 4
        out[i + offset:i + offset + 4] = struct.pack("<I", size)
    return bytes(out)


CASES = {
    "a .npy file": lambda good: npy(np.zeros(3, np.float32)),
    "a text file": lambda good: b"these are not weights\n",
    "an empty file": lambda good: b"",
    "half the file": lambda good: good[: len(good) // 2],
    "encrypted members": lambda good: set_flag(good, 0x1),
    "a pickled object array": lambda good: zip_of(
        {**valid_members(good), "layers.npy": npy(np.array(["LSTM", None], object), True)}),
    "a member that is not .npy": lambda good: zip_of({**valid_members(good),
                                                      "run_me.py": b"print(1)"}),
    "bzip2 members": lambda good: zip_of(valid_members(good), zipfile.ZIP_BZIP2),
    "a member claiming 1 GiB": lambda good: lie_about_size(good, 1 << 30),
    "a member claiming fewer bytes": lambda good: lie_about_size(good, 10),
    "a member that is not a .npy array": lambda good: zip_of(
        {**valid_members(good), "0/W.npy": b"\x00" * 64}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_bad_file_is_a_model_file_error_naming_the_path(model_and_file, tmp_path, case):
    _, good = model_and_file
    path = tmp_path / "bad.npz"
    path.write_bytes(CASES[case](good))
    model = fresh()
    before = [p.copy() for p in model.parameters]
    with pytest.raises(ModelFileError) as info:
        model.load_weights(path)
    assert str(path) in str(info.value)
    for a, b in zip(before, model.parameters, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_npy_file_says_what_to_do(tmp_path):
    path = tmp_path / "w.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(ModelFileError, match=r"single \.npy array.*save_weights"):
        fresh().load_weights(path)


def test_a_deflated_gibibyte_is_refused_without_allocating_it(tmp_path):
    """A few-MB file whose member inflates to 1 GiB: checked by its declared size, not read."""
    path = tmp_path / "bomb.npz"
    model = fresh()
    model.save_weights(path)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED, compresslevel=1) as zf, \
            zf.open("extra.npy", "w", force_zip64=True) as member:
        zeros = bytes(1 << 24)
        for _ in range(64):
            member.write(zeros)
    assert path.stat().st_size < 8 << 20  # a few MB on disk, 1 GiB inflated
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match="declares 1073741824 bytes"):
            model.load_weights(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    print(f"peak traced memory while refusing a 1 GiB member: {peak / 1e6:.2f} MB")
    assert peak < 16 << 20


def mutate(good: bytes, rng: random.Random) -> bytes:
    data = bytearray(good)
    kind = rng.randrange(5)
    if kind == 0:  # bit flips
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
    elif kind == 1:  # truncation
        del data[rng.randrange(len(data)):]
    elif kind == 2:  # a member lies about its size
        return lie_about_size(good, rng.choice([0, 1, 7, 100, 1 << 20, 1 << 31, 2**32 - 1]),
                              rng.randrange(4))
    elif kind == 3:  # a run of bytes overwritten
        i = rng.randrange(len(data))
        data[i:i + rng.randint(1, 64)] = bytes([rng.randrange(256)]) * rng.randint(1, 64)
    else:  # bytes inserted
        i = rng.randrange(len(data))
        data[i:i] = rng.randbytes(rng.randint(1, 32))
    return bytes(data)


def test_fuzz_only_model_file_errors(model_and_file, tmp_path):
    model_saved, good = model_and_file
    rng = random.Random(15)
    path = tmp_path / "m.npz"
    outcomes = {"ModelFileError": 0, "loaded": 0}
    tracemalloc.start()
    try:
        for _ in range(600):
            path.write_bytes(mutate(good, rng))
            model = fresh()
            try:
                model.load_weights(path)
            except ModelFileError as err:
                assert str(path) in str(err)
                outcomes["ModelFileError"] += 1
            else:  # a harmless mutation (a timestamp, say): the weights must be exact
                outcomes["loaded"] += 1
                for a, b in zip(model_saved.parameters, model.parameters, strict=True):
                    np.testing.assert_array_equal(a, b)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    print(f"600 mutated files: {outcomes}; peak traced memory {peak / 1e6:.2f} MB")
    assert outcomes["ModelFileError"] >= 500
    assert peak < 16 << 20


def test_archives_round_trip_arrays_and_json(tmp_path):
    arrays = {"a/b": np.arange(6, dtype=np.int16).reshape(2, 3),
              "c": np.asfortranarray(np.ones((3, 2))), "names": np.array(["Dense", "LSTM"])}
    path = write_archive(tmp_path / "x.npz", arrays, {"config": {"units": [1, 2], "x": 0.5}})
    got, meta = read_archive(path)
    assert meta == {"config": {"units": [1, 2], "x": 0.5}} and got.keys() == arrays.keys()
    for key, value in arrays.items():
        np.testing.assert_array_equal(got[key], value)
    with np.load(path) as npz:  # still an .npz to NumPy
        np.testing.assert_array_equal(npz["a/b"], arrays["a/b"])
