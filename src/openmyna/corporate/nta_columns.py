"""Checking a whole chunk of NTA rows at once, column by column, with Apache Arrow.

The row-by-row reader (:mod:`openmyna.corporate.nta`) spends tens of µs of Python on a row; this path
parses and checks a chunk of clean lines in Arrow's C++ kernels and NumPy, and leaves Python the digests
and the records (about 3× less time a row, measured in docs/corporate.md).
It only vouches for chunks it fully understands: any line it cannot prove valid (a bad row, a blank line,
a control character, a name needing case folding beyond ASCII, a broken encoding...) makes it answer
``None``, and the caller reads that chunk row by row, which names every bad line exactly as before. Both
paths give the same records for the same clean lines (property-tested).
"""

from __future__ import annotations

import collections
import contextlib
import gc
import hashlib
import itertools
import marshal
import multiprocessing
import signal
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from openmyna.corporate.codes import CLOSE_CAUSE, KIND, PROCESS
from openmyna.corporate.nta import FIELD_COUNT, BadRow, Record, check_is_nta, line_chunks, parse_lines
from openmyna.corporate.text import FIELD_SEPARATOR, bigram_tokens_many, normalise

_NAMES = [f"c{i}" for i in range(FIELD_COUNT)]
_READ = pacsv.ReadOptions(column_names=_NAMES, use_threads=True, block_size=1 << 22)
_PARSE = pacsv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False)
_CONVERT = pacsv.ConvertOptions(
    column_types=dict.fromkeys(_NAMES, pa.string()), strings_can_be_null=False, quoted_strings_can_be_null=False
)
# Control characters (tabs included): Python's str.strip() and Arrow's trim disagree on some, and the
# search text folds them differently; a chunk holding any is read row by row.
_CONTROL_BYTES = bytes([*range(0x0A), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
# After NFKC: hiragana (jaconv turns them into katakana), cased letters outside ASCII, spaces other than
# U+0020. Names holding one are normalised by :func:`openmyna.corporate.text.normalise` itself.
_PYTHON_NORMALISED = r"[\x{3041}-\x{309f}\x{80}-\x{9f}]|[^\x00-\x7f\P{Lu}]|\p{Lt}|[^\x00-\x7f\P{Z}]"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_REQUIRED_DATES = (4, 5, 22)
_WEIGHTS = np.array([2, 1] * 6, dtype=np.int64)  # over the 12-digit body, left to right (1 at its right end)


def _fixed_width_digits(column: pa.Array, width: int) -> np.ndarray:
    """The characters of strings all ``width`` ASCII bytes long, as digit values (a row per string)."""
    _validity, offsets, data = column.buffers()
    start = int(np.frombuffer(offsets, dtype=np.int32)[column.offset])
    values = np.frombuffer(data, dtype=np.uint8)[start : start + width * len(column)]
    return values.reshape(-1, width).astype(np.int64) - ord("0")


def check_digits_valid(numbers: pa.Array) -> np.ndarray:
    """For 13-digit strings: is the first digit 9 − (Σ weights × digits mod 9)? (python-stdnum's jp.cn)"""
    digits = _fixed_width_digits(numbers, 13)
    return digits[:, 0] == 9 - (digits[:, 1:] @ _WEIGHTS) % 9


def _all(mask: pa.Array | np.ndarray) -> bool:
    if isinstance(mask, np.ndarray):
        return bool(mask.all())
    return mask.null_count == 0 and pc.all(mask).as_py() is True


def _in(column: pa.Array, values: object) -> pa.Array:
    return pc.is_in(column, value_set=pa.array(sorted(values)))  # type: ignore[call-overload]


def _valid_dates(column: pa.Array) -> bool:
    """Every value a real date written YYYY-MM-DD, as ``datetime.date.fromisoformat`` requires."""
    if not _all(pc.match_substring_regex(column, _DATE)):
        return False
    digits = _fixed_width_digits(column, 10)
    year = digits[:, :4] @ np.array([1000, 100, 10, 1])
    month = digits[:, 5] * 10 + digits[:, 6]
    day = digits[:, 8] * 10 + digits[:, 9]
    if not ((year >= 1).all() and ((month >= 1) & (month <= 12)).all()):
        return False
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    last = _DAYS_IN_MONTH[month] + (leap & (month == 2))
    return bool(((day >= 1) & (day <= last)).all())


def _present(column: pa.Array) -> pa.Array:
    """The non-empty values of an optional column."""
    return pc.filter(column, pc.not_equal(column, ""))


def _checked(columns: list[pa.Array]) -> bool:
    """The checks of :func:`openmyna.corporate.nta.parse_fields`, over whole columns (raw values)."""
    number = columns[1]
    if not _all(pc.match_substring_regex(number, "^[1-9][0-9]{12}$")) or not _all(check_digits_valid(number)):
        return False
    if not _all(pc.match_substring_regex(columns[0], "^[0-9]{1,18}$")):
        return False
    if not (_all(_in(columns[2], PROCESS)) and _all(_in(columns[8], KIND))):
        return False
    if not all(_all(_in(columns[i], ("0", "1"))) for i in (3, 23, 29)):
        return False
    if not all(_valid_dates(columns[i]) for i in _REQUIRED_DATES):
        return False
    closed = _present(columns[18])
    if len(closed) and not _valid_dates(closed):
        return False
    if not _all(pc.not_equal(pc.utf8_trim_whitespace(columns[6]), "")):
        return False
    for index, width in ((13, 2), (14, 3), (15, 7)):
        present = _present(columns[index])
        if len(present) and not _all(pc.match_substring_regex(present, f"^[0-9]{{{width}}}$")):
            return False
    causes = _present(columns[19])
    if len(causes) and not _all(_in(causes, CLOSE_CAUSE)):
        return False
    successors = _present(columns[20])
    return not len(successors) or (
        _all(pc.match_substring_regex(successors, "^[1-9][0-9]{12}$")) and _all(check_digits_valid(successors))
    )


def _normalised(column: pa.Array) -> list[str]:
    """:func:`openmyna.corporate.text.normalise` of every value (stripped; empty for a blank)."""
    folded = pc.utf8_normalize(column, form="NFKC")
    by_python = pc.match_substring_regex(folded, _PYTHON_NORMALISED)
    folded = pc.utf8_trim(pc.replace_substring_regex(pc.utf8_lower(folded), " +", " "), " ")
    values = folded.to_pylist()
    if pc.any(by_python).as_py():
        originals = column.to_pylist()
        for index in np.flatnonzero(by_python.to_numpy(zero_copy_only=False)):
            values[index] = normalise(originals[index])
    return values


def _digests(joined: pa.Array) -> list[int]:
    """:func:`openmyna.corporate.nta.digest_of` of each row, hashing the joined columns 2–30 where Arrow keeps them."""
    _validity, offsets, data = joined.buffers()
    ends = np.frombuffer(offsets, dtype=np.int32)[joined.offset : joined.offset + len(joined) + 1].tolist()
    view = memoryview(data)  # type: ignore[arg-type]
    blake2b = hashlib.blake2b
    packed = b"".join([blake2b(view[start:end], digest_size=8).digest() for start, end in itertools.pairwise(ends)])
    return np.frombuffer(packed, dtype=">i8").tolist()


_Columns = tuple[list[pa.Array], list[pa.Array], list[int], list[str]]


def _checked_columns(data: bytes, encoding: str, first_line: int) -> _Columns | None:
    """A chunk of whole lines numbered from ``first_line``, checked: its raw and stripped columns, digests and
    search texts; ``None`` unless every line is valid."""
    if encoding != "utf-8-sig":
        try:
            data = data.decode(encoding).encode()
        except UnicodeDecodeError:
            return None
    elif first_line == 1:
        data = data.removeprefix(b"\xef\xbb\xbf")
    if not data or len(data.translate(None, _CONTROL_BYTES)) != len(data):
        return None
    lines = data.count(b"\n") + (not data.endswith(b"\n"))
    try:
        table = pacsv.read_csv(pa.py_buffer(data), _READ, _PARSE, _CONVERT)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # broken UTF-8, a wrong column count, a stray quote
        return None
    if table.num_rows != lines:  # a blank line, or a line break Arrow and the csv module read differently
        return None
    raw = [table.column(i).combine_chunks() for i in range(FIELD_COUNT)]
    if not _checked(raw):
        return None
    stripped = [pc.utf8_trim_whitespace(column) for column in raw]
    joined = pc.binary_join_element_wise(*stripped[1:], FIELD_SEPARATOR)
    names = [_normalised(stripped[i]) for i in (6, 28, 24)]
    search = [FIELD_SEPARATOR.join(parts) for parts in zip(*names, strict=True)]
    return raw, stripped, _digests(joined), search


def _parse_rows(data: bytes, encoding: str, first_line: int) -> list[tuple[str | int | None, ...]] | None:
    """The stored rows of a chunk of whole lines numbered from ``first_line``; ``None`` unless every line is valid."""
    columns = _checked_columns(data, encoding, first_line)
    if columns is None:
        return None
    raw, stripped, digests, search = columns
    stored = [
        pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), column).to_pylist() for column in stripped[2:]
    ]
    return list(
        zip(
            pc.cast(raw[1], pa.int64()).to_pylist(),
            pc.cast(raw[0], pa.int64()).to_pylist(),
            *stored,
            digests,
            search,
            strict=True,
        )
    )


