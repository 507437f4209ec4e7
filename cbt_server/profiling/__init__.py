"""Profiling maths (pure): gaps and Job-Person Match, development suggestions, the talent
9-box and SVG charts. Plain dataclasses in and out; no Flask, no database.
"""

from cbt_server.profiling.development import (
    DevelopmentTable,
    DevelopmentTableError,
    Suggestion,
    load_development_table,
    suggest_development,
    table_path,
)
from cbt_server.profiling.ninebox import (
    AxisCuts,
    Box,
    Grid,
    NineBoxConfig,
    Person,
    place,
    place_group,
)
from cbt_server.profiling.profile import (
    MAPPING,
    SCALES,
    SELECTION,
    CompetencyInput,
    CompetencyResult,
    IntegrityReport,
    JpmScale,
    Profile,
    ScaleResult,
    ScaleScore,
    build_profile,
    competency_inputs,
    integrity_report,
    job_person_match,
    jpm_category,
)

__all__ = [
    "MAPPING",
    "SCALES",
    "SELECTION",
    "AxisCuts",
    "Box",
    "CompetencyInput",
    "CompetencyResult",
    "DevelopmentTable",
    "DevelopmentTableError",
    "Grid",
    "IntegrityReport",
    "JpmScale",
    "NineBoxConfig",
    "Person",
    "Profile",
    "ScaleResult",
    "ScaleScore",
    "Suggestion",
    "build_profile",
    "competency_inputs",
    "integrity_report",
    "job_person_match",
    "jpm_category",
    "load_development_table",
    "place",
    "place_group",
    "suggest_development",
    "table_path",
]
