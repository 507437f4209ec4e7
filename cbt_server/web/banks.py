"""Question banks in the browser: the versions and what uses them, item previews with their keys
(assessors and admins), and importing a bank upload (admins). docs/question-banks.md,
"Importing banks from the browser"."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.exceptions import RequestEntityTooLarge

from cbt_server import audit
from cbt_server.banks import queries
from cbt_server.banks.upload import (
    ALLOWED_IN_ZIP,
    UploadLimits,
    UploadOutcome,
    UploadRefused,
    import_upload,
)
from cbt_server.web.guards import require_roles
from cbt_server.web.numbers import decimal

bp = Blueprint("banks", __name__, url_prefix="/banks")
require_roles(bp, "admin", "assessor")

#: problems shown in the report table; the rest are counted (a broken file can make thousands)
REPORT_ROWS = 500


class UploadForm(FlaskForm):
    file = FileField(
        _l("Berkas zip folder bank atau berkas bank .yaml"),
        [FileRequired(_l("Pilih berkas .zip atau .yaml untuk diimpor."))],
    )


def _admin_only() -> None:
    # Assessors read versions and previews; importing changes what tests are made of.
    if current_user.role != "admin":
        abort(403)


def _limits() -> UploadLimits:
    return UploadLimits.from_config(current_app.config)


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    return render_template("banks/index.html", catalogue=queries.catalogue())


@bp.route("/import", methods=["GET", "POST"])
def upload():  # type: ignore[no-untyped-def]
    _admin_only()
    form = UploadForm()
    outcome: UploadOutcome | None = None
    status = 200
    if form.validate_on_submit():
        limits, sent = _limits(), form.file.data
        # One byte past the cap is enough to know it is too large.
        data = sent.read(limits.max_bytes + 1)
        outcome = import_upload(current_user, sent.filename or "", data, limits)
        if outcome.refused is not None:
            flash(refusal_text(outcome.refused, limits), "error")
            status = 422
        elif outcome.problems:
            flash(
                _("Berkas memuat masalah: tidak ada yang diimpor. Perbaiki baris berikut."), "error"
            )
            status = 422
        elif outcome.report is not None and outcome.report.changed:
            flash(_("Impor berhasil: versi baru tersimpan."), "ok")
        else:
            flash(_("Semua isi berkas ini sudah diimpor sebelumnya: tidak ada versi baru."), "ok")
    elif request.method == "POST":
        status = 400
    return _upload_page(form, outcome), status


def _upload_page(form: UploadForm, outcome: UploadOutcome | None) -> str:
    return render_template(
        "banks/upload.html",
        form=form,
        outcome=outcome,
        rows=REPORT_ROWS,
        limits=_limits(),
        size=_size,
    )


@bp.errorhandler(RequestEntityTooLarge)
def _request_too_large(error: RequestEntityTooLarge):  # type: ignore[no-untyped-def]
    """A request past MAX_CONTENT_LENGTH never reaches the form (nor the role guard): an admin
    reads why on the upload page, anyone else the plain error."""
    if not current_user.is_authenticated or current_user.role != "admin":
        return render_template("errors/error.html", status=413, message=error.description), 413
    flash(refusal_text(UploadRefused("too_large"), _limits()), "error")
    return _upload_page(UploadForm(formdata=None), None), 413


@bp.get("/versions/<int:version_id>")
def bank_version(version_id: int):  # type: ignore[no-untyped-def]
    page = queries.bank_page(version_id)
    if page is None:
        abort(404)
    return render_template("banks/version.html", page=page)


@bp.get("/versions/<int:version_id>/items/<int:item_id>")
def item_preview(version_id: int, item_id: int):  # type: ignore[no-untyped-def]
    preview = queries.item_preview(version_id, item_id)
    if preview is None:
        abort(404)
    # The page shows the key: a view like any other of scoring data, audited.
    audit.record_alone(
        "bank.item_preview",
        actor=current_user,
        target=f"{preview.version.code} {preview.item.item_code}",
        bank_version_id=version_id,
        item_id=item_id,
    )
    return render_template("banks/item.html", preview=preview)


def _size(count: int) -> str:
    """A byte count in kilobytes or megabytes, in the interface language's way."""
    if count < 1_000_000:
        return _("%(n)s kB", n=decimal(count / 1000, 0))
    return _("%(n)s MB", n=decimal(count / 1_000_000, 1))


def refusal_text(refused: UploadRefused, limits: UploadLimits) -> str:
    """What an admin reads when an upload is refused before its files are checked."""
    name, number = refused.name, refused.number
    texts = {
        "empty": lambda: _("Berkas yang diunggah kosong."),
        "too_large": lambda: _(
            "Berkas terlalu besar: batasnya %(limit)s.", limit=_size(limits.max_bytes)
        ),
        "wrong_type": lambda: _(
            "Jenis berkas tidak didukung: unggah berkas .zip (folder bank, atau seluruh folder "
            "question_banks) atau satu berkas bank .yaml."
        ),
        "bad_zip": lambda: _("Berkas ini bukan arsip zip yang utuh (rusak atau bukan zip)."),
        "unsafe_path": lambda: _(
            "Zip ditolak: “%(name)s” menunjuk ke luar folder zip (path absolut atau “..”).",
            name=name,
        ),
        "symlink": lambda: _(
            "Zip ditolak: “%(name)s” adalah tautan simbolik; zip hanya boleh memuat berkas biasa.",
            name=name,
        ),
        "encrypted": lambda: _(
            "Zip ditolak: “%(name)s” terenkripsi (memakai kata sandi).", name=name
        ),
        "file_kind": lambda: _(
            "Zip ditolak: “%(name)s” bukan jenis berkas bank soal. Yang diizinkan: %(kinds)s.",
            name=name,
            kinds=", ".join(ALLOWED_IN_ZIP),
        ),
        "duplicate": lambda: _("Zip ditolak: “%(name)s” ada dua kali di dalam zip.", name=name),
        "too_many_files": lambda: _(
            "Zip ditolak: memuat lebih dari %(limit)s berkas.", limit=limits.max_files
        ),
        "unzipped_too_large": lambda: _(
            "Zip ditolak: isinya setelah diekstrak lebih dari %(limit)s.",
            limit=_size(limits.max_unzipped_bytes),
        ),
        "yaml_too_large": lambda: _(
            "“%(name)s” lebih besar dari %(limit)s: berkas bank sebesar itu tidak didukung.",
            name=name,
            limit=_size(number),
        ),
        "unreadable": lambda: _(
            "Zip ditolak: “%(name)s” tidak dapat dibaca (arsip rusak atau metode kompresi "
            "tidak didukung).",
            name=name,
        ),
        "no_bank": lambda: _(
            "Tidak ada bank soal di berkas ini: zip harus memuat bank.yaml (satu folder bank) "
            "atau folder competencies/ (seluruh folder question_banks)."
        ),
        "several_banks": lambda: _(
            "Zip memuat %(n)s berkas bank.yaml: unggah satu folder bank, atau seluruh folder "
            "question_banks (dengan folder competencies/).",
            n=number,
        ),
        "too_deep": lambda: _("Berkas YAML bersarang terlalu dalam untuk dibaca."),
        "concurrent": lambda: _(
            "Impor lain menyimpan versi yang sama pada saat bersamaan. Muat ulang daftar versi."
        ),
    }
    text = texts.get(refused.kind, texts["bad_zip"])()
    return text + " " + _("Tidak ada yang diimpor.")