def _copy_text(columns: _Columns) -> bytes:
    """The rows of checked columns with their 2-character tokens, as PostgreSQL COPY text, by Arrow's kernels."""
    raw, stripped, digests, search = columns
    texts = [pa.array(search, pa.string()), pa.array(bigram_tokens_many(search), pa.string())]
    values = [
        pc.cast(raw[1], pa.int64()).cast(pa.string()),
        pc.cast(raw[0], pa.int64()).cast(pa.string()),
        *(pc.if_else(pc.equal(column, ""), "\\N", _copy_escaped(column)) for column in stripped[2:]),
        pa.array(digests, pa.int64()).cast(pa.string()),
        *(_copy_escaped(column) for column in texts),
    ]
    lines = pc.binary_join_element_wise(pc.binary_join_element_wise(*values, "\t"), "", "\n")
    _validity, offsets, text = lines.buffers()
    ends = np.frombuffer(offsets, dtype=np.int32)
    return text.to_pybytes()[ends[lines.offset] : ends[lines.offset + len(lines)]]


def _copy_escaped(column: pa.Array) -> pa.Array:
    """Text for COPY's text format: a clean chunk holds no control characters, so only backslashes (which
    NFKC also makes of U+FF3C) need escaping."""
    return pc.replace_substring(column, "\\", "\\\\")


