"""Banks end to end through a real uvicorn server on 127.0.0.1 with SQLite: a bank built by import,
matches through the API with their evidence, disabling that takes effect within a second (in this
process and from another one), an index rebuilt from the store on restart, roles and bad input."""

from __future__ import annotations

import base64
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import require_data, serve_app
from typer.testing import CliRunner

from warden.banks.matcher import BankMatcher
from warden.banks.service import BankService
from warden.banks.signal_types.pdq import pdq_from_image
from warden.media.images import open_image
from warden.policy.model import load_policy
from warden.serve import create_app
from warden.settings import BankSettings, Limits, Settings, get_settings
from warden.store import Store

SCAM = "Congratulations! You have won a $1000 Walmart gift card. Click here to claim your prize now"


@dataclass
class BankServer:
    url: str
    settings: Settings
    admin: str
    client_key: str
    images: dict[str, bytes]

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {key or self.admin}"}, timeout=60
        )


@pytest.fixture(scope="module")
def images() -> dict[str, bytes]:
    root = require_data("pdq-image-hash-testset")
    with zipfile.ZipFile(root / "pdq_test_images.zip") as z:
        return {n: z.read(n) for n in z.namelist() if n.endswith((".jpg", ".png"))}


@pytest.fixture(scope="module")
def bank_server(tmp_path_factory: pytest.TempPathFactory, images: dict[str, bytes]) -> Iterator[BankServer]:
    db_dir = tmp_path_factory.mktemp("warden-banks")
    settings = Settings(
        database_url=f"sqlite:///{db_dir / 'warden.db'}",
        banks=BankSettings(refresh_interval_s=0.2),
        limits=Limits(max_request_bytes=8 * 1024 * 1024),
    )
    with serve_app(create_app(settings)) as url:
        admin = (db_dir / "bootstrap-admin.key").read_text().strip()
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}) as c:
            r = c.post("/v1/admin/api-keys", json={"name": "bank-client", "role": "client"})
            assert r.status_code == 201, r.text
            yield BankServer(url, settings, admin, r.json()["key"], images)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _pdq(data: bytes) -> str:
    return pdq_from_image(open_image(data, Limits())).value


def _match(server: BankServer, body: dict[str, Any]) -> list[dict[str, Any]]:
    with server.client(server.client_key) as c:
        r = c.post("/v1/match", json=body)
        assert r.status_code == 200, r.text
        matches: list[dict[str, Any]] = r.json()["matches"]
        return matches


def test_bank_built_by_import_matches_with_evidence(bank_server: BankServer) -> None:
    original = bank_server.images["bridge-mods/aaa-orig.jpg"]
    with bank_server.client() as c:
        r = c.post("/v1/banks", json={"name": "known-photos", "category": "sexual", "action": "remove"})
        assert r.status_code == 201, r.text
        te_file = f"pdq {_pdq(original)}\nraw_text {SCAM}\nvideo_md5 0a21c8f85a55a9e276ffc2c53f6887c4\n"
        r = c.post("/v1/banks/known-photos/import", json={"format": "te", "data": te_file, "source": "test"})
        assert r.status_code == 201, r.text
        assert sorted(e["signal_type"] for e in r.json()["added"]) == ["md5", "pdq", "text_near_dup"]
        assert c.get("/v1/banks/known-photos").json()["entries"] == 3

    # An edited copy of the banked photo, uploaded as media: PDQ finds it, with the distance.
    edited = bank_server.images["bridge-mods/sharpen-a-lot.jpg"]
    matches = _match(bank_server, {"media": {"kind": "image", "data_base64": _b64(edited)}})
    assert [(m["bank"], m["signal_type"]) for m in matches] == [("known-photos", "pdq")]
    assert 0 < matches[0]["distance"] <= 31 and matches[0]["distance_unit"] == "bits"
    # An unrelated photo does not match.
    other = bank_server.images["reg-test-input/labelme-subset/q1050.jpg"]
    assert _match(bank_server, {"media": {"kind": "image", "data_base64": _b64(other)}}) == []

    # Moderation short-circuits on a match: the bank's action, the match as evidence.
    with bank_server.client(bank_server.client_key) as c:
        items = [
            {"id": "img-1", "kind": "image", "hashes": {"pdq": [_pdq(edited)]}},
            {
                "id": "txt-1",
                "text": "C0NGRATULATIONS!! you have won a $1000 walmart gift-card, click here to claim",
            },
            {"id": "txt-2", "text": "See you at the football game tonight!"},
        ]
        r = c.post("/v1/moderate", json={"items": items})
        assert r.status_code == 200, r.text
        image, text, benign = r.json()["decisions"]
    for decision, signal_type in ((image, "pdq"), (text, "text_near_dup")):
        assert decision["action"] == "remove" and decision["flagged"]
        evidence = decision["reasons"][0]["evidence"][0]
        assert evidence["kind"] == "bank_match" and evidence["detail"]["bank"] == "known-photos"
        assert evidence["detail"]["signal_type"] == signal_type
        assert [s["name"] for s in decision["stages"]] == ["banks"] and decision["stages"][0]["exited"]
        assert decision["versions"]["models"]["bank_match"] == "bank_match@1"
    assert benign["action"] == "allow" and [s["name"] for s in benign["stages"]][0] == "banks"


