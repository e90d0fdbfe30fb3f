"""The value types of human review. They are defined with the store's records
(`warden/store/review_records.py`), so the store needs nothing from this package; import them from here."""

from ..store.review_records import (
    APPEAL_OUTCOMES,
    QUEUES,
    AgreementStats,
    Appeal,
    AppealInfo,
    AppealStatus,
    LabelIssue,
    LabelSource,
    Lease,
    MediaRef,
    PairAgreement,
    PrecisionEstimate,
    QueueSummary,
    ReviewerAccuracy,
    ReviewLabel,
    ReviewStats,
    ReviewTask,
    TaskStatus,
)

__all__ = [
    "APPEAL_OUTCOMES",
    "QUEUES",
    "AgreementStats",
    "Appeal",
    "AppealInfo",
    "AppealStatus",
    "LabelIssue",
    "LabelSource",
    "Lease",
    "MediaRef",
    "PairAgreement",
    "PrecisionEstimate",
    "QueueSummary",
    "ReviewLabel",
    "ReviewStats",
    "ReviewTask",
    "ReviewerAccuracy",
    "TaskStatus",
]
