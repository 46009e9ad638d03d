"""Downloads, for real, against a local HTTP server on 127.0.0.1 (no mocks)."""

from __future__ import annotations

import hashlib
import os
import time

import numpy as np
import pytest

from scratchnet.data import (
    DatasetNotFoundError,
    DownloadError,
    DownloadOptions,
    download_dataset,
    download_file,
    extract_zip_members,
    load,
    register,
    unregister,
)
from scratchnet.data.download import part_path

from .synthetic import make_dataset, make_zip, sha

FAST = DownloadOptions(timeout=5.0, retries=2, backoff=0.01, progress=False)
PAYLOAD = np.random.default_rng(1).bytes(300_000)
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


def test_success_with_progress_bar(http_server, tmp_path, capsys):
    http_server.add("/f.gz", PAYLOAD)
    opts = DownloadOptions(timeout=5.0, retries=0, progress=True)
    dest = download_file([http_server.url("/f.gz")], tmp_path / "f.gz", PAYLOAD_SHA, opts)
    assert dest.read_bytes() == PAYLOAD
    assert _leftovers(tmp_path) == ["f.gz"]
    assert "B/s" in capsys.readouterr().err  # tqdm showed bytes and a rate


def test_dropped_connection_is_resumed_with_range(http_server, tmp_path):
    route = http_server.add("/f.gz", PAYLOAD, drop_after=100_000)
    download_file([http_server.url("/f.gz")], tmp_path / "f.gz", PAYLOAD_SHA, FAST)
    assert (tmp_path / "f.gz").read_bytes() == PAYLOAD
    assert [r["range"] for r in route.requests] == [None, "bytes=100000-"]


def test_part_file_from_an_earlier_run_is_continued(http_server, tmp_path):
    dest = tmp_path / "f.gz"
    part_path(dest).write_bytes(PAYLOAD[:123_456])  # a previous process was killed here
    route = http_server.add("/f.gz", PAYLOAD)
    download_file([http_server.url("/f.gz")], dest, PAYLOAD_SHA, FAST)
    assert dest.read_bytes() == PAYLOAD
    assert [r["range"] for r in route.requests] == ["bytes=123456-"]
    assert _leftovers(tmp_path) == ["f.gz"]


def test_complete_part_file_is_verified_not_downloaded_again(http_server, tmp_path):
    dest = tmp_path / "f.gz"
    part_path(dest).write_bytes(PAYLOAD)  # an earlier run stopped just before verifying
    route = http_server.add("/f.gz", PAYLOAD)
    download_file([http_server.url("/f.gz")], dest, PAYLOAD_SHA, FAST)
    assert dest.read_bytes() == PAYLOAD
    assert [r["range"] for r in route.requests] == [f"bytes={len(PAYLOAD)}-"]  # answered 416


def test_full_size_but_wrong_part_file_is_discarded(http_server, tmp_path):
    dest = tmp_path / "f.gz"
    part_path(dest).write_bytes(bytes(len(PAYLOAD)))
    route = http_server.add("/f.gz", PAYLOAD)
    download_file([http_server.url("/f.gz")], dest, PAYLOAD_SHA, FAST)
    assert dest.read_bytes() == PAYLOAD
    assert [r["range"] for r in route.requests] == [f"bytes={len(PAYLOAD)}-", None]
    assert _leftovers(tmp_path) == ["f.gz"]


def test_server_ignoring_range_still_gives_the_right_file(http_server, tmp_path):
    route = http_server.add("/f.gz", PAYLOAD, drop_after=70_000, ignore_range=True)
    download_file([http_server.url("/f.gz")], tmp_path / "f.gz", PAYLOAD_SHA, FAST)
    assert (tmp_path / "f.gz").read_bytes() == PAYLOAD
    assert len(route.requests) == 2


def test_wrong_checksum_is_rejected_and_removed(http_server, tmp_path):
    http_server.add("/f.gz", PAYLOAD)
    with pytest.raises(DownloadError, match="rejected.*is not the official file.*deleted"):
        download_file([http_server.url("/f.gz")], tmp_path / "f.gz", "0" * 64, FAST)
    assert _leftovers(tmp_path) == []  # neither the final name nor a .part file


def test_404_then_next_mirror(http_server, tmp_path):
    http_server.add("/good/f.gz", PAYLOAD)
    urls = [http_server.url("/missing/f.gz"), http_server.url("/good/f.gz")]
    assert download_file(urls, tmp_path / "f.gz", PAYLOAD_SHA, FAST).read_bytes() == PAYLOAD