def _wait_until(check: Any, timeout: float = 5.0) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.02)
    return time.monotonic() - started


def test_disabled_entry_stops_matching_within_one_second(bank_server: BankServer) -> None:
    photo = bank_server.images["reg-test-input/labelme-subset/q0746.jpg"]
    query = {"hashes": {"pdq": [_pdq(photo)]}}
    with bank_server.client() as c:
        assert c.post("/v1/banks", json={"name": "fast-changes", "category": "extremism"}).status_code == 201
        r = c.post(
            "/v1/banks/fast-changes/entries",
            json={"entries": [{"media": {"kind": "image", "data_base64": _b64(photo)}}]},
        )
        assert r.status_code == 201, r.text
        pdq_entry = next(e for e in r.json()["added"] if e["signal_type"] == "pdq")
        assert [m["entry_id"] for m in _match(bank_server, query)] == [pdq_entry["id"]]
        started = time.monotonic()
        r = c.patch(f"/v1/banks/fast-changes/entries/{pdq_entry['id']}", json={"enabled": False})
        assert r.status_code == 200 and r.json()["enabled"] is False
        assert _match(bank_server, query) == []
        assert time.monotonic() - started < 1.0

    # Another process (a CLI, another worker) changes the same database: the server's refresher
    # picks it up within a second.
    other = BankService(
        Store(bank_server.settings.database_url).banks,
        BankMatcher(),
        load_policy(bank_server.settings.policy_path),
    )
    other.set_entry("fast-changes", pdq_entry["id"], actor="other-process", enabled=True)
    assert _wait_until(lambda: len(_match(bank_server, query)) == 1) < 1.0
    other.set_entry("fast-changes", pdq_entry["id"], actor="other-process", enabled=False)
    assert _wait_until(lambda: _match(bank_server, query) == []) < 1.0
    # Disabling a whole bank stops all its entries.
    other.set_entry("fast-changes", pdq_entry["id"], actor="other-process", enabled=True)
    _wait_until(lambda: len(_match(bank_server, query)) == 1)
    with bank_server.client() as c:
        assert c.patch("/v1/banks/fast-changes", json={"enabled": False}).status_code == 200
    assert _match(bank_server, query) == []


def test_index_is_rebuilt_from_the_store_on_restart(bank_server: BankServer) -> None:
    original = bank_server.images["bridge-mods/aaa-orig.jpg"]
    with bank_server.client() as c:
        c.post("/v1/banks", json={"name": "restart-check", "category": "violence"})
        r = c.post(
            "/v1/banks/restart-check/entries",
            json={
                "entries": [
                    {
                        "signal_type": "raw_text",
                        "value": "meet at the old bridge at midnight with the weapons",
                    }
                ]
            },
        )
        assert r.status_code == 201
    # A second server on the same database (as after a restart) matches the same entries.
    with (
        serve_app(create_app(bank_server.settings)) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {bank_server.admin}"}) as c,
    ):
        r = c.post("/v1/match", json={"text": "Meet at the OLD bridge at midnight, with the weapons!!"})
        assert [m["bank"] for m in r.json()["matches"]] == ["restart-check"]
        r = c.post("/v1/match", json={"hashes": {"pdq": [_pdq(original)]}})
        assert "known-photos" in [m["bank"] for m in r.json()["matches"]]


def test_roles_and_bad_input(bank_server: BankServer) -> None:
    with bank_server.client(bank_server.client_key) as c:
        assert c.post("/v1/banks", json={"name": "nope", "category": "hate"}).status_code == 403
        assert c.get("/v1/banks").status_code == 403
    with bank_server.client() as c:
        assert c.post("/v1/banks", json={"name": "strict", "category": "not-a-category"}).status_code == 422
        assert c.post("/v1/banks", json={"name": "Bad Name!", "category": "hate"}).status_code == 422
        assert (
            c.post("/v1/banks", json={"name": "strict", "category": "hate", "action": "review"}).status_code
            == 201
        )
        assert c.post("/v1/banks", json={"name": "strict", "category": "hate"}).status_code == 409
        assert c.get("/v1/banks/missing").status_code == 404
        entries = [
            {
                "signal_type": "pdq",
                "value": "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22",
            },
            {"signal_type": "pdq", "value": "not-a-hash"},
            {"signal_type": "no-such-type", "value": "x"},
        ]
        r = c.post("/v1/banks/strict/entries", json={"entries": entries})
        assert r.status_code == 422
        message = r.json()["error"]["message"]
        assert (
            "2 invalid entries, none added" in message and "entries[1]" in message and "entries[2]" in message
        )
        assert c.get("/v1/banks/strict").json()["entries"] == 0
        r = c.post(
            "/v1/banks/strict/entries", params={"skip_invalid": True}, json={"entries": entries + entries[:1]}
        )
        assert r.status_code == 201
        body = r.json()
        assert (
            len(body["added"]) == 1
            and len(body["skipped"]) == 2
            and body["duplicates"][0]["duplicate_of_index"] == 0
        )
        r = c.post("/v1/banks/strict/entries", json={"entries": entries[:1]})
        assert r.json()["added"] == [] and r.json()["duplicates"][0]["existing_id"] == body["added"][0]["id"]
        corrupt = base64.b64encode(bank_server.images["bridge-mods/aaa-orig.jpg"][:5000]).decode()
        r = c.post("/v1/match", json={"media": {"kind": "image", "data_base64": corrupt}})
        assert r.status_code == 422 and "corrupt or truncated" in r.json()["error"]["message"]
        r = c.post("/v1/moderate", json={"id": "bad-hash", "kind": "image", "hashes": {"pdq": ["xyz"]}})
        assert r.status_code == 422 and "hashes.pdq" in r.json()["error"]["message"]


