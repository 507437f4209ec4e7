"""Outside data (self, supervisor and performance imports) and key corrections with regrades."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from cbt_server.assessment import external, queries, regrade
from cbt_server.web.assessor import bp


class ImportForm(FlaskForm):
    kind = SelectField(
        "Jenis data",
        choices=[
            ("self", "Penilaian diri (self-assessment)"),
            ("supervisor", "Penilaian atasan"),
            ("performance", "Capaian kinerja (SKP)"),
        ],
    )
    file = FileField("Berkas (CSV/XLSX)", [FileRequired()])


class KeyForm(FlaskForm):
    item_id = SelectField("Butir", coerce=int)
    key = StringField("Kunci baru (label opsi, pisahkan dengan koma)", [Length(max=200)])
    weights = StringField("Bobot (mis. A=1, B=3, C=5)", [Length(max=300)])
    accept = StringField("Jawaban diterima (pisahkan dengan |)", [Length(max=500)])
    reason = TextAreaField("Alasan", [DataRequired(), Length(max=1000)])


class RegradeForm(FlaskForm):
    bank_version_id = SelectField("Kunci dari", coerce=int)
    reason = TextAreaField("Alasan", [DataRequired(), Length(max=1000)])


@bp.route("/imports", methods=["GET", "POST"])
def imports():  # type: ignore[no-untyped-def]
    form = ImportForm()
    report = None
    status = 200
    if form.validate_on_submit():
        upload = form.file.data
        data, name = upload.read(), upload.filename or ""
        if form.kind.data == "performance":
            report = external.import_performance(current_user, name, data)
        else:
            report = external.import_ratings(current_user, form.kind.data, name, data)
        if report.ok:
            flash(_("%(n)s baris diimpor.", n=report.rows), "ok")
            return redirect(url_for("assessor.imports"))
        flash(_("Berkas ditolak: tidak ada yang diimpor. Perbaiki baris berikut."), "error")
        status = 422
    elif request.method == "POST":
        status = 400
    return render_template(
        "assessor/imports.html", form=form, report=report, summary=queries.outside_data_summary()
    ), status


@bp.route("/batteries/<code>/regrade", methods=["GET"])
def regrade_page(code: str):  # type: ignore[no-untyped-def]
    page = _regrade_page(code)
    return render_template(
        "assessor/regrade.html",
        page=page,
        key_form=_key_form(page),
        regrade_form=_regrade_form(page),
    )


def _regrade_page(code: str) -> queries.RegradePage:
    """The battery's key-correction page data, or 404."""
    page = queries.regrade_page(code)
    if page is None:
        abort(404)
    return page


def _key_form(page: queries.RegradePage) -> KeyForm:
    form = KeyForm()
    form.item_id.choices = [(i.item_id, f"{i.item_code} ({i.item_type})") for i in page.items]
    return form


def _regrade_form(page: queries.RegradePage) -> RegradeForm:
    form = RegradeForm()
    form.bank_version_id.choices = [(0, "Kunci tersimpan dan koreksi kunci")] + [
        (b.id, f"Bank {b.code} versi {b.version_label} ({b.content_hash[:8]})")
        for b in page.bank_versions
    ]
    return form


@bp.post("/batteries/<code>/key")
def key_override(code: str):  # type: ignore[no-untyped-def]
    page = _regrade_page(code)
    form = _key_form(page)
    if not form.validate_on_submit():
        flash(_("Lengkapi butir dan alasan."), "error")
        return redirect(url_for("assessor.regrade_page", code=code))
    try:
        regrade.override_key(
            current_user,
            form.item_id.data,
            _split(form.key.data, ","),
            _weights(form.weights.data),
            _split(form.accept.data, "|"),
            form.reason.data or "",
        )
    except regrade.RegradeError as error:
        flash(str(error), "error")
    else:
        flash(_("Koreksi kunci disimpan. Jalankan penilaian ulang untuk menerapkannya."), "ok")
    return redirect(url_for("assessor.regrade_page", code=code))


@bp.post("/batteries/<code>/regrade")
def run_regrade(code: str):  # type: ignore[no-untyped-def]
    page = _regrade_page(code)
    form = _regrade_form(page)
    if not form.validate_on_submit():
        flash(_("Alasan penilaian ulang wajib diisi."), "error")
        return redirect(url_for("assessor.regrade_page", code=code))
    try:
        run = regrade.regrade_battery(
            current_user, code, form.reason.data or "", form.bank_version_id.data or None
        )
    except regrade.RegradeError as error:
        flash(str(error), "error")
    else:
        flash(
            _("%(n)s percobaan dinilai ulang; %(c)s berubah.", n=run.attempts, c=run.changed), "ok"
        )
    return redirect(url_for("assessor.regrade_page", code=code))


def _split(text: str | None, separator: str) -> list[str]:
    return [part.strip() for part in (text or "").split(separator) if part.strip()]


def _weights(text: str | None) -> dict[str, float] | None:
    if not (text or "").strip():
        return None
    weights: dict[str, float] = {}
    for part in _split(text, ","):
        label, _sep, value = part.partition("=")
        try:
            weights[label.strip().upper()] = float(value.replace(",", "."))
        except ValueError:
            raise regrade.RegradeError(f"Bobot {part!r} tidak terbaca (contoh: A=1).") from None
    return weights
