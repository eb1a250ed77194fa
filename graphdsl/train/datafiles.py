"""Numbers from files: ``.json`` objects, ``.npz`` archives and ``.csv`` tables with a header.

Every reader returns ``{name: float or ndarray}`` and turns every problem into a
DataFileError that names the file (and, for CSV, the line and column)."""
from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from pathlib import Path

import numpy as np

from ..errors import DataFileError, Span


def read_data(path) -> dict:
    """Read a .json, .npz or .csv file of named numbers."""
    path = Path(path)
    readers = {".json": read_json, ".npz": read_npz, ".csv": read_csv}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise DataFileError(f"{path}: unsupported data file type '{path.suffix}' (use .json, .npz or .csv)")
    return reader(path)


def unreadable(path, err: OSError, wanted: str = "a file") -> str:
    """Why ``path`` could not be read, in one line for a person."""
    if isinstance(err, FileNotFoundError):
        return f"{path}: no such file"
    if isinstance(err, IsADirectoryError):
        return f"{path}: is a directory, not {wanted}"
    if isinstance(err, PermissionError):
        return f"{path}: permission denied"
    return f"{path}: cannot read: {err.strerror or err}"


def _bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise DataFileError(unreadable(path, err)) from None


def _text(path: Path) -> str:
    try:
        return _bytes(path).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataFileError(f"{path}: not UTF-8 text") from None


def read_json(path) -> dict:
    path = Path(path)
    text = _text(path)
    try:
        data = json.loads(text, parse_float=text_number, parse_int=json_int)
    except OverflowError as err:
        raise DataFileError(f"{path}: {err}") from None
    except json.JSONDecodeError as err:
        raise DataFileError(f"invalid JSON: {err.msg}", _span(path, text, err.lineno, err.colno)) from None
    except RecursionError:  # json's decoder recurses once per level of nesting
        raise DataFileError(f"{path}: the JSON nests too deeply to be data") from None
    if not isinstance(data, dict):
        raise DataFileError(f"{path}: expected a JSON object of name: value pairs")
    return json_values(data, f"{path}: ")


def json_values(data: dict, where: str = "") -> dict:
    """Named numbers from parsed JSON ``{name: number or nested list}``, NaN and infinities
    written as graphrun --json writes them; ``where`` starts each message (a file name)."""
    return {str(name): _numbers(_json_numbers(value, f"{where}'{name}'"), f"{where}'{name}'")
            for name, value in data.items()}


_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def text_number(text: str) -> float:
    """A number written in a data file or on the command line. ``1e999`` would be read as
    inf by float(): a literal beyond float64's range is an OverflowError here, as it is a
    syntax error in a .graph file (an infinity is written inf, Infinity or -Infinity)."""
    value = float(text)
    if math.isinf(value) and "inf" not in text.lower():
        raise OverflowError(f"{_shorten(text.strip())} is beyond float64's range (about 1.8e308)")
    return value


def json_int(text: str) -> int:
    """A JSON integer, refused (before int() reads all its digits) beyond float64's range."""
    text_number(text)
    return int(text)


def _shorten(text: str) -> str:
    return text if len(text) <= 24 else text[:12] + "..." + text[-8:]


def _json_numbers(value, what: str):
    """A JSON number or nested list of numbers, with the strings graphrun --json writes for
    NaN and infinities read back. numpy would also take null (as NaN), true and "1": a
    typo must not become a number."""
    top = [value]
    stack = [(top, 0)]
    while stack:
        holder, index = stack.pop()
        item = holder[index]
        if isinstance(item, list):  # freshly parsed: replaced in place
            stack.extend((item, i) for i in range(len(item)))
        elif isinstance(item, str) and item in _NONFINITE:
            holder[index] = _NONFINITE[item]
        elif isinstance(item, bool) or not isinstance(item, (int, float)):
            shown = json.dumps(item)
            hint = (' (NaN and infinities are written "NaN", "Infinity", "-Infinity")'
                    if item is None or isinstance(item, str) else "")
            raise DataFileError(f"{what} holds {shown if len(shown) < 40 else shown[:37] + '...'}, "
                                f"not a number{hint}")
    return top[0]


def read_npz(path) -> dict:
    path = Path(path)
    data = _bytes(path)
    if not data.startswith(b"PK"):  # else np.load tries it as a pickle and talks of allow_pickle
        raise DataFileError(f"{path}: not an .npz archive (a zip of .npy arrays, as numpy.savez writes)")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise DataFileError(f"{path}: not an .npz archive")
            return {name: _numbers(archive[name], f"{path}: '{name}'") for name in archive.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as err:
        raise DataFileError(f"{path}: not a readable .npz archive ({err})") from None


def read_csv(path) -> dict:
    """One column per header name, one row per sample; columns that share a name are the
    columns of one matrix (header ``X,X,y``: X has shape [rows, 2])."""
    path = Path(path)
    text = _text(path)
    reader = csv.reader(io.StringIO(text))
    try:
        rows = list(reader)
    except csv.Error as err:  # e.g. a field longer than csv's limit of 131,072 characters
        raise DataFileError(f"not readable as CSV: {err}", _span(path, text, reader.line_num, 1)) from None
    rows = [(i + 1, row) for i, row in enumerate(rows) if any(cell.strip() for cell in row)]
    if not rows:
        raise DataFileError(f"{path}: empty CSV file (expected a header row of input names)")
    header_line, header = rows[0]
    names = [cell.strip() for cell in header]
    for col, name in enumerate(names):
        if not name.isidentifier():
            raise DataFileError(f"bad column name '{name}' (expected an input name)",
                                _span(path, text, header_line, _column(text, header_line, col)))
    columns = [[] for _ in names]
    for line, row in rows[1:]:
        if len(row) != len(names):
            raise DataFileError(f"expected {len(names)} cells, found {len(row)}", _span(path, text, line, 1))
        for col, cell in enumerate(row):
            try:
                columns[col].append(text_number(cell))
            except OverflowError as err:
                raise DataFileError(f"column '{names[col]}': {err}",
                                    _span(path, text, line, _column(text, line, col))) from None
            except ValueError:
                raise DataFileError(f"column '{names[col]}': '{cell.strip()}' is not a number",
                                    _span(path, text, line, _column(text, line, col))) from None
    grouped: dict = {}
    for name, values in zip(names, columns):
        grouped.setdefault(name, []).append(values)
    return {name: np.array(group[0] if len(group) == 1 else np.transpose(group), dtype=np.float64)
            for name, group in grouped.items()}


def _numbers(value, what: str):
    try:
        array = np.asarray(value, dtype=np.float64) if not isinstance(value, np.ndarray) else value
    except (ValueError, TypeError):
        raise DataFileError(f"{what} is not a number or a rectangular array of numbers") from None
    if array.dtype.kind not in "biuf":
        raise DataFileError(f"{what} holds {array.dtype}, not numbers")
    if array.dtype.kind != "f":
        array = array.astype(np.float64)
    return float(array) if array.ndim == 0 else array


def _span(path: Path, text: str, line: int, column: int) -> Span:
    lines = text.split("\n")
    source = lines[line - 1].rstrip("\r") if 0 < line <= len(lines) else ""
    return Span(str(path), line, column, source)


def _column(text: str, line: int, cell: int) -> int:
    """The 1-based column where a CSV cell starts (simple rows; quoted commas are rare here)."""
    source = text.split("\n")[line - 1]
    column = 1
    for _ in range(cell):
        comma = source.find(",", column - 1)
        if comma < 0:
            break
        column = comma + 2
    return column
