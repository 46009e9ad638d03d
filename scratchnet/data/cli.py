"""Command line: ``python -m scratchnet.data list | download NAME | show NAME``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from .checksums import verify_file
from .download import DownloadOptions
from .errors import ChecksumMismatchError, DataDirNotWritableError, DataError, DownloadError
from .loading import download_dataset, load
from .locating import locate, missing_message
from .paths import resolve_data_dir
from .registry import dataset_names, get_spec
from .render import save_grid


def _file_state(path, official_sha: str | None, verify: bool) -> str:
    if path is None:
        return "missing"
    if not path.name.endswith(".gz"):
        return "raw"  # the official checksums are of the .gz files
    if official_sha is None:
        return "no official checksum"
    if not verify:
        return "present"
    try:
        verify_file(path, official_sha)
    except ChecksumMismatchError:
        return "CHECKSUM MISMATCH"
    return "verified"


def _status(name: str, split: str, data_dir, verify: bool) -> str:
    found = locate(name, split, data_dir)
    s = get_spec(name).split(split)
    images = _file_state(found.images, s.images.sha256, verify)
    labels = _file_state(found.labels, s.labels.sha256, verify)
    if images == labels:
        return {"missing": "absent"}.get(images, images)
    if images == "missing":
        return f"labels only ({labels}); images absent"
    if labels == "missing":
        return f"images only ({images}); labels absent"
    return f"images {images}, labels {labels}"


def cmd_list(args: argparse.Namespace) -> int:
    root = resolve_data_dir(args.data_dir)
    print(f"data folder: {root}")
    print(f"{'dataset':<17} {'split':<6} {'records':>8} {'classes':>7}  state")
    for name in dataset_names():
        spec = get_spec(name)
        for split, s in spec.splits.items():
            state = _status(name, split, args.data_dir, not args.no_verify)
            print(f"{name:<17} {split:<6} {s.count:>8} {spec.num_classes:>7}  {state}")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    options = DownloadOptions(timeout=args.timeout, retries=args.retries)
    splits = [args.split] if args.split else list(get_spec(args.name).splits)
    fetched = []
    for split in splits:
        try:
            fetched += download_dataset(args.name, split, args.data_dir, options=options)
        except (DownloadError, DataDirNotWritableError) as exc:
            reason = f"Download failed: {exc}"
            print(f"error: {missing_message(args.name, split, args.data_dir, reason)}",
                  file=sys.stderr)
            return 1
    for p in fetched:
        print(f"downloaded and verified {p}")
    if not fetched:
        print(f"{args.name}: every file is already in {resolve_data_dir(args.data_dir)}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    spec = get_spec(args.name)
    images, labels = load(args.name, args.split, args.data_dir, download=not args.no_download)
    # A random sample: contiguous records can all share one class (Letters' test split
    # is sorted), which would hide label errors.
    rng = np.random.default_rng(args.seed)
    pick = np.sort(rng.choice(len(images), size=min(args.n, len(images)), replace=False))
    title = f"{args.name} {args.split}: {len(pick)} of {len(images)} (upright, as load() returns)"
    path = save_grid(images[pick], labels[pick], spec.class_names, args.out, title=title)
    print(f"wrote {path}")
    return 0


def build_parser(prog: str = "python -m scratchnet.data") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="MNIST and EMNIST for scratchnet.")
    sub = parser.add_subparsers(dest="command", required=True)

    def data_dir_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--data-dir", help="data folder (default: $SCRATCHNET_DATA, else the default)"
        )

    p = sub.add_parser("list", help="every dataset and split, and whether it is present/verified")
    data_dir_arg(p)
    p.add_argument("--no-verify", action="store_true", help="do not hash files")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("download", help="download and verify a dataset's missing files")
    p.add_argument("name", help=f"one of: {', '.join(dataset_names())}")
    p.add_argument("--split", help="only this split (default: all)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per network read")
    p.add_argument("--retries", type=int, default=3, help="retries per URL")
    data_dir_arg(p)
    p.set_defaults(func=cmd_download)

    p = sub.add_parser("show", help="write a PNG grid of labelled, upright samples")
    p.add_argument("name")
    p.add_argument("--split", default="test", help="split string, e.g. 'test' or 'train[:10%%]'")
    p.add_argument("--n", type=int, default=64, help="number of samples")
    p.add_argument("--out", default="grid.png", help="output PNG")
    p.add_argument("--seed", type=int, default=0, help="seed for the random sample")
    p.add_argument("--no-download", action="store_true", help="fail instead of downloading")
    data_dir_arg(p)
    p.set_defaults(func=cmd_show)
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "python -m scratchnet.data") -> int:
    """Run the CLI; return the exit status (1 with a message on a data error)."""
    args = build_parser(prog).parse_args(argv)
    try:
        return args.func(args)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