def test_404_everywhere_is_a_download_error(http_server, tmp_path):
    with pytest.raises(DownloadError, match=r"/missing/f.gz: HTTP 404"):
        download_file([http_server.url("/missing/f.gz")], tmp_path / "f.gz", PAYLOAD_SHA, FAST)
    assert _leftovers(tmp_path) == []


def test_slow_server_times_out_within_the_retry_budget(http_server, tmp_path):
    route = http_server.add("/slow.gz", PAYLOAD, delay=3.0)
    opts = DownloadOptions(timeout=0.3, retries=1, backoff=0.01, progress=False)
    start = time.monotonic()
    with pytest.raises(DownloadError, match="timed out"):
        download_file([http_server.url("/slow.gz")], tmp_path / "f.gz", PAYLOAD_SHA, opts)
    elapsed = time.monotonic() - start
    assert len(route.requests) == 2  # the first try and exactly one retry
    assert elapsed < 2.0, elapsed  # bounded by timeout x attempts, not by the server
    assert not (tmp_path / "f.gz").exists()


def test_connection_refused_is_a_download_error(tmp_path):
    import socket

    with socket.socket() as s:  # find a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError, match="cannot connect"):
        download_file([f"http://127.0.0.1:{port}/f.gz"], tmp_path / "f.gz", PAYLOAD_SHA, FAST)


# --- NIST-style zip archive ------------------------------------------------------------
MEMBERS = {
    "gzip/emnist-x-train-images-idx3-ubyte.gz": os.urandom(50_000),
    "gzip/emnist-x-train-labels-idx1-ubyte.gz": os.urandom(3_000),
    "gzip/emnist-x-test-images-idx3-ubyte.gz": os.urandom(40_000),
    "gzip/emnist-x-test-labels-idx1-ubyte.gz": os.urandom(2_000),
    "gzip/emnist-x-mapping.txt": b"0 48\r\n",
}


def _wanted(tmp_path, names):
    return {m: (tmp_path / m.split("/")[1], sha(MEMBERS[m])) for m in names}


@pytest.mark.parametrize("descriptors", [False, True])
def test_zip_members_are_extracted_while_streaming(http_server, tmp_path, descriptors):
    http_server.add("/gzip.zip", make_zip(MEMBERS, descriptors=descriptors))
    names = [m for m in MEMBERS if "-test-" in m]
    extract_zip_members([http_server.url("/gzip.zip")], _wanted(tmp_path, names), FAST)
    # Only the requested members are kept, and no copy of the archive.
    assert _leftovers(tmp_path) == sorted(m.split("/")[1] for m in names)
    for m in names:
        assert (tmp_path / m.split("/")[1]).read_bytes() == MEMBERS[m]


def test_stored_zip_members(http_server, tmp_path):
    http_server.add("/gzip.zip", make_zip(MEMBERS, stored=frozenset(MEMBERS)))
    names = ["gzip/emnist-x-train-labels-idx1-ubyte.gz"]
    extract_zip_members([http_server.url("/gzip.zip")], _wanted(tmp_path, names), FAST)
    assert (tmp_path / names[0].split("/")[1]).read_bytes() == MEMBERS[names[0]]


