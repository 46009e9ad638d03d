"""CSVLogger: one row of the epoch's logs per epoch in a CSV file, as Keras 3's.

The file, as ``keras.callbacks.CSVLogger`` writes it: a header ``epoch`` followed by the
keys of the first epoch's logs in sorted order, then one row per epoch (the epoch index
from 0, then the values, ``NA`` for a key an epoch lacks). ``append=True`` keeps the rows
already in the file and writes no second header (a fresh or empty file gets one).
Keras also adds ``val_`` columns to a first epoch without validation, for its
``validation_freq``; scratchnet validates every epoch or never, so the columns are the
logs' own.

Beyond Keras, every epoch replaces the whole file atomically (``archive.atomic_replace``),
so a run killed mid-write leaves the previous epoch's complete file, never half a row;
and appending to a file whose header names other columns is refused rather than
writing rows that do not line up.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from scratchnet.archive import atomic_replace
from scratchnet.callback_base import Callback

#: A CSV log larger than this is not a log of epochs: refuse to read it into memory.
MAX_EXISTING = 64 << 20


class CSVLogger(Callback):
    """Write the epoch's logs to ``filename`` at the end of every epoch.

    Parameters
    ----------
    filename : path
    separator : str, default ','
        One character between values.
    append : bool, default False
        Keep the file's earlier rows (resuming a run); otherwise start it afresh.
    """

    def __init__(self, filename, separator=",", append=False):
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"CSVLogger separator must be one character, got {separator!r}")
        self.filename = Path(filename)
        self.sep, self.append = separator, bool(append)
        self.keys = None
        self._text = ""  # the file's content so far

    def on_train_begin(self, logs=None):
        self.keys, self._text = None, ""
        if self.append and self.filename.exists():
            size = self.filename.stat().st_size
            if size > MAX_EXISTING:
                raise ValueError(f"{self.filename}: {size} bytes is too large for a CSV log of "
                                 "epochs; append to another file")
            self._text = self.filename.read_text(encoding="utf-8")
            if self._text and not self._text.endswith("\n"):
                self._text += "\n"

    def _existing_header(self):
        first = self._text.split("\n", 1)[0]
        return next(csv.reader([first], delimiter=self.sep)) if first else None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        out = io.StringIO()
        writer = csv.writer(out, delimiter=self.sep, lineterminator="\n")
        if self.keys is None:
            self.keys = sorted(logs)
            header, existing = ["epoch", *self.keys], self._existing_header()
            if existing is None:
                writer.writerow(header)
            elif existing != header:
                raise ValueError(f"{self.filename} has the columns {existing}, this run logs "
                                 f"{header}; append to another file, or append=False to "
                                 "start it afresh")
        writer.writerow([epoch, *(logs.get(k, "NA") for k in self.keys)])
        self._text += out.getvalue()
        with atomic_replace(self.filename) as f:
            f.write(self._text.encode("utf-8"))
