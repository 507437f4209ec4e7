"""Question banks from the browser: upload, the report of problems, the versions list and the item
preview with its key, through the test client (docs/question-banks.md, "Importing banks from
the browser")."""

from __future__ import annotations

import html
import io
import random
import re
import stat
import tempfile
import time
import zipfile
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from cbt_server.accounts.service import create_user
from cbt_server.models import AuditEntry, BankVersion, BatteryVersion, Item, db
from tests.builders import FIXTURE_BANKS, make_session
from tests.helpers import csrf_token, login

BANK = FIXTURE_BANKS / "banks" / "UJI"
NEW_ITEM = """
  - id: U-BARU
    type: single
    competency: T.UJ.01
    stem: Berapa hasil **dua** ditambah dua?
    options: {A: "3", B: "4", C: "5"}
    key: B
"""


@pytest.fixture
def world(app: Flask, fixture_banks):  # type: ignore[no-untyped-def]
    """The fixture banks imported, a session using BAT-UJI, and one account of every role."""
    lab = make_session(app, participants=1, code="S-BANK")
    with app.app_context():
        create_user("asesor-1", "sandi-asesor", "assessor", "Asesor Satu")
        create_user("admin-1", "sandi-admin", "admin", "Admin Satu")
        db.session.commit()
    return {
        "participant": lab.participants[0],
        "proctor": lab.proctors[0],
        "assessor": ("asesor-1", "sandi-asesor"),
        "admin": ("admin-1", "sandi-admin"),
    }


def _client(app: Flask, accounts, role: str) -> FlaskClient:  # type: ignore[no-untyped-def]
    client = app.test_client()
    if role != "anonymous":
        assert login(client, *accounts[role]).status_code == 302
    return client


