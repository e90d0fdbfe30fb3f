"""HMA-compatible hash API: the routes of Meta's Hasher-Matcher-Actioner 2.0 (OpenMediaMatch) that
its clients use, served from Warden's banks. `/m/...` matches, `/c/...` curates banks, `/h/...`
hashes; paths, parameters and JSON shapes follow HMA's blueprints (matching, curation, hashing).

Mapping (docs/banks.md, "HMA-compatible API"):
- An HMA bank is a Warden bank: HMA's UPPER_WITH_UNDERSCORE name is the Warden name upper-cased
  (`KNOWN_PHOTOS` <-> `known_photos`; paths accept either case). A bank created here without
  Warden's `category` / `action` gets settings `banks.hma_default_category` / `banks.hma_default_action`.
  `matching_enabled_ratio` is 1.0 or 0.0: Warden banks are on or off, never sampled.
- HMA bank content is Warden entries, one per signal: a content id (`bank_content_id`) is the id of
  the Warden entry that matched; adding a file returns the first entry's id as `id` and every
  entry's in `entry_ids`.
- Signal types carry ThreatExchange names (`pdq`, `video_md5`, `vpdq`, `video_tmk_pdqf`,
  `raw_text`); Warden's own names and aliases are accepted on input too (`canonical_name`).
  Content types are HMA's `photo` (Warden kind `image`) and `video`.

Keys: HMA has none; here every route needs a Warden key as usual (`Authorization: Bearer`).
Lookups, hashing and the type lists need role `client`; curation needs `admin`. Errors carry
HMA's `{"message": ...}` next to Warden's `error` envelope, with HMA's statuses (400 for bad input,
404 for an unknown bank, 403 for a bank that exists already).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Coroutine, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, File, Path, Query, Request, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..banks.exchange import RawEntry
from ..banks.model import Bank
from ..banks.service import BankService
from ..banks.signal_types import Fingerprint, canonical_name
from ..content import Media
from ..errors import ConflictError, NotFoundError, ValidationError
from ..media.intake import media_status, resolve_media
from ..policy.model import ActionName
from .auth import Principal, require_roles
from .errors import STATUS_TYPES, ApiError

# HMA content type -> Warden media kind.
CONTENT_TYPES = {"photo": "image", "video": "video"}
# Routes that take a multipart upload: a server can give them `media.max_upload_bytes` as body limit.
UPLOAD_PATHS = ("/m/lookup", "/h/hash")


# -- errors in HMA's shape -------------------------------------------------------------------------
def _hma_error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {
        "message": message,
        "error": {"type": STATUS_TYPES.get(status, "error"), "message": message, "details": []},
    }
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    first = dict(exc.errors()[0]) if exc.errors() else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body")]
    where = ".".join(loc) or "request"
    if first.get("type") == "missing":
        return f"{where} is required"
    return f"{where}: {first.get('msg', 'invalid value')}"


class HmaRoute(APIRoute):
    """Answers the errors of these routes (auth and validation included) as HMA does."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def hma_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as exc:
                return _hma_error(exc.status, exc.message, exc.headers)
            except RequestValidationError as exc:
                return _hma_error(400, _validation_message(exc))
            except ValidationError as exc:  # MediaError included: its own 413/415, else 400
                status = media_status(exc)
                return _hma_error(400 if status == 422 else status, str(exc))
            except NotFoundError as exc:
                return _hma_error(404, str(exc))
            except ConflictError as exc:
                return _hma_error(409, str(exc))
            except StarletteHTTPException as exc:
                return _hma_error(exc.status_code, str(exc.detail), dict(exc.headers or {}))

        return hma_handler


router = APIRouter(tags=["hma-compatible"], route_class=HmaRoute)
client = require_roles("client")
admin = require_roles("admin")
BankName = Annotated[str, Path(min_length=1, max_length=64, description="HMA bank name (any case).")]
SignalTypes = Annotated[
    str | None, Query(description="Comma-separated signal types to compute (default: all for the file).")
]
Banks = Annotated[str | None, Query(description="Comma-separated bank names to restrict matches to.")]
PhotoUpload = Annotated[UploadFile | None, File(description="An image (HMA content type photo).")]
VideoUpload = Annotated[UploadFile | None, File(description="A video.")]
MediaUrl = Annotated[str | None, Query(description="Fetched only where media.fetch_enabled allows it.")]
ContentType = Annotated[str | None, Query(description="photo or video (default: from the URL).")]
Seed = Annotated[str | None, Query(description="Accepted; Warden banks are never sampled.")]


