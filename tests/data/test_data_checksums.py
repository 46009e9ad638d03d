"""SHA-256 verification and its cache."""

from __future__ import annotations

import hashlib
import json
import os
import time

import pytest

from scratchnet.data import ChecksumMismatchError, checksums, sha256_file, verify_file
from scratchnet.data.checksums import VerificationCache, cache_dir, get_cache


@pytest.fixture(autouse=True)
def no_racy_window(monkeypatch):
    """These tests cache files they have just written; the racy-file rule has its own test."""
    monkeypatch.setattr(checksums, "RACY_SECONDS", 0.0)


def _file(tmp_path, content=b"hello"):
    path = tmp_path / "f.gz"
    path.write_bytes(content)
    return path, hashlib.sha256(content).hexdigest()


def test_sha256_file(tmp_path):
    path, sha = _file(tmp_path, os.urandom(3 << 20))
    assert sha256_file(path) == sha


def test_verify_accepts_and_caches_persistently(tmp_path, isolated_cache):
    path, sha = _file(tmp_path)
    assert verify_file(path, sha.upper()) == sha
    on_disk = json.loads((isolated_cache / "verified-sha256.json").read_text())
    assert list(on_disk.values()) == [sha]
    # A fresh cache object (a new process) trusts the record without re-hashing:
    # prove it by recording a different hash for the same path, size and mtime.
    fresh = VerificationCache(isolated_cache / "verified-sha256.json")
    assert fresh.lookup(path) == sha
    fresh.record(path, "0" * 64)
    with pytest.raises(ChecksumMismatchError):
        verify_file(path, sha, cache=VerificationCache(isolated_cache / "verified-sha256.json"))


def test_changed_file_is_hashed_again(tmp_path):
    path, sha = _file(tmp_path)
    verify_file(path, sha)
    path.write_bytes(b"HELLO")  # same size; the mtime changes
    os.utime(path, ns=(1, 1))
    with pytest.raises(ChecksumMismatchError) as info:
        verify_file(path, sha)
    message = str(info.value)
    assert str(path) in message and sha in message
    assert "not the official one" in message and "verify=False" in message


def test_unknown_official_hash_returns_actual(tmp_path):
    path, sha = _file(tmp_path)
    assert verify_file(path, None) == sha


def test_unwritable_cache_falls_back_to_memory(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("SCRATCHNET_CACHE_DIR", str(blocker / "cache"))
    cache = get_cache()
    path, sha = _file(tmp_path)
    assert verify_file(path, sha, cache=cache) == sha
    assert not cache.persistent
    assert cache.lookup(path) == sha  # still remembered for this process


def test_corrupt_cache_file_is_ignored(tmp_path, isolated_cache):
    (isolated_cache / "verified-sha256.json").write_text("{not json")
    path, sha = _file(tmp_path)
    assert verify_file(path, sha, cache=VerificationCache(isolated_cache / "verified-sha256.json"))


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("SCRATCHNET_CACHE_DIR", str(tmp_path / "a"))
    assert cache_dir() == tmp_path / "a"
    monkeypatch.delenv("SCRATCHNET_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "scratchnet"


def test_same_size_rewrite_with_restored_mtime_is_hashed_again(tmp_path, isolated_cache):
    """cp -p / rsync -t / touch -r put the old mtime back: the cache must still notice."""
    path, sha = _file(tmp_path, b"labels: 0 1 2 3")
    before = path.stat()
    cache_file = isolated_cache / "verified-sha256.json"
    assert verify_file(path, sha, cache=VerificationCache(cache_file)) == sha
    assert json.loads(cache_file.read_text())  # recorded
    time.sleep(0.05)  # beyond the kernel's timestamp tick
    path.write_bytes(b"labels: 0 1 9 3")  # one label changed, same size, same inode
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    assert path.stat().st_mtime_ns == before.st_mtime_ns
    with pytest.raises(ChecksumMismatchError):
        verify_file(path, sha, cache=VerificationCache(cache_file))  # a new process


def test_a_file_changed_just_now_is_not_cached(tmp_path, isolated_cache, monkeypatch):
    monkeypatch.setattr(checksums, "RACY_SECONDS", 60.0)
    path, sha = _file(tmp_path)
    cache = VerificationCache(isolated_cache / "verified-sha256.json")
    assert verify_file(path, sha, cache=cache) == sha
    assert cache.lookup(path) is None and not (isolated_cache / "verified-sha256.json").exists()
