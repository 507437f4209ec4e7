"""The audit log viewer: the audit rows, filtered by who, what, session, person and time, as a
page and as a CSV (docs/assessor.md, "Audit log").

Read only: GET routes, nothing here writes but the export's own audit row. Assessors and
admins (the blueprint's guard); proctors do not see it.
"""

from __future__ import annotations

from flask import Response, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _

from cbt_server import audit_log
from cbt_server.assessment.downloads import csv_stream
from cbt_server.clock import now
from cbt_server.localtime import to_local
from cbt_server.web.assessor import audited, bp
from cbt_server.web.assessor.scores import download_style


@bp.get("/audit-log")
def audit_log_page():  # type: ignore[no-untyped-def]
    where = audit_log.AuditFilter.from_args(request.args)
    raw = request.args.get("before", "")
    before = int(raw) if raw.isdigit() else None
    found = audit_log.page(where, before)
    style = download_style()
    return render_template(
        "assessor/audit_log.html",
        where=where,
        found=found,
        first_page=before is None,
        actions=audit_log.actions(),
        newest=url_for("assessor.audit_log_page", **where.args()),
        older=url_for("assessor.audit_log_page", **where.args(), before=found.older)
        if found.older is not None
        else None,
        csv=url_for("assessor.audit_log_csv", **where.args(), csv=style.code),
    )


@bp.get("/audit-log.csv")
def audit_log_csv():  # type: ignore[no-untyped-def]
    where = audit_log.AuditFilter.from_args(request.args)
    style = download_style()
    upto = audit_log.last_id()  # the log as asked for, without the export's own row
    audited("download.audit_log.csv", "audit_log", csv=style.code, **where.args())
    header = [
        _("Waktu"),
        _("Mata rantai"),
        _("Pelaku"),
        _("Tindakan"),
        _("Sasaran"),
        _("Alasan"),
        _("Rincian"),
    ]
    rows = (
        [
            to_local(line.at).isoformat(timespec="seconds"),  # type: ignore[union-attr]
            line.chain_seq,
            line.actor_label,
            line.action,
            line.target,
            line.reason,
            line.details,
        ]
        for line in audit_log.all_lines(where, upto)
    )
    stamp = to_local(now()).strftime("%Y%m%d-%H%M")  # type: ignore[union-attr]
    return Response(
        stream_with_context(csv_stream(header, rows, style)),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="log-audit-{stamp}.csv"'},
    )
