"""Item analysis: a battery's (or one session's) page and its four tables as CSV and XLSX
downloads (docs/downloads.md), each audited.

``?session=<id>`` narrows any of them to one session of the battery; the session entry point
on the desk redirects to the battery's page with that filter.
"""

from __future__ import annotations

from flask import (
    Response,
    abort,
    redirect,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)

from cbt_server.assessment.downloads import csv_stream, xlsx_file
from cbt_server.assessment.item_analysis import (
    CUTS,
    ItemAnalysisReport,
    item_analysis,
    session_battery_code,
)
from cbt_server.assessment.item_analysis_tables import TABLES
from cbt_server.assessment.scoresheet import made_at
from cbt_server.web.assessor import XLSX, audited, bp
from cbt_server.web.assessor.scores import download_style


def _report(code: str) -> ItemAnalysisReport:
    raw = request.args.get("session") or None  # the form's "all sessions" sends it empty
    if raw is not None and not raw.isdigit():
        abort(404)
    try:
        return item_analysis(code, int(raw) if raw else None)
    except LookupError:
        abort(404)


@bp.get("/batteries/<code>/analysis")
def battery_analysis(code: str):  # type: ignore[no-untyped-def]
    report = _report(code)
    # The page lists each person's standard scores: a view of personal results.
    audited(
        "analysis.view",
        report.battery_code,
        session=report.session.code if report.session else None,
    )
    return render_template("assessor/analysis.html", report=report, cuts=CUTS)


@bp.get("/sessions/<int:session_id>/analysis")
def session_analysis(session_id: int):  # type: ignore[no-untyped-def]
    code = session_battery_code(session_id)
    if code is None:
        abort(404)
    return redirect(url_for("assessor.battery_analysis", code=code, session=session_id))


def _send(code: str, kind: str) -> Response:
    report = _report(code)
    table = TABLES[kind](report)
    style = download_style()
    audited(
        f"download.analysis.{kind}.csv",
        table.filename,
        battery=code,
        session=report.session.code if report.session else None,
        csv=style.code,
    )
    return Response(
        stream_with_context(csv_stream(table.header, table.rows, style)),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{table.filename}.csv"'},
    )


def _send_xlsx(code: str, kind: str) -> Response:
    report = _report(code)
    table = TABLES[kind](report)
    audited(
        f"download.analysis.{kind}.xlsx",
        table.filename,
        battery=code,
        session=report.session.code if report.session else None,
    )
    scope = f" — sesi {report.session.code}" if report.session else ""
    data = xlsx_file(
        f"{table.name}: {report.title} ({report.battery_code}){scope}",
        table.header,
        table.kinds,
        table.rows,
        subtitle=f"{report.n_people} percobaan selesai · {made_at()}",
        frozen_columns=1,
    )
    return send_file(
        data, mimetype=XLSX, as_attachment=True, download_name=f"{table.filename}.xlsx"
    )


@bp.get("/batteries/<code>/analysis.csv")
def battery_analysis_csv(code: str):  # type: ignore[no-untyped-def]
    return _send(code, "items")


@bp.get("/batteries/<code>/analysis.xlsx")
def battery_analysis_xlsx(code: str):  # type: ignore[no-untyped-def]
    return _send_xlsx(code, "items")


@bp.get("/batteries/<code>/analysis-options.xlsx")
def battery_analysis_options_xlsx(code: str):  # type: ignore[no-untyped-def]
    return _send_xlsx(code, "options")


@bp.get("/batteries/<code>/reliability.xlsx")
def battery_reliability_xlsx(code: str):  # type: ignore[no-untyped-def]
    return _send_xlsx(code, "reliability")


@bp.get("/batteries/<code>/standard-scores.xlsx")
def battery_standard_scores_xlsx(code: str):  # type: ignore[no-untyped-def]
    return _send_xlsx(code, "standard_scores")


@bp.get("/batteries/<code>/analysis-options.csv")
def battery_analysis_options_csv(code: str):  # type: ignore[no-untyped-def]
    return _send(code, "options")


@bp.get("/batteries/<code>/reliability.csv")
def battery_reliability_csv(code: str):  # type: ignore[no-untyped-def]
    return _send(code, "reliability")


@bp.get("/batteries/<code>/standard-scores.csv")
def battery_standard_scores_csv(code: str):  # type: ignore[no-untyped-def]
    return _send(code, "standard_scores")
