"""The attempt's life in one place: its states, the moves between them, and what each move does.

::

    (new)       --start-->          in_progress   (the participant; the first section opens)
    in_progress --finish_section--> in_progress   (the open section closes, the next one opens)
    in_progress --pause-->          paused        (a proctor; the server after a long outage)
    paused      --resume-->         in_progress
    in_progress, paused --extend--> (unchanged)   (a proctor; the server gives an outage back)
    in_progress --submit-->         submitted     (the participant)
    in_progress, paused --force_submit--> submitted  (a proctor)
    in_progress --expire-->         expired       (the deadline passed: any request, the sweep)
    expired     --reopen-->         in_progress   (a proctor, after time lost to an outage)
    any but voided --void-->        voided        (a proctor)
    any         --reset-->          (unchanged)   (a proctor unbinds the PC: "reset login")

Every move goes through :func:`_moved`: the table above says whether it is allowed
(:class:`IllegalMove` otherwise), the attempt's ``updated_at`` moves (the proctor's monitor
follows it), and an ``attempt_events`` row records what happened, when and by whom. A move that
closes the attempt (submit, force_submit, expire) runs the battery kind's closing hook
(:data:`CLOSING`; grading for every kind today). A proctor's moves are written to the audit
log through :func:`audit_proctor_action`, one row per action however many attempts it took.

The state names and the predicates on them (:data:`RUNNING`, :data:`FINISHED`, :data:`GRADED`)
are defined here and only here. The exam page keeps one copy of ``FINISHED`` per script
(static/js/exam/lifecycle.js, static/js/exam-sw.js), each saying it comes from here.

Every function below that changes an attempt runs inside the caller's write transaction with
the attempt locked (``SELECT ... FOR UPDATE``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, select

from cbt_server import audit
from cbt_server.delivery import clockwork, item_time
from cbt_server.delivery.grading import grade_attempt
from cbt_server.delivery.timer import SAVE_GRACE_SECONDS, Countdown
from cbt_server.models import Attempt, AttemptEvent, AttemptScore, BatteryVersion, User, db


class AttemptState(StrEnum):
    IN_PROGRESS = "in_progress"
    PAUSED = "paused"
    SUBMITTED = "submitted"
    EXPIRED = "expired"
    VOIDED = "voided"


class Move(StrEnum):
    START = "start"
    FINISH_SECTION = "finish_section"
    PAUSE = "pause"
    RESUME = "resume"
    EXTEND = "extend"
    SUBMIT = "submit"
    FORCE_SUBMIT = "force_submit"
    EXPIRE = "expire"
    REOPEN = "reopen"
    VOID = "void"
    RESET = "reset"


S = AttemptState
#: (state before, move) -> state after; ``None`` is an attempt not yet started.
TRANSITIONS: dict[tuple[AttemptState | None, Move], AttemptState] = {
    (None, Move.START): S.IN_PROGRESS,
    (S.IN_PROGRESS, Move.FINISH_SECTION): S.IN_PROGRESS,
    (S.IN_PROGRESS, Move.PAUSE): S.PAUSED,
    (S.PAUSED, Move.RESUME): S.IN_PROGRESS,
    (S.IN_PROGRESS, Move.EXTEND): S.IN_PROGRESS,
    (S.PAUSED, Move.EXTEND): S.PAUSED,
    (S.IN_PROGRESS, Move.SUBMIT): S.SUBMITTED,
    (S.IN_PROGRESS, Move.FORCE_SUBMIT): S.SUBMITTED,
    (S.PAUSED, Move.FORCE_SUBMIT): S.SUBMITTED,
    (S.IN_PROGRESS, Move.EXPIRE): S.EXPIRED,
    (S.EXPIRED, Move.REOPEN): S.IN_PROGRESS,
    (S.IN_PROGRESS, Move.VOID): S.VOIDED,
    (S.PAUSED, Move.VOID): S.VOIDED,
    (S.SUBMITTED, Move.VOID): S.VOIDED,
    (S.EXPIRED, Move.VOID): S.VOIDED,
    **{(state, Move.RESET): state for state in S},
}

#: Started and not over: the attempt holds its PC (a login elsewhere is refused) and its seat
#: shows as taking the test.
RUNNING = frozenset({S.IN_PROGRESS, S.PAUSED})
#: Over for good, whatever the reason: the page goes to the finish page.
FINISHED = frozenset({S.SUBMITTED, S.EXPIRED, S.VOIDED})
#: Over and counted: scores, reports and analyses use these attempts (a voided one is not).
GRADED = frozenset({S.SUBMITTED, S.EXPIRED})

#: What the attempt event of each move is called (``attempt_events.kind``).
EVENT_KINDS: dict[Move, str] = {
    Move.START: "started",
    Move.FINISH_SECTION: "section_finished",
    Move.PAUSE: "paused",
    Move.RESUME: "resumed",
    Move.EXTEND: "extended",
    Move.SUBMIT: "submitted",
    Move.FORCE_SUBMIT: "force_submitted",
    Move.EXPIRE: "expired",
    Move.REOPEN: "reopened",
    Move.VOID: "voided",
    Move.RESET: "login_reset",
}

#: The audit log's name for each move a proctor makes.
AUDIT_ACTIONS: dict[Move, str] = {
    Move.PAUSE: "attempt.pause",
    Move.RESUME: "attempt.resume",
    Move.EXTEND: "attempt.extend",
    Move.FORCE_SUBMIT: "attempt.force_submit",
    Move.REOPEN: "attempt.reopen",
    Move.VOID: "attempt.void",
    Move.RESET: "attempt.reset_login",
}


class IllegalMove(ValueError):
    def __init__(self, state: AttemptState | None, move: Move, why: str | None = None) -> None:
        where = state.value if state is not None else "not started"
        super().__init__(why or f"cannot {move.value} an attempt that is {where}")
        self.state = state
        self.move = move


def next_state(state: AttemptState | str | None, move: Move) -> AttemptState:
    """The state after ``move``, or :class:`IllegalMove`."""
    state = AttemptState(state) if state is not None else None
    try:
        return TRANSITIONS[(state, move)]
    except KeyError:
        raise IllegalMove(state, move) from None


def accepts_answers(state: AttemptState | str) -> bool:
    return AttemptState(state) is S.IN_PROGRESS


# ---- who moves an attempt -------------------------------------------------------------------


@dataclass(frozen=True)
class By:
    """Who makes a move: ``participant``, ``proctor`` (with their login) or ``server``."""

    role: str
    name: str | None = None

    def detail(self) -> dict[str, str]:
        return {"by": self.role, **({"actor": self.name} if self.name else {})}


PARTICIPANT = By("participant")
SERVER = By("server")


def proctor(user: User) -> By:
    return By("proctor", user.username)


# ---- closing: a hook per battery kind ------------------------------------------------------------


@dataclass(frozen=True)
class Closing:
    """What closing an attempt does for one kind of battery.

    ``run(attempt, definition)`` runs inside the closing move's transaction. ``scores`` says
    whether it stores the attempt's scores (``total_score``): a closed attempt of such a kind
    without them (an older server stopped half-way) is closed again when next touched.
    """

    run: Callable[[Attempt, dict], None]
    scores: bool = True


GRADING = Closing(grade_attempt)
#: Battery kind (``batteries/*.yaml`` ``kind``) -> what closing does. A kind not listed is
#: graded. A questionnaire battery, say, would register ``Closing(store_nothing, scores=False)``.
CLOSING: dict[str, Closing] = {
    "technical": GRADING,
    "managerial": GRADING,
    "integrity": GRADING,
}


def closing_for(attempt: Attempt) -> Closing:
    kind = db.session.scalar(
        select(BatteryVersion.kind).where(BatteryVersion.id == attempt.battery_version_id)
    )
    return CLOSING.get(kind or "", GRADING)


def _close(attempt: Attempt, definition: dict) -> None:
    closing_for(attempt).run(attempt, definition)


def needs_finalising(attempt: Any) -> bool:
    """A graded state without its scores (the plain check: any stored attempt or snapshot)."""
    return attempt.state in GRADED and attempt.total_score is None


def finalise_if_needed(attempt: Attempt, definition: dict) -> None:
    """Run the closing hook again for an attempt that was closed without it finishing."""
    if needs_finalising(attempt):
        closing = closing_for(attempt)
        if closing.scores:
            closing.run(attempt, definition)


# ---- the moves ---------------------------------------------------------------------------------


def _moved(
    attempt: Attempt, move: Move, at: datetime, by: By, detail: dict | None = None
) -> AttemptState:
    """Check the move, stamp the attempt, record the event. Returns the state after."""
    after = next_state(attempt.state, move)
    attempt.state = after.value
    attempt.updated_at = at
    db.session.add(
        AttemptEvent(
            attempt_id=attempt.id,
            kind=EVENT_KINDS[move],
            at=at,
            detail={**by.detail(), **(detail or {})},
        )
    )
    return after


def start(attempt: Attempt, definition: dict, at: datetime) -> dict:
    """The participant starts: the attempt's clock and its first section start at ``at``
    (instructions included, docs/delivery.md "Time"). Works on a new attempt not yet stored
    (the caller inserts it, with its sections, in one write turn) and returns the values of its
    event row (all but ``attempt_id``)."""
    next_state(None, Move.START)
    attempt.state = S.IN_PROGRESS.value
    attempt.started_at = at
    attempt.deadline_at = at + timedelta(minutes=int(definition["time_limit_minutes"]))
    attempt.updated_at = at
    attempt.position_since = at  # the first item is on screen from the start
    clockwork.start_section(attempt, 0, at, clockwork.section_limits(definition))
    return {"kind": EVENT_KINDS[Move.START], "at": at, "detail": PARTICIPANT.detail()}


def finish_section(
    attempt: Attempt, definition: dict, index: int, at: datetime, by: By = PARTICIPANT
) -> None:
    """Close the open section ``index`` now and open the next one at the same moment, timed or
    not; there is no way back. :class:`IllegalMove` when ``index`` is not the open section."""
    section = clockwork.open_section(attempt)
    if section is None or section.section_index != index:
        raise IllegalMove(AttemptState(attempt.state), Move.FINISH_SECTION, "section not open")
    _moved(attempt, Move.FINISH_SECTION, at, by, {"section": index})
    clockwork.close_section(attempt, index, at, clockwork.section_limits(definition))


def due(attempt: Any, at: datetime, definition: dict | None = None) -> bool:
    """Whether :func:`catch_up` would change the attempt at ``at`` (without changing it), so a
    read can tell whether it must take the write path. Works on a snapshot too."""
    return attempt.state == S.IN_PROGRESS and clockwork.time_due(attempt, at)


def catch_up(attempt: Attempt, at: datetime, definition: dict) -> bool:
    """Bring a running attempt up to ``at``: timed sections whose time is up close (each at its
    deadline), and the attempt expires once its deadline plus the grace has passed — closed
    (graded) with the deadline as its finish time. Returns True when it has just expired."""
    if attempt.state != S.IN_PROGRESS:
        return False
    for index in clockwork.roll_sections(attempt, at, clockwork.section_limits(definition)):
        _moved(attempt, Move.FINISH_SECTION, at, SERVER, {"section": index, "time_up": True})
    if not clockwork.countdown(attempt).expired(at, grace=SAVE_GRACE_SECONDS):
        return False
    _moved(attempt, Move.EXPIRE, at, SERVER)
    item_time.stop(attempt, attempt.deadline_at)
    attempt.finished_at = attempt.deadline_at
    attempt.finish_reason = "deadline"
    clockwork.close_open_sections(attempt, attempt.deadline_at)
    _close(attempt, definition)
    return True


def submit(attempt: Attempt, definition: dict, at: datetime, by: By = PARTICIPANT) -> None:
    """The participant submits, or a proctor force-submits (``by`` a proctor, also while
    paused): open sections close, every saved answer is graded."""
    move = Move.FORCE_SUBMIT if by.role == "proctor" else Move.SUBMIT
    was_paused = attempt.paused_at is not None
    _moved(attempt, move, at, by)
    attempt.finished_at = at if was_paused else min(at, attempt.deadline_at)
    item_time.stop(attempt, attempt.finished_at)  # (paused: already stopped)
    attempt.finish_reason = "proctor" if move is Move.FORCE_SUBMIT else "participant"
    attempt.paused_at = None
    clockwork.close_open_sections(attempt, attempt.finished_at)
    _close(attempt, definition)


def pause(attempt: Attempt, at: datetime, by: By) -> None:
    """Freeze the attempt's clock (and its open section's) at ``at``."""
    _moved(attempt, Move.PAUSE, at, by)
    attempt.paused_at = at
    item_time.stop(attempt, at)


def resume(attempt: Attempt, at: datetime, by: By) -> None:
    """Run the clock again: the deadlines move forward by the pause's length."""
    paused_at = attempt.paused_at
    _moved(attempt, Move.RESUME, at, by)
    resumed = Countdown(attempt.deadline_at, paused_at).resume(at)
    paused_for = resumed.deadline - attempt.deadline_at
    section = clockwork.open_section(attempt)
    if section is not None and section.deadline_at is not None:
        section.deadline_at = section.deadline_at + paused_for
    attempt.deadline_at = resumed.deadline
    attempt.paused_seconds += int(paused_for.total_seconds())
    attempt.paused_at = None
    item_time.run(attempt, at)


