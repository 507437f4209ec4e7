"""SQLAlchemy models, one module per aggregate."""

from cbt_server.models.assessment import (
    AttemptRegrade,
    CompetencyRating,
    KeyOverride,
    PerformanceRating,
    PerformanceTarget,
    Regrade,
)
from cbt_server.models.attempts import (
    Attempt,
    AttemptEvent,
    AttemptItem,
    AttemptScore,
    AttemptSection,
    LateAnswer,
    LoginSession,
    Response,
)
from cbt_server.models.audit import AuditEntry, ChainHead, ScoreSeal
from cbt_server.models.banks import BankVersion, Item, ItemKey, MediaFile
from cbt_server.models.base import db
from cbt_server.models.batteries import BatteryVersion
from cbt_server.models.calibrations import Calibration, CalibrationItem
from cbt_server.models.competencies import (
    Competency,
    JobFamily,
    Position,
    PositionRequirement,
    StandardVersion,
)
from cbt_server.models.cut_scores import CutJudgement, CutScore, CutStudy
from cbt_server.models.operations import RateCounter, ServerClock
from cbt_server.models.people import ROLES, AssessorScope, User
from cbt_server.models.sessions import (
    Enrolment,
    ExamSession,
    LabSeat,
    SessionNote,
    SessionProctor,
)

__all__ = [
    "ROLES",
    "Attempt",
    "AssessorScope",
    "AttemptEvent",
    "AttemptItem",
    "AttemptRegrade",
    "AttemptScore",
    "AttemptSection",
    "LateAnswer",
    "LoginSession",
    "RateCounter",
    "ServerClock",
    "Regrade",
    "Response",
    "AuditEntry",
    "ChainHead",
    "LabSeat",
    "ScoreSeal",
    "StandardVersion",
    "BankVersion",
    "BatteryVersion",
    "Calibration",
    "CalibrationItem",
    "Competency",
    "CompetencyRating",
    "CutJudgement",
    "CutScore",
    "CutStudy",
    "Enrolment",
    "ExamSession",
    "Item",
    "ItemKey",
    "JobFamily",
    "KeyOverride",
    "MediaFile",
    "PerformanceRating",
    "PerformanceTarget",
    "Position",
    "PositionRequirement",
    "SessionNote",
    "SessionProctor",
    "User",
    "db",
    "load_models",
]


def load_models() -> None:
    """Importing this package registers every table; the call makes that explicit."""
