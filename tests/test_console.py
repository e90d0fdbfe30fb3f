"""The review console end to end: a real uvicorn server (real moderator, SQLite in a temp dir), items
moderated through the HTTP API, and Debian's Chromium driven headless by Playwright.

Screenshots of every page land in tests/artifacts/console/ for a person to look at.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from support import REPO, require_service, serve_app

from warden.review.models import MediaRef, ReviewTask
from warden.review.service import ReviewService
from warden.serve import create_app
from warden.serve.console import render, views
from warden.serve.console.session import SESSION_COOKIE, Signer
from warden.settings import BanditSettings, MediaSettings, ReviewSettings, Settings

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "tests" / "artifacts" / "console"
XSS_TEXT = (
    "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\"> "
    "you are a worthless idiot & a loser, shut up you ugly loser, nobody likes you"
)
# Uncertain or severe for the shipped models: these land in the review / severe queues.
FLAGGED_TEXTS = [
    "You people are animals and should leave.",
    "I hate mondays so much I could kill someone",
    "go back to your country",
]
PLAIN_TEXTS = ["Have a lovely weekend, see you on Monday!", "you are such a loser lol"]


@dataclass
class ConsoleServer:
    url: str
    app: FastAPI
    keys: dict[str, str]  # role or name -> plaintext key
    decisions: dict[str, dict[str, Any]]  # content id -> decision as the API returned it

    @property
    def review(self) -> ReviewService:
        review = self.app.state.warden.review
        assert isinstance(review, ReviewService)
        return review

    def api(self, who: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.keys[who]}"}, timeout=60
        )


def _png(width: int = 320, height: int = 200) -> bytes:
    """A checkerboard: sharp edges make the blur (and its removal) plain in the screenshots."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (240, 240, 240))
    draw = ImageDraw.Draw(image)
    for x in range(0, width, 40):
        for y in range(0, height, 40):
            if (x + y) // 40 % 2:
                draw.rectangle([x, y, x + 39, y + 39], fill=(200, 40, 40))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    root = tmp_path_factory.mktemp("warden-console")
    settings = Settings(
        database_url=f"sqlite:///{root / 'warden.db'}",
        # Attachments are kept for review either way; their detectors are not what is tested here.
        media=MediaSettings(enabled=False, store_dir=root / "media"),
        # Every automated decision is QA-sampled (single review), so every item reaches some queue;
        # no gold items, so the reviewer is served exactly the queue's items.
        review=ReviewSettings(
            qa_sample_rate=1.0,
            qa_actions=["allow", "label", "limit", "age_restrict", "remove"],
            qa_reviews=1,
            gold_rate=0.0,
            # QA leases are logged for a learned ordering, so the admin page has one to show.
            bandit=BanditSettings(log_queues=["qa"], model_path=root / "bandit.vw"),
        ),
    )
    app = create_app(settings)
    with serve_app(app) as url:
        admin = (root / "bootstrap-admin.key").read_text().strip()
        keys = {"admin": admin}
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}, timeout=60) as c:
            for name, role in (("client", "client"), ("alice", "reviewer"), ("bob", "reviewer")):
                r = c.post("/v1/admin/api-keys", json={"name": name, "role": role})
                assert r.status_code == 201, r.text
                keys[name] = r.json()["key"]
        items: list[dict[str, Any]] = [
            {"id": f"flagged-{i}", "text": text} for i, text in enumerate(FLAGGED_TEXTS)
        ] + [{"id": f"plain-{i}", "text": text} for i, text in enumerate(PLAIN_TEXTS)]
        items.append({"id": "xss-1", "text": XSS_TEXT})
        items.append(
            {
                "id": "image-1",
                "kind": "image",
                "text": "what do you think of my picture",
                "media": [{"data": base64.b64encode(_png()).decode(), "content_type": "image/png"}],
            }
        )
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {keys['client']}"}, timeout=120
        ) as c:
            r = c.post("/v1/moderate", json={"items": items})
            assert r.status_code == 200, r.text
            decisions = {d["content_id"]: d for d in r.json()["decisions"]}
        yield ConsoleServer(url=url, app=app, keys=keys, decisions=decisions)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        require_service(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import Error, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        try:
            chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        except Error as exc:
            # Running as root in a container, Chromium's sandbox may be unavailable.
            if "sandbox" not in str(exc).lower():
                raise
            chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server: ConsoleServer) -> Iterator[Any]:
    """A fresh browser context (own cookie jar) per test."""
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _sign_in(page: Any, key: str, expect_ok: bool = True) -> None:
    page.goto("/console")
    assert "/console/login" in page.url
    page.fill("#api_key", key)
    _enter(page)
    if expect_ok:
        page.wait_for_url(re.compile(r"/console(\?.*)?$"))