def extend(attempt: Attempt, seconds: int, at: datetime, by: By) -> None:
    """More time for the attempt and its open section (running or paused)."""
    _moved(attempt, Move.EXTEND, at, by, {"seconds": seconds})
    clockwork.moved_deadline(attempt, seconds)
    attempt.extra_seconds += seconds


def reopen(attempt: Attempt, seconds: int, at: datetime, by: By) -> None:
    """Give an attempt that ran out of time (e.g. during a server outage) ``seconds`` more.

    Only an attempt that ended by its deadline: a submitted or voided one stays closed. The
    section that was open when time ran out opens again; the scores are cleared and computed
    again when the attempt closes."""
    if attempt.finish_reason != "deadline":
        raise IllegalMove(AttemptState(attempt.state), Move.REOPEN, "not ended by its deadline")
    ended = attempt.finished_at
    _moved(attempt, Move.REOPEN, at, by, {"minutes": seconds // 60})
    attempt.deadline_at = at + timedelta(seconds=seconds)
    attempt.extra_seconds += seconds
    attempt.finished_at = None
    attempt.finish_reason = None
    attempt.total_score = attempt.total_max = None
    item_time.run(attempt, at)
    last = max(
        (s for s in attempt.sections if s.started_at is not None and s.closed_at == ended),
        key=lambda s: s.section_index,
        default=None,
    )
    if last is not None:
        last.closed_at = None
        last.deadline_at = attempt.deadline_at
    db.session.execute(delete(AttemptScore).where(AttemptScore.attempt_id == attempt.id))
    audit.scores_changed(attempt.id, "reopen")


def void(attempt: Attempt, at: datetime, by: By) -> None:
    """The attempt does not count (its answers and any scores stay, for the record)."""
    _moved(attempt, Move.VOID, at, by)
    item_time.stop(attempt, at)
    attempt.finished_at = attempt.finished_at or at
    attempt.paused_at = None


def reset(attempt: Attempt, at: datetime, by: By) -> None:
    """Unbind the attempt's PC: the next PC that opens it binds itself (any state)."""
    _moved(attempt, Move.RESET, at, by)
    attempt.device_hash = None


def audit_proctor_action(
    actor: User, move: Move, target: str, reason: str, details: dict | None = None
) -> None:
    """The audit row of a proctor's action (one per action, listing the attempts it took)."""
    audit.record(AUDIT_ACTIONS[move], actor=actor, target=target, reason=reason, details=details)
