"""TFDS-style split strings such as ``'test[:96323]'``, ``'train[:10%]'``, ``'train[-5000:]'``.

A split string names one official split and, optionally, a contiguous slice of
it, so that a single official split can be cut into training and test parts:
``'test[:96323]'`` and ``'test[96323:]'`` are disjoint and together the whole
split. Bounds are record indices (negative counts from the end) or percentages
of the split's length, rounded to the nearest record (halves round up).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import SplitError

__all__ = ["SplitSelection", "parse_split"]

_BOUND = r"(-?\d+%?)"
_SPLIT_RE = re.compile(
    rf"^(?P<base>[A-Za-z_][A-Za-z0-9_-]*)(?:\[(?P<start>{_BOUND})?:(?P<stop>{_BOUND})?\])?$"
)


@dataclass(frozen=True)
class SplitSelection:
    """A parsed split string.

    Attributes
    ----------
    base
        The official split name (``'train'`` or ``'test'``).
    start, stop
        The bound text as written (``'96323'``, ``'-5000'``, ``'10%'``) or None.
    text
        The original split string, for messages.
    """

    base: str
    start: str | None
    stop: str | None
    text: str

    @property
    def is_whole(self) -> bool:
        """True when no slice bounds were given."""
        return self.start is None and self.stop is None

    def _index(self, bound: str, n: int) -> int:
        if bound.endswith("%"):
            pct = int(bound[:-1])
            if not -100 <= pct <= 100:
                raise SplitError(f"{self.text!r}: percentage {bound} is outside -100%..100%")
            # Nearest record, halves up, in exact integer arithmetic.
            value = (abs(pct) * n * 2 + 100) // 200
            value = -value if pct < 0 else value
        else:
            value = int(bound)
            if abs(value) > n:
                raise SplitError(
                    f"{self.text!r}: index {value} is outside the split, which has {n} records"
                )
        return value + n if value < 0 else value

    def resolve(self, n: int) -> slice:
        """Return the ``slice`` this selection picks from a split of ``n`` records.

        Raises
        ------
        SplitError
            If a bound lies outside the split or the selection is empty.
        """
        start = 0 if self.start is None else self._index(self.start, n)
        stop = n if self.stop is None else self._index(self.stop, n)
        if start >= stop:
            raise SplitError(
                f"{self.text!r} selects no records from a split of {n} "
                f"(start {start} >= stop {stop})"
            )
        return slice(start, stop)


def parse_split(split: str) -> SplitSelection:
    """Parse a split string such as ``'test[96323:]'``.

    Raises
    ------
    SplitError
        If the string does not have the form ``name`` or ``name[start:stop]``
        with integer or percentage bounds.
    """
    if not isinstance(split, str):
        raise SplitError(f"split must be a string like 'train' or 'test[:10%]', got {split!r}")
    m = _SPLIT_RE.match(split)
    if m is None:
        raise SplitError(
            f"malformed split {split!r}; expected 'train', 'test', or a slice such as "
            "'test[:96323]', 'test[96323:]', 'train[:10%]' or 'train[-5000:]'"
        )
    return SplitSelection(m["base"], m["start"], m["stop"], split)
