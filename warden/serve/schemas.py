"""Request and response models of the HTTP API (the OpenAPI document is generated from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

from ..content import Content
from ..decision import CategoryScore, Decision, Versions
from ..policy.model import ActionName, ActionRule, Severity

Role = Literal["client", "reviewer", "admin"]

EXAMPLE_VERSIONS: dict[str, Any] = {
    "policy": "warden-default@1.0.0+3f2a9c1d0b7e",
    "pipeline": "pipeline-5c1e0f9a2b44",
    "models": {"linear_ngram": "linear_ngram@1/2025-01-01", "fusion": "fusion-9d8e7f6a"},
}

EXAMPLE_DECISION: dict[str, Any] = {
    "decision_id": "8c0f4c2a9e1b4d7f9a3e5b6c7d8e9f01",
    "content_id": "comment-123",
    "content_hash": "5d41402abc4b2a76b9719d911017c592" * 2,
    "action": "remove",
    "flagged": True,
    "language": "en",
    "categories": {
        "hate": {
            "probability": 0.97,
            "action": "remove",
            "threshold": 0.81,
            "flagged": True,
            "evaluated": True,
        },
        "profanity": {
            "probability": 0.02,
            "action": "allow",
            "threshold": None,
            "flagged": False,
            "evaluated": True,
        },
    },
    "reasons": [
        {
            "category": "hate",
            "action": "remove",
            "probability": 0.97,
            "threshold": 0.81,
            "clause": "Content that attacks, dehumanises, or calls for exclusion of people based on ...",
            "evidence": [
                {
                    "category": "hate",
                    "detector": "linear_ngram",
                    "kind": "text_span",
                    "start": 22,
                    "end": 29,
                    "snippet": "animals",
                    "weight": 2.41,
                }
            ],
        }
    ],
    "versions": EXAMPLE_VERSIONS,
    "stages": [
        {"name": "fast", "detectors": ["linear_ngram"], "latency_ms": 0.05, "cost": 0.02, "exited": False},
        {
            "name": "encoder",
            "detectors": ["head_minilm", "fewshot_minilm", "head_e5", "fewshot_e5"],
            "latency_ms": 4.2,
            "cost": 2.0,
            "exited": False,
        },
    ],
    "created_at": "2025-01-01T12:00:00Z",
}


# -- errors ---------------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    loc: list[str | int] = Field(description="Where the problem is, e.g. ['body', 'items', 0, 'id'].")
    msg: str
    type: str


class ErrorBody(BaseModel):
    type: str = Field(description="Machine-readable error class, e.g. validation_error, conflict, not_found.")
    message: str = Field(description="Human-readable explanation.")
    details: list[ErrorDetail] = Field(default_factory=list)


_TOO_SHORT = "String should have at least 1 character"


class ErrorResponse(BaseModel):
    """Every non-2xx response has this shape."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "type": "validation_error",
                        "message": f"invalid request: body.items[0].id: {_TOO_SHORT}",
                        "details": [
                            {
                                "loc": ["body", "items", 0, "id"],
                                "msg": _TOO_SHORT,
                                "type": "string_too_short",
                            }
                        ],
                    }
                }
            ]
        }
    )

    error: ErrorBody


# -- moderation -----------------------------------------------------------------------------------


class ModerateBatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {"id": "comment-1", "text": "Have a great day!"},
                        {"id": "comment-2", "text": "Du bist ein Idiot.", "language": "de"},
                    ]
                }
            ]
        },
    )

    items: list[Content] = Field(
        min_length=1, description="Items to moderate (at most limits.max_batch_items); ids must be unique."
    )


def _body_kind(value: Any) -> str | None:
    # A batch is recognised by its `items` key; Content forbids that key, so there is no ambiguity.
    if isinstance(value, dict):
        return "batch" if "items" in value else "single"
    if isinstance(value, ModerateBatch):
        return "batch"
    if isinstance(value, Content):
        return "single"
    return None


ModerateBody = Annotated[
    Annotated[ModerateBatch, Tag("batch")] | Annotated[Content, Tag("single")],
    Discriminator(
        _body_kind,
        custom_error_type="invalid_body",
        custom_error_message=(
            'the body must be a JSON object: either {"items": [{"id": ..., "text": ...}, ...]} '
            'or a single item {"id": ..., "text": ...}'
        ),
    ),
]