def _enter(page: Any) -> None:
    """Press Enter and wait for the form post it sends to come back as a page."""
    with page.expect_navigation():
        page.keyboard.press("Enter")


def _task_id(page: Any) -> str:
    match = re.search(r"/console/tasks/([^/?#]+)$", page.url)
    assert match, f"not on an item page: {page.url}"
    return match.group(1)


def _pending(server: ConsoleServer, queue: str | None = None) -> list[str]:
    return [t.id for t in server.review.list_tasks(queue=queue, status="pending", limit=500)]


def _task_for(server: ConsoleServer, content_id: str) -> Any:
    for task in server.review.list_tasks(status="all", limit=500):
        if task.content_id == content_id and task.appeal is None:
            return task
    raise AssertionError(f"no review task for {content_id}")


# -- pure parts: highlighting and signing ---------------------------------------------------------------


def test_highlight_escapes_and_splits_overlapping_spans() -> None:
    text = "ab<c>&efgh"
    spans = render.text_spans(
        [
            {"kind": "text_span", "start": 1, "end": 4, "category": "x"},
            {"kind": "text_span", "start": 3, "end": 6, "category": "y"},
            {"kind": "text_span", "start": 8, "end": 99, "category": "z"},  # clipped to the text
            {"kind": "text_span", "start": 5, "end": 5, "category": "empty"},  # dropped
            {"kind": "bank_match", "start": 0, "end": 2},  # not a text span
        ],
        len(text),
    )

    def mark(labels: str, body: str) -> str:
        return f'<mark class="evidence" data-labels="{labels}" title="{labels}">{body}</mark>'

    assert str(render.highlight(text, spans)) == (
        "a" + mark("x", "b&lt;") + mark("x y", "c") + mark("y", "&gt;&amp;") + "ef" + mark("z", "gh")
    )
    assert str(render.highlight("<i>", [])) == "&lt;i&gt;"


def test_signed_tokens_reject_tampering_expiry_and_reuse_for_another_purpose() -> None:
    signer = Signer(b"k" * 32)
    token = signer.session_cookie("alice", "reviewer", "wdn_abcd")
    session = signer.read_session(token)
    assert session is not None and session.actor == "apikey:alice" and not session.is_admin
    assert signer.read_session(token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]) is None
    assert Signer(b"o" * 32).read_session(token) is None  # another server's secret
    assert signer.unsign("login", token) is None  # a session cookie is no login token
    assert signer.read_session(signer.session_cookie("alice", "reviewer", "wdn_abcd", ttl_s=-1)) is None
    cookie, nonce = signer.login_token()
    assert signer.check_login(cookie, nonce) and not signer.check_login(cookie, nonce + "x")


