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
    "session_closed": _l("Sesi ujian sudah ditutup. Ujian tidak dapat dimulai; hubungi pengawas."),
    "token_expired": _l(
        "Waktu sesi ujian sudah berakhir: token yang Anda masukkan tidak berlaku lagi dan ujian "
        "tidak dapat dimulai. Hubungi pengawas."
    ),
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
    "login_expired": _l(
        "Login Anda berakhir karena terlalu lama tidak aktif atau sudah melewati batas waktunya. "
        "Silakan masuk kembali."
    ),
    "too_many_requests": _l("Terlalu banyak permintaan. Coba lagi sebentar lagi."),
    "late_answers_full": _l(
        "Server tidak menerima jawaban terlambat lagi untuk ujian ini. Simpan berkas "
        "penyelamatan dan serahkan kepada pengawas."
    ),
    # The lab boundary (docs/lab-boundary.md); boundary_message() adds the seat where known.
    "outside_lab_network": _l(
        "Ujian sesi ini hanya dapat dikerjakan dari komputer di ruang ujian. Gunakan komputer "
        "lab yang disediakan, atau hubungi pengawas."
    ),
    "seb_required": _l(
        "Ujian sesi ini hanya dapat dikerjakan dengan Safe Exam Browser yang disiapkan panitia. "
        "Buka ujian melalui Safe Exam Browser di komputer lab, atau hubungi pengawas."
    ),
    "wrong_seat": _l(
        "Komputer ini bukan kursi Anda. Pindah ke kursi yang tertera pada kartu ujian Anda dan "
        "hubungi pengawas."
    ),
    "no_seat_assigned": _l(
        "Anda belum mendapat kursi di sesi ini. Hubungi pengawas untuk mendapatkan kursi."
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


def boundary_message(refused) -> str:  # type: ignore[no-untyped-def]
    """The participant's text for a lab-boundary refusal (cbt_server/delivery/boundary.py):
    which seat to go to, and which seat this PC is, when known."""
    if refused.code != "wrong_seat" or not refused.seat:
        return delivery_message(refused.code)
    if refused.this_seat:
        return _(
            "Komputer ini adalah kursi %(here)s, bukan kursi Anda. Silakan pindah ke kursi "
            "%(seat)s dan hubungi pengawas.",
            here=refused.this_seat,
            seat=refused.seat,
        )
    return _(
        "Komputer ini tidak terdaftar sebagai kursi Anda. Silakan pindah ke kursi %(seat)s dan "
        "hubungi pengawas.",
        seat=refused.seat,
    )
