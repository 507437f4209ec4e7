"""Participant pages: token, confirmation, the test page shell, the finish page."""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from cbt_server.clock import now
from cbt_server.delivery import service as delivery
from cbt_server.delivery.errors import DeliveryError
from cbt_server.delivery.lifecycle import FINISHED, RUNNING
from cbt_server.delivery.summary import entry_summary, finish_summary
from cbt_server.web.auth import DEVICE_COOKIE, LOGIN_SESSION_KEY, login_enrolment_id
from cbt_server.web.guards import require_roles
from cbt_server.web.lab import enforce_boundary
from cbt_server.web.messages import delivery_message, refusal_message

bp = Blueprint("exam", __name__, url_prefix="/exam")
require_roles(bp, "participant")
enforce_boundary(bp)  # the session's lab boundary, after the role guard

#: the enrolment whose token this login entered last, and until when that holds (epoch
#: seconds: the end of the session's window); a session key name
TOKEN_OK = "cbt_token_ok"  # noqa: S105
DEVICE_COOKIE_AGE = 7 * 24 * 3600


@bp.after_request
def _give_device_token(response):  # type: ignore[no-untyped-def]
    """Every exam page gives the PC its device token before anything is bound to it: a start
    whose response is lost (a stampede, a dropped connection) is retried with the same token,
    instead of being refused as "another computer"."""
    if DEVICE_COOKIE not in request.cookies and not g.get("device_cookie_set"):
        _set_device_cookie(response, delivery.new_device_token())
    return response


def _set_device_cookie(response, token: str) -> None:  # type: ignore[no-untyped-def]
    response.set_cookie(
        DEVICE_COOKIE, token, max_age=DEVICE_COOKIE_AGE, httponly=True, samesite="Strict"
    )
    g.device_cookie_set = True


class TokenForm(FlaskForm):
    token = StringField(_l("Token sesi"), [DataRequired(), Length(max=16)])


class StartForm(FlaskForm):
    pass


def _current():  # type: ignore[no-untyped-def]
    """The enrolment these pages are about: the login's own, or chosen by the person's state."""
    return delivery.current_enrolment(current_user.id, enrolment_id=login_enrolment_id())


@bp.route("/", methods=["GET", "POST"])
def entry():  # type: ignore[no-untyped-def]
    entry, choices = delivery.entry_and_choices(current_user.id, login_enrolment_id())
    if entry.attempt is not None and entry.attempt.state in RUNNING:
        # Resume: no token again, but (re)bind the attempt to this PC, e.g. after a reset.
        return _bind_and_take(entry.enrolment.id, entry)
    if entry.attempt is not None and entry.attempt.state in FINISHED:
        return redirect(url_for("exam.finish"))
    form = TokenForm()
    status, retry_after = 200, None
    if form.validate_on_submit():
        try:
            accepted = delivery.check_token(
                current_user.id, form.token.data or "", login_enrolment_id()
            )
        except DeliveryError as refused:
            flash(refusal_message(refused), "error")
            status, retry_after = refused.status, refused.retry_after
        else:
            from flask import session

            # Valid until the session's window ends: the signed cookie itself never expires.
            session[TOKEN_OK] = {
                "enrolment": accepted.enrolment.id,  # type: ignore[union-attr]
                "until": accepted.session.ends_at.timestamp(),  # type: ignore[union-attr]
            }
            return redirect(url_for("exam.confirm"))
    # A login not tied to a session, with several open: the token chooses (listed for them).
    response = make_response(
        render_template(
            "exam/entry.html",
            form=form,
            summary=entry_summary(entry),
            choices=[c.session for c in choices] if len(choices) > 1 else [],
        ),
        status,
    )
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