def test_export_round_trips_between_banks(bank_server: BankServer) -> None:
    with bank_server.client() as c:
        for fmt in ("csv", "te"):
            exported = c.get("/v1/banks/known-photos/export", params={"format": fmt})
            assert exported.status_code == 200
            name = f"copy-{fmt}"
            assert c.post("/v1/banks", json={"name": name, "category": "sexual"}).status_code == 201
            r = c.post(f"/v1/banks/{name}/import", json={"format": fmt, "data": exported.text})
            assert r.status_code == 201, r.text
            assert (
                c.get(f"/v1/banks/{name}").json()["entries"]
                == c.get("/v1/banks/known-photos").json()["entries"]
            )
        pdq_lines = c.get("/v1/banks/known-photos/export", params={"format": "pdq"}).text.splitlines()
        assert len(pdq_lines) == 1 and len(pdq_lines[0].split(",")[0]) == 64
        # PDQ files carry quality: it survives a round trip.
        assert c.post("/v1/banks", json={"name": "copy-pdq", "category": "sexual"}).status_code == 201
        r = c.post(
            "/v1/banks/copy-pdq/import", json={"format": "pdq", "data": pdq_lines[0] + "87,photo.jpg\n"}
        )
        assert r.status_code == 201 and r.json()["added"][0]["quality"] == 87
        assert c.get("/v1/banks/copy-pdq/export", params={"format": "pdq"}).text.strip().endswith(",87")


def test_cli_bank_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, images: dict[str, bytes]) -> None:
    from warden.cli import app

    monkeypatch.setenv("WARDEN_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        photo = tmp_path / "photo.jpg"
        photo.write_bytes(images["bridge-mods/aaa-orig.jpg"])
        hashes = tmp_path / "hashes.txt"
        result = runner.invoke(app, ["bank", "hash", str(photo)])
        assert result.exit_code == 0, result.output
        pdq_line = next(line for line in result.output.splitlines() if line.startswith("pdq "))
        hashes.write_text(pdq_line.split("#")[0].strip() + "\n")
        assert runner.invoke(app, ["bank", "create", "cli-bank", "--category", "hate"]).exit_code == 0
        result = runner.invoke(app, ["bank", "import", "cli-bank", str(hashes), "--format", "te"])
        assert result.exit_code == 0 and "imported 1 entries" in result.output, result.output
        edited = tmp_path / "edited.jpg"
        edited.write_bytes(images["bridge-mods/blur-a-lot.jpg"])
        result = runner.invoke(app, ["bank", "match", "--file", str(edited)])
        assert result.exit_code == 0 and "cli-bank" in result.output, result.output
        assert runner.invoke(app, ["bank", "disable", "cli-bank", "1"]).exit_code == 0
        assert runner.invoke(app, ["bank", "match", "--file", str(edited)]).exit_code == 1
        bad = tmp_path / "bad.txt"
        bad.write_text("pdq nothex\n")
        result = runner.invoke(app, ["bank", "import", "cli-bank", str(bad), "--format", "te"])
        assert result.exit_code == 2 and "none added" in result.output
        result = runner.invoke(app, ["bank", "export", "cli-bank", "--format", "csv"])
        assert result.exit_code == 0 and "pdq," in result.output
    finally:
        get_settings.cache_clear()


def test_ids_and_offsets_beyond_64_bits_are_a_422(bank_server: BankServer) -> None:
    huge = 2**70
    with bank_server.client() as c:
        assert c.post("/v1/banks", json={"name": "wide", "category": "hate"}).status_code == 201
        for r in (
            c.delete(f"/v1/banks/wide/entries/{huge}"),
            c.patch(f"/v1/banks/wide/entries/{huge}", json={"enabled": False}),
            c.get("/v1/banks/wide/entries", params={"offset": huge}),
        ):
            assert r.status_code == 422 and r.json()["error"]["type"] == "validation_error", r.text
        assert c.get("/v1/banks/wide").status_code == 200  # the connection and the server carry on
