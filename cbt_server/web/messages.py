"""Participant-facing texts for refusals, in the participant's language."""

from __future__ import annotations

from flask_babel import gettext as _
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
    "login_ended": _l(
        "Login Anda di komputer ini diakhiri oleh pengawas: ujian Anda dipindahkan ke komputer "
        "lain. Jawaban yang sudah tersimpan tidak hilang. Jika Anda tidak diminta pindah "
        "komputer, hubungi pengawas."
    ),
    "too_many_requests": _l("Terlalu banyak permintaan. Coba lagi sebentar lagi."),
    "late_answers_full": _l(
        "Server tidak menerima jawaban terlambat lagi untuk ujian ini. Simpan berkas "
        "penyelamatan dan serahkan kepada pengawas."
    ),
}


def too_many_tries(retry_after: int) -> str:
    """A refusal for a spent budget (429), with the wait in whole minutes or seconds."""
    if retry_after >= 90:
        return _(
            "Terlalu banyak percobaan. Coba lagi dalam %(n)d menit, atau minta bantuan pengawas.",
            n=(retry_after + 59) // 60,
        )
    return _("Terlalu banyak percobaan. Coba lagi dalam %(n)d detik.", n=retry_after)


def refusal_message(refused) -> str:  # type: ignore[no-untyped-def]
    """The participant's text for a :class:`~cbt_server.delivery.errors.DeliveryError`."""
    if refused.code == "too_many_requests" and refused.retry_after:
        return too_many_tries(refused.retry_after)
    return delivery_message(refused.code)


def delivery_message(code: str) -> str:
    return str(DELIVERY_MESSAGES.get(code, DELIVERY_MESSAGES["bad_request"]))
