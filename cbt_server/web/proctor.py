"""The proctor console (and the admin's session preparation). Every action is audited by the
services it calls; this module parses, checks scope and renders."""

from __future__ import annotations

from datetime import datetime

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, Length, NumberRange

from cbt_server import audit
from cbt_server.clock import now
from cbt_server.delivery import late
from cbt_server.delivery.boundary import SettingError
from cbt_server.localtime import from_local
from cbt_server.models import BatteryVersion, User, db
from cbt_server.proctoring import interventions, monitor, reports
from cbt_server.proctoring.access import NoAccess, session_for
from cbt_server.proctoring.interventions import InterventionError
from cbt_server.sessions import lab
from cbt_server.sessions import service as sessions
from cbt_server.sessions.queries import home_overview
from cbt_server.sessions.token_service import current_token, rotate_now
from cbt_server.sessions.tokens import next_rotation
from cbt_server.web.guards import require_roles
from cbt_server.web.lab import SEAT_COOKIE, set_seat_cookie, setting_message

bp = Blueprint("proctor", __name__, url_prefix="/proctor")
require_roles(bp, "proctor", "admin")

ACTIONS = {
    "extend": interventions.extend,
    "pause": interventions.pause,
    "resume": interventions.resume,
    "force_submit": interventions.force_submit,
    "void": interventions.void,
    "reset_login": interventions.reset_login,
    "reopen": interventions.reopen,
}
#: actions that may target everyone in the session when no participant is chosen
FOR_EVERYONE = {"extend", "pause", "resume", "force_submit"}


def _session(session_id: int):  # type: ignore[no-untyped-def]
    try:
        return session_for(current_user, session_id)
    except NoAccess:
        abort(404)


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


class SessionForm(FlaskForm):
    code = StringField("Kode sesi", [DataRequired(), Length(max=32)])
    name = StringField("Nama sesi", [DataRequired(), Length(max=200)])
    battery = SelectField("Baterai tes", coerce=int)
    room = StringField("Ruang", [DataRequired(), Length(max=100)])
    day = DateField("Tanggal", [DataRequired()])
    starts = TimeField("Mulai", [DataRequired()])
    ends = TimeField("Selesai", [DataRequired()])
    proctors = SelectMultipleField("Pengawas", coerce=int)
    rotate = IntegerField("Rotasi token (menit, 0 = manual)", [NumberRange(0, 240)], default=15)


class RosterForm(FlaskForm):
    file = FileField("Berkas daftar peserta (CSV/XLSX)", [FileRequired()])


class ActionForm(FlaskForm):
    pass


class BoundaryForm(FlaskForm):
    """The session's lab boundary (docs/lab-boundary.md); each setting off by default."""

    networks = TextAreaField(
        _l("Rentang alamat yang diizinkan (CIDR, satu per baris; kosong = semua alamat)"),
        [Length(max=20000)],
    )
    bind_seats = BooleanField(_l("Peserta hanya dapat mengerjakan dari PC kursinya"))
    seb_required = BooleanField(_l("Wajib Safe Exam Browser"))
    seb_keys = TextAreaField(
        _l("Kunci SEB (Config Key atau Browser Exam Key, 64 digit heksadesimal, satu per baris)"),
        [Length(max=20000)],
    )


class SeatForm(FlaskForm):
    seat = SelectField(_l("Kursi"), [DataRequired()])


class RescueForm(FlaskForm):
    file = FileField(_l("Berkas penyelamatan (.json) dari komputer peserta"), [FileRequired()])


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    return render_template(
        "proctor/index.html",
        overview=home_overview(current_user),
        may_create=sessions.may_create_sessions(current_user),
    )


