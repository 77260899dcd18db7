"""CSV in (UTF-8 with or without BOM, Windows-1252, `;` or `,`), its results file pushed again
sending nothing twice; `--map` and `--date-format`; template and pull refuse names they would
fill with the wrong format."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shlex
from pathlib import Path

import pytest

from bpxl.core import inert
from bpxl.sandbox import Sandbox, SandboxConfig
from bpxl.sandbox.schema import parse_custom_field

from .conftest import read_sheet, write_invoices


def connect(sandbox) -> list[str]:
    return ["--url", sandbox.url, "--username", "demo"]


def write_csv(
    path: Path, rows: list[list[str]], separator: str = ",", encoding: str = "utf-8"
) -> Path:
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=separator).writerows(rows)
    path.write_bytes(out.getvalue().encode(encoding))
    return path


def read_csv(path: Path, separator: str = ",") -> list[list[str]]:
    return list(
        csv.reader(io.StringIO(path.read_text("utf-8-sig"), newline=""), delimiter=separator)
    )


ROWS = [
    ["BillingProfileId", "DueDate", "Status", "Note"],
    ["101", "2024-07-31", "Pending", "first, with a comma"],
    ["102", "31/02/2026", "Pending", "bad date"],
    ["103", "2024-08-01", "Pending", "Zürich « été »"],
]


@pytest.mark.parametrize(
    ("separator", "encoding", "stated"),
    [
        (",", "utf-8", "UTF-8, columns separated by ','"),
        (
            ";",
            "utf-8-sig",
            "UTF-8 with a byte-order mark, columns separated by ';' (Excel's regional CSV)",
        ),
        (";", "cp1252", "Windows-1252 (Excel's 'CSV (Comma delimited)'), columns separated by ';'"),
    ],
)
def test_csv_push_writes_a_results_file_and_pushing_it_again_sends_nothing_twice(
    tmp_path: Path, sandbox, run, separator: str, encoding: str, stated: str
) -> None:
    source = write_csv(tmp_path / "ventes été.csv", ROWS, separator, encoding)
    before = source.read_bytes()
    code, out, _ = run("push", source, "--op", "create", *connect(sandbox))
    assert code == 1
    assert f"Read ventes été.csv as CSV: {stated}" in out and "3 data rows" in out
    assert "Results go into ventes été.results.csv." in out
    assert "3 rows: 2 created, 1 invalid, 0 failed" in out
    assert source.read_bytes() == before  # the input is never changed
    results = tmp_path / "ventes été.results.csv"
    table = read_csv(results, separator)
    assert table[0] == [*ROWS[0], "Id", "Result", "Message"]
    assert [r[:4] for r in table[1:]] == ROWS[1:]  # every column as it was, accents included
    assert [r[5] for r in table[1:]] == ["Created", "Invalid", "Created"]
    assert table[1][4].isdigit() and table[3][4].isdigit() and table[2][4] == ""
    assert table[2][6].startswith('DueDate: "31/02/2026" is not a date')
    assert sandbox.sandbox.store.count() == 2

    code, out, err = run("push", source, "--op", "create", *connect(sandbox))
    assert code == 2 and "ventes été.csv was pushed before" in err
    assert "'" in shlex.quote(str(results))
    assert f"`bpxl push {shlex.quote(str(results))} --op create`" in err
    assert sandbox.sandbox.store.count() == 2

    table[2][1] = "2026-02-28"  # the user fixes the bad row in the results file and resends it
    write_csv(results, table, separator, "utf-8-sig")
    code, out, _ = run("push", results, "--op", "create", *connect(sandbox))
    assert code == 0, out
    assert "1 row: 1 created, 0 invalid, 0 failed (2 skipped: already Created" in out
    assert sandbox.sandbox.store.count() == 3
    again = read_csv(results, separator)
    assert [r[5] for r in again[1:]] == ["Created"] * 3
    assert [r[4] for r in again[1:]][:1] == [table[1][4]]  # Ids kept
    assert len(list((tmp_path / "bpxl backups").iterdir())) == 1  # the earlier results, kept

    code, out, _ = run("push", results, "--op", "create", *connect(sandbox))  # and once more
    assert sandbox.sandbox.store.count() == 3 and "(3 skipped: already Created" in out
    again[1][5] = ""  # a cleared Result: the row's Id still keeps it from being created again
    write_csv(results, again, separator, "utf-8-sig")
    code, out, _ = run("push", results, "--op", "create", *connect(sandbox))
    assert code == 1 and sandbox.sandbox.store.count() == 3
    assert "leave Id blank to create" in read_csv(results, separator)[1][6]

    code, out, _ = run("push", results, "--op", "update", *connect(sandbox))
    assert code == 0 and "3 rows: 3 updated" in out


def test_a_dry_run_of_a_csv_does_not_keep_the_original_from_being_pushed(
    tmp_path: Path, sandbox, run
) -> None:
    """A dry run writes its marks into the results file but sends nothing: the original, fixed,
    is pushed afterwards (it was refused as 'pushed before'); once a push sent rows, it is not."""
    source = write_csv(tmp_path / "d.csv", ROWS)
    code, _, _ = run("push", source, "--op", "create", "--dry-run", *connect(sandbox))
    assert code == 1 and (tmp_path / "d.results.csv").exists()
    assert sandbox.sandbox.store.count() == 0
    fixed = [list(row) for row in ROWS]
    fixed[2][1] = "2026-02-28"
    write_csv(source, fixed)
    code, out, err = run("push", source, "--op", "create", *connect(sandbox))
    assert code == 0, out + err
    assert "3 rows: 3 created" in out and sandbox.sandbox.store.count() == 3
    code, _, err = run("push", source, "--op", "create", *connect(sandbox))
    assert code == 2 and "d.csv was pushed before" in err
    assert sandbox.sandbox.store.count() == 3


def test_csv_with_excels_sep_line_and_no_invoice_header(tmp_path: Path, sandbox, run) -> None:
    source = tmp_path / "x.csv"
    source.write_text("sep=;\r\nBillingProfileId;DueDate\r\n101;2024-07-31\r\n", "utf-8")
    code, out, _ = run("push", source, "--op", "create", *connect(sandbox))
    assert code == 0, out
    written = (tmp_path / "x.results.csv").read_text("utf-8-sig").splitlines()
    assert written[0] == "sep=;" and written[1] == "BillingProfileId;DueDate;Id;Result;Message"
    assert written[2].endswith(";Created;")

    other = write_csv(tmp_path / "other.csv", [["Customer", "Due"], ["101", "2024-07-31"]])
    code, _, err = run("push", other, "--op", "create", *connect(sandbox))
    assert code == 2
    assert "The first line of other.csv names no Invoice field (it reads 'Customer', 'Due')" in err
    assert '--map "Your header=FieldName"' in err
    binary = tmp_path / "book.csv"
    binary.write_bytes("BillingProfileId\n101\n".encode("utf-16"))
    code, _, err = run("push", binary, "--op", "create", *connect(sandbox))
    assert code == 2 and "is not a text CSV file" in err
    assert run("push", other, "--op", "create", "--sheet", "A")[0] == 2


def test_map_and_date_format_translate_whole_columns_and_say_so(
    tmp_path: Path, sandbox, run
) -> None:
    source = write_csv(
        tmp_path / "export.csv",
        [
            ["Customer", "Due Dte", "Approved on", "Status"],
            ["101", "31/07/2024", "1/7/2024", "Pending"],
            ["102", "07/31/2024", "", "Pending"],  # month 31: not in the format given
            ["103", "2024-08-01", "02/08/2024", "Pending"],  # ISO text is still a date
        ],
    )
    code, out, _ = run(
        "push", source, "--op", "create", "--map", "Customer=BillingProfileId",
        "--map", "due dte=duedate", "--map", "Approved on=ApprovalDate",
        "--date-format", "DD/MM/YYYY", *connect(sandbox),
    )  # fmt: skip
    assert code == 1
    lines = out.splitlines()
    assert "Column 'Customer' read as BillingProfileId (--map)." in lines
    assert "Column 'due dte' read as DueDate (--map)." in lines
    assert "Dates read as DD/MM/YYYY (--date-format): 3 cells in DueDate, ApprovalDate." in lines
    assert "3 rows: 2 created, 1 invalid, 0 failed" in out
    assert (
        'DueDate: "07/31/2024" is not a date in the format DD/MM/YYYY given with --date-format'
        in out
    )
    table = read_csv(tmp_path / "export.results.csv")
    assert table[0][:4] == [
        "Customer",
        "Due Dte",
        "Approved on",
        "Status",
    ]  # the file's own headers
    stored = [sandbox.sandbox.store.get(int(r[4])) for r in (table[1], table[3])]
    assert [(s["BillingProfileId"], s["DueDate"], s["ApprovalDate"]) for s in stored] == [
        ("101", "2024-07-31", "2024-07-01"),
        ("103", "2024-08-01", "2024-08-02"),
    ]


def test_map_and_date_format_on_a_workbook_and_their_mistakes(tmp_path: Path, sandbox, run) -> None:
    book = write_invoices(
        tmp_path / "inv.xlsx",
        [
            {"BillingProfileId": "101", "DueDate": "07-31-24"},
            {"BillingProfileId": "102", "DueDate": dt.date(2024, 7, 1)},
        ],
    )
    code, out, _ = run(
        "push", book, "--op", "create", "--date-format", "MM-DD-YY", *connect(sandbox)
    )
    assert code == 0, out
    assert "Dates read as MM-DD-YY (--date-format): 1 cell in DueDate" in out
    ids = [r["Id"] for r in read_sheet(book)]
    assert sandbox.sandbox.store.get(int(ids[0]))["DueDate"] == "2024-07-31"
    assert sandbox.sandbox.store.get(int(ids[1]))["DueDate"] == "2024-07-01"  # a real date: as is

    for options, said in [
        (["--map", "Due Dte"], '--map "Due Dte": write it as "Your header=FieldName"'),
        (["--map", "Due Dte=Nope"], "('Nope' is not one)"),
        (["--map", "Due Dte=DueDate"], "there is no column 'Due Dte'"),
        (["--date-format", "DD/MM"], "--date-format DD/MM: write the day, month and year"),
        (["--date-format", "YYYY/MM/QQ"], "--date-format YYYY/MM/QQ: write the day"),
    ]:
        code, _, err = run("push", book, "--op", "update", *options, *connect(sandbox))
        assert code == 2 and said in err, (options, err)
    assert len(sandbox.writes()) == 1


def test_template_and_pull_refuse_a_name_of_another_format(tmp_path: Path, sandbox, run) -> None:
    for command in (
        ["template", tmp_path / "out.csv"],
        ["pull", tmp_path / "out.csv", "--ids", "1"],
    ):
        code, _, err = run(*command, *connect(sandbox))
        assert code == 2
        assert (
            "writes an Excel workbook (.xlsx), so it cannot write out.csv. Nothing was written."
            in err
        )
        assert "Use out.xlsx." in err
        assert not (tmp_path / "out.csv").exists()
    code, _, err = run("template", tmp_path / "macro.xlsm")
    assert code == 2 and not (tmp_path / "macro.xlsm").exists()


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+cmd|calc", "'+cmd|calc"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-12.50", "-12.50"),
        ("+1E5", "+1E5"),
        ("-", "'-"),
        ("Pending", "Pending"),
        ("", ""),
    ],
)
def test_text_for_a_csv_never_runs_as_a_formula(text: str, written: str) -> None:
    assert inert.for_csv(text) == written


def test_a_csv_whose_headers_all_need_map_is_read_through_it(tmp_path: Path, sandbox, run) -> None:
    source = write_csv(tmp_path / "other.csv", [["Customer", "Due"], ["101", "2024-07-31"]])
    code, out, _ = run(
        "push", source, "--op", "create", "--map", "Customer=BillingProfileId",
        "--map", "Due=DueDate", *connect(sandbox),
    )  # fmt: skip
    assert code == 0, out
    assert "1 row: 1 created" in out and sandbox.sandbox.store.count() == 1


def test_decimal_commas_in_a_semicolon_csv_are_read_as_numbers(
    tmp_path: Path, make_sandbox, run
) -> None:
    config = SandboxConfig(port=0, custom_fields=(parse_custom_field("Amount:decimal"),))
    with Sandbox(config) as sandbox:
        source = write_csv(
            tmp_path / "amounts.csv",
            [
                ["BillingProfileId", "Amount"],
                ["101", "1.234,56"],
                ["102", "12,5"],
                ["103", "7"],
                ["104", "1,2,3"],
            ],
            ";",
        )
        code, out, _ = run(
            "push", source, "--op", "create", "--url", sandbox.url, "--username", "demo"
        )
        assert code == 1, out
        assert (
            "Decimal commas read as decimal points (a CSV separated by ';'): 2 cells in Amount."
            in out
        )
        table = read_csv(tmp_path / "amounts.results.csv", ";")
        assert [r[3] for r in table[1:]] == ["Created", "Created", "Created", "Invalid"]
        assert table[1][1] == "1.234,56"  # the file's own text, as it was
        stored = [sandbox.store.get(int(r[2]))["Amount"] for r in table[1:4]]
        assert [float(a) for a in stored] == [1234.56, 12.5, 7.0]

        comma = write_csv(tmp_path / "comma.csv", [["BillingProfileId", "Amount"], ["101", "12.5"]])
        code, out, _ = run(
            "push", comma, "--op", "create", "--url", sandbox.url, "--username", "demo"
        )
        assert code == 0 and "Decimal commas" not in out  # a ',' CSV writes decimal points
