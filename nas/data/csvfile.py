"""Reading a CSV/TSV file as people have them: a sniffed delimiter (comma, semicolon, tab,
pipe), the header's names as written (repeats refused, stray quotes and spaces stripped), text
cells stripped and blanks made missing."""

from __future__ import annotations

import csv
import io
from collections.abc import Collection
from pathlib import Path

import numpy as np
import pandas as pd

from nas.errors import DataError

_SNIFF_BYTES = 64 * 1024
_NA_TOKENS = ["?"]  # beyond pandas' defaults ("", "NA", "NaN", "null", "N/A", ...)
# pandas.read_csv's default missing-value words (its documentation's list) and ours: a cell
# that is one of them once stripped of white space is missing too ("NA " had been the text
# "NA", and a number column holding it was refused for a stray word)
MISSING_WORDS = frozenset({
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null", *_NA_TOKENS,
})  # fmt: skip
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_CANDIDATES = "".join(_DELIMITER_NAMES)


def read_table(path: Path, text: Collection[str] = ()) -> tuple[pd.DataFrame, str]:
    """The rows of a CSV/TSV file and the delimiter found (comma, semicolon, tab or pipe).
    The columns named in ``text`` stay text as written even where every cell is a number
    (codes such as ``01``, which pandas reads as 1)."""
    with path.open("rb") as handle:
        sample = handle.read(_SNIFF_BYTES)
    if len(sample) == _SNIFF_BYTES and b"\n" in sample:
        sample = sample[: sample.rindex(b"\n")]  # whole lines only, for the sniffer
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(f"{path} is UTF-16 text; save it as UTF-8 (CSV UTF-8 in a spreadsheet's "
                        "Save As) and pass that file.")  # fmt: skip
    if b"\x00" in sample:  # text files hold no NUL bytes; binary ones (xlsx, zip, npz) do
        raise DataError(f"{path} is not a text file (it holds binary data); give a CSV/TSV, "
                        "e.g. exported from a spreadsheet as CSV.")  # fmt: skip
    decoded, encoding = _decode(sample)
    if not decoded.strip():
        raise DataError(f"{path} is empty; give a CSV with a header row and at least one data row.")
    delimiter = "\t" if path.suffix.lower() == ".tsv" else _sniff_delimiter(decoded)
    try:
        frame = pd.read_csv(
            path, sep=delimiter, encoding=encoding, skipinitialspace=True, na_values=_NA_TOKENS
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        message = " ".join(str(err).split())
        raise DataError(
            f"Cannot parse {path} as a {_DELIMITER_NAMES[delimiter]}-separated file: {message}. "
            "Check that every row has as many fields as the header."
        ) from err
    if not isinstance(frame.index, pd.RangeIndex) and len(frame.columns):
        # data rows with one field more than the header: pandas made the first column the
        # index and shifted every column one place left (a row ending in a delimiter, as some
        # exports write them, had lost its first column and emptied its last, silently)
        extra = frame.iloc[:, -1]
        if extra.notna().any():
            line = int(np.flatnonzero(extra.notna().to_numpy())[0]) + 2
            raise DataError(
                f"{path} line {line} has {len(frame.columns) + 1} fields where the header names "
                f"{len(frame.columns)} (a value after its last column, "
                f"{str(frame.columns[-1])!r}); name that column in the header, or remove the "
                "extra field."
            )
        frame = pd.read_csv(path, sep=delimiter, encoding=encoding, skipinitialspace=True,
                            na_values=_NA_TOKENS, index_col=False)  # fmt: skip
    names = _column_names(path, decoded, delimiter, [str(c) for c in frame.columns])
    frame.columns = names
    while len(frame.columns) > 1 and _trailing_delimiter(frame, decoded, delimiter):
        frame = frame.iloc[:, :-1]  # a header and rows that all end in a delimiter
        names = names[:-1]
    if frame.empty:
        raise DataError(f"{path} has a header but no data rows; add rows to the file.")
    again = [i for i, c in enumerate(names) if c in text and not _is_text(frame.iloc[:, i])]
    if again:  # the same cells, as written (usecols keeps the file's order)
        cells = pd.read_csv(path, sep=delimiter, encoding=encoding, skipinitialspace=True,
                            na_values=_NA_TOKENS, usecols=again, dtype=str,
                            index_col=False)  # fmt: skip
        for j, i in enumerate(again):
            frame[names[i]] = cells.iloc[:, j].to_numpy(dtype=object)
    return _tidy(frame, delimiter, text), delimiter


def _trailing_delimiter(frame: pd.DataFrame, decoded: str, delimiter: str) -> bool:
    """Whether the last column is only a delimiter at the end of every line: no name in the
    header (pandas' "Unnamed: <i>") and no value in any row."""
    header = next((line for line in decoded.splitlines() if line.strip()), "")
    return header.rstrip("\r\n ").endswith(delimiter) and bool(frame.iloc[:, -1].isna().all())


def _is_text(series: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series))


def _decode(sample: bytes) -> tuple[str, str]:
    """The file's first bytes as text, and the encoding that read them (UTF-8, else Latin-1)."""
    try:
        return sample.decode("utf-8-sig"), "utf-8-sig"
    except UnicodeDecodeError:
        return sample.decode("latin-1"), "latin-1"


