"""The profiling domain: gaps, JPM and categories, integrity, development table, 9-box, charts."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import pytest

from cbt_server.banks.format import load_repository
from cbt_server.profiling import charts
from cbt_server.profiling.development import (
    GAP_1,
    GAP_2_OR_MORE,
    Activities,
    DevelopmentTable,
    DevelopmentTableError,
    gap_band,
    load_development_table,
    suggest_development,
    table_path,
)
from cbt_server.profiling.ninebox import (
    BOXES,
    AxisCuts,
    NineBoxConfig,
    Person,
    place,
    place_group,
)
from cbt_server.profiling.profile import (
    MAPPING,
    SELECTION,
    STATUS_ABOVE,
    STATUS_BELOW,
    STATUS_MET,
    STATUS_NOT_MEASURED,
    STATUS_NOT_REQUIRED,
    CompetencyInput,
    ScaleScore,
    build_profile,
    competency_inputs,
    integrity_report,
    jpm_category,
)

BANKS_PATH = Path(__file__).resolve().parent.parent / "question_banks"
SVG = "{http://www.w3.org/2000/svg}"


def comp(code: str, required: int | None, measured: int | None) -> CompetencyInput:
    return CompetencyInput(code, f"Nama {code}", required, measured)


def profile_with(achieved: int, n: int = 20, scale=MAPPING):
    """n competencies each required at 5 (Σ 5n), measured levels summing to ``achieved``."""
    base, extra = divmod(achieved, n)
    rows = [comp(f"M.{i:02d}", 5, base + (1 if i < extra else 0)) for i in range(n)]
    return build_profile(rows, scale)


# ---- gap and JPM -------------------------------------------------------------------------------


def test_gap_is_measured_minus_required_with_status():
    p = build_profile([comp("M.01", 3, 4), comp("M.02", 3, 3), comp("M.03", 3, 1)])
    assert [(r.gap, r.status) for r in p.rows] == [
        (1, STATUS_ABOVE),
        (0, STATUS_MET),
        (-2, STATUS_BELOW),
    ]


def test_jpm_is_sum_measured_over_sum_required():
    p = build_profile([comp("M.01", 3, 4), comp("M.02", 3, 3), comp("M.03", 4, 1)])
    assert p.jpm_exact == Fraction(800, 10)  # 8 / 10
    assert p.jpm == 80.0
    assert p.jpm_category == "Cukup Optimal"


def test_jpm_is_capped_at_100():
    p = build_profile([comp("M.01", 2, 5), comp("M.02", 2, 5)])
    assert p.jpm_exact == 100
    assert p.jpm_category == "Optimal"


def test_a_surplus_makes_up_for_a_shortfall_unless_capped_per_competency():
    rows = [comp("M.01", 3, 5), comp("M.02", 3, 1)]
    assert build_profile(rows).jpm_exact == 100
    capped = build_profile(rows, cap_each_competency=True)
    assert capped.jpm_exact == Fraction(400, 6)
    assert capped.jpm == 66.66
    assert capped.areas[0].gap == -2  # the gap itself is never capped


@pytest.mark.parametrize(
    ("achieved", "category"),
    [
        (89, "Cukup Optimal"),
        (90, "Optimal"),
        (91, "Optimal"),
        (77, "Kurang Optimal"),
        (78, "Cukup Optimal"),
        (79, "Cukup Optimal"),
        (100, "Optimal"),
        (20, "Kurang Optimal"),
    ],
)
def test_mapping_category_at_and_beside_each_cut(achieved, category):
    p = profile_with(achieved)  # Σ required = 100, so JPM = achieved
    assert p.jpm_exact == achieved
    assert p.jpm_category == category


@pytest.mark.parametrize(
    ("achieved", "category"),
    [
        (79, "Masih Memenuhi Syarat"),
        (80, "Memenuhi Syarat"),
        (81, "Memenuhi Syarat"),
        (67, "Kurang Memenuhi Syarat"),
        (68, "Masih Memenuhi Syarat"),
        (69, "Masih Memenuhi Syarat"),
    ],
)
def test_selection_category_at_and_beside_each_cut(achieved, category):
    assert profile_with(achieved, scale=SELECTION).jpm_category == category


@pytest.mark.parametrize(
    ("value", "mapping", "selection"),
    [
        (Fraction(90), "Optimal", "Memenuhi Syarat"),
        (Fraction(8999, 100), "Cukup Optimal", "Memenuhi Syarat"),
        (Fraction(78), "Cukup Optimal", "Masih Memenuhi Syarat"),
        (Fraction(7799, 100), "Kurang Optimal", "Masih Memenuhi Syarat"),
        (Fraction(80), "Cukup Optimal", "Memenuhi Syarat"),
        (Fraction(7999, 100), "Cukup Optimal", "Masih Memenuhi Syarat"),
        (Fraction(68), "Kurang Optimal", "Masih Memenuhi Syarat"),
        (Fraction(6799, 100), "Kurang Optimal", "Kurang Memenuhi Syarat"),
        (0.78 * 100, "Cukup Optimal", "Masih Memenuhi Syarat"),  # 78.00000000000001
    ],
)
def test_jpm_category_function(value, mapping, selection):
    assert jpm_category(value) == mapping
    assert jpm_category(value, SELECTION) == selection


def test_a_value_just_under_a_cut_is_shown_truncated_not_rounded_up():
    # 35 / 45 = 77.777…: rounding would show 77.78, truncation 77.77; both below the cut 78
    p = build_profile([comp(f"M.{i:02d}", 5, 4) for i in range(8)] + [comp("M.09", 5, 3)])
    assert p.jpm_exact == Fraction(3500, 45)
    assert p.jpm == 77.77
    assert p.jpm_category == "Kurang Optimal"
    # 39 / 50 is 78 exactly, whatever binary floating point would make of 0.78 × 100
    exact = build_profile([comp(f"M.{i:02d}", 5, 4) for i in range(9)] + [comp("M.09", 5, 3)])
    assert exact.jpm_exact == 78
    assert exact.jpm_category == "Cukup Optimal"


def test_scale_rule_names_its_cuts():
    assert MAPPING.rule == (
        "Pemetaan kompetensi: Optimal ≥ 90; Cukup Optimal 78–< 90; Kurang Optimal < 78"
    )
    assert "Masih Memenuhi Syarat 68–< 80" in SELECTION.rule


# ---- unmeasured and unrequired -----------------------------------------------------------------


def test_unmeasured_competencies_are_left_out_of_the_jpm_and_listed():
    p = build_profile([comp("M.01", 3, 3), comp("M.02", 3, None), comp("T.WP.01", 3, 0)])
    assert p.jpm_exact == 100  # 3 / 3: the two unmeasured ones do not count as zero
    assert [r.code for r in p.not_measured] == ["M.02", "T.WP.01"]
    assert all(r.status == STATUS_NOT_MEASURED and r.gap is None for r in p.not_measured)
    assert (p.measured_count, p.required_count, p.complete) == (1, 3, False)
    assert [r.code for r in p.strengths] == ["M.01"]


def test_measured_but_not_required_has_no_gap_and_no_part_in_the_jpm():
    p = build_profile([comp("M.01", 2, 2), comp("M.02", None, 5)])
    extra = p.rows[1]
    assert (extra.gap, extra.status) == (None, STATUS_NOT_REQUIRED)
    assert p.jpm_exact == 100
    assert [r.code for r in p.strengths] == ["M.01"]
    assert p.complete


def test_nothing_measured_gives_no_jpm():
    p = build_profile([comp("M.01", 3, None), comp("M.02", 3, None)])
    assert (p.jpm, p.jpm_exact, p.jpm_category) == (None, None, None)
    assert p.strengths == p.areas == ()
    assert build_profile([]).jpm is None


@pytest.mark.parametrize("level", [6, -1, 2.5, True, "3"])
def test_levels_outside_1_to_5_are_refused(level):
    with pytest.raises(ValueError, match="M.01"):
        build_profile([comp("M.01", 3, level)])
    with pytest.raises(ValueError, match="M.01"):
        build_profile([comp("M.01", level, 3)])


def test_required_level_zero_and_repeated_codes_are_refused():
    with pytest.raises(ValueError):
        build_profile([comp("M.01", 0, 3)])
    with pytest.raises(ValueError, match="twice"):
        build_profile([comp("M.01", 3, 3), comp("M.01", 3, 2)])


# ---- strengths and areas -----------------------------------------------------------------------


def test_strengths_and_areas_split_at_zero_and_sort_by_gap():
    p = build_profile(
        [
            comp("M.01", 3, 3),
            comp("M.02", 2, 4),
            comp("M.03", 3, 2),
            comp("M.04", 4, 1),
            comp("M.05", 3, 4),
            comp("M.06", 3, 1),
        ]
    )
    assert [(r.code, r.gap) for r in p.strengths] == [("M.02", 2), ("M.05", 1), ("M.01", 0)]
    assert [(r.code, r.gap) for r in p.areas] == [("M.04", -3), ("M.06", -2), ("M.03", -1)]


def test_competency_inputs_from_mappings_leave_out_integrity_scales():
    inputs = competency_inputs(
        {"M.02": 3, "M.01": 3},
        {"M.01": 2, "INT.SD": 5, "T.PK.01": 4},
        {"M.01": "Integritas"},
        {"INT.SD": "integrity", "M.01": "managerial"},
    )
    assert [(i.code, i.name, i.required, i.measured) for i in inputs] == [
        ("M.01", "Integritas", 3, 2),
        ("M.02", "M.02", 3, None),
        ("T.PK.01", "T.PK.01", None, 4),
    ]
    assert inputs[0].group == "managerial"


# ---- integrity ---------------------------------------------------------------------------------


def scales(sd_percent: float | None) -> list[ScaleScore]:
    return [
        ScaleScore("INT.SD", "Keinginan Sosial", 30, 40, sd_percent, 4, validity=True),
        ScaleScore("INT.01", "Kejujuran", 38, 40, 95.0, 5),
        ScaleScore("INT.02", "Antikorupsi", 20, 40, 50.0, 3),
    ]


@pytest.mark.parametrize(("percent", "flagged"), [(84.9, False), (85.0, True), (85.1, True)])
def test_validity_warning_at_and_beside_the_threshold(percent, flagged):
    report = integrity_report(scales(percent), threshold=85)
    assert report.validity_flagged is flagged
    assert [r.code for r in report.scales] == ["INT.01", "INT.02", "INT.SD"]
    assert report.scales[-1].flagged is flagged
    assert not any(r.flagged for r in report.scales if not r.validity)  # INT.01 at 95 %
    if flagged:
        assert "Keinginan Sosial" in report.warning
        assert "85 %" in report.warning
    else:
        assert report.warning is None


def test_validity_threshold_is_a_parameter_and_unmeasured_is_never_flagged():
    assert integrity_report(scales(70.0), threshold=70).validity_flagged
    assert not integrity_report(scales(None), threshold=0).validity_flagged
    with pytest.raises(ValueError):
        integrity_report(scales(90.0), threshold=120)


# ---- development suggestions -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gap", "band"),
    [(None, None), (1, None), (0, None), (-1, GAP_1), (-2, GAP_2_OR_MORE), (-4, GAP_2_OR_MORE)],
)
def test_gap_bands(gap, band):
    assert gap_band(gap) == band


def test_lookup_by_code_and_band_with_default_fallback():
    table = DevelopmentTable(
        {"M.01": Activities(("kecil",), ("besar", "besar 2"))},
        Activities(("umum kecil",), ("umum besar",)),
    )
    assert table.activities("M.01", -1) == ("kecil",)
    assert table.activities("M.01", -3) == ("besar", "besar 2")
    assert table.activities("M.01", 0) == ()
    assert table.activities("T.XX.01", -1) == ("umum kecil",)
    assert DevelopmentTable({}).activities("M.01", -2) == ()


def test_suggestions_follow_the_areas_to_develop():
    p = build_profile([comp("M.01", 3, 2), comp("M.02", 3, 3), comp("M.03", 4, 1)])
    table = DevelopmentTable(
        {"M.01": Activities(("a",), ("b",)), "M.03": Activities(("c",), ("d",))}
    )
    got = suggest_development(p, table)
    assert [(s.code, s.gap, s.band, s.activities) for s in got] == [
        ("M.03", -3, GAP_2_OR_MORE, ("d",)),
        ("M.01", -1, GAP_1, ("a",)),
    ]


def test_shipped_table_covers_every_managerial_sociocultural_and_technical_competency():
    repo = load_repository(BANKS_PATH)
    assert repo.ok, repo.problems  # the table next to the banks does not upset the bank loader
    table = load_development_table(table_path(BANKS_PATH), known_codes=repo.competencies)
    wanted = [c.code for c in repo.competencies.values() if c.group != "integrity"]
    assert len(wanted) == 17
    assert table.missing(wanted) == []
    assert table.default is not None
    for code in wanted:
        assert table.activities(code, -1) and table.activities(code, -2)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "development_activities.yaml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD_ENTRY = """\