def test_item_view_places_media_evidence_on_its_attachment() -> None:
    now = datetime.now(UTC)
    task = ReviewTask(
        id="t1",
        queue="review",
        status="leased",
        content_id="post-1",
        decision_id="d1",
        kind="video",
        text="watch this idiot",
        media=[
            MediaRef(sha256="a" * 64, content_type="image/png", kind="image", stored=True),
            MediaRef(sha256="b" * 64, content_type="video/mp4", kind="video", stored=True),
        ],
        scores={"harassment": 0.7, "violence": 0.2},
        original_action="review",
        reasons=[
            {
                "category": "harassment",
                "evidence": [
                    {"kind": "text_span", "start": 11, "end": 16, "detector": "linear"},
                    # A span in an attachment's OCR text: its offsets are not into the item text.
                    {"kind": "text_span", "start": 0, "end": 3, "detail": {"media_index": 0}},
                    {"kind": "image_region", "detail": {"media_index": 0, "box": [10, 20, 30, 40]}},
                    {"kind": "frame", "detail": {"media_index": 1, "time_s": 72.5}},
                    {"kind": "frame", "detail": {"media_index": 1, "time_s": 3.0}},
                ],
            }
        ],
        created_at=now,
        due_at=now,
        reviews_required=1,
    )
    view = views.build(task, [("harassment", "Harassment", 0.5), ("violence", "Violence", 0.6)])
    assert view.highlighted == 1 and "<mark" in str(view.text) and "idiot</mark>" in str(view.text)
    image, video = view.media
    assert image.url == f"/console/media/{'a' * 64}" and [r.box for r in image.regions] == ["10,20,30,40"]
    assert image.frames == [] and video.regions == []
    assert [f.time_s for f in video.frames] == [3.0, 72.5] and render.seconds(72.5) == "1:12.5"
    assert [row.category for row in view.scores] == ["harassment", "violence"]


# -- sign-in and sessions -------------------------------------------------------------------------------


def test_client_and_bad_keys_cannot_sign_in(server: ConsoleServer, page: Any) -> None:
    _sign_in(page, server.keys["client"], expect_ok=False)
    error = page.get_by_test_id("login-error")
    assert "client role" in error.inner_text()
    assert "/console/login" in page.url
    _shot(page, "01-login-client-refused")
    assert not any(c["name"] == SESSION_COOKIE for c in page.context.cookies())

    page.fill("#api_key", "wdn_not-a-real-key")
    _enter(page)
    assert "not valid" in page.get_by_test_id("login-error").inner_text()
    assert not any(c["name"] == SESSION_COOKIE for c in page.context.cookies())


def _http_sign_in(client: httpx.Client, server: ConsoleServer, who: str) -> httpx.Response:
    form = client.get("/console/login")
    nonce = re.search(r'name="nonce" value="([^"]+)"', form.text)
    assert nonce, form.text
    r = client.post("/console/login", data={"api_key": server.keys[who], "nonce": nonce.group(1)})
    assert r.status_code == 303, r.text
    return r


def test_session_cookie_is_signed_httponly_and_strict(server: ConsoleServer) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        signed_in = _http_sign_in(client, server, "alice")
        cookie = next(h for h in signed_in.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE))
        flags = {part.strip().lower() for part in cookie.split(";")}
        assert "httponly" in flags and "samesite=strict" in flags and "path=/console" in flags, cookie
        assert any(f.startswith("max-age=") for f in flags), cookie
        assert server.keys["alice"] not in cookie  # the key itself never leaves the server again

        page = client.get("/console")
        assert page.status_code == 200 and "alice" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]

        # A state change without the session's CSRF token is refused, and leases nothing.
        before = _pending(server, "review")
        r = client.post("/console/queue/review/next", data={"csrf": "forged"})
        assert r.status_code == 403 and "Form expired" in r.text
        assert _pending(server, "review") == before

        # Reviewers do not see admin pages.
        r = client.get("/console/admin")
        assert r.status_code == 403 and "needs admin" in r.text

        # A cookie edited to claim the admin role fails its signature: back to sign-in.
        value = client.cookies[SESSION_COOKIE]
        body, mac = value.split(".")
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).replace(b'"reviewer"', b'"admin"')
        forged = base64.urlsafe_b64encode(raw).rstrip(b"=").decode() + "." + mac
        with httpx.Client(base_url=server.url, cookies={SESSION_COOKIE: forged}) as other:
            r = other.get("/console/admin")
            assert r.status_code == 303 and r.headers["location"].startswith("/console/login")

    # Media needs a session too.
    with httpx.Client(base_url=server.url) as anonymous:
        sha = _task_for(server, "image-1").media[0].sha256
        r = anonymous.get(f"/console/media/{sha}")
        assert r.status_code == 303 and r.headers["location"].startswith("/console/login")


