"""Malformed and hostile inputs through the real CLI: exit code 2, a located message, no traceback.

Each case builds tiny files in ``tmp_path``. Cell problems must name the file, the row (the CSV
line number: the header is line 1, the first data row is row 2) and the column. ``align`` cases
must not create the ``--out`` directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

import sample_data
from territory.cli import main

ACCOUNT_HEADER = [
    "account_id",
    "name",
    "lat",
    "lon",
    "potential",
    "workload",
    "current_rep",
    "locked_rep",
]
ACCOUNT_ROWS = [
    ["A1", "One", "32.70", "-97.30", "100", "5", "R1", ""],
    ["A2", "Two", "32.80", "-97.10", "200", "6", "R1", ""],
    ["A3", "Three", "32.90", "-96.90", "150", "4", "R2", ""],
    ["A4", "Four", "33.00", "-96.80", "120", "5", "R2", ""],
]
REP_HEADER = ["rep_id", "name", "lat", "lon", "capacity", "fte"]
REP_ROWS = [
    ["R1", "Ann", "32.75", "-97.20", "100", "1"],
    ["R2", "Bob", "32.95", "-96.85", "100", "1"],
]

Cells = dict[tuple[int, str], str]


def table_text(
    header: list[str],
    rows: list[list[str]],
    cells: Cells | None = None,
    drop: str | None = None,
    rename: dict[str, str] | None = None,
) -> str:
    """CSV text of ``rows`` with some cells replaced (by data-row index and column name)."""
    rows = [list(r) for r in rows]
    for (i, column), value in (cells or {}).items():
        rows[i][header.index(column)] = value
    keep = [j for j, c in enumerate(header) if c != drop]
    shown = [(rename or {}).get(c, c) for c in header]
    lines = [",".join(shown[j] for j in keep)]
    lines += [",".join(r[j] for j in keep) for r in rows]
    return "\n".join(lines) + "\n"


def accounts_text(cells: Cells | None = None, **kwargs: object) -> str:
    return table_text(ACCOUNT_HEADER, ACCOUNT_ROWS, cells, **kwargs)  # type: ignore[arg-type]


def reps_text(cells: Cells | None = None, **kwargs: object) -> str:
    return table_text(REP_HEADER, REP_ROWS, cells, **kwargs)  # type: ignore[arg-type]


def inputs(
    tmp: Path,
    accounts: str | bytes | None = None,
    reps: str | bytes | None = None,
    accounts_name: str = "accounts.csv",
    reps_name: str = "reps.csv",
) -> list[str]:
    """Write the two files (good ones unless given) and return ``--accounts A --reps R``."""
    paths = []
    for name, content, default in (
        (accounts_name, accounts, accounts_text()),
        (reps_name, reps, reps_text()),
    ):
        path = tmp / name
        content = default if content is None else content
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        paths.append(str(path))
    return ["--accounts", paths[0], "--reps", paths[1]]


def garbage() -> bytes:
    """Deterministic random bytes with NULs in them."""
    import random

    rng = random.Random(7)
    return bytes(rng.randrange(256) for _ in range(2048)) + b"\x00\x00\x01\x00"


def run_cli(args: list[str]) -> tuple[int, str]:
    """Run ``territory.cli.main`` in-process as the console script would: (exit code, output)."""
    runner = CliRunner()
    old_argv = sys.argv
    with runner.isolation() as (_, _, output):
        sys.argv = ["territory", *args]
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.argv = old_argv
        text = output.getvalue().decode("utf-8", errors="replace")
    return code, text


def console_command() -> list[str]:
    """The installed ``territory`` console script (``python -m territory`` has no __main__)."""
    script = Path(sys.executable).parent / "territory"
    if script.exists():
        return [str(script)]
    found = shutil.which("territory")
    if found:
        return [found]
    return [sys.executable, "-c", "from territory.cli import main; main()"]


def run_subprocess(args: list[str]) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k != "TERRITORY_DEBUG"}
    proc = subprocess.run(
        [*console_command(), *args], capture_output=True, text=True, timeout=120, env=env
    )
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TERRITORY_DEBUG", raising=False)


def assert_clean_failure(code: int, output: str, expected: list[str]) -> None:
    assert code == 2, output
    assert "Traceback" not in output, output
    assert "unexpected failure" not in output, output
    for text in expected:
        assert text in output, f"{text!r} not in:\n{output}"


# ----------------------------------------------------------------------------- the corpus


@dataclass
class Case:
    id: str
    make: Callable[[Path], list[str]]
    expected: list[str] = field(default_factory=list)


def cell_case(case_id: str, role: str, row: int, column: str, value: str, message: str) -> Case:
    """One bad cell in data row ``row`` (0-based), reported on CSV line ``row + 2``."""
    name = f"{role}.csv"

    def make(tmp: Path) -> list[str]:
        if role == "accounts":
            return inputs(tmp, accounts=accounts_text({(row, column): value}))
        return inputs(tmp, reps=reps_text({(row, column): value}))

    return Case(case_id, make, [name, f"row {row + 2}", f"column '{column}'", message])


def _dir_instead_of_file(tmp: Path) -> list[str]:
    args = inputs(tmp)
    (tmp / "a_folder.csv").mkdir()
    args[1] = str(tmp / "a_folder.csv")
    return args


def _missing_file(tmp: Path) -> list[str]:
    args = inputs(tmp)
    args[3] = str(tmp / "no_such_reps.csv")
    return args


CASES = [
    Case(
        "missing_required_column",
        lambda t: inputs(t, accounts=accounts_text(drop="potential")),
        ["accounts.csv", "column 'potential'", "missing"],
    ),
    Case(
        "misspelled_column_suggests_name",
        lambda t: inputs(t, accounts=accounts_text(rename={"potential": "potental"})),
        [
            "accounts.csv",
            "'potential' is missing",
            "rename column 'potental' to 'potential'",
            "--account-col potential=potental",
        ],
    ),
    Case(
        "reps_missing_lat",
        lambda t: inputs(t, reps=reps_text(drop="lat")),
        ["reps.csv", "column 'lat'", "missing"],
    ),
    cell_case("non_numeric_potential", "accounts", 1, "potential", "abc", "'abc' is not a number"),
    cell_case("negative_potential", "accounts", 2, "potential", "-5", "negative"),
    cell_case("nan_potential", "accounts", 0, "potential", "NaN", "NaN or infinite"),
    cell_case("inf_potential", "accounts", 3, "potential", "inf", "NaN or infinite"),
    cell_case("huge_potential_overflows", "accounts", 3, "potential", "1e400", "NaN or infinite"),
    cell_case("blank_potential", "accounts", 1, "potential", "", "blank"),
    cell_case("latitude_out_of_range", "accounts", 0, "lat", "95", "outside -90..90"),
    cell_case("longitude_out_of_range", "accounts", 2, "lon", "200", "outside -180..180"),
    Case(
        "lat_lon_swapped",
        lambda t: inputs(t, accounts=accounts_text({(1, "lat"): "-97", (1, "lon"): "32"})),
        ["accounts.csv", "row 3", "column 'lat'", "swapped"],
    ),
    cell_case("blank_coordinate", "accounts", 2, "lon", "", "blank"),
    cell_case("text_coordinate", "accounts", 0, "lat", "32.7N", "not a number"),
    Case(
        "duplicate_account_ids",
        lambda t: inputs(t, accounts=accounts_text({(3, "account_id"): "A1"})),
        [
            "accounts.csv",
            "row 5",
            "column 'account_id'",
            "duplicate account id 'A1'",
            "first seen on row 2",
        ],
    ),
    Case(
        "duplicate_rep_ids",
        lambda t: inputs(t, reps=reps_text({(1, "rep_id"): "R1"})),
        ["reps.csv", "row 3", "column 'rep_id'", "duplicate rep id 'R1'", "first seen on row 2"],
    ),
    cell_case("blank_account_id", "accounts", 2, "account_id", "", "blank"),
    cell_case("blank_rep_id", "reps", 1, "rep_id", "", "blank"),
    cell_case("locked_rep_not_on_roster", "accounts", 1, "locked_rep", "R9", "'R9'"),
    cell_case("non_numeric_workload", "accounts", 0, "workload", "lots", "'lots' is not a number"),
    cell_case("negative_workload", "accounts", 3, "workload", "-1", "negative"),
    cell_case("fte_zero", "reps", 0, "fte", "0", "negative or zero"),
    cell_case("fte_negative", "reps", 1, "fte", "-0.5", "negative or zero"),
    cell_case("negative_capacity", "reps", 1, "capacity", "-10", "negative"),
    cell_case("rich_markup_in_cell", "accounts", 1, "potential", "[red]x[/]", "'[red]x[/]'"),
    Case("empty_file", lambda t: inputs(t, accounts=b""), ["accounts.csv", "empty"]),
    Case(
        "whitespace_only_file",
        lambda t: inputs(t, reps=b"  \n\n \r\n"),
        ["reps.csv", "empty"],
    ),
    Case(
        "header_only",
        lambda t: inputs(t, accounts=",".join(ACCOUNT_HEADER) + "\n"),
        ["accounts.csv", "no account rows"],
    ),
    Case(
        "binary_garbage",
        lambda t: inputs(t, accounts=garbage()),
        ["accounts.csv", "binary"],
    ),
    Case(
        "reps_without_rows",
        lambda t: inputs(t, reps=",".join(REP_HEADER) + "\n"),
        ["reps.csv", "no rep rows"],
    ),
    Case(
        "ragged_csv_row",
        lambda t: inputs(t, accounts=accounts_text() + "A5,Five,33.1,-96.7,10,1,R1,,extra,more\n"),
        ["accounts.csv", "cannot be read as CSV"],
    ),
    Case(
        "garbage_parquet",
        lambda t: inputs(t, accounts=b"PAR1 this is not parquet", accounts_name="acc.parquet"),
        ["acc.parquet", "Parquet"],
    ),
    Case(
        "garbage_geojson",
        lambda t: inputs(
            t, reps='{"type": "FeatureCollection", "features": [', reps_name="r.geojson"
        ),
        ["r.geojson", "cannot be read"],
    ),
    Case("nonexistent_file", _missing_file, ["no_such_reps.csv", "not found"]),
    Case("directory_instead_of_file", _dir_instead_of_file, ["a_folder.csv", "directory"]),
    Case(
        "remap_to_unknown_column",
        lambda t: [*inputs(t), "--account-col", "potential=Sales"],
        ["accounts.csv", "'Sales' is missing"],
    ),
    Case(
        "remap_unknown_field",
        lambda t: [*inputs(t), "--rep-col", "territory=rep_id"],
        ["--rep-col", "unknown field 'territory'"],
    ),
    Case(
        "remap_without_equals",
        lambda t: [*inputs(t), "--account-col", "potential"],
        ["--account-col", "FIELD=COLUMN", "'potential'"],
    ),
    Case(
        "problems_in_both_files",
        lambda t: inputs(
            t, accounts=accounts_text({(0, "potential"): "x"}), reps=reps_text({(0, "fte"): "0"})
        ),
        ["accounts.csv, row 2, column 'potential'", "reps.csv, row 2, column 'fte'"],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_validate_rejects(case: Case, tmp_path: Path) -> None:
    code, output = run_cli(["validate", *case.make(tmp_path)])
    assert_clean_failure(code, output, case.expected)


ALIGN_CASES = [
    c
    for c in CASES
    if c.id
    in {
        "non_numeric_potential",
        "duplicate_account_ids",
        "binary_garbage",
        "nonexistent_file",
        "reps_without_rows",
        "remap_without_equals",
        "locked_rep_not_on_roster",
    }
] + [
    Case("tolerance_out_of_range", lambda t: [*inputs(t), "--tolerance", "1.5"], ["--tolerance"]),
    Case("tolerance_not_a_number", lambda t: [*inputs(t), "--tolerance", "lots"], ["--tolerance"]),
]


def assert_nothing_written(tmp_path: Path, before: set[str]) -> None:
    out = tmp_path / "run_out"
    assert not out.exists()
    after = {p.name for p in tmp_path.iterdir()}
    assert after == before, f"files appeared: {after - before}"


@pytest.mark.parametrize("case", ALIGN_CASES, ids=[c.id for c in ALIGN_CASES])
def test_align_rejects_and_writes_nothing(case: Case, tmp_path: Path) -> None:
    args = case.make(tmp_path)
    before = {p.name for p in tmp_path.iterdir()}
    code, output = run_cli(["align", *args, "--out", str(tmp_path / "run_out"), "--no-map"])
    assert_clean_failure(code, output, case.expected)
    assert_nothing_written(tmp_path, before)


def test_align_on_good_inputs_writes_the_run(tmp_path: Path) -> None:
    """The control for the cases above: the same files, made valid, do produce a run."""
    out = tmp_path / "run_out"
    code, output = run_cli(
        ["align", *inputs(tmp_path), "--out", str(out), "--no-map", "--tolerance", "0.5", "-q"]
    )
    assert code == 0, output
    assert (out / "run.json").is_file() and (out / "assignments.csv").is_file()


SUBPROCESS_CASES = [
    c
    for c in CASES
    if c.id
    in {
        "non_numeric_potential",
        "binary_garbage",
        "nonexistent_file",
        "remap_without_equals",
    }
]


@pytest.mark.parametrize("case", SUBPROCESS_CASES, ids=[c.id for c in SUBPROCESS_CASES])
def test_console_script_rejects(case: Case, tmp_path: Path) -> None:
    code, output = run_subprocess(["validate", *case.make(tmp_path)])
    assert_clean_failure(code, output, case.expected)


def test_console_script_align_writes_nothing(tmp_path: Path) -> None:
    args = inputs(tmp_path, accounts=accounts_text({(2, "lat"): "-97", (2, "lon"): "32"}))
    before = {p.name for p in tmp_path.iterdir()}
    code, output = run_subprocess(["align", *args, "--out", str(tmp_path / "run_out"), "--no-map"])
    assert_clean_failure(code, output, ["accounts.csv", "row 4", "column 'lat'", "swapped"])
    assert_nothing_written(tmp_path, before)


# ----------------------------------------------------------------------------- reporting


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    bad = accounts_text({(0, "potential"): "abc", (2, "lat"): "123", (3, "account_id"): ""})
    code, output = run_cli(["validate", *inputs(tmp_path, accounts=bad)])
    assert_clean_failure(
        code,
        output,
        [
            "accounts.csv, row 2, column 'potential'",
            "accounts.csv, row 4, column 'lat'",
            "accounts.csv, row 5, column 'account_id'",
        ],
    )
    located = [line for line in output.splitlines() if "accounts.csv, row" in line]
    assert len(located) == 3, output


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_row_numbers_are_csv_line_numbers_after_blank_and_multiline_rows(
    tmp_path: Path, newline: str
) -> None:
    """A blank line and a quoted two-line cell must not shift the reported line numbers."""
    header = ",".join(ACCOUNT_HEADER)
    text = (
        f"{header}\n"
        "A1,One,32.70,-97.30,100,5,R1,\n"  # line 2
        "\n"  # line 3: blank, skipped
        'A2,"Two\nSuite 4",32.80,-97.10,200,6,R1,\n'  # lines 4-5
        "A3,Three,32.90,-96.90,abc,4,R2,\n"  # line 6
    )
    text = text.replace("\n", newline)
    code, output = run_cli(["validate", *inputs(tmp_path, accounts=text)])
    assert_clean_failure(code, output, ["accounts.csv, row 6, column 'potential'"])


def test_validate_bundled_sample_data_succeeds() -> None:
    code, output = run_cli(
        ["validate", "--accounts", str(sample_data.ACCOUNTS), "--reps", str(sample_data.REPS)]
    )
    assert code == 0, output
    assert "OK:" in output and "Traceback" not in output


def test_validate_good_tiny_inputs_succeeds(tmp_path: Path) -> None:
    code, output = run_cli(["validate", *inputs(tmp_path)])
    assert code == 0, output
    assert "4 accounts and 2 reps are valid" in output


def test_align_refuses_a_non_empty_foreign_out_directory(tmp_path: Path) -> None:
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.docx").write_bytes(b"do not delete")
    (out / "sub").mkdir()
    (out / "sub" / "notes.txt").write_text("keep me")
    before = {p.name for p in tmp_path.iterdir()}
    args = inputs(tmp_path)
    before |= {"accounts.csv", "reps.csv"}
    code, output = run_cli(["align", *args, "--out", str(out), "--no-map"])
    assert_clean_failure(code, output, ["precious", "run.json"])
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "sub",
        "sub/notes.txt",
        "thesis.docx",
    ]
    assert (out / "thesis.docx").read_bytes() == b"do not delete"
    assert (out / "sub" / "notes.txt").read_text() == "keep me"
    assert {p.name for p in tmp_path.iterdir()} == before
