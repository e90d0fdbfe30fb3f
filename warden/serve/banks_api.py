"""Bank endpoints: manage banks and entries (admin), import/export, and `POST /v1/match` lookups."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..banks.exchange import FORMATS, RawEntry
from ..banks.model import AddResult, Bank, BankEntry
from ..banks.service import BankService
from ..errors import ValidationError
from ..policy.model import ActionName
from .auth import Principal, require_roles
from .errors import ApiError

router = APIRouter(tags=["banks"])
BankName = Annotated[str, Path(min_length=1, max_length=64, description="The bank's name.")]


class MediaIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["image", "video"]
    data_base64: str = Field(description="The file's bytes, base64-encoded.")

    def decode(self) -> bytes:
        try:
            return base64.b64decode(self.data_base64, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError("media.data_base64 is not valid base64") from None


class BankCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, examples=["terror-videos"])
    category: str = Field(description="Policy category a match implies.", examples=["extremism"])
    action: ActionName = "remove"
    description: str = Field(default="", max_length=2_000)


class BankUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool | None = None
    category: str | None = None
    action: ActionName | None = None
    description: str | None = Field(default=None, max_length=2_000)


class EntryIn(BaseModel):
    """Either a signal value, or a media file whose fingerprints (all types for its kind) are added."""

    model_config = ConfigDict(extra="forbid")
    signal_type: str | None = Field(default=None, examples=["pdq"])
    value: str | None = Field(default=None, max_length=1_000_000)
    media: MediaIn | None = None
    quality: int | None = Field(default=None, ge=0, le=100)
    source: str = Field(default="", max_length=256)
    note: str = Field(default="", max_length=2_000)
    enabled: bool = True

    @model_validator(mode="after")
    def _one_of(self) -> EntryIn:
        if (self.media is None) == (self.signal_type is None or self.value is None):
            raise ValueError("give either signal_type and value, or media")
        return self


class EntriesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entries: list[EntryIn] = Field(min_length=1, max_length=10_000)


class AddedOut(BaseModel):
    added: list[BankEntry]
    duplicates: list[dict[str, Any]] = Field(description="Entries already in the bank: not added again.")
    skipped: list[str] = Field(default_factory=list, description="Invalid entries skipped (skip_invalid).")


class EntryPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool | None = None
    note: str | None = Field(default=None, max_length=2_000)


class EntryPage(BaseModel):
    entries: list[BankEntry]
    total: int
    limit: int
    offset: int


class ImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["pdq", "te", "csv"] = Field(
        description="pdq: HEX[,QUALITY] lines; te: 'SIGNAL_TYPE VALUE' lines (python-threatexchange); "
        "csv: HMA-style CSV with signal_type,signal_value[,quality,note,source,enabled]."
    )
    data: str = Field(description="The file's text.")
    source: str = Field(
        default="", max_length=256, description="Recorded on every entry, e.g. 'tx:collab-12'."
    )
    skip_invalid: bool = Field(default=False, description="Add the valid entries and list the invalid ones.")


class MatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str | None = Field(default=None, max_length=20_000)
    hashes: dict[str, list[str]] = Field(default_factory=dict, description="Fingerprints by signal type.")
    media: MediaIn | None = None

    @model_validator(mode="after")
    def _something(self) -> MatchIn:
        if not self.text and not self.hashes and self.media is None:
            raise ValueError("give text, hashes or media")
        return self


class MatchOut(BaseModel):
    matches: list[dict[str, Any]]
    fingerprints: dict[str, list[str]] = Field(description="What was looked up (long values shortened).")


def _service(request: Request) -> BankService:
    service: BankService | None = request.app.state.warden.banks
    if service is None:
        raise ApiError(503, "banks are disabled on this server (banks.enabled = false)")
    return service


def _added(result: AddResult, skipped: list[str]) -> AddedOut:
    return AddedOut(added=result.added, duplicates=result.duplicates, skipped=skipped)


@router.post("/v1/banks", status_code=201, response_model=Bank, summary="Create a bank")
def create_bank(
    request: Request, body: BankCreate, principal: Principal = Depends(require_roles("admin"))
) -> Bank:
    bank = _service(request).create_bank(
        body.name, body.category, body.action, body.description, principal.actor
    )
    return bank


@router.get("/v1/banks", response_model=list[Bank], summary="List banks")
def list_banks(request: Request, principal: Principal = Depends(require_roles("admin"))) -> list[Bank]:
    return _service(request).repo.list_banks()


@router.get("/v1/banks/{name}", response_model=Bank, summary="Get a bank")
def get_bank(
    request: Request, name: BankName, principal: Principal = Depends(require_roles("admin"))
) -> Bank:
    return _service(request).repo.get_bank(name)


@router.patch("/v1/banks/{name}", response_model=Bank, summary="Enable/disable a bank or change its action")
def update_bank(
    request: Request, name: BankName, body: BankUpdate, principal: Principal = Depends(require_roles("admin"))
) -> Bank:
    bank = _service(request).update_bank(name, principal.actor, **body.model_dump(exclude_none=True))
    return bank


@router.delete("/v1/banks/{name}", summary="Delete a bank and its entries")
def delete_bank(
    request: Request, name: BankName, principal: Principal = Depends(require_roles("admin"))
) -> dict[str, Any]:
    return {"deleted": name, "entries": _service(request).delete_bank(name, principal.actor)}


@router.post("/v1/banks/{name}/entries", status_code=201, response_model=AddedOut, summary="Add entries")
def add_entries(
    request: Request,
    name: BankName,
    body: EntriesIn,
    skip_invalid: Annotated[bool, Query(description="Add valid entries, list invalid ones.")] = False,
    principal: Principal = Depends(require_roles("admin")),
) -> AddedOut:
    """Entries matching already in the bank are reported as duplicates, not added twice. Without
    `skip_invalid`, one invalid entry rejects the request (422 naming every invalid entry)."""
    service = _service(request)
    raw: list[RawEntry] = []
    for i, entry in enumerate(body.entries):
        if entry.media is not None:
            fps = service.matcher.media_fingerprints(entry.media.decode(), entry.media.kind)
            raw += [
                RawEntry(-(i + 1), name_, fp.value, fp.quality, entry.note, entry.source, entry.enabled)
                for name_, values in fps.items()
                for fp in values
            ]
        else:
            assert entry.signal_type is not None and entry.value is not None
            raw.append(
                RawEntry(
                    -(i + 1),
                    entry.signal_type,
                    entry.value,
                    entry.quality,
                    entry.note,
                    entry.source,
                    entry.enabled,
                )
            )
    result, skipped = service.add_entries(name, raw, principal.actor, skip_invalid=skip_invalid)
    return _added(result, skipped)


@router.get("/v1/banks/{name}/entries", response_model=EntryPage, summary="List a bank's entries")
def list_entries(
    request: Request,
    name: BankName,
    signal_type: str | None = None,
    enabled: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
    principal: Principal = Depends(require_roles("admin")),
) -> EntryPage:
    entries, total = _service(request).repo.list_entries(name, signal_type, enabled, limit, offset)
    return EntryPage(entries=entries, total=total, limit=limit, offset=offset)


@router.patch(
    "/v1/banks/{name}/entries/{entry_id}", response_model=BankEntry, summary="Enable/disable an entry"
)
def update_entry(
    request: Request,
    name: BankName,
    entry_id: int,
    body: EntryPatch,
    principal: Principal = Depends(require_roles("admin")),
) -> BankEntry:
    """Takes effect for matching at once in this process, and within `banks.refresh_interval_s` in others."""
    return _service(request).set_entry(name, entry_id, principal.actor, enabled=body.enabled, note=body.note)


@router.delete("/v1/banks/{name}/entries/{entry_id}", response_model=BankEntry, summary="Delete an entry")
def delete_entry(
    request: Request, name: BankName, entry_id: int, principal: Principal = Depends(require_roles("admin"))
) -> BankEntry:
    return _service(request).delete_entry(name, entry_id, principal.actor)


@router.post(
    "/v1/banks/{name}/import", status_code=201, response_model=AddedOut, summary="Import a hash file"
)
def import_entries(
    request: Request, name: BankName, body: ImportIn, principal: Principal = Depends(require_roles("admin"))
) -> AddedOut:
    result, skipped = _service(request).import_text(
        name, body.data, body.format, principal.actor, source=body.source, skip_invalid=body.skip_invalid
    )
    return _added(result, skipped)


@router.get("/v1/banks/{name}/export", summary="Export a bank (pdq, te or csv)", response_class=Response)
def export_entries(
    request: Request,
    name: BankName,
    format: Annotated[str, Query(description=f"One of {', '.join(FORMATS)}.")] = "csv",
    principal: Principal = Depends(require_roles("admin")),
) -> Response:
    if format not in FORMATS:
        raise ValidationError(f"format {format!r} is not one of {', '.join(FORMATS)}")
    media = "text/csv" if format == "csv" else "text/plain"
    return StreamingResponse(iter(_service(request).export_text(name, format)), media_type=media)


@router.post(
    "/v1/match", response_model=MatchOut, summary="Look up text, hashes or a media file in the banks"
)
def match(
    request: Request, body: MatchIn, principal: Principal = Depends(require_roles("client", "reviewer"))
) -> MatchOut:
    """Matching only: no decision is made or stored. Each match names bank, entry, signal type, distance."""
    service = _service(request)
    media = (body.media.decode(), body.media.kind) if body.media is not None else None
    try:
        query = service.matcher.fingerprints(body.text or "", body.hashes, media)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    matches = service.matcher.match([query])[0]
    shown = {
        k: [fp.value if len(fp.value) <= 100 else fp.value[:100] + "…" for fp in v] for k, v in query.items()
    }
    return MatchOut(matches=[m.to_dict() for m in matches], fingerprints=shown)
