"""``banks validate`` / ``banks import`` / ``demo`` through the CLI, on a real database."""

from __future__ import annotations

import shutil
from pathlib import Path

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from cbt_server.models import (
    AuditEntry,
    BankVersion,
    BatteryVersion,
    Competency,
    Item,
    ItemKey,
    MediaFile,
    PositionRequirement,
    db,
)
from tests.conftest import BANKS_PATH


def _count(model) -> int:  # type: ignore[no-untyped-def]
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def test_shipped_banks_validate(runner: FlaskCliRunner):
    result = runner.invoke(args=["banks", "validate", str(BANKS_PATH)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK:")


def test_import_then_reimport_is_a_no_op(app: Flask, runner: FlaskCliRunner):
    first = runner.invoke(args=["banks", "import", str(BANKS_PATH)])
    assert first.exit_code == 0, first.output
    assert "new bank version: TEK-WP" in first.output
    with app.app_context():
        counts = {m: _count(m) for m in (BankVersion, BatteryVersion, Item, ItemKey, MediaFile)}
        assert counts[BankVersion] >= 3 and counts[BatteryVersion] >= 3
        assert counts[Item] == counts[ItemKey] > 0
        assert counts[MediaFile] >= 1
        assert _count(Competency) >= 9 + 8 + 5
        assert _count(PositionRequirement) > 0
        audits = _count(AuditEntry)
    second = runner.invoke(args=["banks", "import", str(BANKS_PATH)])
    assert second.exit_code == 0, second.output
    assert "new bank version" not in second.output
    with app.app_context():
        assert {m: _count(m) for m in counts} == counts
        assert _count(AuditEntry) == audits


def test_changed_bank_makes_a_new_version_and_keeps_the_old(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
):
    copy = tmp_path / "question_banks"
    shutil.copytree(BANKS_PATH, copy)
    assert runner.invoke(args=["banks", "import", str(copy)]).exit_code == 0
    bank_file = copy / "banks" / "TEK-WP" / "bank.yaml"
    bank_file.write_text(bank_file.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    result = runner.invoke(args=["banks", "import", str(copy)])
    assert result.exit_code == 0, result.output
    assert "new bank version: TEK-WP" in result.output
    # The battery drawing from the bank gets a new version as well; the others do not.
    assert "new battery version: BAT-TEK-WP" in result.output
    assert "BAT-INTEGRITAS" not in result.output
    with app.app_context():
        versions = db.session.scalars(
            select(BankVersion).where(BankVersion.code == "TEK-WP").order_by(BankVersion.id)
        ).all()
        assert len(versions) == 2 and versions[0].content_hash != versions[1].content_hash
        batteries = db.session.scalars(
            select(BatteryVersion).where(BatteryVersion.code == "BAT-TEK-WP")
        ).all()
        pinned = {
            rule["bank_version_id"]
            for b in batteries
            for s in b.definition["sections"]
            for rule in s["rules"]
        }
        assert pinned == {v.id for v in versions}


def test_a_file_with_an_error_imports_nothing(app: Flask, runner: FlaskCliRunner, tmp_path: Path):
    copy = tmp_path / "question_banks"
    shutil.copytree(BANKS_PATH, copy)
    bank_file = copy / "banks" / "TEK-WP" / "bank.yaml"
    text = bank_file.read_text(encoding="utf-8")
    bank_file.write_text(
        text.replace("competency: T.WP.01", "competency: T.XX.99", 1), encoding="utf-8"
    )
    result = runner.invoke(args=["banks", "import", str(copy)])
    assert result.exit_code == 1
    assert "T.XX.99" in result.output and "bank.yaml" in result.output
    assert "Nothing was imported." in result.output
    with app.app_context():
        assert _count(BankVersion) == 0 and _count(Competency) == 0 and _count(Item) == 0


def test_validate_reports_file_item_and_line(runner: FlaskCliRunner, tmp_path: Path):
    copy = tmp_path / "question_banks"
    shutil.copytree(BANKS_PATH, copy)
    bank_file = copy / "banks" / "TEK-WP" / "bank.yaml"
    text = bank_file.read_text(encoding="utf-8")
    bank_file.write_text(text.replace("key:", "kunci:", 1), encoding="utf-8")
    result = runner.invoke(args=["banks", "validate", str(copy)])
    assert result.exit_code == 1
    line = next(ln for ln in result.output.splitlines() if "bank.yaml:" in ln)
    assert "TWP-" in line
    assert line.split("bank.yaml:")[1].split(":")[0].isdigit()


def test_demo_creates_accounts_for_every_role_and_a_session(imported: Flask, runner):
    from tests.helpers import login

    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert "DEMO-01" in result.output and "token:" in result.output
    accounts = {}
    for line in result.output.splitlines():
        parts = line.split()
        if parts and parts[0] in ("admin", "proctor", "assessor", "participant"):
            accounts.setdefault(parts[0], (parts[1], parts[2]))
    assert set(accounts) == {"admin", "proctor", "assessor", "participant"}
    for role, (username, password) in accounts.items():
        client = imported.test_client()
        assert login(client, username, password).status_code == 302, role
        home = client.get("/home").get_data(as_text=True)
        assert "DEMO-01" in home, f"{role} should see the demo session"
    # Re-running refreshes (new passwords) instead of failing.
    again = runner.invoke(args=["demo"])
    assert again.exit_code == 0, again.output


def test_demo_without_banks_says_what_to_do(runner):
    result = runner.invoke(args=["demo"])
    assert result.exit_code != 0
    assert "banks import" in result.output


def test_demo_leaves_accounts_it_did_not_make_alone(imported: Flask, runner):
    """An admin named like the demo's (made in production) keeps their password."""
    from cbt_server.accounts.service import create_user
    from cbt_server.db import write_transaction
    from cbt_server.models import User
    from tests.helpers import login

    with imported.app_context(), write_transaction():
        create_user("admin", "sandi-admin-sendiri", "admin", "Admin Sungguhan")
    for _ in range(2):
        result = runner.invoke(args=["demo"])
        assert result.exit_code == 0, result.output
        assert "'admin' is an account the demo did not make" in result.output
    assert login(imported.test_client(), "admin", "sandi-admin-sendiri").status_code == 302
    with imported.app_context():
        demo = dict(db.session.execute(select(User.username, User.demo)).all())
    assert demo["admin"] is False and demo["pengawas"] is True and demo["peserta01"] is True
