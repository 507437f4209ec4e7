"""Which participants an assessor may see: their limits to units or sessions (docs/accounts.md).

An assessor with limits (``assessor_scopes`` rows, set by an admin) sees an enrolment or an
attempt when it is in one of their sessions or its person works in one of their units; a person
(profile, group) when either holds for any of their enrolments; a session when it has anyone
they see. An assessor without limits, and an admin, sees everyone.

The assessor's desk sets the request's reach once (``web/assessor/__init__.py``); the read
models that choose sessions and people (score sheets, profiles and groups, item analysis, late
answers, the desk) apply :func:`current` where they select, so no page forgets it. Elsewhere
(the proctor's pages, the command line) :func:`current` is :data:`EVERYONE`.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import g, has_app_context
from sqlalchemy import ColumnElement, or_, select, true

from cbt_server.models import AssessorScope, Enrolment, ExamSession, User, db

_KEY = "assessor_reach"


@dataclass(frozen=True)
class Reach:
    units: frozenset[str] = frozenset()
    session_ids: frozenset[int] = frozenset()

    @property
    def limited(self) -> bool:
        return bool(self.units or self.session_ids)

    def _unit_members(self):  # type: ignore[no-untyped-def]
        # correlate(None): the outer query may select from users or enrolments itself.
        return select(User.id).where(User.unit.in_(sorted(self.units))).correlate(None)

    def _either(
        self, by_session: ColumnElement[bool], by_unit: ColumnElement[bool]
    ) -> ColumnElement[bool]:
        """Seen through one of the sessions or one of the units (true without limits)."""
        parts = [by_session] if self.session_ids else []
        parts += [by_unit] if self.units else []
        return or_(*parts) if parts else true()

    def rows(self, session_id: ColumnElement, user_id: ColumnElement) -> ColumnElement[bool]:
        """An enrolment or attempt, by its session and user columns, is seen."""
        return self._either(
            session_id.in_(sorted(self.session_ids)), user_id.in_(self._unit_members())
        )

    def people(self, user_id: ColumnElement) -> ColumnElement[bool]:
        """A person, by a user id column, is seen (through any of their enrolments)."""
        enrolled = select(Enrolment.user_id).where(
            Enrolment.session_id.in_(sorted(self.session_ids))
        )
        return self._either(
            user_id.in_(enrolled.correlate(None)), user_id.in_(self._unit_members())
        )

    def sessions(self, session_id: ColumnElement) -> ColumnElement[bool]:
        """A session, by a session id column, has someone who is seen."""
        with_members = select(Enrolment.session_id).where(
            Enrolment.user_id.in_(self._unit_members())
        )
        return self._either(
            session_id.in_(sorted(self.session_ids)), session_id.in_(with_members.correlate(None))
        )

    def sees(self, session_id: int, user_id: int) -> bool:
        """One enrolment or attempt is seen (for a change to a single row)."""
        if not self.limited or session_id in self.session_ids:
            return True
        unit = db.session.scalar(select(User.unit).where(User.id == user_id))
        return unit in self.units

    def sees_session(self, session_id: int) -> bool:
        """A session has someone who is seen (a session's pages answer 404 otherwise)."""
        if not self.limited:
            return True
        found = select(ExamSession.id).where(
            ExamSession.id == session_id, self.sessions(ExamSession.id)
        )
        return db.session.scalar(found) is not None


EVERYONE = Reach()


def of_user(user: User) -> Reach:
    """An assessor's limits (one query); everyone for an admin or an assessor without any."""
    if user.role != "assessor":
        return EVERYONE
    rows = db.session.execute(
        select(AssessorScope.unit, AssessorScope.session_id).where(AssessorScope.user_id == user.id)
    ).all()
    return Reach(
        frozenset(unit for unit, _ in rows if unit is not None),
        frozenset(session for _, session in rows if session is not None),
    )


def set_for_request(user: User) -> None:
    """The assessor's desk: every read model of this request sees what ``user`` may see."""
    setattr(g, _KEY, of_user(user))


def current() -> Reach:
    """The reach of this request (:data:`EVERYONE` unless the assessor's desk set one)."""
    return g.get(_KEY, EVERYONE) if has_app_context() else EVERYONE
