"""scratchnet.metrics against values worked out by hand."""

import numpy as np
import pytest

from scratchnet.data import get_spec
from scratchnet.metrics import (
    accuracy,
    ambiguity_summary,
    confusion_matrix,
    group_errors,
    macro_f1,
    merged_accuracy,
    most_confused_pairs,
    precision_recall_f1,
    resolve_groups,
)

# Three classes, ten samples. Row = true class, column = prediction:
#          pred 0  1  2
#   true 0     [3, 1, 0]
#   true 1     [2, 2, 0]
#   true 2     [0, 1, 1]
Y_TRUE = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
Y_PRED = [0, 0, 0, 1, 0, 0, 1, 1, 1, 2]
CM = np.array([[3, 1, 0], [2, 2, 0], [0, 1, 1]])


def test_confusion_matrix_counts_true_rows_and_predicted_columns():
    cm = confusion_matrix(Y_TRUE, Y_PRED, 3)
    np.testing.assert_array_equal(cm, CM)
    assert cm.dtype == np.int64
    # A class that never occurs still gets its row and column.
    np.testing.assert_array_equal(confusion_matrix([0, 1], [1, 1], 4)[:, 3], 0)
    assert confusion_matrix([0, 1], [1, 1], 4).shape == (4, 4)


def test_accuracy_precision_recall_f1_by_hand():
    assert accuracy(CM) == pytest.approx(6 / 10)
    precision, recall, f1, support = precision_recall_f1(CM)
    # precision: TP / column sum = 3/5, 2/4, 1/1; recall: TP / row sum = 3/4, 2/4, 1/2.
    np.testing.assert_allclose(precision, [3 / 5, 2 / 4, 1.0])
    np.testing.assert_allclose(recall, [3 / 4, 2 / 4, 1 / 2])
    f1_0 = 2 * 0.6 * 0.75 / (0.6 + 0.75)   # = 2/3
    f1_2 = 2 * 1.0 * 0.5 / 1.5             # = 2/3
    np.testing.assert_allclose(f1, [f1_0, 0.5, f1_2])
    np.testing.assert_array_equal(support, [4, 4, 2])
    assert macro_f1(CM) == pytest.approx((f1_0 + 0.5 + f1_2) / 3)


def test_never_predicted_class_scores_zero_without_warnings_and_absent_class_is_not_averaged():
    # Class 1 is never predicted (precision 0/0 -> 0); class 3 never occurs at all.
    cm = confusion_matrix([0, 0, 1, 2], [0, 0, 0, 2], 4)
    precision, recall, f1, support = precision_recall_f1(cm)
    np.testing.assert_allclose(precision, [2 / 3, 0, 1, 0])
    np.testing.assert_allclose(recall, [1, 0, 1, 0])
    np.testing.assert_allclose(f1, [0.8, 0, 1, 0])
    # Averaged over classes 0, 1, 2 only.
    assert macro_f1(cm) == pytest.approx((0.8 + 0 + 1) / 3)


def test_most_confused_pairs_are_directed_largest_first_ties_in_row_order():
    assert most_confused_pairs(CM, k=10) == [(1, 0, 2), (0, 1, 1), (2, 1, 1)]
    assert most_confused_pairs(CM, k=1) == [(1, 0, 2)]
    assert most_confused_pairs(np.eye(3, dtype=int), k=5) == []


def test_groups_resolve_against_each_datasets_class_names():
    bymerge = get_spec("emnist-bymerge").class_names
    groups = resolve_groups(bymerge)
    # ByMerge folds o into O and l into L, so the groups are {0, O} and {1, I, L}.
    assert [g.names for g in groups] == [("0", "O"), ("1", "I", "L")]
    assert [g.label for g in groups] == ["{0, O}", "{1, I, L}"]
    assert all(bymerge[i] == n for g in groups for i, n in zip(g.classes, g.names, strict=True))

    byclass = get_spec("emnist-byclass").class_names
    assert [g.names for g in resolve_groups(byclass)] == [("0", "O", "o"), ("1", "I", "L", "l")]

    letters = get_spec("emnist-letters").class_names
    # Letters has no digits and names classes by both cases: only {Ii, Ll} remains.
    assert [g.names for g in resolve_groups(letters)] == [("Ii", "Ll")]
    assert resolve_groups(letters, ("5S", "2Z")) == ()

    assert resolve_groups(get_spec("mnist").class_names) == ()


