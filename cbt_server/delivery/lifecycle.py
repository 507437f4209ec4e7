"""The attempt state machine: the one place that says which move is allowed from which state.

::

    in_progress --pause--> paused --resume--> in_progress
    in_progress --submit--> submitted          (the participant, or a proctor's force-submit)
    in_progress --expire--> expired            (the deadline passed; graded like a submit)
    paused      --submit--> submitted          (force-submit while paused)
    expired     --reopen--> in_progress        (a proctor, after time lost to an outage)
    any but voided --void--> voided
"""

from __future__ import annotations

from enum import StrEnum


class AttemptState(StrEnum):
    IN_PROGRESS = "in_progress"
    PAUSED = "paused"
    SUBMITTED = "submitted"
    EXPIRED = "expired"
    VOIDED = "voided"


class Move(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    SUBMIT = "submit"
    EXPIRE = "expire"
    REOPEN = "reopen"
    VOID = "void"


S = AttemptState
TRANSITIONS: dict[tuple[AttemptState, Move], AttemptState] = {
    (S.IN_PROGRESS, Move.PAUSE): S.PAUSED,
    (S.PAUSED, Move.RESUME): S.IN_PROGRESS,
    (S.IN_PROGRESS, Move.SUBMIT): S.SUBMITTED,
    (S.PAUSED, Move.SUBMIT): S.SUBMITTED,
    (S.IN_PROGRESS, Move.EXPIRE): S.EXPIRED,
    (S.EXPIRED, Move.REOPEN): S.IN_PROGRESS,
    (S.IN_PROGRESS, Move.VOID): S.VOIDED,
    (S.PAUSED, Move.VOID): S.VOIDED,
    (S.SUBMITTED, Move.VOID): S.VOIDED,
    (S.EXPIRED, Move.VOID): S.VOIDED,
}

FINISHED = frozenset({S.SUBMITTED, S.EXPIRED, S.VOIDED})


class IllegalMove(ValueError):
    def __init__(self, state: AttemptState, move: Move) -> None:
        super().__init__(f"cannot {move.value} an attempt that is {state.value}")
        self.state = state
        self.move = move


def next_state(state: AttemptState | str, move: Move) -> AttemptState:
    """The state after ``move``, or :class:`IllegalMove`."""
    state = AttemptState(state)
    try:
        return TRANSITIONS[(state, move)]
    except KeyError:
        raise IllegalMove(state, move) from None


def accepts_answers(state: AttemptState | str) -> bool:
    return AttemptState(state) is S.IN_PROGRESS
