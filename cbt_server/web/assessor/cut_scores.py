"""Cut scores by a method (modified Angoff): a battery version's cuts per competency, studies,
panelists' judgements, setting the cuts and regrading with them (docs/assessor.md).

Lab-wide pages (``LAB_WIDE``): cuts change the levels of every session of the battery version.
"""

from __future__ import annotations

import math

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import Length

from cbt_server import audit
from cbt_server.assessment import regrade
from cbt_server.assessment.standard_setting import (
    PANELIST_MAX,
    StudyRefused,
    open_study,
    save_judgements,
)
from cbt_server.assessment.standard_setting import set_cuts as set_study_cuts
from cbt_server.assessment.standard_setting_pages import (
    judgement_sheet,
    overview,
    study_of,
    study_page,
)
from cbt_server.scoring.levels import N_CUTS
from cbt_server.web.assessor import audited, bp
from cbt_server.web.numbers import decimal

#: the levels the four boundaries open, as the form's columns
LEVELS = tuple(range(2, N_CUTS + 2))


class JudgementForm(FlaskForm):
    panelist = StringField(_l("Nama panelis"), [Length(max=PANELIST_MAX)])


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Alasan"), [Length(max=1000)])


@bp.get("/batteries/<code>/cut-scores")
def cut_scores_page(code: str):  # type: ignore[no-untyped-def]
    raw = request.args.get("version", "")
    page = overview(code, int(raw) if raw.isdigit() else None)
    if page is None:
        abort(404)
    return render_template("assessor/cut_scores.html", page=page)


@bp.post("/batteries/<code>/cut-scores/studies")
def open_cut_study(code: str):  # type: ignore[no-untyped-def]
    # Hidden fields of the row's button; its CSRF token was checked (CSRFProtect) before.
    raw = request.form.get("battery_version_id", "")
    competency = request.form.get("competency", "")
    back = url_for("assessor.cut_scores_page", code=code, version=raw or None)
    if not raw.isdigit() or not competency:
        flash(_("Pilih versi baterai dan kompetensi."), "error")
        return redirect(back)
    try:
        study, created = open_study(current_user, code, int(raw), competency)
    except StudyRefused as refused:
        _flash_refusal(refused)
        return redirect(back)
    if created:
        flash(_("Studi penetapan titik potong %(code)s dibuka.", code=competency), "ok")
    else:
        flash(_("Studi %(code)s yang masih draf dibuka kembali.", code=competency), "ok")
    return redirect(url_for("assessor.cut_study_page", code=code, study_id=study.id))


@bp.get("/batteries/<code>/cut-scores/studies/<int:study_id>")
def cut_study_page(code: str, study_id: int):  # type: ignore[no-untyped-def]
    page = study_page(code, study_id)
    if page is None:
        return _no_study(code)
    return render_template(
        "assessor/cut_study.html",
        page=page,
        levels=LEVELS,
        set_form=ReasonForm(prefix="set"),
        regrade_form=ReasonForm(prefix="regrade"),
    )


@bp.route("/batteries/<code>/cut-scores/studies/<int:study_id>/panelist", methods=["GET", "POST"])
def cut_study_panelist(code: str, study_id: int):  # type: ignore[no-untyped-def]
    form = JudgementForm()
    if request.method == "GET":
        name = request.args.get("panelist", "")
        sheet = judgement_sheet(code, study_id, name)
        if sheet is None:
            return _no_study(code)
        form.panelist.data = name
        return _judgement_page(sheet, form, {}, [])
    sheet = judgement_sheet(code, study_id)
    if sheet is None:
        return _no_study(code)
    entered = {key: value for key, value in request.form.items() if key.startswith("v-")}
    values = {
        row.item.item_id: [
            _number(entered.get(f"v-{row.item.item_id}-{level}")) for level in LEVELS
        ]
        for row in sheet.rows
    }
    try:
        if not form.validate_on_submit():
            raise StudyRefused("panelist", limit=PANELIST_MAX)
        n = save_judgements(current_user, study_id, form.panelist.data or "", values)
    except StudyRefused as refused:
        return _judgement_page(sheet, form, entered, _refusal_lines(refused), status=422)
    flash(
        _("Penilaian %(name)s disimpan (%(n)s butir).", name=form.panelist.data.strip(), n=n),
        "ok",
    )
    return redirect(url_for("assessor.cut_study_page", code=code, study_id=study_id))


@bp.post("/batteries/<code>/cut-scores/studies/<int:study_id>/set")
def set_cut_scores(code: str, study_id: int):  # type: ignore[no-untyped-def]
    form = ReasonForm(prefix="set")
    if study_of(code, study_id) is None:
        return _no_study(code)
    try:
        cut = set_study_cuts(current_user, study_id, form.reason.data)
    except StudyRefused as refused:
        _flash_refusal(refused)
    else:
        cuts = ", ".join(decimal(c) for c in cut.cuts)
        flash(
            _(
                "Titik potong %(code)s ditetapkan: %(cuts)s. Percobaan yang dinilai mulai "
                "sekarang memakainya; nilai ulang untuk percobaan sebelumnya.",
                code=cut.competency_code,
                cuts=cuts,
            ),
            "ok",
        )
    return redirect(url_for("assessor.cut_study_page", code=code, study_id=study_id))