class LookupQuery:
    """The query parameters every lookup of a file takes (HMA's `types`, `banks`, `seed`,
    `bypass_coinflip`; the last two change nothing here: Warden banks are never sampled)."""

    def __init__(
        self, types: SignalTypes = None, banks: Banks = None, seed: Seed = None, bypass_coinflip: bool = False
    ) -> None:
        self.types = types
        self.banks = _bank_filter(banks)


# -- names -------------------------------------------------------------------------------------------
def _service(request: Request) -> BankService:
    service: BankService | None = request.app.state.warden.banks
    if service is None:
        raise ApiError(503, "banks are disabled on this server (banks.enabled = false)")
    return service


def hma_bank_name(name: str) -> str:
    return name.upper()


def warden_bank_name(name: str) -> str:
    return name.strip().lower()


def _bank_json(bank: Bank) -> dict[str, Any]:
    return {"name": hma_bank_name(bank.name), "matching_enabled_ratio": 1.0 if bank.enabled else 0.0}


def te_name(service: BankService, signal_type: str) -> str:
    """The ThreatExchange name of a Warden signal type (`md5` -> `video_md5`)."""
    return service.matcher.types[signal_type].exchange_name


def _signal_type(service: BankService, name: str) -> str:
    """The Warden signal type for an HMA / ThreatExchange name; 400 naming the known ones."""
    try:
        return canonical_name(name)
    except ValueError:
        known = ", ".join(sorted(te_name(service, n) for n in service.matcher.types))
        raise ApiError(400, f"No such SignalType '{name}'; known: {known}") from None


def _validated(service: BankService, te_type: str, value: str) -> tuple[str, str]:
    name = _signal_type(service, te_type)
    try:
        return name, service.matcher.types[name].validate(value)
    except ValueError as exc:
        raise ApiError(400, f"invalid {te_type} signal: {exc}") from None


def _bank_filter(banks: str | None) -> set[str] | None:
    return {warden_bank_name(b) for b in banks.split(",") if b.strip()} if banks else None


def _distance(value: float) -> str:
    return f"{value:g}"


# -- hashing -----------------------------------------------------------------------------------------
def _content_kind(content_type: str) -> str:
    kind = CONTENT_TYPES.get(content_type.strip().lower())
    if kind is None:
        raise ApiError(400, f"no such content_type: '{content_type}'; known: {', '.join(CONTENT_TYPES)}")
    return kind


def _hash(service: BankService, data: bytes, kind: str, types: str | None) -> dict[str, Fingerprint]:
    """Fingerprints of a file by Warden signal type, the first where a type computes several."""
    if types is None:
        found = service.matcher.media_fingerprints(data, kind)
    else:
        found = {}
        for raw in (t.strip() for t in types.split(",")):
            if not raw:
                continue
            name = _signal_type(service, raw)
            if kind not in service.matcher.types[name].media:
                raise ApiError(400, f"signal type '{raw}' does not apply to {kind} content")
            found[name] = service.matcher.types[name].from_bytes(data, kind)
        if not found:
            raise ApiError(400, "empty signal type selection")
    return {name: fps[0] for name, fps in found.items() if fps}


def _upload(photo: UploadFile | None, video: UploadFile | None) -> tuple[bytes, str]:
    given = [(f, kind) for f, kind in ((photo, "image"), (video, "video")) if f is not None]
    if not given:
        raise ApiError(
            400, "Missing multipart/form-data file upload: send the file as field 'photo' or 'video'"
        )
    if len(given) > 1:
        raise ApiError(400, "Only one file allowed per request")
    upload, kind = given[0]
    return upload.file.read(), kind


