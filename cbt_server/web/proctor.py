"""The proctor console (and the admin's session preparation). Every action is audited by the
services it calls; this module parses, checks scope and renders."""

from __future__ import annotations

from datetime import datetime, timedelta

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
from sqlalchemy import or_, select
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
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from cbt_server import audit
from cbt_server.clock import now
from cbt_server.delivery import late
from cbt_server.delivery.boundary import SettingError
from cbt_server.localtime import last_day, to_local, window_from_local
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


class WindowForm(FlaskForm):
    """A session's window typed as a day and two times; an end at or before the start is on the
    next day (a night session)."""

    day = DateField(_l("Tanggal"), [DataRequired()])
    starts = TimeField(_l("Mulai"), [DataRequired()])
    ends = TimeField(_l("Selesai"), [DataRequired()])

    def window(self) -> tuple[datetime, datetime]:
        return window_from_local(self.day.data, self.starts.data, self.ends.data)

    def show(self, session) -> None:  # type: ignore[no-untyped-def]
        """Fill the window with the session's (on a form not yet posted)."""
        starts, ends = to_local(session.starts_at), to_local(session.ends_at)
        self.day.data, self.starts.data, self.ends.data = starts.date(), starts.time(), ends.time()


class SessionForm(WindowForm):
    code = StringField(_l("Kode sesi"), [DataRequired(), Length(max=32)])
    name = StringField(_l("Nama sesi"), [DataRequired(), Length(max=200)])
    battery = SelectField(_l("Baterai tes"), coerce=int)
    room = StringField(_l("Ruang"), [DataRequired(), Length(max=100)])
    proctors = SelectMultipleField(_l("Pengawas"), coerce=int)
    rotate = IntegerField(_l("Rotasi token (menit, 0 = manual)"), [NumberRange(0, 240)], default=15)


class EditSessionForm(WindowForm):
    name = SessionForm.name
    room = SessionForm.room
    proctors = SessionForm.proctors
    rotate = SessionForm.rotate
    reason = StringField(_l("Alasan perubahan (wajib setelah sesi dimulai)"), [Length(max=1000)])


class CopySessionForm(WindowForm):
    code = SessionForm.code
    roster = BooleanField(_l("Salin juga daftar peserta (dengan kartu baru)"), default=True)


class ScheduleForm(FlaskForm):
    name = SessionForm.name
    battery = SessionForm.battery
    room = SessionForm.room
    proctors = SessionForm.proctors
    rotate = SessionForm.rotate
    lines = TextAreaField(
        _l("Sesi, satu per baris: kode, tanggal, mulai, selesai"),
        [DataRequired(), Length(max=20000)],
    )


class DeleteSessionForm(FlaskForm):
    confirm = StringField(_l("Ketik kode sesi untuk menghapus"), [Length(max=32)])
    reason = StringField(_l("Alasan (wajib bila sesi sudah dimulai)"), [Length(max=1000)])


class ParticipantForm(FlaskForm):
    """Move a participant to another session, or remove them (both with a reason)."""

    enrolment = IntegerField(_l("Peserta"), [DataRequired()])
    target = IntegerField(_l("Sesi tujuan"), [Optional()])
    reason = StringField(_l("Alasan"), [Length(max=1000)])


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


def _battery_choices() -> list[tuple[int, str]]:
    return [
        (b.id, f"{b.title} ({b.code} v{b.version_label})")
        for b in db.session.scalars(
            select(BatteryVersion).order_by(BatteryVersion.code, BatteryVersion.id.desc())
        )
    ]


def _proctor_choices(keep: frozenset[int] = frozenset()) -> list[tuple[int, str]]:
    """The active proctor accounts, and those in ``keep`` (already on the session) even if not."""
    users = db.session.scalars(
        select(User)
        .where(User.role == "proctor", or_(User.active, User.id.in_(keep)))
        .order_by(User.full_name)
    )
    return [
        (u.id, u.full_name if u.active else _("%(name)s (nonaktif)", name=u.full_name))
        for u in users
    ]