def test_revoked_key_ends_the_session(server: ConsoleServer) -> None:
    with server.api("admin") as admin:
        r = admin.post("/v1/admin/api-keys", json={"name": "carol", "role": "reviewer"})
        assert r.status_code == 201, r.text
        server.keys["carol"] = r.json()["key"]
    with httpx.Client(base_url=server.url, timeout=30) as client, server.api("admin") as admin:
        _http_sign_in(client, server, "carol")
        assert client.get("/console").status_code == 200
        assert admin.delete("/v1/admin/api-keys/carol").status_code == 200
        r = client.get("/console")
        assert r.status_code == 303 and r.headers["location"].startswith("/console/login")


# -- the acceptance path: take an item, decide it with the keyboard ------------------------------------


def test_reviewer_takes_and_decides_an_item_with_the_keyboard(server: ConsoleServer, page: Any) -> None:
    queue = next((q for q in ("review", "severe") if _pending(server, q)), None)
    assert queue is not None, (
        f"none of {FLAGGED_TEXTS} was routed to the review or severe queue by the shipped models"
    )
    assert queue in server.review.config.apply_queues
    pending_before = _pending(server, queue)

    _sign_in(page, server.keys["alice"])
    page.goto(f"/console?queue={queue}")
    assert page.get_by_test_id(f"pending-{queue}").inner_text() == str(len(pending_before))
    _shot(page, "02-queues")

    page.keyboard.press("n")  # take the next item of this queue
    page.wait_for_url(re.compile(r"/console/tasks/"))
    task_id = _task_id(page)
    assert task_id in pending_before
    task = server.review.get(task_id, viewer="apikey:alice")
    assert task.status == "leased" and task.lease_reviewer == "apikey:alice"
    assert page.locator("form#decide").count() == 1
    _shot(page, "03-item")

    first_category = server.review.policy.category_ids[0]
    page.keyboard.press("r")  # remove
    page.keyboard.press("1")  # ... for the policy's first category
    assert page.locator("input[name=action][value=remove]").is_checked()
    assert page.locator(f"input[name=categories][value={first_category}]").is_checked()
    _shot(page, "04-item-chosen")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/console\?queue={queue}$"))
    assert f"Saved: remove ({first_category})" in page.get_by_test_id("flash").inner_text()
    _shot(page, "05-after-decision")

    # The label is stored under the reviewer's identity, and the item left the queue.
    labels = server.review.labels(task_id)
    assert [(lb.reviewer, lb.action, lb.categories) for lb in labels] == [
        ("apikey:alice", "remove", [first_category])
    ]
    assert server.review.get(task_id).status == "done"
    assert task_id not in _pending(server, queue)
    assert page.locator(f"tr[data-task='{task_id}']").count() == 0
    assert page.get_by_test_id(f"pending-{queue}").inner_text() == str(len(pending_before) - 1)
    # A single review in an apply queue settles the item: the decision now says remove.
    with server.api("client") as client:
        decision = client.get(f"/v1/decisions/{task.decision_id}").json()
    assert decision["action"] == "remove"


def test_choosing_allow_with_a_category_is_caught_before_posting(server: ConsoleServer, page: Any) -> None:
    _sign_in(page, server.keys["bob"])
    page.goto("/console?queue=qa")
    page.keyboard.press("n")
    page.wait_for_url(re.compile(r"/console/tasks/"))
    task_id = _task_id(page)
    page.keyboard.press("a")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    hint = page.locator("#key-hint")
    assert "Allow takes no categories" in hint.inner_text()
    assert server.review.labels(task_id) == []
    page.keyboard.press("s")  # skip: the item goes back to the queue
    page.wait_for_url(re.compile(r"/console\?queue=qa$"))
    assert task_id in _pending(server, "qa")


