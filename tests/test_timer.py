"""Timer rules and the attempt state machine (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cbt_server.delivery.lifecycle import (
    AttemptState,
    IllegalMove,
    Move,
    accepts_answers,
    next_state,
)
from cbt_server.delivery.timer import Countdown, section_deadline

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_remaining_counts_down_and_stops_at_zero():
    c = Countdown(deadline=at(600))
    assert c.remaining(at(0)) == 600
    assert c.remaining(at(599)) == 1
    assert c.remaining(at(700)) == 0


def test_expiry_with_and_without_grace():
    c = Countdown(deadline=at(600))
    assert not c.expired(at(600))
    assert c.expired(at(601))
    assert not c.expired(at(604), grace=5)
    assert not c.expired(at(605), grace=5)
    assert c.expired(at(605.001), grace=5)


def test_pause_freezes_and_resume_moves_the_deadline_exactly():
    c = Countdown(deadline=at(600)).pause(at(100))
    assert c.remaining(at(100)) == 500
    assert c.remaining(at(10_000)) == 500
    assert not c.expired(at(10_000))
    resumed = c.resume(at(400))
    assert resumed.deadline == at(900)
    assert resumed.remaining(at(400)) == 500
    # Pausing twice does not restart the pause; resuming a running clock changes nothing.
    assert c.pause(at(300)) == c
    assert resumed.resume(at(500)) == resumed


def test_extension_while_paused_and_running():
    c = Countdown(deadline=at(600)).extend(120)
    assert c.remaining(at(0)) == 720
    p = Countdown(deadline=at(600)).pause(at(100)).extend(60)
    assert p.remaining(at(200)) == 560
    assert p.resume(at(200)).deadline == at(760)


def test_section_deadline_is_capped_by_the_attempt():
    assert section_deadline(at(0), 30, at(3600)) == at(1800)
    assert section_deadline(at(3000), 30, at(3600)) == at(3600)
    assert section_deadline(at(0), None, at(3600)) == at(3600)


@pytest.mark.parametrize(
    ("state", "move", "after"),
    [
        ("in_progress", Move.PAUSE, "paused"),
        ("paused", Move.RESUME, "in_progress"),
        ("in_progress", Move.SUBMIT, "submitted"),
        ("paused", Move.FORCE_SUBMIT, "submitted"),
        ("in_progress", Move.EXPIRE, "expired"),
        ("submitted", Move.VOID, "voided"),
    ],
)
def test_allowed_moves(state, move, after):
    assert next_state(state, move) == AttemptState(after)


@pytest.mark.parametrize(
    ("state", "move"),
    [
        ("submitted", Move.SUBMIT),
        ("expired", Move.SUBMIT),
        ("paused", Move.SUBMIT),  # a paused participant waits; only a proctor can end it
        ("paused", Move.EXPIRE),
        ("voided", Move.RESUME),
        ("voided", Move.VOID),
        ("in_progress", Move.RESUME),
    ],
)
def test_refused_moves(state, move):
    with pytest.raises(IllegalMove):
        next_state(state, move)


def test_only_a_running_attempt_accepts_answers():
    assert accepts_answers("in_progress")
    assert not any(accepts_answers(s) for s in ("paused", "submitted", "expired", "voided"))
