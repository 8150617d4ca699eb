"""Built-in data loaders: ``csv`` (named columns) and ``jsonl`` (chat lines or input/expected lines)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, TextIO

from ftplug import hookimpl
from ftplug.catalogue.text_limits import MAX_TEXT_CHARS
from ftplug.components import Help, LoadContext
from ftplug.dataset import Example, content_id, shared_label
from ftplug.errors import DataError


def resolve_data_path(path: str, context: LoadContext) -> Path:
    """``path`` resolved against the experiment file's folder; a :class:`DataError` if it is not a file."""
    resolved = Path(path).expanduser()
    if not resolved.is_absolute():
        resolved = context.base_dir / resolved
    if not resolved.is_file():
        raise DataError("no such data file", path=resolved)
    return resolved


def one_character(value: str) -> str | None:
    """The problem with a CSV delimiter or quote that is not exactly one character (``None``: it is one)."""
    if len(value) == 1 and value not in "\r\n":
        return None
    return f"must be one character (not a line break), got {value!r}"


class CsvLoader:
    """Rows of a CSV file with a header; one column is the input, another the expected output."""

    def __init__(
            self,
            path: Annotated[str, Help("the CSV file, relative to the experiment file")],
            input: Annotated[str, Help("column holding the model's input")] = "input",
            expected: Annotated[str, Help("column holding the expected output")] = "expected",
            id: Annotated[str, Help("column holding a unique example id (default: derived from the content)")] = "",
            delimiter: Annotated[str, Help("field separator: one character", check=one_character)] = ",",
    ) -> None:
        self.path, self.input, self.expected, self.id, self.delimiter = path, input, expected, id, delimiter

    def load(self, context: LoadContext) -> Iterator[Example]:
        """Yield one example per data row; the header must name the chosen columns."""
        path = resolve_data_path(self.path, context)
        line = 0  # the last line of the last complete row
        try:
            with path.open(newline="", encoding="utf-8-sig") as handle:
                reader = csv.reader(handle, delimiter=self.delimiter, strict=True)
                header = next(reader, None)
                if header is None:
                    raise DataError("empty file: a header row is required", path=path, where=1)
                columns = {name.strip(): index for index, name in enumerate(header)}
                wanted = [self.input, self.expected] + ([self.id] if self.id else [])
                for name in wanted:
                    if name not in columns:
                        raise DataError(f"no column {name!r} in the header (columns: {', '.join(columns)})"
                                        f"{_delimiter_hint(header, self.delimiter)}", path=path, where=1)
                line, source = reader.line_num, str(path)
                extra = [(name, index) for name, index in columns.items() if name not in wanted]
                for row in reader:
                    if not row:
                        line = reader.line_num
                        continue
                    if len(row) != len(header):
                        raise DataError(f"row has {len(row)} fields, the header has {len(header)}",
                                        path=path, where=line + 1)
                    text, expected = row[columns[self.input]], row[columns[self.expected]].strip()
                    if not expected:
                        raise DataError(f"empty {self.expected!r} value", path=path, where=line + 1)
                    example_id = row[columns[self.id]] if self.id else content_id(text, expected)
                    meta: dict[str, Any] = {"line": line + 1, "source": source}
                    if extra:  # the other columns, to cluster by ([report] cluster)
                        meta["fields"] = {name: row[index] for name, index in extra}
                    yield Example(id=example_id, input=text, expected=shared_label(expected), metadata=meta)
                    line = reader.line_num
        except UnicodeDecodeError:
            raise not_utf8(path) from None
        except csv.Error as error:
            raise DataError(f"malformed CSV: {_csv_problem(error)}", path=path, where=line + 1) from None


def _delimiter_hint(header: list[str], delimiter: str) -> str:
    """A hint when the header looks split by another delimiter than the one in use."""
    if len(header) == 1:
        for candidate in (";", "\t", "|"):
            if candidate != delimiter and candidate in header[0]:
                return f"; is the delimiter {candidate!r}? set delimiter = {candidate!r} in [data]"
    return ""


def _csv_problem(error: csv.Error) -> str:
    text = str(error)
    if "field larger than field limit" in text:
        return (f"a field is longer than {csv.field_size_limit():,} characters (the CSV reader's limit): shorten "
                "it, or use a JSONL file for long inputs")
    if "end of data" in text or "EOF" in text:
        return "a quoted field is not closed (an unclosed quote runs to the end of the file)"
    return text


