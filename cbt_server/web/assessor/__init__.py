"""The assessor's desk: score sheets, profiles, group views, item analysis, outside data, regrades,
cut scores, bank calibration.

Assessors and admins only (one guard on the blueprint, proven by the authorization matrix test).
Every download and every change is audited. One module per part of the desk; they all add their
views to ``bp``.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_login import current_user

from cbt_server import audit
from cbt_server.accounts import reach
from cbt_server.assessment import calibration_pages, queries
from cbt_server.models import ExamSession, db
from cbt_server.web.guards import require_roles

bp = Blueprint("assessor", __name__, url_prefix="/assessor")
require_roles(bp, "assessor", "admin")


#: Pages about the whole lab rather than about people: the audit log, the integrity check,
#: outside data for anyone, and key corrections that regrade every session of a battery. An
#: assessor limited to units or sessions does not reach them (docs/accounts.md).
LAB_WIDE = frozenset(
    {
        "assessor.audit_log_page",
        "assessor.audit_log_csv",
        "assessor.integrity_page",
        "assessor.seal_existing",
        "assessor.imports",
        "assessor.regrade_page",
        "assessor.key_override",
        "assessor.run_regrade",
        # cut scores by a method: they change the levels of every session of a battery version
        "assessor.cut_scores_page",
        "assessor.open_cut_study",
        "assessor.cut_study_page",
        "assessor.cut_study_panelist",
        "assessor.set_cut_scores",
        "assessor.cut_scores_regrade",
        # bank calibration: it reads every participant of the chosen sessions
        "assessor.calibrations_page",
        "assessor.run_calibration",
        "assessor.calibration_view",
    }
)


@bp.before_request
def _limit_to_reach() -> None:
    """After the role guard: an assessor limited to units or sessions sees only those people
    on every page and download of the desk (accounts/reach.py), and none of the lab-wide ones."""
    reach.set_for_request(current_user)
    if request.endpoint in LAB_WIDE and reach.current().limited:
        abort(403)


@bp.context_processor
def _desk_reach() -> dict[str, bool]:
    """Whether the desk's lab-wide links are for this user."""
    return {"lab_wide": not reach.current().limited}


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def audited(action: str, target: str, **details: object) -> None:
    """Write the audit row of an assessor action (downloads included), in its own transaction."""
    audit.record_alone(action, actor=current_user, target=target, **details)


def exam_session(session_id: int) -> ExamSession:
    """The session of the URL, or 404."""
    session = db.session.get(ExamSession, session_id)
    if session is None or not reach.current().sees_session(session_id):
        abort(404)
    return session


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    banks = [] if reach.current().limited else calibration_pages.bank_lines()
    return render_template("assessor/index.html", desk=queries.desk(), banks=banks)


# The views register themselves on ``bp``; imported last because they import ``bp``.
from cbt_server.web.assessor import (  # noqa: E402, F401
    analysis,
    audit_log,
    calibrations,
    cut_scores,
    data,
    integrity,
    late,
    profiles,
    scores,
)
