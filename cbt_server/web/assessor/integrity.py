"""The integrity page: both hash chains verified, scores against their seals, and a digest or a
chain head typed from paper checked (docs/tamper-evidence.md).

Assessors read it; sealing the scores stored before sealing began is an admin's step."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from cbt_server import audit_check, integrity
from cbt_server.db import write_transaction
from cbt_server.web.assessor import bp


class SealForm(FlaskForm):
    pass


@bp.get("/integrity")
def integrity_page():  # type: ignore[no-untyped-def]
    report = audit_check.verify()
    return render_template(
        "assessor/integrity.html",
        report=report,
        digest_check=_digest_check(),
        anchor_check=_anchor_check(),
        form=SealForm(),
        may_seal=current_user.role == "admin"
        and report.unsealed_existing
        and not report.seal_existing_done,
        chains=audit_check.anchors(),
        short=integrity.short,
    )


def _digest_check() -> dict | None:
    """A session's results digest against what was typed from its printout."""
    code = (request.args.get("session") or "").strip()
    typed = request.args.get("digest") or ""
    if not code or not typed:
        return None
    session = audit_check.session_by_code(code)
    if session is None:
        return {"session": code, "found": False}
    current = audit_check.session_digest(session)
    return {
        "session": code,
        "found": True,
        "typed": typed,
        "match": integrity.matches(typed, current),
        "current": current,
    }


def _anchor_check() -> dict | None:
    """A chain's head as printed (link number and hash) against the link stored there now."""
    chain = request.args.get("chain") or "audit"
    raw, typed = request.args.get("seq") or "", request.args.get("hash") or ""
    if not raw.isdigit() or not typed or chain not in ("audit", "scores"):
        return None
    outcome = audit_check.check_anchor(chain, int(raw), typed)
    return {"chain": chain, "seq": int(raw), "typed": typed, "match": outcome}


@bp.post("/integrity/seal-existing")
def seal_existing():  # type: ignore[no-untyped-def]
    if current_user.role != "admin":
        abort(403)
    if not SealForm().validate_on_submit():
        abort(400)
    try:
        with write_transaction():
            count = audit_check.seal_existing(current_user)
    except ValueError:
        flash(_("Nilai lama sudah pernah disegel."), "error")
    else:
        flash(
            _("Nilai %(n)s percobaan yang tersimpan sebelum penyegelan telah disegel.", n=count),
            "ok",
        )
    return redirect(url_for("assessor.integrity_page"))