def not_utf8(path: Path) -> DataError:
    """The error for a file that is not UTF-8, naming the first line that is not."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as error:
                return DataError(f"not UTF-8 text ({error.reason} at byte {error.start + 1} of the line): save the "
                                 "file as UTF-8, e.g. iconv -f latin1 -t utf-8", path=path, where=number)
    return DataError("not UTF-8 text: save the file as UTF-8", path=path)


MAX_LINE_CHARS = 4 * MAX_TEXT_CHARS  # a JSON line: its texts (escaped, perhaps twice as long) and the rest


def bounded_lines(handle: TextIO, path: Path, limit: int = MAX_LINE_CHARS) -> Iterator[str]:
    """The lines of ``handle``, each read in at most ``limit`` characters: a longer line is refused, naming it,
    before it is read whole (a line of hundreds of megabytes would take gigabytes to parse and count).

    :raises DataError: at the first line longer than ``limit``.
    """
    number = 0
    while line := handle.readline(limit + 1):
        number += 1
        if len(line) > limit and not line.endswith("\n"):
            raise DataError(f"the line is longer than {limit:,} characters (ftplug reads examples of at most "
                            f"{MAX_TEXT_CHARS:,}): shorten it or leave it out", path=path, where=number)
        yield line


class JsonlLoader:
    """JSON Lines: ``{"messages": [...]}`` chat lines (the last assistant message is expected) or
    ``{"input": ..., "expected": ...}`` lines."""

    def __init__(
            self,
            path: Annotated[str, Help("the JSONL file, relative to the experiment file")],
            input_key: Annotated[str, Help("key of the input in input/expected lines")] = "input",
            expected_key: Annotated[str, Help("key of the expected output")] = "expected",
            id_key: Annotated[str, Help("key of a unique example id, if present")] = "id",
    ) -> None:
        self.path, self.input_key, self.expected_key, self.id_key = path, input_key, expected_key, id_key
        self._own_keys = {input_key, expected_key, id_key, "messages"}

    def load(self, context: LoadContext) -> Iterator[Example]:
        """Yield one example per non-blank line."""
        path = resolve_data_path(self.path, context)
        try:
            with path.open(encoding="utf-8-sig") as handle:
                source = str(path)
                for number, line in enumerate(bounded_lines(handle, path), start=1):
                    if line.strip():
                        yield self._example(line, path, source, number)
        except UnicodeDecodeError:
            raise not_utf8(path) from None

    def _example(self, line: str, path: Path, source: str, number: int) -> Example:
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"invalid JSON: {error.msg} (column {error.colno})", path=path, where=number) from None
        if not isinstance(record, dict):
            raise DataError("each line must be a JSON object", path=path, where=number)
        meta: dict[str, Any] = {"line": number, "source": source}
        fields = {key: value for key, value in record.items() if key not in self._own_keys
                  and isinstance(value, str | int | float | bool)}
        if fields:  # other fields of the record, to cluster by ([report] cluster)
            meta["fields"] = fields
        if "messages" in record:
            input_value, expected = _split_chat(record["messages"], path, number)
        else:
            for key in (self.input_key, self.expected_key):
                if key not in record:
                    raise DataError(f"missing key {key!r} (or a 'messages' list)", path=path, where=number)
            input_value, expected = record[self.input_key], record[self.expected_key]
            if not isinstance(input_value, str) or not isinstance(expected, str | int | float):
                raise DataError(f"{self.input_key!r} must be a string and {self.expected_key!r} a string or "
                                "number", path=path, where=number)
            expected = str(expected).strip()
            if not expected:
                raise DataError(f"empty {self.expected_key!r}", path=path, where=number)
        example_id = record.get(self.id_key)
        example_id = str(example_id) if example_id is not None else content_id(input_value, expected)
        return Example(id=example_id, input=input_value, expected=shared_label(expected), metadata=meta)


def _split_chat(messages: Any, path: Path, number: int) -> tuple[tuple[dict[str, Any], ...], str]:
    if not isinstance(messages, list) or not messages:
        raise DataError("'messages' must be a non-empty list", path=path, where=number)
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise DataError("every message must be an object with a 'role'", path=path, where=number)
    last = messages[-1]
    if last.get("role") != "assistant" or not isinstance(last.get("content"), str) or not last["content"].strip():
        raise DataError("the last message must be the assistant's answer (non-empty content)",
                        path=path, where=number)
    return tuple(messages[:-1]), last["content"].strip()


@hookimpl
def ftplug_register_loaders(register: Any) -> None:
    """Contribute ``csv`` and ``jsonl``."""
    register("csv", CsvLoader, description="CSV file with a header; named input and expected columns")
    register("jsonl", JsonlLoader, description="JSON Lines: chat-format lines or input/expected lines")
