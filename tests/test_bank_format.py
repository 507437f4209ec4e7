"""Malformed bank files: ``banks validate`` and ``banks import`` name the file, line, item and fix.

Every case copies the small valid repository ``tests/fixtures/qb`` and breaks exactly one thing.
Both commands must then fail with exactly one problem, on a line that names the file, the line
and the item, with a message that belongs to that case alone; ``import`` must write nothing.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from cbt_server.models import (
    BankVersion,
    BatteryVersion,
    Competency,
    Item,
    ItemKey,
    MediaFile,
    db,
)
from tests.builders import FIXTURE_BANKS
from tests.conftest import BANKS_PATH

BANK = "banks/UJI/bank.yaml"
BATTERY = "batteries/BAT-UJI.yaml"
WRITTEN = (BankVersion, Item, ItemKey, BatteryVersion, MediaFile, Competency)
#: ``path:line: [item] message`` (line and item optional), as ``banks validate`` prints it
PROBLEM_LINE = re.compile(r"^(?P<file>[^:]+?)(?::(?P<line>\d+))?: (?P<text>.*)$")

Breaker = Callable[[Path], None]


def _count(model) -> int:  # type: ignore[no-untyped-def]
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def replace(file: str, old: str, new: str) -> Breaker:
    """Replace the first ``old`` in ``file`` (which must hold it) by ``new``."""

    def apply(root: Path) -> None:
        path = root / file
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{file} no longer holds {old!r}: update the case"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return apply


def replace_bytes(file: str, old: bytes, new: bytes) -> Breaker:
    def apply(root: Path) -> None:
        path = root / file
        data = path.read_bytes()
        assert old in data
        path.write_bytes(data.replace(old, new, 1))

    return apply


def empty_items(root: Path) -> None:
    path = root / BANK
    head = path.read_text(encoding="utf-8").split("items:")[0]
    path.write_text(head + "items: []\n", encoding="utf-8")


@dataclass(frozen=True)
class Case:
    id: str
    file: str  # the broken file, relative to the repository root
    break_it: Breaker
    phrase: str  # a phrase only this case's message holds
    at: str | None  # the reported line is the one where this text starts in the broken file
    item: str | None  # how the line names the item: "[U-SGL]", "near item U-MUL"; None: none


SGL = "[U-SGL]"
MUL = "[U-MUL]"
MUL_STEM = "stem: Pilih bilangan genap."

CASES = [
    Case(
        "duplicate-item-id",
        BANK,
        replace(BANK, "id: U-TF", "id: U-MUL"),
        "item id U-MUL is used twice",
        "- id: U-MUL\n    type: truefalse",
        MUL,
    ),
    Case(
        "missing-key",
        BANK,
        replace(BANK, "    key: B\n", ""),
        "missing key: say which option is right",
        "- id: U-SGL",
        SGL,
    ),
    Case(
        "key-not-among-options",
        BANK,
        replace(BANK, "    key: B\n", "    key: E\n"),
        "key E is not among the options (A, B, C, D)",
        "- id: U-SGL",
        SGL,
    ),
    Case(
        "multiple-key-twice",
        BANK,
        replace(BANK, "    key: [A, C]\n", "    key: [A, A]\n"),
        "the key lists an option twice",
        "- id: U-MUL",
        MUL,
    ),
    Case(
        "truefalse-key-not-boolean",
        BANK,
        replace(BANK, "    key: true\n", "    key: benar\n"),
        "the key of a truefalse item is true or false, not 'benar'",
        "- id: U-TF",
        "[U-TF]",
    ),
    Case(
        "missing-weights",
        BANK,
        replace(BANK, "    weights: {A: 1, B: 4, C: 3, D: 2}\n", ""),
        "missing weights: a weighted item gives every option a weight",
        "- id: U-W",
        "[U-W]",
    ),
    Case(
        "weight-missing-for-one-option",
        BANK,
        replace(BANK, "weights: {A: 1, B: 4, C: 3, D: 2}", "weights: {A: 1, B: 4, C: 3}"),
        "missing weight for option D",
        "- id: U-W",
        "[U-W]",
    ),
    Case(
        "weights-on-a-single-item",
        BANK,
        replace(BANK, "    key: B\n", "    key: B\n    weights: {A: 1, B: 0, C: 0, D: 0}\n"),
        "weights on a single item: only weighted items take weights",
        "- id: U-SGL",
        SGL,
    ),
    Case(
        "key-on-a-short-item",
        BANK,
        replace(BANK, "    accept: [Garuda", "    key: Garuda\n    accept: [Garuda"),
        "a short item has no key: use accept",
        "- id: U-SHORT",
        "[U-SHORT]",
    ),
    Case(
        "short-without-accepted-answers",
        BANK,
        replace(BANK, "    accept: [Garuda, Garuda Pancasila]\n", ""),
        "a short item needs accept: a list of accepted answers",
        "- id: U-SHORT",
        "[U-SHORT]",
    ),
    Case(
        "points-on-a-likert-item",
        BANK,
        replace(BANK, "    stem: Saya selalu jujur", "    points: 2\n    stem: Saya selalu jujur"),
        "points has no meaning for a likert item",
        "- id: U-L1",
        "[U-L1]",
    ),
    Case(
        "unknown-competency",
        BANK,
        replace(
            BANK,
            "competency: T.UJ.02\n    stem: Tuliskan",
            "competency: T.XX.99\n    stem: Tuliskan",
        ),
        "unknown competency T.XX.99: it is not in the competency dictionary",
        "- id: U-SHORT",
        "[U-SHORT]",
    ),
    Case(
        "unknown-item-type",
        BANK,
        replace(BANK, "type: multiple", "type: essay"),
        "unknown item type 'essay'",
        "- id: U-MUL",
        MUL,
    ),
    Case(
        "option-labels-out-of-order",
        BANK,
        replace(
            BANK, "{A: Surabaya, B: Jakarta, C: Medan, D: Makassar}", "{A: Surabaya, C: Medan}"
        ),
        "option labels must be A, B in order, found A, C",
        "- id: U-SGL",
        SGL,
    ),
    Case(
        "likert-item-with-one-point",
        BANK,
        replace(
            BANK,
            "    stem: Saya selalu jujur",
            "    likert: {points: 1, labels: [Setuju]}\n    stem: Saya selalu jujur",
        ),
        "bad Likert range: points must be a whole number 2..11, not 1",
        "likert: {points: 1",
        "[U-L1]",
    ),
    Case(
        # the bank's scale is wrong: said once, at the bank, not again for each likert item
        "likert-labels-do-not-match-points",
        BANK,
        replace(BANK, "Ragu-ragu, ", ""),
        "bad Likert range: 5 points need exactly 5 labels (found 4)",
        "  points: 5",
        None,
    ),
    Case(
        "missing-image-file",
        BANK,
        replace(BANK, "image: kotak.svg", "image: hilang.png"),
        "image 'hilang.png' is missing: put it in",
        "- id: U-SGL",
        SGL,
    ),
    Case(
        "script-in-stem",
        BANK,
        replace(BANK, MUL_STEM, "stem: Pilih <script>alert(1)</script> genap."),
        "unsafe HTML in the stem: a <script> element",
        "- id: U-MUL",
        MUL,
    ),
    Case(
        "img-onerror-in-stem",
        BANK,
        replace(BANK, MUL_STEM, "stem: 'Pilih <img src=x onerror=alert(1)> genap.'"),
        "unsafe HTML in the stem: an HTML tag with an event handler onerror=",
        "- id: U-MUL",
        MUL,
    ),
    Case(
        "javascript-link-in-stem",
        BANK,
        replace(BANK, MUL_STEM, "stem: Pilih [di sini](javascript:alert(1)) bilangan genap."),
        "unsafe HTML in the stem: a javascript: link",
        "- id: U-MUL",
        MUL,
    ),
    Case(
        "data-link-in-option",
        BANK,
        replace(BANK, "B: Jakarta,", "B: '[Jakarta](data:text/html;base64,PHNjcmlwdD4=)',"),
        "unsafe HTML in option B: a data: link",
        "- id: U-SGL",
        SGL,
    ),
    Case(
        "raw-html-tag-in-option",
        BANK,
        replace(BANK, "C: Medan,", "C: <b>Medan</b>,"),
        "unsafe HTML in option C: a raw HTML tag ('<b>')",
        "- id: U-SGL",
        SGL,
    ),
    Case(
        "duplicate-yaml-key",
        BANK,
        replace(BANK, "    key: B\n", "    key: B\n    key: C\n"),
        "'key' is written twice in one mapping; YAML keeps only the last value",
        "    key: C",
        SGL,
    ),
    Case(
        # YAML would keep "B: Medan" and drop Jakarta, and the key B would point at Medan
        "duplicate-option-label",
        BANK,
        replace(BANK, "B: Jakarta, C: Medan, D: Makassar}", "B: Jakarta, B: Medan, C: Makassar}"),
        "'B' is written twice",
        "{A: Surabaya, B: Jakarta, B: Medan",
        SGL,
    ),
    Case(
        "unknown-field",
        BANK,
        replace(BANK, "    key: B\n", "    key: B\n    kunci: B\n"),
        "unknown field 'kunci' in an item",
        "    kunci: B",
        SGL,
    ),
    Case(
        "empty-bank",
        BANK,
        empty_items,
        "the bank has no items: add at least one under items:",
        "items: []",
        None,
    ),
    Case(
        "invalid-utf8",
        BANK,
        replace_bytes(BANK, b"Pilih bilangan genap.", b"Pilih bilangan \xff genap."),
        "not valid UTF-8",
        "Pilih bilangan",
        "near item U-MUL",
    ),
    Case(
        # PyYAML notices the unclosed "[" on the next line; the message names where it opened
        "yaml-syntax-error",
        BANK,
        replace(BANK, "    key: [A, C]\n", "    key: [A, C\n"),
        "YAML syntax error near item U-MUL: expected ',' or ']'",
        "- id: U-TF",
        "near item U-MUL",
    ),
    Case(
        "list-used-as-a-yaml-key",
        BANK,
        replace(BANK, "    key: B\n", "    key: B\n    [A, B]: 1\n"),
        "a key must be a plain value, not a list or mapping",
        "    [A, B]: 1",
        "near item U-SGL",
    ),
    Case(
        "battery-selects-more-than-the-bank-has",
        BATTERY,
        replace(BATTERY, "competency: T.UJ.01, count: 3", "competency: T.UJ.01, count: 4"),
        "ask bank UJI for 4 items of T.UJ.01, but the bank has only 3",
        "competency: T.UJ.01, count: 4",
        None,
    ),
    Case(
        "battery-selects-from-an-unknown-bank",
        BATTERY,
        replace(BATTERY, "{bank: UJI, competency: T.UJ.02", "{bank: NOPE, competency: T.UJ.02"),
        "section S2: unknown bank NOPE",
        "bank: NOPE",
        None,
    ),
    Case(
        "battery-levels-not-ascending",
        BATTERY,
        replace(BATTERY, "default: [40, 55, 70, 85]", "default: [55, 40, 70, 85]"),
        "levels default: cut points must be 4 strictly ascending numbers",
        "  default: [55, 40",
        None,
    ),
]


def _line_number(path: Path, text: str) -> int:
    content = path.read_bytes().decode("utf-8", errors="replace")
    assert text in content, f"{text!r} is not in {path}"
    return content[: content.index(text)].count("\n") + 1


def _problem_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if ".yaml" in line and PROBLEM_LINE.match(line)]


@pytest.fixture
def fresh_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "qb"
    shutil.copytree(FIXTURE_BANKS, copy)
    return copy


def test_every_case_has_a_message_of_its_own():
    phrases = [case.phrase for case in CASES]
    for n, phrase in enumerate(phrases):
        others = [other for m, other in enumerate(phrases) if m != n]
        assert not [other for other in others if phrase in other or other in phrase], phrase
    assert len({case.id for case in CASES}) == len(CASES) >= 12


def test_the_unbroken_fixture_is_valid(runner: FlaskCliRunner, fresh_copy: Path):
    result = runner.invoke(args=["banks", "validate", str(fresh_copy)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK:")


def test_the_shipped_question_banks_are_valid(runner: FlaskCliRunner):
    result = runner.invoke(args=["banks", "validate", str(BANKS_PATH)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK:") and "problem" not in result.output


@pytest.mark.parametrize("command", ["validate", "import"])
@pytest.mark.parametrize("case", [pytest.param(case, id=case.id) for case in CASES])
def test_a_malformed_file_is_refused_with_a_precise_message(
    app: Flask, runner: FlaskCliRunner, fresh_copy: Path, case: Case, command: str
):
    case.break_it(fresh_copy)
    result = runner.invoke(args=["banks", command, str(fresh_copy)])

    assert result.exit_code != 0, result.output
    problems = _problem_lines(result.output)
    assert len(problems) == 1, f"one broken thing, one problem:\n{result.output}"
    assert "1 problem(s) found." in result.output
    (line,) = problems
    where = PROBLEM_LINE.match(line)
    assert where is not None
    assert where["file"].endswith(case.file), line
    assert case.phrase in where["text"], line
    if case.at is not None:
        assert where["line"] == str(_line_number(fresh_copy / case.file, case.at)), line
    if case.item is not None:
        assert case.item in where["text"], line
    else:
        assert not where["text"].startswith("["), line
    others = [other.phrase for other in CASES if other is not case]
    assert not [phrase for phrase in others if phrase in result.output], result.output

    if command == "import":
        assert "Nothing was imported." in result.output
        assert "new bank version" not in result.output
        with app.app_context():
            assert {model.__name__: _count(model) for model in WRITTEN} == {
                model.__name__: 0 for model in WRITTEN
            }
