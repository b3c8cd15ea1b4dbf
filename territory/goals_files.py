"""Write a goal table as ``goals.csv`` and ``goals.xlsx`` (deterministic, formula-safe)."""

from __future__ import annotations

import datetime
import io
import os
import tempfile
import zipfile
from decimal import Decimal
from pathlib import Path

import pandas as pd

from territory import __version__
from territory.goals import GoalTable, plain
from territory.run_files import write_csv
from territory.safety import neutralise_cell

# No dates in the workbook: the same run and options give the same bytes.
FIXED_TIME = datetime.datetime(1970, 1, 1)
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
FORMATS = {
    "fte": "0.00",
    "accounts": "#,##0",
    "potential": "#,##0.##",
    "potential_share": "0.00%",
    "potential_index": "0.0",
    "workload": "#,##0.0",
    "history": "#,##0.##",
    "history_share": "0.00%",
    "goal_share": "0.00%",
    "goal_per_fte": "#,##0.00",
    "goal_index": "0.0",
    "goal_per_potential": "0.000000",
}
TOTALS = ("fte", "accounts", "potential", "workload", "history", "goal")


def output_paths(out: Path) -> tuple[Path, Path]:
    """``goals.csv`` and ``goals.xlsx`` in a directory, or ``STEM.csv``/``STEM.xlsx`` for a
    file name ending in .csv or .xlsx."""
    out = Path(out)
    if out.suffix.lower() in (".csv", ".xlsx"):
        return out.with_suffix(".csv"), out.with_suffix(".xlsx")
    return out / "goals.csv", out / "goals.xlsx"


def csv_frame(table: GoalTable) -> pd.DataFrame:
    """The per-rep table with decimals written exactly, without exponents."""
    frame = table.reps.copy()
    for column in ("potential", "history", "goal"):
        frame[column] = [plain(v) if isinstance(v, Decimal) else "" for v in frame[column]]
    return frame


def workbook_bytes(table: GoalTable) -> bytes:
    """The XLSX file: sheets Goals, Fairness, About; same table → same bytes."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.writer.excel import ExcelWriter

    wb = Workbook()
    ws = wb.active
    ws.title = "Goals"
    frame = table.reps
    columns = list(frame.columns)
    bold = Font(bold=True)
    ws.append([neutralise_cell(c) for c in columns])
    for cell in ws[1]:
        cell.font = bold
        cell.fill = PatternFill("solid", fgColor="DDDDDD")
    goal_format = "#,##0" if table.unit >= 1 else "#,##0.00"
    for record in frame.to_dict("records"):
        ws.append([_cell_value(record[c]) for c in columns])
    last = ws.max_row
    totals: list[object] = ["Total"] + [None] * (len(columns) - 1)
    for i, column in enumerate(columns):
        if column in TOTALS:
            values = [v for v in frame[column] if v is not None and v == v]
            totals[i] = (
                sum(values, Decimal(0))
                if column in ("potential", "history", "goal")
                else (float(sum(values)) if values else None)
            )
        elif column.endswith("_share"):
            totals[i] = 1.0 if frame[column].notna().any() else None
    ws.append([_cell_value(v) for v in totals])
    for cell in ws[ws.max_row]:
        cell.font = bold
    for i, column in enumerate(columns, start=1):
        number_format = goal_format if column == "goal" else FORMATS.get(column)
        letter = get_column_letter(i)
        if number_format:
            for row in range(2, ws.max_row + 1):
                ws[f"{letter}{row}"].number_format = number_format
        ws.column_dimensions[letter].width = max(12, len(column) + 2)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{last}"

    fair = wb.create_sheet("Fairness")
    fair.append(["statistic", "value"])
    for record in table.fairness.to_dict("records"):
        fair.append([neutralise_cell(record["statistic"]), _cell_value(record["value"])])
    about = wb.create_sheet("About")
    about.append(["item", "value"])
    for key, value in [*table.about, ("made by", f"territory {__version__} goals")]:
        about.append([neutralise_cell(key), neutralise_cell(value)])
    for sheet in (fair, about):
        for cell in sheet[1]:
            cell.font = bold
        sheet.column_dimensions["A"].width = 40
        sheet.column_dimensions["B"].width = 60
        sheet.freeze_panes = "A2"

    wb.properties.creator = "territory"
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    raw = io.BytesIO()
    archive = zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED)
    ExcelWriter(wb, archive).save()  # not wb.save(): that stamps the current time
    return _fixed_zip_times(raw.getvalue())


def _cell_value(value: object) -> object:
    """Numbers as numbers (NaN as an empty cell), text neutralised against formulas."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, str):
        return neutralise_cell(value)
    if hasattr(value, "item"):
        return value.item()  # numpy scalar
    return value


def _fixed_zip_times(data: bytes) -> bytes:
    """The same zip with every entry dated ZIP_TIME, so the bytes do not depend on the clock."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            target.writestr(entry, source.read(info.filename))
    return out.getvalue()


def write_goal_files(table: GoalTable, out: Path) -> tuple[Path, Path]:
    """Write both files; each appears complete or not at all (temp file, then rename)."""
    csv_path, xlsx_path = output_paths(out)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    written: list[tuple[Path, Path]] = []
    try:
        written.append((_temp_beside(csv_path), csv_path))
        write_csv(csv_frame(table), written[-1][0])
        written.append((_temp_beside(xlsx_path), xlsx_path))
        written[-1][0].write_bytes(workbook_bytes(table))
    except BaseException:
        for tmp, _ in written:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, final in written:
        os.replace(tmp, final)
    return csv_path, xlsx_path


def _temp_beside(path: Path) -> Path:
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    umask = os.umask(0)
    os.umask(umask)
    Path(name).chmod(0o666 & ~umask)  # mkstemp makes it private; these are ordinary files
    return Path(name)