@bp.route("/sessions/new", methods=["GET", "POST"])
def new_session():  # type: ignore[no-untyped-def]
    if not sessions.may_create_sessions(current_user):
        abort(403)
    form = SessionForm()
    form.battery.choices = [
        (b.id, f"{b.title} ({b.code} v{b.version_label})")
        for b in db.session.scalars(
            select(BatteryVersion).order_by(BatteryVersion.code, BatteryVersion.id.desc())
        )
    ]
    form.proctors.choices = [
        (u.id, u.full_name)
        for u in db.session.scalars(select(User).where(User.role == "proctor", User.active))
    ]
    if form.validate_on_submit():
        try:
            created = sessions.create_session(
                current_user,
                code=form.code.data,
                name=form.name.data,
                battery_version_id=form.battery.data,
                room=form.room.data,
                starts_at=from_local(form.day.data, form.starts.data),
                ends_at=from_local(form.day.data, form.ends.data),
                proctor_ids=list(form.proctors.data or []),
                token_rotate_minutes=form.rotate.data,
            )
        except sessions.SessionError as error:
            flash(str(error), "error")
        else:
            flash(_("Sesi %(code)s dibuat.", code=created.code), "ok")
            return redirect(url_for("proctor.session_page", session_id=created.id))
    return render_template("proctor/new_session.html", form=form)


def _render_session_page(session, *, roster_form=None, problems=(), notices=(), boundary_form=None):  # type: ignore[no-untyped-def]
    """The session page, also after a roster import that needs showing its problems or notices."""
    if boundary_form is None:
        settings = lab.settings_of(session)
        boundary_form = BoundaryForm(
            formdata=None,
            data={
                "networks": settings.networks or "",
                "bind_seats": settings.bind_seats,
                "seb_required": settings.seb_required,
                "seb_keys": settings.seb_keys or "",
            },
        )
    return render_template(
        "proctor/session.html",
        session=session,
        boundary_form=boundary_form,
        seat_lines=lab.seat_lines(session),
        roster_form=roster_form or RosterForm(),
        rescue_form=RescueForm(),
        form=ActionForm(),
        attendance=reports.attendance(session),
        problems=list(problems),
        notices=list(notices),
        card_lines=sessions.card_lines(session),
    )


@bp.get("/sessions/<int:session_id>")
def session_page(session_id: int):  # type: ignore[no-untyped-def]
    return _render_session_page(_session(session_id))


@bp.post("/sessions/<int:session_id>/boundary")
def boundary(session_id: int):  # type: ignore[no-untyped-def]
    """Change the session's lab boundary (audited by the service)."""
    session = _session(session_id)
    form = BoundaryForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        changed = lab.update_settings(
            current_user,
            session,
            networks=form.networks.data or "",
            bind_seats=bool(form.bind_seats.data),
            seb_required=bool(form.seb_required.data),
            seb_keys=form.seb_keys.data or "",
        )
    except SettingError as error:
        flash(setting_message(error), "error")
        return _render_session_page(session, boundary_form=form), 422
    flash(_("Batas lab disimpan.") if changed else _("Batas lab tidak berubah."), "ok")
    return redirect(url_for("proctor.session_page", session_id=session.id))


@bp.route("/sessions/<int:session_id>/seat", methods=["GET", "POST"])
def register_seat(session_id: int):  # type: ignore[no-untyped-def]
    """Open on a lab PC, logged in as the proctor: registers that PC as a seat of the session's
    room (a secret cookie on the PC; the seat's earlier PC, if any, no longer passes)."""
    session = _session(session_id)
    seats = lab.roster_seats(session)
    form = SeatForm()
    form.seat.choices = [(seat, seat) for seat in seats]
    secret = request.cookies.get(SEAT_COOKIE)
    if form.validate_on_submit():
        new_secret = lab.register_seat(current_user, session, form.seat.data, secret)
        flash(
            _(
                "PC ini terdaftar sebagai kursi %(seat)s di ruang %(room)s.",
                seat=form.seat.data,
                room=session.room,
            ),
            "ok",
        )
        response = redirect(url_for("proctor.register_seat", session_id=session.id))
        set_seat_cookie(response, new_secret)
        return response
    status = 400 if request.method == "POST" else 200
    return render_template(
        "proctor/seat.html",
        session=session,
        form=form,
        seats=seats,
        this_seat=lab.seat_of_pc(session.room, secret),
    ), status


