"""Classification metrics computed from labels and a confusion matrix.

Everything here works on plain integer arrays and imports nothing else from
scratchnet, so it can score any classifier's predictions. The confusion matrix
is the common currency: ``cm[i, j]`` counts samples of true class ``i`` predicted
as class ``j``, and every other figure (accuracy, per-class precision / recall /
F1, macro-F1, the most-confused pairs, the ambiguity-aware accuracy) is read off
it, so they can never disagree with each other.

Ambiguity-aware accuracy
------------------------
Some handwritten characters are written identically: a round ``0``, a capital
``O`` and a lower-case ``o``; a stroke ``1``, a capital ``I``, a lower-case
``l`` and (in EMNIST's hand-writing) ``L``. No model can tell them apart from the
pixels alone, so part of any EMNIST model's error is the dataset's, not the
model's. :func:`ambiguity_summary` scores such groups as single classes and says
how much of the error they explain. The groups are given as characters and
resolved against a dataset's class names, so the same code serves EMNIST
ByMerge (classes ``0`` and ``O``; ``1``, ``I`` and ``L``), ByClass (``0``, ``O``,
``o``; ``1``, ``I``, ``l``, ``L``), Letters (classes ``Ii`` and ``Ll``) and MNIST
(no group has two classes, so nothing is merged).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "AMBIGUOUS_GROUPS",
    "SIMILAR_GROUPS",
    "AmbiguitySummary",
    "ClassGroup",
    "accuracy",
    "ambiguity_summary",
    "confusion_matrix",
    "group_errors",
    "macro_f1",
    "merged_accuracy",
    "most_confused_pairs",
    "precision_recall_f1",
    "resolve_groups",
]

#: Characters written identically in handwriting; merged for the ambiguity-aware accuracy.
AMBIGUOUS_GROUPS: tuple[str, ...] = ("0Oo", "1IlL")
#: Characters often written alike but distinguishable with care; reported on their own line.
SIMILAR_GROUPS: tuple[str, ...] = ("5S", "2Z")


def _as_labels(y, name: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D class indices, got shape {y.shape}")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{name} must be integer class indices, got {y.dtype}")
    return y.astype(np.int64, copy=False)


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """Count every (true class, predicted class) combination.

    Parameters
    ----------
    y_true, y_pred : array of int, shape (N,)
        Class indices in ``[0, num_classes)``.
    num_classes : int
        C, the number of classes (classes absent from both arrays get zero rows/columns).

    Returns
    -------
    ndarray of int64, shape (C, C)
        ``cm[i, j]`` = number of samples of true class ``i`` predicted as ``j``.
    """
    y_true, y_pred = _as_labels(y_true, "y_true"), _as_labels(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} labels but y_pred has {y_pred.size}")
    num_classes = int(num_classes)
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.size and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(f"{name} must be in [0, {num_classes}), "
                             f"got values in [{y.min()}, {y.max()}]")
    # One bincount over the flattened (true, pred) index is exact and O(N).
    flat = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def _check_cm(cm) -> np.ndarray:
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"a confusion matrix must be square (C, C), got shape {cm.shape}")
    if cm.sum() == 0:
        raise ValueError("the confusion matrix is empty (no samples were scored)")
    return cm


def accuracy(cm) -> float:
    """Fraction of samples on the diagonal of ``cm`` (shape (C, C))."""
    cm = _check_cm(cm)
    return float(np.trace(cm) / cm.sum())


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    # 0/0 is defined as 0 (as scikit-learn's zero_division=0), without a RuntimeWarning.
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def precision_recall_f1(cm):
    """Per-class precision, recall, F1 and support.

    Parameters
    ----------
    cm : array of int, shape (C, C)
        Confusion matrix, rows true classes, columns predictions.

    Returns
    -------
    precision, recall, f1 : ndarray of float64, shape (C,)
        precision = TP / predicted as the class; recall = TP / true members (the
        per-class accuracy); F1 their harmonic mean. A ratio with a zero
        denominator (a class never predicted, or absent) is 0.
    support : ndarray of int64, shape (C,)
        Number of true samples of each class.
    """
    cm = _check_cm(cm)
    tp = np.diagonal(cm)
    support = cm.sum(axis=1)
    precision = _safe_ratio(tp, cm.sum(axis=0))
    recall = _safe_ratio(tp, support)
    f1 = _safe_ratio(2 * precision * recall, precision + recall)
    return precision, recall, f1, support.astype(np.int64)


def macro_f1(cm) -> float:
    """Unweighted mean of the per-class F1 over the classes that occur.

    A class "occurs" if it is a true label or a prediction at least once, which
    is what scikit-learn's ``f1_score(average='macro')`` averages over; classes
    that never occur would only add meaningless zeros.
    """
    cm = _check_cm(cm)
    _, _, f1, _ = precision_recall_f1(cm)
    present = (cm.sum(axis=0) + cm.sum(axis=1)) > 0
    return float(f1[present].mean())


def most_confused_pairs(cm, k: int = 10) -> list[tuple[int, int, int]]:
    """The ``k`` largest off-diagonal cells of ``cm``: the commonest mistakes.

    Parameters
    ----------
    cm : array of int, shape (C, C)
    k : int
        How many pairs at most (fewer if fewer cells are non-zero).

    Returns
    -------
    list of (true class, predicted class, count)
        Largest count first; ties in the order (true, predicted) ascending.
        Directed: true ``O`` predicted as ``0`` and true ``0`` predicted as ``O``
        are different entries.
    """
    cm = _check_cm(cm)
    off = cm.astype(np.int64, copy=True)
    np.fill_diagonal(off, 0)
    flat = off.ravel()
    # A stable sort on -count keeps equal counts in row-major (true, pred) order.
    order = np.argsort(-flat, kind="stable")[: max(int(k), 0)]
    c = cm.shape[0]
    return [(int(i // c), int(i % c), int(flat[i])) for i in order if flat[i] > 0]


@dataclass(frozen=True)
class ClassGroup:
    """Classes of one dataset that are scored as one by the ambiguity-aware accuracy.

    Attributes
    ----------
    chars : str
        The characters that define the group, e.g. ``"0Oo"``.
    classes : tuple of int
        The class indices whose name contains one of ``chars`` (at least two).
    names : tuple of str
        Their class names, e.g. ``("0", "O")``.
    """

    chars: str
    classes: tuple[int, ...]
    names: tuple[str, ...]

    @property
    def label(self) -> str:
        """The group as people write it: ``{0, O}``."""
        return "{" + ", ".join(self.names) + "}"


def resolve_groups(class_names, groups=AMBIGUOUS_GROUPS) -> tuple[ClassGroup, ...]:
    """Find which of a dataset's classes each character group covers.

    Parameters
    ----------
    class_names : sequence of str, length C
        ``class_names[i]`` is the character(s) of class ``i`` (EMNIST Letters
        names a class by both cases, ``"Ll"``).
    groups : sequence of str
        Each string is one group of look-alike characters.

    Returns
    -------
    tuple of ClassGroup
        One per group that covers at least two classes, in the order given;
        a group covering one class or none (MNIST has no letters; ByMerge's
        single ``O`` class already holds ``o``) merges nothing and is left out.

    Raises
    ------
    ValueError
        If one class would fall into two groups (the merged score would be ambiguous).
    """
    resolved, owner = [], {}
    for chars in groups:
        members = tuple(i for i, name in enumerate(class_names) if set(name) & set(chars))
        if len(members) < 2:
            continue
        for i in members:
            if i in owner:
                raise ValueError(f"class {class_names[i]!r} matches both groups "
                                 f"{owner[i]!r} and {chars!r}")
            owner[i] = chars
        resolved.append(ClassGroup(chars, members, tuple(class_names[i] for i in members)))
    return tuple(resolved)


def group_errors(cm, group: ClassGroup) -> int:
    """Errors that stay inside ``group``: true class and prediction both in it, but different."""
    cm = _check_cm(cm)
    block = cm[np.ix_(group.classes, group.classes)]
    return int(block.sum() - np.trace(block))


def merged_accuracy(cm, groups) -> float:
    """Accuracy when every group in ``groups`` counts as a single class.

    A prediction is correct if it is the true class or another class of the
    true class's group. With no groups this is the plain :func:`accuracy`.
    """
    cm = _check_cm(cm)
    correct = np.trace(cm) + sum(group_errors(cm, g) for g in groups)
    return float(correct / cm.sum())


@dataclass(frozen=True)
class AmbiguitySummary:
    """How much of a model's error is confusion between look-alike characters.

    Attributes
    ----------
    accuracy : float
        Plain accuracy.
    errors : int
        Number of misclassified samples.
    ambiguous, similar : tuple of ClassGroup
        The resolved :data:`AMBIGUOUS_GROUPS` and :data:`SIMILAR_GROUPS`.
    ambiguous_accuracy : float
        Accuracy with the ambiguous groups merged.
    all_groups_accuracy : float
        Accuracy with the ambiguous and the similar groups merged.
    group_errors : dict str -> int
        Errors inside each group, keyed by ``ClassGroup.label``.
    """

    accuracy: float
    errors: int
    ambiguous: tuple[ClassGroup, ...]
    similar: tuple[ClassGroup, ...]
    ambiguous_accuracy: float
    all_groups_accuracy: float
    group_errors: dict[str, int]

    def share_of_errors(self, groups) -> float:
        """Fraction of all errors that lie inside ``groups`` (0 when there are no errors)."""
        inside = sum(self.group_errors[g.label] for g in groups)
        return inside / self.errors if self.errors else 0.0

    def to_dict(self) -> dict:
        """Plain types only, for JSON."""
        return {
            "accuracy": self.accuracy,
            "errors": self.errors,
            "ambiguous_groups": [list(g.names) for g in self.ambiguous],
            "similar_groups": [list(g.names) for g in self.similar],
            "ambiguous_accuracy": self.ambiguous_accuracy,
            "all_groups_accuracy": self.all_groups_accuracy,
            "ambiguous_share_of_errors": self.share_of_errors(self.ambiguous),
            "all_groups_share_of_errors": self.share_of_errors(self.ambiguous + self.similar),
            "group_errors": dict(self.group_errors),
        }


def ambiguity_summary(cm, class_names, ambiguous=AMBIGUOUS_GROUPS,
                      similar=SIMILAR_GROUPS) -> AmbiguitySummary:
    """Plain and ambiguity-aware accuracy, and the errors each look-alike group explains.

    Parameters
    ----------
    cm : array of int, shape (C, C)
    class_names : sequence of str, length C
    ambiguous, similar : sequence of str
        Character groups (see :func:`resolve_groups`); the similar groups are
        merged only in ``all_groups_accuracy``.
    """
    cm = _check_cm(cm)
    if len(class_names) != cm.shape[0]:
        raise ValueError(f"{len(class_names)} class names for a {cm.shape[0]}-class matrix")
    amb = resolve_groups(class_names, ambiguous)
    sim = resolve_groups(class_names, similar)
    # Resolving both lists together checks that no class is in an ambiguous and a similar group.
    resolve_groups(class_names, (*ambiguous, *similar))
    return AmbiguitySummary(
        accuracy=accuracy(cm),
        errors=int(cm.sum() - np.trace(cm)),
        ambiguous=amb,
        similar=sim,
        ambiguous_accuracy=merged_accuracy(cm, amb),
        all_groups_accuracy=merged_accuracy(cm, amb + sim),
        group_errors={g.label: group_errors(cm, g) for g in amb + sim},
    )