def test_queue_list_filters_by_category(server: ConsoleServer, page: Any) -> None:
    counts: dict[str, int] = {}
    for summary in server.review.queues():
        for category, n in summary.by_category.items():
            counts[category] = counts.get(category, 0) + n
    category = max(counts, key=lambda c: counts[c])
    expected = {t.id for t in server.review.list_tasks(category=category, status="pending")}
    assert expected, f"no pending task in category {category}"
    _sign_in(page, server.keys["bob"])
    page.select_option("#f-category", category)
    with page.expect_navigation():
        page.get_by_test_id("filters").locator("button[type=submit]").click()
    assert f"category={category}" in page.url
    rows = page.get_by_test_id("tasks").locator("tr[data-task]")
    assert {rows.nth(i).get_attribute("data-task") for i in range(rows.count())} == expected
    _shot(page, "02b-queues-filtered")


# -- what the item page shows ----------------------------------------------------------------------------


def _covered(task: Any) -> set[int]:
    """Character offsets the task's own text-span evidence covers."""
    out: set[int] = set()
    for reason in task.reasons:
        for item in reason.get("evidence", []):
            if item.get("kind") == "text_span" and "media_index" not in (item.get("detail") or {}):
                out.update(range(max(0, item["start"]), min(len(task.text), item["end"])))
    return out


def test_item_text_is_escaped_and_evidence_highlighted(server: ConsoleServer, page: Any) -> None:
    task = _task_for(server, "xss-1")
    covered = _covered(task)
    assert covered, f"the models gave no text-span evidence for {XSS_TEXT!r}: reasons {task.reasons}"
    _sign_in(page, server.keys["alice"])
    page.goto(f"/console/tasks/{task.id}")
    # Opened from a link, not leased: the reviewer sees it but cannot decide it.
    assert page.get_by_test_id("read-only").is_visible() and page.locator("form#decide").count() == 0
    text = page.get_by_test_id("item-text")
    # The markup in the item is shown as text: no element was created from it, nothing ran.
    assert text.text_content() == task.text
    assert text.locator("script, img").count() == 0
    assert page.title() != "pwned"
    # Offsets of every <mark> inside the text, measured in the browser.
    marks = page.evaluate(
        """() => {
          const root = document.querySelector('[data-testid=item-text]');
          const out = []; let offset = 0;
          for (const node of root.childNodes) {
            const length = node.textContent.length;
            if (node.nodeName === 'MARK') out.push([offset, length]);
            offset += length;
          }
          return out;
        }"""
    )
    highlighted = {i for start, length in marks for i in range(start, start + length)}
    assert highlighted == covered
    assert page.locator("mark.evidence").first.get_attribute("data-labels")
    assert page.get_by_test_id("scores").locator("meter").count() == len(task.scores)
    _shot(page, "06-item-escaped-evidence")


def test_images_are_blurred_until_revealed(server: ConsoleServer, page: Any) -> None:
    task = _task_for(server, "image-1")
    assert task.media and task.media[0].stored, task.media
    _sign_in(page, server.keys["alice"])
    page.goto(f"/console/tasks/{task.id}")
    figure = page.get_by_test_id("media-0")
    image = figure.locator("img")
    image.wait_for()
    page.wait_for_function("() => document.querySelector('[data-testid=media-0] img').naturalWidth > 0")
    assert image.evaluate("img => img.naturalWidth") == 320  # the bytes came through the console

    def blur() -> str:
        return str(image.evaluate("img => getComputedStyle(img).filter"))

    assert blur().startswith("blur("), blur()
    _shot(page, "07-image-blurred")
    figure.locator("button.reveal").click()
    assert blur() == "none"
    _shot(page, "08-image-revealed")
    page.keyboard.press("i")  # the key toggles every attachment back
    assert blur().startswith("blur(")


# -- appeals and the audit log ---------------------------------------------------------------------------


