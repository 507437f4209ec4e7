"""The admin's maintenance pages: backups (settings, a backup now, the list, downloads) and the
server's status (docs/backup.md). Admins only; every action and every download is audited."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import Length

from cbt_server import audit
from cbt_server.backup import service as backups
from cbt_server.backup.scheduler import run_backup
from cbt_server.backup.service import BackupError
from cbt_server.backup.settings import (
    INTERVAL_RANGE,
    KEEP_RANGE,
    SettingsError,
    SettingsInvalid,
    folder_of,
    load_settings,
    load_state,
    parse_settings,
    update_settings,
)
from cbt_server.server_status import LOW_DISK_BYTES, server_status
from cbt_server.web.guards import require_roles
from cbt_server.web.numbers import decimal

bp = Blueprint("maintenance", __name__, url_prefix="/admin")
require_roles(bp, "admin")


class BackupSettingsForm(FlaskForm):
    # Text fields: the service checks them and words every refusal (WTForms' own would be
    # English).
    folder = StringField(_l("Folder cadangan (path absolut di server)"), [Length(max=1000)])
    interval = StringField(_l("Interval selama sesi berlangsung (menit)"), [Length(max=12)])
    keep = StringField(_l("Jumlah cadangan yang disimpan"), [Length(max=12)])
    at_close = BooleanField(_l("Buat cadangan setiap kali sesi berakhir"))


class ActionForm(FlaskForm):
    pass


def size_text(size: int | None) -> str:
    """Bytes as a person reads them: ``512 KB``, ``12,3 MB``, ``1,20 GB``."""
    if size is None:
        return "—"
    for unit, factor, digits in (("GB", 1024**3, 2), ("MB", 1024**2, 1), ("KB", 1024, 0)):
        if size >= factor:
            return f"{decimal(size / factor, digits)} {unit}"
    return f"{size} B"


def age_text(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return _("%(n)s detik lalu", n=seconds)
    if seconds < 2 * 3600:
        return _("%(n)s menit lalu", n=seconds // 60)
    if seconds < 2 * 86400:
        return _("%(n)s jam lalu", n=seconds // 3600)
    return _("%(n)s hari lalu", n=seconds // 86400)


def backup_message(code: str, detail: str = "") -> str:
    """The admin's words for a failed backup (the technical detail follows as it came)."""
    messages = {
        "busy": _("Cadangan lain sedang dibuat. Coba lagi sebentar lagi."),
        "folder_unusable": _(
            "Folder cadangan tidak dapat ditulis oleh server. Periksa folder di pengaturan "
            "cadangan (ada, boleh ditulis, disk tidak penuh)."
        ),
        "database_missing": _("Berkas basis data SQLite tidak ditemukan."),
        "copy_not_intact": _(
            "Salinan gagal diperiksa (integrity_check / pg_restore --list); cadangan itu "
            "tidak disimpan."
        ),
        "pg_dump_missing": _(
            "pg_dump tidak ditemukan di PATH server. Pasang alat klien PostgreSQL (paket "
            "postgresql-client) dengan versi server basis data."
        ),
        "pg_restore_missing": _(
            "pg_restore tidak ditemukan di PATH server. Pasang alat klien PostgreSQL (paket "
            "postgresql-client) dengan versi server basis data."
        ),
        "pg_dump_failed": _("pg_dump gagal."),
    }
    text = messages.get(code, _("Pencadangan gagal."))
    return f"{text} ({detail})" if detail else text


