"""scratchnet.report: tables, the environment description, and all-or-nothing output folders."""

import os

import pytest

from scratchnet.report import (
    OutputFolderError,
    environment,
    markdown_table,
    staged_folder,
    text_table,
)


def test_text_table_aligns_columns_left_or_right():
    table = text_table(["", "CNN"], [["test accuracy", "99.21%"], ["parameters", "225,034"]],
                       "lr")
    assert table.splitlines() == [
        "                   CNN",
        "-------------  -------",
        "test accuracy   99.21%",
        "parameters     225,034",
    ]


def test_markdown_table_marks_numeric_columns_and_escapes_pipes():
    assert markdown_table(["class", "F1"], [["a|b", "0.5"]], "lr").splitlines() == [
        "| class | F1 |", "|---|---:|", r"| a\|b | 0.5 |"]


@pytest.mark.parametrize("rows, align", [([["x"]], "lr"), ([["x", "y"]], "lx")])
def test_tables_reject_ragged_rows_and_bad_alignment(rows, align):
    with pytest.raises(ValueError):
        text_table(["a", "b"], rows, align)
    with pytest.raises(ValueError):
        markdown_table(["a", "b"], rows, align)


def test_environment_names_versions_cpu_and_threads(tmp_path):
    info = environment()
    for key in ("python", "scratchnet", "numpy", "numba", "matplotlib", "platform", "cpu",
                "threads"):
        assert info[key], key
    assert "numba uses" in info["threads"] and "logical CPUs" in info["threads"]
    assert len(info["load average (1, 5, 15 min)"].split(", ")) == 3
    # Outside a git checkout the revision is simply left out.
    assert "git" not in environment(tmp_path)["scratchnet"]


def test_staged_folder_appears_complete_only_on_success(tmp_path):
    target = tmp_path / "results" / "run"
    with staged_folder(target) as folder:
        assert folder.parent == target.parent and folder.name.startswith(".run.partial-")
        (folder / "report.md").write_text("done")
        assert not target.exists()  # nothing visible until the block ends
    assert (target / "report.md").read_text() == "done"
    assert os.listdir(target.parent) == ["run"]
    # The output folder gets ordinary permissions, not a private temp folder's 0700.
    assert target.stat().st_mode & 0o077 == 0o777 & ~_umask() & 0o077


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_staged_folder_removes_everything_it_made_when_the_block_fails(tmp_path):
    target = tmp_path / "new" / "deeper" / "run"
    with pytest.raises(RuntimeError, match="training diverged"), staged_folder(target) as folder:
        (folder / "half.png").write_bytes(b"partial")
        raise RuntimeError("training diverged")
    assert os.listdir(tmp_path) == []  # the staging folder and the parents it created are gone


def test_staged_folder_replaces_an_empty_folder_but_refuses_a_non_empty_one(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with staged_folder(empty) as folder:
        (folder / "a").write_text("new")
    assert os.listdir(empty) == ["a"]
    with pytest.raises(OutputFolderError, match="already exists and is not empty"):
        with staged_folder(empty):
            pytest.fail("the block must not run")
    assert (empty / "a").read_text() == "new"


def test_staged_folder_reports_an_unwritable_place_before_the_block_runs(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OutputFolderError, match="cannot write the output folder"):
        with staged_folder(blocker / "run"):
            pytest.fail("the block must not run")
    assert os.listdir(tmp_path) == ["file"]
