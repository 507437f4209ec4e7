"""Server-side SVG charts for profiles and group views (pure; no JavaScript).

Each function returns SVG markup as a string, to be placed inline in a page (``|safe``): every
piece of text in it is escaped here. The charts print on A4 in black and white: bars are told
apart by outline and hatching, not colour, and every bar carries its number.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from xml.sax.saxutils import escape

from cbt_server.profiling.ninebox import BOXES, PERFORMANCE_LABELS, POTENTIAL_LABELS, Grid
from cbt_server.profiling.profile import MAX_LEVEL, MIN_LEVEL, CompetencyResult

FONT = "DejaVu Sans, Arial, Helvetica, sans-serif"
#: characters XML 1.0 does not allow, even escaped (C0 controls other than tab, LF, CR, …)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _esc(text: object) -> str:
    """Text made safe for SVG content and attribute values."""
    return escape(_NOT_XML.sub("", str(text)), {'"': "&quot;", "'": "&#39;"})


def _short(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _num(value: float) -> str:
    return f"{value:.1f}".replace(".", ",").removesuffix(",0")


def _svg(width: float, height: float, title: str, body: Iterable[str], defs: str = "") -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:g} {height:g}" '
        f'width="{width:g}" height="{height:g}" role="img" font-family="{FONT}" '
        f'font-size="11"><title>{_esc(title)}</title>'
        + (f"<defs>{defs}</defs>" if defs else "")
        + "".join(body)
        + "</svg>"
    )


def _attrs(defaults: dict[str, object], attrs: dict[str, object]) -> str:
    """Attributes with ``font_size``-style names written ``font-size``; ``attrs`` win."""
    merged = {**defaults, **{k.replace("_", "-"): v for k, v in attrs.items()}}
    return "".join(f' {name}="{_esc(value)}"' for name, value in merged.items())


def _text(x: float, y: float, text: str, anchor: str = "start", **attrs: object) -> str:
    extra = _attrs({"x": f"{x:g}", "y": f"{y:g}", "text-anchor": anchor}, attrs)
    return f"<text{extra}>{_esc(text)}</text>"


def _rect(x: float, y: float, w: float, h: float, fill: str, **attrs: object) -> str:
    defaults: dict[str, object] = {
        "x": f"{x:g}",
        "y": f"{y:g}",
        "width": f"{max(w, 0):g}",
        "height": f"{max(h, 0):g}",
        "fill": fill,
        "stroke": "#000",
    }
    return f"<rect{_attrs(defaults, attrs)}/>"


def _line(x1: float, y1: float, x2: float, y2: float, **attrs: object) -> str:
    defaults: dict[str, object] = {
        "x1": f"{x1:g}",
        "y1": f"{y1:g}",
        "x2": f"{x2:g}",
        "y2": f"{y2:g}",
        "stroke": "#000",
    }
    return f"<line{_attrs(defaults, attrs)}/>"


def _hatch(pattern_id: str) -> str:
    """Diagonal black hatching on white: reads as "filled" in black-and-white print."""
    return (
        f'<pattern id="{_esc(pattern_id)}" width="5" height="5" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="5" height="5" fill="#fff"/>'
        '<line x1="0" y1="0" x2="0" y2="5" stroke="#000" stroke-width="2.2"/></pattern>'
    )


# ---- one person: measured vs required ---------------------------------------------------------

_LABEL_W = 250
_LEVEL_W = 56
_GAP_W = 56
_ROW_H = 30
_BAR_H = 9
_TOP = 46


def profile_chart(
    rows: Sequence[CompetencyResult],
    *,
    title: str = "Level hasil tes dibanding level standar jabatan",
    id_prefix: str = "profil",
) -> str:
    """Horizontal bars per competency: required (white, outlined) above measured (hatched).

    Each bar ends in its level; the right column shows the gap. A competency that was not
    measured, or that the position does not require, says so in words instead of a bar.
    ``id_prefix`` names the hatch pattern (several charts on one page may share it).
    """
    hatch_id = f"{id_prefix}-terukur"
    plot_x = _LABEL_W
    plot_w = _LEVEL_W * MAX_LEVEL
    width = _LABEL_W + plot_w + _GAP_W + 10
    height = _TOP + _ROW_H * max(len(rows), 1) + 12
    body = [_legend(hatch_id), *_level_axis(plot_x, height - 12)]
    body.append(_text(width - 8, _TOP - 8, "Selisih", "end", font_weight="bold"))
    if not rows:
        body.append(_text(plot_x, _TOP + 18, "Tidak ada kompetensi untuk ditampilkan."))
    for n, row in enumerate(rows):
        body.append(_profile_row(row, _TOP + n * _ROW_H, plot_x, width, f"url(#{hatch_id})"))
    return _svg(width, height, title, body, _hatch(hatch_id))


def _legend(hatch_id: str) -> str:
    return "".join(
        (
            _rect(_LABEL_W, 6, 22, _BAR_H, "#fff", stroke_width="1.5"),
            _text(_LABEL_W + 28, 14, "Standar jabatan"),
            _rect(_LABEL_W + 140, 6, 22, _BAR_H, f"url(#{hatch_id})"),
            _text(_LABEL_W + 168, 14, "Hasil tes"),
        )
    )


def _level_axis(plot_x: float, bottom: float) -> list[str]:
    parts = []
    for level in range(MAX_LEVEL + 1):
        x = plot_x + level * _LEVEL_W
        parts.append(_line(x, _TOP - 4, x, bottom, stroke_dasharray="2 3", stroke_width="0.5"))
        parts.append(_text(x, _TOP - 8, str(level), "middle"))
    return parts


def _profile_row(row: CompetencyResult, top: float, plot_x: float, width: float, fill: str) -> str:
    label = f"{row.code} {row.name}"
    parts = [f"<g><title>{_esc(label + ' — ' + row.status)}</title>"]
    parts.append(_text(plot_x - 8, top + _BAR_H + 6, _short(label, 38), "end"))
    required_y, measured_y = top + 3, top + 3 + _BAR_H + 3
    parts.append(_bar_or_note(row.required, required_y, plot_x, "#fff", "tidak dipersyaratkan"))
    parts.append(_bar_or_note(row.measured, measured_y, plot_x, fill, "belum diukur"))
    if row.gap is not None:
        gap = f"+{row.gap}" if row.gap > 0 else f"−{-row.gap}" if row.gap < 0 else "0"
        weight = "bold" if row.gap < 0 else "normal"
        parts.append(_text(width - 8, top + _BAR_H + 6, gap, "end", font_weight=weight))
    parts.append(_line(0, top + _ROW_H, width, top + _ROW_H, stroke="#bbb", stroke_width="0.5"))
    return "".join(parts) + "</g>"


def _bar_or_note(level: int | None, y: float, plot_x: float, fill: str, note: str) -> str:
    if level is None:
        return _text(plot_x + 4, y + _BAR_H - 1, note, font_style="italic", font_size="9")
    w = level * _LEVEL_W
    return _rect(plot_x, y, w, _BAR_H, fill, stroke_width="1.2") + _text(
        plot_x + w + 4, y + _BAR_H - 1, str(level), font_size="9"
    )


# ---- a group: distribution of one competency --------------------------------------------------


def level_histogram(
    levels: Iterable[int | None],
    *,
    title: str,
    required: int | None = None,
    id_prefix: str = "sebaran",
) -> str:
    """Number of people at each level 1–5 (None or 0: not measured, counted in the caption).

    With ``required``, a dashed line marks where the standard starts: bars right of it meet it.
    """
    counts = [0] * MAX_LEVEL
    missing = 0
    for level in levels:
        if level is None or level == 0:
            missing += 1
        elif (
            isinstance(level, int)
            and not isinstance(level, bool)
            and MIN_LEVEL <= level <= MAX_LEVEL
        ):
            counts[level - 1] += 1
        else:
            raise ValueError(f"a level must be 1–5 or None, got {level!r}")
    labels = [f"Level {n}" for n in range(MIN_LEVEL, MAX_LEVEL + 1)]
    marker = None
    if required is not None:
        if not MIN_LEVEL <= required <= MAX_LEVEL:
            raise ValueError(f"the required level must be 1–5, got {required!r}")
        marker = (required - 1, f"standar {required}")
    caption = f"Belum diukur: {missing} orang" if missing else ""
    return _histogram(title, labels, counts, caption, marker, f"{id_prefix}-batang")


def percent_histogram(
    values: Iterable[float | None],
    *,
    title: str,
    bin_width: int = 10,
    id_prefix: str = "sebaran",
) -> str:
    """Number of people per band of ``bin_width`` percent (the last band includes 100)."""
    if bin_width <= 0 or 100 % bin_width:
        raise ValueError(f"bin_width must divide 100, got {bin_width}")
    bins = 100 // bin_width
    counts = [0] * bins
    missing = 0
    for value in values:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            missing += 1
            continue
        if not 0 <= value <= 100:
            raise ValueError(f"a percentage must be 0–100, got {value!r}")
        counts[min(int(value // bin_width), bins - 1)] += 1
    labels = [
        f"{low}–{low + bin_width}" if low + bin_width == 100 else f"{low}–<{low + bin_width}"
        for low in range(0, 100, bin_width)
    ]
    caption = f"Belum diukur: {missing} orang" if missing else ""
    return _histogram(title, labels, counts, caption, None, f"{id_prefix}-batang")


def _step(top: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if top / step <= 6:
            return step
    return 10 ** math.ceil(math.log10(top / 6))


def _histogram(
    title: str,
    labels: Sequence[str],
    counts: Sequence[int],
    caption: str,
    marker: tuple[int, str] | None,
    hatch_id: str,
) -> str:
    bar_w = 56 if len(labels) <= 5 else 46
    left, top, plot_h = 44, 34, 180
    plot_w = bar_w * len(labels)
    width, height = left + plot_w + 16, top + plot_h + 56
    step = _step(max(max(counts, default=0), 1))
    y_max = step * math.ceil(max(max(counts, default=0), 1) / step)
    base = top + plot_h
    body = [_text(left, 16, _short(title, 80), font_weight="bold", font_size="12")]
    for tick in range(0, y_max + 1, step):
        y = base - plot_h * tick / y_max
        body.append(_line(left - 4, y, left + plot_w, y, stroke_width="0.5", stroke="#999"))
        body.append(_text(left - 7, y + 4, str(tick), "end", font_size="9"))
    for n, (label, count) in enumerate(zip(labels, counts, strict=True)):
        x = left + n * bar_w
        h = plot_h * count / y_max
        if count:
            body.append(_rect(x + 6, base - h, bar_w - 12, h, f"url(#{hatch_id})"))
        body.append(_text(x + bar_w / 2, base - h - 4, str(count), "middle", font_weight="bold"))
        body.append(_text(x + bar_w / 2, base + 14, label, "middle", font_size="9"))
    body.append(_line(left, base, left + plot_w, base, stroke_width="1.2"))
    body.append(_line(left, top - 4, left, base, stroke_width="1.2"))
    body.append(
        _text(
            14, top + plot_h / 2, "Jumlah orang", "middle", transform=_rotated(14, top + plot_h / 2)
        )
    )
    if marker is not None:
        x = left + marker[0] * bar_w
        body.append(_line(x, top - 6, x, base + 20, stroke_width="1.5", stroke_dasharray="5 3"))
        body.append(_text(x + 3, base + 30, marker[1], font_size="9", font_weight="bold"))
    total = sum(counts)
    note = f"n = {total}" + (f"; {caption}" if caption else "")
    body.append(_text(left, height - 6, note, font_size="9"))
    return _svg(width, height, title, body, _hatch(hatch_id))


def _rotated(x: float, y: float) -> str:
    return f"rotate(-90 {x:g} {y:g})"


# ---- a group: the talent 9-box ----------------------------------------------------------------

_CELL_W = 170
_CELL_H = 118
_AXIS_W = 130
_NAME_LINES = 6


def ninebox_chart(
    grid: Grid,
    *,
    title: str = "Pemetaan talenta (9-box)",
    show_names: bool = True,
    max_names: int = 5,
    legend: bool = True,
) -> str:
    """The 3 × 3 grid with each box's number, count and (optionally) the first names in it.

    Potential runs left to right, performance bottom to top, as in PermenPANRB 3/2020. With
    ``legend``, a line per box below the grid gives its name and usual follow-up.
    """
    top = 30
    width = _AXIS_W + 3 * _CELL_W + 10
    grid_bottom = top + 3 * _CELL_H + 64
    height = grid_bottom + (len(BOXES) * 12 + 8 if legend else 0)
    body = [_text(_AXIS_W, 18, _short(title, 80), font_weight="bold", font_size="12")]
    for box in BOXES.values():
        x = _AXIS_W + box.potential_band * _CELL_W
        y = top + (2 - box.performance_band) * _CELL_H
        body.append(_cell(grid, box.number, x, y, show_names, max_names))
    for band, label in enumerate(PERFORMANCE_LABELS):
        y = top + (2 - band) * _CELL_H + _CELL_H / 2
        body.append(_text(_AXIS_W - 8, y, label.replace(" Ekspektasi", ""), "end"))
        body.append(_text(_AXIS_W - 8, y + 13, "Ekspektasi", "end", font_size="9"))
    for band, label in enumerate(POTENTIAL_LABELS):
        x = _AXIS_W + band * _CELL_W + _CELL_W / 2
        body.append(_text(x, top + 3 * _CELL_H + 16, label, "middle"))
    body.append(
        _text(
            _AXIS_W + 1.5 * _CELL_W,
            top + 3 * _CELL_H + 34,
            "Potensial →",
            "middle",
            font_weight="bold",
        )
    )
    body.append(
        _text(
            14,
            top + 1.5 * _CELL_H,
            "Kinerja →",
            "middle",
            font_weight="bold",
            transform=_rotated(14, top + 1.5 * _CELL_H),
        )
    )
    placed = sum(len(people) for people in grid.boxes.values())
    note = f"Terpetakan: {placed} orang"
    if grid.unplaced:
        missing = len(grid.unplaced)
        note += f"; belum dapat dipetakan (data potensial atau kinerja belum ada): {missing} orang"
    body.append(_text(_AXIS_W, grid_bottom - 8, note, font_size="9"))
    if legend:
        for n, number in enumerate(sorted(BOXES, reverse=True)):
            box = BOXES[number]
            line = f"{number}  {box.name} — {box.follow_up}"
            body.append(_text(10, grid_bottom + 10 + n * 12, line, font_size="8"))
    return _svg(width, height, title, body)


def _cell(grid: Grid, number: int, x: float, y: float, show_names: bool, max_names: int) -> str:
    box = BOXES[number]
    people = grid.boxes.get(number, ())
    parts = [f"<g><title>{_esc(f'{number}. {box.name} — {box.follow_up}')}</title>"]
    parts.append(_rect(x, y, _CELL_W, _CELL_H, "#fff", stroke_width="1.2"))
    parts.append(_text(x + 8, y + 22, str(number), font_size="18", font_weight="bold"))
    parts.append(_text(x + _CELL_W - 8, y + 20, f"{len(people)} orang", "end", font_weight="bold"))
    if show_names:
        limit = min(max_names, _NAME_LINES)
        if len(people) > limit:
            limit = min(limit, _NAME_LINES - 1)  # keep a line for "+k lainnya"
        shown = people[:limit]
        for n, person in enumerate(shown):
            parts.append(_text(x + 8, y + 40 + n * 13, _short(person.name, 26), font_size="9"))
        if len(people) > len(shown):
            more = f"+{len(people) - len(shown)} lainnya"
            parts.append(
                _text(x + 8, y + 40 + len(shown) * 13, more, font_size="9", font_style="italic")
            )
    return "".join(parts) + "</g>"
