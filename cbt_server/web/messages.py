"""Participant-facing texts for refusals, in the participant's language."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

DELIVERY_MESSAGES = {
    "not_enrolled": _l("Anda tidak terdaftar pada sesi ujian mana pun. Hubungi pengawas."),
    "no_attempt": _l("Anda belum memulai ujian."),
    "bad_token": _l("Token salah. Periksa kembali token yang diumumkan pengawas."),
    "stale_token": _l(
        "Token sudah tidak berlaku. Gunakan token terbaru yang ditampilkan pengawas."
    ),
    "session_not_open": _l("Sesi ujian belum dibuka."),
    "session_closed": _l("Sesi ujian sudah ditutup."),
    "other_device": _l(
        "Ujian Anda sedang berlangsung di komputer lain. Minta pengawas untuk mereset login Anda."
    ),
    "attempt_closed": _l("Ujian Anda sudah selesai; jawaban tidak dapat diubah lagi."),
    "attempt_paused": _l("Ujian sedang dijeda oleh pengawas. Mohon tunggu."),
    "deadline_passed": _l("Waktu ujian sudah habis; jawaban ini tidak dapat disimpan."),
    "section_closed": _l("Bagian ini sudah ditutup; jawabannya tidak dapat diubah lagi."),
    "bad_request": _l("Permintaan tidak valid."),
    "not_logged_in": _l("Sesi login Anda berakhir. Silakan masuk kembali."),
}


def delivery_message(code: str) -> str:
    return str(DELIVERY_MESSAGES.get(code, DELIVERY_MESSAGES["bad_request"]))
