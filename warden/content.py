"""Content: one item to judge, validated at the edge with explicit limits."""

from __future__ import annotations

import hashlib
import json
import math
import unicodedata
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from .errors import ValidationError
from .settings import Limits

ContentKind = Literal["text", "image", "video", "profile", "comment"]
TEXT_KINDS = frozenset({"text", "comment", "profile"})
MEDIA_KINDS = frozenset({"image", "video"})
# Attachments per item when the caller passes no media settings (the field's default).
# The deepest free-form JSON (item metadata) anything accepts, whatever the limits say: well under
# what serialisers and the console's templates can write back (pydantic stops near 255 levels).
JSON_DEPTH_CEILING = 200
CLIPPED_MARKER = "[not shown: nested deeper than {depth} levels]"


class Media(BaseModel):
    """One image or video attached to an item: its bytes, or where to read them from.

    Exactly one of `data`, `path`, `url`. In JSON, `data` is base64. `path` is for the CLI and the
    Python API (the HTTP API refuses it); `url` is fetched only when `media.fetch_enabled` is on and
    the host is allow-listed. Intake (`warden.media.intake`) resolves every form to `data`."""

    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_bytes="base64", val_json_bytes="base64")

    data: bytes | None = Field(default=None, description="The file's bytes (base64 in JSON).")
    path: str | None = Field(default=None, max_length=4096, description="A local file (not over HTTP).")
    url: str | None = Field(default=None, max_length=4096, description="Fetched only if enabled.")
    content_type: str | None = Field(
        default=None, max_length=128, description="Declared type, e.g. image/png; checked against the bytes."
    )
    filename: str | None = Field(default=None, max_length=512)

    @model_validator(mode="after")
    def _one_source(self) -> Media:
        given = [name for name in ("data", "path", "url") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"media needs exactly one of data, path, url (got {', '.join(given) or 'none'})")
        return self

    def sha256(self) -> str | None:
        return hashlib.sha256(self.data).hexdigest() if self.data is not None else None

    def identity(self) -> str:
        """What content_hash uses: the bytes' sha256 once resolved, else where they come from."""
        digest = self.sha256()
        if digest is not None:
            return digest
        return f"path:{self.path}" if self.path is not None else f"url:{self.url}"


class Content(BaseModel):
    """An item to moderate. Media is never fetched from the network by default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=256, description="Caller's id; used for idempotency.")
    kind: ContentKind = "text"
    text: str = ""
    language: str | None = Field(
        default=None,
        max_length=16,
        description="BCP-47 / ISO 639-1 code (e.g. 'en', 'pt-BR'); detected when absent.",
    )
    author_id: str | None = Field(default=None, max_length=256)
    parent_id: str | None = Field(default=None, max_length=256)
    context: str | None = Field(
        default=None, max_length=20_000, description="Parent text, e.g. the post a comment replies to."
    )
    metadata: dict[str, Any] = Field(default_factory=dict)
    media: list[Media] = Field(
        default_factory=list,
        description="Images or videos judged together with `text` (a caption) as one item.",
    )
    hashes: dict[str, list[str]] = Field(
        default_factory=dict,
        description=(
            "Fingerprints of the item's media computed by the caller, by signal type "
            "(md5, sha256, pdq, vpdq, tmk_pdqf): matched against the banks. Lets a platform "
            "that hashes at upload time (as Hasher-Matcher-Actioner deployments do) skip sending media."
        ),
    )
    # The media path's cache: (the item with its media as bytes, its decoded attachments, the bank
    # signal types its fingerprints cover), set by `MediaTier.prepare` so an item is decoded once
    # whichever retries it goes through (a batch with one bad item, the server's batcher, the CLI).
    # Never serialised.
    _decoded: Any = PrivateAttr(default=None)

    @field_validator("id", "text", "context", "author_id", "parent_id", "language")
    @classmethod
    def _valid_text(cls, value: str | None) -> str | None:
        if value is None:
            return value
        # Lone surrogates come from invalid UTF-8 decoded with surrogateescape; refuse them early.
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(f"not valid Unicode at position {exc.start}") from exc
        # NUL truncates text in C engines and is rejected by PostgreSQL: refuse it everywhere.
        if "\x00" in value:
            raise ValueError(f"contains a NUL character at position {value.index(chr(0))}")
        return value

    @field_validator("metadata")
    @classmethod
    def _servable_metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Every door (API, gold items, CLI, Python) builds a Content: nothing stored here can be
        # unservable later. `limits.max_metadata_depth` is the tighter, configurable check.
        problem = json_shape_problem(value, JSON_DEPTH_CEILING)
        if problem:
            raise ValueError(f"metadata {problem}")
        return value

    @field_validator("id")
    @classmethod
    def _visible_id(cls, value: str) -> str:
        # An id of spaces or zero-width characters looks empty in every listing and log.
        if not any(not ch.isspace() and unicodedata.category(ch) not in ("Cf", "Cc") for ch in value):
            raise ValueError("id needs at least one visible character")
        return value

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        """Normalise 'EN', 'en-US', 'pt_BR' to the primary subtag the router understands."""
        if value is None or not value.strip():
            return None
        primary = value.strip().replace("_", "-").split("-")[0].lower()
        if not primary.isascii() or not primary.isalpha() or not 2 <= len(primary) <= 3:
            raise ValueError(f"language {value!r} is not a language code such as 'en' or 'pt-BR'")
        return primary

    def content_hash(self) -> str:
        """Stable hash of everything that affects a decision (not the id)."""
        payload = json.dumps(
            {
                "kind": self.kind,
                "text": self.text,
                "language": self.language,
                "context": self.context,
                **({"hashes": {k: sorted(v) for k, v in sorted(self.hashes.items())}} if self.hashes else {}),
                **({"media": [m.identity() for m in self.media]} if self.media else {}),
            },
            sort_keys=True,
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def json_shape_problem(value: Any, max_depth: int) -> str | None:
    """Why a free-form JSON value cannot be stored and served back, or None: nesting deeper than
    `max_depth` (serialisers and parsers have recursion limits far below what a 16 KB body can
    nest), or a NaN/infinite number (not JSON). Iterative, so any depth is checked safely."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth >= max_depth:
                return f"is nested more than {max_depth} levels deep"
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(node, float) and not math.isfinite(node):
            return f"contains {node!r}, which is not a JSON number"
    return None