def test_appeal_reverses_a_decision_and_the_audit_log_shows_it(server: ConsoleServer, page: Any) -> None:
    with server.api("client") as client:
        # Current versions: a review earlier in this module may already have changed an action.
        versions = [client.get(f"/v1/decisions/{d['decision_id']}").json() for d in server.decisions.values()]
        acted = [d for d in versions if d["action"] not in ("allow", "review")]
        assert acted, "no moderated item was acted on: nothing to appeal"
        current = acted[0]
        r = client.post(
            "/v1/appeals",
            json={
                "decision_id": current["decision_id"],
                "appellant": "user-42",
                "reason": "It was a joke between friends <b>honestly</b>",
            },
        )
        assert r.status_code == 201, r.text
        appeal = r.json()

    _sign_in(page, server.keys["admin"])
    page.goto("/console/appeals")
    assert current["content_id"] in page.get_by_test_id("appeals-pending").inner_text()
    _shot(page, "09-appeals")
    page.keyboard.press("n")
    page.wait_for_url(re.compile(r"/console/tasks/"))
    assert (
        page.get_by_test_id("appeal-reason").inner_text() == "It was a joke between friends <b>honestly</b>"
    )
    assert page.get_by_test_id("original-action").inner_text() == current["action"]
    _shot(page, "10-appeal-item")
    page.keyboard.press("x")  # reverse
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/console/appeals$"))
    assert "Saved: reverse" in page.get_by_test_id("flash").inner_text()

    with server.api("client") as client:
        after = client.get(f"/v1/decisions/{current['decision_id']}").json()
        resolved = client.get(f"/v1/appeals/{appeal['id']}").json()
    assert after["action"] == "allow"
    assert resolved["status"] == "reversed" and resolved["resolved_by"] == "apikey:bootstrap-admin"

    page.goto(f"/console/audit?object_id={current['decision_id']}")
    revise = page.locator("tr[data-action='decision.revise']").first
    assert revise.locator("td.actor").inner_text() == "apikey:bootstrap-admin"
    assert '"to": "allow"' in revise.inner_text() and f'"appeal_id": "{appeal["id"]}"' in revise.inner_text()
    page.goto("/console/audit")
    reversal = page.locator(f"tr[data-action='appeal.reverse'][data-object='{appeal['id']}']")
    assert reversal.count() == 1
    assert reversal.locator("td.actor").inner_text() == "apikey:bootstrap-admin"
    _shot(page, "11-audit")


def test_admin_pages_show_queue_health_and_qa_precision(server: ConsoleServer, page: Any) -> None:
    # One QA-sampled automated decision confirmed by a reviewer through the API.
    with server.api("bob") as bob:
        task = bob.post("/v1/review/lease", json={"queue": "qa"}).json()["task"]
        assert task is not None, "the QA queue is empty"
        action = task["original_action"]
        categories = [] if action == "allow" else task["flagged"]
        r = bob.post(
            f"/v1/review/tasks/{task['id']}/decision", json={"action": action, "categories": categories}
        )
        assert r.status_code == 200, r.text

    _sign_in(page, server.keys["admin"])
    page.goto("/console/admin")
    health = page.get_by_test_id("health")
    for queue in ("review", "severe", "appeals", "qa", "relabel"):
        assert health.locator("td", has_text=queue).count() >= 1
    precision = page.get_by_test_id("precision")
    row = precision.locator("tr", has=page.locator("td", has_text=action)).first
    # The estimate and its Wilson interval: a lower bound below 100 %, an upper bound of 100 %.
    assert re.search(r"100\.0 %\s+\d{1,2}\.\d % – 100\.0 %", row.inner_text()), row.inner_text()
    agreement = page.get_by_test_id("agreement").locator("dd").first
    assert agreement.inner_text() == str(server.review.stats().agreement.items)
    # The QA lease above was logged with its propensity and rewarded by bob's label; no model yet.
    logged = server.review.store.review.bandit_events("qa")
    assert logged, "the QA lease was not logged"
    qa_row = page.get_by_test_id("ordering").locator("tr", has=page.locator("td", has_text="qa")).first
    cells = qa_row.locator("td").all_inner_texts()
    assert cells[1] == "formula (logged)" and int(cells[3]) >= len(logged) >= 1
    assert "No model yet" in page.get_by_test_id("ordering-model").inner_text()
    _shot(page, "12-admin")

    page.locator("form.signout button").click()
    page.wait_for_url(re.compile(r"/console/login"))
    page.goto("/console/admin")
    assert "/console/login" in page.url
