"""CSV files in and out (workbook/csv_file.py), called directly: what is read from each kind of
CSV, what is refused and in which words, when the original may be pushed again, and the results
file written. The pushes end to end are in test_csv_and_translate.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bpxl.core.errors import UsageError
from bpxl.core.records import read_layout
from bpxl.core.results import Outcome, RowResult
from bpxl.workbook import csv_file, saving


def written(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def refusal(call: object, *args: object) -> UsageError:
    with pytest.raises(UsageError) as refused:
        call(*args)  # type: ignore[operator]
    return refused.value


# -- names -----------------------------------------------------------------------------------


def test_a_csv_is_told_by_its_suffix_and_its_results_file_lies_beside_it() -> None:
    assert csv_file.is_csv(Path("a.CSV")) and not csv_file.is_csv(Path("a.csv.xlsx"))
    assert csv_file.results_path(Path("d/Inv.csv")) == Path("d/Inv.results.csv")
    assert csv_file.results_path(Path("d/Inv.Results.CSV")) == Path("d/Inv.Results.CSV")


# -- reading ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "encoding", "said"),
    [
        (b"\xef\xbb\xbfBillingProfileId,Notes\n101,caf\xc3\xa9\n", "utf-8-sig",
         "UTF-8 with a byte-order mark"),
        (b"BillingProfileId,Notes\n101,caf\xc3\xa9\n", "utf-8", "UTF-8"),
        (b"BillingProfileId,Notes\n101,caf\xe9\n", "cp1252",
         "Windows-1252 (Excel's 'CSV (Comma delimited)')"),
    ],
)  # fmt: skip
def test_each_encoding_is_read_and_said(
    tmp_path: Path, data: bytes, encoding: str, said: str
) -> None:
    found = csv_file.read(written(tmp_path / "in.csv", data))
    assert found.encoding == encoding
    assert found.rows == [["BillingProfileId", "Notes"], ["101", "café"]]
    assert found.found == f"Read in.csv as CSV: {said}, columns separated by ',', 1 data rows."


@pytest.mark.parametrize(
    ("header", "separator", "said"),
    [
        ("BillingProfileId,DueDate", ",", "','"),
        ("BillingProfileId;DueDate", ";", "';' (Excel's regional CSV)"),
        ("BillingProfileId\tDueDate", "\t", "tabs"),
        ("BillingProfileId;DueDate,Total, net", ";", "';' (Excel's regional CSV)"),  # fields win
        ("Customer;Total,a,b", ",", "','"),  # no field: the most used
        ("Customer\tTotal\ta;b", "\t", "tabs"),
    ],
)
def test_the_separator_is_the_one_that_names_the_most_fields(
    tmp_path: Path, header: str, separator: str, said: str
) -> None:
    found = csv_file.read(written(tmp_path / "in.csv", header + "\n"))
    assert found.separator == separator and not found.sep_line
    assert f"columns separated by {said}, 0 data rows." in found.found


def test_excels_sep_line_names_the_separator(tmp_path: Path) -> None:
    found = csv_file.read(written(tmp_path / "in.csv", "SEP=; \r\nCustomer;Total\r\nAcme;5\r\n"))
    assert found.sep_line and found.separator == ";"
    assert found.rows == [["Customer", "Total"], ["Acme", "5"]]
    unknown = refusal(csv_file.read, written(tmp_path / "bad.csv", "sep=|\nA|B\n"))
    assert unknown.message == "bad.csv: its first line 'sep=|' names an unknown separator."
    longer = csv_file.read(written(tmp_path / "long.csv", "sep=;;\nBillingProfileId\n"))
    assert not longer.sep_line and longer.rows[0] == ["sep=", "", ""]  # not Excel's line: a header


def test_bytes_no_encoding_knows_are_replaced_and_line_breaks_in_cells_kept(
    tmp_path: Path,
) -> None:
    """0x81 is neither UTF-8 nor Windows-1252; a cell holding a line break keeps it as typed."""
    data = b'Notes,Id\r\nab\x81c,1\r\n"line one\r\nline two",2\r\n"one\ntwo",3\r\n'
    found = csv_file.read(written(tmp_path / "in.csv", data))
    assert found.encoding == "cp1252"
    assert found.rows[1:] == [["ab\ufffdc", "1"], ["line one\r\nline two", "2"], ["one\ntwo", "3"]]


def test_blank_lines_at_the_end_are_not_rows_but_blank_lines_between_are(tmp_path: Path) -> None:
    found = csv_file.read(written(tmp_path / "in.csv", "A,B\n1,2\n,\n3,4\n\n , \n\n"))
    assert found.rows == [["A", "B"], ["1", "2"], ["", ""], ["3", "4"]]
    assert found.found.endswith(", 3 data rows.")


def test_an_empty_a_missing_a_binary_and_an_unreadable_file_are_refused(tmp_path: Path) -> None:
    empty = refusal(csv_file.read, written(tmp_path / "empty.csv", "\n , \n"))
    assert (empty.message, empty.hint) == (
        "empty.csv is empty.",
        "Put the field names in its first line.",
    )
    missing = refusal(csv_file.read, tmp_path / "missing.csv")
    assert (missing.message, missing.hint) == (
        f"There is no file at {tmp_path / 'missing.csv'}.",
        "Check the file name and folder.",
    )
    binary = refusal(csv_file.read, written(tmp_path / "utf16.csv", "A,B\n".encode("utf-16")))
    assert binary.message == (
        "utf16.csv is not a text CSV file (it holds binary data; is it a workbook renamed .csv, "
        "or saved as UTF-16?)."
    )
    assert binary.hint == (
        "Save it from Excel as 'CSV UTF-8 (Comma delimited)', or push the .xlsx itself."
    )
    (tmp_path / "folder.csv").mkdir()
    unreadable = refusal(csv_file.read, tmp_path / "folder.csv")
    assert unreadable.message == f"folder.csv could not be read ({os.strerror(21)})."


def test_a_grid_has_the_header_first_blanks_as_none_and_the_widest_rows_width(
    tmp_path: Path,
) -> None:
    source = csv_file.read(written(tmp_path / "in.csv", "A,B\n1, \n2,x,extra\n3\n"))
    grid = csv_file.read_grid(source)
    assert list(grid.grid.header) == ["A", "B"] and grid.header_row == 1 and grid.width == 3
    assert grid.sheet == ""  # no sheet: a recovery reads the file again with none named
    assert [(n, list(v)) for n, v in grid.grid.rows] == [
        (2, ["1", None]), (3, ["2", "x", "extra"]), (4, ["3"])
    ]  # fmt: skip
    assert [n for n, _ in csv_file.read_grid(source, {3, 9}).grid.rows] == [3]


def test_a_header_naming_no_field_is_shown_in_the_refusal(tmp_path: Path) -> None:
    source = csv_file.read(written(tmp_path / "in.csv", "a,b,c,d,e,f\n"))
    refused = refusal(csv_file.check_header, source, source.rows[0], csv_file.fields.BUILT_IN)
    assert refused.message == (
        "The first line of in.csv names no Invoice field (it reads 'a', 'b', 'c', 'd', 'e', ...)."
    )
    assert refused.hint == (
        "Put the field names (BillingProfileId, DueDate, ...) in the first line, or map your "
        'headers with --map "Your header=FieldName".'
    )
    five = csv_file.read(written(tmp_path / "five.csv", "a,b,c,d,e\n"))
    assert refusal(csv_file.check_header, five, five.rows[0], csv_file.fields.BUILT_IN).message == (
        "The first line of five.csv names no Invoice field (it reads 'a', 'b', 'c', 'd', 'e')."
    )
    csv_file.check_header(source, ["a", "DueDate"], csv_file.fields.BUILT_IN)


# -- pushing the original again ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("results", "refused"),
    [
        ("A,Id,Result\n1,,Invalid\n2,, \n", False),  # a dry run, or every row refused
        ("A,ID,RESULT\n1,,INVALID\n", False),
        ("A,Id,Result\n1,,Invalid\n2,55,\n", True),  # an Id: a send
        ("A,Result,Id\n1,Failed\n", True),  # a Result only a send gives, the Id cell missing
        ("A,Result\n1,Created\n", True),
        ("A,Id\n1,\n2, 7 \n", True),
        ("A,Message\n1,Created\n", False),  # neither column: nothing shows a send
        ("A,Result\n1\n", False),
    ],
)
def test_the_original_is_refused_once_its_results_show_a_send(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, results: str, refused: bool
) -> None:
    monkeypatch.chdir(tmp_path)
    original = written(Path("in.csv"), "A\n1\n")
    written(Path("in.results.csv"), results)
    if not refused:
        csv_file.refuse_rerun(original, "create")
        return
    error = refusal(csv_file.refuse_rerun, original, "create")
    assert error.message == (
        "in.csv was pushed before: its results, with the new Ids, are in in.results.csv. Pushing "
        "it again would send every row again, and replace those results. Nothing was sent."
    )
    assert error.hint == (
        "Push the results file instead: `bpxl push in.results.csv --op create` (rows marked "
        "Created are skipped, and its Ids make updates find them), or rename in.results.csv to "
        "start over."
    )


def test_a_results_file_may_be_pushed_again_and_the_original_without_one(tmp_path: Path) -> None:
    original = written(tmp_path / "in.csv", "A\n1\n")
    csv_file.refuse_rerun(original, "create")  # no results file yet
    again = written(tmp_path / "in.results.csv", "A,Id,Result\n1,5,Created\n")
    csv_file.refuse_rerun(again, "update")


# -- the results file --------------------------------------------------------------------------


def _results(tmp_path: Path, text: str, results: list[RowResult]) -> Path:
    source = csv_file.read(written(tmp_path / "in.csv", text))
    found = csv_file.read_grid(source)
    layout = read_layout(found.grid.header)
    return csv_file.write_results(source, found, layout, results)


def test_results_are_added_after_every_column_in_utf8_with_a_byte_order_mark(
    tmp_path: Path,
) -> None:
    target = _results(
        tmp_path,
        "BillingProfileId;Notes\n101;é\n102;x;extra\n103;y\n",
        [
            RowResult(2, Outcome.CREATED, "71"),
            RowResult(3, Outcome.INVALID, None, ["=SUM(A1) is no date"]),
            RowResult(4, None),
        ],
    )
    assert target == tmp_path / "in.results.csv"
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data[3:].decode("utf-8").split("\r\n") == [
        "BillingProfileId;Notes;;Id;Result;Message",
        "101;é;;71;Created;",
        "102;x;extra;;Invalid;'=SUM(A1) is no date",
        "103;y;;;;",
        "",
    ]
    assert (tmp_path / "in.csv").read_text(encoding="utf-8").startswith("BillingProfileId;Notes\n")


def test_an_id_already_in_the_row_is_kept_and_the_sep_line_too(tmp_path: Path) -> None:
    text = "sep=,\nId,BillingProfileId,Result,Message\n9,101,Failed,old\n,102,,\n"
    target = _results(
        tmp_path, text, [RowResult(2, Outcome.UPDATED, "10"), RowResult(3, Outcome.CREATED, "11")]
    )
    assert target.read_bytes().decode("utf-8-sig").split("\r\n") == [
        "sep=,",
        "Id,BillingProfileId,Result,Message",
        "9,101,Updated,",
        "11,102,Created,",
        "",
    ]


def test_an_earlier_results_file_is_backed_up_before_it_is_replaced(tmp_path: Path) -> None:
    source = written(tmp_path / "in.results.csv", "Id,BillingProfileId,Result\n5,101,Failed\n")
    before = source.read_bytes()
    assert saving.backups(source) == []
    _results_again = csv_file.read(source)
    found = csv_file.read_grid(_results_again)
    csv_file.write_results(
        _results_again, found, read_layout(found.grid.header), [RowResult(2, Outcome.UPDATED, "5")]
    )
    kept = saving.backups(source)
    assert len(kept) == 1 and kept[0].read_bytes() == before
    assert source.read_text(encoding="utf-8-sig").splitlines()[1] == "5,101,Updated,"