class ItemError(BaseModel):
    """An item of a batch that got no decision (its media could not be taken in or decoded)."""

    index: int = Field(description="The item's position in the request.")
    content_id: str
    status: int = Field(description="The HTTP status this item alone would get: 413, 415 or 422.")
    type: str = Field(description="payload_too_large | unsupported_media_type | validation_error")
    message: str


class DecisionsResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"decisions": [EXAMPLE_DECISION]}]})

    decisions: list[Decision] = Field(
        description="One decision per item, in request order (items listed in `errors` are left out)."
    )
    errors: list[ItemError] = Field(
        default_factory=list,
        description="Items of a batch whose media was refused; every other item still has its decision. "
        "A request whose every item is refused gets the 4xx status instead.",
    )


# -- policies -------------------------------------------------------------------------------------


class ResolvedThreshold(BaseModel):
    action: ActionName
    threshold: float = Field(description="Calibrated probability at which the action applies.")
    source: str = Field(description="How the threshold was obtained (min_probability or target_precision).")


class PolicyCategoryInfo(BaseModel):
    id: str
    title: str
    definition: str
    severity: Severity
    actions: list[ActionRule] = Field(description="The rules as written in the policy, strongest first.")
    thresholds: list[ResolvedThreshold] = Field(
        description="The rules resolved for the loaded models (English / undetermined text)."
    )
    flag_threshold: float = Field(description="Probability at which the category counts as flagged.")
    thresholds_by_route: dict[str, list[ResolvedThreshold]] = Field(
        default_factory=dict,
        description="Per calibration route: 'en' (English, undetermined), 'multi' (other languages).",
    )


class ActivePolicy(BaseModel):
    name: str
    version: str
    full_version: str
    description: str
    action_precedence: list[ActionName]
    categories: list[PolicyCategoryInfo]


class PolicyRecord(BaseModel):
    id: int
    name: str
    version: str
    full_version: str
    activated_at: datetime
    yaml_text: str | None = Field(default=None, description="Only with ?include_yaml=true.")


class PoliciesResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "active": {
                        "name": "warden-default",
                        "version": "1.0.0",
                        "full_version": EXAMPLE_VERSIONS["policy"],
                        "description": "A general-purpose community policy for user-generated text.",
                        "action_precedence": ["remove", "age_restrict", "limit", "review", "label", "allow"],
                        "categories": [
                            {
                                "id": "hate",
                                "title": "Hate speech",
                                "definition": "Content that attacks, dehumanises, ...",
                                "severity": "high",
                                "actions": [
                                    {"action": "remove", "target_precision": 0.9, "min_probability": None},
                                    {"action": "review", "target_precision": None, "min_probability": 0.4},
                                ],
                                "thresholds": [
                                    {"action": "remove", "threshold": 0.81, "source": "target_precision"},
                                    {"action": "review", "threshold": 0.4, "source": "min_probability"},
                                ],
                                "flag_threshold": 0.81,
                            }
                        ],
                    },
                    "history": [
                        {
                            "id": 1,
                            "name": "warden-default",
                            "version": "1.0.0",
                            "full_version": EXAMPLE_VERSIONS["policy"],
                            "activated_at": "2025-01-01T12:00:00Z",
                            "yaml_text": None,
                        }
                    ],
                }
            ]
        }
    )

    active: ActivePolicy
    history: list[PolicyRecord] = Field(description="Every policy version this deployment ran, oldest first.")


# -- operations -----------------------------------------------------------------------------------


class ReadinessResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "ready", "checks": {"database": "ok", "batcher": "ok"}}]}
    )

    status: Literal["ready", "unavailable"]
    checks: dict[str, str] = Field(description="Each dependency: `ok` or why it is not.")


class HealthResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "ok", "versions": EXAMPLE_VERSIONS}]}
    )

    status: Literal["ok"]
    versions: Versions


# -- API keys -------------------------------------------------------------------------------------


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "acme-web", "role": "client"}]}
    )

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")
    role: Role