@pytest.fixture
def admin(app: Flask, world) -> FlaskClient:  # type: ignore[no-untyped-def]
    return _client(app, world, "admin")


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where uploads are unpacked, to see that nothing stays behind."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def bank_zip(
    edit=lambda text: text,  # type: ignore[no-untyped-def]
    folder: Path = BANK,
    top: str = "UJI/",
    extra: dict[str, bytes] | None = None,
) -> bytes:
    """A zip of a bank folder (or any folder), ``bank.yaml`` passed through ``edit``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                data = path.read_bytes()
                if path.name == "bank.yaml" and path.parent == BANK:
                    data = edit(data.decode("utf-8")).encode("utf-8")
                archive.writestr(top + path.relative_to(folder).as_posix(), data)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def upload(client: FlaskClient, name: str, data: bytes):  # type: ignore[no-untyped-def]
    token = csrf_token(client.get("/banks/import").get_data(as_text=True))
    return client.post(
        "/banks/import",
        data={"csrf_token": token, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def text_of(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(response.get_data(as_text=True))


def problem_rows(page: str) -> list[tuple[str, ...]]:
    """(file, line, item, problem) rows of the report table."""
    table = re.search(r'data-testid="bank-problems".*?</table>', page, re.S)
    assert table, "no report table in the page"
    cells = r"<td>(.*?)</td><td class=\"num\">(.*?)</td><td>(.*?)</td><td>(.*?)</td>"
    return [tuple(html.unescape(c) for c in row) for row in re.findall(cells, table[0])]


def versions(app: Flask, model=BankVersion) -> int:  # type: ignore[no-untyped-def]
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model)) or 0


def last_audit(app: Flask) -> AuditEntry:
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
        db.session.expunge_all()
        return entry


def with_new_item(text: str) -> str:
    return text.rstrip("\n") + "\n" + NEW_ITEM


# ---- importing --------------------------------------------------------------------------------


def test_a_clean_zip_becomes_a_new_version_on_the_list(app: Flask, admin, scratch) -> None:  # type: ignore[no-untyped-def]
    before = versions(app)
    response = upload(admin, "UJI.zip", bank_zip(with_new_item))
    page = text_of(response)
    assert response.status_code == 200, page
    assert "Impor berhasil: versi baru tersimpan." in page
    assert re.search(r"Versi bank baru: UJI 1 \([0-9a-f]{12}\)", page)
    assert versions(app) == before + 1
    with app.app_context():
        new = db.session.scalars(select(BankVersion).order_by(BankVersion.id.desc())).first()
        assert db.session.scalar(
            select(Item.id).where(Item.bank_version_id == new.id, Item.item_code == "U-BARU")
        )
        new_id, short = new.id, new.content_hash[:12]
    assert new.source_path == "UJI.zip: UJI/bank.yaml"
    entry = last_audit(app)
    assert (entry.action, entry.actor_label, entry.target) == ("banks.import", "admin-1", "UJI.zip")
    assert entry.details["new_banks"] == [f"UJI 1 ({short})"]
    assert list(scratch.iterdir()) == []  # the temporary folder is gone

    listing = text_of(admin.get("/banks/"))
    row = re.search(rf'data-testid="bank-version-{new_id}">(.*?)</tr>', listing, re.S)
    assert row and short in row[1] and "oleh admin-1" in row[1] and ">9<" in row[1]
    # The new version is not drawn from yet: BAT-UJI keeps the version it was imported with,
    # which the session S-BANK uses.
    assert "BAT-UJI" not in row[1]
    rows = dict(re.findall(r'data-testid="bank-version-(\d+)">(.*?)</tr>', listing, re.S))
    old = rows[str(min(int(i) for i in rows))]
    assert "BAT-UJI v1" in old and "oleh cli" in old
    battery = re.search(r'data-testid="battery-version-\d+">(.*?)</tr>', listing, re.S)
    assert battery and "S-BANK" in battery[1] and "UJI v1" in battery[1] and ">8<" in battery[1]


def test_the_same_upload_again_is_already_imported(app: Flask, admin) -> None:  # type: ignore[no-untyped-def]
    data = bank_zip(with_new_item)
    assert upload(admin, "UJI.zip", data).status_code == 200
    before = versions(app)
    again = upload(admin, "UJI.zip", data)
    page = text_of(again)
    assert again.status_code == 200
    assert "sudah diimpor sebelumnya: tidak ada versi baru" in page
    assert re.search(r"Bank sudah diimpor sebelumnya \(tidak berubah\): UJI 1 \(", page)
    assert versions(app) == before
    entry = last_audit(app)
    assert entry.action == "banks.import" and entry.actor_label == "admin-1"
    assert entry.details["new_banks"] == [] and len(entry.details["unchanged_banks"]) == 1


def test_a_broken_item_is_reported_by_file_line_and_item_and_nothing_is_imported(  # type: ignore[no-untyped-def]
    app: Flask, admin, scratch
) -> None:
    text = (BANK / "bank.yaml").read_text(encoding="utf-8")
    line = text.splitlines().index("  - id: U-SGL") + 1
    broken = bank_zip(lambda t: with_new_item(t).replace("key: B\n", "key: Z\n", 1))
    before = (versions(app), versions(app, BatteryVersion))
    response = upload(admin, "UJI-rusak.zip", broken)
    page = text_of(response)
    assert response.status_code == 422
    assert "Berkas memuat masalah: tidak ada yang diimpor." in page
    rows = problem_rows(page)
    assert rows == [
        ("UJI/bank.yaml", str(line), "U-SGL", "key Z is not among the options (A, B, C, D)")
    ]
    assert (versions(app), versions(app, BatteryVersion)) == before
    entry = last_audit(app)
    assert entry.action == "banks.import_refused" and entry.actor_label == "admin-1"
    assert entry.details["why"] == "problems" and entry.details["problems"] == 1
    assert list(scratch.iterdir()) == []


def _symlink_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("UJI/bank.yaml", (BANK / "bank.yaml").read_bytes())
        link = zipfile.ZipInfo("UJI/media/kotak.svg")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    return buffer.getvalue()


def _bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("UJI/bank.yaml", (BANK / "bank.yaml").read_bytes())
        archive.writestr("UJI/media/besar.png", b"\0" * 3_000_000)  # some 3 kB compressed
    return buffer.getvalue()


REFUSALS = {
    "zip slip": (
        "UJI.zip",
        lambda: bank_zip(extra={"../../luar.yaml": b"code: X\n"}),
        "“../../luar.yaml” menunjuk ke luar folder zip",
    ),
    "absolute path": (
        "UJI.zip",
        lambda: bank_zip(extra={"/etc/cbt.yaml": b"code: X\n"}),
        "“/etc/cbt.yaml” menunjuk ke luar folder zip",
    ),
    "symlink": ("UJI.zip", _symlink_zip, "“UJI/media/kotak.svg” adalah tautan simbolik"),
    "other file kinds": (
        "UJI.zip",
        lambda: bank_zip(extra={"UJI/jalankan.sh": b"rm -rf /\n"}),
        "“UJI/jalankan.sh” bukan jenis berkas bank soal",
    ),
    "not a zip": ("UJI.zip", lambda: b"bukan zip sama sekali", "bukan arsip zip yang utuh"),
    "wrong type": ("catatan.txt", lambda: b"teks", "Jenis berkas tidak didukung"),
    "too many files": (
        "UJI.zip",
        lambda: bank_zip(extra={f"UJI/media/{n}.png": b"x" for n in range(4)}),
        "memuat lebih dari 5 berkas",
    ),
    "too large": (
        "UJI.zip",
        lambda: bank_zip(extra={"UJI/media/a.png": random.Random(1).randbytes(150_000)}),
        "Berkas terlalu besar: batasnya 100 kB.",
    ),
    "zip bomb": ("UJI.zip", _bomb, "isinya setelah diekstrak lebih dari 1,0 MB"),
    "two banks": (
        "dua.zip",
        lambda: bank_zip(top="A/", extra={"B/bank.yaml": (BANK / "bank.yaml").read_bytes()}),
        "Zip memuat 2 berkas bank.yaml",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_unsafe_or_wrong_uploads_are_refused_with_a_clear_message(  # type: ignore[no-untyped-def]
    app: Flask, admin, scratch, case: str
) -> None:
    app.config.update(
        CBT_BANK_UPLOAD_MAX_BYTES=100_000,
        CBT_BANK_UPLOAD_MAX_UNZIPPED_BYTES=1_000_000,
        CBT_BANK_UPLOAD_MAX_FILES=5,
    )
    name, build, message = REFUSALS[case]
    before = (versions(app), versions(app, BatteryVersion))
    response = upload(admin, name, build())
    page = text_of(response)
    assert response.status_code == 422, page
    assert message in page and "Tidak ada yang diimpor." in page
    assert (versions(app), versions(app, BatteryVersion)) == before
    entry = last_audit(app)
    assert entry.action == "banks.import_refused" and entry.target == name
    assert entry.details["why"] != "problems" and len(entry.details["sha256"]) == 64
    assert list(scratch.iterdir()) == []


def test_nested_yaml_aliases_cost_the_file_size_not_their_expansion(app: Flask, admin) -> None:  # type: ignore[no-untyped-def]
    """A "billion laughs": nine levels of nine aliases would expand to 9^9 values."""
    layers = ['l0: &l0 ["ha", "ha", "ha", "ha", "ha", "ha", "ha", "ha", "ha"]']
    layers += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, 9)]
    text = (
        (BANK / "bank.yaml")
        .read_text(encoding="utf-8")
        .replace("language: id\n", "language: id\n" + "\n".join(layers) + "\n")
    )
    started = time.monotonic()
    response = upload(admin, "tawa.yaml", text.encode())
    assert time.monotonic() - started < 10
    assert response.status_code == 422
    assert "unknown field 'l8' in the bank" in text_of(response)


def test_a_request_past_the_server_cap_says_so_on_the_upload_page(app: Flask, admin) -> None:  # type: ignore[no-untyped-def]
    app.config.update(MAX_CONTENT_LENGTH=50_000, CBT_BANK_UPLOAD_MAX_BYTES=40_000)
    response = upload(admin, "UJI.zip", b"x" * 60_000)
    assert response.status_code == 413
    assert "Berkas terlalu besar: batasnya 40 kB." in text_of(response)


def test_one_bank_yaml_file_is_checked_against_the_stored_dictionary(app: Flask, admin) -> None:  # type: ignore[no-untyped-def]
    text = with_new_item((BANK / "bank.yaml").read_text(encoding="utf-8"))
    refused = upload(admin, "uji.yaml", text.encode())
    rows = problem_rows(text_of(refused))
    # The file came alone: the image it names is not there. The report names the file as
    # uploaded, never the server's temporary folder.
    assert rows == [
        ("uji.yaml", rows[0][1], "U-SGL", "image 'kotak.svg' is missing: put it in media")
    ]
    before = versions(app)
    plain = text.replace("    image: kotak.svg\n", "")
    response = upload(admin, "uji.yaml", plain.encode())
    assert response.status_code == 200 and "Versi bank baru: UJI 1" in text_of(response)
    assert versions(app) == before + 1
    unknown = plain.replace("competency: T.UJ.01", "competency: T.XX.99", 1)
    rows = problem_rows(text_of(upload(admin, "uji.yaml", unknown.encode())))
    assert rows[0][3] == "unknown competency T.XX.99: it is not in the competency dictionary"


def test_a_whole_question_banks_zip_imports_dictionary_banks_and_batteries(app: Flask) -> None:
    with app.app_context():
        create_user("admin-1", "sandi-admin", "admin", "Admin Satu")
        db.session.commit()
    client = app.test_client()
    assert login(client, "admin-1", "sandi-admin").status_code == 302
    response = upload(client, "qb.zip", bank_zip(folder=FIXTURE_BANKS, top="question_banks/"))
    page = text_of(response)
    assert response.status_code == 200, page
    assert "Versi bank baru: UJI 1" in page and "Versi baterai baru: BAT-UJI 1" in page
    assert versions(app) == 1 and versions(app, BatteryVersion) == 1
    listing = text_of(client.get("/banks/"))
    battery = re.search(r'data-testid="battery-version-\d+">(.*?)</tr>', listing, re.S)
    assert battery and "UJI v1" in battery[1] and "oleh admin-1" in battery[1]


# ---- preview -----------------------------------------------------------------------------------


def _item(app: Flask, code: str) -> tuple[int, int]:
    with app.app_context():
        row = db.session.execute(
            select(Item.bank_version_id, Item.id).where(Item.item_code == code)
        ).first()
        return row[0], row[1]


@pytest.mark.parametrize("role", ["assessor", "admin"])
def test_the_preview_shows_the_item_as_participants_see_it_with_its_key(  # type: ignore[no-untyped-def]
    app: Flask, world, role: str
) -> None:
    client = _client(app, world, role)
    version_id, item_id = _item(app, "U-SGL")
    listing = text_of(client.get(f"/banks/versions/{version_id}"))
    assert f"/banks/versions/{version_id}/items/{item_id}" in listing
    response = client.get(f"/banks/versions/{version_id}/items/{item_id}")
    page = text_of(response)
    assert response.status_code == 200
    assert "Ibu kota Indonesia saat ini secara hukum adalah?" in page
    assert 'class="option keyed"' in page and "Jakarta" in page
    assert re.search(r'data-testid="key-value">B<', page)
    assert "T.UJ.01 — Pengetahuan Uji" in page
    assert re.search(r'<img class="item-image" src="/media/[0-9a-f]{64}"', page)
    entry = last_audit(app)
    assert entry.action == "bank.item_preview" and entry.target == "UJI U-SGL"
    assert entry.actor_label == world[role][0]

    for code, key in (("U-SHORT", "Garuda | Garuda Pancasila"), ("U-W", "A = 1,0; B = 4,0")):
        version_id, item_id = _item(app, code)
        page = text_of(client.get(f"/banks/versions/{version_id}/items/{item_id}"))
        assert re.search(rf'data-testid="key-value">{re.escape(key)}', page), code


def test_an_item_of_another_version_is_not_found(app: Flask, world) -> None:  # type: ignore[no-untyped-def]
    client = _client(app, world, "assessor")
    version_id, item_id = _item(app, "U-SGL")
    assert client.get(f"/banks/versions/{version_id + 99}/items/{item_id}").status_code == 404
    assert client.get(f"/banks/versions/{version_id + 99}").status_code == 404


# ---- who may -----------------------------------------------------------------------------------


def _bank_routes(app: Flask, version_id: int, item_id: int) -> list[tuple[str, str, str]]:
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("banks."):
            continue
        path = rule.rule.replace("<int:version_id>", str(version_id)).replace(
            "<int:item_id>", str(item_id)
        )
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((rule.endpoint, method, path))
    return routes


@pytest.mark.parametrize("role", ["anonymous", "participant", "proctor", "assessor", "admin"])
def test_bank_pages_are_for_assessors_and_admins_and_imports_for_admins(  # type: ignore[no-untyped-def]
    app: Flask, world, role: str
) -> None:
    client = _client(app, world, role)
    token = csrf_token(
        client.get("/home" if role != "anonymous" else "/login").get_data(as_text=True)
    )
    routes = _bank_routes(app, *_item(app, "U-SGL"))
    assert len(routes) >= 5
    versions_before = versions(app)
    for endpoint, method, path in routes:
        if method == "POST":
            data = {"csrf_token": token, "file": (io.BytesIO(bank_zip(with_new_item)), "u.zip")}
            response = client.post(path, data=data, content_type="multipart/form-data")
        else:
            response = client.get(path)
        if role == "anonymous":
            assert response.status_code == 302 and "/login" in response.headers["Location"]
        elif role in ("participant", "proctor") or (
            role == "assessor" and endpoint == "banks.upload"
        ):
            assert response.status_code == 403, (role, method, path)
        else:
            assert response.status_code == 200, (role, method, path)
    assert versions(app) == versions_before + (1 if role == "admin" else 0)
    home = client.get("/home").get_data(as_text=True) if role != "anonymous" else ""
    assert ('data-testid="go-banks"' in home) == (role in ("assessor", "admin"))