@bp.route("/confirm", methods=["GET", "POST"])
def confirm():  # type: ignore[no-untyped-def]
    from flask import session

    chosen, scope = _accepted_enrolment(), login_enrolment_id()
    if chosen is None or (scope is not None and chosen != scope):
        return redirect(url_for("exam.entry"))
    entry = delivery.current_enrolment(current_user.id, enrolment_id=chosen)
    if entry.session is None:
        return redirect(url_for("exam.entry"))
    form = StartForm()
    if form.validate_on_submit():
        session.pop(TOKEN_OK, None)
        return _bind_and_take(chosen, entry)
    return render_template("exam/confirm.html", form=form, summary=entry_summary(entry))


def _accepted_enrolment() -> int | None:
    """The enrolment whose token this login entered, while that acceptance holds: up to the
    end of the session's window, stored with it. A lapsed acceptance is dropped and the
    participant told to ask the proctor; the start itself checks the window again
    (``delivery.start_or_resume``), so a session closed meanwhile starts nothing either."""
    from flask import session

    held = session.get(TOKEN_OK)
    if held is None:
        return None
    enrolment = held.get("enrolment") if isinstance(held, dict) else None
    until = held.get("until") if isinstance(held, dict) else None
    if isinstance(enrolment, int) and isinstance(until, int | float) and now().timestamp() < until:
        return enrolment
    session.pop(TOKEN_OK, None)  # lapsed, or malformed: the token must be entered again
    if isinstance(until, int | float):
        flash(delivery_message("token_expired"), "error")
    return None


def _bind_and_take(enrolment_id: int, entry):  # type: ignore[no-untyped-def]
    from flask import session

    try:
        _attempt_id, device = delivery.start_or_resume(
            current_user.id,
            request.cookies.get(DEVICE_COOKIE),
            request.remote_addr,
            enrolment_id=enrolment_id,
            login_id=session.get(LOGIN_SESSION_KEY),
            entry=entry,
        )
    except DeliveryError as refused:
        if refused.code == "attempt_closed":
            return redirect(url_for("exam.finish"))
        # Not back to the entry page: a refused resume would bounce there for ever.
        message = delivery_message(refused.code)
        return render_template("errors/error.html", status=refused.status, message=message), (
            refused.status
        )
    response = redirect(url_for("exam.take"))
    _set_device_cookie(response, device)
    return response


@bp.get("/take")
def take():  # type: ignore[no-untyped-def]
    entry = _current()
    if entry.attempt is None:
        return redirect(url_for("exam.entry"))
    if entry.attempt.state in FINISHED:
        return redirect(url_for("exam.finish"))
    return render_template(
        "exam/take.html",
        attempt_id=entry.attempt.id,
        api_base=url_for("api.attempt"),
        finish_url=url_for("exam.finish"),
        sw_url=_sw_url(),
    )


def _sw_url() -> str:
    """The service worker's address, with the paths it keeps (its scope is this folder)."""
    return url_for(
        "exam.service_worker",
        api=url_for("api.attempt"),
        static=url_for("static", filename=""),
        media=url_for("media.file", sha256="x")[:-1],
    )


@bp.get("/sw.js")
def service_worker():  # type: ignore[no-untyped-def]
    """The test page's service worker (static/js/exam-sw.js; docs/delivery.md). Served from here
    so that its scope is /exam/ (the test and the finish page); never cached by the browser's
    HTTP cache, so a new version is picked up on the next visit."""
    folder = Path(current_app.static_folder or "") / "js"
    response = send_from_directory(folder, "exam-sw.js", mimetype="text/javascript", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/finish")
def finish():  # type: ignore[no-untyped-def]
    entry = _current()
    if entry.attempt is None:
        return redirect(url_for("exam.entry"))
    if entry.attempt.state not in FINISHED:
        # Someone opened the finish page early: the server decides whether time is up.
        with suppress(DeliveryError):
            delivery.refresh(current_user.id, request.cookies.get(DEVICE_COOKIE))
        entry = _current()
        if entry.attempt.state not in FINISHED:  # type: ignore[union-attr]
            return redirect(url_for("exam.take"))
    return render_template(
        "exam/finish.html",
        summary=finish_summary(entry),
        attempt_id=entry.attempt.id,  # type: ignore[union-attr]
        api_base=url_for("api.attempt"),
    )
