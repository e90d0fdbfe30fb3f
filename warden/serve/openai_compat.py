"""OpenAI-compatible moderation: Warden decisions expressed in OpenAI's category keys.

Mapping (Warden category -> OpenAI key). Where OpenAI has a narrower sub-category
("threatening", "violent") the score is min(P(base), P(violence)): both must hold, and the
smaller probability bounds their conjunction. `violence` takes the max of Warden's violence
and extremism because OpenAI counts praise of violent extremism as violence.

Inputs: one text, a list of texts (one result each), or a list of `text` and `image_url` parts
(omni-moderation's multimodal form), which is one item judged as a whole: the texts joined as its
caption, the images as its media (data URLs; remote URLs only when media fetching is enabled), and
one result. Images are judged by the media path: the NSFW model (sexual) and their OCR text through
every text category, so with an image every category lists "image" in `category_applied_input_types`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections.abc import Sequence
from typing import Literal

from pydantic import ValidationError as PydanticValidationError

from ..content import Content, Media
from ..decision import Decision
from ..errors import ValidationError
from .schemas import OpenAIImagePart, OpenAIModerationResponse, OpenAIModerationResult, OpenAITextPart

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


InputTypes = list[Literal["text", "image"]]
Parts = Sequence[OpenAITextPart | OpenAIImagePart]


def data_url_media(url: str, where: str) -> Media:
    """`data:image/png;base64,...` -> Media with its bytes; any other URL -> Media(url) (fetched by
    intake only when enabled, refused with a clear error otherwise)."""
    if not url.startswith("data:"):
        return Media(url=url)
    header, comma, payload = url[len("data:") :].partition(",")
    if not comma:
        raise ValidationError(f"{where}: a data URL needs a comma before its data")
    mime, *params = header.split(";")
    if "base64" not in params:
        raise ValidationError(f"{where}: only base64 data URLs are supported (data:image/png;base64,...)")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(f"{where}: the data URL's payload is not valid base64") from None
    return Media(data=data, content_type=mime or None)


def multimodal_content(parts: Parts, scope: str) -> tuple[Content, InputTypes]:
    """One item from a list of text and image parts, its id a hash of everything in it."""
    texts = [p.text for p in parts if isinstance(p, OpenAITextPart)]
    media = [
        data_url_media(p.image_url.url, f"input[{index}].image_url.url")
        for index, p in enumerate(parts)
        if isinstance(p, OpenAIImagePart)
    ]
    types: InputTypes = []
    if texts:
        types.append("text")
    if media:
        types.append("image")
    try:
        draft = Content(id="draft", kind="image" if media else "text", text="\n".join(texts), media=media)
    except PydanticValidationError as exc:
        raise ValidationError(f"input: {exc.errors(include_url=False)[0]['msg']}") from None
    digest = hashlib.sha256(f"{scope}\x1f{draft.content_hash()}".encode()).hexdigest()
    return draft.model_copy(update={"id": CONTENT_ID_PREFIX + "mm-" + digest}), types


def _score(decision: Decision, how: Combine, sources: tuple[str, ...]) -> tuple[float, bool]:
    scores = [decision.categories[s] for s in sources if s in decision.categories]
    if not scores or (how == "min" and len(scores) < len(sources)):
        return 0.0, False  # a custom policy without these categories cannot support the claim
    if how == "max":
        return max(s.probability for s in scores), any(s.flagged for s in scores)
    return min(s.probability for s in scores), all(s.flagged for s in scores)


def to_result(decision: Decision, input_types: InputTypes | None = None) -> OpenAIModerationResult:
    categories: dict[str, bool] = {}
    category_scores: dict[str, float] = {}
    for key, (how, sources) in OPENAI_CATEGORY_MAP.items():
        category_scores[key], categories[key] = _score(decision, how, sources)
    return OpenAIModerationResult(
        flagged=decision.flagged,
        categories=categories,
        category_scores=category_scores,
        category_applied_input_types={key: list(input_types or ["text"]) for key in OPENAI_CATEGORIES},
        warden_categories=decision.categories,
        warden_action=decision.action,
        warden_decision_id=decision.decision_id,
    )


def to_response(
    decisions_by_id: dict[str, Decision],
    ids: list[str],
    policy_version: str,
    model: str | None = None,
    input_types: dict[str, InputTypes] | None = None,
) -> OpenAIModerationResponse:
    """One result per input id, in order. `model` (the caller's) is echoed, as OpenAI does."""
    types = input_types or {}
    return OpenAIModerationResponse(
        id=f"modr-{uuid.uuid4().hex}",
        model=model or f"warden-{policy_version}",
        results=[to_result(decisions_by_id[cid], types.get(cid)) for cid in ids],
    )