@bp.post("/sessions/<int:session_id>/rescue")
def rescue(session_id: int):  # type: ignore[no-untyped-def]
    """Answers collected from a PC (its rescue file), kept apart for the assessors."""
    session = _session(session_id)
    form = RescueForm()
    if not form.validate_on_submit():
        abort(400)
    upload = form.file.data
    try:
        stored = late.store_rescue_file(
            current_user, session, upload.read(late.MAX_RESCUE_BYTES + 1), upload.filename or ""
        )
    except late.LateAnswerError as refused:
        flash(str(refused), "error")
        return redirect(url_for("proctor.session_page", session_id=session.id)), 303
    flash(
        _(
            "%(n)s jawaban dari berkas penyelamatan disimpan sebagai jawaban terlambat untuk "
            "diputuskan asesor.",
            n=stored,
        ),
        "ok",
    )
    return redirect(url_for("proctor.session_page", session_id=session.id))


@bp.post("/sessions/<int:session_id>/roster")
def roster(session_id: int):  # type: ignore[no-untyped-def]
    session = _session(session_id)
    form = RosterForm()
    if not form.validate_on_submit():
        abort(400)
    upload = form.file.data
    added, problems, notices = sessions.import_roster(
        current_user, session, upload.filename or "", upload.read()
    )
    if problems:
        flash(_("Daftar peserta ditolak: tidak ada yang diimpor. Perbaiki baris berikut."), "error")
        return _render_session_page(session, roster_form=form, problems=problems), 422
    flash(_("%(n)s peserta ditambahkan.", n=added), "ok")
    if notices:
        # The roster differs from people already known: shown once, nothing was changed.
        flash(_("Data orang yang sudah terdaftar tidak diubah; lihat catatan di bawah."), "error")
        return _render_session_page(session, notices=notices)
    return redirect(url_for("proctor.session_page", session_id=session.id))


@bp.post("/sessions/<int:session_id>/cards")
def cards(session_id: int):  # type: ignore[no-untyped-def]
    session = _session(session_id)
    ActionForm().validate_on_submit() or abort(400)
    raw = request.form.getlist("enrolment_ids")
    if not all(i.isdigit() for i in raw):
        abort(400)  # never fall back to "everyone": that would replace every password
    ids = [int(i) for i in raw] or None
    try:
        run = sessions.generate_credentials(
            current_user,
            session,
            ids,
            reason=request.form.get("reason", ""),
            renew=ids is None and request.form.get("renew") == "1",
        )
    except sessions.SessionError as error:
        flash(str(error), "error")
        return redirect(url_for("proctor.session_page", session_id=session.id)), 303
    return render_template(
        "proctor/cards.html", session=session, cards=run.cards, skipped=run.skipped
    )


@bp.get("/sessions/<int:session_id>/monitor")
def monitor_page(session_id: int):  # type: ignore[no-untyped-def]
    session = current_token(_session(session_id).id)
    return render_template("proctor/monitor.html", session=session, form=ActionForm())


@bp.get("/sessions/<int:session_id>/monitor.json")
def monitor_data(session_id: int):  # type: ignore[no-untyped-def]
    session = current_token(_session(session_id).id)
    at = now()
    since_text = request.args.get("since")
    since = None
    if since_text:
        try:
            since = datetime.fromisoformat(since_text)
        except ValueError:
            abort(400)
    seats = monitor.seats(session, at, since)
    rotation = next_rotation(session)
    return jsonify(
        server_time=at.isoformat(),
        full=since is None,
        token=session.token,
        token_rotates_in=(rotation - at).total_seconds() if rotation else None,
        seats=[s.as_dict() for s in seats],
        presence=monitor.presence(session, at) if since is not None else [],
    )


@bp.get("/sessions/<int:session_id>/projector")
def projector(session_id: int):  # type: ignore[no-untyped-def]
    """The token on the room's projector: huge, with its countdown, and nothing about anyone."""
    session = current_token(_session(session_id).id)
    return render_template("proctor/projector.html", session=session)


@bp.get("/sessions/<int:session_id>/token.json")
def token_data(session_id: int):  # type: ignore[no-untyped-def]
    """The token alone (the projector polls it): no seats, no names."""
    session = current_token(_session(session_id).id)
    at = now()
    rotation = next_rotation(session)
    return jsonify(
        token=session.token,
        token_rotates_in=(rotation - at).total_seconds() if rotation else None,
    )