def clip_json(value: Any, max_depth: int = JSON_DEPTH_CEILING) -> Any:
    """A copy of a stored free-form JSON value that can always be served back: subtrees deeper than
    `max_depth` become a marker string and non-finite numbers become None. For the read path of
    rows stored before the edge checks existed (one field shows as clipped, the page still renders).
    Iterative, so a poisoned row of any depth is safe."""
    marker = CLIPPED_MARKER.format(depth=max_depth)
    root: list[Any] = [None]
    # (source node, its depth, the container to write into, the key or index there)
    stack: list[tuple[Any, int, Any, Any]] = [(value, 0, root, 0)]
    while stack:
        node, depth, parent, key = stack.pop()
        if isinstance(node, dict | list) and depth >= max_depth:
            parent[key] = marker
        elif isinstance(node, dict):
            copy: dict[str, Any] = {}
            parent[key] = copy
            for k, child in node.items():
                copy[str(k)] = None
                stack.append((child, depth + 1, copy, str(k)))
        elif isinstance(node, list):
            items: list[Any] = [None] * len(node)
            parent[key] = items
            stack.extend((child, depth + 1, items, i) for i, child in enumerate(node))
        elif isinstance(node, float) and not math.isfinite(node):
            parent[key] = None
        else:
            parent[key] = node
    return root[0]


def check_item(item: Content, limits: Limits) -> None:
    """Raise ValidationError if one item breaks a limit (used per item by the CLI)."""
    if len(item.id) > limits.max_id_chars:
        raise ValidationError(
            f"{item.id[:40]!r}: id has {len(item.id)} characters, limit is {limits.max_id_chars}"
        )
    if len(item.text) > limits.max_text_chars:
        raise ValidationError(
            f"{item.id}: text has {len(item.text)} characters, limit is {limits.max_text_chars}"
        )
    if item.kind not in TEXT_KINDS and not item.hashes and not item.media:
        raise ValidationError(
            f"{item.id}: kind {item.kind!r} needs `media` (the image or video itself) or `hashes` "
            "(fingerprints matched against the banks)"
        )
    if len(item.media) > limits.max_media_per_item:
        raise ValidationError(
            f"{item.id}: {len(item.media)} media attachments, limit is {limits.max_media_per_item}"
        )
    if sum(len(v) for v in item.hashes.values()) > limits.max_hashes_per_item:
        raise ValidationError(f"{item.id}: more than {limits.max_hashes_per_item} hashes")
    problem = json_shape_problem(item.metadata, limits.max_metadata_depth)
    if problem:
        raise ValidationError(f"{item.id}: metadata {problem}")
    if len(json.dumps(item.metadata, default=str)) > limits.max_metadata_bytes:
        raise ValidationError(f"{item.id}: metadata exceeds {limits.max_metadata_bytes} bytes")


def check_limits(items: list[Content], limits: Limits) -> None:
    """Raise ValidationError naming the first item that breaks a limit."""
    if len(items) > limits.max_batch_items:
        raise ValidationError(f"batch of {len(items)} items exceeds the limit of {limits.max_batch_items}")
    seen: set[str] = set()
    for index, item in enumerate(items):
        if item.id in seen:
            raise ValidationError(f"items[{index}]: duplicate id {item.id!r} in one batch")
        seen.add(item.id)
        try:
            check_item(item, limits)
        except ValidationError as exc:
            raise ValidationError(f"items[{index}]: {exc}") from None
