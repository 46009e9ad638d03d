"""Benchmark: loading the 116,323-image EMNIST ByMerge test split.

Times ``scratchnet.data.load("emnist-bymerge", "test")`` end to end (find the
files, SHA-256 verification, gunzip, IDX parsing, transposing to upright, labels
to int64), taking the median of several runs, in two conditions:

* **cold verification cache**: the cache is emptied before every run, so each run
  hashes both files (what the very first load on a machine costs);
* **warm verification cache**: the hashes are already recorded, so verification is
  a dictionary lookup (every later load).

The operating system's file cache is warm in both (the files are read once
before timing), so the figures measure scratchnet, not the disk. A private,
temporary verification cache is used so the user's cache is neither read nor
changed.

Usage::

    SCRATCHNET_DATA=/path/to/datasets python benchmarks/bench_data.py [--repeats 7]

``run()`` returns one dict per condition for ``benchmarks/run.py``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

DATASET = "emnist-bymerge"
SPLIT = "test"


def _time_load(data_dir: str | None, repeats: int, clear_cache: bool) -> list[float]:
    from scratchnet.data import load
    from scratchnet.data.checksums import get_cache

    times = []
    for _ in range(repeats):
        if clear_cache:
            get_cache().clear()
        start = time.perf_counter()
        images, labels = load(DATASET, SPLIT, data_dir=data_dir, download=False)
        times.append(time.perf_counter() - start)
        del images, labels
    return times


def run(data_dir: str | None = None, repeats: int = 5) -> list[dict]:
    """Time the load in both cache conditions.

    Parameters
    ----------
    data_dir
        Folder holding the split; default ``$SCRATCHNET_DATA`` / the usual lookup.
    repeats
        Timed runs per condition (the median is reported).

    Returns
    -------
    list of dict
        One row per condition with keys ``benchmark``, ``condition``, ``images``,
        ``median_s``, ``min_s``, ``max_s``, ``repeats``; or a single row with a
        ``skipped`` reason if the split is not available.
    """
    from scratchnet.data import DatasetNotFoundError, get_spec, locate

    found = locate(DATASET, SPLIT, data_dir)
    if not found.complete:
        return [{"benchmark": f"load {DATASET} {SPLIT}",
                 "skipped": f"split not found under {found.root}; set SCRATCHNET_DATA"}]
    saved = os.environ.get("SCRATCHNET_CACHE_DIR")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-data-cache-") as cache:
        os.environ["SCRATCHNET_CACHE_DIR"] = cache
        try:
            for path in (found.images, found.labels):  # warm the OS file cache
                with open(path, "rb") as fh:
                    while fh.read(1 << 24):
                        pass
            try:
                _time_load(data_dir, 1, clear_cache=True)  # import and first-touch costs
            except DatasetNotFoundError as exc:  # pragma: no cover - raced with a deletion
                return [{"benchmark": f"load {DATASET} {SPLIT}", "skipped": str(exc)}]
            for condition, clear in (("cold verification cache", True),
                                     ("warm verification cache", False)):
                times = _time_load(data_dir, repeats, clear_cache=clear)
                rows.append({
                    "benchmark": f"load {DATASET} {SPLIT}",
                    "condition": condition,
                    "images": get_spec(DATASET).split(SPLIT).count,
                    "median_s": statistics.median(times),
                    "min_s": min(times),
                    "max_s": max(times),
                    "repeats": repeats,
                })
        finally:
            if saved is None:
                os.environ.pop("SCRATCHNET_CACHE_DIR", None)
            else:
                os.environ["SCRATCHNET_CACHE_DIR"] = saved
    return rows


def to_markdown(rows: list[dict]) -> str:
    """Format ``run()``'s rows as a Markdown table."""
    if rows and "skipped" in rows[0]:
        return f"{rows[0]['benchmark']}: skipped ({rows[0]['skipped']})"
    lines = [
        "| benchmark | condition | images | median (s) | min (s) | max (s) | runs |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['benchmark']} | {r['condition']} | {r['images']:,} | {r['median_s']:.3f} "
            f"| {r['min_s']:.3f} | {r['max_s']:.3f} | {r['repeats']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(to_markdown(run(args.data_dir, args.repeats)))
    print(f"\n(cores: {os.cpu_count()}, load average: "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())})")


if __name__ == "__main__":
    main()
