"""The bad-input corpus: one probe per way a caller (or an attacker) has sent something the API must
refuse cleanly, run against a real server. Shared by `tests/test_bad_input.py` (every probe gets
its expected 4xx, never a 5xx, and the connection survives) and `make bench AREA=reliability`
(`bad_input_cases`, `bad_input_server_errors`).

Each row of the security review that found a 500 is a probe here, beside the cases that already
answered correctly (so they stay that way). A probe reuses one keep-alive connection with the
probes before it: a server that resets the connection after an error fails the next probe too.
"""

from __future__ import annotations

import base64
import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

BANK = "bad-input-corpus"


def nested_json(levels: int) -> dict[str, Any]:
    """{"a": {"a": ... {}}}, `levels` dicts deep: what breaks serialisers long before parsers."""
    root: dict[str, Any] = {}
    node = root
    for _ in range(levels):
        node["a"] = {}
        node = node["a"]
    return root


def _uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _png(width: int = 32, height: int = 32, mode: str = "RGB") -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new(mode, (width, height)).save(out, "PNG", optimize=True)
    return out.getvalue()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class Probe:
    name: str
    method: str
    path: str
    expect: tuple[int, ...]
    role: str | None = "admin"  # which key sends it; None: no key at all
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    data: dict[str, str] | None = None
    files: dict[str, tuple[str, bytes, str]] | None = None


@dataclass
class ProbeResult:
    probe: Probe
    status: int  # -1: the connection failed
    body: str

    @property
    def ok(self) -> bool:
        return self.status in self.probe.expect

    @property
    def server_error(self) -> bool:
        return self.status >= 500 or self.status == -1


