"""Reading YAML bank files safely, keeping the line of every mapping for error messages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml


class Lined(dict):
    """A mapping that remembers the 1-based line it started on, each key's line, and repeats."""

    line: int | None = None
    #: key -> the line the key is written on (the last occurrence when a key is repeated)
    key_lines: dict[Any, int]
    #: (key, line) for every key written a second (third ...) time in the same mapping
    duplicates: tuple[tuple[str, int], ...] = ()

    def line_of_key(self, key: Any) -> int | None:
        """The line ``key`` is written on, else the mapping's own line."""
        return getattr(self, "key_lines", {}).get(key, self.line)


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> Lined:
    loader.flatten_mapping(node)
    mapping = Lined()
    mapping.key_lines = {}
    repeated = []
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        value = loader.construct_object(value_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            if key in mapping:
                repeated.append((str(key), line))
        except TypeError:  # an unhashable key (a list or mapping used as a key)
            problem = "a key must be a plain value, not a list or mapping"
            raise yaml.constructor.ConstructorError(
                None, None, problem, key_node.start_mark
            ) from None
        mapping[key] = value
        mapping.key_lines[key] = line
    mapping.line = node.start_mark.line + 1
    mapping.duplicates = tuple(repeated)
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class SourceError(ValueError):
    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


_ITEM_START = re.compile(r"^\s*-\s+id:\s*['\"]?([A-Za-z0-9._\-]+)")


def _item_near(lines: list[str], line: int) -> str | None:
    """The id of the last ``- id:`` item starting at or above ``line`` (1-based), if any."""
    for text in reversed(lines[:line]):
        found = _ITEM_START.match(text)
        if found:
            return found.group(1)
    return None


def _near(lines: list[str], line: int | None) -> str:
    item = _item_near(lines, line) if line else None
    return f" near item {item}" if item else ""


def load_yaml(path: Path) -> tuple[Any, bytes]:
    """The parsed document and its raw bytes; :class:`SourceError` for bad UTF-8 or syntax."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        lines = raw.decode("utf-8", errors="replace").splitlines()
        raise SourceError(
            f"not valid UTF-8{_near(lines, line)}: byte 0x{raw[error.start]:02x} at column "
            f"{column} (byte offset {error.start}); save the file as UTF-8",
            line,
        ) from None
    try:
        return yaml.load(text, Loader=_Loader), raw  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as error:
        raise _syntax_error(error, text.splitlines()) from None


def _syntax_error(error: yaml.YAMLError, lines: list[str]) -> SourceError:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    line = mark.line + 1 if mark is not None else None
    context = getattr(error, "context", None)
    context_mark = getattr(error, "context_mark", None)
    started = context_mark.line + 1 if context_mark is not None else None
    detail = ""
    if context and started is not None and started != line:
        detail = f" ({context} that starts at line {started})"
    elif context:
        detail = f" ({context})"
    return SourceError(f"YAML syntax error{_near(lines, started or line)}: {problem}{detail}", line)


def line_of(value: Any) -> int | None:
    return getattr(value, "line", None)


def repeated_keys(
    document: Any,
    item: str | None = None,
    *,
    top: bool = True,
    seen: set[int] | None = None,
) -> Iterator[tuple[str, int, str | None]]:
    """(key, line, entry) for every key written twice in one mapping, anywhere in ``document``.

    YAML keeps only the last value of a repeated key, so ``{A: x, A: y}`` would silently lose
    an option; every repeat is an error. ``entry`` names the enclosing list entry: an item's
    ``id``, or a competency's, position's or section's ``code``.
    """
    # An anchor's value is one object however often aliases repeat it: walked once, so a file
    # of nested aliases (a "billion laughs") costs its size, not the size it would expand to.
    seen = set() if seen is None else seen
    if isinstance(document, dict | list):
        if id(document) in seen:
            return
        seen.add(id(document))
    if isinstance(document, dict):
        own = document.get("id", None if top else document.get("code"))
        if isinstance(own, str | int | float) and not isinstance(own, bool):
            item = str(own)
        for key, line in getattr(document, "duplicates", ()):
            yield key, line, item
        values: Any = document.values()
    elif isinstance(document, list):
        values = document
    else:
        return
    for value in values:
        yield from repeated_keys(value, item, top=False, seen=seen)