def _editable(session_id: int):  # type: ignore[no-untyped-def]
    """A session the user may edit, delete or copy: 403 without the right to create sessions,
    404 for a session that is not theirs (like every session route)."""
    if not sessions.may_create_sessions(current_user):
        abort(403)
    return _session(session_id)


def _carried_out(form: FlaskForm, action) -> tuple[Response | None, int]:  # type: ignore[no-untyped-def]
    """Run ``action`` (it returns the response, a redirect) for a valid posted form. Otherwise
    (None, the status of the page showing the form again): 200 for a form not sent yet, 422
    for one refused, the service's message flashed."""
    if not form.validate_on_submit():
        return None, 422 if request.method == "POST" else 200
    try:
        return action(), 200
    except sessions.SessionError as error:
        flash(str(error), "error")
        return None, 422


@bp.route("/sessions/new", methods=["GET", "POST"])
def new_session():  # type: ignore[no-untyped-def]
    if not sessions.may_create_sessions(current_user):
        abort(403)
    form = SessionForm()
    form.battery.choices = _battery_choices()
    form.proctors.choices = _proctor_choices()

    def create():  # type: ignore[no-untyped-def]
        plan = sessions.SessionPlan(
            form.code.data,
            form.name.data,
            form.battery.data,
            form.room.data,
            *form.window(),
            tuple(form.proctors.data or ()),
            form.rotate.data,
        )
        created = sessions.create_session(current_user, plan)
        flash(_("Sesi %(code)s dibuat.", code=created.code), "ok")
        return redirect(url_for("proctor.session_page", session_id=created.id))

    done, status = _carried_out(form, create)
    return done or (render_template("proctor/new_session.html", form=form), status)


@bp.route("/sessions/<int:session_id>/edit", methods=["GET", "POST"])
def edit_session(session_id: int):  # type: ignore[no-untyped-def]
    """Change a session's plan: everything until it starts, then only its end and proctors,
    with a reason (the service refuses the rest)."""
    session = _editable(session_id)
    assigned = frozenset(sessions.assigned_proctors(session))
    form = EditSessionForm(
        data=None
        if request.method == "POST"
        else {
            "name": session.name,
            "room": session.room,
            "rotate": session.token_rotate_minutes,
            "proctors": sorted(assigned),
        }
    )
    form.proctors.choices = _proctor_choices(assigned)
    if request.method == "GET":
        form.show(session)

    def save():  # type: ignore[no-untyped-def]
        starts_at, ends_at = form.window()
        changed = sessions.edit_session(
            current_user,
            session,
            name=form.name.data,
            room=form.room.data,
            starts_at=starts_at,
            ends_at=ends_at,
            proctor_ids=list(form.proctors.data or []),
            token_rotate_minutes=form.rotate.data,
            reason=form.reason.data or "",
        )
        flash(_("Sesi disimpan.") if changed else _("Tidak ada perubahan."), "ok")
        return redirect(url_for("proctor.session_page", session_id=session.id))

    done, status = _carried_out(form, save)
    return done or (
        render_template(
            "proctor/edit_session.html",
            session=session,
            form=form,
            started=sessions.started(session),
            delete_form=DeleteSessionForm(formdata=None),
        ),
        status,
    )


@bp.post("/sessions/<int:session_id>/delete")
def delete_session(session_id: int):  # type: ignore[no-untyped-def]
    session = _editable(session_id)
    form = DeleteSessionForm()
    code = session.code
    try:
        if not form.validate_on_submit():
            raise sessions.SessionError(_("Formulir tidak lengkap; muat ulang halaman."))
        sessions.delete_session(
            current_user, session, form.confirm.data or "", form.reason.data or ""
        )
    except sessions.SessionError as error:
        flash(str(error), "error")
        return redirect(url_for("proctor.edit_session", session_id=session_id), 303)
    flash(_("Sesi %(code)s dihapus.", code=code), "ok")
    return redirect(url_for("proctor.index"), 303)