class ApiKeyCreated(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "acme-web", "role": "client", "key": "wdn_3q2...Zk"}]}
    )

    name: str
    role: Role
    key: str = Field(description="The plaintext key. It is shown only in this response; store it now.")


class ApiKeyInfo(BaseModel):
    name: str
    key_prefix: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None = None


class ApiKeyList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "keys": [
                        {
                            "name": "bootstrap-admin",
                            "key_prefix": "wdn_3q2A",
                            "role": "admin",
                            "created_at": "2025-01-01T12:00:00Z",
                            "revoked_at": None,
                        }
                    ]
                }
            ]
        }
    )

    keys: list[ApiKeyInfo]


class ApiKeyRevoked(BaseModel):
    name: str
    revoked: Literal[True] = True


# -- OpenAI-compatible moderation -----------------------------------------------------------------


class OpenAITextPart(BaseModel):
    """A text part of a multimodal input (omni-moderation)."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["text"]
    text: str


class OpenAIImageURL(BaseModel):
    model_config = ConfigDict(extra="ignore")  # clients may send e.g. "detail"
    url: str = Field(
        min_length=1,
        description="A `data:image/...;base64,` URL, or an http(s) URL fetched only when "
        "media.fetch_enabled is on and the host is allow-listed.",
    )


class OpenAIImagePart(BaseModel):
    """An image part of a multimodal input (omni-moderation)."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["image_url"]
    image_url: OpenAIImageURL


OpenAIInputPart = Annotated[OpenAITextPart | OpenAIImagePart, Field(discriminator="type")]


class OpenAIModerationRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"input": "I want to kill them.", "model": "omni-moderation-latest"},
                {"input": ["first text", "second text"]},
                {
                    "model": "omni-moderation-latest",
                    "input": [
                        {"type": "text", "text": "look at this"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo..."}},
                    ],
                },
            ]
        },
    )

    input: str | list[str] | list[OpenAIInputPart] = Field(
        description="One text, a list of texts (one result per text), or a list of text and image_url "
        "parts judged together as one item (one result)."
    )
    model: str | None = Field(
        default=None,
        max_length=256,
        description="Echoed in the response; Warden always runs its loaded pipeline and active policy.",
    )

    @field_validator("input")
    @classmethod
    def _valid_input(
        cls, value: str | list[str] | list[OpenAITextPart | OpenAIImagePart]
    ) -> str | list[str] | list[OpenAITextPart | OpenAIImagePart]:
        parts = [value] if isinstance(value, str) else value
        if not parts:
            raise ValueError("input must contain at least one text or part")
        for index, part in enumerate(parts):
            text = part if isinstance(part, str) else getattr(part, "text", "")
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError(f"input[{index}] is not valid Unicode at position {exc.start}") from exc
        return value


class OpenAIModerationResult(BaseModel):
    flagged: bool = Field(description="Warden's verdict: some policy category reached its flag threshold.")
    categories: dict[str, bool]
    category_scores: dict[str, float]
    category_applied_input_types: dict[str, list[Literal["text", "image"]]]
    warden_categories: dict[str, CategoryScore] = Field(description="Warden's own per-category scores.")
    warden_action: ActionName
    warden_decision_id: str


class OpenAIModerationResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "modr-6f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e",
                    "model": "warden-1.0.0",
                    "results": [
                        {
                            "flagged": True,
                            "categories": {"harassment": False, "violence": True, "...": False},
                            "category_scores": {"harassment": 0.12, "violence": 0.91, "...": 0.0},
                            "category_applied_input_types": {"harassment": ["text"], "violence": ["text"]},
                            "warden_categories": {
                                "violence": {
                                    "probability": 0.91,
                                    "action": "remove",
                                    "threshold": 0.85,
                                    "flagged": True,
                                    "evaluated": True,
                                }
                            },
                            "warden_action": "remove",
                            "warden_decision_id": "8c0f4c2a9e1b4d7f9a3e5b6c7d8e9f01",
                        }
                    ],
                }
            ]
        }
    )

    id: str
    model: str
    results: list[OpenAIModerationResult]
