"""Assessor use cases: score sheets, profiles, item analysis, outside data, regrades."""