def parse_chunk(data: bytes, encoding: str, first_line: int) -> list[Record] | None:
    """The records of a chunk of whole lines numbered from ``first_line``; ``None`` unless every line is valid."""
    rows = _parse_rows(data, encoding, first_line)
    return None if rows is None else list(map(Record, range(first_line, first_line + len(rows)), rows))


class CopyBlock(NamedTuple):
    """A clean block of records, whole: for PostgreSQL as COPY text (the registry's columns, then the
    2-character tokens), for SQLite as the stored rows marshalled. Written as it is when none of ``numbers``
    is known yet; ``records()`` otherwise, parsed again from the block's bytes (rare: the parsing process
    does not build records no one may need)."""

    first_line: int
    numbers: list[int]
    text: bytes
    data: bytes
    encoding: str

    def rows(self) -> list[tuple[str | int | None, ...]]:
        """SQLite: the stored rows (``text`` is their marshalled list)."""
        rows: list[tuple[str | int | None, ...]] = marshal.loads(self.text)
        return rows

    def records(self) -> list[Record]:
        records = parse_chunk(self.data, self.encoding, self.first_line)
        if records is None:  # the parsing process found this block clean
            raise AssertionError(f"block from line {self.first_line} no longer reads clean")
        return records


# A file this large is parsed in a second process (starting one costs about a second: a fresh interpreter
# importing Arrow); smaller files, daily diffs among them, in a thread.
PROCESS_MIN_BYTES = 16 << 20
# Chunks of about 10,000 NTA lines, cut at line ends, and how many the parsing process may run ahead.
_BLOCK_BYTES = 1 << 21
_BLOCKS_AHEAD = 3


