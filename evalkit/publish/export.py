"""Exports (CSV, XLSX, JSON): one writer, so every export is formula-safe and, when it is meant
for publication, disclosure-controlled and scanned.

Spreadsheet formulas: a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return would run as a formula in Excel or LibreOffice (``=HYPERLINK(...)``); such cells are
written with a leading apostrophe, the OWASP advice, so they show as the text they are. Numbers
stay numbers: a negative number in a numeric column is written as the number, never quoted.

``write_table(frame, path)`` writes an analyst's export (all values, formula-safe);
``Publication.export_table`` (in :mod:`evalkit.publish.publication`) writes a published one from
typed values, which is scanned before it replaces the previous file.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from pathlib import Path

from evalkit.errors import EvalkitError

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SUFFIXES = (".csv", ".xlsx", ".json")


def safe_text(value: str) -> str:
    """A text cell a spreadsheet shows as text (never runs as a formula)."""
    return "'" + value if value[:1] in FORMULA_START else value


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int,)):
        return value
    if isinstance(value, float):
        return "" if math.isnan(value) else value
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return _cell(value.item())
    except ImportError:  # pragma: no cover
        pass
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return safe_text(str(value))


def rows_of(frame) -> tuple[list[str], list[list]]:
    header = [safe_text(str(c)) for c in frame.columns]
    rows = [[_cell(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    return header, rows


def encode(header: Sequence[str], rows: Sequence[Sequence], suffix: str) -> bytes:
    """The bytes of a CSV or XLSX file holding ``rows`` (cells already made safe)."""
    if suffix == ".csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")  # RFC 4180: a field holding CR or LF is quoted
        w.writerow(header)
        w.writerows(rows)
        return buf.getvalue().encode("utf-8")
    if suffix == ".xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.title = "data"
        ws.append(list(header))
        for row in rows:
            ws.append(list(row))
        for col in ws.iter_cols():
            for c in col:
                if isinstance(c.value, str):
                    c.data_type = "s"  # text, never a formula, whatever it starts with
        out = io.BytesIO()
        wb.save(out)
        return fixed_xlsx(out.getvalue())
    raise EvalkitError(f"export: found suffix {suffix!r}; expected one of .csv, .xlsx")


# openpyxl stamps the save time into docProps/core.xml and into every zip entry, so the same rows
# gave different bytes on every run; a fixed stamp (the zip format's earliest date) makes an XLSX a
# function of its cells alone, as a CSV is
_FIXED_STAMP = (1980, 1, 1, 0, 0, 0)
_W3CDTF = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:(?:created|modified)>)")


def fixed_xlsx(data: bytes) -> bytes:
    """The XLSX ``data`` with its save times replaced by a fixed stamp (same cells, same bytes)."""
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = _W3CDTF.sub(rb"\g<1>1980-01-01T00:00:00Z\g<2>", body)
            fixed = zipfile.ZipInfo(info.filename, date_time=_FIXED_STAMP)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            dst.writestr(fixed, body)
    return out.getvalue()


def write_table(frame, path: Path | str, *, staging_root: Path | None = None) -> Path:
    """An analyst's export of ``frame`` (every value; not for publication), formula-safe, atomic."""
    from evalkit.publish.atomic import write_atomic

    path = Path(path)
    if path.suffix not in (".csv", ".xlsx"):
        raise EvalkitError(f"--out {path}: found suffix {path.suffix or '(none)'!r}; expected .csv or .xlsx")
    header, rows = rows_of(frame)
    write_atomic(path, encode(header, rows, path.suffix), setting="--out")
    return path


def read_rows(path: Path) -> tuple[list[str], list[list]]:
    """Header and rows of a CSV or XLSX file, as text/numbers (for the scan and for tests)."""
    path = Path(path)
    if path.suffix == ".xlsx":
        from openpyxl import load_workbook

        ws = load_workbook(path, read_only=True).active
        values = [list(r) for r in ws.iter_rows(values_only=True)]
        return [str(h) for h in values[0]], values[1:]
    with path.open(newline="", encoding="utf-8") as fh:
        data = list(csv.reader(fh))
    return data[0], data[1:]
