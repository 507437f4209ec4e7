"""The rules a bank, dictionary, standard or battery file must follow (pure).

Each function reports problems through the reader (file, line, item, message) and returns the
parsed value, or None when the entry is too broken to use.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from cbt_server.banks.markdown import find_unsafe_html
from cbt_server.banks.yaml_source import line_of

CODE = re.compile(r"^[A-Z0-9][A-Z0-9.\-]*$")
ITEM_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")
ITEM_TYPES = ("single", "multiple", "truefalse", "weighted", "likert", "short")
OPTION_TYPES = ("single", "multiple", "weighted")
DIFFICULTIES = ("easy", "medium", "hard")
POSITION_TYPES = ("functional", "structural", "executor")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp")
LIKERT_RANGE = (2, 11)
MAX_OPTIONS = 8
ITEM_FIELDS = {
    "id",
    "type",
    "competency",
    "difficulty",
    "stem",
    "image",
    "points",
    "options",
    "key",
    "weights",
    "accept",
    "reverse",
    "likert",
}
ITEM_REQUIRED = ("id", "type", "competency", "stem")
TRUEFALSE_OPTIONS = (("A", "Benar"), ("B", "Salah"))
#: the bank's ``likert:`` was given but is wrong: its items say nothing more about it
BROKEN_LIKERT = object()


def _fmt():  # type: ignore[no-untyped-def]
    from cbt_server.banks import format as fmt

    return fmt


def mapping(
    reader,
    value: Any,
    what: str,
    allowed: set[str],
    required: set[str],  # type: ignore[no-untyped-def]
    item: str | None = None,
) -> bool:
    """A mapping with only known fields (typo guard) and every required one."""
    if not isinstance(value, dict):
        reader.problem(f"{what} must be a mapping of fields (key: value)", line_of(value), item)
        return False
    ok = True  # a key written twice is reported when the file is loaded (repeated_keys)
    for key in value:
        if key not in allowed:
            reader.problem(
                f"unknown field {key!r} in {what} (allowed: {', '.join(sorted(allowed))})",
                key_line(value, key),
                item,
            )
            ok = False
    for key in sorted(required):
        if key not in value or value[key] is None or value[key] == "":
            reader.problem(f"{what} is missing the required field {key!r}", line_of(value), item)
            ok = False
    return ok


def key_line(value: Any, key: Any) -> int | None:
    """The line a field is written on, where the loader recorded it."""
    finder = getattr(value, "line_of_key", None)
    return finder(key) if finder is not None else line_of(value)


def listing(reader, value: Any, name: str) -> list:  # type: ignore[no-untyped-def]
    if not isinstance(value, list):
        reader.problem(f"{name} must be a list (each entry starting with '- ')", line_of(value))
        return []
    return value


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str | int | float):
        text = str(value).strip()
        return text or None
    return None


# ---- dictionary and standards ----------------------------------------------------------------


def competency(reader, entry: Any, group: str, repo):  # type: ignore[no-untyped-def]
    fields = {"code", "name", "definition", "job_family", "validity", "levels"}
    if not mapping(reader, entry, "a competency", fields, {"code", "name", "definition", "levels"}):
        return None
    code = str(entry["code"])
    line = line_of(entry)
    ok = True
    if code in repo.competencies:
        reader.problem(f"competency code {code} is defined twice", line, code)
        ok = False
    levels = entry["levels"]
    if (
        not isinstance(levels, dict)
        or sorted(levels) != [1, 2, 3, 4, 5]
        or not all(_text(v) for v in levels.values())
    ):
        reader.problem(
            "levels must have exactly the keys 1, 2, 3, 4, 5, each with a descriptor",
            line_of(levels) or line,
            code,
        )
        ok = False
    family = entry.get("job_family")
    if family is not None and str(family) not in repo.job_families:
        reader.problem(
            f"job family {family!r} is not defined (add it under job_families:)", line, code
        )
        ok = False
    validity = entry.get("validity", False)
    if not isinstance(validity, bool) or (validity and group != "integrity"):
        reader.problem(
            "validity must be true or false, and only integrity scales may set it", line, code
        )
        ok = False
    if not ok:
        return None
    return _fmt().Competency(
        code,
        str(entry["name"]),
        group,
        str(entry["definition"]),
        str(family) if family is not None else None,
        bool(validity),
        {int(k): str(v) for k, v in levels.items()},
    )


def position(reader, entry: Any, repo):  # type: ignore[no-untyped-def]
    fields = {"code", "name", "type", "job_family", "required"}
    if not mapping(reader, entry, "a position", fields, {"code", "name", "type", "required"}):
        return None
    code = str(entry["code"])
    line = line_of(entry)
    ok = True
    if entry["type"] not in POSITION_TYPES:
        reader.problem(
            f"type {entry['type']!r} is not one of {', '.join(POSITION_TYPES)}", line, code
        )
        ok = False
    family = entry.get("job_family")
    if family is not None and str(family) not in repo.job_families:
        reader.problem(f"job family {family!r} is not defined", line, code)
        ok = False
    required = entry["required"]
    levels: dict[str, int] = {}
    if not isinstance(required, dict) or not required:
        reader.problem("required must map competency codes to levels 1-5", line, code)
        return None
    for competency_code, level in required.items():
        if str(competency_code) not in repo.competencies:
            reader.problem(
                f"required competency {competency_code} is not in the dictionary",
                line_of(required) or line,
                code,
            )
            ok = False
        elif isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 5:
            reader.problem(
                f"required level of {competency_code} must be 1-5, not {level!r}",
                line_of(required) or line,
                code,
            )
            ok = False
        else:
            levels[str(competency_code)] = level
    if not ok:
        return None
    return _fmt().Position(
        code,
        str(entry["name"]),
        str(entry["type"]),
        str(family) if family is not None else None,
        levels,
    )


# ---- items -------------------------------------------------------------------------------------


def likert_config(reader, value: Any, line: int | None, item: str | None):  # type: ignore[no-untyped-def]
    """(points, labels) from a ``likert:`` mapping, or None."""
    if value is None:
        return None
    if not mapping(reader, value, "likert", {"points", "labels"}, {"points", "labels"}, item):
        return None
    points, labels = value["points"], value["labels"]
    low, high = LIKERT_RANGE
    if isinstance(points, bool) or not isinstance(points, int) or not low <= points <= high:
        reader.problem(
            f"bad Likert range: points must be a whole number {low}..{high}, not {points!r}",
            line_of(value) or line,
            item,
        )
        return None
    if not isinstance(labels, list) or len(labels) != points or not all(_text(x) for x in labels):
        count = len(labels) if isinstance(labels, list) else 0
        reader.problem(
            f"bad Likert range: {points} points need exactly {points} labels (found {count})",
            line_of(value) or line,
            item,
        )
        return None
    return points, tuple(str(x) for x in labels)


def _unsafe(reader, text: str, where: str, line: int | None, item: str) -> bool:  # type: ignore[no-untyped-def]
    found = find_unsafe_html(text)
    if found:
        reader.problem(f"unsafe HTML in {where}: {found}", line, item)
        return True
    return False


def _options(reader, entry, item_id: str, line):  # type: ignore[no-untyped-def]
    options = entry.get("options")
    if not isinstance(options, dict):
        reader.problem("options must map labels A, B, C ... to option texts", line, item_id)
        return None
    labels = [str(k) for k in options]
    expected = [chr(ord("A") + n) for n in range(len(labels))]
    if len(labels) < 2 or len(labels) > MAX_OPTIONS:
        reader.problem(
            f"an item needs 2 to {MAX_OPTIONS} options, found {len(labels)}", line, item_id
        )
        return None
    if labels != expected:
        reader.problem(
            f"option labels must be {', '.join(expected)} in order, found {', '.join(labels)}",
            line,
            item_id,
        )
        return None
    result = []
    for label, text in options.items():
        shown = _text(text)
        if shown is None:
            reader.problem(f"option {label} is empty", line, item_id)
            return None
        if _unsafe(reader, shown, f"option {label}", line, item_id):
            return None
        result.append((str(label), shown))
    return tuple(result)


def item(reader, entry: Any, repo, bank_likert, media_dir: Path):  # type: ignore[no-untyped-def]
    """One bank item, or None (with its problems reported)."""
    item_id = str(entry.get("id")) if isinstance(entry, dict) and entry.get("id") else None
    line = line_of(entry)
    if not mapping(reader, entry, "an item", ITEM_FIELDS, set(ITEM_REQUIRED), item_id):
        return None
    before = len(reader.repo.problems)
    if not ITEM_ID.match(item_id or ""):
        reader.problem("item id may hold only letters, digits, '.', '_', '-'", line, item_id)
    kind = entry["type"]
    if kind not in ITEM_TYPES:
        reader.problem(
            f"unknown item type {kind!r}: use one of {', '.join(ITEM_TYPES)}", line, item_id
        )
        return None
    competency = str(entry["competency"])
    if competency not in repo.competencies:
        reader.problem(
            f"unknown competency {competency}: it is not in the competency dictionary",
            line,
            item_id,
        )
    difficulty = entry.get("difficulty")
    if difficulty is not None and difficulty not in DIFFICULTIES:
        reader.problem(
            f"difficulty {difficulty!r} is not one of {', '.join(DIFFICULTIES)}", line, item_id
        )
    stem = _text(entry["stem"]) or ""
    _unsafe(reader, stem, "the stem", line, item_id)
    image = _image(reader, entry.get("image"), media_dir, line, item_id)
    points = entry.get("points", 1)
    if isinstance(points, bool) or not isinstance(points, int | float) or points <= 0:
        reader.problem(f"points must be a number above 0, not {points!r}", line, item_id)
        points = 1
    elif "points" in entry and kind in ("weighted", "likert"):
        reader.problem(
            f"points has no meaning for a {kind} item (its maximum comes from "
            f"{'the weights' if kind == 'weighted' else 'the scale'})",
            line,
            item_id,
        )
    for name, allowed_for in (
        ("weights", ("weighted",)),
        ("accept", ("short",)),
        ("reverse", ("likert",)),
        ("likert", ("likert",)),
    ):
        if name in entry and kind not in allowed_for:
            reader.problem(
                f"{name} on a {kind} item: only {'/'.join(allowed_for)} items take {name}",
                line,
                item_id,
            )
    if "key" in entry and kind in ("weighted", "likert", "short"):
        hint = {"weighted": "weights", "likert": "reverse", "short": "accept"}[kind]
        reader.problem(f"a {kind} item has no key: use {hint}", line, item_id)
    options: tuple = ()
    key: tuple[str, ...] = ()
    weights = None
    accept: tuple[str, ...] = ()
    likert_points = None
    if kind in OPTION_TYPES:
        options = _options(reader, entry, item_id, line) or ()
        labels = [label for label, _ in options]
        if kind == "weighted":
            weights = _weights(reader, entry.get("weights"), labels, line, item_id)
        elif options:
            key = _key(reader, entry, kind, labels, line, item_id)
    else:
        if "options" in entry:
            reader.problem(f"a {kind} item takes no options", line, item_id)
        if kind == "truefalse":
            options = TRUEFALSE_OPTIONS
            value = entry.get("key")
            if value is None:
                reader.problem(
                    "missing key: a truefalse item needs key: true or key: false", line, item_id
                )
            elif not isinstance(value, bool):
                reader.problem(
                    f"the key of a truefalse item is true or false, not {value!r}", line, item_id
                )
            else:
                key = ("A",) if value else ("B",)
        elif kind == "likert":
            config = likert_config(reader, entry.get("likert"), line, item_id) or bank_likert
            if config is BROKEN_LIKERT:
                return None  # the bank's likert: is wrong; that is reported once, at the bank
            if config is None:
                reader.problem(
                    "bad Likert range: a likert item needs the bank's likert: "
                    "points and labels (or its own)",
                    line,
                    item_id,
                )
            else:
                likert_points = config[0]
                options = tuple((str(n), label) for n, label in enumerate(config[1], start=1))
            if not isinstance(entry.get("reverse", False), bool):
                reader.problem("reverse must be true or false", line, item_id)
        else:
            accept = _accept(reader, entry.get("accept"), line, item_id)
    if len(reader.repo.problems) > before:
        return None
    return _fmt().ItemSpec(
        id=item_id,
        type=kind,
        competency=competency,
        difficulty=difficulty,
        stem=stem,
        options=options,
        image=image,
        points=float(points),
        key=key,
        weights=weights,
        accept=accept,
        reverse=bool(entry.get("reverse", False)),
        likert_points=likert_points,
        line=line,
    )


def _image(reader, name: Any, media_dir: Path, line, item_id):  # type: ignore[no-untyped-def]
    if name is None:
        return None
    name = str(name)
    if "/" in name or "\\" in name or ".." in name or not name.strip():
        reader.problem(
            f"image {name!r} must be a plain file name in the bank's media/ folder", line, item_id
        )
        return None
    if not name.lower().endswith(IMAGE_EXTENSIONS):
        reader.problem(f"image {name!r}: use one of {', '.join(IMAGE_EXTENSIONS)}", line, item_id)
        return None
    if not (media_dir / name).is_file():
        reader.problem(f"image {name!r} is missing: put it in {media_dir}", line, item_id)
        return None
    return name


def _key(reader, entry, kind: str, labels: list[str], line, item_id):  # type: ignore[no-untyped-def]
    value = entry.get("key")
    if value is None or value == [] or value == "":
        reader.problem(
            "missing key: say which option is right (key: B)"
            if kind == "single"
            else "missing key: list the right options (key: [A, C])",
            line,
            item_id,
        )
        return ()
    if kind == "single":
        if isinstance(value, list):
            reader.problem("a single item's key is one label (key: B), not a list", line, item_id)
            return ()
        chosen = [str(value)]
    else:
        chosen = [str(v) for v in (value if isinstance(value, list) else [value])]
        if len(set(chosen)) != len(chosen):
            reader.problem("the key lists an option twice", line, item_id)
            return ()
    missing = [c for c in chosen if c not in labels]
    if missing:
        reader.problem(
            f"key {', '.join(missing)} is not among the options ({', '.join(labels)})",
            line,
            item_id,
        )
        return ()
    return tuple(sorted(chosen))


def _weights(reader, value: Any, labels: list[str], line, item_id):  # type: ignore[no-untyped-def]
    if not isinstance(value, dict) or not value:
        reader.problem(
            "missing weights: a weighted item gives every option a weight "
            "(weights: {A: 5, B: 3, ...})",
            line,
            item_id,
        )
        return None
    weights = {}
    for label in labels:
        weight = value.get(label)
        if weight is None:
            reader.problem(f"missing weight for option {label}", line, item_id)
            return None
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            reader.problem(f"the weight of option {label} must be a number ≥ 0", line, item_id)
            return None
        weights[label] = float(weight)
    extra = [str(k) for k in value if str(k) not in labels]
    if extra:
        reader.problem(f"weights for options that do not exist: {', '.join(extra)}", line, item_id)
        return None
    return weights


def _accept(reader, value: Any, line, item_id):  # type: ignore[no-untyped-def]
    answers = value if isinstance(value, list) else [value] if value is not None else []
    texts = [_text(a) for a in answers]
    if not texts or not all(texts):
        reader.problem("a short item needs accept: a list of accepted answers", line, item_id)
        return ()
    return tuple(t for t in texts if t)


# ---- batteries ---------------------------------------------------------------------------------


def minutes(reader, value: Any, name: str, line) -> int | None:  # type: ignore[no-untyped-def]
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 600:
        reader.problem(f"{name} must be whole minutes from 1 to 600, not {value!r}", line)
        return None
    return value


def sections(reader, value: Any, repo, line) -> list:  # type: ignore[no-untyped-def]
    fmt = _fmt()
    found = []
    codes: set[str] = set()
    if not isinstance(value, list) or not value:
        reader.problem("sections must be a non-empty list", line)
        return found
    fields = {
        "code",
        "title",
        "instructions",
        "time_limit_minutes",
        "shuffle_items",
        "shuffle_options",
        "select",
    }
    for entry in value:
        if not mapping(reader, entry, "a section", fields, {"code", "title", "select"}):
            continue
        code = str(entry["code"])
        where = line_of(entry)
        if code in codes:
            reader.problem(f"section code {code} is used twice", where)
        codes.add(code)
        limit = entry.get("time_limit_minutes")
        if limit is not None:
            limit = minutes(reader, limit, f"section {code} time_limit_minutes", where)
        instructions = _text(entry.get("instructions")) or ""
        _unsafe(reader, instructions, f"section {code} instructions", where, None)  # type: ignore[arg-type]
        rules = []
        for rule in listing(reader, entry["select"], f"section {code} select"):
            parsed = _rule(reader, rule, repo, code)
            if parsed is not None:
                rules.append(parsed)
        if not rules:
            reader.problem(f"section {code} selects no items", where)
            continue
        found.append(
            fmt.SectionSpec(
                code=code,
                title=str(entry["title"]),
                instructions=instructions,
                time_limit_minutes=limit,
                shuffle_items=bool(entry.get("shuffle_items", False)),
                shuffle_options=bool(entry.get("shuffle_options", False)),
                rules=tuple(rules),
            )
        )
    return found


def _rule(reader, rule: Any, repo, section: str):  # type: ignore[no-untyped-def]
    fields = {"bank", "competency", "count", "difficulty"}
    if not mapping(
        reader,
        rule,
        f"a selection rule of section {section}",
        fields,
        {"bank", "competency", "count"},
    ):
        return None
    where = line_of(rule)
    bank, competency = str(rule["bank"]), str(rule["competency"])
    count, difficulty = rule["count"], rule.get("difficulty")
    ok = True
    if bank not in repo.banks and bank not in repo.banks_with_errors:
        reader.problem(
            f"section {section}: unknown bank {bank} (no file banks/*/bank.yaml has code: {bank})",
            where,
        )
        ok = False
    if competency not in repo.competencies:
        reader.problem(f"section {section}: unknown competency {competency}", where)
        ok = False
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        reader.problem(f"section {section}: count must be a whole number ≥ 1", where)
        ok = False
    if difficulty is not None and difficulty not in DIFFICULTIES:
        reader.problem(
            f"section {section}: difficulty {difficulty!r} is not one of {', '.join(DIFFICULTIES)}",
            where,
        )
        ok = False
    if not ok:
        return None
    return _fmt().SelectRule(bank, competency, count, difficulty, where, section)


def demand(reader, sections_found: list, repo, line) -> None:  # type: ignore[no-untyped-def]
    """No battery may ask a bank for more items of a competency (and difficulty) than it has.

    Banks whose file has problems are skipped: their own messages say what to fix, and a count
    of their valid items would blame the battery for a broken item.
    """
    wanted: Counter = Counter()
    wanted_any: Counter = Counter()
    asking: dict[tuple, list] = {}
    for section in sections_found:
        for rule in section.rules:
            if rule.bank not in repo.banks or rule.bank in repo.banks_with_errors:
                continue
            wanted[(rule.bank, rule.competency, rule.difficulty)] += rule.count
            wanted_any[(rule.bank, rule.competency)] += rule.count
            asking.setdefault((rule.bank, rule.competency, rule.difficulty), []).append(rule)
            asking.setdefault((rule.bank, rule.competency), []).append(rule)
    reported = set()
    for (bank, competency, difficulty), count in sorted(wanted.items(), key=str):
        items = [i for i in repo.banks[bank].items if i.competency == competency]
        available = len([i for i in items if difficulty is None or i.difficulty == difficulty])
        if count > available:
            of = f"{competency} of difficulty {difficulty}" if difficulty else competency
            rules = asking[(bank, competency, difficulty)]
            _shortage(reader, rules, line, _asked(bank, count), of, available)
            reported.add((bank, competency))
    for (bank, competency), count in sorted(wanted_any.items(), key=str):
        available = len([i for i in repo.banks[bank].items if i.competency == competency])
        if (bank, competency) not in reported and count > available:
            rules = asking[(bank, competency)]
            _shortage(reader, rules, line, _asked(bank, count), f"{competency} in all", available)


def _asked(bank: str, count: int) -> str:
    return f"{bank} for {count} item{'s' if count != 1 else ''}"


def _shortage(reader, rules: list, line, asked: str, of: str, available: int) -> None:  # type: ignore[no-untyped-def]
    """Report a shortage at the first rule asking; ``asked`` is "<bank> for <n> items"."""
    sections = list(dict.fromkeys(rule.section for rule in rules))
    reader.problem(
        f"the selection rules of section{'s' if len(sections) > 1 else ''} "
        f"{', '.join(sections)} ask bank {asked} of {of}, but the bank has only "
        f"{available}: lower the count or add items",
        rules[0].line or line,
    )


def levels(reader, value: Any, repo, line):  # type: ignore[no-untyped-def]
    if not isinstance(value, dict) or "default" not in value:
        reader.problem(
            "levels must map 'default' (and optionally competency codes) to four cut points",
            line_of(value) or line,
        )
        return None
    result = {}
    for code, cuts in value.items():
        code = str(code)
        if code != "default" and code not in repo.competencies:
            reader.problem(f"levels: unknown competency {code}", line_of(value) or line)
            return None
        if (
            not isinstance(cuts, list)
            or len(cuts) != 4
            or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in cuts)
            or not all(0 <= c <= 100 for c in cuts)
            or not all(a < b for a, b in zip(cuts, cuts[1:], strict=False))
        ):
            reader.problem(
                f"levels {code}: cut points must be 4 strictly ascending numbers "
                f"from 0 to 100, not {cuts!r}",
                line_of(value) or line,
            )
            return None
        result[code] = tuple(float(c) for c in cuts)
    return result