@bp.post("/sessions/<int:session_id>/token")
def rotate_token(session_id: int):  # type: ignore[no-untyped-def]
    session = _session(session_id)
    ActionForm().validate_on_submit() or abort(400)
    rotated = rotate_now(current_user, session, request.form.get("reason") or None)
    if _wants_json():
        return jsonify(token=rotated.token)
    return redirect(url_for("proctor.monitor_page", session_id=session.id))


@bp.post("/sessions/<int:session_id>/act/<action>")
def act(session_id: int, action: str):  # type: ignore[no-untyped-def]
    session = _session(session_id)
    if action not in ACTIONS:
        abort(404)
    ActionForm().validate_on_submit() or abort(400)
    ids = [int(i) for i in request.form.getlist("enrolment_ids") if i.isdigit()]
    if not ids and action not in FOR_EVERYONE:
        return _acted(session, None, _("Pilih peserta terlebih dahulu."), 400)
    targets = ids or None
    reason = request.form.get("reason")
    try:
        if action in ("extend", "reopen"):
            minutes = int(request.form.get("minutes") or 0)
            outcome = ACTIONS[action](current_user, session, targets, minutes, reason)
        else:
            outcome = ACTIONS[action](current_user, session, targets, reason)
    except (InterventionError, ValueError) as error:
        return _acted(session, None, str(error), 400)
    return _acted(
        session, outcome, _("Tindakan dicatat untuk %(n)s peserta.", n=len(outcome.changed)), 200
    )


def _acted(session, outcome, message: str, status: int):  # type: ignore[no-untyped-def]
    if _wants_json():
        body = {"message": message}
        if outcome is not None:
            body.update(changed=outcome.changed, skipped=outcome.skipped)
        else:
            body["error"] = "refused"
        return jsonify(body), status
    flash(message, "ok" if status == 200 else "error")
    return redirect(url_for("proctor.monitor_page", session_id=session.id))


@bp.post("/sessions/<int:session_id>/notes")
def note(session_id: int):  # type: ignore[no-untyped-def]
    session = _session(session_id)
    ActionForm().validate_on_submit() or abort(400)
    raw = request.form.get("enrolment_id") or ""
    try:
        interventions.add_note(
            current_user, session, int(raw) if raw.isdigit() else None, request.form.get("text", "")
        )
    except InterventionError as error:
        return _acted(session, None, str(error), 400)
    return _acted(session, interventions.Outcome(), _("Catatan disimpan."), 200)


@bp.get("/sessions/<int:session_id>/report")
def report(session_id: int):  # type: ignore[no-untyped-def]
    session = _session(session_id)
    # Audited before the report is read: the chain's head printed on it includes this view.
    audit.record_alone("report.view", actor=current_user, target=session.code)
    return render_template("proctor/report.html", report=reports.session_report(session))


@bp.get("/sessions/<int:session_id>/report.csv")
def report_csv(session_id: int):  # type: ignore[no-untyped-def]
    session = _session(session_id)
    report = reports.session_report(session)
    audit.record_alone(
        "download.report.csv", actor=current_user, target=session.code, digest=report.results_digest
    )
    response = _csv(reports.report_csv(report), f"berita-acara-{session.code}.csv")
    response.headers["X-Results-Digest"] = report.results_digest
    return response


@bp.get("/sessions/<int:session_id>/attendance")
def attendance(session_id: int):  # type: ignore[no-untyped-def]
    session = _session(session_id)
    audit.record_alone("attendance.view", actor=current_user, target=session.code)
    return render_template(
        "proctor/attendance.html",
        session=session,
        rows=reports.attendance(session),
        labels=reports.STATUS_LABELS,
        day=reports.session_day(session),
        signatories=reports.signatories(session),
    )


@bp.get("/sessions/<int:session_id>/attendance.csv")
def attendance_csv(session_id: int):  # type: ignore[no-untyped-def]
    session = _session(session_id)
    audit.record_alone("download.attendance.csv", actor=current_user, target=session.code)
    return _csv(reports.attendance_csv(session), f"daftar-hadir-{session.code}.csv")


def _csv(text: str, filename: str) -> Response:
    return Response(
        "\ufeff" + text,
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