competencies:
  - code: M.01
    gap_1:
      - Satu
    gap_2_or_more:
      - Dua
"""


def test_a_good_small_table_loads(tmp_path):
    table = load_development_table(write(tmp_path, GOOD_ENTRY))
    assert table.activities("M.01", -1) == ("Satu",)
    assert table.default is None


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (GOOD_ENTRY.replace("    gap_1:", "    gap1:"), 3, "unknown field 'gap1'"),
        (GOOD_ENTRY.replace("      - Dua\n", ""), 5, "gap_2_or_more must be a list of one or more"),
        (GOOD_ENTRY.replace("- Satu", "- ''"), 3, "activity 1 must be a non-empty text"),
        (GOOD_ENTRY.replace("- Satu", "- [a, b]"), 3, "activity 1 must be a non-empty text"),
        (GOOD_ENTRY.replace("- Dua", "- Dua\n      - Dua"), 5, "repeats an earlier one"),
        (GOOD_ENTRY.replace("code: M.01", "code: m 01"), 2, "is not a competency code"),
        (GOOD_ENTRY + GOOD_ENTRY.split("\n", 1)[1], 7, "M.01 has two entries"),
        (GOOD_ENTRY.replace("    gap_1:", "    code: M.02\n    gap_1:"), 3, "written twice"),
        (GOOD_ENTRY.replace("      - Satu", "      - Satu\n     - rusak"), 5, "YAML syntax"),
        ("competencies: {}\n", 1, "competencies must be a list"),
        ("default:\n  gap_1: [a]\ncompetencies: []\n", 2, "missing the required field"),
        ("- a\n", None, "the file must be a mapping"),
    ],
)
def test_table_errors_name_file_line_and_problem(tmp_path, text, line, message):
    with pytest.raises(DevelopmentTableError) as caught:
        load_development_table(write(tmp_path, text))
    problems = caught.value.problems
    assert any(message in p.message and p.line == line for p in problems), problems
    assert all(p.file.endswith("development_activities.yaml") for p in problems)
    assert "development_activities.yaml" in str(caught.value)


def test_unknown_codes_are_problems_when_the_dictionary_is_given(tmp_path):
    path = write(tmp_path, GOOD_ENTRY.replace("M.01", "M.99"))
    assert load_development_table(path).missing(["M.99"]) == []
    with pytest.raises(DevelopmentTableError, match=r":2: \[M.99\] competency M.99 is not in"):
        load_development_table(path, known_codes={"M.01"})


def test_a_missing_file_is_a_problem_not_a_crash(tmp_path):
    with pytest.raises(DevelopmentTableError, match="cannot read the file"):
        load_development_table(tmp_path / "nope.yaml")


# ---- 9-box -------------------------------------------------------------------------------------


def test_box_numbers_and_names_follow_the_regulation_grid():
    # rows top to bottom: Di Atas, Sesuai, Di Bawah; columns Rendah, Menengah, Tinggi
    grid = [[4, 7, 9], [2, 5, 8], [1, 3, 6]]
    for row, numbers in enumerate(grid):
        for column, number in enumerate(numbers):
            box = BOXES[number]
            assert (box.performance_band, box.potential_band) == (2 - row, column)
    assert BOXES[9].name == "Kinerja di atas ekspektasi dan potensial tinggi"
    assert BOXES[1].name == "Kinerja di bawah ekspektasi dan potensial rendah"
    assert BOXES[6].name == "Kinerja di bawah ekspektasi dan potensial tinggi"
    assert "suksesi" in BOXES[9].follow_up


@pytest.mark.parametrize(
    ("potential", "band"), [(0, 0), (59.99, 0), (60, 1), (60.01, 1), (79.99, 1), (80, 2), (100, 2)]
)
def test_potential_cut_points_are_lower_bounds(potential, band):
    box = place(potential, 70)  # performance in the middle band
    assert box.potential_band == band
    assert box.number == (2, 5, 8)[band]


@pytest.mark.parametrize(
    ("performance", "band"), [(59.99, 0), (60, 1), (79.99, 1), (80, 2), (80.5, 2)]
)
def test_performance_number_cut_points_are_lower_bounds(performance, band):
    assert place(70, performance).performance_band == band
    assert place(70, performance).number == (3, 5, 7)[band]


@pytest.mark.parametrize(
    ("predicate", "number"),
    [
        ("Sangat Baik", 9),
        ("Baik", 8),
        ("Butuh Perbaikan", 6),
        ("Kurang/Misconduct", 6),
        ("kurang / misconduct", 6),
        ("  SANGAT   kurang ", 6),
    ],
)
def test_skp_predicates_give_the_performance_band(predicate, number):
    assert place(90, predicate).number == number


def test_configurable_cuts_and_predicate_table():
    config = NineBoxConfig(
        potential=AxisCuts(50, 70),
        performance=AxisCuts(3, 4),
        predicate_bands={"Sangat Baik": 2, "Baik": 2, "Butuh Perbaikan": 1},
    )
    assert place(50, 4, config).number == 7
    assert place(49.9, 3.99, config).number == 2
    assert place(70, "Baik", config).number == 9
    assert place(70, "Butuh Perbaikan", config).number == 8
    with pytest.raises(ValueError, match="unknown SKP predicate"):
        place(70, "Sangat Kurang", config)


def test_missing_values_and_bad_input():
    assert place(None, "Baik") is None
    assert place(80, None) is None
    assert place(80, " ") is None
    with pytest.raises(ValueError):
        place(80, "Luar Biasa")
    with pytest.raises(ValueError):
        place(float("nan"), 70)
    with pytest.raises(ValueError):
        AxisCuts(80, 60)
    with pytest.raises(ValueError):
        NineBoxConfig(predicate_bands={"Baik": 3})


def test_group_placement_counts_and_unplaced():
    people = [
        Person(1, "A", 85, "Sangat Baik"),
        Person(2, "B", 90, 95),
        Person(3, "C", 65, "Baik"),
        Person(4, "D", None, "Baik"),
    ]
    grid = place_group(people)
    assert [p.key for p in grid.boxes[9]] == [1, 2]
    assert grid.count(5) == 1
    assert grid.count(1) == 0
    assert [p.key for p in grid.unplaced] == [4]
    assert sorted(grid.boxes) == list(range(1, 10))


# ---- charts ------------------------------------------------------------------------------------

NASTY = "Budi <script>alert(\"x\")</script> & 'Sari'\x01"


def parse(svg: str) -> ET.Element:
    """Parse our own chart output: raises on anything that is not well-formed XML."""
    return ET.fromstring(svg)  # noqa: S314 - the markup under test, not outside input


def texts(svg: str) -> str:
    root = parse(svg)
    assert root.tag == f"{SVG}svg"
    return " ".join("".join(el.itertext()) for el in root.iter(f"{SVG}text"))


def test_profile_chart_is_well_formed_and_escapes_names():
    p = build_profile(
        [
            CompetencyInput("M.01", NASTY, 3, 2),
            comp("M.02", 3, None),
            comp("M.03", None, 4),
            comp("M.04", 2, 5),
        ]
    )
    svg = charts.profile_chart(p.rows, title=NASTY)
    assert "<script" not in svg
    shown = texts(svg)
    assert 'Budi <script>alert("x")' in shown  # the text survives, as text
    assert "\x01" not in svg
    assert "belum diukur" in shown and "tidak dipersyaratkan" in shown
    assert "−1" in shown and "+3" in shown
    assert parse(svg).find(f"{SVG}title").text.startswith("Budi <script>")
    assert svg.count('<pattern id="profil-terukur"') == 1
    assert "url(#profil-terukur)" in svg


def test_profile_chart_with_no_rows_is_still_an_svg():
    assert "Tidak ada kompetensi" in texts(charts.profile_chart(()))


def test_level_histogram():
    svg = charts.level_histogram([1, 2, 2, 3, None, 0], title=f"M.01 {NASTY}", required=3)
    shown = texts(svg)
    assert "standar 3" in shown
    assert "n = 4; Belum diukur: 2 orang" in shown
    assert "<script" not in svg
    with pytest.raises(ValueError):
        charts.level_histogram([6], title="x")
    with pytest.raises(ValueError):
        charts.level_histogram([3], title="x", required=0)


def test_percent_histogram_puts_100_in_the_last_band():
    svg = charts.percent_histogram([0, 9.99, 10, 99.9, 100, None], title="JPM <%>", bin_width=20)
    root = parse(svg)
    bold = [el.text for el in root.iter(f"{SVG}text") if el.get("font-weight") == "bold"]
    assert bold[1:] == ["3", "0", "0", "0", "2"]  # after the title: the count above each band
    assert "80–100" in texts(svg)
    with pytest.raises(ValueError):
        charts.percent_histogram([101], title="x")
    with pytest.raises(ValueError):
        charts.percent_histogram([1], title="x", bin_width=7)


def test_ninebox_chart_counts_names_and_escapes():
    people = [Person(i, f"{NASTY} {i}", 90, "Sangat Baik") for i in range(8)]
    people.append(Person(99, "Tanpa kinerja", 90, None))
    svg = charts.ninebox_chart(place_group(people), max_names=10)
    shown = texts(svg)
    assert "8 orang" in shown
    assert "+3 lainnya" in shown  # six lines fit in a box: five names and the rest counted
    assert "belum dapat dipetakan" in shown and ": 1 orang" in shown
    assert "Kinerja di atas ekspektasi dan potensial tinggi" in shown
    assert "<script" not in svg
    plain = charts.ninebox_chart(place_group(people), show_names=False, legend=False)
    assert "Budi" not in texts(plain)
