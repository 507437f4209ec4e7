"""Reading YAML bank files safely, keeping the line of every mapping for error messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class Lined(dict):
    """A mapping that remembers the 1-based line it started on, and keys given twice."""

    line: int | None = None
    duplicates: tuple[str, ...] = ()


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> Lined:
    loader.flatten_mapping(node)
    pairs = loader.construct_pairs(node, deep=True)
    mapping = Lined()
    seen = []
    for key, value in pairs:
        if key in mapping:
            seen.append(str(key))
        mapping[key] = value
    mapping.line = node.start_mark.line + 1
    mapping.duplicates = tuple(seen)
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class SourceError(ValueError):
    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def load_yaml(path: Path) -> tuple[Any, bytes]:
    """The parsed document and its raw bytes; :class:`SourceError` for bad UTF-8 or syntax."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise SourceError(
            f"not valid UTF-8 (byte {error.start}): save the file as UTF-8", line
        ) from None
    try:
        return yaml.load(text, Loader=_Loader), raw  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        line = mark.line + 1 if mark is not None else None
        raise SourceError(f"YAML syntax error: {problem}", line) from None


def line_of(value: Any) -> int | None:
    return getattr(value, "line", None)