def _fetch(request: Request, url: str, content_type: str | None) -> tuple[bytes, str]:
    """A URL's bytes (media fetching must be enabled and the host allow-listed) and Warden kind."""
    settings = request.app.state.warden.settings
    try:
        got = resolve_media(Media(url=url), settings.media, settings.limits, allow_path=False)
    except ValueError as exc:  # a URL the Media model refuses (too long)
        raise ApiError(400, f"url: {exc}") from None
    if content_type:
        return got.data, _content_kind(content_type)
    declared = (got.content_type or "").lower()
    for prefix, kind in (("image", "image"), ("video", "video")):
        if declared.startswith(prefix):
            return got.data, kind
    raise ApiError(
        400,
        f"unsupported url ContentType: '{declared}', if you know the expected type, "
        "provide it with the content_type query param",
    )


async def _media(
    request: Request,
    photo: UploadFile | None,
    video: UploadFile | None,
    url: str | None,
    content_type: str | None,
) -> tuple[bytes, str]:
    if url:
        return await asyncio.to_thread(_fetch, request, url, content_type)
    return await asyncio.to_thread(_upload, photo, video)


def _signals_out(service: BankService, hashes: dict[str, Fingerprint]) -> dict[str, str]:
    return {te_name(service, name): fp.value for name, fp in hashes.items()}