def probes() -> list[Probe]:
    """The corpus. Built fresh each time: ids are unique so repeated runs do not collide."""
    png = _png()
    bomb = _png(10_000, 10_000, "1")  # 100 MP in a few KB: refused from the header
    big = 2**70  # beyond 64 bits
    deep_yaml = "[" * 5_000 + "]" * 5_000
    return [
        # -- found by the review: each was a 500
        Probe(
            "metadata nested 300 deep",
            "POST",
            "/v1/moderate",
            (422,),
            "client",
            json={"id": _uid("deep"), "text": "hi", "metadata": nested_json(300)},
        ),
        Probe(
            "gold item with metadata nested 300 deep",
            "POST",
            "/v1/review/gold",
            (422,),
            json={
                "item": {"id": _uid("gold"), "text": "hi", "metadata": nested_json(300)},
                "action": "allow",
            },
        ),
        Probe(
            "NUL byte in an OpenAI moderation input",
            "POST",
            "/v1/moderations",
            (422,),
            "client",
            json={"input": ["fine", "a\u0000b"]},
        ),
        Probe(
            "bank CSV with a bare CR",
            "POST",
            f"/v1/banks/{BANK}/import",
            (200, 422),
            json={"format": "csv", "data": "signal_type,signal_value\rmd5,abc\r"},
        ),
        Probe(
            "bank CSV with short rows",
            "POST",
            f"/v1/banks/{BANK}/import",
            (200, 422),
            json={"format": "csv", "data": "signal_type,signal_value\nmd5\n\n,\n"},
        ),
        Probe("entry id beyond 64 bits", "DELETE", f"/v1/banks/{BANK}/entries/{big}", (404, 422)),
        Probe("offset beyond 64 bits", "GET", f"/v1/banks/{BANK}/entries", (422,), params={"offset": big}),
        Probe(
            "policy YAML nested 5,000 deep", "PUT", "/v1/policies/active", (422,), json={"yaml": deep_yaml}
        ),
        Probe(
            "upload with 10,000-deep metadata field",
            "POST",
            "/v1/moderate/upload",
            (400, 413, 422),
            "client",
            data={"id": _uid("form"), "metadata": "[" * 10_000 + "]" * 10_000},
            files={"files": ("x.png", png, "image/png")},
        ),
        Probe("id of spaces", "POST", "/v1/moderate", (422,), "client", json={"id": "   ", "text": "hi"}),
        Probe(
            "id of zero-width characters",
            "POST",
            "/v1/moderate",
            (422,),
            "client",
            json={"id": "\u200b\u200b", "text": "hi"},
        ),
        Probe(
            "NaN in metadata",
            "POST",
            "/v1/moderate",
            (400, 422),
            "client",
            content=b'{"id": "nan-probe", "text": "hi", "metadata": {"x": NaN}}',
            headers={"content-type": "application/json"},
        ),
        # -- answered correctly before the review; kept so they stay correct
        Probe(
            "invalid UTF-8 body",
            "POST",
            "/v1/moderate",
            (400,),
            "client",
            content=b'{"id": "x", "text": "\xff\xfe"}',
            headers={"content-type": "application/json"},
        ),
        Probe(
            "JSON nested 10,000 deep",
            "POST",
            "/v1/moderate",
            (400, 422),
            "client",
            content=b"[" * 10_000 + b"]" * 10_000,
            headers={"content-type": "application/json"},
        ),
        Probe(
            "truncated JSON",
            "POST",
            "/v1/moderate",
            (400,),
            "client",
            content=b'{"id": "x", "text": ',
            headers={"content-type": "application/json"},
        ),
        Probe(
            "not JSON content type",
            "POST",
            "/v1/moderate",
            (415,),
            "client",
            content=b"id=x&text=hi",
            headers={"content-type": "application/x-www-form-urlencoded"},
        ),
        Probe(
            "empty body",
            "POST",
            "/v1/moderate",
            (422,),
            "client",
            content=b"",
            headers={"content-type": "application/json"},
        ),
        Probe(
            "text of the wrong type",
            "POST",
            "/v1/moderate",
            (422,),
            "client",
            json={"id": _uid("t"), "text": 5},
        ),
        Probe(
            "unknown field",
            "POST",
            "/v1/moderate",
            (422,),
            "client",
            json={"id": _uid("u"), "text": "hi", "colour": "red"},
        ),
        Probe(
            "lone surrogate escape",
            "POST",
            "/v1/moderate",
            (400, 422),
            "client",
            content=b'{"id": "sur", "text": "\\ud800"}',
            headers={"content-type": "application/json"},
        ),
        Probe(
            "text over the length limit",
            "POST",
            "/v1/moderate",
            (422,),
            "client",
            json={"id": _uid("long"), "text": "x" * 20_001},
        ),
        Probe("empty batch", "POST", "/v1/moderate", (422,), "client", json={"items": []}),
        Probe(
            "one id twice in a batch with different texts",
            "POST",
            "/v1/moderate",
            (409, 422),
            "client",
            json={"items": [{"id": "twice-probe", "text": "a"}, {"id": "twice-probe", "text": "b"}]},
        ),
        Probe(
            "unknown kind",
            "POST",
            "/v1/moderate",
            (422,),
            "client",
            json={"id": _uid("k"), "kind": "hologram", "text": "hi"},
        ),
        Probe(
            "image without media",
            "POST",
            "/v1/moderate",
            (422,),
            "client",
            json={"id": _uid("i"), "kind": "image"},
        ),
        Probe(
            "truncated image",
            "POST",
            "/v1/moderate",
            (200, 422),
            "client",
            json={"id": _uid("trunc"), "kind": "image", "media": [{"data": _b64(png[: len(png) // 2])}]},
        ),
        Probe(
            "decompression bomb",
            "POST",
            "/v1/moderate",
            (200, 413),
            "client",
            json={"id": _uid("bomb"), "kind": "image", "media": [{"data": _b64(bomb)}]},
        ),
        Probe(
            "media declared as the wrong type",
            "POST",
            "/v1/moderate",
            (200, 415),
            "client",
            json={
                "id": _uid("dis"),
                "kind": "image",
                "media": [{"data": _b64(png), "content_type": "video/mp4"}],
            },
        ),
        Probe(
            "base64 that is not base64",
            "POST",
            "/v1/moderate",
            (422,),
            "client",
            json={"id": _uid("b64"), "kind": "image", "media": [{"data": "%%%not-base64%%%"}]},
        ),
        Probe(
            "local path over HTTP",
            "POST",
            "/v1/moderate",
            (200, 422),
            "client",
            json={"id": _uid("path"), "kind": "image", "media": [{"path": "/etc/passwd"}]},
        ),
        Probe(
            "upload that is not multipart",
            "POST",
            "/v1/moderate/upload",
            (400, 415, 422),
            "client",
            json={"id": "x"},
        ),
        Probe(
            "unknown category for a bank",
            "POST",
            "/v1/banks",
            (422,),
            json={"name": _uid("bank"), "category": "no-such-category"},
        ),
        Probe(
            "unknown signal type",
            "POST",
            f"/v1/banks/{BANK}/entries",
            (422,),
            json={"entries": [{"signal_type": "sha999", "value": "abc"}]},
        ),
        Probe(
            "invalid PDQ hash",
            "POST",
            f"/v1/banks/{BANK}/entries",
            (422,),
            json={"entries": [{"signal_type": "pdq", "value": "zz"}]},
        ),
        Probe(
            "policy YAML that is not a policy",
            "PUT",
            "/v1/policies/active",
            (422,),
            json={"yaml": "just: text"},
        ),
        Probe(
            "label with an unknown action",
            "POST",
            "/v1/review/tasks/no-such-task/decision",
            (404, 422),
            "reviewer",
            json={"action": "obliterate", "categories": []},
        ),
        Probe("unknown decision id", "GET", "/v1/decisions/no-such-decision", (404,), "client"),
        Probe("unknown endpoint", "GET", "/v1/no-such-endpoint", (404,), "client"),
        Probe("wrong method", "DELETE", "/v1/moderate", (405,), "client"),
        Probe("made-up method", "FROBNICATE", "/v1/moderate", (400, 404, 405), "client"),
        Probe("no key", "POST", "/v1/moderate", (401,), None, json={"id": "x", "text": "hi"}),
        Probe(
            "invalid key",
            "GET",
            "/v1/policies",
            (401,),
            None,
            headers={"Authorization": "Bearer wk_nonsense"},
        ),
        Probe("client key on an admin endpoint", "GET", "/v1/admin/api-keys", (403,), "client"),
        Probe(
            "reviewer key moderating",
            "POST",
            "/v1/moderate",
            (403,),
            "reviewer",
            json={"id": "x", "text": "hi"},
        ),
        Probe(
            "API key name too long",
            "POST",
            "/v1/admin/api-keys",
            (422,),
            json={"name": "n" * 500, "role": "client"},
        ),
        Probe(
            "API key with an unknown role",
            "POST",
            "/v1/admin/api-keys",
            (422,),
            json={"name": _uid("key"), "role": "emperor"},
        ),
        Probe("revoke an unknown key", "DELETE", "/v1/admin/api-keys/no-such-key", (404,)),
    ]


def run_probes(
    base_url: str,
    keys: dict[str, str],
    on_result: Callable[[ProbeResult], None] | None = None,
) -> list[ProbeResult]:
    """Send every probe over one keep-alive connection per role; `keys` maps role -> API key."""
    clients = {
        role: httpx.Client(base_url=base_url, timeout=60, headers={"Authorization": f"Bearer {key}"})
        for role, key in keys.items()
    }
    clients[""] = httpx.Client(base_url=base_url, timeout=60)
    results: list[ProbeResult] = []
    try:
        clients["admin"].post("/v1/banks", json={"name": BANK, "category": "extremism"})  # 201 or 409
        for probe in probes():
            client = clients[probe.role or ""]
            try:
                response = client.request(
                    probe.method,
                    probe.path,
                    json=probe.json,
                    content=probe.content,
                    headers=probe.headers,
                    params=probe.params,
                    data=probe.data,
                    files=probe.files,
                )
                result = ProbeResult(probe, response.status_code, response.text[:300])
            except httpx.TransportError as exc:
                result = ProbeResult(probe, -1, f"{type(exc).__name__}: {exc}")
            results.append(result)
            if on_result is not None:
                on_result(result)
    finally:
        for client in clients.values():
            client.close()
    return results


def summary(results: list[ProbeResult]) -> dict[str, float]:
    return {
        "bad_input_cases": float(len(results)),
        "bad_input_server_errors": float(sum(r.server_error for r in results)),
        "bad_input_unexpected_status": float(sum(not r.ok for r in results)),
    }


def describe(results: list[ProbeResult]) -> str:
    wrong = [r for r in results if not r.ok]
    return (
        "\n".join(
            f"{r.probe.name}: {r.probe.method} {r.probe.path} -> {r.status}, "
            f"expected {r.probe.expect}: {r.body}"
            for r in wrong
        )
        or "all probes answered as expected"
    )