def column_as_written(path: Path, delimiter: str, position: int) -> pd.Series:
    """Column ``position`` of a file :func:`read_table` read, row for row, as the text of its
    cells (stripped, blanks missing): "01" and "1", which pandas reads as one number."""
    with path.open("rb") as handle:
        _, encoding = _decode(handle.read(_SNIFF_BYTES))
    frame = pd.read_csv(path, sep=delimiter, encoding=encoding, skipinitialspace=True,
                        na_values=_NA_TOKENS, usecols=[position], dtype=str,
                        index_col=False)  # fmt: skip
    return frame.iloc[:, 0].str.strip().replace("", pd.NA)


def _column_names(path: Path, text: str, delimiter: str, parsed: list[str]) -> list[str]:
    """The header's names as written (pandas renames a repeated ``label`` to ``label.1``, which
    would make a repeated target a feature), stripped of spaces and stray quotes; a DataError
    when two are the same name."""
    # not skipinitialspace: the message shows a name as written, " a" beside "a"
    rows = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = next((row for row in rows if any(cell.strip() for cell in row)), None)
    if header is None or len(header) != len(parsed):  # a header longer than the sniffed text
        header = parsed
    # an empty name keeps pandas' "Unnamed: <i>" (a row index written by to_csv is one)
    names = [clean_name(raw) or name for raw, name in zip(header, parsed, strict=True)]
    seen: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        seen.setdefault(name, []).append(i)
    repeated = [(name, where) for name, where in seen.items() if len(where) > 1]
    if repeated:
        name, where = repeated[0]
        positions = ", ".join(str(i + 1) for i in where[:-1]) + f" and {where[-1] + 1}"
        written = {header[i] for i in where}
        as_written = (
            f", written {' and '.join(repr(header[i]) for i in where)}" if len(written) > 1 else ""
        )
        raise DataError(
            f"{path.name} has {len(where)} columns named {name!r} (columns {positions} of the "
            f"header{as_written}); a repeated column would be read as a feature beside itself, "
            "and a repeated target would leak the answer. Give every column a unique name."
        )
    return names


def clean_name(name: str) -> str:
    """A column name without surrounding spaces or a pair of stray quotes (``'vote'`` reads
    ``vote``: some exporters quote the names inside a tab-separated header)."""
    name = name.strip()
    if len(name) >= 2 and name[0] == name[-1] and name[0] in "'\"":
        name = name[1:-1].strip()
    return name


def _sniff_delimiter(text: str) -> str:
    """The delimiter: the header line's, where it holds one kind of candidate only (a header
    names columns, so it has no decimal commas: the sniffer had picked ',' for a semicolon file
    of decimal commas whose rows end in ';'), else csv.Sniffer's."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    if '"' not in header:  # quoted names may hold any character: the sniffer reads quotes
        present = [d for d in _CANDIDATES if d in header]
        if len(present) == 1:
            return present[0]
    try:
        return csv.Sniffer().sniff(text, delimiters=_CANDIDATES).delimiter
    except csv.Error:  # irregular rows: trust the header line; one column reads as comma
        header = next((line for line in text.splitlines() if line.strip()), "")
        counts = {d: header.count(d) for d in _CANDIDATES}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


STRAY_SHARE = 0.05  # at most this share of a number column's cells may be other text


def _tidy(frame: pd.DataFrame, delimiter: str, keep: Collection[str] = ()) -> pd.DataFrame:
    """Strip text cells, make blank cells missing, read "1,5" as 1.5 in non-comma files (not in
    the columns named in ``keep``, which stay text: codes "01" had become 1.0 in a semicolon
    file, a category the run never saw). ``frame`` is :func:`read_table`'s own, changed in
    place; each distinct cell of a column is cleaned once (a category column of 200,000 rows
    holds a few: cleaning every cell had taken 6x as long as reading the file)."""
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        codes, uniques = pd.factorize(series)  # -1: a cell pandas read as missing
        counts = np.bincount(codes[codes >= 0], minlength=len(uniques))  # cells per distinct
        text = pd.Series(np.asarray(uniques, dtype=object), dtype="string").str.strip()
        text = text.mask(text.isin(MISSING_WORDS))
        if column not in keep:  # numbers pandas left as text: "1,5" in a semicolon file, or
            # a column whose only words were missing ones written with spaces ("NA ")
            dotted = text.str.replace(",", ".", regex=False) if delimiter != "," else text
            numbers = pd.to_numeric(dotted, errors="coerce")
            given = int(counts[text.notna().to_numpy()].sum())
            read = int(counts[numbers.notna().to_numpy()].sum())
            if read == given and given:
                frame[column] = _spread(numbers.to_numpy(dtype=float, na_value=np.nan), codes)
                continue
            if given and given - read <= STRAY_SHARE * given:
                # numbers with a few cells that are not: written with points, so that the
                # check of such cells (nas.data.tabular) names them; as "0,5" every number
                # had been a category of its own, without a word
                text = dotted.where(numbers.notna(), text)
        cells = text.astype(object).where(text.notna(), np.nan).to_numpy(dtype=object)
        frame[column] = pd.Series(_spread(cells, codes), index=frame.index, dtype=object)
    return frame


def _spread(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Each cell's value from its distinct value's (``codes`` of :func:`pandas.factorize`);
    missing (NaN) where the code is -1."""
    return np.append(values, np.array([np.nan], dtype=values.dtype))[codes]
