"""Score sheets: per session and per battery, as a page, CSV (UTF-8 with BOM) and XLSX.

The CSV's separator and decimal mark follow the interface language, or ``?csv=id`` / ``?csv=en``
(docs/downloads.md).
"""

from __future__ import annotations

from flask import (
    Response,
    abort,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_babel import get_locale

from cbt_server.assessment.downloads import CsvStyle, csv_stream, csv_style, xlsx_file
from cbt_server.assessment.scoresheet import ScoreSheet, battery_sheet, session_sheet
from cbt_server.web.assessor import XLSX, audited, bp, exam_session


def _battery_sheet(code: str) -> ScoreSheet:
    try:
        return battery_sheet(code)
    except LookupError:
        abort(404)


@bp.get("/sessions/<int:session_id>/scores")
def session_scores(session_id: int):  # type: ignore[no-untyped-def]
    session = exam_session(session_id)
    sheet = session_sheet(session)
    audited("scores.view", sheet.filename, session=session.code, digest=sheet.digest)
    links = _links("assessor.session_scores", session_id=session_id)
    return render_template("assessor/scores.html", sheet=sheet, rows=list(sheet.rows), links=links)


@bp.get("/batteries/<code>/scores")
def battery_scores(code: str):  # type: ignore[no-untyped-def]
    sheet = _battery_sheet(code)
    audited("scores.view", sheet.filename, battery=code, digest=sheet.digest)
    links = _links("assessor.battery_scores", code=code)
    return render_template("assessor/scores.html", sheet=sheet, rows=list(sheet.rows), links=links)


def download_style() -> CsvStyle:
    """The CSV style asked for (``?csv=``), else the interface language's."""
    return csv_style(request.args.get("csv"), str(get_locale()))


def _links(endpoint: str, **args: object) -> dict[str, str]:
    """The page's download links: XLSX, the CSV for this language, and the other CSV style."""
    style = download_style()
    other = "en" if style.code == "id" else "id"
    return {
        "csv": url_for(f"{endpoint}_csv", **args, csv=style.code),
        "csv_other": url_for(f"{endpoint}_csv", **args, csv=other),
        "csv_other_code": other,
        "xlsx": url_for(f"{endpoint}_xlsx", **args),
    }


@bp.get("/sessions/<int:session_id>/scores.csv")
def session_scores_csv(session_id: int):  # type: ignore[no-untyped-def]
    return _send_csv(session_sheet(exam_session(session_id)))


@bp.get("/sessions/<int:session_id>/scores.xlsx")
def session_scores_xlsx(session_id: int):  # type: ignore[no-untyped-def]
    return _send_xlsx(session_sheet(exam_session(session_id)))


@bp.get("/batteries/<code>/scores.csv")
def battery_scores_csv(code: str):  # type: ignore[no-untyped-def]
    return _send_csv(_battery_sheet(code))


@bp.get("/batteries/<code>/scores.xlsx")
def battery_scores_xlsx(code: str):  # type: ignore[no-untyped-def]
    return _send_xlsx(_battery_sheet(code))


def _send_csv(sheet: ScoreSheet) -> Response:
    style = download_style()
    audited("download.scores.csv", sheet.filename, csv=style.code, digest=sheet.digest)
    body = csv_stream([c.label for c in sheet.columns], sheet.rows, style)
    return Response(
        stream_with_context(body),
        mimetype="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{sheet.filename}.csv"',
            # A CSV has no place for it that every reader skips: the digest travels beside it
            # (and in the audit row).
            "X-Results-Digest": sheet.digest,
        },
    )


def _send_xlsx(sheet: ScoreSheet) -> Response:
    audited("download.scores.xlsx", sheet.filename, digest=sheet.digest)
    data = xlsx_file(
        sheet.title,
        [c.label for c in sheet.columns],
        [c.kind for c in sheet.columns],
        sheet.rows,
        subtitle=sheet.file_subtitle,
        frozen_columns=sheet.key_columns,
    )
    return send_file(
        data, mimetype=XLSX, as_attachment=True, download_name=f"{sheet.filename}.xlsx"
    )
