"""Competency profiles (one person, or a whole session to print) and group views with the 9-box.

Profiles show personal data: every view and every print is audited like a download.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from cbt_server.assessment import group, profiles
from cbt_server.profiling import NineBoxConfig
from cbt_server.web.assessor import audited, bp, exam_session


def _scale():  # type: ignore[no-untyped-def]
    return profiles.jpm_scale(request.args.get("scale"))


@bp.get("/people/<int:user_id>/profile")
def person_profile(user_id: int):  # type: ignore[no-untyped-def]
    view = profiles.person_profile(user_id, _scale())
    if view is None:
        abort(404)
    audited("profile.view", view.nip or view.name, user_id=user_id)
    back = request.referrer if request.referrer else url_for("assessor.index")
    return render_template("assessor/profile.html", p=view, back=back)


@bp.get("/sessions/<int:session_id>/profiles")
def session_profiles(session_id: int):  # type: ignore[no-untyped-def]
    session = exam_session(session_id)
    views = profiles.session_profiles(session, _scale())
    audited(
        "profile.print_all", session.code, people=len(views), user_ids=[v.user_id for v in views]
    )
    return render_template("assessor/profiles.html", session=session, profiles=views)


@bp.get("/sessions/<int:session_id>/group")
def session_group(session_id: int):  # type: ignore[no-untyped-def]
    session = exam_session(session_id)
    view = group.session_group(session, _ninebox_config())
    audited("group.view", session.code)
    return render_template("assessor/group.html", view=view, unit=None)


@bp.get("/group")
def unit_group():  # type: ignore[no-untyped-def]
    unit = (request.args.get("unit") or "").strip()
    if not unit:
        flash(_("Pilih unit kerja dari daftar."), "error")
        return redirect(url_for("assessor.index", _anchor="units"))
    view = group.unit_group(unit, _ninebox_config())
    if view is None:
        abort(404)
    audited("group.view", unit)
    return render_template("assessor/group.html", view=view, unit=unit)


def _ninebox_config() -> NineBoxConfig:
    """Cut points from the page's form (a GET: nothing changes), else the configured ones."""
    args = request.args
    try:
        return NineBoxConfig(
            potential=group.cuts(
                "CBT_NINEBOX_POTENTIAL_CUTS",
                args.get("potential_low", type=float),
                args.get("potential_high", type=float),
            ),
            performance=group.cuts(
                "CBT_NINEBOX_PERFORMANCE_CUTS",
                args.get("performance_low", type=float),
                args.get("performance_high", type=float),
            ),
        )
    except ValueError:
        flash(_("Batas 9-box tidak sah: batas bawah harus lebih kecil dari batas atas."), "error")
        return NineBoxConfig(
            potential=group.cuts("CBT_NINEBOX_POTENTIAL_CUTS"),
            performance=group.cuts("CBT_NINEBOX_PERFORMANCE_CUTS"),
        )