def settings_message(error: SettingsError) -> str:
    """The admin's words for a refused setting, naming the field and the value."""
    value = error.value if len(error.value) <= 80 else error.value[:77] + "..."
    if error.field == "folder":
        if error.kind == "required":
            return _("Folder cadangan: isi path folder di server, mis. /var/backups/cbt.")
        if error.kind == "relative":
            return _(
                "Folder cadangan: “%(value)s” bukan path absolut. Tulis path lengkap yang "
                "diawali /, mis. /var/backups/cbt.",
                value=value,
            )
        if error.kind == "not_a_folder":
            return _("Folder cadangan: “%(value)s” adalah berkas, bukan folder.", value=value)
        return _(
            "Folder cadangan: server tidak dapat membuat atau menulis berkas di “%(value)s” "
            "(%(detail)s). Pilih folder lain atau beri izin tulis untuk pengguna server.",
            value=value,
            detail=error.detail,
        )
    if error.field == "interval":
        return _(
            "Interval selama sesi: “%(value)s” harus bilangan bulat %(low)s–%(high)s menit.",
            value=value,
            low=INTERVAL_RANGE[0],
            high=INTERVAL_RANGE[1],
        )
    return _(
        "Jumlah cadangan yang disimpan: “%(value)s” harus bilangan bulat %(low)s–%(high)s.",
        value=value,
        low=KEEP_RANGE[0],
        high=KEEP_RANGE[1],
    )


def _backup_page(form: BackupSettingsForm | None = None):  # type: ignore[no-untyped-def]
    settings = load_settings()
    if form is None:
        form = BackupSettingsForm(
            formdata=None,
            data={
                "folder": settings.folder or "",
                "interval": str(settings.interval_minutes),
                "keep": str(settings.keep),
                "at_close": settings.at_close,
            },
        )
    folder = folder_of(settings)
    state = load_state()
    failure = state.last_failure if state.failing else None
    return render_template(
        "maintenance/backup.html",
        form=form,
        action_form=ActionForm(),
        settings=settings,
        folder=folder,
        folder_open=folder.is_dir() and bool(folder.stat().st_mode & 0o077),
        backups=backups.list_backups(folder),
        state=state,
        failure=failure,
        failure_text=backup_message(failure.get("code", ""), failure.get("message", ""))
        if failure
        else None,
        database_kind=backups.database_kind(),
        size_text=size_text,
    )


@bp.get("/backup")
def backup_page():  # type: ignore[no-untyped-def]
    return _backup_page()


@bp.post("/backup/settings")
def backup_settings():  # type: ignore[no-untyped-def]
    form = BackupSettingsForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _backup_page(form), 422
    try:
        new = parse_settings(
            form.folder.data or "",
            form.interval.data or "",
            form.keep.data or "",
            form.at_close.data,
        )
    except SettingsInvalid as invalid:
        for error in invalid.errors:
            form[error.field].errors = [*form[error.field].errors, settings_message(error)]
        flash(_("Pengaturan cadangan tidak disimpan: perbaiki isian yang ditandai."), "error")
        return _backup_page(form), 422
    changed = update_settings(current_user, new)
    flash(
        _("Pengaturan cadangan disimpan.") if changed else _("Pengaturan cadangan tidak berubah."),
        "ok",
    )
    return redirect(url_for("maintenance.backup_page"))


@bp.post("/backup/now")
def backup_now():  # type: ignore[no-untyped-def]
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        manifest = run_backup("manual", actor=current_user)
    except BackupError as error:
        flash(backup_message(error.code, error.detail), "error")
    else:
        flash(
            _(
                "Cadangan %(file)s dibuat dan diperiksa (%(size)s).",
                file=manifest["file"],
                size=size_text(manifest["size_bytes"]),
            ),
            "ok",
        )
    return redirect(url_for("maintenance.backup_page"))


@bp.get("/backup/files/<name>")
def download_backup(name: str):  # type: ignore[no-untyped-def]
    found = backups.find_backup(folder_of(load_settings()), name)
    if found is None:
        abort(404)
    audit.record_alone(
        "download.backup",
        actor=current_user,
        target=found.name,
        sha256=(found.manifest or {}).get("sha256"),
        size_bytes=found.size,
    )
    return send_file(
        found.path,
        mimetype="application/octet-stream",
        as_attachment=True,
        download_name=found.name,
    )


@bp.get("/status")
def status_page():  # type: ignore[no-untyped-def]
    return render_template(
        "maintenance/status.html",
        status=server_status(),
        size_text=size_text,
        age_text=age_text,
        low_disk=size_text(LOW_DISK_BYTES),
    )


@bp.get("/status.json")
def status_json():  # type: ignore[no-untyped-def]
    return jsonify(server_status().as_json())
