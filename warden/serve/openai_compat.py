"""OpenAI-compatible moderation: Warden decisions expressed in OpenAI's category keys.

Mapping (Warden category -> OpenAI key). Where OpenAI has a narrower sub-category
("threatening", "violent") the score is min(P(base), P(violence)): both must hold, and the
smaller probability bounds their conjunction. `violence` takes the max of Warden's violence
and extremism because OpenAI counts praise of violent extremism as violence.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Literal

from pydantic import ValidationError as PydanticValidationError

from ..content import Content
from ..decision import Decision
from ..errors import ValidationError
from .schemas import OpenAIModerationResponse, OpenAIModerationResult

Combine = Literal["one", "min", "max"]

OPENAI_CATEGORY_MAP: dict[str, tuple[Combine, tuple[str, ...]]] = {
    "harassment": ("one", ("harassment",)),
    "harassment/threatening": ("min", ("harassment", "violence")),
    "hate": ("one", ("hate",)),
    "hate/threatening": ("min", ("hate", "violence")),
    "illicit": ("one", ("illicit_goods",)),
    "illicit/violent": ("min", ("illicit_goods", "violence")),
    "self-harm": ("one", ("self_harm",)),
    "self-harm/intent": ("one", ("self_harm",)),
    "self-harm/instructions": ("one", ("self_harm",)),
    "sexual": ("one", ("sexual",)),
    "sexual/minors": ("one", ("sexual_minors",)),
    "violence": ("max", ("violence", "extremism")),
    "violence/graphic": ("one", ("graphic_violence",)),
}
OPENAI_CATEGORIES = tuple(OPENAI_CATEGORY_MAP)
CONTENT_ID_PREFIX = "openai-"


def content_id_for(text: str, scope: str = "") -> str:
    """Deterministic id: the same text under the same policy and models reuses its decision.

    `scope` (policy + pipeline version) makes a policy or model change re-score the text.
    """
    return CONTENT_ID_PREFIX + hashlib.sha256(f"{scope}\x1f{text}".encode()).hexdigest()


def contents_for(texts: list[str], scope: str = "") -> tuple[list[Content], list[str]]:
    """Unique Content items (a repeated text is moderated once) and the id of each input text."""
    unique: dict[str, Content] = {}
    ids = []
    for index, text in enumerate(texts):
        cid = content_id_for(text, scope)
        ids.append(cid)
        if cid not in unique:
            try:
                unique[cid] = Content(id=cid, text=text)
            except PydanticValidationError as exc:
                reason = exc.errors(include_url=False)[0]["msg"]
                raise ValidationError(f"input[{index}]: {reason}") from None
    return list(unique.values()), ids


def _score(decision: Decision, how: Combine, sources: tuple[str, ...]) -> tuple[float, bool]:
    scores = [decision.categories[s] for s in sources if s in decision.categories]
    if not scores or (how == "min" and len(scores) < len(sources)):
        return 0.0, False  # a custom policy without these categories cannot support the claim
    if how == "max":
        return max(s.probability for s in scores), any(s.flagged for s in scores)
    return min(s.probability for s in scores), all(s.flagged for s in scores)


def to_result(decision: Decision) -> OpenAIModerationResult:
    categories: dict[str, bool] = {}
    category_scores: dict[str, float] = {}
    for key, (how, sources) in OPENAI_CATEGORY_MAP.items():
        category_scores[key], categories[key] = _score(decision, how, sources)
    return OpenAIModerationResult(
        flagged=decision.flagged,
        categories=categories,
        category_scores=category_scores,
        category_applied_input_types={key: ["text"] for key in OPENAI_CATEGORIES},
        warden_categories=decision.categories,
        warden_action=decision.action,
        warden_decision_id=decision.decision_id,
    )


def to_response(
    decisions_by_id: dict[str, Decision], ids: list[str], policy_version: str
) -> OpenAIModerationResponse:
    return OpenAIModerationResponse(
        id=f"modr-{uuid.uuid4().hex}",
        model=f"warden-{policy_version}",
        results=[to_result(decisions_by_id[cid]) for cid in ids],
    )
