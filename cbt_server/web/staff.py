"""Staff accounts, an admin's pages: list, create, edit, deactivate and reactivate, reset a
password, import a file, limit an assessor (docs/accounts.md).

A password the server makes is shown once, in the response to the POST that made it, with
``Cache-Control: no-store``; it is never put in a flash cookie or stored in clear. The service
(``accounts/staff.py``) audits every change.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import Length

from cbt_server.accounts import policy
from cbt_server.accounts import staff as accounts
from cbt_server.accounts.staff import Issued, StaffError
from cbt_server.models import ExamSession, User, db
from cbt_server.web.guards import require_roles

bp = Blueprint("staff", __name__, url_prefix="/admin/staff")
require_roles(bp, "admin")

ROLE_LABELS = {"proctor": _l("Pengawas"), "assessor": _l("Asesor"), "admin": _l("Admin")}

#: what each refusal of accounts/staff.py says (also the change-password page's)
STAFF_MESSAGES = {
    "username_invalid": _l(
        "Nama pengguna “%(username)s” tidak sah: 3–64 huruf kecil, angka, titik, garis bawah atau "
        "tanda hubung, diawali huruf."
    ),
    "username_taken": _l("Nama pengguna %(username)s sudah dipakai akun lain."),
    "name_missing": _l("Nama lengkap wajib diisi."),
    "name_too_long": _l("Nama lengkap paling banyak %(limit)s karakter."),
    "role_invalid": _l("Peran tidak dikenal: pilih pengawas, asesor atau admin."),
    "self_admin": _l(
        "Anda tidak dapat menonaktifkan akun sendiri atau mencabut peran admin Anda sendiri."
    ),
    "already_inactive": _l("Akun %(username)s sudah nonaktif."),
    "already_active": _l("Akun %(username)s sudah aktif."),
    "self_reset": _l("Kata sandi Anda sendiri diubah di halaman Ubah kata sandi."),
    "unit_too_long": _l("Nama unit kerja paling banyak %(limit)s karakter."),
    "scope_not_assessor": _l("Batas unit dan sesi hanya untuk akun asesor."),
    "session_unknown": _l("Sesi yang dipilih tidak ada lagi; muat ulang halaman."),
    "wrong_password": _l("Kata sandi saat ini salah."),
    "mismatch": _l("Kedua isian kata sandi baru tidak sama."),
    "unchanged": _l("Kata sandi baru harus berbeda dari kata sandi saat ini."),
    policy.TOO_SHORT: _l("Kata sandi baru terlalu pendek: paling sedikit %(length)s karakter."),
    policy.IS_USERNAME: _l("Kata sandi baru tidak boleh sama dengan nama pengguna."),
    policy.TOO_COMMON: _l("Kata sandi baru terlalu umum dan mudah ditebak; pilih kata sandi lain."),
    "admin_exists": _l("Sudah ada admin aktif."),
}


def staff_message(error: StaffError) -> str:
    """The sentence for a refusal, in the interface language."""
    text = STAFF_MESSAGES.get(error.code)
    return str(text) % error.values if text is not None else error.code


class CreateForm(FlaskForm):
    username = StringField(_l("Nama pengguna"), [Length(max=64)])
    full_name = StringField(_l("Nama lengkap"), [Length(max=200)])
    role = SelectField(_l("Peran"), choices=list(ROLE_LABELS.items()))
    can_create_sessions = BooleanField(_l("Pengawas boleh membuat sesi"))


class EditForm(FlaskForm):
    full_name = StringField(_l("Nama lengkap"), [Length(max=200)])
    role = SelectField(_l("Peran"), choices=list(ROLE_LABELS.items()))
    can_create_sessions = BooleanField(_l("Pengawas boleh membuat sesi"))


class ScopeForm(FlaskForm):
    units = TextAreaField(_l("Unit kerja (satu per baris)"))
    sessions = SelectMultipleField(_l("Sesi"), coerce=int, validate_choice=False)


class ImportForm(FlaskForm):
    file = FileField(_l("Berkas akun staf (.csv atau .xlsx)"), [FileRequired()])


class ActionForm(FlaskForm):
    pass


def _once(issued: list[Issued], title: str, status: int = 200):  # type: ignore[no-untyped-def]
    """The page that shows new passwords: never cached, never in a cookie."""
    response = make_response(
        render_template("admin/staff_issued.html", issued=issued, title=title, roles=ROLE_LABELS),
        status,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _index(form=None, import_form=None, problems=(), status: int = 200):  # type: ignore[no-untyped-def]
    return render_template(
        "admin/staff.html",
        lines=accounts.staff_lines(),
        form=form or CreateForm(),
        import_form=import_form or ImportForm(),
        problems=list(problems),
        roles=ROLE_LABELS,
    ), status


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    return _index()


@bp.post("/")
def create():  # type: ignore[no-untyped-def]
    form = CreateForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        issued = accounts.create_staff(
            current_user,
            form.username.data or "",
            form.full_name.data or "",
            form.role.data or "",
            bool(form.can_create_sessions.data),
        )
    except StaffError as refused:
        flash(staff_message(refused), "error")
        return _index(form=form, status=422)
    return _once([issued], _("Akun dibuat"))


@bp.post("/import")
def import_file():  # type: ignore[no-untyped-def]
    form = ImportForm()
    if not form.validate_on_submit():
        flash(_("Pilih berkas .csv atau .xlsx untuk diimpor."), "error")
        return _index(import_form=form, status=422)
    upload = form.file.data
    issued, problems = accounts.import_staff(current_user, upload.filename or "", upload.read())
    if problems:
        flash(
            _("Berkas akun staf ditolak: tidak ada akun yang dibuat. Perbaiki baris berikut."),
            "error",
        )
        return _index(import_form=form, problems=problems, status=422)
    return _once(issued, _("%(n)s akun dibuat dari berkas", n=len(issued)))


def _user(user_id: int) -> User:
    user = accounts.staff_account(user_id)
    if user is None:
        abort(404)
    return user


def _account_page(user: User, form=None, scope_form=None, status: int = 200):  # type: ignore[no-untyped-def]
    scope = accounts.scopes_of(user.id).get(user.id, accounts.Scope())
    if form is None:
        form = EditForm(obj=user, formdata=None)
    if scope_form is None:
        scope_form = ScopeForm(
            formdata=None, units="\n".join(scope.units), sessions=list(scope.session_ids)
        )
    scope_form.sessions.choices = [
        (s.id, f"{s.code} — {s.name}")
        for s in db.session.scalars(select(ExamSession).order_by(ExamSession.starts_at.desc()))
    ]
    known_units = sorted(
        u
        for u in db.session.scalars(
            select(User.unit).where(User.role == "participant", User.unit.is_not(None)).distinct()
        )
        if u
    )
    return render_template(
        "admin/staff_account.html",
        user=user,
        form=form,
        scope_form=scope_form,
        action_form=ActionForm(),
        scope=scope,
        known_units=known_units,
        roles=ROLE_LABELS,
    ), status


@bp.get("/<int:user_id>")
def account(user_id: int):  # type: ignore[no-untyped-def]
    return _account_page(_user(user_id))


def _change(user_id: int, form: FlaskForm, change, keep: str | None = None):  # type: ignore[no-untyped-def]
    """A form's change to one account: ``change(user)`` returns what to tell the admin; a
    refusal says why on the account page (the form ``keep`` keeps what was typed), nothing
    changes."""
    user = _user(user_id)
    if not form.validate_on_submit():
        abort(400)
    try:
        done = change(user)
    except StaffError as refused:
        flash(staff_message(refused), "error")
        return _account_page(user, status=422, **({keep: form} if keep else {}))
    flash(done, "ok")
    return redirect(url_for("staff.account", user_id=user.id), 303)


@bp.post("/<int:user_id>")
def update(user_id: int):  # type: ignore[no-untyped-def]
    form = EditForm()

    def change(user: User) -> str:
        changed = accounts.update_staff(
            current_user,
            user.id,
            form.full_name.data or "",
            form.role.data or "",
            bool(form.can_create_sessions.data),
        )
        return _("Perubahan disimpan.") if changed else _("Tidak ada yang berubah.")

    return _change(user_id, form, change, keep="form")


@bp.post("/<int:user_id>/scope")
def scope(user_id: int):  # type: ignore[no-untyped-def]
    form = ScopeForm()

    def change(user: User) -> str:
        units = (form.units.data or "").splitlines()
        accounts.set_scope(current_user, user.id, units, form.sessions.data or [])
        return _("Batas asesor disimpan.")

    return _change(user_id, form, change, keep="scope_form")


@bp.post("/<int:user_id>/deactivate")
def deactivate(user_id: int):  # type: ignore[no-untyped-def]
    def change(user: User) -> str:
        accounts.deactivate(current_user, user.id)
        return _("Akun dinonaktifkan; login yang masih berjalan diakhiri.")

    return _change(user_id, ActionForm(), change)


@bp.post("/<int:user_id>/reactivate")
def reactivate(user_id: int):  # type: ignore[no-untyped-def]
    def change(user: User) -> str:
        accounts.reactivate(current_user, user.id)
        return _("Akun diaktifkan kembali.")

    return _change(user_id, ActionForm(), change)


@bp.post("/<int:user_id>/password")
def reset_password(user_id: int):  # type: ignore[no-untyped-def]
    user = _user(user_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        issued = accounts.reset_password(current_user, user.id)
    except StaffError as refused:
        flash(staff_message(refused), "error")
        return _account_page(user, status=422)
    return _once([issued], _("Kata sandi direset"))