def _start_parser() -> None:
    """The parsing process: Ctrl-C is the importing process's to handle (it stops this one), no cycle
    collection (see the importer), Arrow's buffers handed back at once (see :func:`read_rows`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.disable()
    pa.set_memory_pool(pa.system_memory_pool())


# marshal's version 2 writes no back-references: 3-4x faster than the default for a block of rows (measured),
# which hold few repeated objects anyway.
_MARSHAL_VERSION = 2


def _parse_block(
    name: str, encoding: str, first_line: int, data: bytes, whole: str | None
) -> CopyBlock | tuple[bool, Any]:
    """In the parsing process: a clean block as a :class:`CopyBlock` (``whole``: "copy" for PostgreSQL's COPY
    text, "rows" for SQLite's marshalled rows) or (True, its stored rows marshalled: they travel back several
    times cheaper than pickled Records), any other as (False, its Records and BadRows)."""
    if whole == "copy":
        columns = _checked_columns(data, encoding, first_line)
        if columns is not None:
            numbers = pc.cast(columns[0][1], pa.int64()).to_pylist()
            return CopyBlock(first_line, numbers, _copy_text(columns), data, encoding)
    else:
        rows = _parse_rows(data, encoding, first_line)
        if rows is not None:
            packed = marshal.dumps(rows, _MARSHAL_VERSION)
            if whole == "rows":
                return CopyBlock(first_line, cast(list[int], [row[0] for row in rows]), packed, data, encoding)
            return True, packed
    return False, parse_lines(name, encoding, first_line, data.splitlines(keepends=True))


def _blocks(path: Path) -> Iterator[tuple[int, bytes]]:
    """The file in blocks of whole lines (the last may lack its line end), each with its first line's number."""
    with path.open("rb") as handle:
        line, rest = 1, b""
        while block := handle.read(_BLOCK_BYTES):
            data = rest + block
            end = data.rfind(b"\n") + 1
            if not end:
                rest = data
                continue
            data, rest = data[:end], data[end:]
            yield line, data
            line += data.count(b"\n")
        if rest:
            yield line, rest


def _read_in_process(path: Path, encoding: str, whole: str | None) -> Iterator[Record | BadRow | CopyBlock]:
    # Forked, so it shares the importing process's pages (a spawned interpreter re-imported the whole CLI:
    # 560 MiB for both processes together, against 406 forked). It touches nothing the parent opened
    # (database connections, threads' locks): it only parses blocks it is sent.
    fork = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(max_workers=1, mp_context=fork, initializer=_start_parser)
    pending: collections.deque[tuple[int, Future[CopyBlock | tuple[bool, Any]]]] = collections.deque()

    def submit(block: tuple[int, bytes] | None) -> None:
        if block is not None:
            pending.append((block[0], pool.submit(_parse_block, path.name, encoding, *block, whole)))

    try:
        blocks = _blocks(path)
        for block in itertools.islice(blocks, _BLOCKS_AHEAD):
            submit(block)
        while pending:
            first, future = pending.popleft()
            result = future.result()
            submit(next(blocks, None))
            if isinstance(result, CopyBlock):
                yield result
                continue
            clean, items = result
            if clean:
                rows = marshal.loads(items)
                yield from map(Record, range(first, first + len(rows)), rows)
            else:
                yield from items
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def read_rows(
    path: Path,
    *,
    encoding: str | None = None,
    chunk_lines: int = 10_000,
    read_ahead: bool = True,
    in_process: bool | None = None,
    whole: str | None = None,
) -> Iterator[Record | BadRow | CopyBlock]:
    """Every row of an NTA CSV file as a Record or a BadRow, in file order, in constant memory.

    Each chunk is checked column by column when it is clean, row by row (naming every bad line) otherwise.
    ``in_process`` (default: for files of :data:`PROCESS_MIN_BYTES` and more) parses in a second process,
    a few chunks ahead, so parsing and the caller's writing each have a core. Otherwise, with
    ``read_ahead``, the next chunk is read in a thread while the caller handles this one (they share
    Python's lock, so they overlap only where Arrow or the database driver release it). With ``whole``
    ("copy" for PostgreSQL, "rows" for SQLite) the parsing process sends clean blocks as :class:`CopyBlock`.
    """
    encoding = encoding or check_is_nta(path)
    if in_process is None:
        in_process = path.stat().st_size >= PROCESS_MIN_BYTES
    if in_process:
        yield from _read_in_process(path, encoding, whole)
        return
    # Arrow's buffers here live for one chunk: the system allocator hands them back, where mimalloc's
    # per-thread heaps kept about 50 MiB more resident through an import.
    pa.set_memory_pool(pa.system_memory_pool())

    def read_next(chunks: Iterator[tuple[int, list[bytes]]]) -> list[Record] | list[Record | BadRow] | None:
        chunk = next(chunks, None)
        if chunk is None:
            return None
        first, lines = chunk
        records = parse_chunk(b"".join(lines), encoding, first)
        return parse_lines(path.name, encoding, first, lines) if records is None else records

    with contextlib.closing(line_chunks(path, chunk_lines)) as chunks:
        if not read_ahead:
            while (items := read_next(chunks)) is not None:
                yield from items
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="nta-reader") as reader:
            pending = reader.submit(read_next, chunks)
            while (items := pending.result()) is not None:
                pending = reader.submit(read_next, chunks)
                yield from items