# -- matching ----------------------------------------------------------------------------------------
def _matches(
    service: BankService, query: dict[str, list[Fingerprint]], banks: set[str] | None
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """HMA's lookup result: by signal type, by bank, the matched content with its distance."""
    out: dict[str, dict[str, list[dict[str, Any]]]] = {te_name(service, name): {} for name in query}
    for match in service.matcher.match([query])[0]:
        if banks is not None and match.bank not in banks:
            continue
        found = {"bank_content_id": match.entry_id, "distance": _distance(match.distance)}
        out[te_name(service, match.signal_type)].setdefault(hma_bank_name(match.bank), []).append(found)
    return out


def _lookup_file(
    service: BankService, data: bytes, kind: str, types: str | None, banks: set[str] | None
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    hashes = _hash(service, data, kind, types)
    return _matches(service, {name: [fp] for name, fp in hashes.items()}, banks)


@router.get("/m/raw_lookup", summary="HMA: look up a hash")
def raw_lookup(
    request: Request,
    signal: Annotated[str, Query(description="The hash.")],
    signal_type: Annotated[str, Query(description="Its type, e.g. pdq, video_md5.")],
    banks: Banks = None,
    include_distance: bool = False,
    principal: Principal = Depends(client),
) -> dict[str, Any]:
    """`{"matches": [bank_content_id, ...]}`, or with `include_distance`
    `{"matches": [{"bank_content_id", "distance"}]}`. Disabled entries and banks never match."""
    service = _service(request)
    name, value = _validated(service, signal_type, signal)
    found = _matches(service, {name: [Fingerprint(value)]}, _bank_filter(banks))
    matches = [m for bank_matches in found[te_name(service, name)].values() for m in bank_matches]
    if include_distance:
        return {"matches": matches}
    return {"matches": [m["bank_content_id"] for m in matches]}


@router.get("/m/lookup", summary="HMA: look up a hash, or a file by URL, by bank")
async def lookup_get(
    request: Request,
    signal: str | None = None,
    signal_type: str | None = None,
    url: MediaUrl = None,
    content_type: ContentType = None,
    query: LookupQuery = Depends(),
    principal: Principal = Depends(client),
) -> dict[str, Any]:
    """With `signal` and `signal_type`: `{BANK: [{"bank_content_id", "distance"}]}`. With `url`
    (fetched only where `media.fetch_enabled` and the host is allow-listed): the same keyed by
    signal type, or only `signal_type`'s when given."""
    service = _service(request)
    if url:
        data, kind = await _media(request, None, None, url, content_type)
        found = await asyncio.to_thread(_lookup_file, service, data, kind, query.types, query.banks)
        if signal_type is not None:
            return found.get(te_name(service, _signal_type(service, signal_type)), {})
        return found
    if not signal or not signal_type:
        raise ApiError(400, "Either url or both signal and signal_type are required")
    name, value = _validated(service, signal_type, signal)
    found = await asyncio.to_thread(_matches, service, {name: [Fingerprint(value)]}, query.banks)
    return found[te_name(service, name)]


@router.post("/m/lookup", summary="HMA: look up an uploaded file, by signal type and bank")
async def lookup_post(
    request: Request,
    photo: PhotoUpload = None,
    video: VideoUpload = None,
    query: LookupQuery = Depends(),
    principal: Principal = Depends(client),
) -> dict[str, Any]:
    """multipart/form-data with one file under its content type's name (`photo` or `video`):
    `{SIGNAL_TYPE: {BANK: [{"bank_content_id", "distance"}]}}` for every signal type computed."""
    service = _service(request)
    data, kind = await _media(request, photo, video, None, None)
    return await asyncio.to_thread(_lookup_file, service, data, kind, query.types, query.banks)


@router.get("/m/index/status", summary="HMA: index status by signal type")
def index_status(
    request: Request, signal_type: str | None = None, principal: Principal = Depends(client)
) -> dict[str, Any]:
    """Warden's indexes are always current (changes apply at once, other processes' within
    `banks.refresh_interval_s`): `present` is true and `size` counts the active entries."""
    service = _service(request)
    names = [_signal_type(service, signal_type)] if signal_type else list(service.matcher.types)
    return {
        te_name(service, n): {"present": True, "built_to": -1, "size": len(service.matcher.indexes[n])}
        for n in names
    }


# -- hashing routes ---------------------------------------------------------------------------------
@router.get("/h/hash", summary="HMA: hash a file fetched from a URL")
async def hash_get(
    request: Request,
    url: Annotated[str, Query(description="Fetched only where media.fetch_enabled allows it.")],
    content_type: ContentType = None,
    types: SignalTypes = None,
    principal: Principal = Depends(client),
) -> dict[str, str]:
    return await _hash_route(request, None, None, url, content_type, types)


@router.post("/h/hash", summary="HMA: hash an uploaded file")
async def hash_post(
    request: Request,
    photo: PhotoUpload = None,
    video: VideoUpload = None,
    types: SignalTypes = None,
    principal: Principal = Depends(client),
) -> dict[str, str]:
    """`{SIGNAL_TYPE: VALUE}` for every signal type of the file's content type."""
    return await _hash_route(request, photo, video, None, None, types)


async def _hash_route(
    request: Request,
    photo: UploadFile | None,
    video: UploadFile | None,
    url: str | None,
    content_type: str | None,
    types: str | None,
) -> dict[str, str]:
    service = _service(request)
    data, kind = await _media(request, photo, video, url, content_type)
    return _signals_out(service, await asyncio.to_thread(_hash, service, data, kind, types))


# -- curation: banks ---------------------------------------------------------------------------------
class BankCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=64, examples=["KNOWN_PHOTOS"])
    enabled_ratio: float | None = Field(default=None, ge=0, le=1, description="0 or 1 (default 1).")
    enabled: bool | None = None
    # Warden's own fields, which HMA clients do not send: defaults from settings (banks.hma_default_*).
    category: str | None = Field(default=None, description="Policy category a match implies.")
    action: ActionName | None = None
    description: str = Field(default="", max_length=2_000)


class BankUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str | None = Field(default=None, max_length=64)
    enabled_ratio: float | None = Field(default=None, ge=0, le=1)
    enabled: bool | None = None
    category: str | None = None
    action: ActionName | None = None
    description: str | None = Field(default=None, max_length=2_000)


def _enabled(enabled_ratio: float | None, enabled: bool | None) -> bool | None:
    if enabled_ratio is not None:
        if enabled_ratio not in (0, 1):
            raise ApiError(400, "Warden banks match all or nothing: enabled_ratio must be 0 or 1")
        return enabled_ratio == 1
    return enabled


@router.get("/c/banks", summary="HMA: list banks")
def banks_index(request: Request, principal: Principal = Depends(admin)) -> list[dict[str, Any]]:
    return [_bank_json(b) for b in _service(request).repo.list_banks()]


@router.get("/c/bank/{bank_name}", summary="HMA: get a bank")
def bank_show(request: Request, bank_name: BankName, principal: Principal = Depends(admin)) -> dict[str, Any]:
    return _bank_json(_get_bank(_service(request), bank_name))


def _get_bank(service: BankService, name: str) -> Bank:
    try:
        return service.repo.get_bank(warden_bank_name(name))
    except NotFoundError:
        raise ApiError(404, f"bank '{name}' not found") from None


@router.post("/c/banks", status_code=201, summary="HMA: create a bank")
def bank_create(request: Request, body: BankCreate, principal: Principal = Depends(admin)) -> dict[str, Any]:
    """HMA's `{name, enabled_ratio | enabled}`, plus Warden's optional `category`, `action` and
    `description` (defaults: settings banks.hma_default_category, banks.hma_default_action)."""
    service = _service(request)
    enabled = _enabled(body.enabled_ratio, body.enabled)
    defaults = request.app.state.warden.settings.banks
    name = warden_bank_name(body.name)
    try:
        bank = service.create_bank(
            name,
            body.category or defaults.hma_default_category,
            body.action or defaults.hma_default_action,
            body.description,
            principal.actor,
        )
    except ConflictError:
        raise ApiError(403, "Bank already exists") from None
    if enabled is False:
        bank = service.update_bank(name, principal.actor, enabled=False)
    return _bank_json(bank)


@router.put("/c/bank/{bank_name}", summary="HMA: enable or disable a bank")
def bank_update(
    request: Request, bank_name: BankName, body: BankUpdate, principal: Principal = Depends(admin)
) -> dict[str, Any]:
    service = _service(request)
    bank = _get_bank(service, bank_name)
    if body.name is not None and warden_bank_name(body.name) != bank.name:
        raise ApiError(400, "Warden banks cannot be renamed: create a new bank and import the export")
    changes = body.model_dump(include={"category", "action", "description"}, exclude_none=True)
    return _bank_json(
        service.update_bank(
            bank.name, principal.actor, enabled=_enabled(body.enabled_ratio, body.enabled), **changes
        )
    )


@router.delete("/c/bank/{bank_name}", summary="HMA: delete a bank and its content")
def bank_delete(
    request: Request, bank_name: BankName, principal: Principal = Depends(admin)
) -> dict[str, Any]:
    """As in HMA, deleting a bank that does not exist is not an error."""
    with contextlib.suppress(NotFoundError):
        _service(request).delete_bank(warden_bank_name(bank_name), principal.actor)
    return {"message": "Done"}


# -- curation: bank content --------------------------------------------------------------------------
def _metadata(raw: Any) -> tuple[str, str]:
    """HMA's optional content metadata ({content_id, content_uri, json}) as an entry's source and note."""
    if raw is None:
        return "hma", ""
    if not isinstance(raw, dict):
        raise ApiError(400, "metadata should be a json object")
    unexpected = sorted(set(raw) - {"content_id", "content_uri", "json"})
    if unexpected:
        raise ApiError(400, f"metadata contains unexpected keys: {', '.join(unexpected)}")
    content_id = str(raw.get("content_id") or "")
    if len(content_id) > 200:
        raise ApiError(400, "metadata.content_id is longer than 200 characters")
    rest = {k: raw[k] for k in ("content_uri", "json") if raw.get(k) is not None}
    note = json.dumps(rest, sort_keys=True) if rest else ""
    if len(note) > 2_000:
        raise ApiError(400, "metadata content_uri and json take more than 2000 characters")
    return (f"hma:{content_id}" if content_id else "hma"), note


def _add_signals(
    service: BankService,
    bank: Bank,
    signals: Sequence[tuple[str, Fingerprint]],
    metadata: tuple[str, str],
    actor: str,
) -> dict[str, Any]:
    """Add one piece of content (its signals by Warden type) as entries; HMA's `{id, signals}`,
    plus `entry_ids` by signal type. A signal already in the bank keeps its entry (and id)."""
    if not signals:
        raise ApiError(400, "No signals given")
    source, note = metadata
    raw = [
        RawEntry(-(i + 1), name, fp.value, fp.quality, note, source) for i, (name, fp) in enumerate(signals)
    ]
    result, _ = service.add_entries(bank.name, raw, actor)
    duplicates = {d["index"]: d for d in result.duplicates}
    added = iter(result.added)
    ids: list[int] = []
    for i in range(len(raw)):
        dup = duplicates.get(i)
        if dup is None:
            ids.append(next(added).id)
        elif dup["existing_id"] is not None:
            ids.append(dup["existing_id"])
        else:  # repeated within the request: the first one's id
            ids.append(ids[dup["duplicate_of_index"]])
    entry_ids = {te_name(service, name): ids[i] for i, (name, _fp) in enumerate(signals)}
    return {
        "id": ids[0],
        "signals": {te_name(service, name): fp.value for name, fp in signals},
        "entry_ids": entry_ids,
    }


@router.post("/c/bank/{bank_name}/content", summary="HMA: add a file (upload or URL) to a bank")
async def bank_add_content(
    request: Request,
    bank_name: BankName,
    photo: PhotoUpload = None,
    video: VideoUpload = None,
    url: MediaUrl = None,
    content_type: ContentType = None,
    types: SignalTypes = None,
    metadata: Annotated[
        str | None, Query(description="A JSON object {content_id, content_uri, json}.")
    ] = None,
    principal: Principal = Depends(admin),
) -> dict[str, Any]:
    """Hashes the file with every signal type of its content type (or `types`) and banks the
    signals: `{"id", "signals": {SIGNAL_TYPE: VALUE}, "entry_ids": {SIGNAL_TYPE: ID}}`. Metadata
    comes in the `metadata` query parameter or, with a url, a JSON body `{"metadata": {...}}`."""
    service = _service(request)
    bank = await asyncio.to_thread(_get_bank, service, bank_name)
    raw_meta: Any = None
    if metadata is not None:
        try:
            raw_meta = json.loads(metadata)
        except (json.JSONDecodeError, RecursionError):
            raise ApiError(400, "metadata should be a json object") from None
    elif request.headers.get("content-type", "").lower().startswith("application/json"):
        try:
            body = await request.json()
        except (json.JSONDecodeError, RecursionError, UnicodeDecodeError):
            raise ApiError(400, "the request body is not valid JSON") from None
        raw_meta = body.get("metadata") if isinstance(body, dict) else None
    meta = _metadata(raw_meta)
    if not url and photo is None and video is None:
        raise ApiError(400, "Neither `url` nor multipart file upload was received")
    data, kind = await _media(request, photo, video, url, content_type)

    def work() -> dict[str, Any]:
        hashes = _hash(service, data, kind, types)
        return _add_signals(service, bank, list(hashes.items()), meta, principal.actor)

    return await asyncio.to_thread(work)


@router.post("/c/bank/{bank_name}/signal", summary="HMA: add signals (hashes) to a bank")
def bank_add_signals(
    request: Request,
    bank_name: BankName,
    body: Annotated[dict[str, str], Body(description='{SIGNAL_TYPE: VALUE}, e.g. {"pdq": "..."}.')],
    principal: Principal = Depends(admin),
) -> dict[str, Any]:
    """One piece of content known by its signals: `{"pdq": "...", "video_md5": "..."}`."""
    service = _service(request)
    bank = _get_bank(service, bank_name)
    signals = []
    for te_type, value in body.items():
        name, canonical = _validated(service, te_type, value)
        signals.append((name, Fingerprint(canonical)))
    return _add_signals(service, bank, signals, ("hma", ""), principal.actor)


@router.delete("/c/bank/{bank_name}/content/{content_id}", summary="HMA: remove content from a bank")
def bank_delete_content(
    request: Request,
    bank_name: BankName,
    content_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    principal: Principal = Depends(admin),
) -> dict[str, int]:
    service = _service(request)
    bank = _get_bank(service, bank_name)
    try:
        service.delete_entry(bank.name, content_id, principal.actor)
    except NotFoundError:
        return {"deleted": 0}
    return {"deleted": 1}


# -- configuration -----------------------------------------------------------------------------------
@router.get("/c/signal_type", summary="HMA: list signal types")
def signal_types(request: Request, principal: Principal = Depends(client)) -> list[dict[str, Any]]:
    """Every Warden signal type under its ThreatExchange name; all are always enabled."""
    service = _service(request)
    return [{"name": te_name(service, n), "enabled_ratio": 1.0} for n in service.matcher.types]


@router.get("/c/content_type", summary="HMA: list content types")
def content_types(principal: Principal = Depends(client)) -> list[dict[str, Any]]:
    return [{"name": name, "enabled": True} for name in CONTENT_TYPES]