def test_zip_stream_resumes_after_a_drop(http_server, tmp_path):
    archive = make_zip(MEMBERS, descriptors=True)
    route = http_server.add("/gzip.zip", archive, drop_after=len(archive) // 2)
    names = [m for m in MEMBERS if "-test-" in m]
    extract_zip_members([http_server.url("/gzip.zip")], _wanted(tmp_path, names), FAST)
    assert [r["range"] for r in route.requests] == [None, f"bytes={len(archive) // 2}-"]
    for m in names:
        assert (tmp_path / m.split("/")[1]).read_bytes() == MEMBERS[m]


def test_zip_member_with_wrong_checksum_is_rejected_and_removed(http_server, tmp_path):
    http_server.add("/gzip.zip", make_zip(MEMBERS))
    good = "gzip/emnist-x-test-images-idx3-ubyte.gz"
    bad = "gzip/emnist-x-test-labels-idx1-ubyte.gz"
    wanted = _wanted(tmp_path, [good, bad])
    wanted[bad] = (wanted[bad][0], "f" * 64)
    with pytest.raises(DownloadError, match="test-labels.*is not the official file"):
        extract_zip_members([http_server.url("/gzip.zip")], wanted, FAST)
    # The verified member is kept; the bad one and every partial file are gone.
    assert _leftovers(tmp_path) == [good.split("/")[1]]


def test_zip_without_the_member(http_server, tmp_path):
    http_server.add("/gzip.zip", make_zip({"gzip/other.gz": b"x"}))
    with pytest.raises(DownloadError, match="does not contain gzip/emnist-x-test"):
        extract_zip_members(
            [http_server.url("/gzip.zip")],
            _wanted(tmp_path, ["gzip/emnist-x-test-labels-idx1-ubyte.gz"]),
            FAST,
        )


def test_not_a_zip(http_server, tmp_path):
    http_server.add("/gzip.zip", b"<html>mirror moved</html>")
    with pytest.raises(DownloadError, match="not a zip archive"):
        extract_zip_members(
            [http_server.url("/gzip.zip")],
            _wanted(tmp_path, ["gzip/emnist-x-test-labels-idx1-ubyte.gz"]),
            FAST,
        )


# --- end to end through load() -----------------------------------------------------------
@pytest.fixture
def registered():
    names = []

    def add(spec):
        register(spec)
        names.append(spec.name)
        return spec

    yield add
    for name in names:
        unregister(name)


def test_load_downloads_emnist_style_split_from_the_archive(http_server, tmp_path, registered):
    spec, splits = make_dataset("test-emnist", archive_urls=(http_server.url("/gzip.zip"),))
    members = {}
    for split, data in splits.items():
        s = spec.split(split)
        members["gzip/" + s.images.name] = data.image_file
        members["gzip/" + s.labels.name] = data.label_file
    http_server.add("/gzip.zip", make_zip(members, descriptors=True))
    registered(spec)
    images, labels = load("test-emnist", "test", data_dir=tmp_path, download_options=FAST)
    np.testing.assert_array_equal(images, splits["test"].images)  # upright again
    np.testing.assert_array_equal(labels, splits["test"].labels)
    # Only the requested split was extracted, into the emnist/ sub-folder.
    assert _leftovers(tmp_path / "emnist") == sorted(
        [spec.split("test").images.name, spec.split("test").labels.name]
    )


def test_load_downloads_mnist_style_files_from_mirrors(http_server, tmp_path, registered):
    spec, splits = make_dataset(
        "test-mnist",
        transposed=False,
        mirrors=(http_server.url("/dead/"), http_server.url("/mirror/")),
    )
    for split, data in splits.items():
        s = spec.split(split)
        http_server.add("/mirror/" + s.images.name, data.image_file)
        http_server.add("/mirror/" + s.labels.name, data.label_file)
    registered(spec)
    assert download_dataset("test-mnist", data_dir=tmp_path, options=FAST)
    assert len(_leftovers(tmp_path / "mnist")) == 4
    assert download_dataset("test-mnist", data_dir=tmp_path, options=FAST) == []  # all there
    images, labels = load("test-mnist", "train[-10:]", data_dir=tmp_path, download=False)
    np.testing.assert_array_equal(images, splits["train"].images[-10:])
    np.testing.assert_array_equal(labels, splits["train"].labels[-10:])


def test_failed_download_explains_what_to_do(http_server, tmp_path, registered):
    spec, _ = make_dataset("test-gone", archive_urls=(http_server.url("/gone.zip"),))
    registered(spec)
    with pytest.raises(DatasetNotFoundError) as info:
        load("test-gone", "train", data_dir=tmp_path, download_options=FAST)
    message = str(info.value)
    for fragment in (
        "test-gone-train-images-idx3-ubyte.gz",  # the files expected
        str(tmp_path / "emnist"),  # the folders searched
        "HTTP 404",  # why the download failed
        http_server.url("/gone.zip"),  # where to fetch by hand
        "SCRATCHNET_DATA",  # how to point scratchnet at the files
        "data_dir=",
    ):
        assert fragment in message, (fragment, message)
    # Nothing half-written left behind, not even the empty sub-folder the attempt made.
    assert not (tmp_path / "emnist").exists()


def test_zip_member_failing_its_crc_is_rejected(http_server, tmp_path):
    name = "gzip/emnist-x-test-labels-idx1-ubyte.gz"
    archive = bytearray(make_zip({name: MEMBERS[name]}, stored=frozenset({name})))
    data_at = 30 + len(name)  # local header, then the name, then (no extra field) the data
    archive[data_at] ^= 0xFF  # corrupt one stored byte: the archive's CRC-32 no longer fits
    http_server.add("/gzip.zip", bytes(archive))
    with pytest.raises(DownloadError, match="is corrupt: CRC-32"):
        extract_zip_members([http_server.url("/gzip.zip")], {name: (tmp_path / "x", None)}, FAST)
    assert _leftovers(tmp_path) == []