def test_a_class_in_two_groups_is_rejected():
    with pytest.raises(ValueError, match="matches both groups"):
        resolve_groups(["0", "O", "Q"], ("0O", "OQ"))


# Classes 0 O 1 I L 5 S, one row per true class:
NAMES = ["0", "O", "1", "I", "L", "5", "S"]
CM7 = np.array([
    #  0   O   1   I   L   5   S
    [80, 15,  0,  0,  0,  5,  0],   # 0: 15 as O (ambiguous), 5 as 5 (a real error)
    [10, 90,  0,  0,  0,  0,  0],   # O: 10 as 0 (ambiguous)
    [0,   0, 70, 20,  6,  0,  4],   # 1: 26 inside {1, I, L}, 4 as S
    [0,   0, 12, 88,  0,  0,  0],   # I: 12 as 1
    [0,   0,  0,  0, 100, 0,  0],
    [0,   0,  0,  0,  0, 91,  9],   # 5: 9 as S (similar)
    [0,   0,  0,  0,  0,  3, 97],   # S: 3 as 5 (similar)
])


def test_ambiguity_summary_by_hand():
    total, correct = 700, 80 + 90 + 70 + 88 + 100 + 91 + 97   # 616
    errors = total - correct                                  # 84
    assert CM7.sum() == total and np.trace(CM7) == correct
    s = ambiguity_summary(CM7, NAMES)
    assert [g.names for g in s.ambiguous] == [("0", "O"), ("1", "I", "L")]
    assert [g.names for g in s.similar] == [("5", "S")]   # no 2 or Z here
    assert s.errors == errors
    assert s.group_errors == {"{0, O}": 25, "{1, I, L}": 38, "{5, S}": 12}
    assert s.accuracy == pytest.approx(correct / total)
    assert s.ambiguous_accuracy == pytest.approx((correct + 25 + 38) / total)
    assert s.all_groups_accuracy == pytest.approx((correct + 25 + 38 + 12) / total)
    assert s.share_of_errors(s.ambiguous) == pytest.approx(63 / 84)
    assert s.share_of_errors(s.ambiguous + s.similar) == pytest.approx(75 / 84)
    d = s.to_dict()
    assert d["ambiguous_share_of_errors"] == pytest.approx(63 / 84)
    assert d["ambiguous_groups"] == [["0", "O"], ["1", "I", "L"]]
    # The merged accuracy is exactly the accuracy of the relabelled predictions.
    relabel = np.array([0, 0, 2, 2, 2, 5, 6])
    y_true = np.repeat(np.arange(7), CM7.sum(axis=1))
    y_pred = np.concatenate([np.repeat(np.arange(7), row) for row in CM7])
    assert accuracy(confusion_matrix(relabel[y_true], relabel[y_pred], 7)) == pytest.approx(
        s.ambiguous_accuracy)


def test_no_groups_means_merged_accuracy_is_plain_accuracy():
    assert merged_accuracy(CM, ()) == accuracy(CM)
    s = ambiguity_summary(CM, ["a", "b", "c"])
    assert s.ambiguous == () and s.ambiguous_accuracy == s.accuracy
    assert s.share_of_errors(s.ambiguous) == 0.0
    perfect = ambiguity_summary(np.eye(2, dtype=int) * 5, ["0", "O"])
    assert perfect.errors == 0 and perfect.share_of_errors(perfect.ambiguous) == 0.0
    assert group_errors(np.eye(2, dtype=int), resolve_groups(["0", "O"])[0]) == 0


@pytest.mark.parametrize("call, match", [
    (lambda: confusion_matrix([0, 1], [0], 2), "2 labels but y_pred has 1"),
    (lambda: confusion_matrix([0, 2], [0, 1], 2), r"y_true must be in \[0, 2\)"),
    (lambda: confusion_matrix([0, -1], [0, 1], 2), r"y_true must be in \[0, 2\)"),
    (lambda: confusion_matrix([[0]], [[0]], 2), "1-D"),
    (lambda: confusion_matrix([0.0], [0.0], 2), "integer"),
    (lambda: accuracy(np.zeros((2, 3), int)), "square"),
    (lambda: accuracy(np.zeros((2, 2), int)), "empty"),
    (lambda: ambiguity_summary(CM, ["a", "b"]), "2 class names for a 3-class matrix"),
])
def test_bad_input_is_rejected_clearly(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