@bp.route("/sessions/<int:session_id>/copy", methods=["GET", "POST"])
def copy_session(session_id: int):  # type: ignore[no-untyped-def]
    """The session on another day: a new code (suggested), the same battery, room, proctors
    and roster (new enrolments; cards are printed on the copy's page)."""
    source = _editable(session_id)
    form = CopySessionForm()
    if request.method == "GET":
        form.show(source)
        form.day.data += timedelta(days=1)
        form.code.data = sessions.suggest_code(source.code)

    def copy():  # type: ignore[no-untyped-def]
        starts_at, ends_at = form.window()
        made = sessions.copy_session(
            current_user,
            source,
            code=form.code.data,
            starts_at=starts_at,
            ends_at=ends_at,
            with_roster=bool(form.roster.data),
        )
        flash(
            _(
                "Sesi %(source)s disalin menjadi %(code)s; cetak kartu peserta sesi baru ini.",
                source=source.code,
                code=made.code,
            ),
            "ok",
        )
        return redirect(url_for("proctor.session_page", session_id=made.id))

    done, status = _carried_out(form, copy)
    return done or (render_template("proctor/copy_session.html", source=source, form=form), status)


@bp.route("/sessions/schedule", methods=["GET", "POST"])
def schedule():  # type: ignore[no-untyped-def]
    """Several sessions of one battery, room and proctors at once: all or none."""
    if not sessions.may_create_sessions(current_user):
        abort(403)
    form = ScheduleForm()
    form.battery.choices = _battery_choices()
    form.proctors.choices = _proctor_choices()
    problems: list = []

    def make():  # type: ignore[no-untyped-def]
        created, found = sessions.schedule_sessions(
            current_user,
            name=form.name.data,
            battery_version_id=form.battery.data,
            room=form.room.data,
            proctor_ids=list(form.proctors.data or []),
            token_rotate_minutes=form.rotate.data,
            text=form.lines.data,
        )
        if found:
            problems.extend(found)
            raise sessions.SessionError(
                _("Jadwal ditolak: tidak ada sesi yang dibuat. Perbaiki baris berikut.")
            )
        codes = ", ".join(s.code for s in created)
        flash(_("%(n)s sesi dibuat: %(codes)s.", n=len(created), codes=codes), "ok")
        return redirect(url_for("proctor.index"))

    done, status = _carried_out(form, make)
    return done or (
        render_template("proctor/schedule.html", form=form, problems=problems),
        status,
    )


def _participant_change(session_id: int, change) -> Response:  # type: ignore[no-untyped-def]
    """Move or remove one participant of this session; the outcome is flashed on its page."""
    session = _session(session_id)
    form = ParticipantForm()
    try:
        if not form.validate_on_submit():
            raise sessions.SessionError(_("Pilih peserta terlebih dahulu."))
        flash(change(session, form), "ok")
    except sessions.SessionError as error:
        flash(str(error), "error")
    return redirect(url_for("proctor.session_page", session_id=session.id), 303)


@bp.post("/sessions/<int:session_id>/participants/move")
def move_participant(session_id: int):  # type: ignore[no-untyped-def]
    def move(session, form) -> str:  # type: ignore[no-untyped-def]
        moved = sessions.move_enrolment(
            current_user, session, form.enrolment.data, form.target.data or 0, form.reason.data
        )
        return _(
            "Peserta dipindahkan; nomor peserta barunya %(number)s "
            "(cetak kartunya di sesi tujuan).",
            number=moved.participant_number,
        )

    return _participant_change(session_id, move)


@bp.post("/sessions/<int:session_id>/participants/remove")
def remove_participant(session_id: int):  # type: ignore[no-untyped-def]
    def remove(session, form) -> str:  # type: ignore[no-untyped-def]
        name = sessions.remove_enrolment(
            current_user, session, form.enrolment.data, form.reason.data or ""
        )
        return _("%(name)s dihapus dari sesi ini.", name=name)

    return _participant_change(session_id, remove)


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
        may_edit=sessions.may_edit_sessions(current_user, session),
        participant_form=ParticipantForm(formdata=None),
        move_targets=sessions.move_targets(current_user, session),
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
        last_day=last_day(session.starts_at, session.ends_at),
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