@bp.post("/batteries/<code>/cut-scores/studies/<int:study_id>/regrade")
def cut_scores_regrade(code: str, study_id: int):  # type: ignore[no-untyped-def]
    form = ReasonForm(prefix="regrade")
    found = study_of(code, study_id)
    if found is None:
        return _no_study(code)
    here = url_for("assessor.cut_study_page", code=code, study_id=study_id)
    reason = audit.written_reason(form.reason.data)
    if found[0].status != "set":
        flash(_("Tetapkan titik potong studi ini dahulu."), "error")
        return redirect(here)
    if reason is None:
        flash(_reason_text(), "error")
        return redirect(here)
    try:
        run = regrade.regrade_battery(current_user, code, reason)
    except regrade.RegradeError as error:
        flash(str(error), "error")
    else:
        flash(
            _("%(n)s percobaan dinilai ulang; %(c)s berubah.", n=run.attempts, c=run.changed), "ok"
        )
    return redirect(here)


def _judgement_page(sheet, form, entered, problems, status=200):  # type: ignore[no-untyped-def]
    # The form shows every item's key: a view of scoring data, audited like a bank preview.
    audited(
        "cut_study.items_view",
        f"{sheet.version.code} v{sheet.version.version_label} {sheet.study.competency_code}",
        study_id=sheet.study.id,
    )
    return render_template(
        "assessor/cut_judgements.html",
        sheet=sheet,
        form=form,
        levels=LEVELS,
        entered=entered,
        problems=problems,
    ), status


def _no_study(code: str):  # type: ignore[no-untyped-def]
    """A study that does not exist (or is another battery's): back to the battery's cuts."""
    flash(_("Studi penetapan titik potong tidak ditemukan."), "error")
    return redirect(url_for("assessor.cut_scores_page", code=code))


def _number(text: str | None) -> float | None:
    """A typed number, with a decimal comma or point; None when empty, NaN when unreadable."""
    text = (text or "").strip().replace(",", ".")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return math.nan


def _flash_refusal(refused: StudyRefused) -> None:
    for line in _refusal_lines(refused):
        flash(line, "error")


def _reason_text() -> str:
    return _(
        "Tuliskan alasannya (minimal %(n)s karakter); alasan dicatat di log audit.",
        n=audit.REASON_MIN,
    )


def _refusal_lines(refused: StudyRefused) -> list[str]:
    """What the assessor reads when a study action is refused (nothing was stored)."""
    p = refused.params
    kind = refused.kind
    if kind == "judgements":
        lines = []
        for item_code, boundary, fault, limit in p["problems"]:  # type: ignore[attr-defined]
            if fault == "range":
                lines.append(
                    _(
                        "Butir %(item)s, level %(level)s: harus antara 0 dan %(limit)s.",
                        item=item_code,
                        level=boundary + 1,
                        limit=decimal(limit, 1),
                    )
                )
            else:
                lines.append(
                    _(
                        "Butir %(item)s, level %(level)s: belum diisi atau bukan angka.",
                        item=item_code,
                        level=boundary + 1,
                    )
                )
        return [_("Penilaian tidak disimpan. Perbaiki isian berikut:")] + lines
    if kind == "out_of_order":
        return [_("Titik potong tidak ditetapkan: keempat titik potong harus naik.")] + [
            _(
                "Titik potong level %(level)s (%(cut)s) tidak lebih tinggi dari titik potong "
                "level %(previous_level)s (%(previous)s).",
                level=fault.level,
                cut=decimal(fault.cut),
                previous_level=fault.level - 1,
                previous=decimal(fault.previous),
            )
            for fault in p["faults"]  # type: ignore[attr-defined]
        ]
    texts = {
        "not_in_battery": lambda: _(
            "Kompetensi %(code)s tidak diukur oleh versi baterai ini.", code=p.get("code")
        ),
        "no_points": lambda: _(
            "Butir kompetensi %(code)s tidak memiliki skor maksimum: titik potong tidak dapat "
            "ditetapkan.",
            code=p.get("code"),
        ),
        "closed": lambda: _(
            "Titik potong studi ini sudah ditetapkan dan studinya ditutup. Buka studi baru "
            "untuk menetapkan ulang."
        ),
        "panelist": lambda: _(
            "Tuliskan nama panelis (paling banyak %(n)s karakter).", n=p.get("limit")
        ),
        "too_few": lambda: _(
            "Baru %(n)s panelis dengan penilaian lengkap; titik potong memerlukan minimal "
            "%(minimum)s panelis.",
            n=p.get("n"),
            minimum=p.get("minimum"),
        ),
        "reason": _reason_text,
    }
    return [texts[kind]()]
