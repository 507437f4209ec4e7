"""Login and logout for every role."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from cbt_server.accounts import login_sessions, policy, staff
from cbt_server.accounts import service as accounts
from cbt_server.delivery import service as delivery
from cbt_server.delivery.errors import DeliveryError
from cbt_server.extensions import LANG_COOKIE, login_manager
from cbt_server.limits import budgets
from cbt_server.web.ended_login import forget_ended_login
from cbt_server.web.lab import login_refusal
from cbt_server.web.messages import delivery_message, too_many_tries
from cbt_server.web.staff import staff_message

DEVICE_COOKIE = "cbt_device"
LOGIN_SESSION_KEY = "lsid"

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def _load_user(user_id: str):  # type: ignore[no-untyped-def]
    """The user and their live login in one query; a revoked login, or one whose time is up
    (accounts/lifetime.py), loads nobody."""
    try:
        uid = int(user_id)
    except ValueError:
        return None
    found = login_sessions.load_live_user(session.get(LOGIN_SESSION_KEY), uid)
    if found is None:
        return None
    if found.ended is not None:
        g.login_timed_out = (found.user, found.ended)  # ended by _check_login_session
        return None
    g.login_last_seen, g.login_enrolment_id = found.last_seen_at, found.enrolment_id
    return found.user


def login_enrolment_id() -> int | None:
    """The enrolment the current login belongs to (None: not bound to one yet)."""
    return g.get("login_enrolment_id")


#: what a login that must change its password may still reach (besides static files)
WHILE_FORCED = frozenset({"auth.change_password", "auth.logout", "auth.set_language"})


class LoginForm(FlaskForm):
    login = StringField(_l("Nomor peserta / NIP / nama pengguna"), [DataRequired(), Length(max=64)])
    password = PasswordField(_l("Kata sandi"), [DataRequired(), Length(max=128)])


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            found = accounts.log_in(
                form.login.data or "", form.password.data or "", request.remote_addr
            )
        except budgets.OverBudget as limited:
            flash(too_many_tries(limited.retry_after), "error")
            response = make_response(render_template("auth/login.html", form=form), 429)
            response.headers["Retry-After"] = str(limited.retry_after)
            return response
        if found is None:
            flash(_("Nama pengguna atau kata sandi salah."), "error")
            return render_template("auth/login.html", form=form), 401
        user = found.user
        try:
            if user.role == "participant":
                delivery.check_device_at_login(user.id, request.cookies.get(DEVICE_COOKIE))
        except DeliveryError as refused:
            flash(delivery_message(refused.code), "error")
            return render_template("auth/login.html", form=form), refused.status
        if user.role == "participant":
            # An exam card opens its session only from within that session's lab boundary.
            outside = login_refusal(found.enrolment_id)
            if outside is not None:
                flash(outside[0], "error")
                return render_template("auth/login.html", form=form), outside[1]
        session_id = accounts.start_login(found, request.remote_addr)
        session.clear()
        login_user(user)
        session[LOGIN_SESSION_KEY] = session_id
        default = url_for("exam.entry") if user.role == "participant" else url_for("home.index")
        return redirect(_safe_next(request.args.get("next")) or default)
    status = 200
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():  # type: ignore[no-untyped-def]
    accounts.log_out(current_user, session.get(LOGIN_SESSION_KEY), request.remote_addr)
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.before_app_request
def _check_login_session():  # type: ignore[no-untyped-def]
    """A revoked login (logout elsewhere, a proctor's reset) or one whose time is up ends here,
    whatever the cookie says."""
    if request.endpoint == "static":
        return None
    if not current_user.is_authenticated:
        if "_user_id" in session:  # logged in by the cookie, but the login was revoked
            timed_out = g.pop("login_timed_out", None)
            if timed_out is not None:
                user, why = timed_out
                role = user.role
                accounts.end_timed_out_login(
                    user, session[LOGIN_SESSION_KEY], why, request.remote_addr
                )
                forget_ended_login(role, timed_out=True)
            else:
                forget_ended_login()  # keeps a mark: the PC is told why (web/ended_login.py)
        return None
    last_seen = g.get("login_last_seen")
    if last_seen is not None:
        login_sessions.touch_if_due(session[LOGIN_SESSION_KEY], last_seen)
    if current_user.must_change_password and request.endpoint not in WHILE_FORCED:
        # A one-time password from an admin opens this page only (docs/accounts.md).
        return redirect(url_for("auth.change_password"))
    return None


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Kata sandi saat ini"), [Length(max=128)])
    new = PasswordField(_l("Kata sandi baru"), [Length(max=128)])
    again = PasswordField(_l("Ulangi kata sandi baru"), [Length(max=128)])


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():  # type: ignore[no-untyped-def]
    """Staff change their own password; participants' passwords are their exam cards."""
    if current_user.role not in staff.STAFF_ROLES:
        abort(403)
    form = PasswordForm()
    forced = current_user.must_change_password
    if form.validate_on_submit():
        try:
            staff.change_own_password(
                current_user,
                session.get(LOGIN_SESSION_KEY),
                form.current.data or "",
                form.new.data or "",
                form.again.data or "",
            )
        except budgets.OverBudget as limited:
            flash(too_many_tries(limited.retry_after), "error")
            response = make_response(_password_page(form, forced), 429)
            response.headers["Retry-After"] = str(limited.retry_after)
            return response
        except staff.StaffError as refused:
            flash(staff_message(refused), "error")
            return _password_page(form, forced), 422
        flash(_("Kata sandi Anda sudah diganti."), "ok")
        return redirect(url_for("home.index"))
    return _password_page(form, forced)


def _password_page(form: PasswordForm, forced: bool) -> str:
    return render_template(
        "auth/password.html", form=form, forced=forced, min_length=policy.MIN_LENGTH
    )


@bp.get("/lang/<code>")
def set_language(code: str):  # type: ignore[no-untyped-def]
    target = _safe_next(request.args.get("next")) or url_for("home.index")
    response = make_response(redirect(target))
    if code in ("id", "en"):
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax")
    return response


def _safe_next(target: str | None) -> str | None:
    """Only same-site relative paths: no open redirect through ``?next=``."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
