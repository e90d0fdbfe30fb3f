"""Pages of the review console. Server-rendered with Jinja2 (autoescaped); every state change is a POST
form carrying the session's CSRF token; the session is a signed cookie (see `session.py`).

Endpoints are plain `def`: FastAPI runs them in its thread pool, so store reads never block the loop.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from ...errors import ConflictError, NotFoundError, ValidationError
from ...review.appeals import REVIEWER_ACTIONS
from ...review.models import ReviewTask
from ...review.service import ReviewService, reviewer_view
from ..auth import ANONYMOUS
from . import render, views
from .session import (
    CONSOLE_ROLES,
    LOGIN_COOKIE,
    LOGIN_TTL_S,
    SESSION_COOKIE,
    SESSION_TTL_S,
    ConsoleSession,
    Signer,
    actor_for,
    csrf_ok,
)

log = logging.getLogger("warden.console")

HERE = Path(__file__).parent
FLASH_COOKIE = "warden_console_flash"
COOKIE_PATH = "/console"
APPEALS_QUEUE = "appeals"

# Keyboard letters per reviewer action; the legend on the item page is built from this table.
ACTION_KEYS: dict[str, str] = {"allow": "a", "label": "l", "limit": "m", "age_restrict": "g", "remove": "r"}
ACTIONS = [(action, key) for action, key in ACTION_KEYS.items() if action in REVIEWER_ACTIONS]
APPEAL_KEYS: dict[str, str] = {"uphold": "u", "reverse": "x"}
CATEGORY_KEYS = "1234567890"

_STATIC_TYPES = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8"}
# Read once: the files are tiny, and the content hash in the URL lets browsers cache them for good.
_STATIC = {name: (HERE / "static" / name).read_bytes() for name in _STATIC_TYPES}
_STATIC_VERSION = {name: hashlib.sha256(data).hexdigest()[:12] for name, data in _STATIC.items()}

# No inline script or style anywhere, so the policy can forbid both: injected markup could not run.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

# auto_reload off: the templates ship with the package, so each render need not stat them for changes.
templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    auto_reload=False,
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.globals["static_url"] = lambda name: f"/console/static/{name}?v={_STATIC_VERSION[name]}"
templates.filters.update(
    age=render.age, when=render.when, seconds=render.seconds, pct=render.pct, num=render.num
)
templates.filters["tojson_pretty"] = lambda value: json.dumps(value, indent=2, sort_keys=True, default=str)


# -- errors the console answers with pages, not JSON ---------------------------------------------------


class SignInRequired(Exception):
    """No valid session: redirect to the sign-in page (then back)."""


class ConsoleError(Exception):
    def __init__(self, status: int, heading: str, message: str) -> None:
        super().__init__(message)
        self.status, self.heading, self.message = status, heading, message


@dataclass
class ConsoleState:
    signer: Signer
    cookie_secure: bool | None = None  # None: Secure when the request came over https


def _console(request: Request) -> ConsoleState:
    state: ConsoleState = request.app.state.warden_console
    return state


def _review(request: Request) -> ReviewService:
    review: ReviewService | None = request.app.state.warden.review
    if review is None:
        raise ConsoleError(
            503, "Review is switched off", "Human review is disabled on this server (review.enabled = false)."
        )
    return review


# -- rendering -----------------------------------------------------------------------------------------


def _render(
    request: Request,
    template: str,
    session: ConsoleSession | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    flash = _console(request).signer.unsign("flash", request.cookies.get(FLASH_COOKIE)) or {}
    context.setdefault("flash", flash.get("m"))
    context.setdefault("flash_kind", flash.get("k", "ok"))
    context.setdefault("nav", "")
    html = templates.get_template(template).render(session=session, **context)
    response = HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(FLASH_COOKIE, path=COOKIE_PATH)
    return response


def _redirect(request: Request, url: str, flash: str | None = None, kind: str = "ok") -> RedirectResponse:
    response = RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
    if flash:
        token = _console(request).signer.sign("flash", {"m": flash, "k": kind, "exp": _now() + 60})
        _set_cookie(request, response, FLASH_COOKIE, token, 60)
    return response


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=_secure_cookies(request),
    )


def _secure_cookies(request: Request) -> bool:
    configured = _console(request).cookie_secure
    return request.url.scheme == "https" if configured is None else configured


def _now() -> int:
    return int(time.time())


def _query(**params: str | None) -> str:
    kept = {k: v for k, v in params.items() if v}
    return f"?{urlencode(kept)}" if kept else ""


# -- who is signed in ----------------------------------------------------------------------------------


def current_session(request: Request) -> ConsoleSession:
    session = _console(request).signer.read_session(request.cookies.get(SESSION_COOKIE))
    if session is None or session.role not in CONSOLE_ROLES:
        raise SignInRequired()
    state = request.app.state.warden
    if state.settings.auth_enabled and not state.store.api_key_active(
        session.name, session.role, session.key_prefix
    ):
        raise SignInRequired()
    return session


def admin_session(session: ConsoleSession = Depends(current_session)) -> ConsoleSession:
    if not session.is_admin:
        raise ConsoleError(
            403, "Admins only", f"{session.name!r} has the {session.role} role; this page needs admin."
        )
    return session


def _check_csrf(session: ConsoleSession, token: str) -> None:
    if not csrf_ok(session, token):
        raise ConsoleError(
            403, "Form expired", "The form was not issued by this session. Reload the page and try again."
        )


def _safe_next(target: str | None) -> str:
    # Only paths inside the console: never an open redirect to another site.
    if target and target.startswith("/console") and not target.startswith("//") and "\\" not in target:
        return target
    return "/console"


# -- sign-in -------------------------------------------------------------------------------------------

router = APIRouter(prefix="/console", include_in_schema=False)


def _login_page(request: Request, error: str | None, next_url: str, status_code: int = 200) -> HTMLResponse:
    cookie, nonce = _console(request).signer.login_token()
    response = _render(
        request,
        "login.html",
        None,
        status_code=status_code,
        error=error,
        nonce=nonce,
        next_url=next_url,
        ttl_hours=SESSION_TTL_S // 3600,
        auth_enabled=request.app.state.warden.settings.auth_enabled,
    )
    _set_cookie(request, response, LOGIN_COOKIE, cookie, LOGIN_TTL_S)
    return response


@router.get("/login")
def login_form(request: Request, next: str | None = Query(default=None)) -> Response:
    try:
        current_session(request)
        return _redirect(request, _safe_next(next))
    except SignInRequired:
        return _login_page(request, None, _safe_next(next))


@router.post("/login")
def login(
    request: Request,
    api_key: str = Form(default="", max_length=512),
    nonce: str = Form(default="", max_length=128),
    next: str = Form(default="/console", max_length=2048),
) -> Response:
    console = _console(request)
    target = _safe_next(next)
    if not console.signer.check_login(request.cookies.get(LOGIN_COOKIE), nonce):
        return _login_page(request, "The sign-in form expired. Please try again.", target, 400)
    warden = request.app.state.warden
    if not warden.settings.auth_enabled:
        found: tuple[str, str] | None = (ANONYMOUS.name, ANONYMOUS.role)  # as the HTTP API does
        prefix = ""
    else:
        key = api_key.strip()
        found = warden.store.verify_api_key(key) if key else None
        prefix = key[:8]
    if found is None:
        return _login_page(request, "That API key is not valid, or it has been revoked.", target, 401)
    name, role = found
    if role not in CONSOLE_ROLES:
        return _login_page(
            request,
            f"The key {name!r} has the {role} role. The console needs a reviewer or admin key.",
            target,
            403,
        )
    token = console.signer.session_cookie(name, role, prefix)
    response = _redirect(request, target)
    _set_cookie(request, response, SESSION_COOKIE, token, SESSION_TTL_S)
    response.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH)
    warden.store.append_audit(actor_for(name, prefix), "console.signin", "api_key", name, {"role": role})
    return response


@router.post("/logout")
def logout(
    request: Request, csrf: str = Form(default=""), session: ConsoleSession = Depends(current_session)
) -> Response:
    _check_csrf(session, csrf)
    response = _redirect(request, "/console/login")
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


# -- queues --------------------------------------------------------------------------------------------


def _policy_categories(request: Request) -> list[tuple[str, str, float | None]]:
    policy = request.app.state.warden.active_policy
    return [(c.id, c.title, c.flag_threshold) for c in policy.categories]


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


@router.get("", response_class=HTMLResponse)
def queues_page(
    request: Request,
    category: str | None = Query(default=None, max_length=100),
    language: str | None = Query(default=None, max_length=35),
    queue: str | None = Query(default=None, max_length=100),
    session: ConsoleSession = Depends(current_session),
) -> Response:
    category, language, queue = _clean(category), _clean(language), _clean(queue)
    review = _review(request)
    summaries = review.queues()
    categories = sorted(
        {cid for cid, _, _ in _policy_categories(request)} | {c for s in summaries for c in s.by_category}
    )
    languages = sorted({lang for s in summaries for lang in s.by_language})
    tasks = review.list_tasks(category=category, language=language, queue=queue, status="pending", limit=50)
    mine = [
        t
        for t in review.list_tasks(status="leased", limit=200)
        if any(lease.reviewer == session.actor for lease in t.leases)
    ]
    # `n` takes the next item from the queue the reviewer just worked in, else the first with work.
    default_queue = queue or next((s.name for s in summaries if s.pending), None)
    return _render(
        request,
        "queues.html",
        session,
        nav="queues",
        summaries=summaries,
        categories=categories,
        languages=languages,
        category=category,
        language=language,
        queue=queue,
        default_queue=default_queue,
        tasks=tasks,
        mine=mine,
        here=f"/console{_query(queue=queue, category=category, language=language)}",
    )


@router.post("/queue/{name}/next")
def take_next(
    request: Request,
    name: str,
    csrf: str = Form(default=""),
    category: str = Form(default="", max_length=100),
    language: str = Form(default="", max_length=35),
    back: str = Form(default="/console", max_length=2048),
    session: ConsoleSession = Depends(current_session),
) -> Response:
    _check_csrf(session, csrf)
    category_, language_ = _clean(category), _clean(language)
    task = _review(request).lease_next(session.actor, queue=name, category=category_, language=language_)
    if task is None:
        what = f"the {name} queue" + (" matching the filters" if category_ or language_ else "")
        return _redirect(request, _safe_next(back), f"Nothing left to take in {what}.", "warn")
    return _redirect(request, f"/console/tasks/{task.id}")


# -- one item ------------------------------------------------------------------------------------------


def _get_task(request: Request, task_id: str, session: ConsoleSession) -> ReviewTask:
    try:
        # reviewer_view: a gold item must look like any other to the reviewer.
        return reviewer_view(_review(request).get(task_id, viewer=session.actor))
    except NotFoundError:
        raise ConsoleError(404, "No such item", f"There is no review task {task_id!r}.") from None


def _holds_lease(task: ReviewTask, session: ConsoleSession) -> bool:
    return task.status != "done" and any(lease.reviewer == session.actor for lease in task.leases)


def _back_to_list(task: ReviewTask) -> str:
    """Where a reviewer goes once done with `task`: the list it was taken from."""
    return "/console/appeals" if task.appeal is not None else f"/console{_query(queue=task.queue)}"


@router.get("/tasks/{task_id}", response_class=HTMLResponse)
def task_page(request: Request, task_id: str, session: ConsoleSession = Depends(current_session)) -> Response:
    task = _get_task(request, task_id, session)
    categories = _policy_categories(request)
    view = views.build(task, categories)
    is_appeal = task.appeal is not None
    return _render(
        request,
        "task.html",
        session,
        nav="appeals" if is_appeal else "queues",
        task=task,
        view=view,
        mine=_holds_lease(task, session),
        is_appeal=is_appeal,
        actions=ACTIONS,
        appeal_keys=APPEAL_KEYS,
        category_choices=[
            (cid, title, CATEGORY_KEYS[i] if i < len(CATEGORY_KEYS) else "")
            for i, (cid, title, _) in enumerate(categories)
        ],
        suggested=set(task.flagged),
    )


@router.post("/tasks/{task_id}/decide")
def decide(
    request: Request,
    task_id: str,
    csrf: str = Form(default=""),
    action: str = Form(default="", max_length=40),
    categories: list[str] = Form(default=[]),
    note: str = Form(default="", max_length=4000),
    session: ConsoleSession = Depends(current_session),
) -> Response:
    _check_csrf(session, csrf)
    task = _get_task(request, task_id, session)
    if not action:
        return _redirect(request, f"/console/tasks/{task_id}", "Choose an action first.", "error")
    try:
        label = _review(request).decide(task_id, session.actor, action, categories, note=note.strip())
    except (ConflictError, ValidationError) as exc:
        return _redirect(request, f"/console/tasks/{task_id}", str(exc), "error")
    shown = label.outcome or label.action
    cats = f" ({', '.join(label.categories)})" if label.categories else ""
    return _redirect(request, _back_to_list(task), f"Saved: {shown}{cats} on {task.content_id}.")


@router.post("/tasks/{task_id}/release")
def release(
    request: Request,
    task_id: str,
    csrf: str = Form(default=""),
    session: ConsoleSession = Depends(current_session),
) -> Response:
    _check_csrf(session, csrf)
    task = _get_task(request, task_id, session)
    try:
        _review(request).release(task_id, session.actor)
    except ConflictError as exc:
        return _redirect(request, f"/console/tasks/{task_id}", str(exc), "error")
    skipped = f"Skipped {task.content_id}: it is back in the {task.queue} queue."
    return _redirect(request, _back_to_list(task), skipped, "warn")


@router.get("/media/{sha256}")
def media(request: Request, sha256: str, session: ConsoleSession = Depends(current_session)) -> Response:
    store = _review(request).media_store
    try:
        if store is None:  # as GET /v1/review/media answers
            raise NotFoundError("this server keeps no media store")
        data, content_type = store.get(sha256)
    except NotFoundError:
        raise ConsoleError(404, "No such media", "That attachment is not in the media store.") from None
    headers = {
        "Cache-Control": "private, max-age=3600",
        "X-Content-Type-Options": "nosniff",
        # Even an SVG or HTML upload opened directly cannot run script in the console's origin.
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    if not content_type.startswith(("image/", "video/")) or content_type == "image/svg+xml":
        headers["Content-Disposition"] = "attachment"
    return Response(data, media_type=content_type, headers=headers)


# -- appeals -------------------------------------------------------------------------------------------


@router.get("/appeals", response_class=HTMLResponse)
def appeals_page(request: Request, session: ConsoleSession = Depends(current_session)) -> Response:
    review = _review(request)
    pending = review.list_tasks(queue=APPEALS_QUEUE, status="pending", limit=100)
    leased = review.list_tasks(queue=APPEALS_QUEUE, status="leased", limit=100)
    done = review.list_tasks(queue=APPEALS_QUEUE, status="done", limit=25)
    return _render(
        request,
        "appeals.html",
        session,
        nav="appeals",
        pending=pending,
        leased=leased,
        done=done,
        queue=APPEALS_QUEUE,
    )


# -- admin ---------------------------------------------------------------------------------------------


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, session: ConsoleSession = Depends(admin_session)) -> Response:
    from ...shadow import shadow_report

    stats = _review(request).stats()
    shadow = shadow_report(request.app.state.warden.store, examples=0)
    ordering = _review(request).ordering.overview()
    return _render(request, "admin.html", session, nav="admin", stats=stats, shadow=shadow, ordering=ordering)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    object_id: str | None = Query(default=None, max_length=256),
    limit: int = Query(default=200, ge=1, le=1000),
    session: ConsoleSession = Depends(admin_session),
) -> Response:
    entries = request.app.state.warden.store.list_audit(limit=limit, object_id=_clean(object_id))
    return _render(request, "audit.html", session, nav="audit", entries=entries, object_id=_clean(object_id))


# -- static files and installation ---------------------------------------------------------------------


@router.get("/static/{name}")
def static(name: str) -> Response:
    if name not in _STATIC:
        raise ConsoleError(404, "Not found", "No such file.")
    headers = {"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"}
    return Response(_STATIC[name], media_type=_STATIC_TYPES[name], headers=headers)


def install(app: FastAPI, secret: str | None = None, cookie_secure: bool | None = None) -> None:
    """Add the console to `app`. Sessions are signed with `secret` (settings.review.console_secret) or,
    when unset, a key made here once per process: sessions then end when the server restarts, and
    several workers behind one address need sticky sessions."""
    key = secret.encode("utf-8") if secret else secrets.token_bytes(32)
    app.state.warden_console = ConsoleState(signer=Signer(key), cookie_secure=cookie_secure)

    async def sign_in(request: Request, exc: Exception) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            target = "/console"
        return RedirectResponse(f"/console/login{_query(next=target)}", status_code=303)

    async def page_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ConsoleError)
        session = _console(request).signer.read_session(request.cookies.get(SESSION_COOKIE))
        return _render(
            request,
            "error.html",
            session,
            status_code=exc.status,
            status=exc.status,
            heading=exc.heading,
            message=exc.message,
        )

    app.add_exception_handler(SignInRequired, sign_in)
    app.add_exception_handler(ConsoleError, page_error)
    app.include_router(router)
