"""Bank calibration (item response theory): a bank's calibration versions, running a new one
from chosen sessions, and one calibration's items (docs/assessor.md, "Bank calibration").

Lab-wide pages (``LAB_WIDE``): a calibration reads every participant of the chosen sessions.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, TextAreaField

from cbt_server.assessment.calibration import CalibrationRefused, calibrate_bank
from cbt_server.assessment.calibration_pages import (
    BankCalibrations,
    bank_calibrations,
    calibration_page,
)
from cbt_server.web.assessor import bp


class CalibrationForm(FlaskForm):
    model = SelectField(_l("Model"), choices=[("rasch", "Rasch"), ("2pl", "2PL")])
    anchor_previous = BooleanField(
        _l("Tautkan ke kalibrasi sebelumnya: butir yang terkalibrasi di sana tetap (jangkar)")
    )
    note = TextAreaField(_l("Catatan"))


def _page(page: BankCalibrations, form: CalibrationForm, chosen: set[str], problems: list[str]):  # type: ignore[no-untyped-def]
    return render_template(
        "assessor/calibrations.html", page=page, form=form, chosen=chosen, problems=problems
    )


@bp.get("/banks/<code>/calibrations")
def calibrations_page(code: str):  # type: ignore[no-untyped-def]
    page = bank_calibrations(code)
    if page is None:
        abort(404)
    return _page(page, CalibrationForm(), set(), [])


@bp.post("/banks/<code>/calibrations")
def run_calibration(code: str):  # type: ignore[no-untyped-def]
    # The CSRF token was checked (CSRFProtect) before the view.
    page = bank_calibrations(code)
    if page is None:
        abort(404)
    form = CalibrationForm()
    chosen = request.form.getlist("session")
    try:
        outcome = calibrate_bank(
            current_user,
            code,
            chosen,
            model=form.model.data or "rasch",
            anchor_previous=bool(form.anchor_previous.data),
            note=form.note.data,
        )
    except CalibrationRefused as refused:
        return _page(page, form, set(chosen), [refusal_text(refused)]), 422
    flash(
        _(
            "Kalibrasi versi %(version)s bank %(code)s disimpan: %(n)s butir terkalibrasi dari "
            "%(persons)s peserta.",
            version=outcome.version,
            code=code,
            n=outcome.calibrated,
            persons=outcome.persons,
        ),
        "ok",
    )
    return redirect(url_for("assessor.calibration_view", code=code, version=outcome.version))


@bp.get("/banks/<code>/calibrations/<int:version>")
def calibration_view(code: str, version: int):  # type: ignore[no-untyped-def]
    page = calibration_page(code, version)
    if page is None:
        if bank_calibrations(code) is None:
            abort(404)
        flash(_("Kalibrasi versi %(version)s tidak ada.", version=version), "error")
        return redirect(url_for("assessor.calibrations_page", code=code))
    return render_template("assessor/calibration.html", page=page)


def refusal_text(refused: CalibrationRefused) -> str:
    """What the assessor reads when a calibration is refused (nothing was stored)."""
    p = refused.params
    sessions = ", ".join(p.get("sessions", ()))  # type: ignore[call-overload]
    texts = {
        "unknown_bank": lambda: _("Bank %(bank)s tidak ada.", bank=p["bank"]),
        "no_sessions": lambda: _("Pilih sedikitnya satu sesi."),
        "unknown_sessions": lambda: _(
            "Sesi tidak dikenal: %(codes)s.",
            codes=", ".join(p["codes"]),  # type: ignore[call-overload]
        ),
        "model": lambda: _(
            "Model %(model)s tidak dikenal: pilih Rasch atau 2PL.", model=p["model"]
        ),
        "note": lambda: _("Catatan lebih dari %(limit)s karakter.", limit=p["limit"]),
        "no_previous": lambda: _(
            "Belum ada kalibrasi %(model)s sebelumnya untuk bank ini: jalankan tanpa tautan ke "
            "kalibrasi sebelumnya.",
            model=p["model"],
        ),
        "no_responses": lambda: _(
            "Tidak ada percobaan yang sudah dinilai di sesi %(sessions)s yang memuat butir bank "
            "ini.",
            sessions=sessions,
        ),
        "no_anchor_items": lambda: _(
            "Tidak satu pun butir yang terkalibrasi di versi %(version)s muncul di sesi "
            "%(sessions)s: tidak ada butir jangkar.",
            version=p["version"],
            sessions=sessions,
        ),
        "no_dichotomous": lambda: _(
            "Sesi %(sessions)s hanya memuat butir opsi berbobot dan Likert dari bank ini; butir "
            "jenis itu belum dapat dikalibrasi.",
            sessions=sessions,
        ),
        "too_few": lambda: _(
            "Tidak ada butir dengan sedikitnya %(minimum)s jawaban, yang sebagian mendapat skor "
            "penuh dan sebagian tidak, di sesi %(sessions)s (jawaban terbanyak untuk satu butir: "
            "%(most)s). Pilih lebih banyak sesi.",
            minimum=p["minimum"],
            sessions=sessions,
            most=p["most"],
        ),
    }
    return texts[refused.kind]() + " " + _("Tidak ada yang disimpan.")
