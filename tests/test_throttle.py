"""The per-host flood throttle: per client address, shared by every worker, before any work."""

from __future__ import annotations

from pathlib import Path

from cbt_server import create_app
from cbt_server.limits.throttle import Throttle
from cbt_server.models import db


def test_a_bucket_allows_the_burst_then_the_rate(tmp_path: Path) -> None:
    throttle = Throttle(tmp_path / "t.bin", rate=10, burst=5)
    assert [throttle.take("10.0.0.1", now=100.0) for _ in range(5)] == [0.0] * 5
    assert throttle.take("10.0.0.1", now=100.0) == 0.1  # one token a tenth of a second
    assert throttle.take("10.0.0.2", now=100.0) == 0.0  # another PC has its own bucket
    assert throttle.take("10.0.0.1", now=100.11) == 0.0


def test_every_worker_spends_from_the_same_bucket(tmp_path: Path) -> None:
    """Two workers map the same file: the limit is one limit on the host."""
    first = Throttle(tmp_path / "t.bin", rate=1, burst=4)
    second = Throttle(tmp_path / "t.bin", rate=1, burst=4)
    assert first.take("10.0.0.9", now=50.0) == 0.0
    assert second.take("10.0.0.9", now=50.0) == 0.0
    assert first.take("10.0.0.9", now=50.0) == 0.0
    assert second.take("10.0.0.9", now=50.0) == 0.0
    assert first.take("10.0.0.9", now=50.0) > 0
    assert second.take("10.0.0.9", now=50.0) > 0


def test_many_addresses_do_not_starve_each_other(tmp_path: Path) -> None:
    throttle = Throttle(tmp_path / "t.bin", rate=1, burst=3, slots=64)
    for n in range(500):  # a big lab in a small table: slots are reused, never shared wrongly
        assert throttle.take(f"10.1.{n // 250}.{n % 250}", now=10.0 + n) == 0.0


def test_a_flooding_pc_gets_429_and_others_carry_on(database_url: str, tmp_path: Path) -> None:
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "INSTANCE_PATH": tmp_path / "instance",
            "SECRET_KEY": "test-secret",
            "CBT_THROTTLE_RATE": 5,
            "CBT_THROTTLE_BURST": 10,
            "TESTING": True,
        }
    )
    flooder, neighbour, local = app.test_client(), app.test_client(), app.test_client()
    flooder.environ_base["REMOTE_ADDR"] = "10.0.7.66"
    neighbour.environ_base["REMOTE_ADDR"] = "10.0.7.67"
    statuses = [flooder.get("/login").status_code for _ in range(40)]
    assert statuses[:10] == [200] * 10 and statuses.count(429) >= 25
    limited = flooder.get("/login")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.get_json()["error"] == "too_many_requests"
    assert neighbour.get("/login").status_code == 200
    assert all(local.get("/login").status_code == 200 for _ in range(30))  # loopback is exempt
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
