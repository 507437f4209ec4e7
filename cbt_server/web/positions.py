"""Positions and their competency standards in the browser: assessors and admins read them,
admins add and change them (each change a new version of the standard, audited with its
reason; cbt_server/assessment/standards.py)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from cbt_server.assessment import standards
from cbt_server.web.guards import require_roles

bp = Blueprint("positions", __name__, url_prefix="/admin/positions")
require_roles(bp, "admin", "assessor")

#: the bank format's position types (banks/checks.py), as the lab says them
TYPE_LABELS = {
    "structural": _l("Struktural"),
    "functional": _l("Fungsional"),
    "executor": _l("Pelaksana"),
}


class PositionForm(FlaskForm):
    code = StringField(_l("Kode jabatan"), validators=[DataRequired(), Length(max=32)])
    name = StringField(_l("Nama jabatan"), validators=[DataRequired(), Length(max=200)])
    position_type = SelectField(
        _l("Jenis jabatan"), choices=[(key, label) for key, label in TYPE_LABELS.items()]
    )
    job_family = SelectField(_l("Rumpun jabatan"), choices=[])
    reason = TextAreaField(
        # required, but said by the service with the other problems
        _l("Alasan perubahan (dicatat di log audit)"),
        validators=[Length(max=500)],
    )


def _form(view: standards.PositionView | None = None) -> PositionForm:
    form = PositionForm(
        data=None
        if view is None
        else {
            "code": view.code,
            "name": view.name,
            "position_type": view.position_type,
            "job_family": view.job_family or "",
        }
    )
    form.job_family.choices = [("", _("— tanpa rumpun —")), *standards.job_families()]
    return form


def _levels_from_request() -> dict[str, int | None]:
    """``level-<competency>`` fields: "" means not required; anything else must be 1–5."""
    levels: dict[str, int | None] = {}
    for competency in standards.competencies():
        raw = request.form.get(f"level-{competency.code}", "").strip()
        levels[competency.code] = int(raw) if raw.isdigit() else None
    return levels


def _admin_only() -> None:
    if current_user.role != "admin":
        abort(403)


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    return render_template(
        "positions/index.html",
        positions=standards.positions(),
        competencies=standards.competencies(),
        type_labels=TYPE_LABELS,
    )


def _render_edit(form, view, versions, levels, problems=(), status=200):  # type: ignore[no-untyped-def]
    return (
        render_template(
            "positions/edit.html",
            form=form,
            view=view,
            versions=versions,
            levels=levels,
            competencies=standards.competencies(),
            problems=list(problems),
        ),
        status,
    )


@bp.route("/new", methods=["GET", "POST"])
def new():  # type: ignore[no-untyped-def]
    _admin_only()
    form = _form()
    if request.method == "POST" and form.validate_on_submit():
        return _save(form, new=True, view=None, versions=None)
    if request.method == "POST":
        return _render_edit(form, None, None, _levels_from_request(), status=400)
    return _render_edit(form, None, None, {})


@bp.route("/<code>", methods=["GET", "POST"])
def edit(code: str):  # type: ignore[no-untyped-def]
    found = standards.position(code)
    if found is None:
        abort(404)
    view, versions = found.view, found
    if request.method == "POST":
        _admin_only()
        form = _form()
        form.code.data = view.code  # the code names the position: it does not change
        if form.validate_on_submit():
            return _save(form, new=False, view=view, versions=versions)
        return _render_edit(form, view, versions, _levels_from_request(), status=400)
    return _render_edit(_form(view), view, versions, dict(view.levels))


def _save(form: PositionForm, *, new: bool, view, versions):  # type: ignore[no-untyped-def]
    levels = _levels_from_request()
    try:
        version = standards.save_position(
            current_user,
            code=form.code.data or "",
            name=form.name.data or "",
            position_type=form.position_type.data or "",
            job_family=form.job_family.data or None,
            levels=levels,
            reason=form.reason.data or "",
            new=new,
        )
    except standards.StandardError as refused:
        return _render_edit(form, view, versions, levels, refused.problems, status=400)
    code = (form.code.data or "").strip().upper()
    if version is not None:
        flash(
            _("Jabatan %(code)s disimpan: standar versi %(n)s.", code=code, n=version.number), "ok"
        )
    else:
        flash(_("Jabatan %(code)s disimpan; standarnya tidak berubah.", code=code), "ok")
    return redirect(url_for("positions.edit", code=code))
