"""Late answers: what PCs still held when their attempt had closed, for the assessor to decide."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from cbt_server.delivery import late
from cbt_server.web.assessor import audited, bp, exam_session


class DecisionForm(FlaskForm):
    pass


@bp.get("/sessions/<int:session_id>/late-answers")
def late_answers(session_id: int):  # type: ignore[no-untyped-def]
    session = exam_session(session_id)
    audited("late_answers.view", session.code)
    return render_template(
        "assessor/late.html",
        session=session,
        lines=late.session_lines(session),
        form=DecisionForm(),
    )


@bp.post("/sessions/<int:session_id>/late-answers/<int:late_id>")
def decide_late_answer(session_id: int, late_id: int):  # type: ignore[no-untyped-def]
    session = exam_session(session_id)
    if not DecisionForm().validate_on_submit():
        abort(400)
    decision = request.form.get("decision")
    if decision not in ("accept", "reject"):
        abort(400)
    try:
        changed = late.decide(
            current_user, session, late_id, decision == "accept", request.form.get("reason", "")
        )
    except late.LateAnswerError as refused:
        flash(str(refused), "error")
        return redirect(url_for("assessor.late_answers", session_id=session.id))
    if decision == "reject":
        flash(_("Jawaban terlambat ditolak."), "ok")
    elif changed:
        flash(_("Jawaban terlambat diterima; nilai peserta dihitung ulang."), "ok")
    else:
        flash(
            _("Diterima, tetapi jawaban yang tersimpan lebih baru; tidak ada yang berubah."), "ok"
        )
    return redirect(url_for("assessor.late_answers", session_id=session.id))
