"""Read accounts, reps and tables from CSV, Parquet or any vector format pyogrio reads.

Everything comes back as a :class:`RawTable`: a DataFrame plus what is needed to point a user
at a row of *their* file (line numbers for CSV, feature numbers otherwise).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from territory.errors import InputError, Problem

GEO_SUFFIXES = {".geojson", ".json", ".gpkg", ".shp", ".fgb", ".gml", ".kml", ".zip"}
PARQUET_SUFFIXES = {".parquet", ".geoparquet", ".pq"}
_DELIMITERS = ",;\t|"


@dataclass
class RawTable:
    """A table as read from disk, before validation."""

    frame: pd.DataFrame
    source: str
    first_row: int  # the number the user sees for the first data record
    row_word: str = "row"
    lines: list[int] | None = None  # CSV line of each record, where blank/multi-line rows shift it

    def row_number(self, position: int) -> int:
        if self.lines is not None and 0 <= position < len(self.lines):
            return self.lines[position]
        return self.first_row + position


def read_table(path: str | Path) -> RawTable:
    """Read one input file; unreadable files raise :class:`InputError` naming the file."""
    path = Path(path)
    source = path.name
    if not path.exists():
        raise InputError([Problem(str(path), "file not found.", hint="check the path.")])
    if path.is_dir():
        raise InputError([Problem(str(path), "is a directory, not a file.")])
    suffix = path.suffix.lower()
    try:
        if suffix in PARQUET_SUFFIXES:
            return RawTable(_read_parquet(path), source, first_row=1)
        if suffix in GEO_SUFFIXES:
            return RawTable(_read_vector(path), source, first_row=1, row_word="feature")
        frame, lines = _read_csv(path)
        return RawTable(frame, source, first_row=2, lines=lines)
    except InputError:
        raise
    except Exception as exc:  # any reader failure is a bad file, not a crash
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            [
                Problem(
                    source,
                    f"cannot be read as {_kind(suffix)} ({reason}).",
                    hint="export it again as UTF-8 CSV with a header row, or as GeoPackage.",
                )
            ]
        ) from None


def _kind(suffix: str) -> str:
    if suffix in PARQUET_SUFFIXES:
        return "Parquet"
    if suffix in GEO_SUFFIXES:
        return "a vector data set"
    return "CSV"


def _decode(data: bytes, source: str) -> str:
    if b"\x00" in data[:4096]:
        raise InputError(
            [Problem(source, "looks like a binary file, not text.", hint="export it as CSV.")]
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _record_lines(text: str, delimiter: str) -> list[int] | None:
    """The line on which each data record starts, skipping blank lines as pandas does."""
    try:
        reader = csv.reader(
            io.StringIO(text, newline=""), delimiter=delimiter, skipinitialspace=True
        )
        starts: list[int] = []
        previous = 0
        for record in reader:
            if record and not (len(record) == 1 and not record[0].strip()):
                starts.append(previous + 1)
            previous = reader.line_num
    except csv.Error:
        return None
    return starts[1:]  # the first record is the header


def _read_csv(path: Path) -> tuple[pd.DataFrame, list[int] | None]:
    text = _decode(path.read_bytes(), path.name)
    if not text.strip():
        raise InputError([Problem(path.name, "is empty.", hint="add a header row and data rows.")])
    sample = text[:65536]
    try:
        delimiter = csv.Sniffer().sniff(sample.splitlines()[0], delimiters=_DELIMITERS).delimiter
    except csv.Error:
        delimiter = ","
    frame = pd.read_csv(
        io.StringIO(text),
        sep=delimiter,
        dtype=str,
        keep_default_na=False,
        skipinitialspace=True,
    )
    frame.columns = [str(c).strip() for c in frame.columns]
    lines = _record_lines(text, delimiter)
    return frame, lines if lines is not None and len(lines) == len(frame) else None


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    metadata = pq.read_schema(path).metadata or {}
    if b"geo" in metadata:
        import geopandas as gpd

        return _geometry_to_lat_lon(gpd.read_parquet(path))
    return pd.read_parquet(path)


def _read_vector(path: Path) -> pd.DataFrame:
    import pyogrio

    frame = pyogrio.read_dataframe(path)
    return _geometry_to_lat_lon(frame)


def _geometry_to_lat_lon(frame: pd.DataFrame) -> pd.DataFrame:
    """Replace a geometry column by WGS84 ``lat``/``lon`` (representative points of polygons)."""
    import geopandas as gpd
    import shapely

    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame.columns:
        return pd.DataFrame(frame)
    geo = frame
    if geo.crs is not None and not geo.crs.equals("EPSG:4326"):
        geo = geo.to_crs("EPSG:4326")
    geoms = geo.geometry.values
    points = shapely.point_on_surface(np.asarray(geoms, dtype=object))
    empty = shapely.is_missing(points) | shapely.is_empty(points)
    xs = np.where(empty, np.nan, shapely.get_x(points))
    ys = np.where(empty, np.nan, shapely.get_y(points))
    out = pd.DataFrame(geo.drop(columns=geo.geometry.name))
    if "lat" not in out.columns and "lon" not in out.columns:
        out["lat"] = ys
        out["lon"] = xs
        out.attrs["coordinates_from_geometry"] = "crs" if geo.crs is not None else "no crs"
    return out
